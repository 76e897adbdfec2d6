/* Planted bug: free() of a pointer into the middle of a block. */
#include <stdlib.h>

volatile char *volatile keep;

__attribute__((noinline)) void free_field(char *p) {
	free(p);
}

int main(void) {
	char *p = malloc(64);
	keep = p;
	free_field((char *)keep + 16);
	return 0;
}
