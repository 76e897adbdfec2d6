/*
 * The program of `kmemdb demo wasm`: a visit counter with a planted
 * use-after-free.  A visitor points at the record of the page it is on;
 * leave_page() frees the record but leaves the visitor pointing at it, and
 * count_visit() then increments the freed record's hit count before it
 * allocates the next page's record.
 */
#include <stdlib.h>
#include <string.h>

struct record {
	char page[24];
	int hits;
};

struct visitor {
	struct record *on;
	int visits;
};

__attribute__((noinline)) struct record *new_record(const char *page) {
	struct record *r = malloc(sizeof *r);
	strncpy(r->page, page, sizeof r->page);
	r->hits = 0;
	return r;
}

__attribute__((noinline)) struct visitor *new_visitor(struct record *start) {
	struct visitor *v = malloc(sizeof *v);
	v->on = start;
	v->visits = 0;
	return v;
}

__attribute__((noinline)) void leave_page(struct visitor *v) {
	free(v->on); /* the bug: v->on still points at the freed record */
}

__attribute__((noinline)) void count_visit(struct visitor *v, const char *next) {
	v->on->hits++;
	v->visits++;
	v->on = new_record(next);
}

int main(void) {
	struct visitor *v = new_visitor(new_record("/index"));
	leave_page(v);
	count_visit(v, "/about");
	return v->visits == 1 ? 0 : 1;
}
