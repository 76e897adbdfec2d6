/*
 * vmem: the general-purpose resource allocator of Bonwick and Adams (2001),
 * after illumos uts/common/os/vmem.c.
 *
 * Theory
 * ------
 * An *arena* manages a set of integer ranges, its *spans*, in units of its
 * *quantum*.  Spans come from vmem_add() (an initial range such as the
 * kernel heap) or are *imported* from a *source* arena through the arena's
 * afunc (vmem_alloc for pure VA, segkmem_alloc for mapped pages); a span that
 * becomes entirely free again is released through ffunc.  Arenas stack into
 * a tree: heap -> kmem_va -> kmem_default -> (kmem caches).
 *
 * Boundary tags.  Every span and every piece of it is described by a
 * vmem_seg_t that lives in simulated memory, in the C layout of
 * sys/vmem_impl.h, so a dump carries the whole allocator and mdb's
 * ::vmem_seg reads it as it reads illumos.  Each segment is on two lists:
 *   - the *arena list* (vs_anext/vs_aprev): all segments in address order,
 *     each span preceded by its SPAN marker, anchored at vm_seg0, with the
 *     VM_NEXTFIT rotor (vm_rotor) and any vmem_walk() markers threaded in;
 *   - a *kin list* (vs_knext/vs_kprev): FREE segments on the power-of-two
 *     freelist of their size, ALLOC segments on a hash chain (singly
 *     linked), SPAN markers on the span list anchored at vm_seg0.
 * Adjacent free segments never both exist: vmem_xfree() coalesces with both
 * neighbours, and a rotor or walker sitting between two free segments is
 * moved by vmem_advance(), which coalesces behind it.
 *
 * Freelists.  vm_freelist[n] holds free segments of size [2^n, 2^(n+1)).
 * The heads are pseudo-segments (vs_start == 0, vs_end == 2^n) chained into
 * one kin list from freelist[0] to freelist[VMEM_FREELISTS]; vm_freemap has
 * bit n set iff list n is non-empty.  *Instant fit* takes the first segment
 * of the smallest list whose members are all large enough (constant time);
 * VM_BESTFIT and VM_FIRSTFIT search (vmem_xalloc), VM_NEXTFIT walks the
 * arena list from the rotor.  ALLOC segments keep vs_end = start + the
 * requested size, so a free with the wrong size is caught.
 *
 * Segment supply.  Segments come from a static pool (vmem_seg0[200]) and
 * then from the `vmem_seg` arena.  Before any operation that may need
 * segments an arena tops up its private list (vm_segfree) to VMEM_MINFREE
 * from the global list (vmem_segfree), and vmem_populate() refills the
 * global list from vmem_seg.  That allocation may itself need segments in
 * vmem_seg, vmem_metadata and heap (the VMC_POPULATOR arenas): while
 * populating they dip into a reserve of VMEM_POPULATE_RESERVE segments each,
 * which the populate then restocks.  vmem_t's come from vmem0[10] and then
 * the `vmem_vmem` arena, hash tables from `vmem_hash`.  Every pointer vmem
 * keeps is in simulated memory (globals vmem_list, vmem_segfree, ...).
 *
 * Quantum caches.  For an arena created with qcache_max > 0, sizes up to
 * qcache_max are served by kmem caches "<arena>_<n*quantum>" once kmem has
 * installed its QcacheProvider; until then vm_qcache_max stays 0 and such
 * allocations go to the segment layer.
 *
 * Locking.  The simulated kernel is single-threaded between calls, so the
 * locks of vmem.c are not taken; the places where illumos drops the arena
 * lock (imports, releases, the populate) are where re-entrancy happens here,
 * and the code keeps the same ordering of updates around them.  A VM_SLEEP
 * allocation that illumos would block forever (no memory anywhere, nothing
 * to wait for) panics instead, naming the arena.
 *
 * Addresses are numbers in the signed representation of machine/addr.ts;
 * the checks that illumos writes with unsigned arithmetic (`end - 1 <
 * minaddr`, NULL bounds) are written with explicit infinities.
 */

import type { Kernel } from '../kernel/kernel.js';
import { DirectMemory } from '../machine/memory.js';
import { hex, highbit, isPow2, mod, p2phaseup, p2roundup, TWO32 } from '../machine/addr.js';
import type { QcacheHandle, QcacheProvider, VmemAllocFn, VmemArena, VmemFreeFn, VmemSystem } from './api.js';
import { declareVmemTypes, VMEM_HASH_INITIAL, VMEM_NAMELEN, VMEM_NQCACHE_MAX, VMEM_STACK_DEPTH, VM_ABORT, VM_BESTFIT, VM_ENDALLOC, VM_FIRSTFIT, VM_KMFLAGS, VM_NEXTFIT, VM_NOSLEEP, VM_PANIC, VM_SLEEP, VMC_IDENTIFIER, VMC_NO_QCACHE, VMC_POPULATOR, VMC_XALIGN, VMEM_ALLOC, VMEM_FREE, VMEM_ROTOR, VMEM_SPAN, VMEM_WALKER } from '../abi/vmem-impl.js';
import { makeSegkmem, type Segkmem } from './segkmem.js';

/** vmem_walk flag: drop the arena "lock" (advance the walker) around callbacks. */
export const VMEM_REENTRANT = 0x80000000;

const VMEM_INITIAL = 10;
const VMEM_SEG_INITIAL = 200;
const VMEM_SEGS_PER_SPAN_CREATE = 2;
const VMEM_SEGS_PER_EXACT_ALLOC = 0;
const VMEM_SEGS_PER_LEFT_ALLOC = 1;
const VMEM_SEGS_PER_MIDDLE_ALLOC = 2;
const VMEM_SEGS_PER_ALLOC_MAX = VMEM_SEGS_PER_SPAN_CREATE + VMEM_SEGS_PER_MIDDLE_ALLOC;
const VMEM_POPULATE_RESERVE = 12;
const VMEM_MINFREE = VMEM_POPULATE_RESERVE + VMEM_SEGS_PER_ALLOC_MAX;
const VMEM_UPDATE_INTERVAL_NS = 15 * 1e9;

/** Kernel functions of vmem (name -> text size), for symbols and stacks. */
export const VMEM_FUNCTIONS = {
  vmem_getseg_global: 0x40,
  vmem_putseg_global: 0x40,
  vmem_seg_alloc: 0x1e0,
  vmem_hash_insert: 0xd0,
  vmem_hash_delete: 0x110,
  vmem_populate: 0x280,
  vmem_advance: 0x190,
  vmem_nextfit_alloc: 0x2c0,
  vmem_canalloc: 0x60,
  vmem_xalloc: 0x700,
  vmem_xfree: 0x1c0,
  vmem_alloc: 0x1d0,
  vmem_free: 0x60,
  vmem_contains: 0x90,
  vmem_add: 0xa0,
  vmem_walk: 0x170,
  vmem_size: 0x40,
  vmem_create_common: 0x3c0,
  vmem_create: 0x50,
  vmem_destroy: 0x1d0,
  vmem_hash_rescale: 0x1b0,
  vmem_update: 0x80,
  vmem_init: 0x1f0,
} as const;
type FnTable = Record<keyof typeof VMEM_FUNCTIONS, number>;

/** VMEM_QCACHE_SLABSIZE: slab size of an arena's quantum caches. */
export function vmemQcacheSlabsize(max: number): number {
  return Math.max(2 ** highbit(3 * max), 64);
}

/** highbit for sizes: fast for < 2^32. */
function hb(x: number): number {
  return x < TWO32 ? 32 - Math.clz32(x) : highbit(x);
}

function pow2(x: number): boolean {
  return x < 0x80000000 ? x > 0 && (x & (x - 1)) === 0 : isPow2(x);
}

/** 1-based index of the lowest set bit of a non-zero int32. */
function lowbit32(w: number): number {
  return 32 - Math.clz32(w & -w);
}

/* --------------------------------------------------------------- system */

/** Install kmem's quantum-cache provider on the kernel's vmem (vmemEnableQcaches). */
export function vmemEnableQcaches(k: Kernel, provider: QcacheProvider): void {
  vmemOf(k).setQcacheProvider(provider);
}

const systems = new WeakMap<Kernel, Vmem>();

/** The kernel's vmem, once vmemInit (or createKernelArenas) has run. */
export function vmemOf(k: Kernel): Vmem {
  const v = systems.get(k);
  if (!v) throw new Error('vmem is not initialised on this kernel (call createKernelArenas or vmemInit)');
  return v;
}

export interface VmemInitOptions {
  /** KMF_AUDIT at boot: segments carry thread, timestamp and stack. */
  audit?: boolean;
  /** Heap arena base and size (default: the kernel's heap layout). */
  heapBase?: number;
  heapSize?: number;
}

