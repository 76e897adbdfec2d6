/*
 * Writes for `kmemdb run --watch-freed` (test/program/watch.test.ts), one
 * per argument:
 *   live     0xdeadbeef in live words, overwritten by every store width
 *            and by memset and memcpy: no freed buffer is written, the
 *            program exits 0;
 *   byte     a one-byte store into a freed buffer, from set_flag;
 *   memset   memset over a freed buffer, called from clear_entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint32_t words[8];
	char flag;
};

__attribute__((noinline)) struct entry *make_entry(void) {
	return calloc(1, sizeof(struct entry));
}

__attribute__((noinline)) void drop_entry(struct entry *e) {
	free(e);
}

__attribute__((noinline)) void set_flag(volatile struct entry *e) {
	e->flag = 1;
}

__attribute__((noinline)) void clear_entry(struct entry *e, size_t n) {
	memset(e, 0, n);
}

/* Every store width over words that hold 0xdeadbeef in a live buffer. */
__attribute__((noinline)) int live(void) {
	volatile struct entry *e = make_entry();
	for (int i = 0; i < 8; i++) e->words[i] = 0xdeadbeef;
	e->words[0] = 1;
	*(volatile uint8_t *)&e->words[1] = 2;
	*(volatile uint16_t *)&e->words[2] = 3;
	*(volatile uint64_t *)&e->words[4] = 4;
	*(volatile float *)&e->words[6] = 5.0f;
	memset((void *)&e->words[7], 6, 4);
	for (int i = 0; i < 8; i++) e->words[i] = 0xdeadbeef;
	memcpy((void *)&e->words[0], (void *)&e->words[4], 16);
	uint32_t sum = 0;
	for (int i = 0; i < 8; i++) sum += e->words[i];
	drop_entry((struct entry *)e);
	return sum == 8u * 0xdeadbeefu ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	if (strcmp(argv[1], "live") == 0) return live();
	struct entry *e = make_entry();
	drop_entry(e);
	if (strcmp(argv[1], "byte") == 0) set_flag(e);
	else if (strcmp(argv[1], "memset") == 0) clear_entry(e, sizeof *e);
	return 0;
}
