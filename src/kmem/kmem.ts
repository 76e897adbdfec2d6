/*
 * The kernel memory allocator: object caches over vmem (Bonwick 1994,
 * Bonwick & Adams 2001), as in illumos usr/src/uts/common/os/kmem.c.
 *
 * Theory
 * ------
 * A *cache* hands out objects of one size.  It has three layers:
 *
 *  1. The per-CPU layer.  Each CPU has a kmem_cpu_cache_t inside the cache
 *     struct (cache_cpu[seqid], 64 bytes, 64-byte aligned) holding two
 *     magazines: the loaded one (cc_loaded, cc_rounds objects) and the
 *     previously loaded one (cc_ploaded, cc_prounds).  A magazine is an array
 *     of pointers to *constructed* objects.  Allocation pops a round from the
 *     loaded magazine; free pushes one.  When the loaded magazine is empty
 *     (full) and the previous one is full (empty) they swap; otherwise the
 *     CPU exchanges a magazine with the depot.  rounds == -1 means "no
 *     magazine"; cc_magsize == 0 means the magazine layer is off (before
 *     kmem_ready, after a purge, or for KMF_NOMAGAZINE caches).
 *
 *  2. The depot: two lists of magazines, full (cache_full) and empty
 *     (cache_empty), with a working-set estimate: ml_min is the lowest
 *     ml_total since the last kmem_update; at each update ml_reaplimit
 *     becomes that minimum.  A reap frees MIN(reaplimit, min) magazines of
 *     each list: magazines not needed during the last interval.  Magazine
 *     size (the kmem_magazine_N cache used, cache_magtype) grows one step
 *     when depot-lock contention exceeds kmem_depot_contention per interval.
 *     Contention is simulated: a depot access is contended when the previous
 *     one came from another CPU within kmem_depot_contention_window ns.
 *
 *  3. The slab layer.  A slab is a run of cache_slabsize bytes from the
 *     cache's vmem arena cut into chunks; chunk i is at slab_base + i *
 *     chunksize, slab_base = slab + colour.  Free chunks of a slab are a
 *     LIFO list through bufctls (slab_head -> bc_next).  *Small* slabs
 *     (KMC_NOHASH, or chunks < quantum/8 without AUDIT/NOTOUCH) keep the
 *     kmem_slab_t in the last bytes of the slab and the bufctl inside the
 *     free buffer (at buf + cache_bufctl), so a buffer maps to its slab by
 *     address arithmetic.  *Large* slabs (KMF_HASH) take the slab struct
 *     from kmem_slab_cache and one bufctl per chunk from kmem_bufctl_cache
 *     (kmem_bufctl_audit_cache under AUDIT); allocated buffers are found
 *     through the hash table cache_hash_table[(buf >> shift) & mask], which
 *     kmem_update rescales.  Completely allocated slabs sit on
 *     cache_complete_slabs (a list_t); partial slabs are kept in
 *     cache_partial_slabs in illumos' AVL order (most allocated first,
 *     binned by cache_partial_binshift, ties by address) and allocation
 *     takes the first.  Substitution: that avl_tree_t is kept as a *right
 *     spine* (avl_child[0] always NULL, avl_child[1] = successor, avl_pcb =
 *     predecessor | child index 1 | balance 0), i.e. a sorted doubly linked
 *     list that an in-order AVL walk reads correctly; inserts are linear.
 *     A slab whose last buffer is freed goes back to vmem at once.
 *
 * Constructors run when an object leaves the slab layer, destructors when it
 * returns there: objects in magazines stay constructed.
 *
 * Debugging (kmem_flags, per cache in cache_flags, §1.4 of the spec): the
 * fast paths test cc_flags once and call the separate *_debug functions.
 * KMF_BUFTAG adds a kmem_buftag_t after each buffer: bt_redzone
 * (0xfeedface..., or for kmem_alloc buffers the size encoding 251*size+1 in
 * its second word and the byte 0xbb at buf[size]), bt_bufctl and bt_bxstat =
 * bufctl ^ 0xa110c8ed (allocated) or ^ 0xf4eef4ee (free), checked on every
 * transaction.  KMF_DEADBEEF fills free buffers with 0xdeadbeef and checks
 * them on allocation (rewriting 0xbaddcafe).  KMF_AUDIT records thread,
 * time and a 15-frame stack in a kmem_bufctl_audit_t and copies it to the
 * transaction log, a ring of per-CPU chunks (bc_lastlog chains older
 * copies).  KMF_CONTENTS saves the first 256 bytes of freed buffers in the
 * content log.  KMF_FIREWALL puts each buffer flush against an unmapped
 * page.  KMF_LITE keeps only a buftag plus the last few callers.  A detected
 * corruption calls kmem_error, which classifies it (nine classes), fills
 * kmem_panic_info, prints the report and panics unless kmem_panic <= 0.
 *
 * State.  Every structure lives in simulated memory in the C layouts of
 * types.ts; the JavaScript object keeps only offsets, the kernel function
 * addresses, the JS callbacks of each cache (keyed by cache address; the
 * cache struct holds a text address for mdb), handles of the vmem arenas
 * (keyed by vmem_t address) and the simulated-contention clock.  There is
 * one logical CPU running at a time (k.cur.cpu), so locks are not taken;
 * kmutex_t fields exist for layout only.
 */

import { offsetsOf, type TypeTable } from '../ctf/ctf.js';
import { DEADMAN_SPINS, type Kernel } from '../kernel/kernel.js';
import { PROT_RW, type PagedMemory } from '../machine/memory.js';
import { TWO32, hex, highbit, mod, p2align, p2roundup, isPow2 } from '../machine/addr.js';
import { VMC_IDENTIFIER, VM_NOSLEEP, type QcacheHandle, type QcacheProvider, type VmemArena } from '../vmem/api.js';
import {
  declareKmemTypes,
  KMC_IDENTIFIER,
  KMC_KMEM_ALLOC,
  KMC_NODEBUG,
  KMC_NOHASH,
  KMC_NOMAGAZINE,
  KMC_NOTOUCH,
  KMC_PREFILL,
  KMC_QCACHE,
  KMEM_ALIGN,
  KMEM_ALLOC_SIZES,
  KMEM_ALLOC_TABLE_MAX,
  KMEM_BIG_ALLOC_SIZES,
  KMEM_BIG_SHIFT,
  KMEM_BUFTAG_ALLOC,
  KMEM_BUFTAG_FREE,
  KMEM_CPU_CACHE_SIZE,
  KMEM_FREE_PATTERN32,
  KMEM_HASH_INITIAL,
  KMEM_MAGTYPES,
  KMEM_REDZONE_BYTE,
  KMEM_REDZONE_PATTERN32,
  KMEM_SIZE_DECODE,
  KMEM_SIZE_ENCODE,
  KMEM_SIZE_VALID,
  KMEM_STACK_DEPTH,
  KMEM_UNINITIALIZED_PATTERN32,
  KMEM_VOID_FRACTION,
  KMERR_BADADDR,
  KMERR_BADBASE,
  KMERR_BADBUFCTL,
  KMERR_BADBUFTAG,
  KMERR_BADCACHE,
  KMERR_BADSIZE,
  KMERR_DUPFREE,
  KMERR_MODIFIED,
  KMERR_NAMES,
  KMERR_REDZONE,
  KMF_AUDIT,
  KMF_BUFTAG,
  KMF_CONTENTS,
  KMF_DEADBEEF,
  KMF_DEBUG,
  KMF_FIREWALL,
  KMF_HASH,
  KMF_LITE,
  KMF_NOMAGAZINE,
  KMF_PREFILL,
  KMF_RANDOM,
  KMF_RANDOMIZE,
  KMF_REDZONE,
  KMF_STICKY,
  KMF_TOUCH,
  KM_NOSLEEP,
  KM_PANIC,
  KM_SLEEP,
  KM_VMFLAGS,
  KMEM_SLAB_NOMOVE,
} from '../abi/kmem-impl.js';

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
   * The word-index fast paths (default true; they apply to the standard
   * LP64 layout).  false sends every operation through the checked paths:
   * slower, with the same memory image byte for byte (the tests compare).
   */
  wordPaths?: boolean;
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

/** The last depot access of a cache (the simulated contention clock). */
interface DepotLast {
  cpu: number;
  t: number;
}

interface Callbacks {
  ctor: KmemConstructor | undefined;
  dtor: KmemDestructor | undefined;
  reclaim: KmemReclaim | undefined;
}

/**
 * The entry points take addresses and sizes as JavaScript numbers: an
 * address is a signed 64-bit value, a size a non-negative one.  Anything
 * else (a fraction, NaN, a size below zero) is a caller's bug in the
 * script, not a kernel's, and is refused with a TypeError that names the
 * function and argument.  Only the slow paths check (the fast paths take
 * integers in the heap and nothing else).
 */
function checkArg(fn: string, name: string, v: number, size = false): void {
  if (!Number.isSafeInteger(v) || (size && v < 0)) {
    throw new TypeError(`${fn}: ${name} must be ${size ? 'a non-negative integer (a size)' : 'an integer (an address)'}, not ${String(v)}`);
  }
}

/** A handle on a kmem cache (the kmem_cache_t is at `addr`). */
export class KmemCache {
  constructor(
    readonly kmem: Kmem,
    readonly addr: number,
    readonly name: string,
  ) {}
  alloc(kmflag: number = KM_SLEEP): number {
    return this.kmem.kmem_cache_alloc(this.addr, kmflag);
  }
  free(buf: number): void {
    this.kmem.kmem_cache_free(this.addr, buf);
  }
  destroy(): void {
    this.kmem.kmem_cache_destroy(this.addr);
  }
  get bufsize(): number {
    return this.kmem.cacheBufsize(this.addr);
  }
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
type FnName = keyof typeof FN_SIZES;

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
type ReturnSite = keyof typeof RETURN_SITES;

/** The return sites as addresses, given the functions' addresses. */
function returnSites(fn: Record<FnName, number>): Record<ReturnSite, number> {
  const out: Record<string, number> = {};
  for (const [name, [f, off]] of Object.entries(RETURN_SITES)) out[name] = fn[f] + off;
  return { ...out } as Record<ReturnSite, number>;
}

/** The default reap / update interval: 15 s (kmem_reap_interval = 15 * hz). */
export const KMEM_REAP_INTERVAL_NS = 15e9;

/*
 * The standard LP64 layout the word-index paths are written for, as const
 * enums so that the compiler writes them as literals (a module-level or
 * imported constant costs a context load and a hole check at every use in
 * optimized code).  Offsets are in 32-bit words unless their name ends in
 * _B (bytes).  The constructor compares every one of them with the C types
 * and turns the word paths off (or refuses to start) when one differs.
 */

/**
 * The kernel heap under LP64: it starts at 0xfffffe8000000000, so a heap
 * pointer is the word pair (HI, offset) and cp - heap base = cp + NEG.
 */
export const enum HeapLp64 {
  TWO32 = 4294967296,
  /** PROT_RW */
  RW = 3,
  BASE = -0x18000000000,
  NEG = 0x18000000000,
  HI = 0xfffffe80,
  /** HI as a signed 32-bit word */
  HI_I = -384,
}

/** The debug patterns, as 32-bit words. */
export const enum Pattern {
  FREE = 0xdeadbeef,
  UNINIT = 0xbaddcafe,
  REDZONE = 0xfeedface,
  /** 0xfeedface as a signed 32-bit word */
  REDZONE_I = -17958194,
  BUFTAG_ALLOC = 0xa110c8ed,
  BUFTAG_FREE = 0xf4eef4ee,
}

/** kmem_cpu_cache_t (cache_cpu[i]). */
export const enum CpuCacheWord {
  ALLOC = 2,
  FREE = 4,
  LOADED = 6,
  PLOADED = 8,
  FLAGS = 10,
  /** cc_rounds (low 16 bits) and cc_prounds (high 16 bits) */
  ROUNDS = 11,
  MAGSIZE = 12,
}

/** kmem_cache_t. */
export const enum CacheWord {
  CTOR = 38,
  DTOR = 40,
  FLAGS = 51,
  MTBF = 52,
  BUFTAG = 70,
  VERIFY = 72,
  CONTENTS = 74,
  /** cache_full / cache_empty */
  FULL_B = 472,
  EMPTY_B = 512,
  /** cache_cpu */
  CPU_B = 568,
}

/** kmem_bufctl_t / kmem_bufctl_audit_t. */
export const enum BufctlWord {
  ADDR = 2,
  LASTLOG = 12,
  CONTENTS_B = 56,
}

/** kmem_maglist_t; SIZE_B its size. */
export const enum MaglistWord {
  LIST = 0,
  TOTAL = 2,
  MIN = 4,
  ALLOC = 8,
  SIZE_B = 40,
}

/** kmem_buftag_t: bt_bufctl and bt_bxstat (bt_redzone is word 0); SIZE_B its size. */
export const enum BuftagWord {
  BUFCTL = 2,
  BXSTAT = 4,
  SIZE_B = 24,
}

/** cache_flags / cc_flags bits the word paths test. */
export const enum CacheFlag {
  AUDIT = 0x1,
  DEADBEEF = 0x2,
  CONTENTS = 0x8,
  /** KMF_BUFTAG = KMF_DEADBEEF | KMF_REDZONE */
  BUFTAG = 0x6,
  LITE = 0x100,
  HASH = 0x200,
  DUMPDIVERT = 0x1000,
  DUMPUNSAFE = 0x2000,
  /** what sends an allocation off the plain magazine path: KMF_BUFTAG | KMF_DUMPUNSAFE */
  ALLOC_SLOW = 0x2006,
  /** the same for a free, with KMF_DUMPDIVERT */
  FREE_SLOW = 0x3006,
}

export class Kmem {
  readonly k: Kernel;
  readonly mem: PagedMemory;
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
  private readonly ccOff: number; // offsetof(kmem_cache_t, cache_cpu)
  private readonly ccAlloc: number;
  private readonly ccFree: number;
  private readonly ccLoaded: number;
  private readonly ccPloaded: number;
  private readonly ccFlags: number;
  private readonly ccRounds: number; // rounds (low 16) | prounds (high 16)
  private readonly ccMagsize: number;
  /* word indices of cc_rounds and cc_loaded (cpuReload) */
  private readonly iRounds: number;
  private readonly iLoaded: number;
  /** Bytes of kmem_maglist_t that the depot touches (all fields 8-aligned under LP64). */
  private readonly mlSize: number;
  private readonly cacheSize: number;
  private readonly O: KmemOffsets;
  private readonly slabSize: number;
  private readonly bcSize: number;
  private readonly bcaSize: number;
  private readonly btSize: number;
  private readonly btBufctl: number;
  private readonly btBxstat: number;
  private readonly btHistory: number;
  private readonly bcStack: number;
  private readonly lhCpu: number;

  /* ---- direct views of the heap and data segments (see ld32) ---- */
  private readonly hBase: number;
  private readonly hSize: number;
  private readonly h32: Uint32Array;
  private readonly h8: Uint8Array;
  private readonly h64: Float64Array;
  private readonly hi32: Int32Array;
  /** The deadbeef / baddcafe patterns as the doubles whose bits they are (finite, non-zero). */
  private readonly pFree64: number;
  private readonly pUninit64: number;
  private readonly hProt: Uint8Array;
  /** The word-index paths apply: LP64, the standard heap base, a heap of at most 2 GiB, not turned off. */
  private readonly wordPathsOn: boolean;
  /** hSize when the word-index paths apply, else 0 (one compare checks both). */
  private readonly hLim: number;
  /**
   * Turns allocW made before handing an allocation to allocSlow, whose
   * loop continues the count (allocW's turns are allocSlow's, one for one),
   * so the deadman fires after the same turns on either path.
   */
  private spins = 0;
  /** Turns of a walk over a bufctl chain or a slab's chunks before the deadman (no sound one is longer). */
  private readonly walkMax: number;
  /** The same for a walk over a cache's slabs (one page at least each: more nodes than pages is a corrupt list). */
  private readonly slabWalkMax: number;
  /** The current CPU's kmem_cpu_cache_t offset in cache_cpu[] (cpu * 64), kept by a kernel switch hook. */
  private cpuOff = 0;
  /** Word index of kmem_mtbf in the data view. */
  private readonly iMtbf: number;
  /** Word index of kmem_alloc_table in the data view. */
  private readonly iAllocTable: number;
  /** Word indices of kmem_logging, kmem_transaction_log and kmem_content_log in the data view. */
  private readonly iLogging: number;
  private readonly iTxLog: number;
  private readonly iContentLog: number;
  private readonly dBase: number;
  private readonly dSize: number;
  private readonly d32: Uint32Array;
  private readonly dProt: Uint8Array;

  /* ---- side tables ---- */
  private readonly callbacks = new Map<number, Callbacks>();
  private readonly arenaByAddr = new Map<number, VmemArena>();
  private readonly depotLast = new Map<number, DepotLast>();
  /** The cache whose DepotLast was looked up last (saves the Map lookup). */
  private depotLastCp = 0;
  private depotLastRec: DepotLast | undefined;
  /** Simulated depot contention window (ns): see the theory statement. */
  depotContentionWindow = 1000;

  /* ---- caches kmem itself uses (addresses) ---- */
  private slabCache = 0;
  private bufctlCache = 0;
  private bufctlAuditCache = 0;
  private readonly magCaches: number[] = [];
  /** Reports of kmem_error, oldest first. */
  readonly errors: KmemErrorReport[] = [];
  private taskThread: ReturnType<Kernel['createThread']> | undefined;
  private readonly maxCached: number;
  private readonly bigMax: number;
  private readonly logSize: number;
  private readonly installQcaches: ((p: QcacheProvider) => void) | undefined;

