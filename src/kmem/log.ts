/*
 * The kmem logs and auditing.
 *
 * A kmem_log_header_t describes a log: a ring of 4*ncpus chunks, each CPU
 * writing into its current chunk (kmem_cpu_log_header_t) and taking the
 * next free one when it is full (lh_free[] is the ring of chunk numbers).
 * kmem_log_enter copies a record into the log and returns the copy's
 * address.  Logs: the transaction log (KMF_AUDIT: a copy of the
 * kmem_bufctl_audit_t at each transaction; bc_lastlog points at it and the
 * copy keeps the previous bc_lastlog, so the history of a buffer is a
 * chain), the content log (KMF_CONTENTS: the first cache_contents bytes of
 * a freed buffer), and the failure, slab and zero-sized logs (kmem_log_event:
 * a record with only addr, slab, cache and the audit fields).
 * KMEM_AUDIT fills bc_timestamp, bc_thread and bc_stack / bc_depth from the
 * shadow stack (15 frames).  Logging stops while kmem_error reports.
 */

import { mod, p2roundup } from '../machine/addr.js';
import { KMEM_ALIGN } from '../abi/kmem-impl.js';
import { KmemWordPaths } from './wordpaths.js';

export abstract class KmemLogs extends KmemWordPaths {
  protected kmem_log_init(logsize: number): number {
    const k = this.k;
    const mem = this.mem;
    const O = this.O;
    const ncpus = k.ncpus;
    const nchunks = 4 * ncpus;
    const lhsize = p2roundup(this.O.lh_cpu + ncpus * 64, KMEM_ALIGN);
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
    for (let i = 0; i < ncpus; i++) this.st32(lhp + this.O.lh_cpu + i * 64 + O.clh_chunk, i);
    for (let i = ncpus; i < nchunks; i++) this.st32(free + i * 4, i);
    this.st32(lhp + O.lh_head, ncpus);
    this.st32(lhp + O.lh_tail, 0);
    return lhp;
  }

  /** Reserve `size` bytes in the log (kmem_log_enter without the copy); 0 if not logging. */
  protected logReserve(lhp: number, size: number): number {
    if (lhp === 0 || this.ld32(this.G.kmem_logging) === 0 || this.k.panicking) return 0;
    const O = this.O;
    const clhp = lhp + this.O.lh_cpu + this.k.cur.cpu * 64;
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

  /** kmem_log_enter: copy size bytes from data into the log; returns the copy's address. */
  protected override kmem_log_enter(lhp: number, data: number, size: number): number {
    const s = this.heapOff(data);
    if (this.wordPathsOn && s >>> 0 === s && s + size <= this.hSize && size > 0 && this.pagesR(s, size)) {
      const d = this.logEnterHeap(this.heapOff(lhp), s, size);
      if (d >= 0) return this.heapAddr(d);
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
  protected override kmem_audit(lhp: number, cp: number, bcp: number): void {
    const k = this.k;
    const O = this.O;
    const o = this.heapOff(bcp);
    if (o >= 0 && o + this.bcaSize <= this.hLim && (o & 7) === 0 && this.auditH(this.heapOff(lhp), o)) return;
    this.st64(bcp + O.bc_timestamp, k.gethrtime());
    this.stp(bcp + O.bc_thread, k.cur.addr);
    this.st32(bcp + O.bc_depth, k.capturePcs(bcp + this.O.bc_stack, this.stackDepth));
    // The log copy carries the previous bc_lastlog; then the record points at it.
    void cp;
    this.stp(bcp + O.bc_lastlog, this.kmem_log_enter(lhp, bcp, this.bcaSize));
  }

  /** kmem_log_event: a record with only addr/slab/cache plus the audit fields. */
  protected kmem_log_event(lhp: number, cp: number, sp: number, addr: number): void {
    if (lhp === 0) return;
    const k = this.k;
    const O = this.O;
    k.enter(this.pc.log_event);
    try {
      const size = this.bcaSize;
      const d = this.logReserveHeap(this.heapOff(lhp), size, -1);
      if (d >= 0 && (d & 7) === 0) {
        // writable heap (logReserveHeap checked it): in place, with the
        // stack captured inside this frame, as below
        this.logEventW(d >>> 2, cp, sp, addr);
        return;
      }
      const e = d >= 0 ? this.heapAddr(d) : this.logReserve(lhp, size);
      if (e === 0) return;
      this.mem.fill32(e, this.bcaSize, 0);
      this.stp(e + O.bc_addr, addr);
      this.stp(e + O.bc_slab, sp);
      this.stp(e + O.bc_cache, cp);
      this.st64(e + O.bc_timestamp, k.gethrtime());
      this.stp(e + O.bc_thread, k.cur.addr);
      this.st32(e + O.bc_depth, k.capturePcs(e + this.O.bc_stack, this.stackDepth));
    } finally {
      k.leave();
    }
  }
}
