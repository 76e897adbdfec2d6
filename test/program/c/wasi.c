/*
 * What a program does through WASI under `kmemdb run`: arguments,
 * environment, standard streams, files in a preopened directory, clocks and
 * randomness, exit status (the first argument).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	printf("HOME=%s\n", getenv("HOME") ? getenv("HOME") : "(unset)");
	printf("GREETING=%s\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");
	char line[128];
	if (fgets(line, sizeof line, stdin) != NULL)
		printf("stdin: %s", line);
	FILE *in = fopen("/data/in.txt", "r");
	if (in != NULL) {
		if (fgets(line, sizeof line, in) != NULL)
			printf("in.txt: %s", line);
		fclose(in);
		FILE *out = fopen("/data/out.txt", "w");
		fprintf(out, "written by %s\n", argv[0]);
		fclose(out);
	}
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	unsigned char r[8];
	getentropy(r, sizeof r);
	printf("time=%lld.%09ld mono=%lld.%09ld random=", (long long)rt.tv_sec, rt.tv_nsec, (long long)mono.tv_sec, mono.tv_nsec);
	for (int i = 0; i < 8; i++)
		printf("%02x", r[i]);
	printf("\n");
	fprintf(stderr, "to stderr\n");
	return argc > 1 ? atoi(argv[1]) : 0;
}
