/*
 * The debugging features of a cache: buftag, redzone, patterns, lite.
 *
 * KMF_BUFTAG adds a kmem_buftag_t after each buffer: bt_redzone
 * (0xfeedface..., or for kmem_alloc buffers the size encoding 251*size+1 in
 * its second word and the byte 0xbb at buf[size]), bt_bufctl and
 * bt_bxstat = bufctl ^ 0xa110c8ed (allocated) or ^ 0xf4eef4ee (free),
 * checked on every transaction.  KMF_DEADBEEF fills free buffers with
 * 0xdeadbeef over cache_verify bytes and checks them on allocation
 * (rewriting 0xbaddcafe).  KMF_LITE keeps only a buftag plus the last
 * kmem_lite_count callers, checks the first 8 bytes of a free buffer and
 * parks them in bt_redzone while it is free.  kmem_cache_alloc_debug and
 * kmem_cache_free_debug do the checks of one transaction and call
 * kmem_error on what they find; mtbf induces allocation failures.
 * (KMF_FIREWALL is a choice of arena at cache creation, KMF_AUDIT and
 * KMF_CONTENTS are log.ts.)
 */

import { TWO32 } from '../machine/addr.js';
import { KMC_KMEM_ALLOC, KMEM_BUFTAG_ALLOC, KMEM_BUFTAG_FREE, KMEM_FREE_PATTERN32, KMEM_REDZONE_PATTERN32, KMEM_UNINITIALIZED_PATTERN32, KMERR_BADADDR, KMERR_BADBUFCTL, KMERR_BADBUFTAG, KMERR_DUPFREE, KMERR_MODIFIED, KMERR_REDZONE, KMF_AUDIT, KMF_CONTENTS, KMF_DEADBEEF, KMF_HASH, KMF_LITE, KM_NOSLEEP, KM_PANIC } from '../abi/kmem-impl.js';
import { KmemLogs } from './log.js';

export abstract class KmemDebug extends KmemLogs {
  /** Is the 64-bit word at a equal to the 32-bit pattern repeated? */
  protected is64(a: number, pat: number): boolean {
    return this.ld32(a) === pat && this.ld32(a + 4) === pat;
  }

  protected fillPattern(a: number, len: number, pat: number): void {
    if (len <= 0) return;
    const n = len - (len % 8);
    const i = this.heapWords(a, n, true);
    if (i >= 0) this.h32.fill(pat, i, i + (n >>> 2));
    else this.mem.fill32(a, n, pat);
  }

  /* ---- bxstat: (intptr)bcp ^ constant (constant affects the low word) ---- */

  protected setBxstat(btp: number, bcp: number, c: number): void {
    const a = btp + this.O.bt_bxstat;
    const hi = Math.floor(bcp / TWO32);
    this.st32(a, ((bcp - hi * TWO32) ^ c) >>> 0);
    if (this.lp64) this.st32(a + 4, hi >>> 0);
  }

  protected bxstatIs(btp: number, bcp: number, c: number): boolean {
    const a = btp + this.O.bt_bxstat;
    const hi = Math.floor(bcp / TWO32);
    if (this.ld32(a) !== ((bcp - hi * TWO32) ^ c) >>> 0) return false;
    return !this.lp64 || this.ld32(a + 4) === hi >>> 0;
  }

  protected setRedzone(btp: number): void {
    this.st32(btp, KMEM_REDZONE_PATTERN32);
    this.st32(btp + 4, KMEM_REDZONE_PATTERN32);
  }

  /**
   * Check 64-bit words [buf, buf+size) against the repeated pattern;
   * returns the offset of the first mismatching word, or -1.
   */
  protected verify_pattern(pat: number, buf: number, size: number): number {
    for (let o = 0; o + 8 <= size; o += 8) {
      if (this.ld32(buf + o) !== pat || this.ld32(buf + o + 4) !== pat) return o;
    }
    return -1;
  }

