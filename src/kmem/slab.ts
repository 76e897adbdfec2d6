/*
 * The slab layer.
 *
 * A slab is a run of cache_slabsize bytes from the cache's vmem arena cut
 * into chunks; chunk i is at slab_base + i * chunksize, slab_base = slab +
 * colour.  Free chunks of a slab are a LIFO list through bufctls
 * (slab_head -> bc_next).  *Small* slabs (KMC_NOHASH, or chunks <
 * quantum/8 without AUDIT/NOTOUCH) keep the kmem_slab_t in the last bytes
 * of the slab and the bufctl inside the free buffer (at buf +
 * cache_bufctl), so a buffer maps to its slab by address arithmetic.
 * *Large* slabs (KMF_HASH) take the slab struct from kmem_slab_cache and
 * one bufctl per chunk from kmem_bufctl_cache (kmem_bufctl_audit_cache
 * under AUDIT); allocated buffers are found through the hash table
 * cache_hash_table[(buf >> shift) & mask], which kmem_update rescales.
 * Completely allocated slabs sit on cache_complete_slabs, partial slabs in
 * cache_partial_slabs (list.ts); allocation takes the first partial slab.
 * A slab whose last buffer is freed goes back to vmem at once.
 */

import { mod, p2align, p2roundup } from '../machine/addr.js';
import { KMC_NOTOUCH, KMEM_BUFTAG_FREE, KMEM_FREE_PATTERN32, KMEM_UNINITIALIZED_PATTERN32, KMERR_BADADDR, KMF_AUDIT, KMF_BUFTAG, KMF_CONTENTS, KMF_DEADBEEF, KMF_HASH, KM_VMFLAGS, KMEM_SLAB_NOMOVE } from '../abi/kmem-impl.js';
import { KmemDebug } from './debug.js';

export abstract class KmemSlabs extends KmemDebug {
  protected hashBucket(cp: number, buf: number): number {
    const O = this.O;
    const shift = this.ld32(cp + O.cache_hash_shift);
    const mask = this.ldp(cp + O.cache_hash_mask);
    const idx = mod(Math.floor(buf / 2 ** shift), mask + 1);
    return this.ldp(cp + O.cache_hash_table) + idx * this.P;
  }

  protected kmem_slab_create(cp: number, kmflag: number): number {
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
        this.kmem_log_event(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
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
          this.kmem_log_event(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
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
            this.kmem_log_event(this.ldp(this.G.kmem_failure_log), cp, 0, 0);
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
          this.stp(btp + this.O.bt_bufctl, bcp);
          this.setBxstat(btp, bcp, KMEM_BUFTAG_FREE);
          if (flags & KMF_DEADBEEF) this.fillPattern(buf, verify, KMEM_FREE_PATTERN32);
        }
        this.stp(bcp + O.bc_next, head);
        head = bcp;
        buf += chunksize;
      }
      this.stp(sp + O.slab_head, head);
      this.kmem_log_event(this.ldp(this.G.kmem_slab_log), cp, sp, slab);
      return sp;
    } finally {
      k.leave();
    }
  }

  protected kmem_slab_destroy(cp: number, sp: number): void {
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

  protected kmem_slab_alloc(cp: number, kmflag: number): number {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.slab_alloc);
    try {
      const tree = cp + O.cache_partial_slabs;
      let sp = this.avl_first(tree);
      if (sp === 0) {
        sp = this.kmem_slab_create(cp, kmflag);
        if (sp === 0) return 0;
        this.inc64(cp + O.cache_slab_create);
        const chunks = this.ldl(sp + O.slab_chunks);
        const total = this.ld64(cp + O.cache_buftotal) + chunks;
        this.st64(cp + O.cache_buftotal, total);
        if (total > this.ld64(cp + O.cache_bufmax)) this.st64(cp + O.cache_bufmax, total);
        this.add64(cp + O.cache_bufslab, chunks);
      }
      return this.kmem_slab_alloc_impl(cp, sp);
    } finally {
      k.leave();
    }
  }

  protected kmem_slab_alloc_impl(cp: number, sp: number): number {
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
      if ((flags & (KMF_AUDIT | KMF_BUFTAG)) === KMF_AUDIT) this.kmem_audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
    } else {
      buf = bcp - this.ldp(cp + O.cache_bufctl);
    }
    const tree = cp + O.cache_partial_slabs;
    if (this.ldp(sp + O.slab_head) === 0) {
      if (!newSlab) {
        this.avl_remove(tree, sp);
        this.k.mem.store16(sp + O.slab_later_count, 0);
        this.k.mem.store16(sp + O.slab_flags, this.mem.load16(sp + O.slab_flags) & ~KMEM_SLAB_NOMOVE);
        this.st32(sp + O.slab_stuck_offset, 0xffffffff);
      }
      this.list_insert_head(cp + O.cache_complete_slabs, sp, O.slab_link);
      this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) + 1);
      return buf;
    }
    if (newSlab) this.avl_add(cp, tree, sp);
    // otherwise the slab got more allocated: its position is unchanged
    return buf;
  }

  /** Find the slab containing buf in cp (kmem_findslab). */
  override kmem_findslab(cp: number, buf: number): number {
    const O = this.O;
    const slabsize = this.ldp(cp + O.cache_slabsize);
    const list = cp + O.cache_complete_slabs;
    const off = O.slab_link;
    let n = 0;
    for (let sp = this.list_next(list, 0, off); sp !== 0 && n < 1 << 22; sp = this.list_next(list, sp, off), n++) {
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

  protected override kmem_slab_free(cp: number, buf: number): void {
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
          this.stp(bcp + O.bc_contents, this.kmem_log_enter(this.ldp(this.G.kmem_content_log), buf, this.ldp(cp + O.cache_contents)));
        }
        this.kmem_audit(this.ldp(this.G.kmem_transaction_log), cp, bcp);
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
          this.list_remove(sp, O.slab_link);
          this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) - 1);
        } else {
          this.avl_remove(tree, sp);
        }
        this.add64(cp + O.cache_buftotal, -chunks);
        this.add64(cp + O.cache_bufslab, -chunks);
        this.inc64(cp + O.cache_slab_destroy);
        this.kmem_slab_destroy(cp, sp);
        return;
      }
      if (wasFull) {
        this.list_remove(sp, O.slab_link);
        this.stp(cp + O.cache_complete_slab_count, this.ldp(cp + O.cache_complete_slab_count) - 1);
        this.avl_add(cp, tree, sp);
      } else {
        this.avl_update_gt(cp, tree, sp);
      }
    } finally {
      k.leave();
    }
  }

  /* defined in the layers above */
  abstract kmem_cache_alloc(cp: number, kmflag: number): number;
  abstract kmem_cache_free(cp: number, buf: number): void;
  abstract kmem_error(errorIn: number, cparg: number, bufarg: number): void;
}
