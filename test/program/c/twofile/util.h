/* A two-file program for `kmemdb cc` and `CC="kmemdb cc" make`. */
#ifndef UTIL_H
#define UTIL_H
char *join_words(int n, char **words);
#endif
