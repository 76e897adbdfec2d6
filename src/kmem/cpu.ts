/*
 * The per-CPU layer: kmem_cache_alloc and kmem_cache_free.
 *
 * Each CPU has a kmem_cpu_cache_t inside the cache struct (cache_cpu[seqid],
 * 64 bytes, 64-byte aligned) holding two magazines: the loaded one
 * (cc_loaded, cc_rounds objects) and the previously loaded one
 * (cc_ploaded, cc_prounds).  A magazine is an array of pointers to
 * constructed objects.  Allocation pops a round from the loaded magazine;
 * free pushes one.  When the loaded magazine is empty (full) and the
 * previous one is full (empty) they swap; otherwise the CPU exchanges a
 * magazine with the depot.  rounds == -1 means "no magazine"; cc_magsize
 * == 0 means the magazine layer is off (before kmem_ready, after a purge,
 * or for KMF_NOMAGAZINE caches).  With no magazine to serve, allocation
 * goes to the slab layer and runs the constructor, free runs the
 * destructor and goes to the slab layer.
 *
 * Shadow-stack frames are pushed only where a stack can be observed:
 * around the slab layer, the debug checks and auditing (so audit stacks
 * read kmem_cache_alloc+off, then the callers); magazine and depot work
 * pushes none.
 */

import { DEADMAN_SPINS } from '../kernel/kernel.js';
import { KMEM_FREE_PATTERN32, KMF_BUFTAG, KMF_DEADBEEF, KMF_LITE, KM_NOSLEEP } from '../abi/kmem-impl.js';
import { checkAddr, checkKmflag } from './args.js';
import { KmemDepot } from './depot.js';

export abstract class KmemCpu extends KmemDepot {
  /*
   * Two ways through every operation (docs/kmem.md, "Fast paths"): the
   * word-index paths below (popAt / pushAt for a plain cache's round,
   * allocW / freeW for debug caches and refills, magRefill for the depot),
   * which check everything they touch on the heap view first and change
   * nothing when anything is unusual; and the checked paths (kmem_cache_alloc_checked /
   * kmem_cache_free_checked and what they call), which do all of it through the checked
   * loads and stores and make every report.  test/kmem/wordpaths.test.ts
   * holds them to the same memory image.
   */

  /** kmem_cache_alloc: magazine fast path (heap words); then allocW; everything else in kmem_cache_alloc_checked. */
  override kmem_cache_alloc(cp: number, kmflag: number): number {
    const c = typeof cp === 'number' ? this.cpuCacheOff(cp) : -1;
    if (c >= 0 && c < this.hLim && (c | 0) === c) {
      // (an integer below hLim < 2^31: the CPU offset is an integer add;
      // anything else, a fraction or a BigInt included, is the checked
      // path's to judge)
      const o = c + this.cpuOff;
      let r = this.popAt(o);
      if (r === -1) r = this.allocW(o, kmflag);
      if (r >= 0) return this.heapAddr(r);
      if (r === -2) return 0;
    }
    return this.kmem_cache_alloc_checked(cp, kmflag);
  }

  /** kmem_cache_free: magazine fast path (heap words); then freeW; everything else in kmem_cache_free_checked. */
  override kmem_cache_free(cp: number, buf: number): void {
    const c = typeof cp === 'number' ? this.cpuCacheOff(cp) : -1;
    const bo = typeof buf === 'number' ? this.heapOff(buf) : -1;
    if (c >= 0 && c < this.hLim && bo >= 0 && bo < this.hLim && (c | 0) === c && (bo | 0) === bo) {
      const o = c + this.cpuOff;
      const r = this.pushAt(o, bo);
      if (r > 0 || (r === 0 && this.freeW(o, bo))) return;
    }
    this.kmem_cache_free_checked(cp, buf);
  }

  /** kmem_cpu_reload */
  protected kmem_cpu_reload(ccp: number, mp: number, rounds: number): void {
    if (this.cpuReloadW(ccp, mp, rounds)) return;
    this.stp(ccp + this.O.cc_ploaded, this.ldp(ccp + this.O.cc_loaded));
    this.setRounds(ccp, rounds, this.getRounds(ccp));
    this.stp(ccp + this.O.cc_loaded, mp);
  }

  /*
   * The slow paths.  Magazine and depot work pushes no shadow-stack frame
   * (nothing there captures a stack); frames are pushed only around the
   * debug checks and the slab layer, whose audit records and error reports
   * must read kmem_cache_alloc+off / kmem_cache_free+off then the callers.
   */

