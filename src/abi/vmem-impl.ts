/*
 * C declarations of vmem's structures (illumos sys/vmem_impl.h layouts).
 *
 * They are laid out by the ctf layer for the kernel's data model and written
 * into unix.N, so mdb reads vmem_t and vmem_seg_t with the same offsets the
 * allocator uses.  The kstats are plain uint64_t counters (illumos keeps
 * kstat_named_t's there; the counter order is the same).
 */

import type { TypeTable } from '../ctf/ctf.js';
import { declare } from '../ctf/cparse.js';

/* vmflag: vmem_alloc()'s sleep and fit policy (illumos sys/vmem.h) */
export const VM_SLEEP = 0x0;
export const VM_NOSLEEP = 0x1;
export const VM_PANIC = 0x2;
export const VM_PUSHPAGE = 0x4;
export const VM_KMFLAGS = 0xff;
export const VM_BESTFIT = 0x100;
export const VM_FIRSTFIT = 0x200;
export const VM_NEXTFIT = 0x400;
export const VM_MEMLOAD = 0x800;
export const VM_NORELOC = 0x1000;
export const VM_ABORT = 0x2000;
export const VM_ENDALLOC = 0x4000;
export const VM_FLAGS = 0xffff;

/* vmem_create() flags */
export const VMC_POPULATOR = 0x10000;
export const VMC_NO_QCACHE = 0x20000;
export const VMC_IDENTIFIER = 0x40000;
export const VMC_XALLOC = 0x80000;
export const VMC_XALIGN = 0x100000;

/* vs_type of a vmem_seg_t */
export const VMEM_ALLOC = 0x01;
export const VMEM_FREE = 0x02;
export const VMEM_SPAN = 0x10;
export const VMEM_ROTOR = 0x20;
export const VMEM_WALKER = 0x40;

/** Depth of the audit stack in a vmem_seg_t. */
export const VMEM_STACK_DEPTH = 20;
/** Initial (static) hash buckets. */
export const VMEM_HASH_INITIAL = 16;
/** Maximum number of quantum caches per arena. */
export const VMEM_NQCACHE_MAX = 16;
/** Length of vm_name including the NUL. */
export const VMEM_NAMELEN = 30;

/* Lock types that several layers share: declared once, by whoever is first. */
const LOCK_TYPES = `
typedef struct kmutex {
	void *_opaque[1];
} kmutex_t;
`;
const CV_TYPES = `
typedef struct kcondvar {
	unsigned short _opaque;
} kcondvar_t;
`;

function vmemTypes(nfreelists: number): string {
  return `
typedef struct vmem vmem_t;
typedef struct vmem_seg vmem_seg_t;

struct vmem_seg {
	uintptr_t vs_start;		/* start of segment (inclusive) */
	uintptr_t vs_end;		/* end of segment (exclusive) */
	struct vmem_seg *vs_knext;	/* next of kin (alloc, free, span) */
	struct vmem_seg *vs_kprev;	/* prev of kin */
	struct vmem_seg *vs_anext;	/* next in arena */
	struct vmem_seg *vs_aprev;	/* prev in arena */
	uint8_t vs_type;		/* alloc, free, span */
	uint8_t vs_import;		/* non-zero if segment was imported */
	uint8_t vs_depth;		/* stack depth if KMF_AUDIT active */
	/* The following fields exist only when KMF_AUDIT is set at boot. */
	struct kthread *vs_thread;
	hrtime_t vs_timestamp;
	pc_t vs_stack[${VMEM_STACK_DEPTH}];
};

typedef struct vmem_freelist {
	void *vs_start;			/* always zero */
	void *vs_end;			/* segment size */
	vmem_seg_t *vs_knext;		/* next of kin */
	vmem_seg_t *vs_kprev;		/* prev of kin */
} vmem_freelist_t;

typedef struct vmem_kstat {
	uint64_t vk_mem_inuse;		/* memory in use */
	uint64_t vk_mem_import;		/* memory imported */
	uint64_t vk_mem_total;		/* total memory in arena */
	uint64_t vk_source_id;		/* vmem id of vmem source */
	uint64_t vk_alloc;		/* number of allocations */
	uint64_t vk_free;		/* number of frees */
	uint64_t vk_wait;		/* number of allocations that waited */
	uint64_t vk_fail;		/* number of allocations that failed */
	uint64_t vk_lookup;		/* hash lookup count */
	uint64_t vk_search;		/* freelist search count */
	uint64_t vk_populate_wait;	/* populates that waited */
	uint64_t vk_populate_fail;	/* populates that failed */
	uint64_t vk_contains;		/* vmem_contains() calls */
	uint64_t vk_contains_search;	/* vmem_contains() search count */
} vmem_kstat_t;

struct vmem {
	char vm_name[${VMEM_NAMELEN}];	/* arena name */
	kcondvar_t vm_cv;		/* cv for blocking allocations */
	kmutex_t vm_lock;		/* arena lock */
	uint32_t vm_id;			/* vmem id */
	uint32_t vm_mtbf;		/* induced alloc failure rate */
	int vm_cflags;			/* arena creation flags */
	int vm_qshift;			/* log2(vm_quantum) */
	size_t vm_quantum;		/* vmem quantum */
	size_t vm_qcache_max;		/* maximum size to front by kmem */
	size_t vm_min_import;		/* smallest amount to import */
	void *(*vm_source_alloc)(vmem_t *, size_t, int);
	void (*vm_source_free)(vmem_t *, void *, size_t);
	vmem_t *vm_source;		/* vmem source for imported memory */
	vmem_t *vm_next;		/* next in vmem_list */
	void *vm_ksp;			/* kstat */
	ssize_t vm_nsegfree;		/* number of free vmem_seg_t's */
	vmem_seg_t *vm_segfree;		/* free vmem_seg_t list */
	vmem_seg_t **vm_hash_table;	/* allocated-segment hash table */
	size_t vm_hash_mask;		/* hash_size - 1 */
	size_t vm_hash_shift;		/* log2(vm_hash_mask + 1) */
	ulong_t vm_freemap;		/* bitmap of non-empty freelists */
	vmem_seg_t vm_seg0;		/* anchor segment */
	vmem_seg_t vm_rotor;		/* rotor for VM_NEXTFIT allocations */
	vmem_seg_t *vm_hash0[${VMEM_HASH_INITIAL}];	/* initial hash table */
	void *vm_qcache[${VMEM_NQCACHE_MAX}];	/* quantum caches */
	vmem_freelist_t vm_freelist[${nfreelists}];	/* power-of-2 flists */
	vmem_kstat_t vm_kstat;		/* kstat data */
};
`;
}

/**
 * Declare vmem's types in a type table (idempotent).  VMEM_FREELISTS is the
 * number of bits in a pointer, so vm_freelist has 65 entries on LP64 and 33
 * on ILP32, as in illumos.
 */
export function declareVmemTypes(tt: TypeTable): void {
  if (tt.find('vmem_t') !== undefined) return;
  if (tt.find('kmutex_t') === undefined) declare(tt, LOCK_TYPES);
  if (tt.find('kcondvar_t') === undefined) declare(tt, CV_TYPES);
  declare(tt, vmemTypes(tt.model.ptrSize * 8 + 1));
}
