/*
 * kmem's state: where it lives and how kmem reaches it.
 *
 * Every structure kmem owns (cache structs, magazines, slabs, bufctls,
 * logs) lives in the kernel heap segment and its globals in the data
 * segment, in the C layouts of src/abi/kmem.ts, so that a dump holds all
 * of it.  The JavaScript object (this class, the base of the layer chain)
 * keeps only what can be rebuilt or is not memory: the offsets of the C
 * fields (typed by their field lists: a misspelt field does not compile),
 * the addresses of kmem's functions and globals, the return sites it
 * pushes on the shadow stack, the JS callbacks and arena handles.
 *
 * Memory access goes through the machine's DirectMemory over the heap and
 * data segments: an access there checks the range, alignment and page
 * protection itself, anything else is the machine's, with its PageFault.
 * The word-index paths (wordpaths.ts) read the heap's typed arrays
 * directly.  Both are views of the segments' buffers: remapViews()
 * re-creates them, for a memory whose buffer can be replaced (a wasm
 * memory.grow detaches the old ArrayBuffer).
 *
 * The entry points take addresses and sizes as JavaScript numbers; the
 * checked (entry) paths refuse anything else (args.ts).
 */

import { offsetsOf, type TypeTable } from '../ctf/ctf.js';
import { DEADMAN_SPINS, type Kernel } from '../kernel/kernel.js';
import { DirectMemory, type AddressSpace } from '../machine/memory.js';
import { TWO32, hex, p2align } from '../machine/addr.js';
import { type QcacheProvider, type VmemArena } from '../vmem/api.js';
import { declareKmemTypes, KMEM_STACK_DEPTH, KMEM_ALLOC_TABLE_MAX, KMEM_BIG_SHIFT, KMEM_CPU_CACHE_SIZE, KMEM_FREE_PATTERN32, KMEM_MAGTYPES, KMEM_UNINITIALIZED_PATTERN32, KMERR_NAMES } from '../abi/kmem-impl.js';
import { HeapLp64, WordLayout } from './wordlayout.js';

export type KmemConstructor = (buf: number, priv: number, kmflag: number) => number;
export type KmemDestructor = (buf: number, priv: number) => void;
export type KmemReclaim = (priv: number) => void;

/** The vmem arenas kmem uses (handles; their state is in memory). */
export interface KmemArenas {
  kmem_msb: VmemArena;
  kmem_cache: VmemArena;
  kmem_hash: VmemArena;
  kmem_log: VmemArena;
  kmem_oversize: VmemArena;
  kmem_default: VmemArena;
  kmem_firewall?: VmemArena;
  kmem_va?: VmemArena;
  kmem_metadata?: VmemArena;
  kmem_firewall_va?: VmemArena;
}

export interface KmemOptions {
  /** kmem_flags at boot (default 0). */
  flags?: number;
  /** kmem_panic (default 1): >0 panic on corruption, <=0 report and continue. */
  panic?: number;
  /** Transaction / content log size in bytes (default heap/50, at most 4 MiB). */
  logSize?: number;
  /**
   * Called during kmem_init once the metadata caches exist, to give vmem
   * the QcacheProvider (illumos creates kmem_va's quantum caches there,
   * before the kmem_alloc caches, so they precede them on kmem_caches).
   */
  installQcaches?: (p: QcacheProvider) => void;
  /**
   * The word-index fast paths (default true; they apply to LP64 at the
   * standard heap base and to ILP32 heaps below 4 GiB, of at most 2 GiB).
   * false sends every operation through the checked paths:
   * slower, with the same memory image byte for byte (the tests compare).
   */
  wordPaths?: boolean;
  /**
   * Whose names the allocator wears: 'kmem' (the kernel's) or 'umem'
   * (libumem's, for a process heap: functions umem_cache_alloc ..., caches
   * umem_alloc_8 ..., reports "umem allocator: ...", no boot messages).
   * The globals keep kmem's names.  Default 'kmem'.
   */
  names?: 'kmem' | 'umem';
  /**
   * Sizes of the transaction, content, failure and slab logs, each created
   * only when its size is non-zero (libumem's UMEM_LOGGING).  Default: the
   * kernel's (transaction and content logs of logSize under AUDIT and
   * CONTENTS, small failure and slab logs).
   */
  logSizes?: { transaction: number; content: number; failure: number; slab: number };
  /** Frames recorded per audited transaction, at most KMEM_STACK_DEPTH (the default). */
  stackDepth?: number;
  /** Called with each kmem_error report as it is made (while the erring call's stack is live). */
  onError?: (r: KmemErrorReport) => void;
}

/** One kmem_error report, as printed, kept for tests and tools. */
export interface KmemErrorReport {
  error: number;
  name: (typeof KMERR_NAMES)[number];
  text: string;
  buffer: number;
  realbuf: number;
  cache: number;
  realcache: number;
  slab: number;
  bufctl: number;
}

