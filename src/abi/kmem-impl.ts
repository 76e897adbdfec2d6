/*
 * C declarations and constants of the kernel memory allocator.
 *
 * These are the illumos structures of sys/kmem_impl.h (2010 layout, spec
 * §3), declared into the kernel's type table so that the allocator computes
 * its offsets from them and mdb reads the same layouts from unix.N.  Names
 * and field order are illumos'; where we differ it is said here:
 *
 *  - kmem_cache_t.cache_cpu[] is sized for the booted CPU count (illumos
 *    sizes it by max_ncpus); the cache struct is allocated with a phase so
 *    that cache_cpu starts on a 64-byte boundary, as illumos does.
 *  - cache_partial_slabs is an avl_tree_t whose nodes are kept as a right
 *    spine (every avl_child[0] is NULL): an in-order walk yields the slabs in
 *    illumos' AVL order, but the tree is not height-balanced (see kmem.ts).
 *  - kmem_defrag_t / kstats are not modelled; cache_defrag and cache_kstat
 *    stay NULL.
 */

import type { TypeTable } from '../ctf/ctf.js';
import { declare } from '../ctf/cparse.js';

/* cache_flags / kmem_flags (spec §1.1) */
/** kmem_error()'s panic when kmem_panic > 0 (its report goes to the console first). */
export const KMEM_PANIC_MESSAGE = 'kernel heap corruption detected';

export const KMF_AUDIT = 0x1;
export const KMF_DEADBEEF = 0x2;
export const KMF_REDZONE = 0x4;
export const KMF_CONTENTS = 0x8;
export const KMF_STICKY = 0x10;
export const KMF_NOMAGAZINE = 0x20;
export const KMF_FIREWALL = 0x40;
export const KMF_LITE = 0x100;
export const KMF_HASH = 0x200;
export const KMF_RANDOMIZE = 0x400;
export const KMF_DUMPDIVERT = 0x1000;
export const KMF_DUMPUNSAFE = 0x2000;
export const KMF_PREFILL = 0x4000;
export const KMF_BUFTAG = KMF_DEADBEEF | KMF_REDZONE;
export const KMF_TOUCH = KMF_BUFTAG | KMF_LITE | KMF_CONTENTS;
export const KMF_RANDOM = KMF_TOUCH | KMF_AUDIT | KMF_NOMAGAZINE;
export const KMF_DEBUG = KMF_RANDOM | KMF_FIREWALL;

/* cache_cflags (spec §1.2) */
export const KMC_NOTOUCH = 0x10000;
export const KMC_NODEBUG = 0x20000;
export const KMC_NOMAGAZINE = 0x40000;
export const KMC_NOHASH = 0x80000;
export const KMC_QCACHE = 0x100000;
export const KMC_KMEM_ALLOC = 0x200000;
export const KMC_IDENTIFIER = 0x400000;
export const KMC_PREFILL = 0x800000;

/* kmflag (spec §1.3) */
export const KM_SLEEP = 0x0;
export const KM_NOSLEEP = 0x1;
export const KM_PANIC = 0x2;
export const KM_PUSHPAGE = 0x4;
export const KM_NORMALPRI = 0x8;
export const KM_VMFLAGS = 0xff;
export const KM_FLAGS = 0xffff;

/* kmem_error classes (spec §2.4) */
export const KMERR_MODIFIED = 0;
export const KMERR_REDZONE = 1;
export const KMERR_DUPFREE = 2;
export const KMERR_BADADDR = 3;
export const KMERR_BADBUFTAG = 4;
export const KMERR_BADBUFCTL = 5;
export const KMERR_BADCACHE = 6;
export const KMERR_BADSIZE = 7;
export const KMERR_BADBASE = 8;
export const KMERR_NAMES = [
  'MODIFIED',
  'REDZONE',
  'DUPFREE',
  'BADADDR',
  'BADBUFTAG',
  'BADBUFCTL',
  'BADCACHE',
  'BADSIZE',
  'BADBASE',
] as const;

/* patterns (spec §2.2); 64-bit patterns repeat one 32-bit word */
export const KMEM_FREE_PATTERN32 = 0xdeadbeef;
export const KMEM_UNINITIALIZED_PATTERN32 = 0xbaddcafe;
export const KMEM_REDZONE_PATTERN32 = 0xfeedface;
export const KMEM_REDZONE_BYTE = 0xbb;
export const KMEM_BUFTAG_ALLOC = 0xa110c8ed;
export const KMEM_BUFTAG_FREE = 0xf4eef4ee;
export const KMEM_STACK_DEPTH = 15;
export const KMEM_SLAB_NOMOVE = 0x1;
export const KMEM_SLAB_MOVE_PENDING = 0x2;

