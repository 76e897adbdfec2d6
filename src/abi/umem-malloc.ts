/*
 * libumem's malloc tag (umem_impl.h's malloc_data_t), shared by the malloc
 * layer (src/umem) that writes it and mdb's libumem module that reads it.
 *
 * malloc(n) is umem_alloc(n + MALLOC_TAG): the 8 bytes before the pointer
 * hold malloc_size (n + MALLOC_TAG, the size umem_alloc was given) and
 * malloc_stat = MALLOC_MAGIC - malloc_size, so that malloc_stat +
 * malloc_size (libumem's UMEM_MALLOC_DECODE) names the buffer's kind;
 * memalign's tags use MEMALIGN_MAGIC, and free sets malloc_stat to
 * UMEM_FREE_PATTERN_32.  ILP32 only: the tag is always 8 bytes (LP64
 * libumem pads buffers above 8 bytes to a 16-byte tag).
 */

/** libumem's malloc tag magic numbers (umem_impl.h). */
export const MALLOC_MAGIC = 0x3a10c000;
export const MEMALIGN_MAGIC = 0x3e3a1000;
/** UMEM_FREE_PATTERN_32: a freed buffer's malloc_stat. */
export const UMEM_FREE_PATTERN_32 = 0xdeadbeef;
/** sizeof (malloc_data_t) */
export const MALLOC_TAG = 8;
