/*
 * The glibc anchor of bench/kmem.ts: the same lifo64, rand64 and mixed
 * patterns as bench/kmem-worker.ts (same counts, same xorshift choices),
 * through the C library's malloc and free.  Built at bench time with the
 * machine's C compiler (bench/glibc.ts); prints one JSON object:
 *
 *   {"lifo64": ns, "rand64": ns, "mixed": ns}
 *
 * nanoseconds per operation (one malloc or one free), the best of REPS
 * timed passes after one untimed warm-up pass, as the JS workers measure.
 * Every pass is checked: no NULL, no pointer handed out twice while live,
 * every live pointer freed at the end; a failed check exits non-zero with
 * a one-line message, so a broken allocator cannot produce a figure.
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
static uint32_t sizes_in[STEPS + LIVE];
static void *ptrs[LIVE > LIFO_N ? LIVE : LIFO_N];
static uint32_t live_size[LIVE];
static void *check_buf[LIVE > LIFO_N ? LIVE : LIFO_N];
volatile uintptr_t sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *pattern, const char *what) {
  fprintf(stderr, "glibc-harness: %s: %s\n", pattern, what);
  exit(2);
}

/* The choices of kmem-worker.ts: xorshift32 from 0x2545f491. */
static void choices(void) {
  uint32_t x = 0x2545f491u;
  for (int i = 0; i < STEPS; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    victim[i] = x % LIVE;
  }
  for (int i = 0; i < STEPS + LIVE; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    sizes_in[i] = 16 + x % 241;
  }
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
  return x < y ? -1 : x > y;
}

/* The n pointers are non-NULL and pairwise distinct. */
static void check_live(const char *pattern, void **p, int n) {
  memcpy(check_buf, p, (size_t)n * sizeof(void *));
  qsort(check_buf, (size_t)n, sizeof(void *), cmp_ptr);
  if (n > 0 && check_buf[0] == NULL) fail(pattern, "malloc returned NULL");
  for (int i = 1; i < n; i++)
    if (check_buf[i] == check_buf[i - 1]) fail(pattern, "malloc returned a pointer that is still live");
}

static double lifo_pass(int check) {
  uintptr_t s = 0;
  double t0 = now_ns();
  for (int r = 0; r < LIFO_ROUNDS; r++) {
    for (int i = 0; i < LIFO_N; i++) ptrs[i] = malloc(64);
    if (check) check_live("lifo64", ptrs, LIFO_N);
    for (int i = LIFO_N - 1; i >= 0; i--) {
      s ^= (uintptr_t)ptrs[i];
      free(ptrs[i]);
    }
  }
  double t = now_ns() - t0;
  sink ^= s;
  return t;
}

static double steady_pass(int mixed, int check) {
  const char *name = mixed ? "mixed" : "rand64";
  int next = 0;
  for (int i = 0; i < LIVE; i++) {
    live_size[i] = mixed ? sizes_in[next++] : 64;
    ptrs[i] = malloc(live_size[i]);
  }
  if (check) check_live(name, ptrs, LIVE);
  uintptr_t s = 0;
  double t0 = now_ns();
  for (int i = 0; i < STEPS; i++) {
    uint32_t v = victim[i];
    free(ptrs[v]);
    uint32_t sz = mixed ? sizes_in[LIVE + i] : 64;
    live_size[v] = sz;
    void *p = malloc(sz);
    ptrs[v] = p;
    s ^= (uintptr_t)p;
  }
  double t = now_ns() - t0;
  if (check) check_live(name, ptrs, LIVE);
  for (int i = 0; i < LIVE; i++) free(ptrs[i]);
  sink ^= s;
  return t;
}

int main(void) {
  choices();
  double lifo = 1e300, rand64 = 1e300, mixed = 1e300;
  lifo_pass(1);
  for (int r = 0; r < REPS; r++) {
    double t = lifo_pass(0);
    if (t < lifo) lifo = t;
  }
  steady_pass(0, 1);
  for (int r = 0; r < REPS; r++) {
    double t = steady_pass(0, 0);
    if (t < rand64) rand64 = t;
  }
  steady_pass(1, 1);
  for (int r = 0; r < REPS; r++) {
    double t = steady_pass(1, 0);
    if (t < mixed) mixed = t;
  }
  printf("{\"lifo64\": %.4f, \"rand64\": %.4f, \"mixed\": %.4f}\n", lifo / (LIFO_N * LIFO_ROUNDS * 2.0),
         rand64 / (STEPS * 2.0), mixed / (STEPS * 2.0));
  return 0;
}