/**
 * vmem_init(): the static pools, the `heap` arena and vmem's own metadata
 * arenas (vmem_metadata, vmem_seg, vmem_hash, vmem_vmem).  Returns the
 * system; `sys.heap` is the heap arena.
 */
export function vmemInit(k: Kernel, opts: VmemInitOptions = {}): Vmem {
  if (systems.has(k)) throw new Error('vmem_init: already initialised');
  const v = new Vmem(k, opts.audit ?? false);
  systems.set(k, v);
  v.init(opts.heapBase ?? k.layout.heapBase, opts.heapSize ?? k.heapSize);
  return v;
}

export class Vmem implements VmemSystem {
  readonly k: Kernel;
  readonly audit: boolean;
  readonly segSize: number;
  readonly FN: FnTable;
  /* data model */
  readonly P: number;
  readonly nfreelists: number; // VMEM_FREELISTS
  /* vmem_seg_t offsets */
  readonly oStart = 0;
  readonly oEnd: number;
  readonly oKnext: number;
  readonly oKprev: number;
  readonly oAnext: number;
  readonly oAprev: number;
  readonly oType: number;
  readonly oImport: number;
  readonly oDepth: number;
  readonly oThread: number;
  readonly oTimestamp: number;
  readonly oStack: number;
  /* vmem_t offsets */
  readonly vmemSize: number;
  readonly oName: number;
  readonly oId: number;
  readonly oMtbf: number;
  readonly oCflags: number;
  readonly oQshift: number;
  readonly oQuantum: number;
  readonly oQcacheMax: number;
  readonly oMinImport: number;
  readonly oSourceAlloc: number;
  readonly oSourceFree: number;
  readonly oSource: number;
  readonly oNext: number;
  readonly oNsegfree: number;
  readonly oSegfree: number;
  readonly oHashTable: number;
  readonly oHashMask: number;
  readonly oHashShift: number;
  readonly oFreemap: number;
  readonly oSeg0: number;
  readonly oRotor: number;
  readonly oHash0: number;
  readonly oQcache: number;
  readonly oFreelist: number;
  readonly flSize: number;
  /* vm_kstat counters, offsets from the vmem_t */
  readonly kInuse: number;
  readonly kImport: number;
  readonly kTotal: number;
  readonly kSourceId: number;
  readonly kAlloc: number;
  readonly kFree: number;
  readonly kWait: number;
  readonly kFail: number;
  readonly kLookup: number;
  readonly kSearch: number;
  readonly kPopulateWait: number;
  readonly kPopulateFail: number;
  readonly kContains: number;
  readonly kContainsSearch: number;
  /* globals */
  readonly g: {
    vmem_list: number;
    vmem_segfree: number;
    vmem_seg0: number;
    vmem0: number;
    vmem_id: number;
    vmem_populators: number;
    vmem_populator: number;
    vmem_seg_size: number;
    vmem_mtbf: number;
    vmem_metadata_arena: number;
    vmem_seg_arena: number;
    vmem_hash_arena: number;
    vmem_vmem_arena: number;
  };

  private readonly byAddrMap = new Map<number, Arena>();
  private readonly importPcs = new Map<VmemAllocFn | VmemFreeFn, number>();
  readonly populators: Arena[] = [];
  populating = false;
  provider: QcacheProvider | undefined;
  heap!: Arena;
  metadataArena: Arena | undefined;
  segArena: Arena | undefined;
  hashArena: Arena | undefined;
  vmemArena: Arena | undefined;
  private nextId = 0;

  readonly vmem_alloc: VmemAllocFn;
  readonly vmem_free: VmemFreeFn;
  readonly segkmem_alloc: VmemAllocFn;
  readonly segkmem_free: VmemFreeFn;
  readonly kmem_firewall_va_alloc: VmemAllocFn;
  readonly kmem_firewall_va_free: VmemFreeFn;
  readonly segkmem: Segkmem;
  /** Direct access to the heap and data segments, where all vmem state lives. */
  dm: DirectMemory;

  constructor(k: Kernel, audit: boolean) {
    this.k = k;
    this.audit = audit;
    const T = k.types;
    declareVmemTypes(T);
    this.P = k.model.ptrSize;
    this.nfreelists = this.P * 8;
    const so = (m: string) => T.offsetof('vmem_seg_t', m);
    this.oEnd = so('vs_end');
    this.oKnext = so('vs_knext');
    this.oKprev = so('vs_kprev');
    this.oAnext = so('vs_anext');
    this.oAprev = so('vs_aprev');
    this.oType = so('vs_type');
    this.oImport = so('vs_import');
    this.oDepth = so('vs_depth');
    this.oThread = so('vs_thread');
    this.oTimestamp = so('vs_timestamp');
    this.oStack = so('vs_stack');
    if (T.offsetof('vmem_freelist_t', 'vs_knext') !== this.oKnext || T.offsetof('vmem_freelist_t', 'vs_kprev') !== this.oKprev) {
      throw new Error('vmem: vmem_freelist_t must overlay vmem_seg_t');
    }
    this.segSize = audit ? T.size('vmem_seg_t') : this.oThread;
    const vo = (m: string) => T.offsetof('vmem_t', m);
    this.vmemSize = T.size('vmem_t');
    this.oName = vo('vm_name');
    this.oId = vo('vm_id');
    this.oMtbf = vo('vm_mtbf');
    this.oCflags = vo('vm_cflags');
    this.oQshift = vo('vm_qshift');
    this.oQuantum = vo('vm_quantum');
    this.oQcacheMax = vo('vm_qcache_max');
    this.oMinImport = vo('vm_min_import');
    this.oSourceAlloc = vo('vm_source_alloc');
    this.oSourceFree = vo('vm_source_free');
    this.oSource = vo('vm_source');
    this.oNext = vo('vm_next');
    this.oNsegfree = vo('vm_nsegfree');
    this.oSegfree = vo('vm_segfree');
    this.oHashTable = vo('vm_hash_table');
    this.oHashMask = vo('vm_hash_mask');
    this.oHashShift = vo('vm_hash_shift');
    this.oFreemap = vo('vm_freemap');
    this.oSeg0 = vo('vm_seg0');
    this.oRotor = vo('vm_rotor');
    this.oHash0 = vo('vm_hash0');
    this.oQcache = vo('vm_qcache');
    this.oFreelist = vo('vm_freelist');
    this.flSize = T.size('vmem_freelist_t');
    const ko = (m: string) => vo('vm_kstat.' + m);
    this.kInuse = ko('vk_mem_inuse');
    this.kImport = ko('vk_mem_import');
    this.kTotal = ko('vk_mem_total');
    this.kSourceId = ko('vk_source_id');
    this.kAlloc = ko('vk_alloc');
    this.kFree = ko('vk_free');
    this.kWait = ko('vk_wait');
    this.kFail = ko('vk_fail');
    this.kLookup = ko('vk_lookup');
    this.kSearch = ko('vk_search');
    this.kPopulateWait = ko('vk_populate_wait');
    this.kPopulateFail = ko('vk_populate_fail');
    this.kContains = ko('vk_contains');
    this.kContainsSearch = ko('vk_contains_search');

    this.FN = { ...k.fns(VMEM_FUNCTIONS) }; // a fast-property copy (fns builds it key by key)
    this.g = {
      vmem_list: k.global('vmem_list', 'vmem_t *'),
      vmem_segfree: k.global('vmem_segfree', 'vmem_seg_t *'),
      vmem_seg0: k.global('vmem_seg0', `vmem_seg_t [${VMEM_SEG_INITIAL}]`),
      vmem0: k.global('vmem0', `vmem_t [${VMEM_INITIAL}]`),
      vmem_id: k.global('vmem_id', 'uint32_t'),
      vmem_populators: k.global('vmem_populators', 'uint32_t'),
      vmem_populator: k.global('vmem_populator', `vmem_t * [${VMEM_INITIAL}]`),
      vmem_seg_size: k.global('vmem_seg_size', 'size_t'),
      vmem_mtbf: k.global('vmem_mtbf', 'uint32_t'),
      vmem_metadata_arena: k.global('vmem_metadata_arena', 'vmem_t *'),
      vmem_seg_arena: k.global('vmem_seg_arena', 'vmem_t *'),
      vmem_hash_arena: k.global('vmem_hash_arena', 'vmem_t *'),
      vmem_vmem_arena: k.global('vmem_vmem_arena', 'vmem_t *'),
    };
    this.dm = new DirectMemory(k.mem, k.layout.heapBase, k.layout.dataBase);
    // a flat memory that grows replaces its views: take the new ones
    k.mem.remapHooks.push(() => {
      this.dm = new DirectMemory(k.mem, k.layout.heapBase, k.layout.dataBase);
    });
    this.dm.storePtr(this.g.vmem_seg_size, this.segSize);

    this.vmem_alloc = (src, size, fl) => src.alloc(size, fl);
    this.vmem_free = (src, a, size) => src.free(a, size);
    this.segkmem = makeSegkmem(k);
    this.segkmem_alloc = this.segkmem.segkmem_alloc;
    this.segkmem_free = this.segkmem.segkmem_free;
    this.kmem_firewall_va_alloc = this.segkmem.kmem_firewall_va_alloc;
    this.kmem_firewall_va_free = this.segkmem.kmem_firewall_va_free;
    this.importPcs.set(this.vmem_alloc, this.FN.vmem_alloc);
    this.importPcs.set(this.vmem_free, this.FN.vmem_free);
    this.importPcs.set(this.segkmem_alloc, k.addr('segkmem_alloc'));
    this.importPcs.set(this.segkmem_free, k.addr('segkmem_free'));
    this.importPcs.set(this.kmem_firewall_va_alloc, k.addr('kmem_firewall_va_alloc'));
    this.importPcs.set(this.kmem_firewall_va_free, k.addr('kmem_firewall_va_free'));
  }

