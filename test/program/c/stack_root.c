/*
 * A block reachable only from a local variable on the C stack when the
 * program exits (exit() called below the frame that holds it): not a leak.
 * The local's address is taken, so it lives in linear memory, not only in
 * a wasm local the host cannot see.
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void finish(char **where) {
	if (*where == NULL)
		abort();
	printf("exiting with the block on the stack\n");
	exit(0);
}

int main(void) {
	char *block = malloc(100);
	char *volatile *slot = &block;
	finish((char **)slot);
	return 1;
}
