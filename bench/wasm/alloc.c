/*
 * The allocation microbenchmark of bench/wasm.ts, in C: the patterns of
 * bench/kmem.ts (lifo64, rand64, mixed, with the same xorshift choices),
 * timed inside the program with CLOCK_PROCESS_CPUTIME_ID (the process's
 * CPU time, so that a machine shared with other work does not count its
 * time slices against the allocator), the best of REPS passes after one
 * warm-up.  Linked once with wasi-libc's dlmalloc and once with
 * kmemdb's shim, so the same code measures both.
 *
 * Every block gets a stamp in its first and last byte, checked before it is
 * freed; the checksum of the stamps read back does not depend on the
 * allocator, so bench/wasm.ts checks the work was done right.
 *
 *   alloc PATTERN   prints "PATTERN ns_per_op=N.NN checksum=C"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIFO_N 1000
#define LIFO_ROUNDS 60
#define LIVE 10000
#define STEPS 60000
#define REPS 5

static uint32_t victim[STEPS];
static uint32_t sizes_drawn[STEPS + LIVE];
static unsigned char *live[LIVE];
static uint32_t live_size[LIVE];
static uint64_t checksum;

static void draw(void) {
	uint32_t x = 0x2545f491;
	for (int i = 0; i < STEPS; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		victim[i] = x % LIVE;
	}
	for (int i = 0; i < STEPS + LIVE; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		sizes_drawn[i] = 16 + x % 241;
	}
}

static unsigned char *get(uint32_t size, uint32_t stamp) {
	unsigned char *p = malloc(size);
	if (p == NULL) {
		fprintf(stderr, "alloc: out of memory\n");
		exit(2);
	}
	p[0] = (unsigned char)stamp;
	p[size - 1] = (unsigned char)(stamp >> 8);
	return p;
}

static void put(unsigned char *p, uint32_t size) {
	checksum += p[0] + 256u * p[size - 1];
	free(p);
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* One pass; returns the number of operations (an alloc or a free each). */
static long lifo64(void) {
	for (int r = 0; r < LIFO_ROUNDS; r++) {
		for (int i = 0; i < LIFO_N; i++)
			live[i] = get(64, i + r);
		for (int i = LIFO_N - 1; i >= 0; i--)
			put(live[i], 64);
	}
	return 2L * LIFO_N * LIFO_ROUNDS;
}

static void fill(int mixed) {
	for (int i = 0; i < LIVE; i++) {
		live_size[i] = mixed ? sizes_drawn[i] : 64;
		live[i] = get(live_size[i], i);
	}
}

static void drain(void) {
	for (int i = 0; i < LIVE; i++)
		put(live[i], live_size[i]);
}

static long steady(int mixed) {
	for (int i = 0; i < STEPS; i++) {
		uint32_t v = victim[i];
		put(live[v], live_size[v]);
		live_size[v] = mixed ? sizes_drawn[LIVE + i] : 64;
		live[v] = get(live_size[v], i);
	}
	return 2L * STEPS;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: alloc lifo64|rand64|mixed\n");
		return 2;
	}
	const char *pattern = argv[1];
	int mixed = strcmp(pattern, "mixed") == 0;
	int lifo = strcmp(pattern, "lifo64") == 0;
	if (!lifo && !mixed && strcmp(pattern, "rand64") != 0) {
		fprintf(stderr, "alloc: unknown pattern %s\n", pattern);
		return 2;
	}
	draw();
	double best = 1e300;
	for (int rep = 0; rep <= REPS; rep++) {
		if (!lifo)
			fill(mixed);
		uint64_t t0 = now_ns();
		long ops = lifo ? lifo64() : steady(mixed);
		uint64_t t1 = now_ns();
		if (!lifo)
			drain();
		double ns = (double)(t1 - t0) / ops;
		if (rep > 0 && ns < best)
			best = ns;
	}
	printf("%s ns_per_op=%.2f checksum=%llu\n", pattern, best, (unsigned long long)checksum);
	return 0;
}