  /** vmem_init proper (see vmemInit). */
  init(heapBase: number, heapSize: number): void {
    const k = this.k;
    k.enter(this.FN.vmem_init + 0x4a);
    for (let n = VMEM_SEG_INITIAL - 1; n >= 0; n--) this.putsegGlobal(this.g.vmem_seg0 + n * this.k.types.size('vmem_seg_t'));
    const q = k.pageSize;
    this.heap = this.create('heap', heapBase, heapSize, q, undefined, undefined, undefined, 0, VM_SLEEP | VMC_POPULATOR) as Arena;
    const md = this.create('vmem_metadata', 0, 0, q, this.vmem_alloc, this.vmem_free, this.heap, 8 * q, VM_SLEEP | VMC_POPULATOR | VMC_NO_QCACHE) as Arena;
    this.metadataArena = md;
    this.segArena = this.create('vmem_seg', 0, 0, q, this.segkmem_alloc, this.segkmem_free, md, 0, VM_SLEEP | VMC_POPULATOR) as Arena;
    this.hashArena = this.create('vmem_hash', 0, 0, 8, this.segkmem_alloc, this.segkmem_free, md, 0, VM_SLEEP) as Arena;
    const vv = this.create('vmem_vmem', this.g.vmem0, VMEM_INITIAL * this.vmemSize, 1, this.segkmem_alloc, this.segkmem_free, md, 0, VM_SLEEP) as Arena;
    this.vmemArena = vv;
    const mem = this.dm;
    mem.storePtr(this.g.vmem_metadata_arena, md.addr);
    mem.storePtr(this.g.vmem_seg_arena, this.segArena.addr);
    mem.storePtr(this.g.vmem_hash_arena, this.hashArena.addr);
    mem.storePtr(this.g.vmem_vmem_arena, vv.addr);
    // Mark the static vmem_t's already in use as allocated from vmem_vmem.
    for (let id = 0; id < this.nextId; id++) {
      const a = this.g.vmem0 + id * this.vmemSize;
      vv.xalloc(this.vmemSize, 1, 0, 0, a, a + this.vmemSize, VM_NOSLEEP | VM_BESTFIT | VM_PANIC);
    }
    k.leave();
    k.calloutFunc(this.FN.vmem_update, () => {
      this.update();
      this.scheduleUpdate();
    });
    this.scheduleUpdate();
  }

  /** vmem_update reschedules itself every vmem_update_interval. */
  private scheduleUpdate(): void {
    this.k.timeout(this.k.threads[0]!, VMEM_UPDATE_INTERVAL_NS, this.FN.vmem_update);
  }

  /* ------------------------------------------------------ global seg list */

  getsegGlobal(): number {
    const mem = this.dm;
    const vsp = mem.loadPtr(this.g.vmem_segfree);
    if (vsp !== 0) mem.storePtr(this.g.vmem_segfree, mem.loadPtr(vsp + this.oKnext));
    return vsp;
  }

  putsegGlobal(vsp: number): void {
    const mem = this.dm;
    mem.storePtr(vsp + this.oKnext, mem.loadPtr(this.g.vmem_segfree));
    mem.storePtr(this.g.vmem_segfree, vsp);
  }

  /** Kernel text address of an import function (registering it if new). */
  importPc(fn: VmemAllocFn | VmemFreeFn | undefined): number {
    if (!fn) return 0;
    let pc = this.importPcs.get(fn);
    if (pc === undefined) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(fn.name) ? fn.name : 'vmem_import_func';
      pc = this.k.fn(name, 0x80);
      this.importPcs.set(fn, pc);
    }
    return pc;
  }

  /* ------------------------------------------------------------- arenas */

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
  ): Arena | undefined {
    const k = this.k;
    const mem = this.dm;
    k.enter(this.FN.vmem_create + 0x3b);
    k.enter(this.FN.vmem_create_common + 0x6c);
    try {
      if (!pow2(quantum)) throw new RangeError(`vmem_create('${name}'): quantum ${quantum} is not a power of 2`);
      const src = source === undefined ? undefined : this.arenaOf(source);
      const id = ++this.nextId;
      mem.store32(this.g.vmem_id, id);
      let vmp: number;
      if (this.vmemArena !== undefined) {
        vmp = this.vmemArena.alloc(this.vmemSize, vmflag & VM_KMFLAGS);
      } else {
        if (id > VMEM_INITIAL) throw new Error('vmem_create: out of bootstrap vmem_t structures');
        vmp = this.g.vmem0 + (id - 1) * this.vmemSize;
      }
      if (vmp === 0) return undefined;
      mem.fill8(vmp, this.vmemSize, 0);
      k.writeString(vmp + this.oName, name, VMEM_NAMELEN);
      mem.store32(vmp + this.oCflags, vmflag >>> 0);
      const qshift = highbit(quantum) - 1;
      mem.storePtr(vmp + this.oQuantum, quantum);
      mem.store32(vmp + this.oQshift, qshift);
      let nqcache = Math.min(Math.floor(qcacheMax / quantum), VMEM_NQCACHE_MAX);

      const fl = vmp + this.oFreelist;
      const nfl = this.nfreelists;
      for (let i = 0; i <= nfl; i++) {
        const vfp = fl + i * this.flSize;
        const end = i === nfl ? 0 : i === 63 ? -(2 ** 63) : 2 ** i;
        mem.storePtr(vfp + this.oEnd, end);
        mem.storePtr(vfp + this.oKnext, i === nfl ? 0 : vfp + this.flSize);
        mem.storePtr(vfp + this.oKprev, i === 0 ? 0 : vfp - this.flSize);
      }
      mem.storePtr(vmp + this.oHashTable, vmp + this.oHash0);
      mem.storePtr(vmp + this.oHashMask, VMEM_HASH_INITIAL - 1);
      mem.storePtr(vmp + this.oHashShift, highbit(VMEM_HASH_INITIAL - 1));

      const seg0 = vmp + this.oSeg0;
      mem.storePtr(seg0 + this.oAnext, seg0);
      mem.storePtr(seg0 + this.oAprev, seg0);
      mem.storePtr(seg0 + this.oKnext, seg0);
      mem.storePtr(seg0 + this.oKprev, seg0);
      mem.store8(seg0 + this.oType, VMEM_SPAN);
      const rotor = vmp + this.oRotor;
      mem.store8(rotor + this.oType, VMEM_ROTOR);
      mem.storePtr(rotor + this.oAnext, seg0);
      mem.storePtr(rotor + this.oAprev, seg0);
      mem.storePtr(seg0 + this.oAnext, rotor);
      mem.storePtr(seg0 + this.oAprev, rotor);

      mem.store32(vmp + this.oId, id);
      if (src) mem.store64n(vmp + this.kSourceId, src.id);
      mem.storePtr(vmp + this.oSource, src ? src.addr : 0);
      mem.storePtr(vmp + this.oSourceAlloc, this.importPc(afunc));
      mem.storePtr(vmp + this.oSourceFree, this.importPc(ffunc));

      let minImport = 0;
      if (vmflag & VMC_NO_QCACHE) {
        minImport = vmemQcacheSlabsize(nqcache * quantum);
        nqcache = 0;
        mem.storePtr(vmp + this.oMinImport, minImport);
      }
      const arena = new Arena(this, vmp, name, id, quantum, qshift, src, afunc, ffunc, vmflag, minImport, nqcache * quantum);
      this.byAddrMap.set(vmp, arena);
      if (nqcache !== 0 && this.provider) arena.createQcaches(this.provider);

      // Append to vmem_list.
      let pp = this.g.vmem_list;
      for (let cur = mem.loadPtr(pp); cur !== 0; cur = mem.loadPtr(pp)) pp = cur + this.oNext;
      mem.storePtr(pp, vmp);

      if (vmflag & VMC_POPULATOR) {
        if (this.populators.length >= VMEM_INITIAL) throw new Error('vmem_create: too many populators');
        mem.storePtr(this.g.vmem_populator + this.populators.length * this.P, vmp);
        this.populators.push(arena);
        mem.store32(this.g.vmem_populators, this.populators.length);
        arena.populate((vmflag & VM_KMFLAGS) | VM_PANIC);
      }
      if ((base !== 0 || size !== 0) && arena.add(base, size, vmflag & VM_KMFLAGS) === 0) {
        arena.destroy();
        return undefined;
      }
      return arena;
    } finally {
      k.leave();
      k.leave();
    }
  }

  private arenaOf(a: VmemArena): Arena {
    const r = this.byAddrMap.get(a.addr);
    if (!r) throw new Error(`vmem: ${a.name} is not an arena of this kernel`);
    return r;
  }

  /** Forget a destroyed arena (called by Arena.destroy). */
  unlink(a: Arena): void {
    this.byAddrMap.delete(a.addr);
  }

  arenas(): Arena[] {
    const mem = this.dm;
    const out: Arena[] = [];
    for (let vmp = mem.loadPtr(this.g.vmem_list); vmp !== 0; vmp = mem.loadPtr(vmp + this.oNext)) {
      const a = this.byAddrMap.get(vmp);
      if (a) out.push(a);
    }
    return out;
  }

  byName(name: string): Arena | undefined {
    for (const a of this.byAddrMap.values()) if (a.name === name) return a;
    return undefined;
  }

  byAddr(addr: number): Arena | undefined {
    return this.byAddrMap.get(addr);
  }

  setQcacheProvider(p: QcacheProvider): void {
    this.provider = p;
    for (const a of this.arenas()) if (a.pendingQcacheMax > 0 && a.qcacheMax === 0) a.createQcaches(p);
  }

  /** vmem_update(): periodic maintenance (hash rescaling). */
  update(): void {
    const k = this.k;
    k.enter(this.FN.vmem_update + 0x3c);
    for (const a of this.arenas()) a.hashRescale();
    k.leave();
  }

  /** kmem_reap() / kmem_reap_idspace(), if kmem provides it. */
  reap(identifier: boolean): void {
    this.provider?.reap?.(identifier);
  }
}