export interface CacheCreateOptions {
  align?: number;
  ctor?: KmemConstructor;
  dtor?: KmemDestructor;
  reclaim?: KmemReclaim;
  private?: number;
  arena?: VmemArena;
  cflags?: number;
  /** Slab size override (vmem quantum caches: VMEM_QCACHE_SLABSIZE). */
  qcacheSlabSize?: number;
}

/**
 * The last depot access of a cache (the simulated contention clock):
 * [CPU] the CPU, [T] the time (DepotLastField).  A typed array, not an
 * object: the time outgrows a small integer, and an object field's change
 * of representation (small integer to double) leaves a deprecated map in
 * the feedback of the code that made the record, which V8 then embeds in
 * every optimization of the depot functions and throws away (measured:
 * the depot functions stayed unoptimized, ~1 us per depot exchange).
 */
export type DepotLast = Float64Array;
/** The fields of a DepotLast (a const enum: literals, no module-constant loads on the depot path). */
export const enum DepotLastField {
  CPU = 0,
  T = 1,
}

export interface Callbacks {
  ctor: KmemConstructor | undefined;
  dtor: KmemDestructor | undefined;
  reclaim: KmemReclaim | undefined;
}

const FN_SIZES = {
  kmem_cache_alloc: 0x260,
  kmem_cache_free: 0x1e0,
  kmem_alloc: 0x140,
  kmem_zalloc: 0x60,
  kmem_free: 0x180,
  kmem_slab_alloc: 0x2a0,
  kmem_slab_free: 0x2c0,
  kmem_slab_create: 0x3a0,
  kmem_slab_destroy: 0xe0,
  kmem_cache_alloc_debug: 0x340,
  kmem_cache_free_debug: 0x300,
  kmem_error: 0x600,
  kmem_findslab: 0x90,
  kmem_log_enter: 0x120,
  kmem_log_event: 0x80,
  kmem_depot_alloc: 0x80,
  kmem_depot_free: 0x50,
  kmem_magazine_destroy: 0x120,
  kmem_cache_create: 0x7a0,
  kmem_cache_destroy: 0x200,
  kmem_cache_reap: 0xc0,
  kmem_depot_ws_reap: 0xa0,
  kmem_cache_magazine_purge: 0x120,
  kmem_cache_magazine_resize: 0x60,
  kmem_cache_update: 0x110,
  kmem_hash_rescale: 0x130,
  kmem_update: 0x50,
  kmem_reap: 0x60,
  kmem_init: 0x400,
  kmem_mp_init: 0x80,
  kmem_ctor_stub: 0x10,
  kmem_dtor_stub: 0x10,
  kmem_reclaim_stub: 0x10,
  kmem_partial_slab_cmp: 0x70,
} as const;
export type FnName = keyof typeof FN_SIZES;

/**
 * The return sites kmem pushes on the shadow stack: the pc in a kmem
 * function from which it calls the next frame (or at which it reports), as
 * audit stacks and kmem_error reports show them (`kmem_cache_free+38`).
 */
