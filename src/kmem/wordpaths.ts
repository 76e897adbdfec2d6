/*
 * The word-index fast paths.
 *
 * Contract: each function here either leaves exactly the memory image
 * that the checked path would leave, or hands the operation over with
 * nothing changed (a sentinel return value), and the checked path then
 * does all of it, including any fault and any kmem_error report.  So the
 * word paths never report, never fault and never differ;
 * test/kmem/wordpaths.test.ts holds them to that (the same seeded
 * workload, with client mistakes, under 11 kmem_flags settings with the
 * paths on and off: the same memory image byte for byte, the same clock,
 * the same reports).
 *
 * They work on the heap segment's typed arrays with heap offsets (small
 * integers) in place of addresses, for the standard LP64 layout written
 * in as const enums (lp64.ts), and check everything they touch first: in
 * the heap, aligned, page readable or writable, pointers with the heap's
 * high word, counts in range, no KMF_LITE, no mtbf, no constructor or
 * destructor to run.  `wordPathsOn` (false under ILP32, another layout, a
 * heap over 2 GiB, or `wordPaths: false`) turns every one of them off:
 * the entry points, and the in-place variants the checked functions try
 * first (depotAllocW, cpuReloadW, verifyAndCopyW, ...), which `hLim` = 0
 * and heapWords = -1 keep from running.
 *
 * The magazine round take and put are written out in popAt / pushAt and
 * again in allocW / freeW on purpose: with a shared helper,
 * kmem_cache_alloc and kmem_cache_free exceed V8's inlining budget (920
 * bytes of bytecode per caller) and stop being inlined into their callers
 * (measured: kmem went from 7.3 to 10.1 ns per operation, lifo64 from 9.6
 * to 20.4).  This is the documented fast/checked pair of near-copies.
 */

import { DEADMAN_SPINS } from '../kernel/kernel.js';
import { KMEM_STACK_DEPTH, KM_NOSLEEP } from '../abi/kmem-impl.js';
import { HeapLp64, Pattern, CpuCacheWord, CacheWord, BufctlWord, MaglistWord, BuftagWord, CacheFlag } from './lp64.js';
import { KmemLists } from './list.js';

