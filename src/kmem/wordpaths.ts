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
 * paths on and off, for LP64 and ILP32 kernels and for a process heap:
 * the same memory image byte for byte, the same clock, the same reports).
 *
 * They work on the heap segment's typed arrays with heap offsets (small
 * integers) in place of addresses, with the structures' word offsets of
 * the data model in use (wordlayout.ts: from the C types, LP64 or ILP32),
 * and check everything they touch first: in the heap, aligned, page
 * readable or writable, pointers into the heap, counts in range, no
 * KMF_LITE, no mtbf, no constructor or destructor to run.  `wordPathsOn`
 * (false for a layout that does not fit, an LP64 heap off the standard
 * base, a heap over 2 GiB, or `wordPaths: false`) turns every one of them
 * off: the entry points, and the in-place variants the checked functions
 * try first (depotAllocW, cpuReloadW, verifyAndCopyW, ...), which `hLim`
 * = 0 and heapWords = -1 keep from running.
 *
 * A pointer at word index i is read as `(u[i] - hb) | 0` (its heap
 * offset) and is a heap pointer when that is in [0, hLim) and, under LP64
 * (pw = 2), its high word u[i + 1] is the heap's; it is written back as
 * offset + hb (and the high word).  The magazine paths test and write the
 * high word without a branch (WordLayout.hi, hm).
 *
 * The paths that read the layout on every operation (popAt, pushAt,
 * allocW, freeW, magRefill, and the entry points' cpuCacheOff and
 * sizeCpuCacheOff) are closures over one WordLayout and heap base, made
 * once per distinct pair (layoutPaths) and installed on the instance:
 * with one kind of heap in a process V8 folds the layout's fields into
 * their code as constants, where `this.W.field` would be a load per use.
 * The rest read `this.W`.
 *
 * The magazine round take and put are written out in popAt / pushAt and
 * again in allocW / freeW on purpose: with a shared helper,
 * kmem_cache_alloc and kmem_cache_free exceed V8's inlining budget (920
 * bytes of bytecode per caller) and stop being inlined into their callers
 * (measured: kmem went from 7.3 to 10.1 ns per operation, lifo64 from 9.6
 * to 20.4).  This is the documented fast/checked pair of near-copies.
 */

import { DEADMAN_SPINS } from '../kernel/kernel.js';
import { KM_NOSLEEP } from '../abi/kmem-impl.js';
import { HeapLp64, Pattern, CacheFlag, type WordLayout } from './wordlayout.js';
import { KmemLists } from './list.js';

/** The word paths made for one layout and heap base (KmemWordPaths.layoutPaths). */
interface LayoutPaths {
  cpuCacheOff(this: KmemWordPaths, cp: number): number;
  sizeCpuCacheOff(this: KmemWordPaths, size: number): number;
  popAt(this: KmemWordPaths, o: number): number;
  pushAt(this: KmemWordPaths, o: number, bo: number): number;
  allocW(this: KmemWordPaths, o: number, kmflag: number): number;
  freeW(this: KmemWordPaths, o: number, bo: number): boolean;
  magRefill(this: KmemWordPaths, cpo: number, o: number, forAlloc: boolean): number;
}

/** The layout paths made so far, by layout and heap base. */
const madeLayoutPaths = new Map<string, LayoutPaths>();

export abstract class KmemWordPaths extends KmemLists {
  /*
   * The magazine fast paths, on heap offsets (signed words: no
   * uint32-to-double conversions).  o is the CPU cache's heap offset,
   * 0 <= o < hLim.  Like allocW, freeW and magRefill below, they are
   * closures over one layout and heap base (layoutPaths), installed on
   * the instance when its views are mapped.
   */

  /**
   * Take a round from the loaded magazine of a plain cache: the buffer's
   * heap offset; -1 when the CPU cache is usable but this is not the plain
   * case (a debug cache, no rounds, a round that is no heap address: allocW
   * or the checked path); -3 when the CPU cache itself is not (unaligned,
   * not writable: the checked path).
   */
  protected popAt!: LayoutPaths['popAt'];

  /**
   * Put the buffer at heap offset bo (0 <= bo < hLim) into the loaded
   * magazine of a plain cache: 1 done; 0 when the CPU cache is usable but
   * this is not the plain case (freeW); -3 when the CPU cache is not.
   */
  protected pushAt!: LayoutPaths['pushAt'];