  /**
   * verify_and_copy_pattern of a free buffer being allocated: -1 if its
   * first size bytes held 0xdeadbeef (now 0xbaddcafe), else the offset of
   * the first word that did not (the words before it are 0xdeadbeef again).
   */
  protected verify_and_copy_pattern(buf: number, size: number): number {
    const n = size - (size % 8);
    if (n > 0 && ((buf - this.hBase) & 7) === 0) {
      const i = this.heapWords(buf, n, true);
      if (i >= 0) return this.verifyAndCopyW(i << 2, n);
    }
    for (let o = 0; o + 8 <= size; o += 8) {
      if (this.ld32(buf + o) !== KMEM_FREE_PATTERN32 || this.ld32(buf + o + 4) !== KMEM_FREE_PATTERN32) {
        if (o > 0) this.mem.fill32(buf, o, KMEM_FREE_PATTERN32);
        return o;
      }
      this.st32(buf + o, KMEM_UNINITIALIZED_PATTERN32);
      this.st32(buf + o + 4, KMEM_UNINITIALIZED_PATTERN32);
    }
    return -1;
  }

  protected kmem_buftag_lite_enter(btp: number, caller: number): void {
    const n = this.ld32(this.G.kmem_lite_count);
    const h = btp + this.O.bt_history;
    const P = this.P;
    for (let i = n - 1; i > 0; i--) this.stp(h + i * P, this.ldp(h + (i - 1) * P));
    if (n > 0) this.stp(h, caller);
  }

  protected override allocDebugFramed(cp: number, buf: number, kmflag: number, construct: boolean, pc: number): number {
    const k = this.k;
    const caller = this.callerPc();
    const d0 = k.depth;
    k.enter(pc);
    try {
      return this.kmem_cache_alloc_debug(cp, buf, kmflag, construct, caller);
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_cache_alloc_debug: 0 ok, -1 corruption (reported), 1 constructor/mtbf failure. */
  protected kmem_cache_alloc_debug(cp: number, buf: number, kmflag: number, construct: boolean, caller: number): number {
    const O = this.O;
    const k = this.k;
    const flags = this.cacheFlags(cp);
    const btp = buf + this.ldp(cp + O.cache_buftag);
    const bcp = this.ldp(btp + this.O.bt_bufctl);
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
        if (this.verify_and_copy_pattern(buf, this.ldp(cp + O.cache_verify)) !== -1) {
          this.errorFrom(this.pc.alloc_debug_modified, KMERR_MODIFIED, cp, buf);
          return -1;
        }
      }
    }
    this.setRedzone(btp);
    let mtbf = (this.ld32(this.G.kmem_mtbf) | this.ld32(cp + O.cache_mtbf)) >>> 0;
    if (mtbf !== 0 && k.gethrtime() % mtbf === 0 && (kmflag & (KM_NOSLEEP | KM_PANIC)) === KM_NOSLEEP) {
      this.kmem_log_event(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
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
      this.kmem_slab_free(cp, buf);
      return 1;
    }
    if (flags & KMF_AUDIT) this.kmem_audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    if (flags & KMF_LITE && !(this.ld32(cp + O.cache_cflags) & KMC_KMEM_ALLOC)) this.kmem_buftag_lite_enter(btp, caller);
    return 0;
  }

  /** kmem_cache_free_debug: 0 ok, -1 corruption (reported; do not free). */
  protected kmem_cache_free_debug(cp: number, buf: number, caller: number): number {
    const O = this.O;
    const flags = this.cacheFlags(cp);
    const btp = buf + this.ldp(cp + O.cache_buftag);
    const bcp = this.ldp(btp + this.O.bt_bufctl);
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
        this.stp(bcp + O.bc_contents, this.kmem_log_enter(this.ldp(this.G.kmem_content_log), buf, this.ldp(cp + O.cache_contents)));
      }
      this.kmem_audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    }
    if (flags & KMF_LITE && !(this.ld32(cp + O.cache_cflags) & KMC_KMEM_ALLOC)) this.kmem_buftag_lite_enter(btp, caller);
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

  /* defined in the layers above */
  protected abstract errorFrom(pc: number, error: number, cp: number, buf: number): void;
  abstract kmem_findslab(cp: number, buf: number): number;
  protected abstract kmem_slab_free(cp: number, buf: number): void;
}
