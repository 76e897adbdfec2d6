/* Planted bug: a string copy writes its NUL one byte past the buffer (caught at free by the redzone). */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) char *copy_name(const char *s) {
	char *p = malloc(strlen(s)); /* no room for the NUL */
	strcpy(p, s);
	return p;
}

int main(void) {
	char *volatile p = copy_name("twenty-three characters");
	free(p);
	return 0;
}
