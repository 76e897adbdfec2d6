/*
 * kmem_alloc, kmem_zalloc, kmem_free: the size classes.
 *
 * kmem_alloc(size) takes its cache from kmem_alloc_table[(size - 1) >> 3]
 * (sizes up to 4096, the kmem_alloc_8 ... kmem_alloc_4096 caches) or
 * kmem_big_alloc_table[(size - 1) >> 12] (up to kmem_max_cached), and
 * larger sizes straight from kmem_oversize_arena.  In a cache with a
 * buftag it writes a size tag: 251*size+1 in the second word of
 * bt_redzone and 0xbb at buf[size], which kmem_free checks against the
 * size it is given (KMERR_BADSIZE, KMERR_REDZONE, KMERR_DUPFREE).
 */

import { KMEM_BIG_SHIFT, KMEM_CPU_CACHE_SIZE, KMEM_FREE_PATTERN32, KMEM_REDZONE_BYTE, KMEM_SIZE_ENCODE, KMEM_SIZE_VALID, KMERR_BADSIZE, KMERR_DUPFREE, KMERR_REDZONE, KMF_BUFTAG, KMF_LITE, KM_PANIC, KM_SLEEP, KM_VMFLAGS } from '../abi/kmem-impl.js';
import { CacheFlag } from './wordlayout.js';
import { KMEM_MAXBUF_LIMIT } from './state.js';
import { checkAddr, checkKmflag, checkSize } from './args.js';
import { KmemCpu } from './cpu.js';

export abstract class KmemAlloc extends KmemCpu {
  kmem_alloc(size: number, kmflag: number): number {
    if (typeof size === 'number' && size > 0 && size <= 4096 && this.hLim !== 0 && (size | 0) === size) {
      const c = this.sizeCpuCacheOff(size);
      const o = c + this.cpuOff;
      if (c >= 0 && o < this.hLim) {
        const r = this.popAt(o);
        if (r >= 0) return this.heapAddr(r);
        if (r === -1) return this.kmemAllocCache(this.heapAddr(c - this.W.cCpuB), o, size, kmflag);
      }
    }
    return this.kmemAllocSlow(size, kmflag);
  }

  /** kmem_alloc from the cache cp whose CPU cache (heap offset o) is usable. */
  protected kmemAllocCache(cp: number, o: number, size: number, kmflag: number): number {
    if ((this.hi32[(o >>> 2) + this.W.ccFlags]! & CacheFlag.BUFTAG) === 0) return this.kmem_cache_alloc(cp, kmflag);
    return this.allocTagged(cp, size, kmflag);
  }

  protected kmemAllocSlow(size: number, kmflag: number): number {
    checkSize('kmem_alloc', 'size', size);
    checkKmflag('kmem_alloc', kmflag);
    if (!(size > 0 && size <= this.maxCached)) return this.kmem_alloc_oversize(size, kmflag);
    const cp = this.sizeClassCache(size);
    if ((this.cpuCacheFlags(cp) & KMF_BUFTAG) === 0) return this.kmem_cache_alloc(cp, kmflag);
    return this.allocTagged(cp, size, kmflag);
  }

  /** The kmem_alloc cache of a size from 1 to kmem_max_cached: kmem_alloc_table or kmem_big_alloc_table. */
  protected sizeClassCache(size: number): number {
    if (size <= KMEM_MAXBUF_LIMIT) return this.ldp(this.G.kmem_alloc_table + ((size - 1) >> 3) * this.P);
    return this.ldp(this.G.kmem_big_alloc_table + ((size - 1) >> KMEM_BIG_SHIFT) * this.P);
  }

  /** cc_flags of the current CPU's cache of cp. */
  protected cpuCacheFlags(cp: number): number {
    return this.ld32(cp + this.O.cache_cpu + this.k.cur.cpu * KMEM_CPU_CACHE_SIZE + this.O.cc_flags);
  }