  constructor(k: Kernel, arenas: KmemArenas, opts: KmemOptions = {}) {
    this.k = k;
    this.mem = k.mem;
    this.P = k.model.ptrSize;
    this.lp64 = this.P === 8;
    this.pageSize = k.pageSize;
    this.arenas = arenas;
    const hs = this.mem.segmentOf(k.layout.heapBase);
    const ds = this.mem.segmentOf(k.layout.dataBase);
    if (!hs || !ds) throw new Error('kmem: no heap or data segment');
    this.hBase = hs.base;
    this.hSize = hs.size;
    this.h32 = hs.u32;
    this.h8 = hs.u8;
    this.h64 = hs.f64;
    this.hi32 = hs.i32;
    const pat = new Float64Array(1);
    const pat32 = new Uint32Array(pat.buffer);
    pat32[0] = pat32[1] = KMEM_FREE_PATTERN32;
    this.pFree64 = pat[0]!;
    pat32[0] = pat32[1] = KMEM_UNINITIALIZED_PATTERN32;
    this.pUninit64 = pat[0]!;
    this.hProt = hs.prot;
    this.wordPathsOn = opts.wordPaths !== false && this.lp64 && hs.base === HeapLp64.BASE && hs.size <= 0x80000000;
    this.dBase = ds.base;
    this.dSize = ds.size;
    this.d32 = ds.u32;
    this.dProt = ds.prot;
    for (const a of [arenas.kmem_msb, arenas.kmem_cache, arenas.kmem_hash, arenas.kmem_log, arenas.kmem_oversize, arenas.kmem_default, arenas.kmem_firewall]) {
      if (a) this.arenaByAddr.set(a.addr, a);
    }
    declareKmemTypes(k.types, k.ncpus);
    const T = k.types;
    const off = (t: string, m: string) => T.offsetof(t, m);
    const C = 'kmem_cache_t';
    this.ccOff = off(C, 'cache_cpu');
    const CC = 'kmem_cpu_cache_t';
    this.ccAlloc = off(CC, 'cc_alloc');
    this.ccFree = off(CC, 'cc_free');
    this.ccLoaded = off(CC, 'cc_loaded');
    this.ccPloaded = off(CC, 'cc_ploaded');
    this.ccFlags = off(CC, 'cc_flags');
    this.ccRounds = off(CC, 'cc_rounds');
    this.ccMagsize = off(CC, 'cc_magsize');
    if (off(CC, 'cc_prounds') !== this.ccRounds + 2 || this.ccRounds % 4 !== 0 || this.ccMagsize % 4 !== 0) {
      throw new Error('kmem: unexpected kmem_cpu_cache_t layout');
    }
    if ((this.ccOff | this.ccFlags | this.ccLoaded | this.ccAlloc | this.ccFree) % 4 !== 0 || (this.ccLoaded % this.P) !== 0) {
      throw new Error('kmem: unexpected kmem_cpu_cache_t alignment');
    }
    this.iRounds = this.ccRounds >> 2;
    this.iLoaded = this.ccLoaded >> 2;
    if (this.wordPathsOn && (this.ccOff !== CacheWord.CPU_B || this.ccAlloc !== CpuCacheWord.ALLOC * 4 || this.ccFree !== CpuCacheWord.FREE * 4 || this.ccLoaded !== CpuCacheWord.LOADED * 4 ||
        this.ccPloaded !== CpuCacheWord.PLOADED * 4 || this.ccFlags !== CpuCacheWord.FLAGS * 4 || this.ccRounds !== CpuCacheWord.ROUNDS * 4 || this.ccMagsize !== CpuCacheWord.MAGSIZE * 4)) {
      throw new Error('kmem: kmem_cpu_cache_t / kmem_cache_t layout differs from the fast paths\' constants');
    }
    this.cacheSize = T.size(C);
    this.O = kmemOffsets(T);
    const O = this.O;
    this.mlSize = T.size('kmem_maglist_t');
    if (this.lp64 && (O.ml_list | O.ml_total | O.ml_min | O.ml_alloc | this.ccPloaded) % 8 !== 0) throw new Error('kmem: unexpected kmem_maglist_t layout');
    this.slabSize = T.size('kmem_slab_t');
    this.bcSize = T.size('kmem_bufctl_t');
    this.bcaSize = T.size('kmem_bufctl_audit_t');
    this.btSize = T.size('kmem_buftag_t');
    this.btBufctl = off('kmem_buftag_t', 'bt_bufctl');
    this.btBxstat = off('kmem_buftag_t', 'bt_bxstat');
    this.btHistory = off('kmem_buftag_lite_t', 'bt_history');
    this.bcStack = off('kmem_bufctl_audit_t', 'bc_stack');
    this.lhCpu = off('kmem_log_header_t', 'lh_cpu');
    if (this.wordPathsOn && (this.O.cache_constructor !== CacheWord.CTOR * 4 || this.O.cache_destructor !== CacheWord.DTOR * 4 || this.O.cache_flags !== CacheWord.FLAGS * 4 ||
        this.O.cache_mtbf !== CacheWord.MTBF * 4 || this.O.cache_buftag !== CacheWord.BUFTAG * 4 || this.O.cache_verify !== CacheWord.VERIFY * 4 ||
        this.O.cache_full !== CacheWord.FULL_B || this.O.cache_empty !== CacheWord.EMPTY_B || this.btBufctl !== BuftagWord.BUFCTL * 4 ||
        this.btBxstat !== BuftagWord.BXSTAT * 4 || this.btSize !== BuftagWord.SIZE_B || this.O.bc_addr !== BufctlWord.ADDR * 4 ||
        this.O.cache_contents !== CacheWord.CONTENTS * 4 || this.O.ml_list !== MaglistWord.LIST * 4 || this.O.ml_total !== MaglistWord.TOTAL * 4 ||
        this.O.ml_min !== MaglistWord.MIN * 4 || this.O.ml_alloc !== MaglistWord.ALLOC * 4 || this.mlSize !== MaglistWord.SIZE_B || CacheWord.EMPTY_B !== CacheWord.FULL_B + MaglistWord.SIZE_B || this.O.bc_lastlog !== BufctlWord.LASTLOG * 4 || this.O.bc_contents !== BufctlWord.CONTENTS_B)) {
      throw new Error('kmem: kmem_cache_t / buftag layout differs from the fast paths\' constants');
    }
    this.hLim = this.wordPathsOn ? this.hSize : 0;

    this.FN = { ...k.fns(FN_SIZES) };
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
    this.walkMax = Math.max(DEADMAN_SPINS, Math.floor(this.hSize / 8));
    this.slabWalkMax = Math.floor(this.hSize / 4096) + 1;
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

  /** Whether the word-index fast paths are in use (LP64 standard layout, not turned off). */
  get wordPaths(): boolean {
    return this.wordPathsOn;
  }

  /* =================================================================== */
  /* memory helpers (numbers only, no BigInt)                             */
  /* =================================================================== */

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
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && (o & 3) === 0 && this.hProt[o >>> 12] !== 0) return this.h32[o >>> 2]!;
    return this.ld32x(a);
  }

  /** ld32 outside the heap. */
  private ld32x(a: number): number {
    const o = a - this.dBase;
    if (o >= 0 && o < this.dSize && (o & 3) === 0 && this.dProt[o >>> 12] !== 0) return this.d32[o >>> 2]!;
    return this.mem.load32(a);
  }

