#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include "util.h"

int main(int argc, char **argv) {
	char *s = join_words(argc - 1, argv + 1);
	void *aligned = NULL;
	if (posix_memalign(&aligned, 64, 100) != 0 || ((size_t)aligned & 63) != 0)
		return 2;
	printf("joined: %s\n", s);
	printf("usable >= len: %d\n", malloc_usable_size(s) >= 1);
	free(aligned);
	free(s);
	return 7;
}
