/*
 * The fuzzer's program: a heap with something in every libumem structure
 * for mutations to damage.  Buffers of every umem_alloc_N size class and
 * oversize ones, some freed (free lists, magazines, the transaction log),
 * some kept (reachable from the global table), some leaked (unreachable),
 * a linked list, realloc()ed blocks; the runner writes the core at exit.
 */
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	int value;
	char name[12];
};

void *volatile table[64];
struct node *volatile list;

__attribute__((noinline)) static void *grab(size_t n, int fill) {
	void *p = malloc(n);
	if (p != NULL)
		memset(p, fill, n);
	return p;
}

__attribute__((noinline)) static void leak(size_t n) {
	void *volatile p = grab(n, 0x5a);
	p = NULL;
	(void)p;
}

int main(void) {
	static const size_t sizes[] = { 8, 16, 24, 40, 64, 100, 128, 200, 256, 448, 640, 1024, 2000, 4096, 9000, 20000 };
	for (int round = 0; round < 4; round++) {
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = grab(sizes[i], round + 1);
			if ((i + round) % 3 == 0)
				free(p);
			else
				table[(round * 16 + i) % 64] = p;
		}
	}
	for (int i = 0; i < 40; i++) {
		struct node *n = grab(sizeof(*n), 0);
		n->value = i;
		strcpy(n->name, "node");
		n->next = list;
		list = n;
	}
	for (int i = 0; i < 8; i++)
		table[i] = realloc(table[i], 300 + 100 * i);
	for (int i = 0; i < 6; i++)
		leak(24 + 40 * i);
	return 0;
}