  /** 32-bit store. */
  st32(a: number, v: number): void {
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && (o & 3) === 0 && this.hProt[o >>> 12] === PROT_RW) this.h32[o >>> 2] = v;
    else this.st32x(a, v);
  }

  /** st32 outside the heap. */
  private st32x(a: number, v: number): void {
    const o = a - this.dBase;
    if (o >= 0 && o < this.dSize && (o & 3) === 0 && this.dProt[o >>> 12] === PROT_RW) this.d32[o >>> 2] = v;
    else this.mem.store32(a, v);
  }

  /** Load a pointer (or size_t / unsigned long). */
  ldp(a: number): number {
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && (o & 7) === 0 && this.hProt[o >>> 12] !== 0 && this.lp64) {
      const i = o >>> 2;
      return (this.h32[i + 1]! | 0) * TWO32 + this.h32[i]!;
    }
    return this.ldpx(a);
  }

  /** ldp outside the heap (or ILP32). */
  private ldpx(a: number): number {
    if (!this.lp64) return this.ld32(a);
    const o = a - this.dBase;
    if (o >= 0 && o < this.dSize && (o & 7) === 0 && this.dProt[o >>> 12] !== 0) {
      const i = o >>> 2;
      return (this.d32[i + 1]! | 0) * TWO32 + this.d32[i]!;
    }
    return (this.mem.load32(a + 4) | 0) * TWO32 + this.mem.load32(a);
  }

  /** Store a pointer-sized value. */
  stp(a: number, v: number): void {
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && (o & 7) === 0 && this.hProt[o >>> 12] === PROT_RW && this.lp64) {
      const i = o >>> 2;
      const hi = Math.floor(v / TWO32);
      this.h32[i] = v - hi * TWO32;
      this.h32[i + 1] = hi;
    } else {
      this.stpx(a, v);
    }
  }

  /** stp outside the heap (or ILP32). */
  private stpx(a: number, v: number): void {
    if (!this.lp64) {
      this.st32(a, v >>> 0);
      return;
    }
    const hi = Math.floor(v / TWO32);
    const lo = v - hi * TWO32;
    const o = a - this.dBase;
    if (o >= 0 && o < this.dSize && (o & 7) === 0 && this.dProt[o >>> 12] === PROT_RW) {
      const i = o >>> 2;
      this.d32[i] = lo;
      this.d32[i + 1] = hi;
    } else {
      this.mem.store32(a, lo);
      this.mem.store32(a + 4, hi >>> 0);
    }
  }

  /** Store a pointer-sized value at word index i of u (no checks: the caller has them). */
  private putp(u: Uint32Array, i: number, v: number): void {
    if (this.lp64) {
      const hi = Math.floor(v / TWO32);
      u[i] = v - hi * TWO32;
      u[i + 1] = hi;
    } else {
      u[i] = v;
    }
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

  private add64(a: number, d: number): void {
    this.st64(a, this.ld64(a) + d);
  }

  /** Is the 64-bit word at a equal to the 32-bit pattern repeated? */
  private is64(a: number, pat: number): boolean {
    return this.ld32(a) === pat && this.ld32(a + 4) === pat;
  }

  private fillPattern(a: number, len: number, pat: number): void {
    if (len <= 0) return;
    const n = len - (len % 8);
    const i = this.heapWords(a, n, true);
    if (i >= 0) this.h32.fill(pat, i, i + (n >>> 2));
    else this.mem.fill32(a, n, pat);
  }

  /**
   * Word index of [a, a + len) in the heap view when the range is in the
   * heap, 4-aligned and on pages that all allow the access (so a loop over
   * it cannot fault); -1 otherwise (the caller takes the checked path).
   */
  private heapWords(a: number, len: number, write: boolean): number {
    const o = a - this.hBase;
    if (!(o >= 0 && len >= 0 && o + len <= this.hSize && (o & 3) === 0)) return -1;
    const m = len > 0 ? len : 1;
    return (write ? this.pagesRW(o, m) : this.pagesR(o, m)) ? o >>> 2 : -1;
  }

  /** 8-bit load / store (heap direct, else the machine). */
  private ld8(a: number): number {
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && this.hProt[o >>> 12] !== 0) return this.h8[o]!;
    return this.mem.load8(a);
  }

  private st8(a: number, v: number): void {
    const o = a - this.hBase;
    if (o >= 0 && o < this.hSize && this.hProt[o >>> 12] === PROT_RW) this.h8[o] = v;
    else this.mem.store8(a, v);
  }

  /* ---- bxstat: (intptr)bcp ^ constant (constant affects the low word) ---- */

  private setBxstat(btp: number, bcp: number, c: number): void {
    const a = btp + this.btBxstat;
    const hi = Math.floor(bcp / TWO32);
    this.st32(a, ((bcp - hi * TWO32) ^ c) >>> 0);
    if (this.lp64) this.st32(a + 4, hi >>> 0);
  }

  private bxstatIs(btp: number, bcp: number, c: number): boolean {
    const a = btp + this.btBxstat;
    const hi = Math.floor(bcp / TWO32);
    if (this.ld32(a) !== ((bcp - hi * TWO32) ^ c) >>> 0) return false;
    return !this.lp64 || this.ld32(a + 4) === hi >>> 0;
  }

  private setRedzone(btp: number): void {
    this.st32(btp, KMEM_REDZONE_PATTERN32);
    this.st32(btp + 4, KMEM_REDZONE_PATTERN32);
  }

  /* =================================================================== */
  /* list_t and the partial-slab tree                                     */
  /* =================================================================== */

  private listCreate(list: number, size: number, offset: number): void {
    const O = this.O;
    this.stp(list + O.list_size, size);
    this.stp(list + O.list_offset, offset);
    const head = list + O.list_head;
    this.stp(head, head);
    this.stp(head + this.P, head);
  }

  private listInsertAfter(node: number, after: number): void {
    const P = this.P;
    const next = this.ldp(after);
    this.stp(node, next);
    this.stp(node + P, after);
    this.stp(next + P, node);
    this.stp(after, node);
  }

  private listInsertTail(list: number, obj: number, offset: number): void {
    const head = list + this.O.list_head;
    this.listInsertAfter(obj + offset, this.ldp(head + this.P));
  }

  private listInsertHead(list: number, obj: number, offset: number): void {
    this.listInsertAfter(obj + offset, list + this.O.list_head);
  }

  private listRemove(obj: number, offset: number): void {
    const P = this.P;
    const node = obj + offset;
    const next = this.ldp(node);
    const prev = this.ldp(node + P);
    this.stp(prev, next);
    this.stp(next + P, prev);
    this.stp(node, 0);
    this.stp(node + P, 0);
  }

  /** Next object after obj (or the first when obj is 0); 0 at the end. */
  private listNext(list: number, obj: number, offset: number): number {
    const head = list + this.O.list_head;
    const n = this.ldp(obj === 0 ? head : obj + offset);
    return n === head ? 0 : n - offset;
  }

  private listPrev(list: number, obj: number, offset: number): number {
    const head = list + this.O.list_head;
    const n = this.ldp((obj === 0 ? head : obj + offset) + this.P);
    return n === head ? 0 : n - offset;
  }

  /** illumos KMEM_PARTIAL_SLAB_WEIGHT, NOMOVE slabs first. */
  private slabWeight(sp: number, binshift: number, maxchunks: number): number {
    const O = this.O;
    const refcnt = this.ldl(sp + O.slab_refcnt);
    const chunks = this.ldl(sp + O.slab_chunks);
    let w = refcnt <= binshift || chunks - refcnt <= binshift ? -refcnt : -(binshift + Math.floor(refcnt / 2 ** binshift));
    if (this.mem.load16(sp + O.slab_flags) & KMEM_SLAB_NOMOVE) w -= maxchunks;
    return w;
  }

  /** kmem_partial_slab_cmp: <0 if s0 sorts before s1. */
  private slabCmp(cp: number, s0: number, s1: number): number {
    const bs = this.ldp(cp + this.O.cache_partial_binshift);
    const mc = this.ldp(cp + this.O.cache_maxchunks);
    const w0 = this.slabWeight(s0, bs, mc);
    const w1 = this.slabWeight(s1, bs, mc);
    if (w0 !== w1) return w0 < w1 ? -1 : 1;
    return s0 < s1 ? -1 : s0 > s1 ? 1 : 0;
  }

  /* The partial-slab "AVL tree", kept as a right spine (see theory). */

  private avlFirst(tree: number): number {
    const root = this.ldp(tree + this.O.avl_root);
    return root === 0 ? 0 : root - this.ldp(tree + this.O.avl_offset);
  }

  private avlNextNode(node: number): number {
    return this.ldp(node + this.P);
  }

  private avlPrevNode(node: number): number {
    return p2align(this.ldp(node + 2 * this.P), 8);
  }

  private avlLink(tree: number, node: number, prev: number, next: number): void {
    const P = this.P;
    this.stp(node, 0);
    this.stp(node + P, next);
    this.stp(node + 2 * P, prev === 0 ? 1 : prev + 5);
    if (prev === 0) this.stp(tree + this.O.avl_root, node);
    else this.stp(prev + P, node);
    if (next !== 0) this.stp(next + 2 * P, node + 5);
  }

  private avlAdd(cp: number, tree: number, sp: number, from = 0): void {
    const off = this.ldp(tree + this.O.avl_offset);
    let prev = from === 0 ? 0 : this.avlPrevNode(from);
    let cur = from === 0 ? this.ldp(tree + this.O.avl_root) : from;
    for (let n = 0; cur !== 0 && this.slabCmp(cp, cur - off, sp) < 0; n++) {
      if (n >= this.slabWalkMax) this.k.deadman();
      prev = cur;
      cur = this.avlNextNode(cur);
    }
    this.avlLink(tree, sp + off, prev, cur);
    this.stp(tree + this.O.avl_numnodes, this.ldp(tree + this.O.avl_numnodes) + 1);
  }

  private avlRemove(tree: number, sp: number): void {
    const P = this.P;
    const node = sp + this.ldp(tree + this.O.avl_offset);
    const prev = this.avlPrevNode(node);
    const next = this.avlNextNode(node);
    if (prev === 0) this.stp(tree + this.O.avl_root, next);
    else this.stp(prev + P, next);
    if (next !== 0) this.stp(next + 2 * P, prev === 0 ? 1 : prev + 5);
    this.stp(node, 0);
    this.stp(node + P, 0);
    this.stp(node + 2 * P, 0);
    this.stp(tree + this.O.avl_numnodes, this.ldp(tree + this.O.avl_numnodes) - 1);
  }

  /** avl_update_gt: the slab's weight went up; move it right if needed. */
  private avlUpdateGt(cp: number, tree: number, sp: number): void {
    const off = this.ldp(tree + this.O.avl_offset);
    const next = this.avlNextNode(sp + off);
    if (next === 0 || this.slabCmp(cp, sp, next - off) <= 0) return;
    this.avlRemove(tree, sp);
    this.avlAdd(cp, tree, sp, next);
  }

  /* =================================================================== */
  /* boot                                                                 */
  /* =================================================================== */

  /** kmem_init: magazine and metadata caches first, then kmem_alloc caches and logs. */
  init(): void {
    const k = this.k;
    const mem = this.mem;
    const G = this.G;
    const d0 = k.depth;
    k.enter(this.pc.init);
    try {
      this.listCreate(G.kmem_caches, this.cacheSize, this.O.cache_link);
      const flags = this.ld32(G.kmem_flags);
      // magazine types
      for (let i = 0; i < KMEM_MAGTYPES.length; i++) {
        const [m, al, minb, maxb] = KMEM_MAGTYPES[i]!;
        const mtp = G.kmem_magtype + i * this.O.mt_size;
        mem.store16(mtp + this.O.mt_magsize, m);
        this.st32(mtp + this.O.mt_align, al);
        this.stp(mtp + this.O.mt_minbuf, minb);
        this.stp(mtp + this.O.mt_maxbuf, maxb);
      }
      const msb = this.arenas.kmem_msb;
      for (let i = 0; i < KMEM_MAGTYPES.length; i++) {
        const [m, al] = KMEM_MAGTYPES[i]!;
        const cp = this.kmem_cache_create(`kmem_magazine_${m}`, (m + 1) * this.P, { align: al, arena: msb, cflags: KMC_NOHASH }).addr;
        this.stp(G.kmem_magtype + i * this.O.mt_size + this.O.mt_cache, cp);
        this.magCaches.push(cp);
      }
      this.slabCache = this.kmem_cache_create('kmem_slab_cache', this.slabSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.bufctlCache = this.kmem_cache_create('kmem_bufctl_cache', this.bcSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.bufctlAuditCache = this.kmem_cache_create('kmem_bufctl_audit_cache', this.bcaSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.stp(G.kmem_slab_cache, this.slabCache);
      this.stp(G.kmem_bufctl_cache, this.bufctlCache);
      this.stp(G.kmem_bufctl_audit_cache, this.bufctlAuditCache);
      // vmem's quantum caches (kmem_va_4096 ...), then the kmem_alloc caches
      this.installQcaches?.(this.qcacheProvider());
      this.allocCachesCreate(KMEM_ALLOC_SIZES, G.kmem_alloc_table, KMEM_MAXBUF_LIMIT, 3);
      this.allocCachesCreate(KMEM_BIG_ALLOC_SIZES, G.kmem_big_alloc_table, this.maxCached, KMEM_BIG_SHIFT);
      // logs
      const lsz = this.logSize;
      if (flags & (KMF_AUDIT | KMF_RANDOMIZE)) this.stp(G.kmem_transaction_log, this.logInit(lsz));
      if (flags & (KMF_CONTENTS | KMF_RANDOMIZE)) this.stp(G.kmem_content_log, this.logInit(lsz));
      this.stp(G.kmem_failure_log, this.logInit(0));
      this.stp(G.kmem_slab_log, this.logInit(0));
      this.stp(G.kmem_zerosized_log, this.logInit(0));
      // boot messages
      const supported = KMF_AUDIT | KMF_DEADBEEF | KMF_REDZONE | KMF_CONTENTS | KMF_LITE;
      if (flags & ~supported || ((flags & KMF_LITE) && flags !== KMF_LITE)) {
        k.cmnErr('warn', `kmem_flags set to unsupported value 0x${(flags >>> 0).toString(16)}. See the Solaris Tunable Parameters Reference Manual.`);
      } else if ((flags & (KMF_AUDIT | KMF_DEADBEEF)) && !(flags & KMF_LITE)) {
        k.cmnErr(
          'warn',
          `High-overhead kmem debugging features enabled (kmem_flags = 0x${(flags >>> 0).toString(16)}).  Performance degradation and large memory overhead possible. See the Solaris Tunable Parameters Reference Manual.`,
        );
      }
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_mp_init: enable magazines everywhere, start kmem_update. */
  ready(): void {
    const k = this.k;
    this.st32(this.G.kmem_ready, 1);
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) this.magazineEnable(cp);
    this.taskThread = k.createThread('kmem_taskq');
    this.scheduleUpdate();
  }

  private scheduleUpdate(): void {
    const t = this.taskThread;
    if (!t) return;
    this.k.timeout(t, KMEM_REAP_INTERVAL_NS, () => {
      this.kmem_update();
      this.scheduleUpdate();
    });
  }

  /** The QcacheProvider vmem uses for quantum caches. */
  qcacheProvider(): QcacheProvider {
    return {
      create: (arena: VmemArena, name: string, size: number, align: number, slabSize: number): QcacheHandle => {
        this.arenaByAddr.set(arena.addr, arena);
        const c = this.kmem_cache_create(name, size, { align, arena, cflags: KMC_QCACHE | KMC_NOTOUCH, qcacheSlabSize: slabSize });
        const cp = c.addr;
        return {
          addr: cp,
          alloc: (vmflag: number) => this.kmem_cache_alloc(cp, vmflag & KM_VMFLAGS),
          free: (addr: number) => this.kmem_cache_free(cp, addr),
          destroy: () => this.kmem_cache_destroy(cp),
        };
      },
      reap: (identifier: boolean) => this.kmem_reap(false, identifier),
    };
  }

  private allocCachesCreate(sizes: readonly number[], table: number, maxbuf: number, shift: number): void {
    const unit = 1 << shift;
    let size = unit;
    for (const csize of sizes) {
      if (size > maxbuf) break;
      let align = KMEM_ALIGN;
      if (csize % 64 === 0) align = 64;
      if (csize % this.pageSize === 0) align = this.pageSize;
      const cp = this.kmem_cache_create(`kmem_alloc_${csize}`, csize, { align, cflags: KMC_KMEM_ALLOC }).addr;
      while (size <= csize) {
        this.stp(table + ((size - 1) >> shift) * this.P, cp);
        size += unit;
      }
    }
  }

  /* =================================================================== */
  /* cache creation and destruction                                       */
  /* =================================================================== */

  cacheFirst(): number {
    return this.listNext(this.G.kmem_caches, 0, this.O.cache_link);
  }

  cacheNext(cp: number): number {
    return this.listNext(this.G.kmem_caches, cp, this.O.cache_link);
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

  /** All caches, in creation order. */
  caches(): KmemCache[] {
    const out: KmemCache[] = [];
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) out.push(new KmemCache(this, cp, this.cacheName(cp)));
    return out;
  }

  cacheByName(name: string): KmemCache | undefined {
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) if (this.cacheName(cp) === name) return new KmemCache(this, cp, name);
    return undefined;
  }

  arenaOf(cp: number): VmemArena {
    const a = this.arenaByAddr.get(this.ldp(cp + this.O.cache_arena));
    if (!a) throw new Error(`kmem: cache ${hex(cp)} has an unknown arena`);
    return a;
  }

  kmem_cache_create(name: string, size: number, opts: CacheCreateOptions = {}): KmemCache {
    const k = this.k;
    const mem = this.mem;
    const O = this.O;
    const P = this.P;
    const d0 = k.depth;
    k.enter(this.pc.cache_create);
    try {
      let vmp = opts.arena ?? this.arenas.kmem_default;
      this.arenaByAddr.set(vmp.addr, vmp);
      let cflags = opts.cflags ?? 0;
      if (this.arenaCflags(vmp) & VMC_IDENTIFIER) cflags |= KMC_IDENTIFIER;
      let align = opts.align ?? 0;
      if (align === 0) align = KMEM_ALIGN;
      if (align < KMEM_ALIGN) cflags |= KMC_NOTOUCH;
      if (!isPow2(align) || align > vmp.quantum) k.panic(`kmem_cache_create: bad alignment ${align}`);

      // flags (spec §1.4)
      let kf = this.ld32(this.G.kmem_flags);
      if (kf & KMF_RANDOMIZE) {
        kf = ((((kf | ~KMF_RANDOM) + 1) & KMF_RANDOM) | KMF_RANDOMIZE) >>> 0;
        this.st32(this.G.kmem_flags, kf);
      }
      let flags = (kf | cflags) & KMF_DEBUG;
      if (flags & KMF_LITE) {
        if (size >= this.ldp(this.G.kmem_lite_minsize) && align <= this.ldp(this.G.kmem_lite_maxalign) && size % this.ldp(this.G.kmem_lite_maxalign) !== 0) {
          flags |= KMF_BUFTAG;
          flags &= ~(KMF_AUDIT | KMF_FIREWALL);
        } else {
          flags &= ~KMF_DEBUG;
        }
      }
      if (flags & KMF_DEADBEEF) flags |= KMF_REDZONE;
      if ((cflags & KMC_QCACHE) && (flags & KMF_AUDIT)) flags |= KMF_NOMAGAZINE;
      if (cflags & KMC_NODEBUG) flags &= ~KMF_DEBUG;
      if (cflags & KMC_NOTOUCH) flags &= ~KMF_TOUCH;
      if (cflags & KMC_PREFILL) flags |= KMF_PREFILL;
      if (cflags & KMC_NOHASH) flags &= ~(KMF_AUDIT | KMF_FIREWALL);
      if (cflags & KMC_NOMAGAZINE) flags |= KMF_NOMAGAZINE;
      if ((flags & KMF_AUDIT) && !(cflags & KMC_NOTOUCH)) flags |= KMF_REDZONE;
      if (!(flags & KMF_AUDIT)) flags &= ~KMF_CONTENTS;
      const minfw = this.ldp(this.G.kmem_minfirewall);
      if ((flags & KMF_BUFTAG) && size >= minfw && !(flags & KMF_LITE) && !(cflags & KMC_NOHASH)) flags |= KMF_FIREWALL;
      if (vmp !== this.arenas.kmem_default || !this.arenas.kmem_firewall) flags &= ~KMF_FIREWALL;
      if (flags & KMF_FIREWALL) {
        flags &= ~KMF_BUFTAG;
        flags |= KMF_NOMAGAZINE;
        vmp = this.arenas.kmem_firewall!;
        this.arenaByAddr.set(vmp.addr, vmp);
      }

      // the cache struct, with cache_cpu 64-byte aligned
      const csize = this.cacheSize;
      const phase = mod(-(this.ccOff % KMEM_CPU_CACHE_SIZE), KMEM_CPU_CACHE_SIZE);
      const cp = this.arenas.kmem_cache.xalloc(p2roundup(csize, 8), KMEM_CPU_CACHE_SIZE, phase, 0, 0, 0, 0);
      if (cp === 0) k.panic('kmem_cache_create: no memory for the cache structure');
      mem.fill32(cp, p2roundup(csize, 8), 0);

      k.writeString(cp + O.cache_name, canonName(name), 32);
      this.stp(cp + O.cache_bufsize, size);
      this.stp(cp + O.cache_align, align);
      const cb: Callbacks = { ctor: opts.ctor, dtor: opts.dtor, reclaim: opts.reclaim };
      if (cb.ctor) this.stp(cp + O.cache_constructor, this.FN.kmem_ctor_stub);
      if (cb.dtor) this.stp(cp + O.cache_destructor, this.FN.kmem_dtor_stub);
      if (cb.reclaim) this.stp(cp + O.cache_reclaim, this.FN.kmem_reclaim_stub);
      if (cb.ctor || cb.dtor || cb.reclaim) this.callbacks.set(cp, cb);
      this.stp(cp + O.cache_private, opts.private ?? 0);
      this.stp(cp + O.cache_arena, vmp.addr);
      this.st32(cp + O.cache_cflags, cflags);
      if (cb.ctor && (flags & KMF_PREFILL)) flags &= ~KMF_PREFILL;
      this.st32(cp + O.cache_flags, flags);
      this.stp(cp + O.cache_bufctl_cache, flags & KMF_AUDIT ? this.bufctlAuditCache : this.bufctlCache);

      // chunk size (spec §2.1)
      let chunksize = size;
      let bufctl = 0;
      let buftag = 0;
      if (align >= KMEM_ALIGN) {
        chunksize = p2roundup(chunksize, KMEM_ALIGN);
        bufctl = chunksize - KMEM_ALIGN;
      }
      const liteCount = this.ld32(this.G.kmem_lite_count);
      if (flags & KMF_BUFTAG) {
        bufctl = chunksize;
        buftag = chunksize;
        chunksize += flags & KMF_LITE ? this.btHistory + liteCount * P : this.btSize;
      }
      let verify = 0;
      if (flags & KMF_DEADBEEF) {
        verify = Math.min(buftag, this.ldp(this.G.kmem_maxverify));
        if (flags & KMF_LITE) verify = 8;
      }
      const contents = Math.min(bufctl, this.ldp(this.G.kmem_content_maxsave));
      chunksize = p2roundup(chunksize, align);
      this.stp(cp + O.cache_bufctl, bufctl);
      this.stp(cp + O.cache_buftag, buftag);
      this.stp(cp + O.cache_verify, verify);
      this.stp(cp + O.cache_contents, contents);
      this.stp(cp + O.cache_chunksize, chunksize);

      // slab size (spec §3.8)
      const q = vmp.quantum;
      let slabsize: number;
      let mincolor = 0;
      let maxcolor: number;
      if (vmp === this.arenas.kmem_firewall) {
        slabsize = p2roundup(chunksize, q);
        mincolor = slabsize - chunksize;
        maxcolor = mincolor;
        flags |= KMF_HASH;
      } else if ((cflags & KMC_NOHASH) || (!(cflags & KMC_NOTOUCH) && !(flags & KMF_AUDIT) && chunksize < q / KMEM_VOID_FRACTION)) {
        slabsize = q;
        maxcolor = (slabsize - this.slabSize) % chunksize;
      } else {
        let bestfit = 0;
        let minwaste = Infinity;
        for (let chunks = 1; chunks <= KMEM_VOID_FRACTION; chunks++) {
          const ss = p2roundup(chunksize * chunks, q);
          const n = Math.floor(ss / chunksize);
          const waste = Math.floor((ss % chunksize) / n);
          if (waste < minwaste) {
            minwaste = waste;
            bestfit = ss;
          }
        }
        if (cflags & KMC_QCACHE && opts.qcacheSlabSize) bestfit = opts.qcacheSlabSize;
        slabsize = bestfit;
        maxcolor = bestfit % chunksize;
        flags |= KMF_HASH;
      }
      this.st32(cp + O.cache_flags, flags);
      const maxchunks = Math.floor(slabsize / chunksize);
      this.stp(cp + O.cache_slabsize, slabsize);
      this.stp(cp + O.cache_maxchunks, maxchunks);
      this.stp(cp + O.cache_partial_binshift, highbit(Math.floor(maxchunks / 16)) + 1);
      if (maxcolor >= q) maxcolor = q - 1;
      this.stp(cp + O.cache_mincolor, mincolor);
      this.stp(cp + O.cache_maxcolor, maxcolor);
      this.stp(cp + O.cache_color, mincolor);

      // slab lists
      this.listCreate(cp + O.cache_complete_slabs, this.slabSize, O.slab_link);
      const tree = cp + O.cache_partial_slabs;
      this.stp(tree + O.avl_compar, this.FN.kmem_partial_slab_cmp);
      this.stp(tree + O.avl_offset, O.slab_link);
      this.stp(tree + O.avl_size, this.slabSize);

      if (flags & KMF_HASH) {
        const ht = this.arenas.kmem_hash.alloc(KMEM_HASH_INITIAL * P, 0);
        if (ht === 0) k.panic('kmem_cache_create: no memory for the hash table');
        mem.fill32(ht, KMEM_HASH_INITIAL * P, 0);
        this.stp(cp + O.cache_hash_table, ht);
        this.stp(cp + O.cache_hash_mask, KMEM_HASH_INITIAL - 1);
        this.st32(cp + O.cache_hash_shift, highbit(chunksize) - 1);
      }

      // depot: first magazine type whose minbuf is below the chunk size
      let mt = 0;
      while (chunksize <= KMEM_MAGTYPES[mt]![2]) mt++;
      this.stp(cp + O.cache_magtype, this.G.kmem_magtype + mt * O.mt_size);

      // CPU layer
      for (let c = 0; c < k.ncpus; c++) {
        const ccp = cp + this.ccOff + c * KMEM_CPU_CACHE_SIZE;
        this.st32(ccp + this.ccFlags, flags);
        this.st32(ccp + this.ccRounds, 0xffffffff); // rounds = prounds = -1
      }

      this.listInsertTail(this.G.kmem_caches, cp, O.cache_link);
      if (this.ld32(this.G.kmem_ready)) this.magazineEnable(cp);
      return new KmemCache(this, cp, this.cacheName(cp));
    } finally {
      k.depth = d0;
    }
  }

  private arenaCflags(vmp: VmemArena): number {
    const T = this.k.types;
    if (T.find('vmem_t') === undefined) return 0;
    try {
      return this.ld32(vmp.addr + T.offsetof('vmem_t', 'vm_cflags'));
    } catch {
      return 0;
    }
  }

  private magazineEnable(cp: number): void {
    if (this.cacheFlags(cp) & KMF_NOMAGAZINE) return;
    const magsize = this.mem.load16(this.ldp(cp + this.O.cache_magtype) + this.O.mt_magsize);
    for (let c = 0; c < this.k.ncpus; c++) {
      const ccp = cp + this.ccOff + c * KMEM_CPU_CACHE_SIZE;
      this.mem.store16(ccp + this.ccMagsize, magsize);
    }
  }

  kmem_cache_destroy(cp: number): void {
    const k = this.k;
    const O = this.O;
    const d0 = k.depth;
    k.enter(this.pc.cache_destroy);
    try {
      this.listRemove(cp, O.cache_link);
      this.magazinePurge(cp);
      if (this.ld64(cp + O.cache_buftotal) !== 0) {
        k.cmnErr('warn', `kmem_cache_destroy: '${this.cacheName(cp)}' (${hex0xp(cp)}) not empty`);
      }
      // land mines
      this.stp(cp + O.cache_constructor, 1);
      this.stp(cp + O.cache_destructor, 2);
      this.stp(cp + O.cache_reclaim, 3);
      this.stp(cp + O.cache_move, 4);
      this.callbacks.delete(cp);
      this.depotLast.delete(cp - this.hBase);
      if (this.depotLastCp === cp - this.hBase) this.depotLastRec = undefined;
      const ht = this.ldp(cp + O.cache_hash_table);
      if (ht !== 0) this.arenas.kmem_hash.free(ht, (this.ldp(cp + O.cache_hash_mask) + 1) * this.P);
      this.arenas.kmem_cache.xfree(cp, p2roundup(this.cacheSize, 8));
    } finally {
      k.depth = d0;
    }
  }

  /* =================================================================== */
  /* the CPU layer: kmem_cache_alloc / kmem_cache_free                    */
  /* =================================================================== */

  /*
   * Two ways through every operation (docs/kmem.md, "Fast paths"): the
   * word-index paths below (popAt / pushAt for a plain cache's round,
   * allocW / freeW for debug caches and refills, magRefill for the depot),
   * which check everything they touch on the heap view first and change
   * nothing when anything is unusual; and the checked paths (allocSlow /
   * freeSlow and what they call), which do all of it through the checked
   * loads and stores and make every report.  test/kmem/wordpaths.test.ts
   * holds them to the same memory image.
   */

  /** kmem_cache_alloc: magazine fast path (LP64 heap words); then allocW; everything else in allocSlow. */
  kmem_cache_alloc(cp: number, kmflag: number): number {
    const c = cp + (HeapLp64.NEG + CacheWord.CPU_B);
    if (c >= 0 && c < this.hLim && (c | 0) === c) {
      // (an integer below hLim < 2^31: the CPU offset is an integer add;
      // anything else, a fraction included, is the checked path's to judge)
      const o = c + this.cpuOff;
      let r = this.popAt(o);
      if (r === -1) r = this.allocW(o, kmflag);
      if (r >= 0) return r + HeapLp64.BASE;
      if (r === -2) return 0;
    }
    return this.allocSlow(cp, kmflag);
  }

  /** kmem_cache_free: magazine fast path (LP64 heap words); then freeW; everything else in freeSlow. */
  kmem_cache_free(cp: number, buf: number): void {
    const c = cp + (HeapLp64.NEG + CacheWord.CPU_B);
    const bo = buf + HeapLp64.NEG;
    if (c >= 0 && c < this.hLim && bo >= 0 && bo < this.hLim && (c | 0) === c && (bo | 0) === bo) {
      const o = c + this.cpuOff;
      const r = this.pushAt(o, bo);
      if (r > 0 || (r === 0 && this.freeW(o, bo))) return;
    }
    this.freeSlow(cp, buf);
  }

  /*
   * The magazine fast paths, on heap offsets with the layout written in
   * (signed words: no uint32-to-double conversions).  o is the CPU cache's
   * heap offset, 0 <= o < hLim.
   *
   * The take and put of a round are written out here and again in allocW /
   * freeW on purpose: with a shared helper, kmem_cache_alloc and
   * kmem_cache_free together exceed V8's inlining budget (920 bytes of
   * bytecode per caller) and stop being inlined into their callers (tried:
   * kmem went from 7.3 to 10.1 ns per operation, lifo64 from 9.6 to 20.4).
   */

  /**
   * Take a round from the loaded magazine of a plain cache: the buffer's
   * heap offset; -1 when the CPU cache is usable but this is not the plain
   * case (a debug cache, no rounds, a round that is no heap address: allocW
   * or the checked path); -3 when the CPU cache itself is not (unaligned,
   * not writable: the checked path).
   */
  private popAt(o: number): number {
    if ((o & 63) !== 0 || this.hProt[o >>> 12] !== HeapLp64.RW) return -3;
    const u = this.hi32;
    const ci = o >>> 2;
    const rw = u[ci + CpuCacheWord.ROUNDS]!;
    const rounds = (rw << 16) >> 16;
    if (rounds <= 0 || (u[ci + CpuCacheWord.FLAGS]! & CacheFlag.ALLOC_SLOW) !== 0 || u[ci + CpuCacheWord.LOADED + 1] !== HeapLp64.HI_I) return -1;
    const mo = u[ci + CpuCacheWord.LOADED]! + (rounds << 3);
    if (mo < 0 || mo >= this.hLim || (mo & 7) !== 0 || this.hProt[mo >>> 12] === 0) return -1;
    const mi = mo >>> 2;
    const b = u[mi]!;
    if (u[mi + 1] !== HeapLp64.HI_I || b < 0 || b >= this.hLim) return -1;
    u[ci + CpuCacheWord.ROUNDS] = rw - 1; // rounds > 0: no borrow into prounds
    const lo = (u[ci + CpuCacheWord.ALLOC]! + 1) | 0;
    u[ci + CpuCacheWord.ALLOC] = lo;
    if (lo === 0) u[ci + CpuCacheWord.ALLOC + 1]++;
    return b;
  }

  /**
   * Put the buffer at heap offset bo (0 <= bo < hLim) into the loaded
   * magazine of a plain cache: 1 done; 0 when the CPU cache is usable but
   * this is not the plain case (freeW); -3 when the CPU cache is not.
   */
  private pushAt(o: number, bo: number): number {
    if ((o & 63) !== 0 || this.hProt[o >>> 12] !== HeapLp64.RW) return -3;
    const u = this.hi32;
    const ci = o >>> 2;
    const rw = u[ci + CpuCacheWord.ROUNDS]!;
    const rounds = (rw << 16) >> 16;
    if ((u[ci + CpuCacheWord.FLAGS]! & CacheFlag.FREE_SLOW) !== 0 || rounds < 0 || rounds >= (u[ci + CpuCacheWord.MAGSIZE]! & 0xffff) || u[ci + CpuCacheWord.LOADED + 1] !== HeapLp64.HI_I) return 0;
    const mo = u[ci + CpuCacheWord.LOADED]! + 8 + (rounds << 3);
    if (mo < 0 || mo >= this.hLim || (mo & 7) !== 0 || this.hProt[mo >>> 12] !== HeapLp64.RW) return 0;
    const mi = mo >>> 2;
    u[mi] = bo;
    u[mi + 1] = HeapLp64.HI_I;
    u[ci + CpuCacheWord.ROUNDS] = rw + 1; // rounds < magsize <= 0xffff: no carry into prounds
    const lo = (u[ci + CpuCacheWord.FREE]! + 1) | 0;
    u[ci + CpuCacheWord.FREE] = lo;
    if (lo === 0) u[ci + CpuCacheWord.FREE + 1]++;
    return 1;
  }

  /*
   * The rest of the CPU layer on the word-index path, with heap offsets
   * (small integers) instead of addresses, so that nothing is boxed:
   * rounds from a debug cache (with the debug checks), refills from the
   * previous magazine and the depot.  o is the CPU cache's heap offset,
   * already checked (in the heap, 64-aligned, writable).
   *
   * The debug checks are written inline (a call per operation costs more
   * than the checks): when the cache, the buffer, its buftag, bufctl and
   * verify range are in order on the heap view (no KMF_LITE, no mtbf, no
   * constructor or destructor to run) they do what allocDebug / freeDebug
   * do; anything wrong or unusual goes to the checked path with nothing
   * changed, which does the work and any reporting exactly as before.
   */

  /**
   * Allocate: the buffer's heap offset; -1 when the checked path must do
   * the work (nothing has been changed); -2 to return NULL (a KM_NOSLEEP
   * allocation met a corrupt buffer, already reported).
   */
  private allocW(o: number, kmflag: number): number {
    const u = this.hi32;
    const hp = this.hProt;
    const hs = this.hLim;
    const ci = o >>> 2;
    const cpo = o - (CacheWord.CPU_B + this.cpuOff);
    for (let spins = 0; ; spins++) {
      // (the turns so far go to allocSlow if it takes over: see spins)
      this.spins = spins;
      if (spins >= DEADMAN_SPINS) this.k.deadman();
      if (u[ci + CpuCacheWord.FLAGS]! & CacheFlag.DUMPUNSAFE) return -1;
      const rw = u[ci + CpuCacheWord.ROUNDS]!;
      const rounds = (rw << 16) >> 16;
      if (rounds <= 0) {
        if (this.magRefill(cpo, o, true) > 0) continue;
        return -1;
      }
      const mo = u[ci + CpuCacheWord.LOADED]! + (rounds << 3);
      if (u[ci + CpuCacheWord.LOADED + 1] !== HeapLp64.HI_I || mo < 0 || mo >= hs || (mo & 7) !== 0 || hp[mo >>> 12] === 0) return -1;
      const mi = mo >>> 2;
      const bo = u[mi]!;
      if (u[mi + 1] !== HeapLp64.HI_I || bo < 0 || bo >= hs) return -1; // a round that is no heap address: the checked path hands it out
      u[ci + CpuCacheWord.ROUNDS] = rw - 1;
      const lo = (u[ci + CpuCacheWord.ALLOC]! + 1) | 0;
      u[ci + CpuCacheWord.ALLOC] = lo;
      if (lo === 0) u[ci + CpuCacheWord.ALLOC + 1]++;
      this.spins = 0;
      if ((u[ci + CpuCacheWord.FLAGS]! & CacheFlag.BUFTAG) === 0) return bo;
      // kmem_cache_alloc_debug, when everything is in order (see above)
      fast: {
        const w = this.dbgTag(cpo, bo, true);
        if (w < 0) break fast;
        const ki = cpo >>> 2;
        const flags = u[ki + CacheWord.FLAGS]!;
        const n = u[ki + CacheWord.VERIFY]! & ~7;
        const bcLo = u[w + BuftagWord.BUFCTL]!;
        const bcHi = u[w + BuftagWord.BUFCTL + 1]!;
        if (u[w + BuftagWord.BXSTAT] !== (bcLo ^ Pattern.BUFTAG_FREE) || u[w + BuftagWord.BXSTAT + 1] !== bcHi) break fast;
        if (flags & CacheFlag.DEADBEEF) {
          // 64-bit words through the Float64Array view: the patterns are
          // ordinary finite doubles, so == is bit equality and stores keep the bits
          const f = this.h64;
          const fr = this.pFree64;
          const un = this.pUninit64;
          const i = bo >>> 3;
          const e = i + (n >>> 3);
          for (let j = i; j < e; j++) {
            if (f[j] !== fr) {
              for (let r = i; r < j; r++) f[r] = fr;
              break fast;
            }
            f[j] = un;
          }
        }
        u[w + BuftagWord.BXSTAT] = bcLo ^ Pattern.BUFTAG_ALLOC;
        u[w] = Pattern.REDZONE_I;
        u[w + 1] = Pattern.REDZONE_I;
        if (flags & CacheFlag.AUDIT) this.auditW(cpo, -1, bcLo >>> 0, bcHi >>> 0, flags);
        return bo;
      }
      if (this.allocDebugFramed(cpo + HeapLp64.BASE, bo + HeapLp64.BASE, kmflag, false, this.pc.cache_alloc_debug) === 0) return bo;
      if (kmflag & KM_NOSLEEP) return -2;
    }
  }

  /** Free the buffer at heap offset bo: true when done, false for the checked path (nothing changed). */
  private freeW(o: number, bo: number): boolean {
    const u = this.hi32;
    const ci = o >>> 2;
    const cpo = o - (CacheWord.CPU_B + this.cpuOff);
    const flags = u[ci + CpuCacheWord.FLAGS]!;
    if (flags & (CacheFlag.DUMPUNSAFE | CacheFlag.DUMPDIVERT)) return false;
    if (flags & CacheFlag.BUFTAG) {
      // kmem_cache_free_debug, when everything is in order (see above);
      // anything else: the checked path (nothing changed yet)
      const w = this.dbgTag(cpo, bo, false);
      if (w < 0) return false;
      const ki = cpo >>> 2;
      const cf = u[ki + CacheWord.FLAGS]!;
      const n = u[ki + CacheWord.VERIFY]! & ~7;
      const bcLo = u[w + BuftagWord.BUFCTL]!;
      const bcHi = u[w + BuftagWord.BUFCTL + 1]!;
      if (u[w + BuftagWord.BXSTAT] !== (bcLo ^ Pattern.BUFTAG_ALLOC) || u[w + BuftagWord.BXSTAT + 1] !== bcHi) return false;
      if (u[w] !== Pattern.REDZONE_I || u[w + 1] !== Pattern.REDZONE_I) return false;
      u[w + BuftagWord.BXSTAT] = bcLo ^ Pattern.BUFTAG_FREE;
      if (cf & CacheFlag.AUDIT) this.auditW(cpo, bo, bcLo >>> 0, bcHi >>> 0, cf);
      if (cf & CacheFlag.DEADBEEF) {
        // a loop of 64-bit stores: TypedArray fill is a builtin call, slower for a few dozen words
        const f = this.h64;
        const fr = this.pFree64;
        for (let j = bo >>> 3, e = j + (n >>> 3); j < e; j++) f[j] = fr;
      }
    }
    for (let spins = 0; ; spins++) {
      if (spins >= DEADMAN_SPINS) this.k.deadman();
      const rw = u[ci + CpuCacheWord.ROUNDS]!;
      const rounds = (rw << 16) >> 16;
      if (rounds >= 0 && rounds < (u[ci + CpuCacheWord.MAGSIZE]! & 0xffff)) {
        const mo = u[ci + CpuCacheWord.LOADED]! + 8 + (rounds << 3);
        if (u[ci + CpuCacheWord.LOADED + 1] === HeapLp64.HI_I && mo >= 0 && mo < this.hLim && (mo & 7) === 0 && this.hProt[mo >>> 12] === HeapLp64.RW) {
          const mi = mo >>> 2;
          u[mi] = bo;
          u[mi + 1] = HeapLp64.HI_I;
          u[ci + CpuCacheWord.ROUNDS] = rw + 1;
          const lo = (u[ci + CpuCacheWord.FREE]! + 1) | 0;
          u[ci + CpuCacheWord.FREE] = lo;
          if (lo === 0) u[ci + CpuCacheWord.FREE + 1]++;
          return true;
        }
      } else if (this.magRefill(cpo, o, false) > 0) {
        continue;
      }
      // the debug work is done: the checked magazine path takes it from here
      this.freeMag(cpo + HeapLp64.BASE, o + HeapLp64.BASE, bo + HeapLp64.BASE, spins);
      return true;
    }
  }

  /**
   * What the debug checks of an allocation (alloc) or a free have in common
   * on the word-index path: the cache struct readable, no KMF_LITE, no
   * DUMPUNSAFE, no constructor (alloc) or destructor (free) to run under
   * KMF_DEADBEEF, no mtbf (alloc), the buffer and its buftag aligned and
   * writable heap, the verify range writable, and under KMF_HASH a bufctl
   * whose bc_addr names the buffer.  Returns the buftag's word index, or -1
   * (the checked path does the work).  Reads only.
   */
  private dbgTag(cpo: number, bo: number, alloc: boolean): number {
    const u = this.hi32;
    const hp = this.hProt;
    const hs = this.hLim;
    const ce = cpo + this.cacheSize - 1;
    if (!(cpo >= 0 && ce < hs && (cpo & 7) === 0) || hp[cpo >>> 12] === 0 || hp[ce >>> 12] === 0) return -1;
    const ki = cpo >>> 2;
    const flags = u[ki + CacheWord.FLAGS]!;
    const bto = u[ki + CacheWord.BUFTAG]!;
    const n = u[ki + CacheWord.VERIFY]! & ~7;
    if (flags & (CacheFlag.LITE | CacheFlag.DUMPUNSAFE) || (u[ki + CacheWord.BUFTAG + 1]! | u[ki + CacheWord.VERIFY + 1]! | (bto & 7) | (bo & 7)) !== 0) return -1;
    const cb = ki + (alloc ? CacheWord.CTOR : CacheWord.DTOR);
    if (flags & CacheFlag.DEADBEEF && (u[cb]! | u[cb + 1]!) !== 0) return -1;
    if (alloc && (this.d32[this.iMtbf]! | u[ki + CacheWord.MTBF]!) !== 0) return -1;
    const bt = bo + bto;
    if (!(bt + BuftagWord.SIZE_B <= hs && bo + n <= hs) || hp[bt >>> 12] !== HeapLp64.RW || hp[(bt + BuftagWord.SIZE_B - 1) >>> 12] !== HeapLp64.RW) return -1;
    const w = bt >>> 2;
    if (flags & CacheFlag.HASH && !this.bufctlAddrIs(w, bo)) return -1;
    if (flags & CacheFlag.DEADBEEF && n > 0 && !this.pagesRW(bo, n)) return -1;
    return w;
  }

  /** KMF_HASH: the bufctl in the buftag at word w is heap whose bc_addr names the buffer at heap offset bo. */
  private bufctlAddrIs(w: number, bo: number): boolean {
    const u = this.hi32;
    const a = u[w + BuftagWord.BUFCTL]! + BufctlWord.ADDR * 4;
    return u[w + BuftagWord.BUFCTL + 1] === HeapLp64.HI_I && a >= 0 && a + 8 <= this.hLim && (a & 7) === 0 && this.hProt[a >>> 12] !== 0 && u[a >>> 2] === bo && u[(a >>> 2) + 1] === HeapLp64.HI_I;
  }

  /** Every page of the heap bytes [o, o + n) writable (n > 0). */
  private pagesRW(o: number, n: number): boolean {
    const hp = this.hProt;
    for (let p = o >>> 12, e = (o + n - 1) >>> 12; p <= e; p++) if (hp[p] !== HeapLp64.RW) return false;
    return true;
  }

  /** Every page of the heap bytes [o, o + n) readable (n > 0). */
  private pagesR(o: number, n: number): boolean {
    const hp = this.hProt;
    for (let p = o >>> 12, e = (o + n - 1) >>> 12; p <= e; p++) if (hp[p] === 0) return false;
    return true;
  }

  /**
   * KMEM_AUDIT for allocW's debug checks (bo < 0) and freeW's (bo = the buffer's
   * heap offset: under KMF_CONTENTS its contents go to the content log
   * first), inside the kmem_cache_alloc / kmem_cache_free frame whose pc
   * the checked path records.
   */
  private auditW(cpo: number, bo: number, bcLo: number, bcHi: number, flags: number): void {
    const k = this.k;
    const d0 = k.depth;
    k.enter(bo < 0 ? this.pc.cache_alloc_debug : this.pc.cache_free_debug);
    try {
      const d = this.d32;
      const bcp = (bcHi | 0) * HeapLp64.TWO32 + bcLo;
      const rec = bcHi === HeapLp64.HI && bcLo + this.bcaSize <= this.hLim && (bcLo & 7) === 0 && this.bcaSize <= 4096;
      if (bo >= 0 && flags & CacheFlag.CONTENTS) {
        // KMF_CONTENTS: the buffer's first cache_contents bytes to the content log
        const u = this.h32;
        const ci = cpo >>> 2;
        const n = u[ci + CacheWord.CONTENTS]!;
        const hp = this.hProt;
        let c = -1;
        if (rec && d[this.iContentLog + 1] === HeapLp64.HI && u[ci + CacheWord.CONTENTS + 1] === 0 && n > 0 && bo + n <= this.hLim &&
            this.pagesR(bo, n) && hp[(bcLo + BufctlWord.CONTENTS_B) >>> 12] === HeapLp64.RW) {
          c = this.logEnterHeap(d[this.iContentLog]!, bo, n);
        }
        if (c >= 0) {
          const w = (bcLo + BufctlWord.CONTENTS_B) >>> 2;
          u[w] = c;
          u[w + 1] = HeapLp64.HI;
        } else {
          const O = this.O;
          const cp = cpo + HeapLp64.BASE;
          this.stp(bcp + O.bc_contents, this.logEnter(this.ldp(this.G.kmem_content_log), bo + HeapLp64.BASE, this.ldp(cp + O.cache_contents)));
        }
      }
      if (!(rec && d[this.iTxLog + 1] === HeapLp64.HI && this.auditH(d[this.iTxLog]!, bcLo))) {
        this.audit(this.ldp(this.G.kmem_transaction_log), cpo + HeapLp64.BASE, bcp);
      }
    } finally {
      k.depth = d0;
    }
  }

  /**
   * KMEM_AUDIT on the heap view: the record at heap offset bco (8-aligned,
   * inside the heap) into the transaction log whose header is at heap
   * offset lho.  False, with nothing changed, when a page is not writable
   * or the log needs the checked path (audit() then does it all).
   */
  private auditH(lho: number, bco: number): boolean {
    const size = this.bcaSize;
    const prot = this.hProt;
    if (prot[bco >>> 12] !== HeapLp64.RW || prot[(bco + size - 1) >>> 12] !== HeapLp64.RW) return false;
    // reserve first (it changes nothing when it fails), then fill and copy
    const dst = this.logReserveHeap(lho, size, bco);
    if (dst < 0) return false;
    const i = bco >>> 2;
    this.auditFill(i);
    const u = this.h32;
    u.copyWithin(dst >>> 2, i, i + (size >>> 2));
    const li = i + BufctlWord.LASTLOG;
    u[li] = dst;
    u[li + 1] = HeapLp64.HI;
    return true;
  }


  /**
   * The magazine layer's refill on the word-index path (LP64): the CPU
   * cache at heap offset o has no rounds to give (or no room to take).
   * Swap in the previous magazine if it can serve, else exchange with the
   * depot (kmem_depot_alloc of a full / empty magazine, kmem_depot_free of
   * the previous one, kmem_cpu_reload).  Returns 1 when the loaded
   * magazine can now serve, 0 when the slab layer must (no magazines, or
   * the depot has none), -1 when something is unusual (a pointer outside
   * the heap, a page that is not writable): the caller takes the checked
   * path, which redoes the same steps with the same result.
   */
  private magRefill(cpo: number, o: number, forAlloc: boolean): number {
    const u = this.hi32;
    const ci = o >>> 2;
    const rw = u[ci + CpuCacheWord.ROUNDS]!;
    const rounds = (rw << 16) >> 16;
    const prounds = rw >> 16;
    const il = ci + CpuCacheWord.LOADED;
    const ip = ci + CpuCacheWord.PLOADED;
    // the previous magazine serves: full for an alloc, empty for a free
    if (forAlloc ? prounds > 0 : prounds === 0) {
      const l0 = u[il]!;
      const l1 = u[il + 1]!;
      u[il] = u[ip]!;
      u[il + 1] = u[ip + 1]!;
      u[ip] = l0;
      u[ip + 1] = l1;
      u[ci + CpuCacheWord.ROUNDS] = ((rounds & 0xffff) << 16) | (prounds & 0xffff);
      return 1;
    }
    const magsize = u[ci + CpuCacheWord.MAGSIZE]! & 0xffff;
    if (magsize === 0) return 0;
    // cache_full and cache_empty: 80 contiguous bytes, writable
    const hp = this.hProt;
    const ml = cpo + CacheWord.FULL_B;
    if (hp[ml >>> 12] !== HeapLp64.RW || hp[(ml + 2 * MaglistWord.SIZE_B - 1) >>> 12] !== HeapLp64.RW) return -1;
    const t = (cpo + (forAlloc ? CacheWord.FULL_B : CacheWord.EMPTY_B)) >>> 2;
    const g = (cpo + (forAlloc ? CacheWord.EMPTY_B : CacheWord.FULL_B)) >>> 2;
    const hs = this.hLim;
    // everything checked before anything changes: the magazines are heap
    // words, the counts small non-negative longs (else the checked path)
    const mp = u[t + MaglistWord.LIST]!;
    const mpNull = (mp | u[t + MaglistWord.LIST + 1]!) === 0;
    if (!mpNull && (u[t + MaglistWord.LIST + 1] !== HeapLp64.HI_I || mp < 0 || mp >= hs || (mp & 7) !== 0 || hp[mp >>> 12] !== HeapLp64.RW)) return -1;
    const pl = u[ip]!;
    const plNull = (pl | u[ip + 1]!) === 0;
    if (!mpNull && !plNull && (u[ip + 1] !== HeapLp64.HI_I || pl < 0 || pl >= hs || (pl & 7) !== 0 || hp[pl >>> 12] !== HeapLp64.RW)) return -1;
    const total = u[t + MaglistWord.TOTAL]!;
    const gtotal = u[g + MaglistWord.TOTAL]!;
    if (u[t + MaglistWord.TOTAL + 1] !== 0 || u[g + MaglistWord.TOTAL + 1] !== 0 || total < 0 || gtotal < 0 || gtotal === 0x7fffffff) return -1;
    const min = u[t + MaglistWord.MIN]!;
    const minHi = u[t + MaglistWord.MIN + 1]!;
    if (!((minHi === 0 && min >= 0) || (minHi === -1 && min < 0))) return -1;
    // kmem_depot_alloc(cp, take)
    if (this.depotContendedAt(cpo)) this.inc64(cpo + HeapLp64.BASE + this.O.cache_depot_contention);
    if (mpNull) return 0;
    const mi = mp >>> 2;
    u[t + MaglistWord.LIST] = u[mi]!;
    u[t + MaglistWord.LIST + 1] = u[mi + 1]!;
    u[t + MaglistWord.TOTAL] = total - 1;
    if (total - 1 < 0) u[t + MaglistWord.TOTAL + 1] = -1;
    if (total - 1 < min) {
      u[t + MaglistWord.MIN] = total - 1;
      u[t + MaglistWord.MIN + 1] = total - 1 < 0 ? -1 : 0;
    }
    const a = (u[t + MaglistWord.ALLOC]! + 1) | 0;
    u[t + MaglistWord.ALLOC] = a;
    if (a === 0) u[t + MaglistWord.ALLOC + 1]++;
    // kmem_depot_free(cp, give, ploaded)
    if (!plNull) {
      if (this.depotContendedAt(cpo)) this.inc64(cpo + HeapLp64.BASE + this.O.cache_depot_contention);
      const pi = pl >>> 2;
      u[pi] = u[g + MaglistWord.LIST]!;
      u[pi + 1] = u[g + MaglistWord.LIST + 1]!;
      u[g + MaglistWord.LIST] = pl;
      u[g + MaglistWord.LIST + 1] = HeapLp64.HI_I;
      u[g + MaglistWord.TOTAL] = gtotal + 1;
    }
    // kmem_cpu_reload(ccp, mp, forAlloc ? magsize : 0)
    u[ip] = u[il]!;
    u[ip + 1] = u[il + 1]!;
    u[ci + CpuCacheWord.ROUNDS] = ((rounds & 0xffff) << 16) | ((forAlloc ? magsize : 0) & 0xffff);
    u[il] = mp;
    u[il + 1] = HeapLp64.HI_I;
    return 1;
  }


  private getRounds(ccp: number): number {
    return (this.ld32(ccp + this.ccRounds) << 16) >> 16;
  }
  private getProunds(ccp: number): number {
    return this.ld32(ccp + this.ccRounds) >> 16;
  }
  private setRounds(ccp: number, r: number, pr: number): void {
    this.st32(ccp + this.ccRounds, ((pr & 0xffff) << 16) | (r & 0xffff));
  }
  private getMagsize(ccp: number): number {
    return this.ld32(ccp + this.ccMagsize) & 0xffff;
  }

  /** kmem_cpu_reload */
  private cpuReload(ccp: number, mp: number, rounds: number): void {
    const o = ccp - this.hBase;
    if (o >= 0 && o < this.hSize && (o & 63) === 0 && this.hProt[o >>> 12] === PROT_RW && this.lp64) {
      // the CPU cache is one writable 64-byte block: the same three stores, in place
      const u = this.h32;
      const ci = o >>> 2;
      const il = ci + this.iLoaded;
      u[ci + (this.ccPloaded >>> 2)] = u[il]!;
      u[ci + (this.ccPloaded >>> 2) + 1] = u[il + 1]!;
      const ir = ci + this.iRounds;
      u[ir] = ((u[ir]! & 0xffff) << 16) | (rounds & 0xffff);
      this.putp(u, il, mp);
      return;
    }
    this.stp(ccp + this.ccPloaded, this.ldp(ccp + this.ccLoaded));
    this.setRounds(ccp, rounds, this.getRounds(ccp));
    this.stp(ccp + this.ccLoaded, mp);
  }

  /** The caller's pc (the top of the shadow stack before kmem entered). */
  private callerPc(): number {
    const t = this.k.cur;
    return t.depth > 0 ? t.stack[t.depth - 1]! : 0;
  }

  /*
   * The slow paths.  Magazine and depot work pushes no shadow-stack frame
   * (nothing there captures a stack); frames are pushed only around the
   * debug checks and the slab layer, whose audit records and error reports
   * must read kmem_cache_alloc+off / kmem_cache_free+off then the callers.
   */

  private allocSlow(cp: number, kmflag: number): number {
    checkArg('kmem_cache_alloc', 'cp', cp);
    const ccp = cp + this.ccOff + this.cpuOff;
    let spins = this.spins;
    this.spins = 0;
    // every turn takes a round or reloads; corrupt CPU-cache words could
    // keep it turning (see freeMag)
    for (; ; spins++) {
      if (spins >= DEADMAN_SPINS) this.k.deadman();
      const rw = this.ld32(ccp + this.ccRounds);
      const rounds = (rw << 16) >> 16;
      if (rounds > 0) {
        const mp = this.ldp(ccp + this.ccLoaded);
        const buf = this.ldp(mp + this.P * rounds);
        this.st32(ccp + this.ccRounds, (rw & 0xffff0000) | (rounds - 1));
        this.inc64(ccp + this.ccAlloc);
        if (this.ld32(ccp + this.ccFlags) & KMF_BUFTAG) {
          if (this.allocDebugFramed(cp, buf, kmflag, false, this.pc.cache_alloc_debug) !== 0) {
            if (kmflag & KM_NOSLEEP) return 0;
            continue;
          }
        }
        return buf;
      }
      const prounds = rw >> 16;
      if (prounds > 0) {
        this.cpuReload(ccp, this.ldp(ccp + this.ccPloaded), prounds);
        continue;
      }
      const magsize = this.getMagsize(ccp);
      if (magsize === 0) break;
      const fmp = this.depotAlloc(cp, this.O.cache_full);
      if (fmp !== 0) {
        const pl = this.ldp(ccp + this.ccPloaded);
        if (pl !== 0) this.depotFree(cp, this.O.cache_empty, pl);
        this.cpuReload(ccp, fmp, magsize);
        continue;
      }
      break;
    }
    return this.allocFromSlab(cp, kmflag);
  }

  private allocDebugFramed(cp: number, buf: number, kmflag: number, construct: boolean, pc: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(pc);
    try {
      return this.allocDebug(cp, buf, kmflag, construct, caller);
    } finally {
      k.depth = d0;
    }
  }

  /** The tail of kmem_cache_alloc: a raw buffer from the slab layer, then the constructor. */
  private allocFromSlab(cp: number, kmflag: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.cache_alloc_slab);
    try {
      const buf = this.slabAlloc(cp, kmflag);
      if (buf === 0) return 0;
      if (this.cacheFlags(cp) & KMF_BUFTAG) {
        k.site(this.pc.cache_alloc_debug_slab);
        const rc = this.allocDebug(cp, buf, kmflag, true, caller);
        if (rc !== 0) {
          if (kmflag & KM_NOSLEEP || rc === 1) return 0;
          k.depth = d0;
          return this.kmem_cache_alloc(cp, kmflag);
        }
        return buf;
      }
      if (this.ldp(cp + this.O.cache_constructor) !== 0) {
        const cb = this.callbacks.get(cp);
        if (cb?.ctor && cb.ctor(buf, this.ldp(cp + this.O.cache_private), kmflag) !== 0) {
          this.inc64(cp + this.O.cache_alloc_fail);
          this.slabFree(cp, buf);
          return 0;
        }
      }
      return buf;
    } finally {
      k.depth = d0;
    }
  }

  private freeSlow(cp: number, buf: number): void {
    checkArg('kmem_cache_free', 'cp', cp);
    checkArg('kmem_cache_free', 'buf', buf);
    const ccp = cp + this.ccOff + this.cpuOff;
    const k = this.k;
    if (this.ld32(ccp + this.ccFlags) & KMF_BUFTAG) {
      const caller = this.callerPc();
      const d0 = k.depth;
      k.enter(this.pc.cache_free_debug);
      try {
        if (this.freeDebug(cp, buf, caller) === -1) return;
      } finally {
        k.depth = d0;
      }
    }
    this.freeMag(cp, ccp, buf);
  }

  /** kmem_cache_free after the debug checks: the magazine layer, else the slab layer. */
  private freeMag(cp: number, ccp: number, buf: number, spins = 0): void {
    const mem = this.mem;
    const k = this.k;
    // With sound data every turn makes progress; a corrupt cc_magsize (it
    // never matches cache_magtype's, so each new magazine is freed again)
    // turns forever, as on illumos: the deadman ends it.  spins: the turns
    // freeW already made (its turns are this loop's, one for one).
    for (; ; spins++) {
      if (spins >= DEADMAN_SPINS) k.deadman();
      const rw = this.ld32(ccp + this.ccRounds);
      const rounds = (rw << 16) >> 16;
      const magsize = this.getMagsize(ccp);
      if (rounds >= 0 && rounds < magsize) {
        const mp = this.ldp(ccp + this.ccLoaded);
        this.stp(mp + this.P + this.P * rounds, buf);
        this.st32(ccp + this.ccRounds, (rw & 0xffff0000) | (rounds + 1));
        this.inc64(ccp + this.ccFree);
        return;
      }
      const prounds = rw >> 16;
      if (prounds === 0) {
        this.cpuReload(ccp, this.ldp(ccp + this.ccPloaded), prounds);
        continue;
      }
      if (magsize === 0) break;
      const emp = this.depotAlloc(cp, this.O.cache_empty);
      if (emp !== 0) {
        const pl = this.ldp(ccp + this.ccPloaded);
        if (pl !== 0) this.depotFree(cp, this.O.cache_full, pl);
        this.cpuReload(ccp, emp, 0);
        continue;
      }
      const mtp = this.ldp(cp + this.O.cache_magtype);
      const mtc = this.ldp(mtp + this.O.mt_cache);
      const mtsize = mem.load16(mtp + this.O.mt_magsize);
      const d0 = k.depth;
      k.enter(this.pc.cache_free_magazine_alloc);
      let nmp: number;
      try {
        nmp = this.kmem_cache_alloc(mtc, KM_NOSLEEP);
      } finally {
        k.depth = d0;
      }
      if (nmp !== 0) {
        if (this.getMagsize(ccp) !== mtsize) {
          this.kmem_cache_free(mtc, nmp);
          continue;
        }
        this.depotFree(cp, this.O.cache_empty, nmp);
        continue;
      }
      break;
    }
    const d0 = k.depth;
    k.enter(this.pc.cache_free_slab);
    try {
      this.slabFreeConstructed(cp, buf, true);
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_slab_free_constructed: destructor (unless debug already ran it), then slab. */
  private slabFreeConstructed(cp: number, buf: number, freed: boolean): void {
    const flags = this.cacheFlags(cp);
    if (!freed && (flags & KMF_BUFTAG)) {
      if (this.freeDebug(cp, buf, this.callerPc()) === -1) return;
    }
    if ((flags & (KMF_DEADBEEF | KMF_LITE)) !== KMF_DEADBEEF && this.ldp(cp + this.O.cache_destructor) !== 0) {
      const cb = this.callbacks.get(cp);
      const priv = this.ldp(cp + this.O.cache_private);
      if (flags & KMF_DEADBEEF) {
        const btp = buf + this.ldp(cp + this.O.cache_buftag);
        this.st32(buf, this.ld32(btp));
        this.st32(buf + 4, this.ld32(btp + 4));
        cb?.dtor?.(buf, priv);
        this.fillPattern(buf, 8, KMEM_FREE_PATTERN32);
      } else {
        cb?.dtor?.(buf, priv);
      }
    }
    this.slabFree(cp, buf);
  }

  /* =================================================================== */
  /* the depot                                                            */
  /* =================================================================== */

  /** Simulated mutex_tryenter failure on the depot lock. */
  private depotContended(cp: number): boolean {
    return this.depotContendedAt(cp - this.hBase);
  }

  /** depotContended for the cache at heap offset cpo (the side table's key). */
  private depotContendedAt(cp: number): boolean {
    const now = this.k.hrtime;
    const cpu = this.k.cur.cpu;
    let last = this.depotLastRec;
    if (last === undefined || this.depotLastCp !== cp) {
      last = this.depotLast.get(cp);
      if (last === undefined) {
        last = { cpu, t: now };
        this.depotLast.set(cp, last);
        this.depotLastCp = cp;
        this.depotLastRec = last;
        return false;
      }
      this.depotLastCp = cp;
      this.depotLastRec = last;
    }
    const contended = last.cpu !== cpu && now - last.t < this.depotContentionWindow;
    last.cpu = cpu;
    last.t = now;
    return contended;
  }

  private depotAlloc(cp: number, ml: number): number {
    if (this.depotContended(cp)) this.inc64(cp + this.O.cache_depot_contention);
    const mlp = cp + ml;
    const O = this.O;
    const i = this.lp64 ? this.heapWords(mlp, this.mlSize, true) : -1;
    if (i >= 0) {
      // the maglist is writable heap: the same loads and stores, in place
      const u = this.h32;
      const li = i + (O.ml_list >>> 2);
      const mp = (u[li + 1]! | 0) * TWO32 + u[li]!;
      if (mp !== 0) {
        this.putp(u, li, this.ldp(mp));
        const ti = i + (O.ml_total >>> 2);
        const total = (u[ti + 1]! | 0) * TWO32 + u[ti]! - 1;
        this.putp(u, ti, total);
        const ni = i + (O.ml_min >>> 2);
        if (total < (u[ni + 1]! | 0) * TWO32 + u[ni]!) this.putp(u, ni, total);
        const ai = i + (O.ml_alloc >>> 2);
        const lo = u[ai]! + 1;
        u[ai] = lo;
        if (lo === TWO32) u[ai + 1]++;
      }
      return mp;
    }
    const mp = this.ldp(mlp + O.ml_list);
    if (mp !== 0) {
      this.stp(mlp + O.ml_list, this.ldp(mp));
      const total = this.ldl(mlp + O.ml_total) - 1;
      this.stp(mlp + O.ml_total, total);
      if (total < this.ldl(mlp + O.ml_min)) this.stp(mlp + O.ml_min, total);
      this.inc64(mlp + O.ml_alloc);
    }
    return mp;
  }

  private depotFree(cp: number, ml: number, mp: number): void {
    if (this.depotContended(cp)) this.inc64(cp + this.O.cache_depot_contention);
    const mlp = cp + ml;
    const O = this.O;
    const i = this.lp64 ? this.heapWords(mlp, this.mlSize, true) : -1;
    if (i >= 0) {
      const u = this.h32;
      const li = i + (O.ml_list >>> 2);
      this.stp(mp, (u[li + 1]! | 0) * TWO32 + u[li]!);
      this.putp(u, li, mp);
      const ti = i + (O.ml_total >>> 2);
      this.putp(u, ti, (u[ti + 1]! | 0) * TWO32 + u[ti]! + 1);
      return;
    }
    this.stp(mp, this.ldp(mlp + O.ml_list));
    this.stp(mlp + O.ml_list, mp);
    this.stp(mlp + O.ml_total, this.ldl(mlp + O.ml_total) + 1);
  }

  private depotWsUpdate(cp: number): void {
    const O = this.O;
    for (const ml of [O.cache_full, O.cache_empty]) {
      const mlp = cp + ml;
      this.stp(mlp + O.ml_reaplimit, this.ldl(mlp + O.ml_min));
      this.stp(mlp + O.ml_min, this.ldl(mlp + O.ml_total));
    }
  }

  private depotWsZero(cp: number): void {
    const O = this.O;
    for (const ml of [O.cache_full, O.cache_empty]) {
      const mlp = cp + ml;
      const t = this.ldl(mlp + O.ml_total);
      this.stp(mlp + O.ml_reaplimit, t);
      this.stp(mlp + O.ml_min, t);
    }
  }

  private depotWsReap(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.depot_ws_reap);
    try {
      const magsize = this.mem.load16(this.ldp(cp + O.cache_magtype) + O.mt_magsize);
      let mlp = cp + O.cache_full;
      let reap = Math.min(this.ldl(mlp + O.ml_reaplimit), this.ldl(mlp + O.ml_min));
      for (let n = 0; reap-- > 0; n++) {
        if (n >= this.walkMax) k.deadman();
        const mp = this.depotAlloc(cp, O.cache_full);
        if (mp === 0) break;
        this.magazineDestroy(cp, mp, magsize);
      }
      mlp = cp + O.cache_empty;
      reap = Math.min(this.ldl(mlp + O.ml_reaplimit), this.ldl(mlp + O.ml_min));
      for (let n = 0; reap-- > 0; n++) {
        if (n >= this.walkMax) k.deadman();
        const mp = this.depotAlloc(cp, O.cache_empty);
        if (mp === 0) break;
        this.magazineDestroy(cp, mp, 0);
      }
    } finally {
      k.leave();
    }
  }

  private magazineDestroy(cp: number, mp: number, nrounds: number): void {
    const k = this.k;
    k.enter(this.pc.magazine_destroy);
    try {
      const flags = this.cacheFlags(cp);
      const hasDtor = this.ldp(cp + this.O.cache_destructor) !== 0;
      const priv = this.ldp(cp + this.O.cache_private);
      for (let r = 0; r < nrounds; r++) {
        const buf = this.ldp(mp + this.P + r * this.P);
        if (flags & KMF_DEADBEEF) {
          if (this.verifyPattern(KMEM_FREE_PATTERN32, buf, this.ldp(cp + this.O.cache_verify)) !== -1) {
            this.kmem_error(KMERR_MODIFIED, cp, buf);
            continue;
          }
          if (flags & KMF_LITE && hasDtor) {
            const btp = buf + this.ldp(cp + this.O.cache_buftag);
            this.st32(buf, this.ld32(btp));
            this.st32(buf + 4, this.ld32(btp + 4));
            this.callbacks.get(cp)?.dtor?.(buf, priv);
            this.fillPattern(buf, 8, KMEM_FREE_PATTERN32);
          }
        } else if (hasDtor) {
          this.callbacks.get(cp)?.dtor?.(buf, priv);
        }
        this.slabFree(cp, buf);
      }
      const mtc = this.ldp(this.ldp(cp + this.O.cache_magtype) + this.O.mt_cache);
      this.kmem_cache_free(mtc, mp);
    } finally {
      k.leave();
    }
  }

  private magazinePurge(cp: number): void {
    const k = this.k;
    k.enter(this.pc.magazine_purge);
    try {
      for (let c = 0; c < k.ncpus; c++) {
        const ccp = cp + this.ccOff + c * KMEM_CPU_CACHE_SIZE;
        const mp = this.ldp(ccp + this.ccLoaded);
        const pmp = this.ldp(ccp + this.ccPloaded);
        const rounds = this.getRounds(ccp);
        const prounds = this.getProunds(ccp);
        this.stp(ccp + this.ccLoaded, 0);
        this.stp(ccp + this.ccPloaded, 0);
        this.setRounds(ccp, -1, -1);
        this.mem.store16(ccp + this.ccMagsize, 0);
        if (mp !== 0) this.magazineDestroy(cp, mp, rounds);
        if (pmp !== 0) this.magazineDestroy(cp, pmp, prounds);
      }
      this.depotWsZero(cp);
      this.depotWsReap(cp);
    } finally {
      k.leave();
    }
  }

  private magazineResize(cp: number): void {
    const O = this.O;
    const mtp = this.ldp(cp + O.cache_magtype);
    if (this.ldp(cp + O.cache_chunksize) < this.ldp(mtp + O.mt_maxbuf)) {
      this.k.enter(this.pc.magazine_resize);
      try {
        this.magazinePurge(cp);
        this.stp(cp + O.cache_magtype, mtp + O.mt_size);
        this.magazineEnable(cp);
      } finally {
        this.k.leave();
      }
    }
  }

  /* =================================================================== */
  /* the slab layer                                                       */
  /* =================================================================== */

  private hashBucket(cp: number, buf: number): number {
    const O = this.O;
    const shift = this.ld32(cp + O.cache_hash_shift);
    const mask = this.ldp(cp + O.cache_hash_mask);
    const idx = mod(Math.floor(buf / 2 ** shift), mask + 1);
    return this.ldp(cp + O.cache_hash_table) + idx * this.P;
  }

  private slabCreate(cp: number, kmflag: number): number {
    const k = this.k;
    const mem = this.mem;
    const O = this.O;
    const P = this.P;
    k.enter(this.pc.slab_create);
    try {
      const vmp = this.arenaOf(cp);
      const chunksize = this.ldp(cp + O.cache_chunksize);
      const slabsize = this.ldp(cp + O.cache_slabsize);
      const flags = this.cacheFlags(cp);
      const cflags = this.ld32(cp + O.cache_cflags);
      let color = this.ldp(cp + O.cache_color) + this.ldp(cp + O.cache_align);
      if (color > this.ldp(cp + O.cache_maxcolor)) color = this.ldp(cp + O.cache_mincolor);
      this.stp(cp + O.cache_color, color);

      const slab = vmp.alloc(slabsize, kmflag & KM_VMFLAGS);
      if (slab === 0) {
        this.logEvent(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
        this.inc64(cp + O.cache_alloc_fail);
        return 0;
      }
      if (!(cflags & KMC_NOTOUCH)) mem.fill32(slab, slabsize, KMEM_UNINITIALIZED_PATTERN32);
      let sp: number;
      let chunks: number;
      if (flags & KMF_HASH) {
        k.site(this.pc.slab_create_slab_alloc);
        sp = this.kmem_cache_alloc(this.slabCache, kmflag);
        if (sp === 0) {
          vmp.free(slab, slabsize);
          this.logEvent(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
          this.inc64(cp + O.cache_alloc_fail);
          return 0;
        }
        chunks = Math.floor((slabsize - color) / chunksize);
      } else {
        sp = p2align(slab, slabsize) + slabsize - this.slabSize;
        chunks = Math.floor((slabsize - this.slabSize - color) / chunksize);
      }
      this.stp(sp + O.slab_cache, cp);
      this.stp(sp + O.slab_head, 0);
      this.stp(sp + O.slab_refcnt, 0);
      let buf = slab + color;
      this.stp(sp + O.slab_base, buf);
      this.stp(sp + O.slab_chunks, chunks);
      this.stp(sp + O.slab_link, 0);
      this.stp(sp + O.slab_link + P, 0);
      this.stp(sp + O.slab_link + 2 * P, 0);
      this.st32(sp + O.slab_stuck_offset, 0xffffffff);
      mem.store16(sp + O.slab_later_count, 0);
      mem.store16(sp + O.slab_flags, 0);
      const bufctlOff = this.ldp(cp + O.cache_bufctl);
      const buftagOff = this.ldp(cp + O.cache_buftag);
      const verify = this.ldp(cp + O.cache_verify);
      const bcc = this.ldp(cp + O.cache_bufctl_cache);
      let head = 0;
      for (let i = 0; i < chunks; i++) {
        // (a corrupt cache_chunksize can make chunks anything, Infinity for 0)
        if (i >= this.walkMax) k.deadman();
        let bcp: number;
        if (flags & KMF_HASH) {
          k.site(this.pc.slab_create_bufctl_alloc);
          bcp = this.kmem_cache_alloc(bcc, kmflag);
          if (bcp === 0) {
            // give back what we took
            this.stp(sp + O.slab_head, head);
            for (let n = 0; head !== 0; n++) {
              if (n >= this.walkMax) k.deadman();
              const nx = this.ldp(head + O.bc_next);
              this.kmem_cache_free(bcc, head);
              head = nx;
            }
            this.kmem_cache_free(this.slabCache, sp);
            vmp.free(slab, slabsize);
            this.logEvent(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
            this.inc64(cp + O.cache_alloc_fail);
            return 0;
          }
          if (flags & KMF_AUDIT) {
            mem.fill32(bcp, p2roundup(this.bcaSize, 4), 0);
            this.stp(bcp + O.bc_cache, cp);
          }
          this.stp(bcp + O.bc_addr, buf);
          this.stp(bcp + O.bc_slab, sp);
        } else {
          bcp = buf + bufctlOff;
        }
        if (flags & KMF_BUFTAG) {
          const btp = buf + buftagOff;
          this.setRedzone(btp);
          this.stp(btp + this.btBufctl, bcp);
          this.setBxstat(btp, bcp, KMEM_BUFTAG_FREE);
          if (flags & KMF_DEADBEEF) this.fillPattern(buf, verify, KMEM_FREE_PATTERN32);
        }
        this.stp(bcp + O.bc_next, head);
        head = bcp;
        buf += chunksize;
      }
      this.stp(sp + O.slab_head, head);
      this.logEvent(this.ldp(this.G.kmem_slab_log), cp, sp, slab);
      return sp;
    } finally {
      k.leave();
    }
  }

  private slabDestroy(cp: number, sp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.slab_destroy);
    try {
      const vmp = this.arenaOf(cp);
      const slab = p2align(this.ldp(sp + O.slab_base), vmp.quantum);
      if (this.cacheFlags(cp) & KMF_HASH) {
        const bcc = this.ldp(cp + O.cache_bufctl_cache);
        let bcp = this.ldp(sp + O.slab_head);
        for (let n = 0; bcp !== 0; n++) {
          if (n >= this.walkMax) this.k.deadman();
          const nx = this.ldp(bcp + O.bc_next);
          this.stp(sp + O.slab_head, nx);
          this.kmem_cache_free(bcc, bcp);
          bcp = nx;
        }
        this.kmem_cache_free(this.slabCache, sp);
      }
      vmp.free(slab, this.ldp(cp + O.cache_slabsize));
    } finally {
      k.leave();
    }
  }

  private slabAlloc(cp: number, kmflag: number): number {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.slab_alloc);
    try {
      const tree = cp + O.cache_partial_slabs;
      let sp = this.avlFirst(tree);
      if (sp === 0) {
        sp = this.slabCreate(cp, kmflag);
        if (sp === 0) return 0;
        this.inc64(cp + O.cache_slab_create);
        const chunks = this.ldl(sp + O.slab_chunks);
        const total = this.ld64(cp + O.cache_buftotal) + chunks;
        this.st64(cp + O.cache_buftotal, total);
        if (total > this.ld64(cp + O.cache_bufmax)) this.st64(cp + O.cache_bufmax, total);
        this.add64(cp + O.cache_bufslab, chunks);
      }
      return this.slabAllocImpl(cp, sp);
    } finally {
      k.leave();
    }
  }

  private slabAllocImpl(cp: number, sp: number): number {
    const O = this.O;
    const refcnt = this.ldl(sp + O.slab_refcnt);
    const newSlab = refcnt === 0;
    this.inc64(cp + O.cache_slab_alloc);
    this.add64(cp + O.cache_bufslab, -1);
    this.stp(sp + O.slab_refcnt, refcnt + 1);
    const bcp = this.ldp(sp + O.slab_head);
    this.stp(sp + O.slab_head, this.ldp(bcp + O.bc_next));
    const flags = this.cacheFlags(cp);
    let buf: number;
    if (flags & KMF_HASH) {
      buf = this.ldp(bcp + O.bc_addr);
      const hb = this.hashBucket(cp, buf);
      this.stp(bcp + O.bc_next, this.ldp(hb));
      this.stp(hb, bcp);
      if ((flags & (KMF_AUDIT | KMF_BUFTAG)) === KMF_AUDIT) this.audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    } else {
      buf = bcp - this.ldp(cp + O.cache_bufctl);
    }
    const tree = cp + O.cache_partial_slabs;
    if (this.ldp(sp + O.slab_head) === 0) {
      if (!newSlab) {
        this.avlRemove(tree, sp);
        this.k.mem.store16(sp + O.slab_later_count, 0);
        this.k.mem.store16(sp + O.slab_flags, this.mem.load16(sp + O.slab_flags) & ~KMEM_SLAB_NOMOVE);
        this.st32(sp + O.slab_stuck_offset, 0xffffffff);
      }
      this.listInsertHead(cp + O.cache_complete_slabs, sp, O.slab_link);
      this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) + 1);
      return buf;
    }
    if (newSlab) this.avlAdd(cp, tree, sp);
    // otherwise the slab got more allocated: its position is unchanged
    return buf;
  }

  /** Find the slab containing buf in cp (kmem_findslab). */
  kmem_findslab(cp: number, buf: number): number {
    const O = this.O;
    const slabsize = this.ldp(cp + O.cache_slabsize);
    const list = cp + O.cache_complete_slabs;
    const off = O.slab_link;
    let n = 0;
    for (let sp = this.listNext(list, 0, off); sp !== 0 && n < 1 << 22; sp = this.listNext(list, sp, off), n++) {
      const d = buf - this.ldp(sp + O.slab_base);
      if (d >= 0 && d < slabsize) return sp;
    }
    const tree = cp + O.cache_partial_slabs;
    const toff = this.ldp(tree + O.avl_offset);
    for (let node = this.ldp(tree + O.avl_root); node !== 0 && n < 1 << 22; node = this.avlNextNode(node), n++) {
      const sp = node - toff;
      const d = buf - this.ldp(sp + O.slab_base);
      if (d >= 0 && d < slabsize) return sp;
    }
    return 0;
  }

  private slabFree(cp: number, buf: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.slab_free);
    try {
      this.inc64(cp + O.cache_slab_free);
      const flags = this.cacheFlags(cp);
      let bcp = 0;
      let sp = 0;
      const slabsize = this.ldp(cp + O.cache_slabsize);
      if (flags & KMF_HASH) {
        let prev = this.hashBucket(cp, buf);
        let n = 0;
        for (bcp = this.ldp(prev); bcp !== 0; bcp = this.ldp(prev)) {
          if (n++ >= this.walkMax) this.k.deadman();
          if (this.ldp(bcp + O.bc_addr) === buf) {
            this.stp(prev, this.ldp(bcp + O.bc_next));
            sp = this.ldp(bcp + O.bc_slab);
            break;
          }
          this.inc64(cp + O.cache_lookup_depth);
          prev = bcp + O.bc_next;
        }
      } else {
        bcp = buf + this.ldp(cp + O.cache_bufctl);
        sp = p2align(buf, slabsize) + slabsize - this.slabSize;
      }
      if (bcp === 0 || this.ldp(sp + O.slab_cache) !== cp || !(buf - this.ldp(sp + O.slab_base) >= 0 && buf - this.ldp(sp + O.slab_base) < slabsize)) {
        k.site(this.pc.slab_free_badaddr);
        this.kmem_error(KMERR_BADADDR, cp, buf);
        return;
      }
      if ((flags & (KMF_AUDIT | KMF_BUFTAG)) === KMF_AUDIT) {
        if (flags & KMF_CONTENTS) {
          this.stp(bcp + O.bc_contents, this.logEnter(this.ldp(this.G.kmem_content_log), buf, this.ldp(cp + O.cache_contents)));
        }
        this.audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
      }
      const wasFull = this.ldp(sp + O.slab_head) === 0;
      this.stp(bcp + O.bc_next, this.ldp(sp + O.slab_head));
      this.stp(sp + O.slab_head, bcp);
      this.add64(cp + O.cache_bufslab, 1);
      const refcnt = this.ldl(sp + O.slab_refcnt) - 1;
      this.stp(sp + O.slab_refcnt, refcnt);
      const chunks = this.ldl(sp + O.slab_chunks);
      const tree = cp + O.cache_partial_slabs;
      if (refcnt === 0) {
        if (chunks === 1) {
          this.listRemove(sp, O.slab_link);
          this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) - 1);
        } else {
          this.avlRemove(tree, sp);
        }
        this.add64(cp + O.cache_buftotal, -chunks);
        this.add64(cp + O.cache_bufslab, -chunks);
        this.inc64(cp + O.cache_slab_destroy);
        this.slabDestroy(cp, sp);
        return;
      }
      if (wasFull) {
        this.listRemove(sp, O.slab_link);
        this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) - 1);
        this.avlAdd(cp, tree, sp);
      } else {
        this.avlUpdateGt(cp, tree, sp);
      }
    } finally {
      k.leave();
    }
  }

  /* =================================================================== */
  /* debug paths                                                          */
  /* =================================================================== */

  /**
   * Check 64-bit words [buf, buf+size) against the repeated pattern;
   * returns the offset of the first mismatching word, or -1.
   */
  private verifyPattern(pat: number, buf: number, size: number): number {
    const n = size - (size % 8);
    const i = n > 0 ? this.heapWords(buf, n, false) : -1;
    if (i >= 0) {
      const u = this.h32;
      const e = i + (n >>> 2);
      for (let j = i; j < e; j += 2) if (u[j] !== pat || u[j + 1] !== pat) return (j - i) * 4;
      return -1;
    }
    for (let o = 0; o + 8 <= size; o += 8) {
      if (this.ld32(buf + o) !== pat || this.ld32(buf + o + 4) !== pat) return o;
    }
    return -1;
  }

  /** verify_and_copy_pattern: -1 if all matched (and were rewritten), else the bad offset (prefix restored). */
  private verifyAndCopyPattern(oldp: number, newp: number, buf: number, size: number): number {
    const mem = this.mem;
    const n = size - (size % 8);
    const i = n > 0 ? this.heapWords(buf, n, true) : -1;
    if (i >= 0) {
      const u = this.h32;
      const e = i + (n >>> 2);
      for (let j = i; j < e; j += 2) {
        if (u[j] !== oldp || u[j + 1] !== oldp) {
          if (j > i) u.fill(oldp, i, j);
          return (j - i) * 4;
        }
        u[j] = newp;
        u[j + 1] = newp;
      }
      return -1;
    }
    for (let o = 0; o + 8 <= size; o += 8) {
      if (this.ld32(buf + o) !== oldp || this.ld32(buf + o + 4) !== oldp) {
        if (o > 0) mem.fill32(buf, o, oldp);
        return o;
      }
      this.st32(buf + o, newp);
      this.st32(buf + o + 4, newp);
    }
    return -1;
  }

  private liteEnter(btp: number, caller: number): void {
    const n = this.ld32(this.G.kmem_lite_count);
    const h = btp + this.btHistory;
    const P = this.P;
    for (let i = n - 1; i > 0; i--) this.stp(h + i * P, this.ldp(h + (i - 1) * P));
    if (n > 0) this.stp(h, caller);
  }

  /** kmem_cache_alloc_debug: 0 ok, -1 corruption (reported), 1 constructor/mtbf failure. */
  private allocDebug(cp: number, buf: number, kmflag: number, construct: boolean, caller: number): number {
    const O = this.O;
    const k = this.k;
    const flags = this.cacheFlags(cp);
    const btp = buf + this.ldp(cp + O.cache_buftag);
    const bcp = this.ldp(btp + this.btBufctl);
    if (!this.bxstatIs(btp, bcp, KMEM_BUFTAG_FREE)) {
      this.errorFrom(this.pc.alloc_debug_badbuftag, KMERR_BADBUFTAG, cp, buf);
      return -1;
    }
    this.setBxstat(btp, bcp, KMEM_BUFTAG_ALLOC);
    if (flags & KMF_HASH && this.ldp(bcp + O.bc_addr) !== buf) {
      this.errorFrom(this.pc.alloc_debug_badbufctl, KMERR_BADBUFCTL, cp, buf);
      return -1;
    }
    const hasCtor = this.ldp(cp + O.cache_constructor) !== 0;
    if (flags & KMF_DEADBEEF) {
      if (!construct && flags & KMF_LITE) {
        if (!this.is64(buf, KMEM_FREE_PATTERN32)) {
          this.errorFrom(this.pc.alloc_debug_modified_lite, KMERR_MODIFIED, cp, buf);
          return -1;
        }
        if (hasCtor) {
          this.st32(buf, this.ld32(btp));
          this.st32(buf + 4, this.ld32(btp + 4));
        } else {
          this.st32(buf, KMEM_UNINITIALIZED_PATTERN32);
          this.st32(buf + 4, KMEM_UNINITIALIZED_PATTERN32);
        }
      } else {
        construct = true;
        if (this.verifyAndCopyPattern(KMEM_FREE_PATTERN32, KMEM_UNINITIALIZED_PATTERN32, buf, this.ldp(cp + O.cache_verify)) !== -1) {
          this.errorFrom(this.pc.alloc_debug_modified, KMERR_MODIFIED, cp, buf);
          return -1;
        }
      }
    }
    this.setRedzone(btp);
    let mtbf = (this.ld32(this.G.kmem_mtbf) | this.ld32(cp + O.cache_mtbf)) >>> 0;
    if (mtbf !== 0 && k.gethrtime() % mtbf === 0 && (kmflag & (KM_NOSLEEP | KM_PANIC)) === KM_NOSLEEP) {
      this.logEvent(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
      if (!construct && this.ldp(cp + O.cache_destructor) !== 0) {
        this.callbacks.get(cp)?.dtor?.(buf, this.ldp(cp + O.cache_private));
      }
    } else {
      mtbf = 0;
    }
    let failed = mtbf !== 0;
    if (!failed && construct && hasCtor) {
      const cb = this.callbacks.get(cp);
      if (cb?.ctor && cb.ctor(buf, this.ldp(cp + O.cache_private), kmflag) !== 0) failed = true;
    }
    if (failed) {
      this.inc64(cp + O.cache_alloc_fail);
      this.setBxstat(btp, bcp, KMEM_BUFTAG_FREE);
      if (flags & KMF_DEADBEEF) this.fillPattern(buf, this.ldp(cp + O.cache_verify), KMEM_FREE_PATTERN32);
      this.slabFree(cp, buf);
      return 1;
    }
    if (flags & KMF_AUDIT) this.audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    if (flags & KMF_LITE && !(this.ld32(cp + O.cache_cflags) & KMC_KMEM_ALLOC)) this.liteEnter(btp, caller);
    return 0;
  }

  /** kmem_cache_free_debug: 0 ok, -1 corruption (reported; do not free). */
  private freeDebug(cp: number, buf: number, caller: number): number {
    const O = this.O;
    const flags = this.cacheFlags(cp);
    const btp = buf + this.ldp(cp + O.cache_buftag);
    const bcp = this.ldp(btp + this.btBufctl);
    if (!this.bxstatIs(btp, bcp, KMEM_BUFTAG_ALLOC)) {
      if (this.bxstatIs(btp, bcp, KMEM_BUFTAG_FREE)) {
        this.errorFrom(this.pc.free_debug_dupfree, KMERR_DUPFREE, cp, buf);
        return -1;
      }
      const sp = this.kmem_findslab(cp, buf);
      if (sp === 0 || this.ldp(sp + O.slab_cache) !== cp) this.errorFrom(this.pc.free_debug_badaddr, KMERR_BADADDR, cp, buf);
      else this.errorFrom(this.pc.free_debug_bxstat_redzone, KMERR_REDZONE, cp, buf);
      return -1;
    }
    this.setBxstat(btp, bcp, KMEM_BUFTAG_FREE);
    if (flags & KMF_HASH && this.ldp(bcp + O.bc_addr) !== buf) {
      this.errorFrom(this.pc.free_debug_badbufctl, KMERR_BADBUFCTL, cp, buf);
      return -1;
    }
    if (!this.is64(btp, KMEM_REDZONE_PATTERN32)) {
      this.errorFrom(this.pc.free_debug_redzone, KMERR_REDZONE, cp, buf);
      return -1;
    }
    if (flags & KMF_AUDIT) {
      if (flags & KMF_CONTENTS) {
        this.stp(bcp + O.bc_contents, this.logEnter(this.ldp(this.G.kmem_content_log), buf, this.ldp(cp + O.cache_contents)));
      }
      this.audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    }
    if (flags & KMF_LITE && !(this.ld32(cp + O.cache_cflags) & KMC_KMEM_ALLOC)) this.liteEnter(btp, caller);
    if (flags & KMF_DEADBEEF) {
      if (flags & KMF_LITE) {
        this.st32(btp, this.ld32(buf));
        this.st32(btp + 4, this.ld32(buf + 4));
      } else if (this.ldp(cp + O.cache_destructor) !== 0) {
        this.callbacks.get(cp)?.dtor?.(buf, this.ldp(cp + O.cache_private));
      }
      this.fillPattern(buf, this.ldp(cp + O.cache_verify), KMEM_FREE_PATTERN32);
    }
    return 0;
  }

  /* =================================================================== */
  /* logs and auditing                                                    */
  /* =================================================================== */

  private logInit(logsize: number): number {
    const k = this.k;
    const mem = this.mem;
    const O = this.O;
    const ncpus = k.ncpus;
    const nchunks = 4 * ncpus;
    const lhsize = p2roundup(this.lhCpu + ncpus * 64, KMEM_ALIGN);
    const la = this.arenas.kmem_log;
    const lhp = la.xalloc(p2roundup(lhsize, la.quantum), 64, mod(-lhsize, 64), 0, 0, 0, 0);
    if (lhp === 0) k.panic('kmem_log_init: no memory');
    mem.fill32(lhp, lhsize, 0);
    const chunksize = p2roundup(Math.floor(logsize / nchunks) + 1, this.pageSize);
    this.st32(lhp + O.lh_nchunks, nchunks);
    this.stp(lhp + O.lh_chunksize, chunksize);
    const base = la.alloc(chunksize * nchunks, 0);
    const free = la.alloc(p2roundup(nchunks * 4, la.quantum), 0);
    if (base === 0 || free === 0) k.panic('kmem_log_init: no memory');
    this.stp(lhp + O.lh_base, base);
    this.stp(lhp + O.lh_free, free);
    mem.fill32(base, chunksize * nchunks, 0);
    mem.fill32(free, p2roundup(nchunks * 4, 8), 0);
    for (let i = 0; i < ncpus; i++) this.st32(lhp + this.lhCpu + i * 64 + O.clh_chunk, i);
    for (let i = ncpus; i < nchunks; i++) this.st32(free + i * 4, i);
    this.st32(lhp + O.lh_head, ncpus);
    this.st32(lhp + O.lh_tail, 0);
    return lhp;
  }

  /** Reserve `size` bytes in the log (kmem_log_enter without the copy); 0 if not logging. */
  private logReserve(lhp: number, size: number): number {
    if (lhp === 0 || this.ld32(this.G.kmem_logging) === 0 || this.k.panicking) return 0;
    const O = this.O;
    const clhp = lhp + this.lhCpu + this.k.cur.cpu * 64;
    this.st32(clhp + O.clh_hits, this.ld32(clhp + O.clh_hits) + 1);
    let avail = this.ldp(clhp + O.clh_avail);
    if (size > avail) {
      const n = this.ld32(lhp + O.lh_nchunks);
      const free = this.ldp(lhp + O.lh_free);
      const chunksize = this.ldp(lhp + O.lh_chunksize);
      this.st32(lhp + O.lh_hits, this.ld32(lhp + O.lh_hits) + 1);
      const tail = this.ld32(lhp + O.lh_tail);
      this.st32(free + tail * 4, this.ld32(clhp + O.clh_chunk));
      this.st32(lhp + O.lh_tail, (tail + 1) % n);
      const head = this.ld32(lhp + O.lh_head);
      const chunk = this.ld32(free + head * 4);
      this.st32(clhp + O.clh_chunk, chunk);
      this.st32(lhp + O.lh_head, (head + 1) % n);
      this.stp(clhp + O.clh_current, this.ldp(lhp + O.lh_base) + chunk * chunksize);
      avail = chunksize;
      if (size > chunksize) size = chunksize;
    }
    const cur = this.ldp(clhp + O.clh_current);
    this.stp(clhp + O.clh_current, cur + size);
    this.stp(clhp + O.clh_avail, avail - size);
    return cur;
  }

  /**
   * logReserve on the heap view, all checks first: LP64 heap words, the log
   * on, no panic, the CPU's header and the reserved bytes in the heap and
   * writable, no chunk to rotate, and (s >= 0) no overlap with the heap
   * bytes [s, s + size).  Then nothing can fault: it counts the hit,
   * advances clh_current / clh_avail (their high words stay: the heap does
   * not cross 4 GiB) and returns the reservation's heap byte offset.
   * Otherwise it changes nothing and returns -1 (the caller takes the
   * checked path).
   */
  private logReserveHeap(lho: number, size: number, s: number): number {
    if (lho < 0 || size <= 0 || this.k.panicking || this.d32[this.iLogging] === 0) return -1;
    const hSize = this.hLim;
    const prot = this.hProt;
    const c = lho + this.lhCpu + this.cpuOff;
    if (!(c >>> 0 === c && c + 64 <= hSize && (c & 7) === 0 && prot[c >>> 12] === HeapLp64.RW && prot[(c + 63) >>> 12] === HeapLp64.RW)) return -1;
    const O = this.O;
    const u = this.h32;
    const ci = c >>> 2;
    const ai = ci + (O.clh_avail >>> 2);
    const avail = u[ai]!;
    if (u[ai + 1] !== 0 || size > avail) return -1;
    const pi = ci + (O.clh_current >>> 2);
    const d = u[pi]!; // (wordPathsOn: the heap base's low word is 0)
    if (u[pi + 1] !== HeapLp64.HI || d + size > hSize || d + size > 0xffffffff) return -1;
    if (s >= 0 && !(s + size <= d || d + size <= s)) return -1;
    if (!this.pagesRW(d, size)) return -1;
    const hi = ci + (O.clh_hits >>> 2);
    u[hi] = u[hi]! + 1;
    u[pi] = d + size;
    u[ai] = avail - size;
    return d;
  }

  /**
   * The common kmem_log_enter on the heap view: the source is the heap
   * bytes [s, s + size) (the caller has checked they are readable).  With
   * logReserveHeap's checks nothing can fault, so it copies without the
   * kmem_log_enter frame (unobservable there) and returns the copy's heap
   * offset; -1 (nothing changed) sends the caller to the checked path.
   */
  private logEnterHeap(lho: number, s: number, size: number): number {
    const d = this.logReserveHeap(lho, size, s);
    if (d < 0) return -1;
    // (copyWithin beats a word loop for the 48-word audit record.)
    if (((d | s | size) & 3) === 0) this.h32.copyWithin(d >>> 2, s >>> 2, (s + size) >>> 2);
    else this.h8.copyWithin(d, s, s + size);
    return d;
  }

  /** kmem_log_enter: copy size bytes from data into the log; returns the copy's address. */
  private logEnter(lhp: number, data: number, size: number): number {
    const s = data + HeapLp64.NEG;
    if (this.wordPathsOn && s >>> 0 === s && s + size <= this.hSize && size > 0 && this.pagesR(s, size)) {
      const d = this.logEnterHeap(lhp + HeapLp64.NEG, s, size);
      if (d >= 0) return d + HeapLp64.BASE;
    }
    const k = this.k;
    k.enter(this.pc.log_enter);
    try {
      const dst = this.logReserve(lhp, size);
      if (dst === 0) return 0;
      let o = 0;
      if ((data & 3) === 0) {
        const n = size - (size % 4);
        const si = this.heapWords(data, n, false);
        const di = si >= 0 ? this.heapWords(dst, n, true) : -1;
        if (di >= 0 && (di + (n >>> 2) <= si || si + (n >>> 2) <= di)) {
          this.h32.copyWithin(di, si, si + (n >>> 2));
          o = n;
        }
        for (; o + 4 <= size; o += 4) this.st32(dst + o, this.ld32(data + o));
      }
      for (; o < size; o++) this.st8(dst + o, this.ld8(data + o));
      return dst;
    } finally {
      k.leave();
    }
  }

  /** KMEM_AUDIT: timestamp, thread, stack, then copy to the transaction log. */
  private audit(lhp: number, cp: number, bcp: number): void {
    const k = this.k;
    const O = this.O;
    const size = this.bcaSize;
    // The record in writable heap, 8-aligned (its first and last pages
    // checked here; heapWords for anything else).
    const o = bcp - this.hBase;
    const prot = this.hProt;
    const i =
      o >>> 0 === o && o + size <= this.hSize && (o & 7) === 0 && size <= 4096 && prot[o >>> 12] === HeapLp64.RW && prot[(o + size - 1) >>> 12] === HeapLp64.RW
        ? o >>> 2
        : this.heapWords(bcp, size, true);
    if (i >= 0 && (O.bc_timestamp | O.bc_thread | O.bc_depth | O.bc_lastlog | this.bcStack) % 4 === 0) {
      this.auditFill(i);
      // The log copy carries the previous bc_lastlog; then the record points at it.
      const c = this.logEnterHeap(lhp + HeapLp64.NEG, i * 4, size);
      if (c >= 0) {
        const li = i + (O.bc_lastlog >>> 2);
        this.h32[li] = c;
        this.h32[li + 1] = HeapLp64.HI;
        return;
      }
    } else {
      this.st64(bcp + O.bc_timestamp, k.gethrtime());
      this.stp(bcp + O.bc_thread, k.cur.addr);
      this.st32(bcp + O.bc_depth, k.capturePcs(bcp + this.bcStack, KMEM_STACK_DEPTH));
    }
    void cp;
    this.stp(bcp + O.bc_lastlog, this.logEnter(lhp, bcp, size));
  }

  /**
   * The audit fields of the record at heap word index i (writable; the
   * fields 4-aligned): bc_timestamp = gethrtime(), bc_thread = curthread,
   * bc_stack / bc_depth = the current thread's pcs, innermost first.  What
   * the checked stores and k.capturePcs write, on the heap view.
   */
  private auditFill(i: number): void {
    const k = this.k;
    const O = this.O;
    const u = this.h32;
    const now = k.gethrtime();
    const th = Math.floor(now / HeapLp64.TWO32);
    const ti = i + (O.bc_timestamp >>> 2);
    u[ti] = now - th * HeapLp64.TWO32;
    u[ti + 1] = th;
    const t = k.cur;
    const n = t.depth < KMEM_STACK_DEPTH ? t.depth : KMEM_STACK_DEPTH;
    const st = t.stack;
    let si = i + (this.bcStack >>> 2);
    if (this.lp64) {
      // hi:lo of a signed 64-bit value (* 2^-32 is exactly / 2^32).
      let v = t.addr;
      let hi = Math.floor(v * 2.3283064365386963e-10);
      const tw = i + (O.bc_thread >>> 2);
      u[tw] = v - hi * HeapLp64.TWO32;
      u[tw + 1] = hi;
      for (let d = t.depth - 1, j = 0; j < n; j++, d--, si += 2) {
        v = st[d]!;
        hi = Math.floor(v * 2.3283064365386963e-10);
        u[si] = v - hi * HeapLp64.TWO32;
        u[si + 1] = hi;
      }
    } else {
      u[i + (O.bc_thread >>> 2)] = t.addr;
      for (let d = t.depth - 1, j = 0; j < n; j++, d--, si++) u[si] = st[d]!;
    }
    u[i + (O.bc_depth >>> 2)] = n;
  }

  /** kmem_log_event: a record with only addr/slab/cache plus the audit fields. */
  private logEvent(lhp: number, cp: number, sp: number, addr: number): void {
    if (lhp === 0) return;
    const k = this.k;
    const O = this.O;
    k.enter(this.pc.log_event);
    try {
      const size = this.bcaSize;
      const d = this.logReserveHeap(lhp + HeapLp64.NEG, size, -1);
      if (d >= 0 && ((d | size) & 7) === 0 && (O.bc_addr | O.bc_slab | O.bc_cache | O.bc_timestamp | O.bc_thread | O.bc_depth | this.bcStack) % 4 === 0) {
        // Writable heap (logReserveHeap checked it), LP64: in place, on the
        // heap view.  The stack is captured inside this frame, as below.
        const u = this.h32;
        const i = d >>> 2;
        u.fill(0, i, i + (size >>> 2));
        this.putp(u, i + (O.bc_addr >>> 2), addr);
        this.putp(u, i + (O.bc_slab >>> 2), sp);
        this.putp(u, i + (O.bc_cache >>> 2), cp);
        this.auditFill(i);
        return;
      }
      const e = d >= 0 ? d + HeapLp64.BASE : this.logReserve(lhp, size);
      if (e === 0) return;
      this.mem.fill32(e, this.bcaSize, 0);
      this.stp(e + O.bc_addr, addr);
      this.stp(e + O.bc_slab, sp);
      this.stp(e + O.bc_cache, cp);
      this.st64(e + O.bc_timestamp, k.gethrtime());
      this.stp(e + O.bc_thread, k.cur.addr);
      this.st32(e + O.bc_depth, k.capturePcs(e + this.bcStack, KMEM_STACK_DEPTH));
    } finally {
      k.leave();
    }
  }

  /* =================================================================== */
  /* kmem_error                                                           */
  /* =================================================================== */

  private errorFrom(pc: number, error: number, cp: number, buf: number): void {
    this.k.enter(pc);
    try {
      this.kmem_error(error, cp, buf);
    } finally {
      this.k.leave();
    }
  }

  /** `%p` */
  private hexp(v: number): string {
    return hex(v);
  }

  kmem_error(errorIn: number, cparg: number, bufarg: number): void {
    const k = this.k;
    const O = this.O;
    const G = this.G;
    let error = errorIn;
    k.enter(this.pc.error);
    try {
      this.st32(G.kmem_logging, 0);
      const ts = k.gethrtime();
      const pi = G.kmem_panic_info;
      this.st64(pi + O.kmp_timestamp, ts);
      let cp = cparg;
      let buf = bufarg;
      let btp = 0;
      let bcp = 0;
      let sp = this.kmem_findslab(cp, buf);
      if (sp === 0) {
        for (let c = this.listPrev(G.kmem_caches, 0, O.cache_link); c !== 0; c = this.listPrev(G.kmem_caches, c, O.cache_link)) {
          sp = this.kmem_findslab(c, buf);
          if (sp !== 0) {
            cp = c;
            break;
          }
        }
      }
      if (sp === 0) {
        cp = 0;
        error = KMERR_BADADDR;
      } else {
        if (cp !== cparg) error = KMERR_BADCACHE;
        else buf = bufarg - mod(bufarg - this.ldp(sp + O.slab_base), this.ldp(cp + O.cache_chunksize));
        if (buf !== bufarg) error = KMERR_BADBASE;
        const flags = this.cacheFlags(cp);
        if (flags & KMF_BUFTAG) btp = buf + this.ldp(cp + O.cache_buftag);
        if (flags & KMF_HASH) {
          let n = 0;
          for (bcp = this.ldp(this.hashBucket(cp, buf)); bcp !== 0 && n < 1 << 20; bcp = this.ldp(bcp + O.bc_next), n++) {
            if (this.ldp(bcp + O.bc_addr) === buf) break;
          }
          if (bcp === 0 && btp !== 0) bcp = this.ldp(btp + this.btBufctl);
          const bcc = this.ldp(cp + O.cache_bufctl_cache);
          let ok = bcp !== 0 && mod(bcp, KMEM_ALIGN) === 0 && this.kmem_findslab(bcc, bcp) !== 0;
          if (ok) {
            try {
              ok = this.ldp(bcp + O.bc_addr) === buf;
            } catch {
              ok = false;
            }
          }
          if (!ok) {
            error = KMERR_BADBUFCTL;
            bcp = 0;
          }
        }
      }
      this.st32(pi + O.kmp_error, error);
      this.stp(pi + O.kmp_buffer, bufarg);
      this.stp(pi + O.kmp_realbuf, buf);
      this.stp(pi + O.kmp_cache, cparg);
      this.stp(pi + O.kmp_realcache, cp);
      this.stp(pi + O.kmp_slab, sp);
      this.stp(pi + O.kmp_bufctl, bcp);

      let text = 'kernel memory allocator: ';
      switch (error) {
        case KMERR_MODIFIED: {
          text += 'buffer modified after being freed\n';
          const verify = this.ldp(cparg + O.cache_verify);
          let off = this.verifyPattern(KMEM_FREE_PATTERN32, buf, verify);
          if (off < 0) off = 0;
          const w = hex64(this.ld32(buf + off + 4), this.ld32(buf + off));
          text += `modification occurred at offset 0x${off.toString(16)} (0xdeadbeefdeadbeef replaced by 0x${w})\n`;
          break;
        }
        case KMERR_REDZONE:
          text += 'redzone violation: write past end of buffer\n';
          break;
        case KMERR_BADADDR:
          text += 'invalid free: buffer not in cache\n';
          break;
        case KMERR_DUPFREE:
          text += 'duplicate free: buffer freed twice\n';
          break;
        case KMERR_BADBUFTAG: {
          text += 'boundary tag corrupted\n';
          const bxa = btp + this.btBxstat;
          const bca = btp + this.btBufctl;
          const lo = (this.ld32(bxa) ^ this.ld32(bca)) >>> 0;
          const hi = this.lp64 ? (this.ld32(bxa + 4) ^ this.ld32(bca + 4)) >>> 0 : 0;
          text += `bcp ^ bxstat = ${hex64(hi, lo)}, should be ${KMEM_BUFTAG_FREE.toString(16)}\n`;
          break;
        }
        case KMERR_BADBUFCTL:
          text += 'bufctl corrupted\n';
          break;
        case KMERR_BADCACHE:
          text += 'buffer freed to wrong cache\n';
          text += `buffer was allocated from ${this.cacheName(cp)},\n`;
          text += `caller attempting free to ${this.cacheName(cparg)}.\n`;
          break;
        case KMERR_BADSIZE:
          text += `bad free: free size (${KMEM_SIZE_DECODE(this.ld32(btp))}) != alloc size (${KMEM_SIZE_DECODE(this.ld32(btp + 4))})\n`;
          break;
        case KMERR_BADBASE:
          text += `bad free: free address (${this.hexp(bufarg)}) != alloc address (${this.hexp(buf)})\n`;
          break;
      }
      text += `buffer=${this.hexp(bufarg)}  bufctl=${this.hexp(bcp)}  cache: ${this.cacheName(cparg)}\n`;
      if (bcp !== 0 && cp !== 0 && this.cacheFlags(cp) & KMF_AUDIT && error !== KMERR_BADBUFCTL) {
        const age = ts - this.ld64(bcp + O.bc_timestamp);
        const sec = Math.floor(age / 1e9);
        const nsec = age - sec * 1e9;
        text += `previous transaction on buffer ${this.hexp(buf)}:\n`;
        text += `thread=${this.hexp(this.ldp(bcp + O.bc_thread))}  time=T-${sec}.${String(nsec).padStart(9, '0')}  slab=${this.hexp(sp)}  cache: ${this.cacheName(cp)}\n`;
        const depth = Math.min(this.ld32(bcp + O.bc_depth) | 0, KMEM_STACK_DEPTH);
        for (let d = 0; d < depth; d++) {
          const pc = this.ldp(bcp + this.bcStack + d * this.P);
          text += symOff(k.symbolize(pc), pc) + '\n';
        }
      }
      k.printf(text);
      this.errors.push({
        error,
        name: KMERR_NAMES[error]!,
        text,
        buffer: bufarg,
        realbuf: buf,
        cache: cparg,
        realcache: cp,
        slab: sp,
        bufctl: bcp,
      });
      const kp = this.ld32(G.kmem_panic) | 0;
      if (kp > 0) k.panic('kernel heap corruption detected');
      this.st32(G.kmem_logging, 1);
    } finally {
      k.leave();
    }
  }

  /* =================================================================== */
  /* kmem_alloc / kmem_zalloc / kmem_free                                 */
  /* =================================================================== */

  kmem_alloc(size: number, kmflag: number): number {
    if (size > 0 && size <= 4096 && this.hLim !== 0 && (size | 0) === size) {
      // kmem_alloc_table[(size - 1) >> 3] from the data view (a heap pointer: HHI:offset)
      const ti = this.iAllocTable + (((size - 1) >> 3) << 1);
      const d = this.d32;
      if (d[ti + 1] === HeapLp64.HI) {
        const o = d[ti]! + CacheWord.CPU_B + this.cpuOff;
        if (o < this.hLim) {
          const r = this.popAt(o);
          if (r >= 0) return r + HeapLp64.BASE;
          if (r === -1) return this.kmemAllocCache(d[ti]! + HeapLp64.BASE, o, size, kmflag);
        }
      }
    }
    return this.kmemAllocSlow(size, kmflag);
  }

  /** kmem_alloc from the cache cp whose CPU cache (heap offset o) is usable. */
  private kmemAllocCache(cp: number, o: number, size: number, kmflag: number): number {
    if ((this.hi32[(o >>> 2) + CpuCacheWord.FLAGS]! & CacheFlag.BUFTAG) === 0) return this.kmem_cache_alloc(cp, kmflag);
    return this.allocTagged(cp, size, kmflag);
  }

  private kmemAllocSlow(size: number, kmflag: number): number {
    checkArg('kmem_alloc', 'size', size, true);
    let cp: number;
    if (size > 0 && size <= KMEM_MAXBUF_LIMIT) {
      cp = this.ldp(this.G.kmem_alloc_table + ((size - 1) >> 3) * this.P);
    } else if (size > 0 && size <= this.maxCached) {
      cp = this.ldp(this.G.kmem_big_alloc_table + ((size - 1) >> KMEM_BIG_SHIFT) * this.P);
    } else {
      return this.allocOversize(size, kmflag);
    }
    const ccp = cp + this.ccOff + this.k.cur.cpu * KMEM_CPU_CACHE_SIZE;
    if ((this.ld32(ccp + this.ccFlags) & KMF_BUFTAG) === 0) return this.kmem_cache_alloc(cp, kmflag);
    return this.allocTagged(cp, size, kmflag);
  }

  /**
   * kmem_alloc's size tag on the word-index path: for an allocation, write
   * the redzone byte at buf[size] and the encoded size in the buftag; for a
   * free, check both and restore the redzone word.  False, with nothing
   * changed, when anything is unusual or wrong (KMF_LITE, memory outside
   * the heap, a bad tag): the checked path then does the work and reports.
   */
  private taggedW(cpo: number, bo: number, size: number, alloc: boolean): boolean {
    const hs = this.hLim;
    const csz = this.cacheSize;
    const hp = this.hProt;
    if (!(bo >= 0 && (bo & 7) === 0 && bo + size < hs && cpo >= 0 && cpo + csz <= hs && (cpo & 7) === 0)) return false;
    if (hp[cpo >>> 12] === 0 || hp[(cpo + csz - 1) >>> 12] === 0) return false;
    const u = this.h32;
    const O = this.O;
    const ci = cpo >>> 2;
    if (u[ci + (O.cache_flags >>> 2)]! & CacheFlag.LITE) return false;
    const bti = ci + (O.cache_buftag >>> 2);
    const bt = bo + u[bti]!;
    const bi = bo + size;
    if (u[bti + 1] !== 0 || (bt & 7) !== 0 || bt + 8 > hs || hp[bt >>> 12] !== HeapLp64.RW || hp[bi >>> 12] !== HeapLp64.RW) return false;
    const w = bt >>> 2;
    const enc = (251 * size + 1) >>> 0;
    if (alloc) {
      this.h8[bi] = 0xbb;
      u[w + 1] = enc;
      return true;
    }
    if (u[w + 1] !== enc || this.h8[bi] !== 0xbb) return false;
    u[w] = Pattern.REDZONE;
    u[w + 1] = Pattern.REDZONE;
    return true;
  }

  private allocTagged(cp: number, size: number, kmflag: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.kmem_alloc_tagged);
    try {
      const buf = this.kmem_cache_alloc(cp, kmflag);
      if (buf !== 0 && !this.taggedW(cp + HeapLp64.NEG, buf + HeapLp64.NEG, size, true)) {
        const btp = buf + this.ldp(cp + this.O.cache_buftag);
        this.st8(buf + size, KMEM_REDZONE_BYTE);
        this.st32(btp + 4, KMEM_SIZE_ENCODE(size));
        if (this.cacheFlags(cp) & KMF_LITE) this.liteEnter(btp, caller);
      }
      return buf;
    } finally {
      k.depth = d0;
    }
  }

  private allocOversize(size: number, kmflag: number): number {
    const k = this.k;
    const d0 = k.depth;
    k.enter(this.pc.kmem_alloc_oversize);
    try {
      if (size === 0) {
        if (kmflag !== KM_SLEEP && !(kmflag & KM_PANIC)) return 0;
        if (this.ld32(this.G.kmem_panic) && this.ld32(this.G.kmem_panic_zerosized)) k.panic('attempted to kmem_alloc() size of 0');
        if (this.ld32(this.G.kmem_warn_zerosized)) {
          k.cmnErr('warn', 'kmem_alloc(): sleeping allocation with size of 0; see kmem_zerosized_log for details');
        }
        this.logEvent(this.ldp(this.G.kmem_zerosized_log), 0, 0, 0);
        return 0;
      }
      const buf = this.arenas.kmem_oversize.alloc(size, kmflag & KM_VMFLAGS);
      if (buf === 0) this.logEvent(this.ldp(this.G.kmem_failure_log), 0, 0, size);
      return buf;
    } finally {
      k.depth = d0;
    }
  }

  kmem_zalloc(size: number, kmflag: number): number {
    const k = this.k;
    k.enter(this.pc.zalloc);
    let buf: number;
    try {
      buf = this.kmem_alloc(size, kmflag);
    } finally {
      k.leave();
    }
    if (buf !== 0) {
      const mem = this.mem;
      let o = 0;
      // bzero: whole words at once on writable heap (heapWords checks every page)
      const n = size & ~3;
      const i = n > 0 ? this.heapWords(buf, n, true) : -1;
      if (i >= 0) {
        this.h32.fill(0, i, i + (n >>> 2));
        o = n;
      }
      for (; o + 4 <= size; o += 4) this.st32(buf + o, 0);
      for (; o < size; o++) mem.store8(buf + o, 0);
    }
    return buf;
  }

  kmem_free(buf: number, size: number): void {
    if (size > 0 && size <= 4096 && this.hLim !== 0 && (size | 0) === size) {
      const ti = this.iAllocTable + (((size - 1) >> 3) << 1);
      const d = this.d32;
      const bo = buf + HeapLp64.NEG;
      if (d[ti + 1] === HeapLp64.HI && bo >= 0 && bo < this.hLim && (bo | 0) === bo) {
        const o = d[ti]! + CacheWord.CPU_B + this.cpuOff;
        if (o < this.hLim) {
          const r = this.pushAt(o, bo);
          if (r > 0) return;
          if (r === 0) {
            this.kmemFreeCache(d[ti]! + HeapLp64.BASE, o, buf, size);
            return;
          }
        }
      }
    }
    this.kmemFreeSlow(buf, size);
  }

  /** kmem_free to the cache cp whose CPU cache (heap offset o) is usable. */
  private kmemFreeCache(cp: number, o: number, buf: number, size: number): void {
    if ((this.hi32[(o >>> 2) + CpuCacheWord.FLAGS]! & CacheFlag.BUFTAG) === 0) this.kmem_cache_free(cp, buf);
    else this.freeTagged(cp, buf, size);
  }

  private kmemFreeSlow(buf: number, size: number): void {
    checkArg('kmem_free', 'buf', buf);
    checkArg('kmem_free', 'size', size, true);
    let cp: number;
    if (size > 0 && size <= KMEM_MAXBUF_LIMIT) {
      cp = this.ldp(this.G.kmem_alloc_table + ((size - 1) >> 3) * this.P);
    } else if (size > 0 && size <= this.maxCached) {
      cp = this.ldp(this.G.kmem_big_alloc_table + ((size - 1) >> KMEM_BIG_SHIFT) * this.P);
    } else {
      if (buf === 0 && size === 0) return;
      this.arenas.kmem_oversize.free(buf, size);
      return;
    }
    const ccp = cp + this.ccOff + this.k.cur.cpu * KMEM_CPU_CACHE_SIZE;
    if ((this.ld32(ccp + this.ccFlags) & KMF_BUFTAG) === 0) {
      this.kmem_cache_free(cp, buf);
      return;
    }
    this.freeTagged(cp, buf, size);
  }

  private freeTagged(cp: number, buf: number, size: number): void {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.kmem_free_tagged);
    try {
      if (this.taggedW(cp + HeapLp64.NEG, buf + HeapLp64.NEG, size, false)) {
        k.site(this.pc.kmem_free_cache_free);
        this.kmem_cache_free(cp, buf);
        return;
      }
      const btp = buf + this.ldp(cp + this.O.cache_buftag);
      const enc = KMEM_SIZE_ENCODE(size);
      const w1 = this.ld32(btp + 4);
      if (w1 !== enc) {
        if (this.is64(buf, KMEM_FREE_PATTERN32)) {
          k.site(this.pc.kmem_free_dupfree);
          this.kmem_error(KMERR_DUPFREE, cp, buf);
          return;
        }
        if (KMEM_SIZE_VALID(w1)) {
          this.st32(btp, enc);
          k.site(this.pc.kmem_free_badsize);
          this.kmem_error(KMERR_BADSIZE, cp, buf);
        } else {
          k.site(this.pc.kmem_free_size_redzone);
          this.kmem_error(KMERR_REDZONE, cp, buf);
        }
        return;
      }
      if (this.ld8(buf + size) !== KMEM_REDZONE_BYTE) {
        k.site(this.pc.kmem_free_redzone);
        this.kmem_error(KMERR_REDZONE, cp, buf);
        return;
      }
      this.setRedzone(btp);
      if (this.cacheFlags(cp) & KMF_LITE) this.liteEnter(btp, caller);
      k.site(this.pc.kmem_free_cache_free);
      this.kmem_cache_free(cp, buf);
    } finally {
      k.depth = d0;
    }
  }

  /* =================================================================== */
  /* maintenance: update, reap                                            */
  /* =================================================================== */

  /** kmem_update: per-cache hash rescale, working set, magazine resize. */
  kmem_update(): void {
    const k = this.k;
    const d0 = k.depth;
    k.enter(this.pc.update);
    try {
      for (let cp = this.cacheFirst(); cp !== 0; ) {
        const next = this.cacheNext(cp);
        this.cacheUpdate(cp);
        cp = next;
      }
      this.st32(this.G.kmem_reaping, 0);
    } finally {
      k.depth = d0;
    }
  }

  private cacheUpdate(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.cache_update);
    try {
      const flags = this.cacheFlags(cp);
      const total = this.ld64(cp + O.cache_buftotal);
      const mask = this.ldp(cp + O.cache_hash_mask);
      const rescale = (flags & KMF_HASH) !== 0 && (total > mask * 2 || (total < Math.floor(mask / 2) && mask > KMEM_HASH_INITIAL));
      this.depotWsUpdate(cp);
      const mtp = this.ldp(cp + O.cache_magtype);
      const cont = this.ld64(cp + O.cache_depot_contention);
      const resize =
        this.ldp(cp + O.cache_chunksize) < this.ldp(mtp + O.mt_maxbuf) &&
        cont - this.ld64(cp + O.cache_depot_contention_prev) > this.ld32(this.G.kmem_depot_contention);
      this.st64(cp + O.cache_depot_contention_prev, cont);
      if (rescale) this.hashRescale(cp);
      if (resize) this.magazineResize(cp);
    } finally {
      k.leave();
    }
  }

  private hashRescale(cp: number): void {
    const O = this.O;
    const P = this.P;
    const mem = this.mem;
    const total = this.ld64(cp + O.cache_buftotal);
    const newSize = Math.max(KMEM_HASH_INITIAL, 2 ** (highbit(3 * total + 4) - 2));
    const oldSize = this.ldp(cp + O.cache_hash_mask) + 1;
    if (oldSize / 2 <= newSize && newSize <= oldSize * 2) return;
    this.k.enter(this.pc.hash_rescale);
    try {
      const nt = this.arenas.kmem_hash.alloc(newSize * P, VM_NOSLEEP);
      if (nt === 0) return;
      mem.fill32(nt, newSize * P, 0);
      const ot = this.ldp(cp + O.cache_hash_table);
      this.stp(cp + O.cache_hash_mask, newSize - 1);
      this.stp(cp + O.cache_hash_table, nt);
      this.inc64(cp + O.cache_rescale);
      for (let h = 0; h < oldSize; h++) {
        let bcp = this.ldp(ot + h * P);
        for (let n = 0; bcp !== 0; n++) {
          if (n >= this.walkMax) this.k.deadman();
          const next = this.ldp(bcp + O.bc_next);
          const hb = this.hashBucket(cp, this.ldp(bcp + O.bc_addr));
          this.stp(bcp + O.bc_next, this.ldp(hb));
          this.stp(hb, bcp);
          bcp = next;
        }
      }
      this.arenas.kmem_hash.free(ot, oldSize * P);
    } finally {
      this.k.leave();
    }
  }

  /** kmem_cache_reap: reclaim callback, then depot working-set reap. */
  kmem_cache_reap(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.cache_reap);
    try {
      this.inc64(cp + O.cache_reap);
      if (this.ldp(cp + O.cache_reclaim) !== 0) {
        const full = cp + O.cache_full;
        const before = this.ldl(full + O.ml_total);
        this.callbacks.get(cp)?.reclaim?.(this.ldp(cp + O.cache_private));
        const delta = this.ldl(full + O.ml_total) - before;
        if (delta > 0) {
          this.stp(full + O.ml_reaplimit, this.ldl(full + O.ml_reaplimit) + delta);
          this.stp(full + O.ml_min, this.ldl(full + O.ml_min) + delta);
        }
      }
      this.depotWsReap(cp);
    } finally {
      k.leave();
    }
  }

  /**
   * kmem_reap: reap every cache (identifier caches only when `idspace`).
   * Throttled to one run per update interval unless `force`.
   */
  kmem_reap(force = true, idspace = false): void {
    const k = this.k;
    if (!force) {
      if (this.ld32(this.G.kmem_reaping) !== 0) return;
      this.st32(this.G.kmem_reaping, 1);
    }
    const d0 = k.depth;
    k.enter(this.pc.reap);
    try {
      for (let cp = this.cacheFirst(); cp !== 0; ) {
        const next = this.cacheNext(cp);
        if (!idspace || this.ld32(cp + this.O.cache_cflags) & KMC_IDENTIFIER) this.kmem_cache_reap(cp);
        cp = next;
      }
    } finally {
      k.depth = d0;
    }
  }

  /* =================================================================== */
  /* the public (camelCase) API                                           */
  /* =================================================================== */

  /** kmem_cache_create(name, size, align, ctor, dtor, reclaim, private, arena, cflags). */
  cacheCreate(name: string, size: number, opts: CacheCreateOptions = {}): KmemCache {
    return this.kmem_cache_create(name, size, opts);
  }

  kmemAlloc(size: number, kmflag: number = KM_SLEEP): number {
    return this.kmem_alloc(size, kmflag);
  }

  kmemZalloc(size: number, kmflag: number = KM_SLEEP): number {
    return this.kmem_zalloc(size, kmflag);
  }

  kmemFree(buf: number, size: number): void {
    this.kmem_free(buf, size);
  }

  /** kmem_reap() now (not throttled). */
  reap(): void {
    this.kmem_reap(true, false);
  }

  /** kmem_update() now (it also runs every 15 s of simulated time). */
  update(): void {
    this.kmem_update();
  }

  /* =================================================================== */
  /* statistics (read back from memory; for tests and tools)             */
  /* =================================================================== */

  cacheStats(cp: number): CacheStats {
    const O = this.O;
    // as illumos' kstats: alloc = slab_alloc + sum(cc_alloc), free = slab_free + sum(cc_free)
    let alloc = this.ld64(cp + O.cache_slab_alloc);
    let free = this.ld64(cp + O.cache_slab_free);
    const magsize = this.mem.load16(this.ldp(cp + O.cache_magtype) + O.mt_magsize);
    let constructed = this.ldl(cp + O.cache_full + O.ml_total) * magsize;
    for (let c = 0; c < this.k.ncpus; c++) {
      const ccp = cp + this.ccOff + c * KMEM_CPU_CACHE_SIZE;
      alloc += this.ld64(ccp + this.ccAlloc);
      free += this.ld64(ccp + this.ccFree);
      constructed += Math.max(this.getRounds(ccp), 0) + Math.max(this.getProunds(ccp), 0);
    }
    const buftotal = this.ld64(cp + O.cache_buftotal);
    const bufslab = this.ld64(cp + O.cache_bufslab);
    return {
      name: this.cacheName(cp),
      bufsize: this.ldp(cp + O.cache_bufsize),
      chunksize: this.ldp(cp + O.cache_chunksize),
      slabsize: this.ldp(cp + O.cache_slabsize),
      flags: this.cacheFlags(cp),
      cflags: this.ld32(cp + O.cache_cflags),
      alloc,
      free,
      allocFail: this.ld64(cp + O.cache_alloc_fail),
      slabCreate: this.ld64(cp + O.cache_slab_create),
      slabDestroy: this.ld64(cp + O.cache_slab_destroy),
      slabAlloc: this.ld64(cp + O.cache_slab_alloc),
      slabFree: this.ld64(cp + O.cache_slab_free),
      buftotal,
      bufmax: this.ld64(cp + O.cache_bufmax),
      bufslab,
      bufConstructed: constructed,
      bufInuse: buftotal - constructed - bufslab,
      fullMagazines: this.ldl(cp + O.cache_full + O.ml_total),
      emptyMagazines: this.ldl(cp + O.cache_empty + O.ml_total),
      magazineSize: this.cacheFlags(cp) & KMF_NOMAGAZINE ? 0 : magsize,
      hashSize: this.cacheFlags(cp) & KMF_HASH ? this.ldp(cp + O.cache_hash_mask) + 1 : 0,
      rescale: this.ld64(cp + O.cache_rescale),
      reap: this.ld64(cp + O.cache_reap),
      depotContention: this.ld64(cp + O.cache_depot_contention),
      completeSlabs: this.ldp(cp + O.cache_complete_slab_count),
      partialSlabs: this.ldp(cp + O.cache_partial_slabs + O.avl_numnodes),
      partialBinshift: this.ldp(cp + O.cache_partial_binshift),
      maxchunks: this.ldp(cp + O.cache_maxchunks),
    };
  }

  /** Slabs of a cache: complete, then partial in tree order. */
  slabsOf(cp: number): Array<{ slab: number; base: number; chunks: number; refcnt: number }> {
    const O = this.O;
    const out: Array<{ slab: number; base: number; chunks: number; refcnt: number }> = [];
    const push = (sp: number) =>
      out.push({ slab: sp, base: this.ldp(sp + O.slab_base), chunks: this.ldl(sp + O.slab_chunks), refcnt: this.ldl(sp + O.slab_refcnt) });
    const list = cp + O.cache_complete_slabs;
    for (let sp = this.listNext(list, 0, O.slab_link); sp !== 0; sp = this.listNext(list, sp, O.slab_link)) push(sp);
    const tree = cp + O.cache_partial_slabs;
    const off = this.ldp(tree + O.avl_offset);
    for (let n = this.ldp(tree + O.avl_root); n !== 0; n = this.avlNextNode(n)) push(n - off);
    return out;
  }

  /** Offsets kmem uses, for tests and tools that build on kmem. */
  offsets(): KmemOffsets {
    return this.O;
  }

  /** Set kmem_panic (>0 panic, <=0 report and continue). */
  setPanic(v: number): void {
    this.st32(this.G.kmem_panic, v | 0);
  }

  /** Set a cache's mtbf (cache_mtbf) or the global kmem_mtbf (cp = 0). */
  setMtbf(cp: number, mtbf: number): void {
    this.st32(cp === 0 ? this.G.kmem_mtbf : cp + this.O.cache_mtbf, mtbf >>> 0);
  }
}

