/*
 * Declarations that Debian 12's wasi-libc lacks and SQLite's shell.c calls:
 * force-included into shell.c (scripts/real-programs.ts), defined in
 * missing.c.  A file system without permissions or symbolic links needs
 * neither, and a program cannot start another.
 */
#ifndef KMEMDB_WASI_MISSING_H
#define KMEMDB_WASI_MISSING_H
#include <sys/types.h>
int chmod(const char *path, mode_t mode);
char *realpath(const char *path, char *resolved);
int system(const char *command);
#endif
