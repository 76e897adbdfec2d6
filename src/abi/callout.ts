/*
 * C declarations of the callout subsystem (illumos sys/callo.h, simplified
 * where the simulated kernel has less; see docs/genunix.md) and of the
 * kernel's named kstats that its tables count in.  Laid out by the ctf
 * layer for the kernel's data model and written into unix.N: the kernel's
 * clock (src/kernel/callout.ts) and mdb's ::callout read the same layouts.
 *
 * A callout_id_t is 64 bits in both models.  Its low word holds the ID
 * (table number in the low callout_table_bits, a running counter above
 * them with CALLOUT_COUNTER_HIGH always set, CALLOUT_LONGTERM for long
 * intervals); its high word a generation number (0: IDs never wrap in a
 * simulated run) and the flags CALLOUT_ID_FREE and CALLOUT_EXECUTING.
 */

import { declare } from '../ctf/cparse.js';
import type { TypeTable } from '../ctf/ctf.js';

export const CALLOUT_TYPES = `
typedef uint64_t callout_id_t;
typedef uintptr_t cyclic_id_t;
typedef struct callout_list callout_list_t;

typedef struct callout {
	struct callout *c_idnext;	/* next in ID hash, or on freelist */
	struct callout *c_idprev;	/* prev in ID hash */
	struct callout *c_clnext;	/* next in callout list */
	struct callout *c_clprev;	/* prev in callout list */
	callout_id_t c_xid;		/* extended callout ID */
	callout_list_t *c_list;		/* callout list */
	void *c_func;			/* function to call (a kernel text address) */
	void *c_arg;			/* argument to function */
	struct kthread *c_executor;	/* the thread that runs it */
	kcondvar_t c_done;		/* signal callout completion */
	unsigned short c_waiting;	/* untimeout waiting flag */
} callout_t;

/* both callouts and callout lists are queued on these */
typedef struct callout_hash {
	void *ch_head;
	void *ch_tail;
} callout_hash_t;

struct callout_list {
	callout_list_t *cl_next;	/* next in clhash */
	callout_list_t *cl_prev;	/* prev in clhash */
	hrtime_t cl_expiration;		/* expiration for callouts in list */
	callout_hash_t cl_callouts;	/* list of callouts */
	int cl_flags;			/* CALLOUT_LIST_FLAG_* */
};

/* an element of a table's expiration heap */
typedef struct callout_heap {
	hrtime_t ch_expiration;
	callout_list_t *ch_list;
} callout_heap_t;

typedef struct callout_table {
	kmutex_t ct_mutex;		/* protects all callout state */
	callout_t *ct_free;		/* free callout structures */
	callout_list_t *ct_lfree;	/* free callout list structures */
	callout_id_t ct_short_id;	/* most recently issued short-term ID */
	callout_id_t ct_long_id;	/* most recently issued long-term ID */
	callout_hash_t *ct_idhash;	/* ID hash chains */
	callout_hash_t *ct_clhash;	/* callout list hash */
	struct kstat_named *ct_kstat_data;	/* callout kstat data */
	unsigned int ct_type;		/* CALLOUT_REALTIME or CALLOUT_NORMAL */
	unsigned int ct_suspend;	/* suspend count */
	cyclic_id_t ct_cyclic;		/* the clock's handle for this table */
	callout_heap_t *ct_heap;	/* callout expiration heap */
	unsigned long ct_heap_num;	/* occupied slots in the heap */
	unsigned long ct_heap_max;	/* end of the heap */
	struct kmem_cache *ct_cache;	/* callout kmem cache */
	struct kmem_cache *ct_lcache;	/* callout list kmem cache */
	callout_id_t ct_gen_id;		/* generation based ID */
	callout_hash_t ct_expired;	/* list of expired callout lists */
	struct taskq *ct_taskq;		/* taskq to execute normal callouts */
	struct kstat *ct_kstats;	/* callout kstats */
	int ct_nreap;			/* # heap entries that need reaping */
	cyclic_id_t ct_qcyclic;		/* cyclic for the callout queue */
	callout_hash_t ct_queue;	/* overflow queue of callouts */
} callout_table_t;
`;

