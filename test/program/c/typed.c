/*
 * A program with its own types and globals, built with -g: mdb reads them
 * from its DWARF.  It prints the compiler's own sizes and offsets (the test
 * compares mdb's answers with them), builds a list, and aborts.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum color { RED, GREEN = 5, BLUE };

struct node {
  struct node *next;
  int key;
  char name[12];
  unsigned flag : 3, other : 5;
  double weight;
  union {
    int i;
    float f;
  } u;
  enum color color;
  void (*cb)(int);
};
typedef struct node node_t;

struct node *head;
node_t table[4];
static int counter = 3;

int main(void) {
  printf("sizeof %zu next %zu key %zu name %zu weight %zu u %zu color %zu cb %zu\n", sizeof(struct node), offsetof(struct node, next),
         offsetof(struct node, key), offsetof(struct node, name), offsetof(struct node, weight), offsetof(struct node, u),
         offsetof(struct node, color), offsetof(struct node, cb));
  for (int i = 0; i < 3; i++) {
    struct node *n = malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->key = i + counter;
    strcpy(n->name, "node");
    n->flag = 5;
    n->other = 17;
    n->color = GREEN;
    n->next = head;
    head = n;
  }
  table[1].key = 42;
  table[1].next = head;
  printf("head %p table %p\n", (void *)head, (void *)table);
  fflush(stdout);
  abort();
}