const RETURN_SITES = {
  /** kmem_alloc calls kmem_cache_alloc for a cache with a size tag */
  kmem_alloc_tagged: ['kmem_alloc', 0x4c],
  /** kmem_alloc calls vmem_alloc(kmem_oversize_arena) or logs a zero-sized allocation */
  kmem_alloc_oversize: ['kmem_alloc', 0xb0],
  /** kmem_cache_alloc calls kmem_cache_alloc_debug on a magazine round */
  cache_alloc_debug: ['kmem_cache_alloc', 0x9c],
  /** kmem_cache_alloc calls kmem_slab_alloc */
  cache_alloc_slab: ['kmem_cache_alloc', 0x1a4],
  /** kmem_cache_alloc calls kmem_cache_alloc_debug on a buffer from the slab layer */
  cache_alloc_debug_slab: ['kmem_cache_alloc', 0x1c8],
  /** kmem_cache_alloc_debug reports KMERR_BADBUFTAG */
  alloc_debug_badbuftag: ['kmem_cache_alloc_debug', 0x4c],
  /** ... KMERR_BADBUFCTL */
  alloc_debug_badbufctl: ['kmem_cache_alloc_debug', 0x90],
  /** ... KMERR_MODIFIED (KMF_LITE) */
  alloc_debug_modified_lite: ['kmem_cache_alloc_debug', 0xd8],
  /** ... KMERR_MODIFIED */
  alloc_debug_modified: ['kmem_cache_alloc_debug', 0x124],
  /** kmem_cache_create at work */
  cache_create: ['kmem_cache_create', 0x30],
  /** kmem_cache_destroy at work */
  cache_destroy: ['kmem_cache_destroy', 0x28],
  /** kmem_cache_free calls kmem_cache_free_debug */
  cache_free_debug: ['kmem_cache_free', 0x38],
  /** kmem_cache_free allocates an empty magazine */
  cache_free_magazine_alloc: ['kmem_cache_free', 0x11c],
  /** kmem_cache_free calls kmem_slab_free_constructed */
  cache_free_slab: ['kmem_cache_free', 0x1a0],
  /** kmem_cache_free_debug reports KMERR_DUPFREE */
  free_debug_dupfree: ['kmem_cache_free_debug', 0x5c],
  /** ... KMERR_BADADDR */
  free_debug_badaddr: ['kmem_cache_free_debug', 0x84],
  /** ... KMERR_REDZONE (a bt_bxstat neither allocated nor free) */
  free_debug_bxstat_redzone: ['kmem_cache_free_debug', 0x98],
  /** ... KMERR_BADBUFCTL */
  free_debug_badbufctl: ['kmem_cache_free_debug', 0xc4],
  /** ... KMERR_REDZONE */
  free_debug_redzone: ['kmem_cache_free_debug', 0xe8],
  /** kmem_cache_magazine_purge at work */
  magazine_purge: ['kmem_cache_magazine_purge', 0x40],
  /** kmem_cache_magazine_resize at work */
  magazine_resize: ['kmem_cache_magazine_resize', 0x18],
  /** kmem_cache_reap at work */
  cache_reap: ['kmem_cache_reap', 0x20],
  /** kmem_cache_update at work */
  cache_update: ['kmem_cache_update', 0x30],
  /** kmem_depot_ws_reap at work */
  depot_ws_reap: ['kmem_depot_ws_reap', 0x20],
  /** kmem_error at work */
  error: ['kmem_error', 0x60],
  /** kmem_free checks a size tag */
  kmem_free_tagged: ['kmem_free', 0x30],
  /** kmem_free reports KMERR_DUPFREE */
  kmem_free_dupfree: ['kmem_free', 0x74],
  /** ... KMERR_BADSIZE */
  kmem_free_badsize: ['kmem_free', 0x98],
  /** ... KMERR_REDZONE (a size tag that is no size) */
  kmem_free_size_redzone: ['kmem_free', 0xa8],
  /** ... KMERR_REDZONE (the byte at buf[size]) */
  kmem_free_redzone: ['kmem_free', 0xc4],
  /** kmem_free calls kmem_cache_free */
  kmem_free_cache_free: ['kmem_free', 0xf0],
  /** kmem_hash_rescale at work */
  hash_rescale: ['kmem_hash_rescale', 0x40],
  /** kmem_init at work */
  init: ['kmem_init', 0x40],
  /** kmem_log_enter at work */
  log_enter: ['kmem_log_enter', 0x30],
  /** kmem_log_event at work */
  log_event: ['kmem_log_event', 0x28],
  /** kmem_magazine_destroy at work */
  magazine_destroy: ['kmem_magazine_destroy', 0x30],
  /** kmem_reap at work */
  reap: ['kmem_reap', 0x24],
  /** kmem_slab_alloc at work */
  slab_alloc: ['kmem_slab_alloc', 0x3c],
  /** kmem_slab_create at work */
  slab_create: ['kmem_slab_create', 0x48],
  /** kmem_slab_create allocates the kmem_slab_t */
  slab_create_slab_alloc: ['kmem_slab_create', 0xc0],
  /** kmem_slab_create allocates a bufctl */
  slab_create_bufctl_alloc: ['kmem_slab_create', 0x140],
  /** kmem_slab_destroy at work */
  slab_destroy: ['kmem_slab_destroy', 0x24],
  /** kmem_slab_free at work */
  slab_free: ['kmem_slab_free', 0x44],
  /** kmem_slab_free reports KMERR_BADADDR */
  slab_free_badaddr: ['kmem_slab_free', 0xa0],
  /** kmem_update at work */
  update: ['kmem_update', 0x1c],
  /** kmem_zalloc calls kmem_alloc */
  zalloc: ['kmem_zalloc', 0x14],
} as const satisfies Record<string, readonly [FnName, number]>;
export type ReturnSite = keyof typeof RETURN_SITES;

/** kmem's functions registered under libumem's names (umem_cache_alloc ...), keyed by kmem's. */
function umemFunctions(k: Kernel): Record<FnName, number> {
  const out = {} as Record<FnName, number>;
  for (const name of Object.keys(FN_SIZES) as FnName[]) out[name] = k.fn(name.replace(/^kmem_/, 'umem_'), FN_SIZES[name]);
  return out;
}

/** The return sites as addresses, given the functions' addresses. */
function returnSites(fn: Record<FnName, number>): Record<ReturnSite, number> {
  const out: Record<string, number> = {};
  for (const [name, [f, off]] of Object.entries(RETURN_SITES)) out[name] = fn[f] + off;
  return { ...out } as Record<ReturnSite, number>;
}

/** The default reap / update interval: 15 s (kmem_reap_interval = 15 * hz). */
export const KMEM_REAP_INTERVAL_NS = 15e9;

export const KMEM_MAXBUF_LIMIT = 4096;


/** An address's heap offset and back, for one heap base. */
interface HeapConversions {
  heapOff(a: number): number;
  heapAddr(o: number): number;
}

/** The conversions made so far, by heap base. */
const madeConversions = new Map<number, HeapConversions>();

