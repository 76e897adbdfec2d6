/*
 * The malloc of a program built with `kmemdb cc`: every heap entry point of
 * wasi-libc, defined here as a call into the host, where kmem (src/umem)
 * serves it out of this program's own linear memory (the imports are
 * agreed in docs/program.md).
 *
 * wasi-libc keeps all of them in one object, dlmalloc.o, and its internals
 * call the __libc_ names (atexit, locales): defining all ten names here
 * means dlmalloc.o is never linked.  Each function is a single host call,
 * so the first wasm frame of any stack the host captures is one of these
 * and is skipped.  The C convention the host does not see, errno, is kept
 * here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define HOST(name) __attribute__((import_module("kmemdb"), import_name(#name)))

HOST(malloc) void *kmemdb_host_malloc(size_t size);
HOST(free) void kmemdb_host_free(void *ptr);
HOST(calloc) void *kmemdb_host_calloc(size_t nelem, size_t elsize);
HOST(realloc) void *kmemdb_host_realloc(void *ptr, size_t size);
HOST(aligned_alloc) void *kmemdb_host_aligned_alloc(size_t align, size_t size);
HOST(posix_memalign) int kmemdb_host_posix_memalign(void **res, size_t align, size_t size);
HOST(malloc_usable_size) size_t kmemdb_host_usable_size(void *ptr);
HOST(dump) int kmemdb_host_dump(void);

/* Inlined (the shim is always compiled with -O2): one frame per call. */
static inline void *nomem(void *p, size_t size) {
	if (p == NULL && size != 0)
		errno = ENOMEM;
	return p;
}

static inline void *zeroed(size_t nelem, size_t elsize) {
	void *p = kmemdb_host_calloc(nelem, elsize);
	if (p == NULL && nelem != 0 && elsize != 0)
		errno = ENOMEM;
	return p;
}

void *malloc(size_t size) { return nomem(kmemdb_host_malloc(size), size); }
void free(void *ptr) { kmemdb_host_free(ptr); }

void *calloc(size_t nelem, size_t elsize) { return zeroed(nelem, elsize); }

void *realloc(void *ptr, size_t size) { return nomem(kmemdb_host_realloc(ptr, size), size); }

void *aligned_alloc(size_t align, size_t size) {
	return nomem(kmemdb_host_aligned_alloc(align, size), size);
}

int posix_memalign(void **res, size_t align, size_t size) {
	return kmemdb_host_posix_memalign(res, align, size);
}

size_t malloc_usable_size(void *ptr) { return kmemdb_host_usable_size(ptr); }

void *__libc_malloc(size_t size) { return nomem(kmemdb_host_malloc(size), size); }
void __libc_free(void *ptr) { kmemdb_host_free(ptr); }
void *__libc_calloc(size_t nelem, size_t elsize) { return zeroed(nelem, elsize); }

int kmemdb_dump(void) { return kmemdb_host_dump(); }