  protected kmem_cache_alloc_checked(cp: number, kmflag: number): number {
    checkAddr('kmem_cache_alloc', 'cp', cp);
    checkKmflag('kmem_cache_alloc', kmflag);
    const ccp = cp + this.O.cache_cpu + this.cpuOff;
    let spins = this.spins;
    this.spins = 0;
    // every turn takes a round or reloads; corrupt CPU-cache words could
    // keep it turning (see freeMag)
    for (; ; spins++) {
      if (spins >= DEADMAN_SPINS) this.k.deadman();
      const rw = this.ld32(ccp + this.O.cc_rounds);
      const rounds = (rw << 16) >> 16;
      if (rounds > 0) {
        const mp = this.ldp(ccp + this.O.cc_loaded);
        const buf = this.ldp(mp + this.P * rounds);
        this.st32(ccp + this.O.cc_rounds, (rw & 0xffff0000) | (rounds - 1));
        this.inc64(ccp + this.O.cc_alloc);
        if (this.ld32(ccp + this.O.cc_flags) & KMF_BUFTAG) {
          if (this.allocDebugFramed(cp, buf, kmflag, false, this.pc.cache_alloc_debug) !== 0) {
            if (kmflag & KM_NOSLEEP) return 0;
            continue;
          }
        }
        return buf;
      }
      const prounds = rw >> 16;
      if (prounds > 0) {
        this.kmem_cpu_reload(ccp, this.ldp(ccp + this.O.cc_ploaded), prounds);
        continue;
      }
      const magsize = this.getMagsize(ccp);
      if (magsize === 0) break;
      const fmp = this.kmem_depot_alloc(cp, this.O.cache_full);
      if (fmp !== 0) {
        const pl = this.ldp(ccp + this.O.cc_ploaded);
        if (pl !== 0) this.kmem_depot_free(cp, this.O.cache_empty, pl);
        this.kmem_cpu_reload(ccp, fmp, magsize);
        continue;
      }
      break;
    }
    return this.allocFromSlab(cp, kmflag);
  }

  /** The tail of kmem_cache_alloc: a raw buffer from the slab layer, then the constructor. */
  protected allocFromSlab(cp: number, kmflag: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(this.pc.cache_alloc_slab);
    try {
      const buf = this.kmem_slab_alloc(cp, kmflag);
      if (buf === 0) return 0;
      if (this.cacheFlags(cp) & KMF_BUFTAG) {
        k.site(this.pc.cache_alloc_debug_slab);
        const rc = this.kmem_cache_alloc_debug(cp, buf, kmflag, true, caller);
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
          this.kmem_slab_free(cp, buf);
          return 0;
        }
      }
      return buf;
    } finally {
      k.depth = d0;
    }
  }

  protected kmem_cache_free_checked(cp: number, buf: number): void {
    checkAddr('kmem_cache_free', 'cp', cp);
    checkAddr('kmem_cache_free', 'buf', buf);
    const ccp = cp + this.O.cache_cpu + this.cpuOff;
    const k = this.k;
    if (this.ld32(ccp + this.O.cc_flags) & KMF_BUFTAG) {
      const caller = this.callerPc();
      const d0 = k.depth;
      k.enter(this.pc.cache_free_debug);
      try {
        if (this.kmem_cache_free_debug(cp, buf, caller) === -1) return;
      } finally {
        k.depth = d0;
      }
    }
    this.freeMag(cp, ccp, buf);
  }

  /** kmem_cache_free after the debug checks: the magazine layer, else the slab layer. */
  protected override freeMag(cp: number, ccp: number, buf: number, spins = 0): void {
    const mem = this.mem;
    const k = this.k;
    // With sound data every turn makes progress; a corrupt cc_magsize (it
    // never matches cache_magtype's, so each new magazine is freed again)
    // turns forever, as on illumos: the deadman ends it.  spins: the turns
    // freeW already made (its turns are this loop's, one for one).
    for (; ; spins++) {
      if (spins >= DEADMAN_SPINS) k.deadman();
      const rw = this.ld32(ccp + this.O.cc_rounds);
      const rounds = (rw << 16) >> 16;
      const magsize = this.getMagsize(ccp);
      if (rounds >= 0 && rounds < magsize) {
        const mp = this.ldp(ccp + this.O.cc_loaded);
        this.stp(mp + this.P + this.P * rounds, buf);
        this.st32(ccp + this.O.cc_rounds, (rw & 0xffff0000) | (rounds + 1));
        this.inc64(ccp + this.O.cc_free);
        return;
      }
      const prounds = rw >> 16;
      if (prounds === 0) {
        this.kmem_cpu_reload(ccp, this.ldp(ccp + this.O.cc_ploaded), prounds);
        continue;
      }
      if (magsize === 0) break;
      const emp = this.kmem_depot_alloc(cp, this.O.cache_empty);
      if (emp !== 0) {
        const pl = this.ldp(ccp + this.O.cc_ploaded);
        if (pl !== 0) this.kmem_depot_free(cp, this.O.cache_full, pl);
        this.kmem_cpu_reload(ccp, emp, 0);
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
        this.kmem_depot_free(cp, this.O.cache_empty, nmp);
        continue;
      }
      break;
    }
    const d0 = k.depth;
    k.enter(this.pc.cache_free_slab);
    try {
      this.kmem_slab_free_constructed(cp, buf, true);
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_slab_free_constructed: destructor (unless debug already ran it), then slab. */
  protected kmem_slab_free_constructed(cp: number, buf: number, freed: boolean): void {
    const flags = this.cacheFlags(cp);
    if (!freed && (flags & KMF_BUFTAG)) {
      if (this.kmem_cache_free_debug(cp, buf, this.callerPc()) === -1) return;
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
    this.kmem_slab_free(cp, buf);
  }
}