/**
 * heapOff / heapAddr for the heap at base, made once per base: with one
 * heap base in a process V8 sees one closure of each and folds the base
 * into their code (as a field it would be a load, of a boxed double for
 * the LP64 base), so the hot paths call them instead of writing the
 * arithmetic out.
 */
function heapConversions(base: number): HeapConversions {
  let c = madeConversions.get(base);
  if (!c) {
    c = { heapOff: (a) => a - base, heapAddr: (o) => o + base };
    madeConversions.set(base, c);
  }
  return c;
}

export abstract class KmemState {
  readonly k: Kernel;
  readonly mem: AddressSpace;
  readonly P: number;
  readonly lp64: boolean;
  readonly pageSize: number;
  readonly arenas: KmemArenas;
  readonly FN: Record<FnName, number>;
  /** The return sites (RETURN_SITES) as addresses. */
  readonly pc: Record<ReturnSite, number>;
  /** Addresses of kmem's globals. */
  readonly G: {
    kmem_flags: number;
    kmem_ready: number;
    kmem_panic: number;
    kmem_panic_info: number;
    kmem_logging: number;
    kmem_caches: number;
    kmem_transaction_log: number;
    kmem_content_log: number;
    kmem_failure_log: number;
    kmem_slab_log: number;
    kmem_zerosized_log: number;
    kmem_alloc_table: number;
    kmem_big_alloc_table: number;
    kmem_big_alloc_table_max: number;
    kmem_max_cached: number;
    kmem_magtype: number;
    kmem_maxverify: number;
    kmem_minfirewall: number;
    kmem_mtbf: number;
    kmem_content_maxsave: number;
    kmem_lite_count: number;
    kmem_lite_minsize: number;
    kmem_lite_maxalign: number;
    kmem_depot_contention: number;
    kmem_reap_interval: number;
    kmem_reaping: number;
    kmem_panic_zerosized: number;
    kmem_warn_zerosized: number;
    kmem_slab_cache: number;
    kmem_bufctl_cache: number;
    kmem_bufctl_audit_cache: number;
    kmem_null_cache: number;
  };

  /* ---- offsets (computed once from the C types) ---- */
  /** Bytes of kmem_maglist_t that the depot touches (all fields 8-aligned under LP64). */
  protected readonly mlSize: number;
  protected readonly cacheSize: number;
  protected readonly O: KmemOffsets;
  protected readonly slabSize: number;
  protected readonly bcSize: number;
  protected readonly bcaSize: number;
  protected readonly btSize: number;

  /* ---- views of the heap and data segments (remapViews) ---- */
  /** The machine's direct accessors over the heap and data segments (the checked paths). */
  protected dm!: DirectMemory;
  protected hBase = 0;
  /** The heap base's low 32 bits as a signed word (a pointer word minus hb is a heap offset: wordlayout.ts). */
  protected hb = 0;
  protected hSize = 0;
  protected h32!: Uint32Array;
  protected h8!: Uint8Array;
  protected h64!: Float64Array;
  protected hi32!: Int32Array;
  protected hProt!: Uint8Array;
  protected dBase = 0;
  protected dSize = 0;
  protected d32!: Uint32Array;
  /** The deadbeef / baddcafe patterns as the doubles whose bits they are (finite, non-zero). */
  protected readonly pFree64: number;
  protected readonly pUninit64: number;
  /** The word-index paths are wanted (the wordPaths option). */
  private readonly wordPathsWanted: boolean;
  /** kmem's structures as the word paths index them (from the C types). */
  protected readonly W: WordLayout;
  /** The word-index paths apply: wanted, a layout that fits, the heap below 4 GiB (ILP32) or at the standard base (LP64), at most 2 GiB of it. */
  protected wordPathsOn = false;
  /** hSize when the word-index paths apply, else 0 (one compare checks both). */
  protected hLim = 0;
  /**
   * Turns allocW made before handing an allocation to kmem_cache_alloc_checked, whose
   * loop continues the count (allocW's turns are kmem_cache_alloc_checked's, one for one),
   * so the deadman fires after the same turns on either path.
   */
  protected spins = 0;
  /** Turns of a walk over a bufctl chain or a slab's chunks before the deadman (no sound one is longer). */
  protected walkMax = 0;
  /** The same for a walk over a cache's slabs (one page at least each: more nodes than pages is a corrupt list). */
  protected slabWalkMax = 0;
  /** The current CPU's kmem_cpu_cache_t offset in cache_cpu[] (cpu * 64), kept by a kernel switch hook. */
  protected cpuOff = 0;
  /** Word index of kmem_mtbf in the data view. */
  protected readonly iMtbf: number;
  /** Word index of kmem_alloc_table in the data view. */
  protected readonly iAllocTable: number;
  /** Word indices of kmem_logging, kmem_transaction_log and kmem_content_log in the data view. */
  protected readonly iLogging: number;
  protected readonly iTxLog: number;
  protected readonly iContentLog: number;