/* ---------------------------------------------------------------- arena */

export class Arena implements VmemArena {
  readonly sys: Vmem;
  readonly k: Kernel;
  readonly addr: number;
  readonly name: string;
  readonly id: number;
  readonly quantum: number;
  readonly qshift: number;
  readonly source: Arena | undefined;
  readonly afunc: VmemAllocFn | undefined;
  readonly ffunc: VmemFreeFn | undefined;
  readonly cflags: number;
  readonly minImport: number;
  /** qcache_max requested at creation (caches exist once kmem is ready). */
  readonly pendingQcacheMax: number;
  /** Effective vm_qcache_max (0 until the quantum caches exist). */
  qcacheMax = 0;
  qcaches: QcacheHandle[] = [];
  /** Live segment-layer allocations of qcache sizes made before the caches existed. */
  earlyLive = 0;
  /** Mirror of vm_nsegfree (kept in memory too). */
  nsegfree = 0;
  mtbf = 0;
  /* hash parameters, mirrored from memory */
  private hTable: number;
  private hMask: number;
  private hShift: number;
  private hDiv1: number;
  private hDiv2: number;
  private readonly qDiv: number;
  private destroyed = false;

  constructor(
    sys: Vmem,
    addr: number,
    name: string,
    id: number,
    quantum: number,
    qshift: number,
    source: Arena | undefined,
    afunc: VmemAllocFn | undefined,
    ffunc: VmemFreeFn | undefined,
    cflags: number,
    minImport: number,
    pendingQcacheMax: number,
  ) {
    this.sys = sys;
    this.k = sys.k;
    this.addr = addr;
    this.name = name;
    this.id = id;
    this.quantum = quantum;
    this.qshift = qshift;
    this.source = source;
    this.afunc = afunc;
    this.ffunc = ffunc;
    this.cflags = cflags;
    this.minImport = minImport;
    this.pendingQcacheMax = pendingQcacheMax;
    this.qDiv = 2 ** qshift;
    this.hTable = addr + sys.oHash0;
    this.hMask = VMEM_HASH_INITIAL - 1;
    this.hShift = highbit(this.hMask);
    this.hDiv1 = 2 ** this.hShift;
    this.hDiv2 = 2 ** (2 * this.hShift);
  }

  /* ------------------------------------------------------------ helpers */

  private panic(msg: string): never {
    return this.k.panic(msg);
  }

  private xargs(size: number, align: number, phase: number, nocross: number, minaddr: number, maxaddr: number, vmflag: number): string {
    return `vmem_xalloc(${hex(this.addr)}, ${size}, ${align}, ${phase}, ${nocross}, ${hex(minaddr)}, ${hex(maxaddr)}, ${(vmflag >>> 0).toString(16)})`;
  }

  /** Add delta to a uint64 kstat counter at vmem_t + off. */
  private kadd(off: number, delta: number): void {
    const mem = this.sys.dm;
    const a = this.addr + off;
    let lo = mem.load32(a) + delta;
    let hi = mem.load32(a + 4);
    if (lo >= TWO32 || lo < 0) {
      const c = Math.floor(lo / TWO32);
      lo -= c * TWO32;
      hi = (hi + c) >>> 0;
      mem.store32(a + 4, hi);
    }
    mem.store32(a, lo);
  }

  /** Read a uint64 kstat counter. */
  kstat(off: number): number {
    return this.sys.dm.load64n(this.addr + off);
  }

  private setNsegfree(n: number): void {
    this.nsegfree = n;
    this.sys.dm.storePtr(this.addr + this.sys.oNsegfree, n);
  }

  private getseg(): number {
    const s = this.sys;
    const mem = this.sys.dm;
    const vsp = mem.loadPtr(this.addr + s.oSegfree);
    if (vsp === 0 || this.nsegfree <= 0) this.panic(`vmem_getseg(${hex(this.addr)}): arena '${this.name}' has no free segments`);
    mem.storePtr(this.addr + s.oSegfree, mem.loadPtr(vsp + s.oKnext));
    this.setNsegfree(this.nsegfree - 1);
    return vsp;
  }

  putseg(vsp: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    mem.storePtr(vsp + s.oKnext, mem.loadPtr(this.addr + s.oSegfree));
    mem.storePtr(this.addr + s.oSegfree, vsp);
    this.setNsegfree(this.nsegfree + 1);
  }

  /** lowbit(P2ALIGN(vm_freemap, 1 << n)): 1-based freelist index, or 0. */
  private flistFrom(n: number): number {
    const mem = this.sys.dm;
    const fm = this.addr + this.sys.oFreemap;
    if (n < 32) {
      const w = (mem.load32(fm) >>> n) << n;
      if (w !== 0) return lowbit32(w);
    }
    if (this.sys.P === 8 && n < 64) {
      const n2 = n < 32 ? 0 : n - 32;
      const w = (mem.load32(fm + 4) >>> n2) << n2;
      if (w !== 0) return 32 + lowbit32(w);
    }
    return 0;
  }

  private freemapSet(n: number): void {
    const mem = this.sys.dm;
    const w = this.addr + this.sys.oFreemap + (n < 32 ? 0 : 4);
    mem.store32(w, (mem.load32(w) | (1 << (n & 31))) >>> 0);
  }

  private freemapClear(n: number): void {
    const mem = this.sys.dm;
    const w = this.addr + this.sys.oFreemap + (n < 32 ? 0 : 4);
    mem.store32(w, (mem.load32(w) & ~(1 << (n & 31))) >>> 0);
  }

  private freelistHead(n: number): number {
    return this.addr + this.sys.oFreelist + n * this.sys.flSize;
  }

  /** vmem_freelist_insert */
  private freelistInsert(vsp: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const size = mem.loadPtr(vsp + s.oEnd) - mem.loadPtr(vsp);
    const n = hb(size) - 1;
    const vprev = this.freelistHead(n);
    mem.store8(vsp + s.oType, VMEM_FREE);
    this.freemapSet(n);
    const vnext = mem.loadPtr(vprev + s.oKnext);
    mem.storePtr(vsp + s.oKnext, vnext);
    mem.storePtr(vsp + s.oKprev, vprev);
    mem.storePtr(vprev + s.oKnext, vsp);
    mem.storePtr(vnext + s.oKprev, vsp);
  }

