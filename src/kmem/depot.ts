/*
 * The depot and the magazines.
 *
 * The depot holds two lists of magazines, full (cache_full) and empty
 * (cache_empty), with a working-set estimate: ml_min is the lowest
 * ml_total since the last kmem_update; at each update ml_reaplimit becomes
 * that minimum.  A reap frees MIN(reaplimit, min) magazines of each list:
 * magazines not needed during the last interval.  Magazine size (the
 * kmem_magazine_N cache used, cache_magtype) grows one step when
 * depot-lock contention exceeds kmem_depot_contention per interval.
 * Contention is simulated: a depot access is contended when the previous
 * one came from another CPU within depotContentionWindow ns.  Destroying
 * a magazine returns its rounds to the slab layer (checking their free
 * pattern under KMF_DEADBEEF and running destructors).
 */

import { KMEM_CPU_CACHE_SIZE, KMEM_FREE_PATTERN32, KMERR_MODIFIED, KMF_DEADBEEF, KMF_LITE, KMF_NOMAGAZINE } from '../abi/kmem-impl.js';
import { KmemErrors } from './error.js';
import { DepotLastField } from './state.js';

export abstract class KmemDepot extends KmemErrors {
  /** Simulated mutex_tryenter failure on the depot lock. */
  protected kmem_depot_contended(cp: number): boolean {
    return this.depotContendedAt(this.heapOff(cp));
  }

  /** kmem_depot_contended for the cache at heap offset cpo (the side table's key). */
  protected override depotContendedAt(cp: number): boolean {
    const now = this.k.hrtime;
    const cpu = this.k.cur.cpu;
    let last = this.depotLastRec;
    if (last === undefined || this.depotLastCp !== cp) {
      last = this.depotLast.get(cp);
      if (last === undefined) {
        last = new Float64Array(2);
        last[DepotLastField.CPU] = cpu;
        last[DepotLastField.T] = now;
        this.depotLast.set(cp, last);
        this.depotLastCp = cp;
        this.depotLastRec = last;
        return false;
      }
      this.depotLastCp = cp;
      this.depotLastRec = last;
    }
    const contended = last[DepotLastField.CPU] !== cpu && now - last[DepotLastField.T]! < this.depotContentionWindow;
    last[DepotLastField.CPU] = cpu;
    last[DepotLastField.T] = now;
    return contended;
  }

  protected kmem_depot_alloc(cp: number, ml: number): number {
    if (this.kmem_depot_contended(cp)) this.inc64(cp + this.O.cache_depot_contention);
    const mlp = cp + ml;
    const O = this.O;
    const i = this.heapWords(mlp, this.mlSize, true);
    if (i >= 0) return this.depotAllocW(i);
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

  protected kmem_depot_free(cp: number, ml: number, mp: number): void {
    if (this.kmem_depot_contended(cp)) this.inc64(cp + this.O.cache_depot_contention);
    const mlp = cp + ml;
    const O = this.O;
    const i = this.heapWords(mlp, this.mlSize, true);
    if (i >= 0) {
      this.depotFreeW(i, mp);
      return;
    }
    this.stp(mp, this.ldp(mlp + O.ml_list));
    this.stp(mlp + O.ml_list, mp);
    this.stp(mlp + O.ml_total, this.ldl(mlp + O.ml_total) + 1);
  }

  protected kmem_depot_ws_update(cp: number): void {
    const O = this.O;
    for (const ml of [O.cache_full, O.cache_empty]) {
      const mlp = cp + ml;
      this.stp(mlp + O.ml_reaplimit, this.ldl(mlp + O.ml_min));
      this.stp(mlp + O.ml_min, this.ldl(mlp + O.ml_total));
    }
  }

  protected kmem_depot_ws_zero(cp: number): void {
    const O = this.O;
    for (const ml of [O.cache_full, O.cache_empty]) {
      const mlp = cp + ml;
      const t = this.ldl(mlp + O.ml_total);
      this.stp(mlp + O.ml_reaplimit, t);
      this.stp(mlp + O.ml_min, t);
    }
  }

  protected kmem_depot_ws_reap(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.depot_ws_reap);
    try {
      const magsize = this.mem.load16(this.ldp(cp + O.cache_magtype) + O.mt_magsize);
      let mlp = cp + O.cache_full;
      let reap = Math.min(this.ldl(mlp + O.ml_reaplimit), this.ldl(mlp + O.ml_min));
      for (let n = 0; reap-- > 0; n++) {
        if (n >= this.walkMax) k.deadman();
        const mp = this.kmem_depot_alloc(cp, O.cache_full);
        if (mp === 0) break;
        this.kmem_magazine_destroy(cp, mp, magsize);
      }
      mlp = cp + O.cache_empty;
      reap = Math.min(this.ldl(mlp + O.ml_reaplimit), this.ldl(mlp + O.ml_min));
      for (let n = 0; reap-- > 0; n++) {
        if (n >= this.walkMax) k.deadman();
        const mp = this.kmem_depot_alloc(cp, O.cache_empty);
        if (mp === 0) break;
        this.kmem_magazine_destroy(cp, mp, 0);
      }
    } finally {
      k.leave();
    }
  }