  /* ---- side tables ---- */
  protected readonly callbacks = new Map<number, Callbacks>();
  protected readonly arenaByAddr = new Map<number, VmemArena>();
  protected readonly depotLast = new Map<number, DepotLast>();
  /** The cache whose DepotLast was looked up last (saves the Map lookup). */
  protected depotLastCp = 0;
  protected depotLastRec: DepotLast | undefined;
  /** Simulated depot contention window (ns): see the theory statement. */
  depotContentionWindow = 1000;

  /* ---- caches kmem itself uses (addresses) ---- */
  protected slabCache = 0;
  protected bufctlCache = 0;
  protected bufctlAuditCache = 0;
  protected readonly magCaches: number[] = [];
  /** Reports of kmem_error, oldest first. */
  readonly errors: KmemErrorReport[] = [];
  protected taskThread: ReturnType<Kernel['createThread']> | undefined;
  protected readonly maxCached: number;
  protected readonly bigMax: number;
  protected readonly logSize: number;
  protected readonly installQcaches: ((p: QcacheProvider) => void) | undefined;
  /** See KmemOptions.names. */
  readonly names: 'kmem' | 'umem';
  protected readonly logSizes: KmemOptions['logSizes'];
  protected readonly stackDepth: number;
  protected readonly onError: ((r: KmemErrorReport) => void) | undefined;

