/*
 * The standard LP64 layout the word-index paths (wordpaths.ts) are
 * written for.
 */
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