export function KMEM_SIZE_ENCODE(x: number): number {
  return (251 * x + 1) >>> 0;
}
export function KMEM_SIZE_DECODE(x: number): number {
  return Math.floor(x / 251);
}
export function KMEM_SIZE_VALID(x: number): boolean {
  return x % 251 === 1 && x !== 1;
}

/** Magazine types: (rounds, align, minbuf, maxbuf), spec §3.5. */
export const KMEM_MAGTYPES: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 8, 3200, 65536],
  [3, 16, 256, 32768],
  [7, 32, 64, 16384],
  [15, 64, 0, 8192],
  [31, 64, 0, 4096],
  [47, 64, 0, 2048],
  [63, 64, 0, 1024],
  [95, 64, 0, 512],
  [143, 64, 0, 0],
];

/** kmem_alloc_N sizes (spec §3.7). */
export const KMEM_ALLOC_SIZES = [
  8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1152, 1344, 1600, 2048,
  2688, 4096,
];
export const KMEM_BIG_ALLOC_SIZES = [
  8192, 12288, 16384, 24576, 32768, 40960, 49152, 57344, 65536, 73728, 81920, 90112, 98304, 106496, 114688, 122880, 131072,
];
export const KMEM_ALIGN = 8;
export const KMEM_ALIGN_SHIFT = 3;
export const KMEM_MAXBUF = 4096;
export const KMEM_BIG_SHIFT = 12;
export const KMEM_ALLOC_TABLE_MAX = KMEM_MAXBUF >> KMEM_ALIGN_SHIFT; // 512
export const KMEM_HASH_INITIAL = 64;
export const KMEM_VOID_FRACTION = 8;
export const KMEM_CPU_CACHE_SIZE = 64;

/** Declare common kernel types (list_t, avl, kmutex_t) unless someone already did. */
function declareCommon(tt: TypeTable): void {
  if (tt.find('kmutex_t') === undefined) declare(tt, `typedef struct kmutex { void *_opaque[1]; } kmutex_t;`);
  if (tt.find('kcondvar_t') === undefined) declare(tt, `typedef struct kcondvar { unsigned short _opaque; } kcondvar_t;`);
  if (tt.find('list_node_t') === undefined) {
    declare(
      tt,
      `struct list_node { struct list_node *list_next; struct list_node *list_prev; };
       typedef struct list_node list_node_t;`,
    );
  }
  if (tt.find('list_t') === undefined) {
    declare(
      tt,
      `struct list { size_t list_size; size_t list_offset; struct list_node list_head; };
       typedef struct list list_t;`,
    );
  }
  if (tt.find('avl_node_t') === undefined) {
    declare(
      tt,
      `struct avl_node { struct avl_node *avl_child[2]; uintptr_t avl_pcb; };
       typedef struct avl_node avl_node_t;`,
    );
  }
  if (tt.find('avl_tree_t') === undefined) {
    declare(
      tt,
      `struct avl_tree {
         struct avl_node *avl_root;
         int (*avl_compar)(const void *, const void *);
         size_t avl_offset;
         ulong_t avl_numnodes;
         size_t avl_size;
       };
       typedef struct avl_tree avl_tree_t;`,
    );
  }
}

/**
 * Declare the kmem structures into `tt` for `ncpus` CPUs (cache_cpu[] and
 * lh_cpu[] sizes).  Idempotent per table.
 */