  /** The heap offset of cache_cpu[0] of the cache at cp (a number; the caller checks the range). */
  protected cpuCacheOff!: LayoutPaths['cpuCacheOff'];

  /**
   * The heap offset of cache_cpu[0] of kmem_alloc_table[(size - 1) >> 3]'s
   * cache (1 <= size <= 4096), read on the data view; -1 when the entry
   * is not a heap pointer.
   */
  protected sizeCpuCacheOff!: LayoutPaths['sizeCpuCacheOff'];

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
  protected allocW!: LayoutPaths['allocW'];

  /** Free the buffer at heap offset bo: true when done, false for the checked path (nothing changed). */
  protected freeW!: LayoutPaths['freeW'];

  /**
   * The magazine layer's refill on the word-index path: the CPU cache at
   * heap offset o has no rounds to give (or no room to take).  Swap in the
   * previous magazine if it can serve, else exchange with the depot
   * (kmem_depot_alloc of a full / empty magazine, kmem_depot_free of the
   * previous one, kmem_cpu_reload).  Returns 1 when the loaded magazine can
   * now serve, 0 when the slab layer must (no magazines, or the depot has
   * none), -1 when something is unusual (a pointer outside the heap, a page
   * that is not writable): the caller takes the checked path, which redoes
   * the same steps with the same result.
   */
  protected magRefill!: LayoutPaths['magRefill'];

  override remapViews(): void {
    super.remapViews();
    const p = KmemWordPaths.layoutPaths(this.W, this.hBase);
    this.cpuCacheOff = p.cpuCacheOff;
    this.sizeCpuCacheOff = p.sizeCpuCacheOff;
    this.popAt = p.popAt;
    this.pushAt = p.pushAt;
    this.allocW = p.allocW;
    this.freeW = p.freeW;
    this.magRefill = p.magRefill;
  }