/** kstat_named_t (illumos sys/kstat.h, the value union cut to its integer members). */
export const KSTAT_NAMED_TYPES = `
typedef struct kstat_named {
	char name[31];			/* KSTAT_STRLEN */
	unsigned char data_type;	/* KSTAT_DATA_* */
	union {
		char c[16];
		int i32;
		unsigned int ui32;
		int64_t i64;
		uint64_t ui64;
	} value;
} kstat_named_t;
`;

/** Declare the callout types (and kstat_named_t) unless someone already did. */
export function declareCalloutTypes(tt: TypeTable): void {
  if (tt.find('kmutex_t') === undefined) declare(tt, `typedef struct kmutex { void *_opaque[1]; } kmutex_t;`);
  if (tt.find('kcondvar_t') === undefined) declare(tt, `typedef struct kcondvar { unsigned short _opaque; } kcondvar_t;`);
  if (tt.find('kstat_named_t') === undefined) declare(tt, KSTAT_NAMED_TYPES);
  if (tt.find('callout_table_t') === undefined) declare(tt, CALLOUT_TYPES);
}

/* callout_id_t, high word (the 64-bit flags shifted down by 32) */
export const CALLOUT_ID_FREE_HI = 0x80000000;
export const CALLOUT_EXECUTING_HI = 0x40000000;
/* callout_id_t, low word */
export const CALLOUT_LONGTERM = 0x80000000;
export const CALLOUT_COUNTER_HIGH = 0x40000000;

export const CALLOUT_TYPE_BITS = 1;
export const CALLOUT_NTYPES = 1 << CALLOUT_TYPE_BITS;
export const CALLOUT_TYPE_MASK = CALLOUT_NTYPES - 1;
export const CALLOUT_REALTIME = 0;
export const CALLOUT_NORMAL = 1;

/** Intervals of at least this many ticks get long-term IDs. */
export const CALLOUT_LONGTERM_TICKS = 0x4000;
export const CALLOUT_BUCKET_SHIFT = 9;
export const CALLOUT_BUCKETS = 1 << CALLOUT_BUCKET_SHIFT;
export const CALLOUT_BUCKET_MASK = CALLOUT_BUCKETS - 1;

/* callout_list_t.cl_flags */
export const CALLOUT_LIST_FLAG_FREE = 0x1;
export const CALLOUT_LIST_FLAG_ABSOLUTE = 0x2;
export const CALLOUT_LIST_FLAG_HRESTIME = 0x4;
export const CALLOUT_LIST_FLAG_NANO = 0x8;
export const CALLOUT_LIST_FLAG_HEAPED = 0x10;
export const CALLOUT_LIST_FLAG_QUEUED = 0x20;

/* the table kstats (callout_stat_type_t), in ct_kstat_data order */
export const CALLOUT_KSTAT_NAMES = [
  'callout_timeouts',
  'callout_timeouts_pending',
  'callout_untimeouts_unexpired',
  'callout_untimeouts_executing',
  'callout_untimeouts_expired',
  'callout_expirations',
  'callout_allocations',
  'callout_cleanups',
] as const;
export const CALLOUT_TIMEOUTS = 0;
export const CALLOUT_TIMEOUTS_PENDING = 1;
export const CALLOUT_EXPIRATIONS = 5;
export const CALLOUT_ALLOCATIONS = 6;
export const CALLOUT_NUM_STATS = CALLOUT_KSTAT_NAMES.length;
/** kstat_named_t.data_type of a uint64_t. */
export const KSTAT_DATA_UINT64 = 4;

/** A table's callout list hash bucket of an expiration (CALLOUT_CLHASH): xor of its 9-bit pieces. */
export function calloutClhash(expiration: number): number {
  let h = 0;
  for (let i = 0; i < 4; i++) h ^= Math.floor(expiration / 2 ** (CALLOUT_BUCKET_SHIFT * i)) % 2 ** 32;
  return h & CALLOUT_BUCKET_MASK;
}

/** The ID hash bucket of an ID's low word (CALLOUT_IDHASH). */
export function calloutIdhash(idLow: number, tableBits: number): number {
  return (idLow >>> tableBits) & CALLOUT_BUCKET_MASK;
}
