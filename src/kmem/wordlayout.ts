/*
 * The layout the word-index paths (wordpaths.ts) work with.
 *
 * Theory
 * ------
 * The word paths index the heap segment's typed arrays with 32-bit word
 * indices, so they need kmem's structures as word offsets.  Those come
 * from one place, the C types of the data model in use (the ctf layout
 * that the checked paths and mdb read too): `new WordLayout(...)` turns kmem's
 * field offsets into a WordLayout, for LP64 and ILP32 alike, and says
 * whether the word paths can use it (every field they touch 4-aligned,
 * cache_full and cache_empty contiguous).  Nothing is written twice: a
 * change of a C type changes what the word paths read.
 *
 * A pointer is one word (ILP32) or two (LP64: low word first).  A heap
 * pointer's low word, minus the low word of the heap base (`hb`: 0 under
 * LP64 and for a process heap, whose base is 0), is its heap offset;
 * under LP64 its high word must be the heap's (HeapLp64.HI), which the
 * standard heap base makes a constant.
 *
 * What does not depend on the data model stays a const enum (written as
 * literals): the debug patterns, the flag bits, the LP64 heap base.
 */

import type { KmemOffsets } from './state.js';

/**
 * The kernel heap under LP64: it starts at 0xfffffe8000000000, so a heap
 * pointer is the word pair (offset, HI) and cp - heap base = cp + NEG.
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

/**
 * kmem's structures as the word paths see them: offsets in 32-bit words
 * from the start of the structure, unless the name ends in B (bytes).
 * A class with every field assigned in its constructor: one hidden class
 * with fast properties, so that a field is one load in optimized code.
 */
export class WordLayout {
  /** The word paths can use this layout (every field they touch 4-aligned, cache_full and cache_empty contiguous). */
  readonly fits: boolean;
  /** Words of a pointer (and of a long, a size_t): 1 (ILP32) or 2 (LP64). */
  readonly pw: number;
  /** log2 of a pointer's bytes, and the mask of its alignment. */
  readonly ps: number;
  readonly pmask: number;
  /**
   * The word of a pointer that holds its high half (1), or 0 under ILP32,
   * and the mask of that word's test (-1, or 0 under ILP32): a pointer at
   * word i has the heap's high word when ((u[i + hi] ^ HI_I) & hm) is 0,
   * and storing HI_I at u[i + hi] then the low word at u[i] writes one.
   * (Branch-free: the magazine paths stay within V8's inlining budget.)
   */
  readonly hi: number;
  readonly hm: number;
  /** kmem_cpu_cache_t (cache_cpu[i]); cc_rounds is the low half of its word, cc_prounds the high half. */
  readonly ccAlloc: number;
  readonly ccFree: number;
  readonly ccLoaded: number;
  readonly ccPloaded: number;
  readonly ccFlags: number;
  readonly ccRounds: number;
  readonly ccMagsize: number;
  /** kmem_cache_t */
  readonly cCtor: number;
  readonly cDtor: number;
  readonly cFlags: number;
  readonly cMtbf: number;
  readonly cBuftag: number;
  readonly cVerify: number;
  readonly cContents: number;
  readonly cFullB: number;
  readonly cEmptyB: number;
  readonly cCpuB: number;
  /** kmem_bufctl_t / kmem_bufctl_audit_t */
  readonly bcAddr: number;
  readonly bcLastlog: number;
  readonly bcContentsB: number;
  /** kmem_maglist_t, and its size */
  readonly mlList: number;
  readonly mlTotal: number;
  readonly mlMin: number;
  readonly mlAlloc: number;
  readonly mlSizeB: number;
  /** kmem_buftag_t (bt_redzone is word 0), and its size */
  readonly btBufctl: number;
  readonly btBxstat: number;
  readonly btSizeB: number;

  /** The word layout of kmem's structures from their C field offsets (bytes), the pointer size and two structure sizes. */
  constructor(O: KmemOffsets, ptrSize: number, sizes: { maglist: number; buftag: number }) {
    const words = [
      O.cc_alloc, O.cc_free, O.cc_loaded, O.cc_ploaded, O.cc_flags, O.cc_rounds, O.cc_magsize, O.cache_constructor, O.cache_destructor,
      O.cache_flags, O.cache_mtbf, O.cache_buftag, O.cache_verify, O.cache_contents, O.bc_addr, O.bc_lastlog, O.ml_list, O.ml_total,
      O.ml_min, O.ml_alloc, O.bt_bufctl, O.bt_bxstat, O.cache_full, O.cache_empty, O.cache_cpu, O.bc_contents, sizes.maglist, sizes.buftag,
    ];
    this.fits = words.every((b) => b % 4 === 0) && O.cache_empty - O.cache_full === sizes.maglist && (ptrSize === 4 || ptrSize === 8);
    this.pw = ptrSize === 8 ? 2 : 1;
    this.ps = this.pw + 1;
    this.pmask = ptrSize - 1;
    this.hi = this.pw - 1;
    this.hm = this.pw === 2 ? -1 : 0;
    this.ccAlloc = O.cc_alloc >>> 2;
    this.ccFree = O.cc_free >>> 2;
    this.ccLoaded = O.cc_loaded >>> 2;
    this.ccPloaded = O.cc_ploaded >>> 2;
    this.ccFlags = O.cc_flags >>> 2;
    this.ccRounds = O.cc_rounds >>> 2;
    this.ccMagsize = O.cc_magsize >>> 2;
    this.cCtor = O.cache_constructor >>> 2;
    this.cDtor = O.cache_destructor >>> 2;
    this.cFlags = O.cache_flags >>> 2;
    this.cMtbf = O.cache_mtbf >>> 2;
    this.cBuftag = O.cache_buftag >>> 2;
    this.cVerify = O.cache_verify >>> 2;
    this.cContents = O.cache_contents >>> 2;
    this.cFullB = O.cache_full;
    this.cEmptyB = O.cache_empty;
    this.cCpuB = O.cache_cpu;
    this.bcAddr = O.bc_addr >>> 2;
    this.bcLastlog = O.bc_lastlog >>> 2;
    this.bcContentsB = O.bc_contents;
    this.mlList = O.ml_list >>> 2;
    this.mlTotal = O.ml_total >>> 2;
    this.mlMin = O.ml_min >>> 2;
    this.mlAlloc = O.ml_alloc >>> 2;
    this.mlSizeB = sizes.maglist;
    this.btBufctl = O.bt_bufctl >>> 2;
    this.btBxstat = O.bt_bxstat >>> 2;
    this.btSizeB = sizes.buftag;
  }
}
