/* Planted bug: a record is written after it was freed (caught when the buffer is next allocated). */
#include <stdlib.h>
#include <string.h>

struct record {
	char name[24];
	int hits;
};

volatile struct record *volatile keep;

__attribute__((noinline)) struct record *new_record(const char *name) {
	struct record *r = malloc(sizeof *r);
	strncpy(r->name, name, sizeof r->name);
	r->hits = 0;
	return r;
}

__attribute__((noinline)) void drop_record(struct record *r) {
	free(r);
}

__attribute__((noinline)) void count_hit(volatile struct record *r) {
	r->hits++;
}

int main(void) {
	struct record *r = new_record("alpha");
	keep = r;
	drop_record(r);
	count_hit(keep);
	keep = new_record("beta");
	return 0;
}