  constructor(k: Kernel, arenas: KmemArenas, opts: KmemOptions = {}) {
    this.k = k;
    this.mem = k.mem;
    this.P = k.model.ptrSize;
    this.lp64 = this.P === 8;
    this.pageSize = k.pageSize;
    this.arenas = arenas;
    this.wordPathsWanted = opts.wordPaths !== false;
    const pat = new Float64Array(1);
    const pat32 = new Uint32Array(pat.buffer);
    pat32[0] = pat32[1] = KMEM_FREE_PATTERN32;
    this.pFree64 = pat[0]!;
    pat32[0] = pat32[1] = KMEM_UNINITIALIZED_PATTERN32;
    this.pUninit64 = pat[0]!;
    for (const a of [arenas.kmem_msb, arenas.kmem_cache, arenas.kmem_hash, arenas.kmem_log, arenas.kmem_oversize, arenas.kmem_default, arenas.kmem_firewall]) {
      if (a) this.arenaByAddr.set(a.addr, a);
    }
    declareKmemTypes(k.types, k.ncpus);
    const T = k.types;
    this.O = kmemOffsets(T);
    const O = this.O;
    this.cacheSize = T.size('kmem_cache_t');
    this.mlSize = T.size('kmem_maglist_t');
    this.slabSize = T.size('kmem_slab_t');
    this.bcSize = T.size('kmem_bufctl_t');
    this.bcaSize = T.size('kmem_bufctl_audit_t');
    this.btSize = T.size('kmem_buftag_t');
    if (O.cc_prounds !== O.cc_rounds + 2 || O.cc_rounds % 4 !== 0 || O.cc_magsize % 4 !== 0) {
      throw new Error('kmem: unexpected kmem_cpu_cache_t layout');
    }
    if ((O.cache_cpu | O.cc_flags | O.cc_loaded | O.cc_alloc | O.cc_free) % 4 !== 0 || O.cc_loaded % this.P !== 0) {
      throw new Error('kmem: unexpected kmem_cpu_cache_t alignment');
    }
    if (this.lp64 && (O.ml_list | O.ml_total | O.ml_min | O.ml_alloc | O.cc_ploaded) % 8 !== 0) throw new Error('kmem: unexpected kmem_maglist_t layout');
    this.W = new WordLayout(O, this.P, { maglist: this.mlSize, buftag: this.btSize });
    this.remapViews();

    this.names = opts.names ?? 'kmem';
    this.FN = this.names === 'umem' ? umemFunctions(k) : { ...k.fns(FN_SIZES) };
    this.logSizes = opts.logSizes;
    this.stackDepth = Math.min(opts.stackDepth ?? KMEM_STACK_DEPTH, KMEM_STACK_DEPTH);
    this.onError = opts.onError;
    this.mem.remapHooks.push(() => this.remapViews());
    this.pc = returnSites(this.FN);

    this.maxCached = this.lp64 ? 131072 : 32768;
    this.bigMax = this.maxCached >> KMEM_BIG_SHIFT;
    const g = (name: string, type: string) => k.global(name, type);
    this.G = {
      kmem_flags: g('kmem_flags', 'int'),
      kmem_ready: g('kmem_ready', 'int'),
      kmem_panic: g('kmem_panic', 'int'),
      kmem_panic_info: g('kmem_panic_info', 'kmem_panic_info_t'),
      kmem_logging: g('kmem_logging', 'int'),
      kmem_caches: g('kmem_caches', 'list_t'),
      kmem_transaction_log: g('kmem_transaction_log', 'kmem_log_header_t *'),
      kmem_content_log: g('kmem_content_log', 'kmem_log_header_t *'),
      kmem_failure_log: g('kmem_failure_log', 'kmem_log_header_t *'),
      kmem_slab_log: g('kmem_slab_log', 'kmem_log_header_t *'),
      kmem_zerosized_log: g('kmem_zerosized_log', 'kmem_log_header_t *'),
      kmem_alloc_table: g('kmem_alloc_table', `kmem_cache_t *[${KMEM_ALLOC_TABLE_MAX}]`),
      kmem_big_alloc_table: g('kmem_big_alloc_table', `kmem_cache_t *[${this.bigMax}]`),
      kmem_big_alloc_table_max: g('kmem_big_alloc_table_max', 'int'),
      kmem_max_cached: g('kmem_max_cached', 'size_t'),
      kmem_magtype: g('kmem_magtype', `kmem_magtype_t [${KMEM_MAGTYPES.length}]`),
      kmem_maxverify: g('kmem_maxverify', 'size_t'),
      kmem_minfirewall: g('kmem_minfirewall', 'size_t'),
      kmem_mtbf: g('kmem_mtbf', 'uint32_t'),
      kmem_content_maxsave: g('kmem_content_maxsave', 'size_t'),
      kmem_lite_count: g('kmem_lite_count', 'int'),
      kmem_lite_minsize: g('kmem_lite_minsize', 'size_t'),
      kmem_lite_maxalign: g('kmem_lite_maxalign', 'size_t'),
      kmem_depot_contention: g('kmem_depot_contention', 'int'),
      kmem_reap_interval: g('kmem_reap_interval', 'int'),
      kmem_reaping: g('kmem_reaping', 'uint32_t'),
      kmem_panic_zerosized: g('kmem_panic_zerosized', 'int'),
      kmem_warn_zerosized: g('kmem_warn_zerosized', 'int'),
      kmem_slab_cache: g('kmem_slab_cache', 'kmem_cache_t *'),
      kmem_bufctl_cache: g('kmem_bufctl_cache', 'kmem_cache_t *'),
      kmem_bufctl_audit_cache: g('kmem_bufctl_audit_cache', 'kmem_cache_t *'),
      kmem_null_cache: g('kmem_null_cache', 'kmem_cache_t *'),
    };
    this.cpuOff = k.cur.cpu * KMEM_CPU_CACHE_SIZE;
    k.switchHooks.push((t) => {
      this.cpuOff = t.cpu * KMEM_CPU_CACHE_SIZE;
    });
    // the data-segment globals the word paths read, as word indices (each
    // must lie wholly in the data segment, aligned)
    const dataWord = (a: number, bytes: number, align: number): number => {
      const o = a - this.dBase;
      if (o < 0 || o + bytes > this.dSize || (o & (align - 1)) !== 0) throw new Error(`kmem: global ${hex(a)} outside the data segment`);
      return o >>> 2;
    };
    this.iMtbf = dataWord(this.G.kmem_mtbf, 4, 4);
    this.iAllocTable = dataWord(this.G.kmem_alloc_table, KMEM_ALLOC_TABLE_MAX * this.P, this.P);
    this.iLogging = dataWord(this.G.kmem_logging, 4, 4);
    this.iTxLog = dataWord(this.G.kmem_transaction_log, this.P, this.P);
    this.iContentLog = dataWord(this.G.kmem_content_log, this.P, this.P);
    const flags = (opts.flags ?? 0) >>> 0;
    this.st32(this.G.kmem_flags, flags);
    this.st32(this.G.kmem_panic, (opts.panic ?? 1) | 0);
    this.st32(this.G.kmem_logging, 1);
    this.stp(this.G.kmem_max_cached, this.maxCached);
    this.st32(this.G.kmem_big_alloc_table_max, this.bigMax);
    this.stp(this.G.kmem_maxverify, this.lp64 ? this.pageSize / 2 : 0xffffffff);
    this.stp(this.G.kmem_minfirewall, this.lp64 ? this.pageSize / 2 : 0xffffffff);
    this.stp(this.G.kmem_content_maxsave, 256);
    this.st32(this.G.kmem_lite_count, 4);
    this.stp(this.G.kmem_lite_minsize, 0);
    this.stp(this.G.kmem_lite_maxalign, 1024);
    this.st32(this.G.kmem_depot_contention, 3);
    this.st32(this.G.kmem_reap_interval, 15 * 100);
    this.st32(this.G.kmem_warn_zerosized, 1);
    this.installQcaches = opts.installQcaches;
    this.logSize = opts.logSize ?? Math.min(p2align(Math.floor(k.heapSize / 50), this.pageSize), 4 << 20);
  }

