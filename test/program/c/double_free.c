/* Planted bug: the same buffer freed twice, from two functions. */
#include <stdlib.h>

volatile void *volatile keep;

__attribute__((noinline)) void release(void *p) {
	free(p);
}

__attribute__((noinline)) void cleanup(void *p) {
	free(p);
}

int main(void) {
	void *p = malloc(40);
	keep = p;
	release(p);
	cleanup((void *)keep);
	return 0;
}