  /** vmem_freelist_delete */
  private freelistDelete(vsp: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const vnext = mem.loadPtr(vsp + s.oKnext);
    const vprev = mem.loadPtr(vsp + s.oKprev);
    if (mem.loadPtr(vnext) === 0 && mem.loadPtr(vprev) === 0) {
      // Both neighbours are freelist heads: the list at vprev becomes empty.
      this.freemapClear((vprev - this.addr - s.oFreelist) / s.flSize);
    }
    mem.storePtr(vprev + s.oKnext, vnext);
    mem.storePtr(vnext + s.oKprev, vprev);
  }

  /** VMEM_HASH: address of the bucket for addr. */
  private hashBucket(addr: number): number {
    const t = addr + Math.floor(addr / this.hDiv1) + Math.floor(addr / this.hDiv2);
    const f = Math.floor(t / this.qDiv);
    // f mod the (power-of-two) table size, without % (fmod on a negative double)
    const m = this.hMask + 1;
    return this.hTable + (f - Math.floor(f / m) * m) * this.sys.P;
  }

  /** vmem_hash_insert */
  private hashInsert(vsp: number, fromSegAlloc: boolean): void {
    const s = this.sys;
    const mem = this.sys.dm;
    mem.store8(vsp + s.oType, VMEM_ALLOC);
    const start = mem.loadPtr(vsp);
    const bucket = this.hashBucket(start);
    mem.storePtr(vsp + s.oKnext, mem.loadPtr(bucket));
    mem.storePtr(bucket, vsp);
    if (s.audit) this.auditSeg(vsp, fromSegAlloc);
    else mem.store8(vsp + s.oDepth, 0);
    this.kadd(s.kAlloc, 1);
    this.kadd(s.kInuse, mem.loadPtr(vsp + s.oEnd) - start);
  }

  /** KMF_AUDIT: record thread, time and stack in the segment. */
  private auditSeg(vsp: number, fromSegAlloc: boolean): void {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    const P = s.P;
    mem.storePtr(vsp + s.oThread, k.cur.addr);
    mem.store64n(vsp + s.oTimestamp, k.gethrtime());
    const st = vsp + s.oStack;
    let n = 0;
    mem.storePtr(st, s.FN.vmem_hash_insert + 0x8c);
    n++;
    if (fromSegAlloc) {
      mem.storePtr(st + P, s.FN.vmem_seg_alloc + 0xb4);
      n++;
    }
    n += k.capturePcs(st + n * P, VMEM_STACK_DEPTH - n);
    mem.store8(vsp + s.oDepth, n);
  }

  /** vmem_hash_delete */
  private hashDelete(addr: number, size: number): number {
    const s = this.sys;
    const mem = this.sys.dm;
    let prev = this.hashBucket(addr);
    let vsp: number;
    while ((vsp = mem.loadPtr(prev)) !== 0) {
      if (mem.loadPtr(vsp) === addr) {
        mem.storePtr(prev, mem.loadPtr(vsp + s.oKnext));
        break;
      }
      this.kadd(s.kLookup, 1);
      prev = vsp + s.oKnext;
    }
    if (vsp === 0) {
      this.k.enter(s.FN.vmem_hash_delete + 0x7e);
      this.panic(`vmem_hash_delete(${hex(this.addr)}, ${hex(addr)}, ${size}): bad free`);
    }
    const vsize = mem.loadPtr(vsp + s.oEnd) - addr;
    if (vsize !== size) {
      this.k.enter(s.FN.vmem_hash_delete + 0xa9);
      this.panic(`vmem_hash_delete(${hex(this.addr)}, ${hex(addr)}, ${size}): wrong size (expect ${vsize})`);
    }
    this.kadd(s.kFree, 1);
    this.kadd(s.kInuse, -size);
    return vsp;
  }

  /** vmem_seg_create: a new segment [start, end) after vprev in the arena list. */
  private segCreate(vprev: number, start: number, end: number): number {
    const s = this.sys;
    const mem = this.sys.dm;
    const vsp = this.getseg();
    mem.storePtr(vsp, start);
    mem.storePtr(vsp + s.oEnd, end);
    mem.store8(vsp + s.oType, 0);
    mem.store8(vsp + s.oImport, 0);
    const vnext = mem.loadPtr(vprev + s.oAnext);
    mem.storePtr(vsp + s.oAnext, vnext);
    mem.storePtr(vsp + s.oAprev, vprev);
    mem.storePtr(vprev + s.oAnext, vsp);
    mem.storePtr(vnext + s.oAprev, vsp);
    return vsp;
  }

  /** vmem_seg_destroy */
  private segDestroy(vsp: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const vprev = mem.loadPtr(vsp + s.oAprev);
    const vnext = mem.loadPtr(vsp + s.oAnext);
    mem.storePtr(vprev + s.oAnext, vnext);
    mem.storePtr(vnext + s.oAprev, vprev);
    this.putseg(vsp);
  }

  /** vmem_span_create: returns the span's free segment. */
  private spanCreate(vaddr: number, size: number, imported: boolean): number {
    const s = this.sys;
    const mem = this.sys.dm;
    const start = vaddr;
    const end = start + size;
    if (mod(start, this.quantum) !== 0 || mod(end, this.quantum) !== 0) {
      this.panic(`vmem_span_create(${hex(this.addr)}, ${hex(vaddr)}, ${size}): misaligned`);
    }
    const seg0 = this.addr + s.oSeg0;
    const span = this.segCreate(mem.loadPtr(seg0 + s.oAprev), start, end);
    mem.store8(span + s.oType, VMEM_SPAN);
    mem.store8(span + s.oImport, imported ? 1 : 0);
    const kprev = mem.loadPtr(seg0 + s.oKprev);
    mem.storePtr(span + s.oKnext, seg0);
    mem.storePtr(span + s.oKprev, kprev);
    mem.storePtr(kprev + s.oKnext, span);
    mem.storePtr(seg0 + s.oKprev, span);
    const newseg = this.segCreate(span, start, end);
    this.freelistInsert(newseg);
    if (imported) this.kadd(s.kImport, size);
    this.kadd(s.kTotal, size);
    return newseg;
  }

  /** vmem_span_destroy: vsp is the span's only (free) segment. */
  private spanDestroy(vsp: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const span = mem.loadPtr(vsp + s.oAprev);
    const size = mem.loadPtr(vsp + s.oEnd) - mem.loadPtr(vsp);
    if (mem.load8(span + s.oImport) !== 0) this.kadd(s.kImport, -size);
    this.kadd(s.kTotal, -size);
    const kprev = mem.loadPtr(span + s.oKprev);
    const knext = mem.loadPtr(span + s.oKnext);
    mem.storePtr(kprev + s.oKnext, knext);
    mem.storePtr(knext + s.oKprev, kprev);
    this.segDestroy(vsp);
    this.segDestroy(span);
  }

  /** vmem_seg_alloc: carve [addr, addr + size) out of free segment vsp. */
  private segAlloc(vsp: number, addr: number, size: number): number {
    const s = this.sys;
    const mem = this.sys.dm;
    const vsStart = mem.loadPtr(vsp);
    const vsEnd = mem.loadPtr(vsp + s.oEnd);
    const vsSize = vsEnd - vsStart;
    const q = this.quantum;
    const realsize = size % q === 0 ? size : p2roundup(size, q);
    const addrEnd = addr + realsize;
    // Allocating from the start, with the remainder on the same freelist:
    // just shrink the free segment.
    if (addr === vsStart && hb(vsSize) === hb(vsSize - realsize)) {
      mem.storePtr(vsp, addrEnd);
      const nv = this.segCreate(mem.loadPtr(vsp + s.oAprev), addr, addr + size);
      this.hashInsert(nv, true);
      return nv;
    }
    this.freelistDelete(vsp);
    if (vsEnd !== addrEnd) this.freelistInsert(this.segCreate(vsp, addrEnd, vsEnd));
    if (vsStart !== addr) this.freelistInsert(this.segCreate(mem.loadPtr(vsp + s.oAprev), vsStart, addr));
    mem.storePtr(vsp, addr);
    mem.storePtr(vsp + s.oEnd, addr + size);
    this.hashInsert(vsp, true);
    return vsp;
  }

  /** vmem_populate: make sure the arena has VMEM_MINFREE segments. */
  populate(vmflag: number): boolean {
    const s = this.sys;
    while (this.nsegfree < VMEM_MINFREE) {
      const vsp = s.getsegGlobal();
      if (vsp === 0) break;
      this.putseg(vsp);
    }
    if (this.nsegfree >= VMEM_MINFREE) return true;
    // Already populating: tap the reserve.
    if (s.populating) return true;
    const segArena = s.segArena;
    if (segArena === undefined) {
      this.kadd(s.kPopulateFail, 1);
      return false;
    }
    const k = this.k;
    k.enter(s.FN.vmem_populate + 0x13e);
    s.populating = true;
    let nseg = VMEM_MINFREE + s.populators.length * VMEM_POPULATE_RESERVE;
    const size = p2roundup(nseg * s.segSize, segArena.quantum);
    nseg = Math.floor(size / s.segSize);
    const p = segArena.alloc(size, vmflag & VM_KMFLAGS);
    s.populating = false;
    if (p === 0) {
      k.leave();
      this.kadd(s.kPopulateFail, 1);
      return false;
    }
    for (const pa of s.populators) {
      while (pa.nsegfree < VMEM_POPULATE_RESERVE) pa.putseg(p + --nseg * s.segSize);
    }
    while (this.nsegfree < VMEM_MINFREE) this.putseg(p + --nseg * s.segSize);
    while (nseg > 0) s.putsegGlobal(p + --nseg * s.segSize);
    k.leave();
    return true;
  }