  /**
   * The word paths that read the layout on every operation (cpuCacheOff,
   * sizeCpuCacheOff, popAt, pushAt, allocW, freeW, magRefill), for the
   * layout W and the heap at base: closures over W and base, made once per
   * distinct pair.  With one kind of heap in a process, V8 sees one closure
   * of each and folds W's fields and the base into their code as constants
   * (W is a constant of the closure, its fields never change), as if the
   * offsets were literals; through `this.W` every offset is a load.  Heaps
   * of the same layout and base share them.
   */
  private static layoutPaths(W: WordLayout, base: number): LayoutPaths {
    const key = `${Object.values(W).join(',')}/${base}`;
    const made = madeLayoutPaths.get(key);
    if (made) return made;
    const hb = base | 0;
    const paths: LayoutPaths = {
      cpuCacheOff(this: KmemWordPaths, cp: number): number {
        return cp + (W.cCpuB - base);
      },
      sizeCpuCacheOff(this: KmemWordPaths, size: number): number {
        const d = this.d32;
        const ti = this.iAllocTable + ((size - 1) >> 3) * W.pw;
        if (W.pw === 2 && d[ti + 1] !== HeapLp64.HI) return -1;
        const co = (d[ti]! - hb) | 0;
        return co < 0 ? -1 : co + W.cCpuB;
      },
      popAt(this: KmemWordPaths, o: number): number {
        if ((o & 63) !== 0 || this.hProt[o >>> 12] !== HeapLp64.RW) return -3;
        const u = this.hi32;
        const ci = o >>> 2;
        const rw = u[ci + W.ccRounds]!;
        const rounds = (rw << 16) >> 16;
        const il = ci + W.ccLoaded;
        if (rounds <= 0 || (u[ci + W.ccFlags]! & CacheFlag.ALLOC_SLOW) !== 0 || ((u[il + W.hi]! ^ HeapLp64.HI_I) & W.hm) !== 0) return -1;
        const mo = ((u[il]! - hb) | 0) + (rounds << W.ps);
        if (mo < 0 || mo >= this.hLim || (mo & W.pmask) !== 0 || this.hProt[mo >>> 12] === 0) return -1;
        const mi = mo >>> 2;
        const b = (u[mi]! - hb) | 0;
        if (((u[mi + W.hi]! ^ HeapLp64.HI_I) & W.hm) !== 0 || b < 0 || b >= this.hLim) return -1;
        u[ci + W.ccRounds] = rw - 1; // rounds > 0: no borrow into prounds
        const ai = ci + W.ccAlloc;
        const lo = (u[ai]! + 1) | 0;
        u[ai] = lo;
        if (lo === 0) u[ai + 1]++;
        return b;
      },
      pushAt(this: KmemWordPaths, o: number, bo: number): number {
        if ((o & 63) !== 0 || this.hProt[o >>> 12] !== HeapLp64.RW) return -3;
        const u = this.hi32;
        const ci = o >>> 2;
        const rw = u[ci + W.ccRounds]!;
        const rounds = (rw << 16) >> 16;
        const il = ci + W.ccLoaded;
        if ((u[ci + W.ccFlags]! & CacheFlag.FREE_SLOW) !== 0 || rounds < 0 || rounds >= (u[ci + W.ccMagsize]! & 0xffff) || ((u[il + W.hi]! ^ HeapLp64.HI_I) & W.hm) !== 0) return 0;
        const mo = ((u[il]! - hb) | 0) + ((rounds + 1) << W.ps);
        if (mo < 0 || mo >= this.hLim || (mo & W.pmask) !== 0 || this.hProt[mo >>> 12] !== HeapLp64.RW) return 0;
        const mi = mo >>> 2;
        u[mi + W.hi] = HeapLp64.HI_I;
        u[mi] = bo + hb;
        u[ci + W.ccRounds] = rw + 1; // rounds < magsize <= 0xffff: no carry into prounds
        const fi = ci + W.ccFree;
        const lo = (u[fi]! + 1) | 0;
        u[fi] = lo;
        if (lo === 0) u[fi + 1]++;
        return 1;
      },
      allocW(this: KmemWordPaths, o: number, kmflag: number): number {
        const u = this.hi32;
        const hp = this.hProt;
        const hs = this.hLim;
        const ci = o >>> 2;
        const il = ci + W.ccLoaded;
        const cpo = o - (W.cCpuB + this.cpuOff);
        for (let spins = 0; ; spins++) {
          // (the turns so far go to kmem_cache_alloc_checked if it takes over: see spins)
          this.spins = spins;
          if (spins >= DEADMAN_SPINS) this.k.deadman();
          if (u[ci + W.ccFlags]! & CacheFlag.DUMPUNSAFE) return -1;
          const rw = u[ci + W.ccRounds]!;
          const rounds = (rw << 16) >> 16;
          if (rounds <= 0) {
            if (this.magRefill(cpo, o, true) > 0) continue;
            return -1;
          }
          const mo = ((u[il]! - hb) | 0) + (rounds << W.ps);
          if (((u[il + W.hi]! ^ HeapLp64.HI_I) & W.hm) !== 0 || mo < 0 || mo >= hs || (mo & W.pmask) !== 0 || hp[mo >>> 12] === 0) return -1;
          const mi = mo >>> 2;
          const bo = (u[mi]! - hb) | 0;
          if (((u[mi + W.hi]! ^ HeapLp64.HI_I) & W.hm) !== 0 || bo < 0 || bo >= hs) return -1; // a round that is no heap address: the checked path hands it out
          u[ci + W.ccRounds] = rw - 1;
          const ai = ci + W.ccAlloc;
          const lo = (u[ai]! + 1) | 0;
          u[ai] = lo;
          if (lo === 0) u[ai + 1]++;
          this.spins = 0;
          if ((u[ci + W.ccFlags]! & CacheFlag.BUFTAG) === 0) return bo;
          // kmem_cache_alloc_debug, when everything is in order (see above)
          fast: {
            const w = this.dbgTag(cpo, bo, true);
            if (w < 0) break fast;
            const ki = cpo >>> 2;
            const flags = u[ki + W.cFlags]!;
            const n = u[ki + W.cVerify]! & ~7;
            const xi = w + W.btBxstat;
            const bcLo = u[w + W.btBufctl]!;
            const bcHi = W.pw === 2 ? u[w + W.btBufctl + 1]! : 0;
            if (u[xi] !== (bcLo ^ Pattern.BUFTAG_FREE) || (W.pw === 2 && u[xi + 1] !== bcHi)) break fast;
            if (flags & CacheFlag.DEADBEEF && this.verifyAndCopyW(bo, n) >= 0) break fast;
            u[xi] = bcLo ^ Pattern.BUFTAG_ALLOC;
            u[w] = Pattern.REDZONE_I;
            u[w + 1] = Pattern.REDZONE_I;
            if (flags & CacheFlag.AUDIT) this.auditW(cpo, -1, bcLo, bcHi, flags);
            return bo;
          }
          if (this.allocDebugFramed(this.heapAddr(cpo), this.heapAddr(bo), kmflag, false, this.pc.cache_alloc_debug) === 0) return bo;
          if (kmflag & KM_NOSLEEP) return -2;
        }
      },
      freeW(this: KmemWordPaths, o: number, bo: number): boolean {
        const u = this.hi32;
        const ci = o >>> 2;
        const il = ci + W.ccLoaded;
        const cpo = o - (W.cCpuB + this.cpuOff);
        const flags = u[ci + W.ccFlags]!;
        if (flags & (CacheFlag.DUMPUNSAFE | CacheFlag.DUMPDIVERT)) return false;
        if (flags & CacheFlag.BUFTAG) {
          // kmem_cache_free_debug, when everything is in order (see above);
          // anything else: the checked path (nothing changed yet)
          const w = this.dbgTag(cpo, bo, false);
          if (w < 0) return false;
          const ki = cpo >>> 2;
          const cf = u[ki + W.cFlags]!;
          const n = u[ki + W.cVerify]! & ~7;
          const xi = w + W.btBxstat;
          const bcLo = u[w + W.btBufctl]!;
          const bcHi = W.pw === 2 ? u[w + W.btBufctl + 1]! : 0;
          if (u[xi] !== (bcLo ^ Pattern.BUFTAG_ALLOC) || (W.pw === 2 && u[xi + 1] !== bcHi)) return false;
          if (u[w] !== Pattern.REDZONE_I || u[w + 1] !== Pattern.REDZONE_I) return false;
          u[xi] = bcLo ^ Pattern.BUFTAG_FREE;
          if (cf & CacheFlag.AUDIT) this.auditW(cpo, bo, bcLo, bcHi, cf);
          if (cf & CacheFlag.DEADBEEF) {
            // a loop of 64-bit stores: TypedArray fill is a builtin call, slower for a few dozen words
            const f = this.h64;
            const fr = this.pFree64;
            for (let j = bo >>> 3, e = j + (n >>> 3); j < e; j++) f[j] = fr;
          }
        }
        for (let spins = 0; ; spins++) {
          if (spins >= DEADMAN_SPINS) this.k.deadman();
          const rw = u[ci + W.ccRounds]!;
          const rounds = (rw << 16) >> 16;
          if (rounds >= 0 && rounds < (u[ci + W.ccMagsize]! & 0xffff)) {
            const mo = ((u[il]! - hb) | 0) + ((rounds + 1) << W.ps);
            if (((u[il + W.hi]! ^ HeapLp64.HI_I) & W.hm) === 0 && mo >= 0 && mo < this.hLim && (mo & W.pmask) === 0 && this.hProt[mo >>> 12] === HeapLp64.RW) {
              const mi = mo >>> 2;
              u[mi + W.hi] = HeapLp64.HI_I;
              u[mi] = bo + hb;
              u[ci + W.ccRounds] = rw + 1;
              const fi = ci + W.ccFree;
              const lo = (u[fi]! + 1) | 0;
              u[fi] = lo;
              if (lo === 0) u[fi + 1]++;
              return true;
            }
          } else if (this.magRefill(cpo, o, false) > 0) {
            continue;
          }
          // the debug work is done: the checked magazine path takes it from here
          this.freeMag(this.heapAddr(cpo), this.heapAddr(o), this.heapAddr(bo), spins);
          return true;
        }
      },
      magRefill(this: KmemWordPaths, cpo: number, o: number, forAlloc: boolean): number {
        const u = this.hi32;
        const two = W.pw === 2;
        const ci = o >>> 2;
        const rw = u[ci + W.ccRounds]!;
        const rounds = (rw << 16) >> 16;
        const prounds = rw >> 16;
        const il = ci + W.ccLoaded;
        const ip = ci + W.ccPloaded;
        // the previous magazine serves: full for an alloc, empty for a free
        if (forAlloc ? prounds > 0 : prounds === 0) {
          const l0 = u[il]!;
          u[il] = u[ip]!;
          u[ip] = l0;
          if (two) {
            const l1 = u[il + 1]!;
            u[il + 1] = u[ip + 1]!;
            u[ip + 1] = l1;
          }
          u[ci + W.ccRounds] = ((rounds & 0xffff) << 16) | (prounds & 0xffff);
          return 1;
        }
        const magsize = u[ci + W.ccMagsize]! & 0xffff;
        if (magsize === 0) return 0;
        // cache_full and cache_empty: contiguous, writable
        const hp = this.hProt;
        const ml = cpo + W.cFullB;
        if (hp[ml >>> 12] !== HeapLp64.RW || hp[(ml + 2 * W.mlSizeB - 1) >>> 12] !== HeapLp64.RW) return -1;
        const t = (cpo + (forAlloc ? W.cFullB : W.cEmptyB)) >>> 2;
        const g = (cpo + (forAlloc ? W.cEmptyB : W.cFullB)) >>> 2;
        const hs = this.hLim;
        // everything checked before anything changes: the magazines are heap
        // words, the counts small non-negative longs (else the checked path)
        const tl = t + W.mlList;
        const mpNull = (u[tl]! | (two ? u[tl + 1]! : 0)) === 0;
        const mp = (u[tl]! - hb) | 0;
        if (!mpNull && ((two && u[tl + 1] !== HeapLp64.HI_I) || mp < 0 || mp >= hs || (mp & W.pmask) !== 0 || hp[mp >>> 12] !== HeapLp64.RW)) return -1;
        const plNull = (u[ip]! | (two ? u[ip + 1]! : 0)) === 0;
        const pl = (u[ip]! - hb) | 0;
        if (!mpNull && !plNull && ((two && u[ip + 1] !== HeapLp64.HI_I) || pl < 0 || pl >= hs || (pl & W.pmask) !== 0 || hp[pl >>> 12] !== HeapLp64.RW)) return -1;
        const tt = t + W.mlTotal;
        const gt = g + W.mlTotal;
        const total = u[tt]!;
        const gtotal = u[gt]!;
        if ((two && (u[tt + 1] !== 0 || u[gt + 1] !== 0)) || total < 0 || gtotal < 0 || gtotal === 0x7fffffff) return -1;
        const tm = t + W.mlMin;
        const min = u[tm]!;
        if (two && !((u[tm + 1] === 0 && min >= 0) || (u[tm + 1] === -1 && min < 0))) return -1;
        // kmem_depot_alloc(cp, take)
        if (this.depotContendedAt(cpo)) this.inc64(this.heapAddr(cpo) + this.O.cache_depot_contention);
        if (mpNull) return 0;
        const mi = mp >>> 2;
        u[tl] = u[mi]!;
        if (two) u[tl + 1] = u[mi + 1]!;
        u[tt] = total - 1;
        if (two && total - 1 < 0) u[tt + 1] = -1;
        if (total - 1 < min) {
          u[tm] = total - 1;
          if (two) u[tm + 1] = total - 1 < 0 ? -1 : 0;
        }
        const ta = t + W.mlAlloc;
        const a = (u[ta]! + 1) | 0;
        u[ta] = a;
        if (a === 0) u[ta + 1]++;
        // kmem_depot_free(cp, give, ploaded)
        if (!plNull) {
          if (this.depotContendedAt(cpo)) this.inc64(this.heapAddr(cpo) + this.O.cache_depot_contention);
          const pi = pl >>> 2;
          const gl = g + W.mlList;
          u[pi] = u[gl]!;
          u[gl] = pl + hb;
          if (two) {
            u[pi + 1] = u[gl + 1]!;
            u[gl + 1] = HeapLp64.HI_I;
          }
          u[gt] = gtotal + 1;
        }
        // kmem_cpu_reload(ccp, mp, forAlloc ? magsize : 0)
        u[ip] = u[il]!;
        if (two) u[ip + 1] = u[il + 1]!;
        u[ci + W.ccRounds] = ((rounds & 0xffff) << 16) | ((forAlloc ? magsize : 0) & 0xffff);
        u[il] = mp + hb;
        if (two) u[il + 1] = HeapLp64.HI_I;
        return 1;
      },
    };
    madeLayoutPaths.set(key, paths);
    return paths;
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
    const W = this.W;
    const ce = cpo + this.cacheSize - 1;
    if (!(cpo >= 0 && ce < hs && (cpo & W.pmask) === 0) || hp[cpo >>> 12] === 0 || hp[ce >>> 12] === 0) return -1;
    const ki = cpo >>> 2;
    const flags = u[ki + W.cFlags]!;
    const bto = u[ki + W.cBuftag]!;
    const n = u[ki + W.cVerify]! & ~7;
    const highs = W.pw === 2 ? u[ki + W.cBuftag + 1]! | u[ki + W.cVerify + 1]! : 0;
    if (flags & (CacheFlag.LITE | CacheFlag.DUMPUNSAFE) || (highs | (bto & 7) | (bo & 7)) !== 0 || bto < 0 || n < 0) return -1;
    const cb = ki + (alloc ? W.cCtor : W.cDtor);
    if (flags & CacheFlag.DEADBEEF && (u[cb]! | (W.pw === 2 ? u[cb + 1]! : 0)) !== 0) return -1;
    if (alloc && (this.d32[this.iMtbf]! | u[ki + W.cMtbf]!) !== 0) return -1;
    const bt = bo + bto;
    if (!(bt + W.btSizeB <= hs && bo + n <= hs) || hp[bt >>> 12] !== HeapLp64.RW || hp[(bt + W.btSizeB - 1) >>> 12] !== HeapLp64.RW) return -1;
    const w = bt >>> 2;
    if (flags & CacheFlag.HASH && !this.bufctlAddrIs(w, bo)) return -1;
    if (flags & CacheFlag.DEADBEEF && n > 0 && !this.pagesRW(bo, n)) return -1;
    return w;
  }

