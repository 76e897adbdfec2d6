/*
 * Ends badly on purpose, as its argument says: `oob` reads outside the
 * linear memory two calls deep, `abort` calls abort(), `unreachable`
 * executes an unreachable instruction, `recurse` exhausts the call stack;
 * `dump` writes a core with kmemdb_dump() and goes on.
 */
#include <kmemdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* far beyond the memory's end (addresses wrap at 4 GiB, so not near it) */
volatile int *volatile wild = (int *)0x7ffffff0;

__attribute__((noinline)) int read_wild(int n) {
	return wild[n];
}

__attribute__((noinline)) int parse_record(int n) {
	return read_wild(n) + 1;
}

/* called through a pointer, so the compiler cannot make a loop of it */
int (*volatile again)(int);

__attribute__((noinline)) int recurse(int n) {
	return again(n + 1) + 1;
}

int main(int argc, char **argv) {
	const char *what = argc > 1 ? argv[1] : "";
	printf("trap: %s\n", what);
	fflush(stdout);
	if (strcmp(what, "oob") == 0)
		return parse_record(8);
	if (strcmp(what, "abort") == 0)
		abort();
	if (strcmp(what, "unreachable") == 0)
		__builtin_trap();
	if (strcmp(what, "recurse") == 0) {
		again = recurse;
		return recurse(0);
	}
	if (strcmp(what, "dump") == 0) {
		int n = kmemdb_dump();
		printf("kmemdb_dump() = %d\n", n);
		return 0;
	}
	return 1;
}