export interface CacheStats {
  name: string;
  bufsize: number;
  chunksize: number;
  slabsize: number;
  flags: number;
  cflags: number;
  alloc: number;
  free: number;
  allocFail: number;
  slabCreate: number;
  slabDestroy: number;
  slabAlloc: number;
  slabFree: number;
  buftotal: number;
  bufmax: number;
  bufslab: number;
  bufConstructed: number;
  bufInuse: number;
  fullMagazines: number;
  emptyMagazines: number;
  magazineSize: number;
  hashSize: number;
  rescale: number;
  reap: number;
  depotContention: number;
  completeSlabs: number;
  partialSlabs: number;
  partialBinshift: number;
  maxchunks: number;
}

const KMEM_MAXBUF_LIMIT = 4096;

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

/** strident_canon: non-identifier characters become '_'. */
function canonName(name: string): string {
  let s = name.slice(0, 31).replace(/[^A-Za-z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = '_' + s.slice(1);
  return s;
}

/** 64-bit value from halves as unprefixed hex (`%llx`). */
function hex64(hi: number, lo: number): string {
  if (hi === 0) return (lo >>> 0).toString(16);
  return (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

function hex0xp(a: number): string {
  return hex(a);
}

/** kobj_getsymname + `%s+%lx` (no 0x; `?` when unknown). */
function symOff(sym: string, pc: number): string {
  const m = /^(.*)\+0x([0-9a-f]+)$/.exec(sym);
  if (m) return `${m[1]}+${m[2]}`;
  if (/^[0-9a-f]+$/.test(sym) && sym === hex(pc)) return `?+${hex(pc)}`;
  return `${sym}+0`;
}

export { KMF_STICKY, KMF_PREFILL, KMF_BUFTAG, KMF_FIREWALL, KMF_HASH, KMF_CONTENTS, KMF_DEADBEEF, KMF_REDZONE, KMF_LITE, KMF_AUDIT };