  /** KMF_HASH: the bufctl in the buftag at word w is heap whose bc_addr names the buffer at heap offset bo. */
  protected bufctlAddrIs(w: number, bo: number): boolean {
    const u = this.hi32;
    const W = this.W;
    const hb = this.hb;
    const bi = w + W.btBufctl;
    if (W.pw === 2 && u[bi + 1] !== HeapLp64.HI_I) return false;
    const a = ((u[bi]! - hb) | 0) + W.bcAddr * 4;
    if (!(a >= 0 && a + 4 * W.pw <= this.hLim && (a & W.pmask) === 0 && this.hProt[a >>> 12] !== 0)) return false;
    const ai = a >>> 2;
    return ((u[ai]! - hb) | 0) === bo && (W.pw === 1 || u[ai + 1] === HeapLp64.HI_I);
  }

  /** The address a pointer's words hold (lo, and hi under LP64): what ldp would read. */
  protected wordsAddr(lo: number, hi: number): number {
    return this.W.pw === 2 ? (hi | 0) * HeapLp64.TWO32 + (lo >>> 0) : lo >>> 0;
  }

  /**
   * KMEM_AUDIT for allocW's debug checks (bo < 0) and freeW's (bo = the buffer's
   * heap offset: under KMF_CONTENTS its contents go to the content log
   * first), inside the kmem_cache_alloc / kmem_cache_free frame whose pc
   * the checked path records.  bcLo, bcHi: the words of the buftag's
   * bt_bufctl.
   */
  protected auditW(cpo: number, bo: number, bcLo: number, bcHi: number, flags: number): void {
    const k = this.k;
    const d0 = k.depth;
    k.enter(bo < 0 ? this.pc.cache_alloc_debug : this.pc.cache_free_debug);
    try {
      const W = this.W;
      const bcp = this.wordsAddr(bcLo, bcHi);
      const bco = this.heapOff(bcp);
      const rec = bco >= 0 && bco + this.bcaSize <= this.hLim && (bco & 7) === 0 && this.bcaSize <= 4096;
      if (bo >= 0 && flags & CacheFlag.CONTENTS) {
        // KMF_CONTENTS: the buffer's first cache_contents bytes to the content log
        const u = this.h32;
        const ci = cpo >>> 2;
        const n = u[ci + W.cContents]!;
        const hp = this.hProt;
        const lho = this.dataHeapPtr(this.iContentLog);
        let c = -1;
        if (rec && lho >= 0 && (W.pw === 1 || u[ci + W.cContents + 1] === 0) && n > 0 && bo + n <= this.hLim &&
            this.pagesR(bo, n) && hp[(bco + W.bcContentsB) >>> 12] === HeapLp64.RW) {
          c = this.logEnterHeap(lho, bo, n);
        }
        if (c >= 0) {
          this.setHeapPtr((bco + W.bcContentsB) >>> 2, c);
        } else {
          const O = this.O;
          const cp = this.heapAddr(cpo);
          this.stp(bcp + O.bc_contents, this.kmem_log_enter(this.ldp(this.G.kmem_content_log), this.heapAddr(bo), this.ldp(cp + O.cache_contents)));
        }
      }
      const txo = rec ? this.dataHeapPtr(this.iTxLog) : -1;
      if (!(txo >= 0 && this.auditH(txo, bco))) {
        this.kmem_audit(this.ldp(this.G.kmem_transaction_log), this.heapAddr(cpo), bcp);
      }
    } finally {
      k.depth = d0;
    }
  }

