/*
 * Is a write landing on a freed buffer?  The question the store watcher
 * (`kmemdb run --watch-freed`) asks when a store is about to overwrite the
 * free pattern, answered as mdb answers `::whatis` and `::bufctl -h` of a
 * core: from the allocator's structures in the memory, through mdb's
 * analyses over the live heap (this layer sits above them; the allocator
 * below knows nothing of it).
 *
 * Theory
 * ------
 * Under UMEM_DEBUG's guards a free buffer of a kmem cache holds 0xdeadbeef
 * in every 32-bit word, so only words holding the pattern can be in one:
 * the range written is searched word by word for the pattern, and each
 * such word is looked up with ::whatis's index (a freed buffer of a cache,
 * in a slab's free list or a magazine, is a hit).  A live word that holds
 * 0xdeadbeef by the program's own doing is no hit.  The buffer's audit
 * history (its bufctl, then older transactions through the transaction
 * log's bc_lastlog chain) says who freed it and, when the log reaches back
 * that far, who allocated it.
 */

import { KmemView, bufctlHistory, type BufctlAudit } from '../mdb/analysis/kmem-view.js';
import { WhatisIndex } from '../mdb/analysis/whatis-index.js';
import { UMEM_FREE_PATTERN_32, type Umem } from '../umem/umem.js';
import { umemTarget } from './analysis.js';

/** A write's place in a freed buffer, and the buffer's history. */
export interface FreedBufferHit {
  /** The first byte of the write that lies in the freed buffer. */
  readonly addr: number;
  readonly buffer: number;
  /** addr - buffer. */
  readonly offset: number;
  readonly cache: string;
  readonly cacheAddr: number;
  /** The buffer's bufctl (0 when its cache keeps none). */
  readonly bufctl: number;
  /** The buffer's audit records, newest first: its free, then older transactions the log still holds. */
  readonly history: readonly BufctlAudit[];
}

/**
 * Finds the freed buffer a write lands on.  Its ::whatis index (the caches'
 * slabs and magazines, read once) is kept while the heap is unchanged: no
 * allocator call since (the allocator's clock has not moved) and the
 * memory has not grown, so that a program overwriting many live words that
 * hold 0xdeadbeef pays for one index, not one per word.
 */
export class FreedBufferFinder {
  private index: WhatisIndex | undefined;
  private clock = -1;
  private bytes = -1;

  constructor(private readonly u: Umem) {}

  /** The index of the heap as it is now. */
  private current(): WhatisIndex {
    const k = this.u.heap.k;
    const m = this.u.memory;
    m.current();
    if (!this.index || this.clock !== k.hrtime || this.bytes !== m.byteLength) {
      this.index = new WhatisIndex(umemTarget(this.u));
      this.clock = k.hrtime;
      this.bytes = m.byteLength;
    }
    return this.index;
  }

  /**
   * The freed buffer of a kmem cache that bytes [start, start + size) of
   * the memory write into, if any (the first in address order).  Only the
   * heap's words holding the free pattern are looked up.
   */
  written(start: number, size: number): FreedBufferHit | undefined {
    const m = this.u.memory;
    m.current();
    const { heapBase, heapLimit } = this.u.layout;
    const end = Math.min(start + size, m.byteLength, heapLimit);
    for (let w = Math.max(start - (start % 4), heapBase); w < end; w += 4) {
      if (m.load32(w) >>> 0 !== UMEM_FREE_PATTERN_32) continue;
      const index = this.current();
      const hit = index.whatis(w).find((x) => x.kind === 'kmem' && x.state === 'freed');
      if (!hit) continue;
      const addr = Math.max(start, hit.base);
      const bufctl = hit.bufctl ?? 0;
      const history = bufctl === 0 || !index.kv ? [] : auditHistory(index.kv, bufctl);
      return { addr, buffer: hit.base, offset: addr - hit.base, cache: hit.owner, cacheAddr: hit.ownerAddr ?? 0, bufctl, history };
    }
    return undefined;
  }
}

/** The audit records of a bufctl, newest first ([] if it is no audit bufctl). */
function auditHistory(kv: KmemView, bufctl: number): BufctlAudit[] {
  try {
    return bufctlHistory(kv, bufctl).map((a) => kv.readAudit(a));
  } catch {
    return [];
  }
}
