/* Planted bug: a pointer kept across a realloc that moved the block, then written through. */
#include <stdlib.h>
#include <string.h>

volatile char *volatile stale;
volatile char *volatile again;

__attribute__((noinline)) char *grow(char *p, size_t n) {
	return realloc(p, n);
}

__attribute__((noinline)) void append_mark(volatile char *p) {
	p[0] = '!';
}

int main(void) {
	char *buf = malloc(16);
	strcpy(buf, "short");
	stale = buf;
	buf = grow(buf, 4096); /* a larger size class: the block moves */
	append_mark(stale);
	again = malloc(16); /* reuses the freed 16-byte block: the write is found */
	free(buf);
	return 0;
}