  /** The heap offset a pointer in the data segment (at word index i) holds, or -1 when it is not a heap pointer. */
  protected dataHeapPtr(i: number): number {
    const d = this.d32;
    if (this.W.pw === 2 && d[i + 1] !== HeapLp64.HI) return -1;
    const o = (d[i]! - this.hb) | 0;
    return o >= 0 && o < this.hLim ? o : -1;
  }

  /** Store the heap offset o as a pointer at heap word index i (writable: the caller has checked). */
  protected setHeapPtr(i: number, o: number): void {
    const u = this.h32;
    u[i] = o + this.hb;
    if (this.W.pw === 2) u[i + 1] = HeapLp64.HI;
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
    this.setHeapPtr(i + this.W.bcLastlog, dst);
    return true;
  }

  /**
   * logReserve on the heap view, all checks first: the log on, no panic,
   * the CPU's header and the reserved bytes in the heap and writable, no
   * chunk to rotate, and (s >= 0) no overlap with the heap bytes
   * [s, s + size).  Then nothing can fault: it counts the hit, advances
   * clh_current / clh_avail (an LP64 high word stays: the heap does not
   * cross 4 GiB) and returns the reservation's heap byte offset.
   * Otherwise it changes nothing and returns -1 (the caller takes the
   * checked path).
   */
  protected logReserveHeap(lho: number, size: number, s: number): number {
    if (lho < 0 || size <= 0 || this.k.panicking || this.d32[this.iLogging] === 0) return -1;
    const hSize = this.hLim;
    const prot = this.hProt;
    const W = this.W;
    const c = lho + this.O.lh_cpu + this.cpuOff;
    if (!(c >>> 0 === c && c + 64 <= hSize && (c & W.pmask) === 0 && prot[c >>> 12] === HeapLp64.RW && prot[(c + 63) >>> 12] === HeapLp64.RW)) return -1;
    const O = this.O;
    const u = this.h32;
    const ci = c >>> 2;
    const ai = ci + (O.clh_avail >>> 2);
    const avail = u[ai]!;
    if ((W.pw === 2 && u[ai + 1] !== 0) || size > avail) return -1;
    const pi = ci + (O.clh_current >>> 2);
    const d = (u[pi]! - this.hb) | 0;
    if ((W.pw === 2 && u[pi + 1] !== HeapLp64.HI) || d < 0 || d + size > hSize) return -1;
    if (s >= 0 && !(s + size <= d || d + size <= s)) return -1;
    if (!this.pagesRW(d, size)) return -1;
    const hi = ci + (O.clh_hits >>> 2);
    u[hi] = u[hi]! + 1;
    u[pi] = d + size + this.hb;
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
   * bc_stack / bc_depth = the current thread's pcs, innermost first, then
   * the outside caller's (a program's).  What the checked stores and
   * k.capturePcs write, on the heap view.
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
    const max = this.stackDepth;
    const n = t.depth < max ? t.depth : max;
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
    let depth = n;
    if (n < max && k.outside) {
      // the outside caller's frames (a program's) below the simulated ones, as k.capturePcs does
      const pcs = k.outside.stack(max - n);
      const m = Math.min(pcs.length, max - n);
      for (let j = 0; j < m; j++, si += this.W.pw) this.setHeapWordsValue(si, pcs[j]!);
      depth += m;
    }
    u[i + (O.bc_depth >>> 2)] = depth;
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
    const W = this.W;
    if (!(bo >= 0 && (bo & 7) === 0 && bo + size < hs && cpo >= 0 && cpo + csz <= hs && (cpo & W.pmask) === 0)) return false;
    if (hp[cpo >>> 12] === 0 || hp[(cpo + csz - 1) >>> 12] === 0) return false;
    const u = this.h32;
    const ci = cpo >>> 2;
    if (u[ci + W.cFlags]! & CacheFlag.LITE) return false;
    const bti = ci + W.cBuftag;
    const bt = bo + u[bti]!;
    const bi = bo + size;
    if ((W.pw === 2 && u[bti + 1] !== 0) || (bt & 7) !== 0 || bt + 8 > hs || hp[bt >>> 12] !== HeapLp64.RW || hp[bi >>> 12] !== HeapLp64.RW) return false;
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