export function declareKmemTypes(tt: TypeTable, ncpus: number): void {
  if (tt.find('kmem_cache_t') !== undefined && tt.find('kmem_panic_info_t') !== undefined) return;
  declareCommon(tt);
  const P = tt.model.ptrSize;
  // kmem_cpu_cache_t is exactly 64 bytes: pad after cc_dump_prounds.
  const ccUsed = P === 8 ? 54 : 42;
  // kmem_cpu_log_header_t is padded to 64 bytes.
  const clhUsed = P === 8 ? 32 : 20;
  declare(
    tt,
    `
struct vmem;
struct kmem_cache;
typedef struct kmem_cache kmem_cache_t;

typedef struct kmem_bufctl {
	struct kmem_bufctl *bc_next;	/* next bufctl struct */
	void *bc_addr;			/* address of buffer */
	struct kmem_slab *bc_slab;	/* controlling slab */
} kmem_bufctl_t;

typedef struct kmem_bufctl_audit {
	struct kmem_bufctl *bc_next;
	void *bc_addr;
	struct kmem_slab *bc_slab;
	kmem_cache_t *bc_cache;		/* controlling cache */
	hrtime_t bc_timestamp;		/* transaction time */
	kthread_t *bc_thread;		/* thread doing transaction */
	struct kmem_bufctl *bc_lastlog;	/* last log entry */
	void *bc_contents;		/* contents at last free */
	int bc_depth;			/* stack depth */
	pc_t bc_stack[15];		/* pc stack */
} kmem_bufctl_audit_t;

typedef struct kmem_buftag {
	uint64_t bt_redzone;		/* 64-bit redzone pattern */
	kmem_bufctl_t *bt_bufctl;	/* bufctl */
	intptr_t bt_bxstat;		/* bufctl ^ (alloc/free) */
} kmem_buftag_t;

typedef struct kmem_buftag_lite {
	kmem_buftag_t bt_buftag;	/* a normal buftag */
	pc_t bt_history[1];		/* zero or more callers */
} kmem_buftag_lite_t;

typedef struct kmem_slab {
	struct kmem_cache *slab_cache;	/* controlling cache */
	void *slab_base;		/* base of allocated memory */
	avl_node_t slab_link;		/* slab linkage */
	struct kmem_bufctl *slab_head;	/* first free buffer */
	long slab_refcnt;		/* outstanding allocations */
	long slab_chunks;		/* chunks (bufs) in this slab */
	uint32_t slab_stuck_offset;	/* unmoved buffer offset */
	uint16_t slab_later_count;	/* cf KMEM_CBRC_LATER */
	uint16_t slab_flags;		/* bits to mark the slab */
} kmem_slab_t;

typedef struct kmem_magazine {
	void *mag_next;
	void *mag_round[1];		/* one or more rounds */
} kmem_magazine_t;

typedef struct kmem_magtype {
	short mt_magsize;		/* magazine size (number of rounds) */
	int mt_align;			/* magazine alignment */
	size_t mt_minbuf;		/* all smaller buffers qualify */
	size_t mt_maxbuf;		/* no larger buffers qualify */
	kmem_cache_t *mt_cache;		/* magazine cache */
} kmem_magtype_t;

typedef struct kmem_cpu_cache {
	kmutex_t cc_lock;		/* protects this cpu's local cache */
	uint64_t cc_alloc;		/* allocations from this cpu */
	uint64_t cc_free;		/* frees to this cpu */
	kmem_magazine_t *cc_loaded;	/* the currently loaded magazine */
	kmem_magazine_t *cc_ploaded;	/* the previously loaded magazine */
	int cc_flags;			/* CPU-local copy of cache_flags */
	short cc_rounds;		/* number of objects in loaded mag */
	short cc_prounds;		/* number of objects in previous mag */
	short cc_magsize;		/* number of rounds in a full mag */
	short cc_dump_rounds;		/* dump time copy of cc_rounds */
	short cc_dump_prounds;		/* dump time copy of cc_prounds */
	char cc_pad[${64 - ccUsed}];	/* for nice alignment */
} kmem_cpu_cache_t;

typedef struct kmem_maglist {
	kmem_magazine_t *ml_list;	/* magazine list */
	long ml_total;			/* number of magazines */
	long ml_min;			/* min since last update */
	long ml_reaplimit;		/* max reapable magazines */
	uint64_t ml_alloc;		/* allocations from this list */
} kmem_maglist_t;

struct kmem_cache {
	/* Statistics */
	uint64_t cache_slab_create;	/* slab creates */
	uint64_t cache_slab_destroy;	/* slab destroys */
	uint64_t cache_slab_alloc;	/* slab layer allocations */
	uint64_t cache_slab_free;	/* slab layer frees */
	uint64_t cache_alloc_fail;	/* total failed allocations */
	uint64_t cache_buftotal;	/* total buffers */
	uint64_t cache_bufmax;		/* max buffers ever */
	uint64_t cache_bufslab;		/* buffers free in slab layer */
	uint64_t cache_reap;		/* cache reaps */
	uint64_t cache_rescale;		/* hash table rescales */
	uint64_t cache_lookup_depth;	/* hash lookup depth */
	uint64_t cache_depot_contention; /* mutex contention count */
	uint64_t cache_depot_contention_prev; /* previous snapshot */
	/* Cache properties */
	char cache_name[32];		/* cache name */
	size_t cache_bufsize;		/* object size */
	size_t cache_align;		/* object alignment */
	int (*cache_constructor)(void *, void *, int);
	void (*cache_destructor)(void *, void *);
	void (*cache_reclaim)(void *);
	int (*cache_move)(void *, void *, size_t, void *);
	void *cache_private;		/* opaque arg to callbacks */
	struct vmem *cache_arena;	/* vmem source for slabs */
	int cache_cflags;		/* cache creation flags */
	int cache_flags;		/* various cache state info */
	uint32_t cache_mtbf;		/* induced alloc failure rate */
	uint32_t cache_pad1;		/* to align cache_lock */
	void *cache_kstat;		/* exported statistics */
	list_node_t cache_link;		/* cache linkage */
	/* Slab layer */
	kmutex_t cache_lock;		/* protects slab layer */
	size_t cache_chunksize;		/* buf + alignment [+ debug] */
	size_t cache_slabsize;		/* size of a slab */
	size_t cache_maxchunks;		/* max buffers per slab */
	size_t cache_bufctl;		/* buf-to-bufctl distance */
	size_t cache_buftag;		/* buf-to-buftag distance */
	size_t cache_verify;		/* bytes to verify */
	size_t cache_contents;		/* bytes of saved content */
	size_t cache_color;		/* next slab color */
	size_t cache_mincolor;		/* maximum slab color */
	size_t cache_maxcolor;		/* maximum slab color */
	int cache_hash_shift;		/* get to interesting bits */
	size_t cache_hash_mask;		/* hash table mask */
	list_t cache_complete_slabs;	/* completely allocated slabs */
	size_t cache_complete_slab_count;
	avl_tree_t cache_partial_slabs;	/* partial slab freelist */
	size_t cache_partial_binshift;	/* for AVL sort bins */
	kmem_cache_t *cache_bufctl_cache; /* source of bufctls */
	kmem_bufctl_t **cache_hash_table; /* hash table base */
	void *cache_defrag;		/* slab consolidator fields */
	/* Depot layer */
	kmutex_t cache_depot_lock;	/* protects depot */
	kmem_magtype_t *cache_magtype;	/* magazine type */
	kmem_maglist_t cache_full;	/* full magazines */
	kmem_maglist_t cache_empty;	/* empty magazines */
	void *cache_dumpfreelist;	/* heap during crash dump */
	void *cache_dumplog;		/* log entry during dump */
	/* Per-CPU layer (cache_cpu is 64-byte aligned in memory) */
	kmem_cpu_cache_t cache_cpu[${ncpus}];
};

typedef struct kmem_cpu_log_header {
	kmutex_t clh_lock;
	char *clh_current;
	size_t clh_avail;
	int clh_chunk;
	int clh_hits;
	char clh_pad[${64 - clhUsed}];
} kmem_cpu_log_header_t;

typedef struct kmem_log_header {
	kmutex_t lh_lock;
	char *lh_base;
	int *lh_free;
	size_t lh_chunksize;
	int lh_nchunks;
	int lh_head;
	int lh_tail;
	int lh_hits;
	kmem_cpu_log_header_t lh_cpu[${ncpus}];
} kmem_log_header_t;

typedef struct kmem_panic_info {
	hrtime_t kmp_timestamp;		/* timestamp of panic */
	int kmp_error;			/* type of kmem error */
	void *kmp_buffer;		/* buffer that induced panic */
	void *kmp_realbuf;		/* real start address for buffer */
	kmem_cache_t *kmp_cache;	/* buffer's cache according to client */
	kmem_cache_t *kmp_realcache;	/* actual cache containing buffer */
	kmem_slab_t *kmp_slab;		/* slab according to kmem_findslab() */
	kmem_bufctl_t *kmp_bufctl;	/* bufctl */
} kmem_panic_info_t;
`,
  );
  const cc = tt.size('kmem_cpu_cache_t');
  if (cc !== 64) throw new Error(`kmem_cpu_cache_t is ${cc} bytes, expected 64`);
  const clh = tt.size('kmem_cpu_log_header_t');
  if (clh !== 64) throw new Error(`kmem_cpu_log_header_t is ${clh} bytes, expected 64`);
}