  /**
   * (Re-)create every view kmem keeps of memory: the DirectMemory of the
   * checked paths and the heap and data segments' typed arrays of the word
   * paths.  Call it after the memory's buffer has been replaced (a wasm
   * memory.grow detaches the old ArrayBuffer: views of it read as empty).
   */
  remapViews(): void {
    const k = this.k;
    const hs = this.mem.segmentOf(k.layout.heapBase);
    const ds = this.mem.segmentOf(k.layout.dataBase);
    if (!hs || !ds) throw new Error('kmem: no heap or data segment');
    this.dm = new DirectMemory(this.mem, hs.base, ds.base);
    this.hBase = hs.base;
    this.hSize = hs.size;
    this.h32 = hs.u32;
    this.h8 = hs.u8;
    this.h64 = hs.f64;
    this.hi32 = hs.i32;
    this.hProt = hs.prot;
    this.dBase = ds.base;
    this.dSize = ds.size;
    this.d32 = ds.u32;
    this.hb = hs.base | 0;
    const hc = heapConversions(hs.base);
    this.heapOff = hc.heapOff;
    this.heapAddr = hc.heapAddr;
    const placed = this.lp64 ? hs.base === HeapLp64.BASE : hs.base + hs.size <= TWO32;
    this.wordPathsOn = this.wordPathsWanted && this.W.fits && placed && hs.size <= 0x80000000;
    this.hLim = this.wordPathsOn ? this.hSize : 0;
    this.walkMax = Math.max(DEADMAN_SPINS, Math.floor(this.hSize / 8));
    this.slabWalkMax = Math.floor(this.hSize / 4096) + 1;
  }

  /** A cache name of kmem's own in the allocator's names (kmem_alloc_8 or umem_alloc_8). */
  protected ownName(name: string): string {
    return this.names === 'umem' ? name.replace(/^kmem_/, 'umem_') : name;
  }

  /** Whether the word-index fast paths are in use (a layout and heap they fit, not turned off). */
  get wordPaths(): boolean {
    return this.wordPathsOn;
  }

  /*
   * Memory access.  Everything kmem owns (cache structs, magazines, slabs,
   * bufctls, logs) lives in the heap segment, and its globals in the data
   * segment; kmem keeps a direct view of both (the segments' own typed arrays
   * and protection bytes) and checks the protection byte itself, so an access
   * costs a compare, a byte load and an index.  Anything else (another
   * segment, a misaligned address, an unmapped or read-only page) goes
   * through the machine's load32/store32, which raise the same PageFault they
   * always did.  The views alias the machine's memory: nothing is cached.
   */

  /** 32-bit load. */
  ld32(a: number): number {
    return this.dm.load32(a);
  }

  /** 32-bit store. */
  st32(a: number, v: number): void {
    this.dm.store32(a, v);
  }

  /** Load a pointer (or size_t / unsigned long). */
  ldp(a: number): number {
    return this.dm.loadPtr(a);
  }

  /** Store a pointer-sized value. */
  stp(a: number, v: number): void {
    this.dm.storePtr(a, v);
  }

  /** Load a signed long. */
  ldl(a: number): number {
    if (this.lp64) return this.ldp(a);
    return this.ld32(a) | 0;
  }

  /** Load a uint64 counter as a number. */
  ld64(a: number): number {
    return this.ld32(a + 4) * TWO32 + this.ld32(a);
  }

  st64(a: number, v: number): void {
    const hi = Math.floor(v / TWO32);
    this.st32(a, v - hi * TWO32);
    this.st32(a + 4, hi);
  }

  inc64(a: number): void {
    const lo = this.ld32(a);
    if (lo !== 0xffffffff) this.st32(a, lo + 1);
    else {
      this.st32(a, 0);
      this.st32(a + 4, this.ld32(a + 4) + 1);
    }
  }

  protected add64(a: number, d: number): void {
    this.st64(a, this.ld64(a) + d);
  }

  /**
   * Word index of [a, a + len) in the heap view when the word paths are on
   * and the range is in the heap, 4-aligned and on pages that all allow the
   * access (so a loop over it cannot fault); -1 otherwise (the caller takes
   * the checked path).
   */
  protected heapWords(a: number, len: number, write: boolean): number {
    const o = a - this.hBase;
    if (!(o >= 0 && len >= 0 && o + len <= this.hLim && (o & 3) === 0)) return -1;
    const m = len > 0 ? len : 1;
    return (write ? this.pagesRW(o, m) : this.pagesR(o, m)) ? o >>> 2 : -1;
  }

  /**
   * The heap offset of address a, and the address of heap offset o.  The
   * standard LP64 base is a constant (hBase there is a double, a boxed
   * field: measured, a load of it on the magazine path cost ~1.8 ns per
   * operation).
   */
  /** The heap offset of the address a, and the address of the heap offset o (closures over the heap base: heapConversions). */
  protected heapOff!: HeapConversions['heapOff'];
  protected heapAddr!: HeapConversions['heapAddr'];

  /** 8-bit load / store. */
  protected ld8(a: number): number {
    return this.dm.load8(a);
  }

  protected st8(a: number, v: number): void {
    this.dm.store8(a, v);
  }

  /** Every page of the heap bytes [o, o + n) writable (n > 0). */
  protected pagesRW(o: number, n: number): boolean {
    const hp = this.hProt;
    for (let p = o >>> 12, e = (o + n - 1) >>> 12; p <= e; p++) if (hp[p] !== HeapLp64.RW) return false;
    return true;
  }

