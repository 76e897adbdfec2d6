/*
 * The vmem interface that kmem and the kernel subsystems program against.
 * (The implementation is vmem.ts; this file is the contract.)
 *
 * All arena state (vmem_t, vmem_seg_t, freelists, hash) lives in simulated
 * memory; a `VmemArena` object is only a handle: its `addr` is the vmem_t.
 * Addresses are numbers in the signed representation of machine/addr.ts;
 * 0 means failure, as NULL does.
 *
 * Getting at vmem: `createKernelArenas(k, {audit})` (arenas.ts) boots vmem
 * and builds the kernel's arena tree; `vmemOf(k)` (vmem.ts) returns the
 * kernel's `VmemSystem` afterwards, to create more arenas or to install the
 * quantum-cache provider.
 */

// The flags of this interface are the C ABI's (src/abi/vmem-impl.ts); kmem and the
// subsystems may take them from either place.
export {
  VM_SLEEP,
  VM_NOSLEEP,
  VM_PANIC,
  VM_PUSHPAGE,
  VM_KMFLAGS,
  VM_BESTFIT,
  VM_FIRSTFIT,
  VM_NEXTFIT,
  VM_MEMLOAD,
  VM_NORELOC,
  VM_ABORT,
  VM_ENDALLOC,
  VM_FLAGS,
  VMC_POPULATOR,
  VMC_NO_QCACHE,
  VMC_IDENTIFIER,
  VMC_XALLOC,
  VMC_XALIGN,
  VMEM_ALLOC,
  VMEM_FREE,
  VMEM_SPAN,
  VMEM_ROTOR,
  VMEM_WALKER,
} from '../abi/vmem-impl.js';

/** An import function: allocate `size` bytes from `source`; 0 on failure. */
export type VmemAllocFn = (source: VmemArena, size: number, vmflag: number) => number;
export type VmemFreeFn = (source: VmemArena, addr: number, size: number) => void;

/**
 * Quantum caches are kmem caches.  vmem knows nothing of kmem: kmem installs
 * a provider once it is ready (`VmemSystem.setQcacheProvider`), and arenas
 * created with qcache_max > 0 get their caches then (`vm_qcache[]` in memory
 * points at the kmem_cache_t's, `vm_qcache_max` becomes non-zero).
 * Cache names are "<arena>_<size>" (e.g. kmem_va_8192); kmem should create
 * them with KMC_QCACHE | KMC_NOTOUCH and the given slab size.
 */
export interface QcacheProvider {
  create(arena: VmemArena, name: string, size: number, align: number, slabSize: number): QcacheHandle;
  /**
   * kmem_reap() (or kmem_reap_idspace() for VMC_IDENTIFIER arenas), called
   * by vmem_xalloc before it gives up on an allocation.  Optional.
   */
  reap?(identifier: boolean): void;
}
export interface QcacheHandle {
  readonly addr: number; // kmem_cache_t address
  alloc(vmflag: number): number;
  free(addr: number): void;
  destroy(): void;
}

export interface VmemArena {
  readonly addr: number; // the vmem_t in simulated memory
  readonly name: string;
  /** vm_id: 1, 2, ... in creation order. */
  readonly id: number;
  readonly quantum: number;
  readonly source: VmemArena | undefined;
  alloc(size: number, vmflag: number): number;
  free(addr: number, size: number): void;
  xalloc(size: number, align: number, phase: number, nocross: number, minaddr: number, maxaddr: number, vmflag: number): number;
  xfree(addr: number, size: number): void;
  add(base: number, size: number, vmflag: number): number;
  contains(addr: number, size: number): boolean;
  /** Bytes allocated (VMEM_ALLOC) or free (VMEM_FREE). */
  size(typemask: number): number;
  walk(typemask: number, cb: (start: number, size: number) => void): void;
  destroy(): void;
}

/** The per-kernel vmem state: vmem_init's globals, the arena list. */
export interface VmemSystem {
  /** KMF_AUDIT at boot: vmem_seg_t's carry thread, timestamp and stack. */
  readonly audit: boolean;
  /** vmem_seg_size: sizeof (vmem_seg_t), or offsetof(vs_thread) without audit. */
  readonly segSize: number;
  /**
   * vmem_create().  `afunc`/`ffunc` import from and release to `source`;
   * their kernel text addresses go into vm_source_alloc/free (functions
   * this module exports, such as segkmem_alloc, are known; others are
   * registered as kernel functions under their JS name).  Returns
   * undefined only for VM_NOSLEEP creations that fail.
   */
  create(
    name: string,
    base: number,
    size: number,
    quantum: number,
    afunc: VmemAllocFn | undefined,
    ffunc: VmemFreeFn | undefined,
    source: VmemArena | undefined,
    qcacheMax: number,
    vmflag: number,
  ): VmemArena | undefined;
  /** Arenas in vmem_list order. */
  arenas(): VmemArena[];
  byName(name: string): VmemArena | undefined;
  byAddr(addr: number): VmemArena | undefined;
  /** Install kmem's quantum caches (vmemEnableQcaches). */
  setQcacheProvider(p: QcacheProvider): void;
  /** vmem_update(): rescale the hash tables now (also runs every 15 s). */
  update(): void;
  /** The import functions, for vmem_create callers. */
  readonly vmem_alloc: VmemAllocFn;
  readonly vmem_free: VmemFreeFn;
  readonly segkmem_alloc: VmemAllocFn;
  readonly segkmem_free: VmemFreeFn;
}
