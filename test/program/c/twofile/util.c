#include <stdlib.h>
#include <string.h>
#include "util.h"

/* The words separated by single spaces, in one malloc'd string grown by realloc. */
char *join_words(int n, char **words) {
	size_t len = 0;
	char *s = calloc(1, 1);
	for (int i = 0; i < n; i++) {
		size_t w = strlen(words[i]);
		s = realloc(s, len + w + 2);
		if (s == NULL)
			return NULL;
		if (i > 0)
			s[len++] = ' ';
		memcpy(s + len, words[i], w + 1);
		len += w;
	}
	return s;
}