  /** vmem_advance: move a walker (rotor or walk marker) after `afterme`. */
  private advance(walker: number, afterme: number): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const vprev = mem.loadPtr(walker + s.oAprev);
    const vnext = mem.loadPtr(walker + s.oAnext);
    mem.storePtr(vprev + s.oAnext, vnext);
    mem.storePtr(vnext + s.oAprev, vprev);
    if (afterme !== 0) {
      const an = mem.loadPtr(afterme + s.oAnext);
      mem.storePtr(walker + s.oAnext, an);
      mem.storePtr(walker + s.oAprev, afterme);
      mem.storePtr(afterme + s.oAnext, walker);
      mem.storePtr(an + s.oAprev, walker);
    }
    let vsp = 0;
    if (mem.load8(vprev + s.oType) === VMEM_FREE) {
      if (mem.load8(vnext + s.oType) === VMEM_FREE) {
        this.freelistDelete(vnext);
        this.freelistDelete(vprev);
        mem.storePtr(vprev + s.oEnd, mem.loadPtr(vnext + s.oEnd));
        this.freelistInsert(vprev);
        this.segDestroy(vnext);
      }
      vsp = vprev;
    } else if (mem.load8(vnext + s.oType) === VMEM_FREE) {
      vsp = vnext;
    }
    if (vsp !== 0 && this.ffunc !== undefined && this.wholeImportedSpan(vsp)) {
      const vaddr = mem.loadPtr(vsp);
      const size = mem.loadPtr(vsp + s.oEnd) - vaddr;
      this.freelistDelete(vsp);
      this.spanDestroy(vsp);
      this.ffunc(this.source!, vaddr, size);
    }
  }

  /** Is free segment vsp a complete imported span? */
  private wholeImportedSpan(vsp: number): boolean {
    const s = this.sys;
    const mem = this.sys.dm;
    const prev = mem.loadPtr(vsp + s.oAprev);
    return (
      mem.load8(prev + s.oImport) !== 0 &&
      mem.load8(prev + s.oType) === VMEM_SPAN &&
      mem.load8(mem.loadPtr(vsp + s.oAnext) + s.oType) === VMEM_SPAN
    );
  }

  /** vmem_nextfit_alloc */
  private nextfitAlloc(size: number, vmflag: number): number {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    const q = this.quantum;
    const realsize = p2roundup(size, q);
    k.enter(s.FN.vmem_nextfit_alloc + 0x1c7);
    if (this.nsegfree < VMEM_MINFREE && !this.populate(vmflag)) {
      k.leave();
      return 0;
    }
    const rotor = this.addr + s.oRotor;
    let vsp = mem.loadPtr(rotor + s.oAnext);
    if (mem.load8(vsp + s.oType) === VMEM_FREE) {
      const vsSize = mem.loadPtr(vsp + s.oEnd) - mem.loadPtr(vsp);
      if (vsSize > realsize && hb(vsSize) === hb(vsSize - realsize)) {
        // Common case: take the front of the segment after the rotor and
        // put the new segment behind the rotor.
        const addr = mem.loadPtr(vsp);
        mem.storePtr(vsp, addr + realsize);
        this.hashInsert(this.segCreate(mem.loadPtr(rotor + s.oAprev), addr, addr + size), false);
        k.leave();
        return addr;
      }
    }
    for (;;) {
      this.kadd(s.kSearch, 1);
      if (mem.load8(vsp + s.oType) === VMEM_FREE && mem.loadPtr(vsp + s.oEnd) - mem.loadPtr(vsp) >= size) break;
      vsp = mem.loadPtr(vsp + s.oAnext);
      if (vsp === rotor) {
        // Full circle: the rotor may be what keeps two free segments apart.
        this.advance(rotor, mem.loadPtr(rotor + s.oAnext));
        vsp = mem.loadPtr(rotor + s.oAprev);
        if (mem.load8(vsp + s.oType) === VMEM_FREE && mem.loadPtr(vsp + s.oEnd) - mem.loadPtr(vsp) >= size) break;
        k.leave();
        if (this.afunc !== undefined || (vmflag & VM_NOSLEEP) !== 0) {
          return this.xalloc(size, q, 0, 0, 0, 0, vmflag & VM_KMFLAGS);
        }
        this.kadd(s.kWait, 1);
        return this.sleepForever(size, q, 0, 0, 0, 0, vmflag);
      }
    }
    const addr = mem.loadPtr(vsp);
    vsp = this.segAlloc(vsp, addr, size);
    this.advance(rotor, vsp);
    k.leave();
    return addr;
  }

  /** vmem_canalloc: is a size-byte segment guaranteed to be on a freelist? */
  private canalloc(size: number): boolean {
    if (pow2(size)) return this.flistFrom(hb(size) - 1) !== 0;
    const h = hb(size);
    return h < this.sys.nfreelists && this.flistFrom(h) !== 0;
  }

  /** A VM_SLEEP allocation that illumos would block on forever. */
  private sleepForever(size: number, align: number, phase: number, nocross: number, minaddr: number, maxaddr: number, vmflag: number): never {
    return this.panic(
      `${this.xargs(size, align, phase, nocross, minaddr, maxaddr, vmflag)}: arena '${this.name}' exhausted; ` +
        'VM_SLEEP allocation would wait forever',
    );
  }

  /* ---------------------------------------------------------- interface */

  xalloc(size: number, alignArg: number, phase: number, nocross: number, minaddr: number, maxaddr: number, vmflag: number): number {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    const q = this.quantum;
    const align = alignArg !== 0 ? alignArg : q;
    k.enter(s.FN.vmem_xalloc + 0x1f6);
    if (mod(align, q) !== 0 || mod(phase, q) !== 0 || mod(nocross, q) !== 0) {
      this.panic(`${this.xargs(size, alignArg, phase, nocross, minaddr, maxaddr, vmflag)}: parameters not vm_quantum aligned`);
    }
    if (nocross !== 0 && (align > nocross || p2roundup(phase + size, align) > nocross)) {
      this.panic(`${this.xargs(size, alignArg, phase, nocross, minaddr, maxaddr, vmflag)}: overconstrained allocation`);
    }
    if (phase >= align || !pow2(align) || (nocross !== 0 && !pow2(nocross))) {
      this.panic(`${this.xargs(size, alignArg, phase, nocross, minaddr, maxaddr, vmflag)}: parameters inconsistent or invalid`);
    }
    if (this.mtbfFail(vmflag)) {
      k.leave();
      return 0;
    }
    const lo = minaddr === 0 ? -Infinity : minaddr;
    const hi = maxaddr === 0 ? Infinity : maxaddr;
    const nfl = s.nfreelists;
    let vbest = 0;
    let addr = 0;
    let xvaddr = 0;
    let xsize = 0;
    let skipPopulate = false;
    let reaped = false;
    for (;;) {
      if (!skipPopulate && this.nsegfree < VMEM_MINFREE && !this.populate(vmflag)) break;
      skipPopulate = false;
      let flist: number;
      if (size === 0) {
        flist = 0;
      } else if (pow2(size)) {
        flist = this.flistFrom(hb(size) - 1);
      } else {
        let h = hb(size);
        if (h >= nfl || this.flistFrom(h) === 0 || (vmflag & (VM_BESTFIT | VM_FIRSTFIT)) !== 0) h--;
        flist = this.flistFrom(h);
      }
      vbest = 0;
      let bestSize = 0;
      let vsp = flist === 0 ? 0 : mem.loadPtr(this.freelistHead(flist - 1) + s.oKnext);
      let searches = 0;
      for (; vsp !== 0; vsp = mem.loadPtr(vsp + s.oKnext)) {
        searches++;
        const vsStart = mem.loadPtr(vsp);
        if (vsStart === 0) {
          // A freelist head: moving up to a larger list cannot improve a fit.
          if (vbest !== 0) break;
          const n = (vsp - this.addr - s.oFreelist) / s.flSize;
          flist = n < nfl ? this.flistFrom(n) : 0;
          if (flist-- === 0) break;
          vsp = this.freelistHead(flist);
          continue;
        }
        const vsEnd = mem.loadPtr(vsp + s.oEnd);
        if (vsEnd - 1 < lo) continue;
        if (vsStart > hi - 1) continue;
        const start = vsStart > lo ? vsStart : lo;
        const end = vsEnd < hi ? vsEnd : hi;
        let taddr = p2phaseup(start, align, phase);
        if (nocross !== 0 && Math.floor(taddr / nocross) !== Math.floor((taddr + size - 1) / nocross)) {
          taddr += p2roundup(mod(-taddr, nocross), align);
        }
        const vsSize = vsEnd - vsStart;
        if (taddr - start + size > end - start || (vbest !== 0 && vsSize >= bestSize)) continue;
        vbest = vsp;
        bestSize = vsSize;
        addr = taddr;
        if ((vmflag & VM_BESTFIT) === 0 || vsSize === size) break;
      }
      if (searches !== 0) this.kadd(s.kSearch, searches);
      if (vbest !== 0) break;
      if (size === 0) this.panic('vmem_xalloc(): size == 0');
      if (this.afunc !== undefined && nocross === 0 && minaddr === 0 && maxaddr === 0) {
        const src = this.source!;
        const aquantum = Math.max(q, src.quantum);
        let aphase = phase;
        if (align > aquantum && (this.cflags & VMC_XALIGN) === 0) {
          aphase = mod(phase, aquantum) !== 0 ? align - q : align - aquantum;
        }
        let aneeded = Math.max(size + aphase, this.minImport);
        const asize = p2roundup(aneeded, aquantum);
        let resv: number;
        if (size === asize) resv = VMEM_SEGS_PER_SPAN_CREATE + VMEM_SEGS_PER_EXACT_ALLOC;
        else if (phase === 0 && align <= src.quantum) resv = VMEM_SEGS_PER_SPAN_CREATE + VMEM_SEGS_PER_LEFT_ALLOC;
        else resv = VMEM_SEGS_PER_ALLOC_MAX;
        this.setNsegfree(this.nsegfree - resv); // reserve our segments
        const vaddr = this.afunc(src, asize, vmflag & VM_KMFLAGS);
        this.setNsegfree(this.nsegfree + resv); // claim the reservation
        aneeded = p2roundup(size + align - q, q);
        if (vaddr !== 0) {
          if (asize > aneeded && this.ffunc !== undefined && this.canalloc(aneeded)) {
            // Someone refilled the arena meanwhile: give the import back.
            xvaddr = vaddr;
            xsize = asize;
            skipPopulate = true;
            continue;
          }
          vbest = this.spanCreate(vaddr, asize, true);
          addr = p2phaseup(mem.loadPtr(vbest), align, phase);
          break;
        } else if (this.canalloc(aneeded)) {
          skipPopulate = true;
          continue;
        }
      }
      if (vmflag & VM_ABORT) break;
      s.reap((this.cflags & VMC_IDENTIFIER) !== 0);
      if (vmflag & VM_NOSLEEP) break;
      this.kadd(s.kWait, 1);
      // illumos waits on vm_cv for frees; here only the reap can have
      // freed anything, so retry once and then give up loudly.
      if (reaped) this.sleepForever(size, alignArg, phase, nocross, minaddr, maxaddr, vmflag);
      reaped = true;
    }
    if (vbest !== 0) {
      if (vmflag & VM_ENDALLOC) {
        // Re-position to the end of the segment.  (illumos ignores maxaddr
        // and nocross here; we stay inside both.)
        let limit = mem.loadPtr(vbest + s.oEnd);
        if (limit > hi) limit = hi;
        if (nocross !== 0) {
          const blockEnd = (Math.floor(addr / nocross) + 1) * nocross;
          if (limit > blockEnd) limit = blockEnd;
        }
        addr += Math.floor((limit - (addr + size)) / align) * align;
      }
      this.segAlloc(vbest, addr, size);
      if (xvaddr !== 0) this.ffunc!(this.source!, xvaddr, xsize);
      k.leave();
      return addr;
    }
    this.kadd(s.kFail, 1);
    if (vmflag & VM_PANIC) {
      this.panic(`${this.xargs(size, alignArg, phase, nocross, minaddr, maxaddr, vmflag)}: cannot satisfy mandatory allocation`);
    }
    k.leave();
    return 0;
  }

  private mtbfFail(vmflag: number): boolean {
    if (this.mtbf === 0) return false;
    return (vmflag & (VM_NOSLEEP | VM_PANIC)) === VM_NOSLEEP && this.k.gethrtime() % this.mtbf === 0;
  }

  xfree(addr: number, size: number): void {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    k.enter(s.FN.vmem_xfree + 0x2f);
    let vsp = this.hashDelete(addr, size);
    const q = this.quantum;
    const e = mem.loadPtr(vsp + s.oEnd);
    if (e % q !== 0) mem.storePtr(vsp + s.oEnd, p2roundup(e, q));
    // Coalesce with the next segment.
    const vnext = mem.loadPtr(vsp + s.oAnext);
    if (mem.load8(vnext + s.oType) === VMEM_FREE) {
      this.freelistDelete(vnext);
      mem.storePtr(vsp + s.oEnd, mem.loadPtr(vnext + s.oEnd));
      this.segDestroy(vnext);
    }
    // Coalesce with the previous segment.
    const vprev = mem.loadPtr(vsp + s.oAprev);
    if (mem.load8(vprev + s.oType) === VMEM_FREE) {
      this.freelistDelete(vprev);
      mem.storePtr(vprev + s.oEnd, mem.loadPtr(vsp + s.oEnd));
      this.segDestroy(vsp);
      vsp = vprev;
    }
    // If the entire (imported) span is free, return it to the source.
    if (this.ffunc !== undefined && this.wholeImportedSpan(vsp)) {
      const vaddr = mem.loadPtr(vsp);
      const vsize = mem.loadPtr(vsp + s.oEnd) - vaddr;
      this.spanDestroy(vsp);
      this.ffunc(this.source!, vaddr, vsize);
    } else {
      this.freelistInsert(vsp);
    }
    k.leave();
  }

  alloc(size: number, vmflag: number): number {
    const s = this.sys;
    const k = this.k;
    if (size - 1 < this.qcacheMax && size > 0) {
      return this.qcaches[Math.floor((size - 1) / this.qDiv)]!.alloc(vmflag & VM_KMFLAGS);
    }
    if (this.mtbf !== 0 && this.mtbfFail(vmflag)) return 0;
    k.enter(s.FN.vmem_alloc + 0x4c);
    let r: number;
    if (vmflag & VM_NEXTFIT) {
      r = this.nextfitAlloc(size, vmflag);
    } else if (vmflag & (VM_BESTFIT | VM_FIRSTFIT)) {
      r = this.xalloc(size, this.quantum, 0, 0, 0, 0, vmflag);
    } else {
      // Unconstrained instant fit.
      let flist = 0;
      if (this.nsegfree >= VMEM_MINFREE || this.populate(vmflag)) {
        if (size === 0) flist = 0;
        else if (pow2(size)) flist = this.flistFrom(hb(size) - 1);
        else {
          const h = hb(size);
          if (h < s.nfreelists) flist = this.flistFrom(h);
        }
      }
      if (flist-- === 0) {
        r = this.xalloc(size, this.quantum, 0, 0, 0, 0, vmflag);
      } else {
        const mem = this.sys.dm;
        const vsp = mem.loadPtr(this.freelistHead(flist) + s.oKnext);
        r = mem.loadPtr(vsp);
        // (illumos uses the unrounded size here, which misaligns the
        // result for sizes that are not quantum multiples.)
        if (vmflag & VM_ENDALLOC) r += mem.loadPtr(vsp + s.oEnd) - (r + p2roundup(size, this.quantum));
        this.segAlloc(vsp, r, size);
      }
    }
    k.leave();
    return r;
  }

  free(addr: number, size: number): void {
    if (size - 1 < this.qcacheMax && size > 0) {
      if (this.earlyLive === 0 || !this.isDirect(addr, size)) {
        this.qcaches[Math.floor((size - 1) / this.qDiv)]!.free(addr);
        return;
      }
      // Allocated from the segment layer before the caches existed.
      this.earlyLive--;
    }
    const k = this.k;
    k.enter(this.sys.FN.vmem_free + 0x1d);
    this.xfree(addr, size);
    k.leave();
  }

  contains(addr: number, size: number): boolean {
    const s = this.sys;
    const mem = this.sys.dm;
    const end = addr + size;
    const seg0 = this.addr + s.oSeg0;
    this.kadd(s.kContains, 1);
    let vsp = mem.loadPtr(seg0 + s.oKnext);
    let searches = 0;
    for (; vsp !== seg0; vsp = mem.loadPtr(vsp + s.oKnext)) {
      searches++;
      if (addr >= mem.loadPtr(vsp) && end - 1 <= mem.loadPtr(vsp + s.oEnd) - 1) break;
    }
    if (searches) this.kadd(s.kContainsSearch, searches);
    return vsp !== seg0;
  }

  add(base: number, size: number, vmflag: number): number {
    const s = this.sys;
    const k = this.k;
    k.enter(s.FN.vmem_add + 0x41);
    if (base === 0 || size === 0) this.panic(`vmem_add(${hex(this.addr)}, ${hex(base)}, ${size}): bad arguments`);
    let r = base;
    if (this.populate(vmflag)) this.spanCreate(base, size, false);
    else r = 0;
    k.leave();
    return r;
  }

  size(typemask: number): number {
    const s = this.sys;
    let n = 0;
    if (typemask & VMEM_ALLOC) n += this.kstat(s.kInuse);
    if (typemask & VMEM_FREE) n += this.kstat(s.kTotal) - this.kstat(s.kInuse);
    return n;
  }

  /**
   * vmem_walk: call cb(start, size) for each segment whose type is in
   * typemask, in address order.  Without VMEM_REENTRANT the callback must
   * not allocate from or free to this arena.
   */
  walk(typemask: number, cb: (start: number, size: number) => void): void {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    if (typemask & VMEM_WALKER) return;
    k.enter(s.FN.vmem_walk + 0x9b);
    const reentrant = (typemask & VMEM_REENTRANT) !== 0;
    if (this.nsegfree === 0) this.populate(VM_SLEEP);
    // The walker marker is a segment of its own (illumos keeps it on the stack).
    const walker = this.getseg();
    mem.fill8(walker, s.segSize, 0);
    mem.store8(walker + s.oType, VMEM_WALKER);
    const seg0 = this.addr + s.oSeg0;
    const first = mem.loadPtr(seg0 + s.oAnext);
    mem.storePtr(walker + s.oAnext, first);
    mem.storePtr(walker + s.oAprev, seg0);
    mem.storePtr(seg0 + s.oAnext, walker);
    mem.storePtr(first + s.oAprev, walker);
    for (let vsp = mem.loadPtr(seg0 + s.oAnext); vsp !== seg0; vsp = mem.loadPtr(vsp + s.oAnext)) {
      if (mem.load8(vsp + s.oType) & typemask) {
        const start = mem.loadPtr(vsp);
        const size = mem.loadPtr(vsp + s.oEnd) - start;
        if (reentrant) {
          this.advance(walker, vsp);
          cb(start, size);
          vsp = walker;
        } else {
          cb(start, size);
        }
      }
    }
    this.advance(walker, 0);
    this.putseg(walker);
    k.leave();
  }

  destroy(): void {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    if (this.destroyed) throw new Error(`vmem_destroy('${this.name}'): already destroyed`);
    k.enter(s.FN.vmem_destroy + 0x5e);
    // Unlink from vmem_list.
    let pp = s.g.vmem_list;
    for (let cur = mem.loadPtr(pp); cur !== this.addr; cur = mem.loadPtr(pp)) {
      if (cur === 0) throw new Error(`vmem_destroy('${this.name}'): not on vmem_list`);
      pp = cur + s.oNext;
    }
    mem.storePtr(pp, mem.loadPtr(this.addr + s.oNext));
    for (let i = 0; i < this.qcaches.length; i++) {
      this.qcaches[i]!.destroy();
      mem.storePtr(this.addr + s.oQcache + i * s.P, 0);
    }
    this.qcaches = [];
    this.qcacheMax = 0;
    const leaked = this.size(VMEM_ALLOC);
    if (leaked !== 0) {
      k.cmnErr('warn', `vmem_destroy('${this.name}'): leaked ${leaked} ${this.cflags & VMC_IDENTIFIER ? 'identifiers' : 'bytes'}`);
    }
    if (this.hTable !== this.addr + s.oHash0) s.hashArena!.free(this.hTable, (this.hMask + 1) * s.P);
    // Give back the segments of everything left in the arena.
    const seg0 = this.addr + s.oSeg0;
    const rotor = this.addr + s.oRotor;
    const rp = mem.loadPtr(rotor + s.oAprev);
    const rn = mem.loadPtr(rotor + s.oAnext);
    mem.storePtr(rp + s.oAnext, rn);
    mem.storePtr(rn + s.oAprev, rp);
    for (let vsp = mem.loadPtr(seg0 + s.oAnext); vsp !== seg0; ) {
      const next = mem.loadPtr(vsp + s.oAnext);
      s.putsegGlobal(vsp);
      vsp = next;
    }
    while (this.nsegfree > 0) s.putsegGlobal(this.getseg());
    this.destroyed = true;
    s.unlink(this);
    s.vmemArena!.free(this.addr, s.vmemSize);
    k.leave();
  }

  /** vmem_hash_rescale: keep the average hash chain near one. */
  hashRescale(): void {
    const s = this.sys;
    const k = this.k;
    const mem = this.sys.dm;
    const P = s.P;
    const nseg = this.kstat(s.kAlloc) - this.kstat(s.kFree);
    const newSize = Math.max(VMEM_HASH_INITIAL, 2 ** (highbit(3 * nseg + 4) - 2));
    let oldSize = this.hMask + 1;
    if (oldSize / 2 <= newSize && newSize <= oldSize * 2) return;
    const hashArena = s.hashArena;
    if (!hashArena) return;
    k.enter(s.FN.vmem_hash_rescale + 0x5a);
    const newTable = hashArena.alloc(newSize * P, VM_NOSLEEP);
    if (newTable === 0) {
      k.leave();
      return;
    }
    mem.fill8(newTable, newSize * P, 0);
    oldSize = this.hMask + 1;
    const oldTable = this.hTable;
    this.hMask = newSize - 1;
    this.hTable = newTable;
    this.hShift = highbit(this.hMask);
    this.hDiv1 = 2 ** this.hShift;
    this.hDiv2 = 2 ** (2 * this.hShift);
    mem.storePtr(this.addr + s.oHashMask, this.hMask);
    mem.storePtr(this.addr + s.oHashTable, newTable);
    mem.storePtr(this.addr + s.oHashShift, this.hShift);
    for (let h = 0; h < oldSize; h++) {
      let vsp = mem.loadPtr(oldTable + h * P);
      while (vsp !== 0) {
        const next = mem.loadPtr(vsp + s.oKnext);
        const bucket = this.hashBucket(mem.loadPtr(vsp));
        mem.storePtr(vsp + s.oKnext, mem.loadPtr(bucket));
        mem.storePtr(bucket, vsp);
        vsp = next;
      }
    }
    if (oldTable !== this.addr + s.oHash0) hashArena.free(oldTable, oldSize * P);
    k.leave();
  }

  /** Hash table size (buckets), for tests and mdb cross-checks. */
  get hashSize(): number {
    return this.hMask + 1;
  }

  /** Is [addr, addr + size) an allocated segment of its own (not a qcache buffer)? */
  private isDirect(addr: number, size: number): boolean {
    const s = this.sys;
    const mem = this.sys.dm;
    for (let vsp = mem.loadPtr(this.hashBucket(addr)); vsp !== 0; vsp = mem.loadPtr(vsp + s.oKnext)) {
      if (mem.loadPtr(vsp) === addr) return mem.loadPtr(vsp + s.oEnd) - addr === size;
    }
    return false;
  }

  /**
   * Create the quantum caches (kmem is ready).  Segments of qcache sizes
   * allocated before this point are remembered (earlyLive), so that their
   * frees still go to the segment layer rather than to a cache.
   */
  createQcaches(p: QcacheProvider): void {
    const s = this.sys;
    const mem = this.sys.dm;
    const n = Math.floor(this.pendingQcacheMax / this.quantum);
    let early = 0;
    this.walk(VMEM_ALLOC, (_start, size) => {
      if (size > 0 && size <= n * this.quantum) early++;
    });
    this.earlyLive = early;
    const slab = vmemQcacheSlabsize(n * this.quantum);
    const caches: QcacheHandle[] = [];
    for (let i = 0; i < n; i++) {
      const size = (i + 1) * this.quantum;
      const c = p.create(this, `${this.name}_${size}`, size, this.quantum, slab);
      caches.push(c);
      mem.storePtr(this.addr + s.oQcache + i * s.P, c.addr);
    }
    this.qcaches = caches;
    this.qcacheMax = n * this.quantum;
    mem.storePtr(this.addr + s.oQcacheMax, this.qcacheMax);
  }

  /** Set vm_mtbf (induced failure rate for VM_NOSLEEP allocations). */
  setMtbf(mtbf: number): void {
    this.mtbf = mtbf;
    this.sys.dm.store32(this.addr + this.sys.oMtbf, mtbf);
  }
}