  /** Every page of the heap bytes [o, o + n) readable (n > 0). */
  protected pagesR(o: number, n: number): boolean {
    const hp = this.hProt;
    for (let p = o >>> 12, e = (o + n - 1) >>> 12; p <= e; p++) if (hp[p] === 0) return false;
    return true;
  }

  /** The caller's pc (the top of the shadow stack before kmem entered). */
  protected callerPc(): number {
    const t = this.k.cur;
    return t.depth > 0 ? t.stack[t.depth - 1]! : 0;
  }

  cacheName(cp: number): string {
    return this.k.readString(cp + this.O.cache_name, 32);
  }

  cacheBufsize(cp: number): number {
    return this.ldp(cp + this.O.cache_bufsize);
  }

  cacheFlags(cp: number): number {
    return this.ld32(cp + this.O.cache_flags);
  }

  arenaOf(cp: number): VmemArena {
    const a = this.arenaByAddr.get(this.ldp(cp + this.O.cache_arena));
    if (!a) throw new Error(`kmem: cache ${hex(cp)} has an unknown arena`);
    return a;
  }
}

/** The fields kmem reads and writes, by C type (field names are unique across these types). */
function kmemOffsets(T: TypeTable) {
  return {
    ...offsetsOf(T, 'kmem_cache_t', [
      'cache_slab_create', 'cache_slab_destroy', 'cache_slab_alloc', 'cache_slab_free', 'cache_alloc_fail', 'cache_buftotal',
      'cache_bufmax', 'cache_bufslab', 'cache_reap', 'cache_rescale', 'cache_lookup_depth', 'cache_depot_contention',
      'cache_depot_contention_prev', 'cache_name', 'cache_bufsize', 'cache_align', 'cache_constructor', 'cache_destructor',
      'cache_reclaim', 'cache_move', 'cache_private', 'cache_arena', 'cache_cflags', 'cache_flags', 'cache_mtbf', 'cache_link',
      'cache_chunksize', 'cache_slabsize', 'cache_maxchunks', 'cache_bufctl', 'cache_buftag', 'cache_verify', 'cache_contents',
      'cache_color', 'cache_mincolor', 'cache_maxcolor', 'cache_hash_shift', 'cache_hash_mask', 'cache_complete_slabs',
      'cache_complete_slab_count', 'cache_partial_slabs', 'cache_partial_binshift', 'cache_bufctl_cache', 'cache_hash_table',
      'cache_magtype', 'cache_full', 'cache_empty', 'cache_cpu',
    ]),
    ...offsetsOf(T, 'kmem_cpu_cache_t', ['cc_alloc', 'cc_free', 'cc_loaded', 'cc_ploaded', 'cc_flags', 'cc_rounds', 'cc_prounds', 'cc_magsize']),
    ...offsetsOf(T, 'kmem_slab_t', ['slab_cache', 'slab_base', 'slab_link', 'slab_head', 'slab_refcnt', 'slab_chunks', 'slab_stuck_offset', 'slab_later_count', 'slab_flags']),
    ...offsetsOf(T, 'kmem_bufctl_audit_t', ['bc_next', 'bc_addr', 'bc_slab', 'bc_cache', 'bc_timestamp', 'bc_thread', 'bc_lastlog', 'bc_contents', 'bc_depth', 'bc_stack']),
    ...offsetsOf(T, 'kmem_buftag_t', ['bt_bufctl', 'bt_bxstat']),
    ...offsetsOf(T, 'kmem_buftag_lite_t', ['bt_history']),
    ...offsetsOf(T, 'kmem_maglist_t', ['ml_list', 'ml_total', 'ml_min', 'ml_reaplimit', 'ml_alloc']),
    ...offsetsOf(T, 'kmem_magtype_t', ['mt_magsize', 'mt_align', 'mt_minbuf', 'mt_maxbuf', 'mt_cache']),
    ...offsetsOf(T, 'list_t', ['list_size', 'list_offset', 'list_head']),
    ...offsetsOf(T, 'avl_tree_t', ['avl_root', 'avl_compar', 'avl_offset', 'avl_numnodes', 'avl_size']),
    ...offsetsOf(T, 'kmem_log_header_t', ['lh_base', 'lh_free', 'lh_chunksize', 'lh_nchunks', 'lh_head', 'lh_tail', 'lh_hits', 'lh_cpu']),
    ...offsetsOf(T, 'kmem_cpu_log_header_t', ['clh_current', 'clh_avail', 'clh_chunk', 'clh_hits']),
    ...offsetsOf(T, 'kmem_panic_info_t', ['kmp_timestamp', 'kmp_error', 'kmp_buffer', 'kmp_realbuf', 'kmp_cache', 'kmp_realcache', 'kmp_slab', 'kmp_bufctl']),
    mt_size: T.size('kmem_magtype_t'),
  };
}
/** Byte offsets of every field kmem uses (and the size of kmem_magtype_t). */
export type KmemOffsets = ReturnType<typeof kmemOffsets>;

