/*
 * The heap of bench/wasmcore.ts: blocks of 16 bytes to 2 KiB (seeded sizes)
 * allocated until the linear memory has grown to MEM_PAGES pages, each
 * linked from a global list and pointing at a block taken at random among
 * the last RECENT kept, except every LEAK_EVERY-th, which is dropped (a
 * leak).  Prints how many it leaked and kept, so the benchmark can check
 * ::findleaks' count, and the list's head, a value its raw scan looks for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MEM_PAGES 4096 /* 256 MiB */
#define LEAK_EVERY 1000
#define RECENT 4096

struct block {
	struct block *next;
	struct block *other;
	uint32_t size;
};

struct block *head;
static struct block *recent[RECENT];

static uint32_t seed = 12345;

static uint32_t rnd(void) {
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

int main(void) {
	unsigned long leaked = 0, kept = 0;
	struct block *volatile dropped;
	for (unsigned long i = 0; __builtin_wasm_memory_size(0) < MEM_PAGES; i++) {
		uint32_t size = sizeof(struct block) + 16 * (rnd() % 128);
		struct block *b = malloc(size);
		if (b == NULL)
			return 1;
		b->size = size;
		b->other = recent[rnd() % RECENT];
		if (i % LEAK_EVERY == LEAK_EVERY - 1) {
			dropped = b;
			leaked++;
			continue;
		}
		b->next = head;
		head = b;
		recent[kept % RECENT] = b;
		kept++;
	}
	(void)dropped;
	printf("leaked %lu kept %lu head %lu\n", leaked, kept, (unsigned long)(uintptr_t)head);
	return 0;
}
