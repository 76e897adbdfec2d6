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
import { whatis } from '../mdb/analysis/whatis-index.js';
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
 * The freed buffer of a kmem cache that bytes [start, start + size) of the
 * memory write into, if any (the first in address order).  Words outside
 * the memory are not looked at.
 */
export function freedBufferWritten(u: Umem, start: number, size: number): FreedBufferHit | undefined {
  const m = u.memory;
  m.current();
  const end = Math.min(start + size, m.byteLength);
  if (size <= 0 || start >= end) return undefined;
  let t: ReturnType<typeof umemTarget> | undefined;
  for (let w = start - (start % 4); w < end; w += 4) {
    if (m.load32(w) >>> 0 !== UMEM_FREE_PATTERN_32) continue;
    t ??= umemTarget(u);
    const hit = whatis(t, w).find((x) => x.kind === 'kmem' && x.state === 'freed');
    if (!hit) continue;
    const addr = Math.max(start, hit.base);
    const bufctl = hit.bufctl ?? 0;
    const history = bufctl === 0 ? [] : auditHistory(new KmemView(t), bufctl);
    return { addr, buffer: hit.base, offset: addr - hit.base, cache: hit.owner, cacheAddr: hit.ownerAddr ?? 0, bufctl, history };
  }
  return undefined;
}

/** The audit records of a bufctl, newest first ([] if it is no audit bufctl). */
function auditHistory(kv: KmemView, bufctl: number): BufctlAudit[] {
  try {
    return bufctlHistory(kv, bufctl).map((a) => kv.readAudit(a));
  } catch {
    return [];
  }
}