  protected allocTagged(cp: number, size: number, kmflag: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.kmem_alloc_tagged);
    try {
      const buf = this.kmem_cache_alloc(cp, kmflag);
      if (buf !== 0 && !this.taggedW(this.heapOff(cp), this.heapOff(buf), size, true)) {
        const btp = buf + this.ldp(cp + this.O.cache_buftag);
        this.st8(buf + size, KMEM_REDZONE_BYTE);
        this.st32(btp + 4, KMEM_SIZE_ENCODE(size));
        if (this.cacheFlags(cp) & KMF_LITE) this.kmem_buftag_lite_enter(btp, caller);
      }
      return buf;
    } finally {
      k.depth = d0;
    }
  }

  protected kmem_alloc_oversize(size: number, kmflag: number): number {
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
        this.kmem_log_event(this.ldp(this.G.kmem_zerosized_log), 0, 0, 0);
        return 0;
      }
      const buf = this.arenas.kmem_oversize.alloc(size, kmflag & KM_VMFLAGS);
      if (buf === 0) this.kmem_log_event(this.ldp(this.G.kmem_failure_log), 0, 0, size);
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
    if (typeof size === 'number' && typeof buf === 'number' && size > 0 && size <= 4096 && this.hLim !== 0 && (size | 0) === size) {
      const bo = this.heapOff(buf);
      const c = this.sizeCpuCacheOff(size);
      const o = c + this.cpuOff;
      if (bo >= 0 && bo < this.hLim && (bo | 0) === bo && c >= 0 && o < this.hLim) {
        const r = this.pushAt(o, bo);
        if (r > 0) return;
        if (r === 0) {
          this.kmemFreeCache(this.heapAddr(c - this.W.cCpuB), o, buf, size);
          return;
        }
      }
    }
    this.kmemFreeSlow(buf, size);
  }

  /** kmem_free to the cache cp whose CPU cache (heap offset o) is usable. */
  protected kmemFreeCache(cp: number, o: number, buf: number, size: number): void {
    if ((this.hi32[(o >>> 2) + this.W.ccFlags]! & CacheFlag.BUFTAG) === 0) this.kmem_cache_free(cp, buf);
    else this.freeTagged(cp, buf, size);
  }

  protected kmemFreeSlow(buf: number, size: number): void {
    checkAddr('kmem_free', 'buf', buf);
    checkSize('kmem_free', 'size', size);
    if (!(size > 0 && size <= this.maxCached)) {
      if (buf === 0 && size === 0) return;
      this.arenas.kmem_oversize.free(buf, size);
      return;
    }
    const cp = this.sizeClassCache(size);
    if ((this.cpuCacheFlags(cp) & KMF_BUFTAG) === 0) {
      this.kmem_cache_free(cp, buf);
      return;
    }
    this.freeTagged(cp, buf, size);
  }

  protected freeTagged(cp: number, buf: number, size: number): void {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.kmem_free_tagged);
    try {
      if (this.taggedW(this.heapOff(cp), this.heapOff(buf), size, false)) {
        k.site(this.pc.kmem_free_cache_free);
        this.kmem_cache_free(cp, buf);
        return;
      }
      const btp = buf + this.ldp(cp + this.O.cache_buftag);
      if (!this.mem.isMapped(btp + 4) || !this.mem.isMapped(buf)) {
        // The size tag is read at the buftag offset of the cache that `size`
        // selects.  For a buffer of a smaller size class (a wrong size) that
        // can lie past the buffer's slab, on a page that is not there (and a
        // wild buf may be unmapped itself): what was freed is not a buffer
        // of this cache, and kmem_error says whose it is (BADCACHE) or that
        // it is nobody's (BADADDR), instead of a fault.
        k.site(this.pc.kmem_free_badsize);
        this.kmem_error(KMERR_BADSIZE, cp, buf);
        return;
      }
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
      if (this.cacheFlags(cp) & KMF_LITE) this.kmem_buftag_lite_enter(btp, caller);
      k.site(this.pc.kmem_free_cache_free);
      this.kmem_cache_free(cp, buf);
    } finally {
      k.depth = d0;
    }
  }
}