export abstract class KmemWordPaths extends KmemLists {
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
  protected popAt(o: number): number {
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
  protected pushAt(o: number, bo: number): number {
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
   * constructor or destructor to run) they do what kmem_cache_alloc_debug / kmem_cache_free_debug
   * do; anything wrong or unusual goes to the checked path with nothing
   * changed, which does the work and any reporting exactly as before.
   */

  /**
   * Allocate: the buffer's heap offset; -1 when the checked path must do
   * the work (nothing has been changed); -2 to return NULL (a KM_NOSLEEP
   * allocation met a corrupt buffer, already reported).
   */
  protected allocW(o: number, kmflag: number): number {
    const u = this.hi32;
    const hp = this.hProt;
    const hs = this.hLim;
    const ci = o >>> 2;
    const cpo = o - (CacheWord.CPU_B + this.cpuOff);
    for (let spins = 0; ; spins++) {
      // (the turns so far go to kmem_cache_alloc_checked if it takes over: see spins)
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
        if (flags & CacheFlag.DEADBEEF && this.verifyAndCopyW(bo, n) >= 0) break fast;
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
  protected freeW(o: number, bo: number): boolean {
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
  protected dbgTag(cpo: number, bo: number, alloc: boolean): number {
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
  protected bufctlAddrIs(w: number, bo: number): boolean {
    const u = this.hi32;
    const a = u[w + BuftagWord.BUFCTL]! + BufctlWord.ADDR * 4;
    return u[w + BuftagWord.BUFCTL + 1] === HeapLp64.HI_I && a >= 0 && a + 8 <= this.hLim && (a & 7) === 0 && this.hProt[a >>> 12] !== 0 && u[a >>> 2] === bo && u[(a >>> 2) + 1] === HeapLp64.HI_I;
  }

  /**
   * KMEM_AUDIT for allocW's debug checks (bo < 0) and freeW's (bo = the buffer's
   * heap offset: under KMF_CONTENTS its contents go to the content log
   * first), inside the kmem_cache_alloc / kmem_cache_free frame whose pc
   * the checked path records.
   */
  protected auditW(cpo: number, bo: number, bcLo: number, bcHi: number, flags: number): void {
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
          this.stp(bcp + O.bc_contents, this.kmem_log_enter(this.ldp(this.G.kmem_content_log), bo + HeapLp64.BASE, this.ldp(cp + O.cache_contents)));
        }
      }
      if (!(rec && d[this.iTxLog + 1] === HeapLp64.HI && this.auditH(d[this.iTxLog]!, bcLo))) {
        this.kmem_audit(this.ldp(this.G.kmem_transaction_log), cpo + HeapLp64.BASE, bcp);
      }
    } finally {
      k.depth = d0;
    }
  }

  /**
   * KMEM_AUDIT on the heap view: the record at heap offset bco (8-aligned,
   * inside the heap) into the transaction log whose header is at heap
   * offset lho.  False, with nothing changed, when a page is not writable
   * or the log needs the checked path (kmem_audit() then does it all).
   */
  protected auditH(lho: number, bco: number): boolean {
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
  protected magRefill(cpo: number, o: number, forAlloc: boolean): number {
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
  protected logReserveHeap(lho: number, size: number, s: number): number {
    if (lho < 0 || size <= 0 || this.k.panicking || this.d32[this.iLogging] === 0) return -1;
    const hSize = this.hLim;
    const prot = this.hProt;
    const c = lho + this.O.lh_cpu + this.cpuOff;
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
  protected logEnterHeap(lho: number, s: number, size: number): number {
    const d = this.logReserveHeap(lho, size, s);
    if (d < 0) return -1;
    // (copyWithin beats a word loop for the 48-word audit record.)
    if (((d | s | size) & 3) === 0) this.h32.copyWithin(d >>> 2, s >>> 2, (s + size) >>> 2);
    else this.h8.copyWithin(d, s, s + size);
    return d;
  }

  /**
   * The audit fields of the record at heap word index i (writable; the
   * fields 4-aligned): bc_timestamp = gethrtime(), bc_thread = curthread,
   * bc_stack / bc_depth = the current thread's pcs, innermost first.  What
   * the checked stores and k.capturePcs write, on the heap view.
   */
  protected auditFill(i: number): void {
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
    let si = i + (this.O.bc_stack >>> 2);
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

  /**
   * kmem_alloc's size tag on the word-index path: for an allocation, write
   * the redzone byte at buf[size] and the encoded size in the buftag; for a
   * free, check both and restore the redzone word.  False, with nothing
   * changed, when anything is unusual or wrong (KMF_LITE, memory outside
   * the heap, a bad tag): the checked path then does the work and reports.
   */
  protected taggedW(cpo: number, bo: number, size: number, alloc: boolean): boolean {
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


  /**
   * verify_and_copy_pattern on the heap view: the heap bytes [bo, bo + n)
   * (8-aligned, n a multiple of 8, every page writable: the caller has
   * checked) hold 0xdeadbeef and become 0xbaddcafe: -1; else the offset of
   * the first 64-bit word that differs, and nothing is changed.  The words
   * are read and written through the Float64Array view: the patterns are
   * ordinary finite doubles, so == is bit equality and stores keep the bits.
   */
  protected verifyAndCopyW(bo: number, n: number): number {
    const f = this.h64;
    const fr = this.pFree64;
    const un = this.pUninit64;
    const i = bo >>> 3;
    const e = i + (n >>> 3);
    for (let j = i; j < e; j++) {
      if (f[j] !== fr) {
        for (let r = i; r < j; r++) f[r] = fr;
        return (j - i) << 3;
      }
      f[j] = un;
    }
    return -1;
  }

  /**
   * kmem_depot_alloc's list work on the kmem_maglist_t at heap word index i
   * (writable: heapWords checked it): the magazine taken from the list, 0
   * when it is empty.  The only access outside the list (the magazine's
   * link word) is the checked load, made before anything changes.
   */
  protected depotAllocW(i: number): number {
    const u = this.h32;
    const li = i + MaglistWord.LIST;
    const mp = (u[li + 1]! | 0) * HeapLp64.TWO32 + u[li]!;
    if (mp === 0) return 0;
    const next = this.ldp(mp);
    const nh = Math.floor(next / HeapLp64.TWO32);
    u[li] = next - nh * HeapLp64.TWO32;
    u[li + 1] = nh;
    const ti = i + MaglistWord.TOTAL;
    const total = (u[ti + 1]! | 0) * HeapLp64.TWO32 + u[ti]! - 1;
    const th = Math.floor(total / HeapLp64.TWO32);
    u[ti] = total - th * HeapLp64.TWO32;
    u[ti + 1] = th;
    const ni = i + MaglistWord.MIN;
    if (total < (u[ni + 1]! | 0) * HeapLp64.TWO32 + u[ni]!) {
      u[ni] = u[ti]!;
      u[ni + 1] = u[ti + 1]!;
    }
    const ai = i + MaglistWord.ALLOC;
    const lo = u[ai]! + 1;
    u[ai] = lo;
    if (lo === HeapLp64.TWO32) u[ai + 1]++;
    return mp;
  }

  /** kmem_depot_free's list work on the kmem_maglist_t at heap word index i (as depotAllocW): mp goes on the list. */
  protected depotFreeW(i: number, mp: number): void {
    const u = this.h32;
    const li = i + MaglistWord.LIST;
    this.stp(mp, (u[li + 1]! | 0) * HeapLp64.TWO32 + u[li]!);
    const mh = Math.floor(mp / HeapLp64.TWO32);
    u[li] = mp - mh * HeapLp64.TWO32;
    u[li + 1] = mh;
    const ti = i + MaglistWord.TOTAL;
    const total = (u[ti + 1]! | 0) * HeapLp64.TWO32 + u[ti]! + 1;
    const th = Math.floor(total / HeapLp64.TWO32);
    u[ti] = total - th * HeapLp64.TWO32;
    u[ti + 1] = th;
  }

  /**
   * kmem_cpu_reload on the heap view, when the CPU cache at ccp is one
   * writable 64-byte heap block: the previous magazine becomes the loaded
   * one's, mp is loaded with `rounds` rounds.  False, nothing changed,
   * otherwise.
   */
  protected cpuReloadW(ccp: number, mp: number, rounds: number): boolean {
    const o = ccp + HeapLp64.NEG;
    if (!(o >= 0 && o < this.hLim && (o & 63) === 0 && this.hProt[o >>> 12] === HeapLp64.RW)) return false;
    const u = this.h32;
    const ci = o >>> 2;
    const il = ci + CpuCacheWord.LOADED;
    u[ci + CpuCacheWord.PLOADED] = u[il]!;
    u[ci + CpuCacheWord.PLOADED + 1] = u[il + 1]!;
    const ir = ci + CpuCacheWord.ROUNDS;
    u[ir] = ((u[ir]! & 0xffff) << 16) | (rounds & 0xffff);
    const mh = Math.floor(mp / HeapLp64.TWO32);
    u[il] = mp - mh * HeapLp64.TWO32;
    u[il + 1] = mh;
    return true;
  }

  /**
   * kmem_log_event's record, written in place at heap word index i (a
   * reservation of logReserveHeap: writable, 8-aligned): zeroes, then
   * bc_addr, bc_slab, bc_cache and the audit fields.
   */
  protected logEventW(i: number, cp: number, sp: number, addr: number): void {
    const u = this.h32;
    u.fill(0, i, i + (this.bcaSize >>> 2));
    const O = this.O;
    for (const [f, v] of [[O.bc_addr, addr], [O.bc_slab, sp], [O.bc_cache, cp]] as const) {
      const hi = Math.floor(v / HeapLp64.TWO32);
      u[i + (f >>> 2)] = v - hi * HeapLp64.TWO32;
      u[i + (f >>> 2) + 1] = hi;
    }
    this.auditFill(i);
  }

  /* defined in the layers above */
  protected abstract allocDebugFramed(cp: number, buf: number, kmflag: number, construct: boolean, pc: number): number;
  protected abstract kmem_audit(lhp: number, cp: number, bcp: number): void;
  protected abstract depotContendedAt(cp: number): boolean;
  protected abstract freeMag(cp: number, ccp: number, buf: number, spins?: number): void;
  protected abstract kmem_log_enter(lhp: number, data: number, size: number): number;
}