  /** A pointer or long of the data model at heap word index i, as a number (a long signed, a pointer as ldp reads it). */
  protected heapWordsValue(i: number, signed: boolean): number {
    const u = this.h32;
    if (this.W.pw === 2) return (u[i + 1]! | 0) * HeapLp64.TWO32 + u[i]!;
    return signed ? u[i]! | 0 : u[i]!;
  }

  /** Store v (|v| < 2^53) as a pointer or long of the data model at heap word index i. */
  protected setHeapWordsValue(i: number, v: number): void {
    const u = this.h32;
    if (this.W.pw === 2) {
      const hi = Math.floor(v / HeapLp64.TWO32);
      u[i] = v - hi * HeapLp64.TWO32;
      u[i + 1] = hi;
    } else {
      u[i] = v;
    }
  }

  /**
   * kmem_depot_alloc's list work on the kmem_maglist_t at heap word index i
   * (writable: heapWords checked it): the magazine taken from the list, 0
   * when it is empty.  The only access outside the list (the magazine's
   * link word) is the checked load, made before anything changes.
   */
  protected depotAllocW(i: number): number {
    const W = this.W;
    const li = i + W.mlList;
    const mp = this.heapWordsValue(li, false);
    if (mp === 0) return 0;
    this.setHeapWordsValue(li, this.ldp(mp));
    const ti = i + W.mlTotal;
    const total = this.heapWordsValue(ti, true) - 1;
    this.setHeapWordsValue(ti, total);
    const ni = i + W.mlMin;
    if (total < this.heapWordsValue(ni, true)) this.setHeapWordsValue(ni, total);
    const u = this.h32;
    const ai = i + W.mlAlloc;
    const lo = u[ai]! + 1;
    u[ai] = lo;
    if (lo === HeapLp64.TWO32) u[ai + 1]++;
    return mp;
  }

