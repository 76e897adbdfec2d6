/*
 * kmemdb.h: what a program built with `kmemdb cc` may call besides malloc.
 * The include directory is on the path of every `kmemdb cc` compile.
 */
#ifndef KMEMDB_H
#define KMEMDB_H

/* Write a core of the running program into the runner's --dir, as a
 * snapshot: the program goes on.  Returns the core's number, or -1 when
 * the runner has no --dir. */
int kmemdb_dump(void);

#endif
