/*
 * Planted bug: leaks from two call paths (three blocks from make_node, two
 * from make_label), while blocks still reachable from a global list and
 * through another live block are not leaks.
 */
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	char *label;
	int value;
};

struct node *list; /* reachable: the list and everything it points to */

__attribute__((noinline)) struct node *make_node(int value) {
	struct node *n = calloc(1, sizeof *n);
	n->value = value;
	return n;
}

__attribute__((noinline)) char *make_label(const char *s) {
	char *l = malloc(strlen(s) + 1);
	strcpy(l, s);
	return l;
}

__attribute__((noinline)) void keep(int value, const char *label) {
	struct node *n = make_node(value);
	n->label = make_label(label);
	n->next = list;
	list = n;
}

__attribute__((noinline)) void lose_nodes(void) {
	for (volatile int i = 0; i < 3; i++) { /* volatile: one call site, not unrolled */
		struct node *volatile n = make_node(i);
		(void)n;
	}
}

__attribute__((noinline)) void lose_labels(void) {
	for (volatile int i = 0; i < 2; i++) {
		char *volatile l = make_label("forgotten");
		(void)l;
	}
}

int main(void) {
	keep(1, "one");
	keep(2, "two");
	lose_nodes();
	lose_labels();
	return 0;
}