  /** kmem_depot_free's list work on the kmem_maglist_t at heap word index i (as depotAllocW): mp goes on the list. */
  protected depotFreeW(i: number, mp: number): void {
    const W = this.W;
    const li = i + W.mlList;
    this.stp(mp, this.heapWordsValue(li, false));
    this.setHeapWordsValue(li, mp);
    const ti = i + W.mlTotal;
    this.setHeapWordsValue(ti, this.heapWordsValue(ti, true) + 1);
  }

  /**
   * kmem_cpu_reload on the heap view, when the CPU cache at ccp is one
   * writable 64-byte heap block: the previous magazine becomes the loaded
   * one's, mp is loaded with `rounds` rounds.  False, nothing changed,
   * otherwise.
   */
  protected cpuReloadW(ccp: number, mp: number, rounds: number): boolean {
    const o = this.heapOff(ccp);
    if (!(o >= 0 && o < this.hLim && (o & 63) === 0 && this.hProt[o >>> 12] === HeapLp64.RW)) return false;
    const u = this.h32;
    const W = this.W;
    const ci = o >>> 2;
    const il = ci + W.ccLoaded;
    const ip = ci + W.ccPloaded;
    u[ip] = u[il]!;
    if (W.pw === 2) u[ip + 1] = u[il + 1]!;
    const ir = ci + W.ccRounds;
    u[ir] = ((u[ir]! & 0xffff) << 16) | (rounds & 0xffff);
    this.setHeapWordsValue(il, mp);
    return true;
  }

  /**
   * kmem_log_event's record, written in place at heap word index i (a
   * reservation of logReserveHeap: writable, 8-aligned): zeroes, then
   * bc_addr, bc_slab, bc_cache and the audit fields.
   */
  protected logEventW(i: number, cp: number, sp: number, addr: number): void {
    this.h32.fill(0, i, i + (this.bcaSize >>> 2));
    const O = this.O;
    this.setHeapWordsValue(i + (O.bc_addr >>> 2), addr);
    this.setHeapWordsValue(i + (O.bc_slab >>> 2), sp);
    this.setHeapWordsValue(i + (O.bc_cache >>> 2), cp);
    this.auditFill(i);
  }

  /* defined in the layers above */
  protected abstract allocDebugFramed(cp: number, buf: number, kmflag: number, construct: boolean, pc: number): number;
  protected abstract kmem_audit(lhp: number, cp: number, bcp: number): void;
  protected abstract depotContendedAt(cp: number): boolean;
  protected abstract freeMag(cp: number, ccp: number, buf: number, spins?: number): void;
  protected abstract kmem_log_enter(lhp: number, data: number, size: number): number;
}
