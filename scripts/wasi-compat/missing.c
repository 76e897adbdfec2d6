/* The functions of missing.h: chmod succeeds, realpath copies, system fails as without a shell. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "missing.h"

int chmod(const char *path, mode_t mode) {
	(void)path;
	(void)mode;
	return 0;
}

char *realpath(const char *path, char *resolved) {
	size_t n = strlen(path);
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (resolved == NULL && (resolved = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(resolved, path, n + 1);
	return resolved;
}

int system(const char *command) {
	return command == NULL ? 0 : -1;
}