  protected kmem_magazine_destroy(cp: number, mp: number, nrounds: number): void {
    const k = this.k;
    k.enter(this.pc.magazine_destroy);
    try {
      const flags = this.cacheFlags(cp);
      const hasDtor = this.ldp(cp + this.O.cache_destructor) !== 0;
      const priv = this.ldp(cp + this.O.cache_private);
      for (let r = 0; r < nrounds; r++) {
        const buf = this.ldp(mp + this.P + r * this.P);
        if (flags & KMF_DEADBEEF) {
          if (this.verify_pattern(KMEM_FREE_PATTERN32, buf, this.ldp(cp + this.O.cache_verify)) !== -1) {
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
        this.kmem_slab_free(cp, buf);
      }
      const mtc = this.ldp(this.ldp(cp + this.O.cache_magtype) + this.O.mt_cache);
      this.kmem_cache_free(mtc, mp);
    } finally {
      k.leave();
    }
  }

  protected kmem_cache_magazine_purge(cp: number): void {
    const k = this.k;
    k.enter(this.pc.magazine_purge);
    try {
      for (let c = 0; c < k.ncpus; c++) {
        const ccp = cp + this.O.cache_cpu + c * KMEM_CPU_CACHE_SIZE;
        const mp = this.ldp(ccp + this.O.cc_loaded);
        const pmp = this.ldp(ccp + this.O.cc_ploaded);
        const rounds = this.getRounds(ccp);
        const prounds = this.getProunds(ccp);
        this.stp(ccp + this.O.cc_loaded, 0);
        this.stp(ccp + this.O.cc_ploaded, 0);
        this.setRounds(ccp, -1, -1);
        this.mem.store16(ccp + this.O.cc_magsize, 0);
        if (mp !== 0) this.kmem_magazine_destroy(cp, mp, rounds);
        if (pmp !== 0) this.kmem_magazine_destroy(cp, pmp, prounds);
      }
      this.kmem_depot_ws_zero(cp);
      this.kmem_depot_ws_reap(cp);
    } finally {
      k.leave();
    }
  }

  protected kmem_cache_magazine_resize(cp: number): void {
    const O = this.O;
    const mtp = this.ldp(cp + O.cache_magtype);
    if (this.ldp(cp + O.cache_chunksize) < this.ldp(mtp + O.mt_maxbuf)) {
      this.k.enter(this.pc.magazine_resize);
      try {
        this.kmem_cache_magazine_purge(cp);
        this.stp(cp + O.cache_magtype, mtp + O.mt_size);
        this.kmem_cache_magazine_enable(cp);
      } finally {
        this.k.leave();
      }
    }
  }

  protected kmem_cache_magazine_enable(cp: number): void {
    if (this.cacheFlags(cp) & KMF_NOMAGAZINE) return;
    const magsize = this.mem.load16(this.ldp(cp + this.O.cache_magtype) + this.O.mt_magsize);
    for (let c = 0; c < this.k.ncpus; c++) {
      const ccp = cp + this.O.cache_cpu + c * KMEM_CPU_CACHE_SIZE;
      this.mem.store16(ccp + this.O.cc_magsize, magsize);
    }
  }

  protected getRounds(ccp: number): number {
    return (this.ld32(ccp + this.O.cc_rounds) << 16) >> 16;
  }

  protected getProunds(ccp: number): number {
    return this.ld32(ccp + this.O.cc_rounds) >> 16;
  }

  protected setRounds(ccp: number, r: number, pr: number): void {
    this.st32(ccp + this.O.cc_rounds, ((pr & 0xffff) << 16) | (r & 0xffff));
  }

  protected getMagsize(ccp: number): number {
    return this.ld32(ccp + this.O.cc_magsize) & 0xffff;
  }
}
