/*
 * kmemVerify: the checks kmem makes at run time, made after the fact over
 * every buffer of a cache (spec §6.8, illumos ::kmem_verify).
 *
 *   allocated buffers (kmem walk): the redzone must be the pattern, or hold
 *     a valid kmem_alloc size encoding in its second word with the 0xbb byte
 *     at buf[size]; bt_bxstat must be bt_bufctl ^ KMEM_BUFTAG_ALLOC;
 *   free buffers (freemem walk, DEADBEEF caches): the first cache_verify
 *     bytes must be 0xdeadbeef; the redzone must be the pattern (HASH, non-LITE
 *     caches: in small-slab caches bt_redzone holds the freelist link);
 *     bt_bxstat must be bt_bufctl ^ KMEM_BUFTAG_FREE.
 *
 * Only caches with KMF_REDZONE are checked.  Buftag words are compared as
 * 32-bit halves (little-endian), as bxstat differs from the bufctl pointer
 * only in its low 32 bits.
 */

import type { Target } from '../../target/target.js';
import { KmemView, type CacheInfo, type WarnFn } from './kmem-view.js';
import { KMF_DEADBEEF, KMF_HASH, KMF_LITE, KMF_REDZONE, KMEM_BUFTAG_ALLOC, KMEM_BUFTAG_FREE, KMEM_FREE_PATTERN32, KMEM_REDZONE_BYTE, KMEM_REDZONE_PATTERN32, KMEM_SIZE_DECODE, KMEM_SIZE_VALID } from '../../abi/kmem-impl.js';

export type CorruptionKind = 'modified' | 'redzone' | 'size-encoding' | 'buftag';

export interface Corruption {
  readonly buf: number;
  readonly state: 'allocated' | 'free';
  readonly kind: CorruptionKind;
  /** First bad address (modified free buffers; redzone byte). */
  readonly at?: number;
  /** Offset of `at` from the buffer. */
  readonly offset?: number;
  /** The message ::kmem_verify prints for it. */
  readonly message: string;
}

export interface CacheVerify {
  readonly cache: number;
  readonly name: string;
  /** False when the cache has no redzone checking (not checked). */
  readonly checked: boolean;
  readonly corrupt: Corruption[];
}

function hx(a: number): string {
  return a < 0 ? (BigInt(a) + (1n << 64n)).toString(16) : a.toString(16);
}

/** Check one cache. */
export function verifyCache(kv: KmemView, c: number): CacheVerify {
  const ci = kv.cache(c);
  if (!(ci.flags & KMF_REDZONE)) return { cache: c, name: ci.name, checked: false, corrupt: [] };
  const out: Corruption[] = [];
  for (const r of kv.allocatedBuffers(ci)) {
    const x = verifyAllocated(kv, ci, r.buf);
    if (x) out.push(x);
  }
  // as illumos: free buffers only when the cache fills them with 0xdeadbeef; walk order, allocated first
  if (ci.flags & KMF_DEADBEEF) {
    for (const r of kv.freeBuffers(ci)) {
      const x = verifyFree(kv, ci, r.buf);
      if (x) out.push(x);
    }
  }
  return { cache: c, name: ci.name, checked: true, corrupt: out };
}

/** Is the buftag's bxstat the bufctl xor'ed with `magic`? */
export function bxstatOk(t: Target, btp: number, kv: KmemView, magic: number): boolean {
  const L = kv.L;
  const bcp = btp + L.bt_bufctl.off;
  const bx = btp + L.bt_bxstat.off;
  const lo = t.load32(bcp) ^ magic;
  if (lo >>> 0 !== t.load32(bx) >>> 0) return false;
  if (kv.ptr === 8 && L.bt_bxstat.size === 8 && t.load32(bcp + 4) !== t.load32(bx + 4)) return false;
  return true;
}

function verifyAllocated(kv: KmemView, ci: CacheInfo, buf: number): Corruption | undefined {
  const t = kv.t;
  const btp = buf + ci.buftagOff;
  try {
    const w0 = t.load32(btp + kv.L.bt_redzone);
    const w1 = t.load32(btp + kv.L.bt_redzone + 4);
    if (w0 !== KMEM_REDZONE_PATTERN32 || w1 !== KMEM_REDZONE_PATTERN32) {
      const size = KMEM_SIZE_DECODE(w1);
      if (!KMEM_SIZE_VALID(w1) || size > ci.bufsize || t.load8(buf + size) !== KMEM_REDZONE_BYTE) {
        return {
          buf,
          state: 'allocated',
          kind: 'size-encoding',
          at: btp,
          offset: ci.buftagOff,
          message: `buffer ${hx(buf)} (allocated) has a corrupt redzone size encoding`,
        };
      }
    }
    if (!bxstatOk(t, btp, kv, KMEM_BUFTAG_ALLOC)) {
      return { buf, state: 'allocated', kind: 'buftag', at: btp, offset: ci.buftagOff, message: `buffer ${hx(buf)} (allocated) has a corrupt buftag` };
    }
    const ab = abortedAllocation(kv, ci, buf);
    if (ab) return ab;
  } catch {
    return { buf, state: 'allocated', kind: 'buftag', at: btp, offset: ci.buftagOff, message: `buffer ${hx(buf)} (allocated) has an unreadable buftag at ${hx(btp)}` };
  }
  return undefined;
}

/*
 * Beyond illumos: kmem_cache_alloc_debug marks a buffer allocated before it
 * checks the 0xdeadbeef pattern; when the check fails (a write after free)
 * the allocation is abandoned by the panic and the buffer is left looking
 * allocated, still 0xdeadbeef except where it was modified.  An allocated
 * buffer can never hold that pattern otherwise (allocation rewrites it to
 * 0xbaddcafe), so such a buffer is reported as modified, at its first
 * non-pattern word.
 */
function abortedAllocation(kv: KmemView, ci: CacheInfo, buf: number): Corruption | undefined {
  if (!(ci.flags & KMF_DEADBEEF) || ci.flags & KMF_LITE) return undefined;
  const t = kv.t;
  const n = Math.floor(ci.verify / 4);
  if (n < 4 || t.load32(buf) !== KMEM_FREE_PATTERN32 && t.load32(buf + 4) !== KMEM_FREE_PATTERN32) return undefined;
  let beef = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    if (t.load32(buf + 4 * i) === KMEM_FREE_PATTERN32) beef++;
    else if (first < 0) first = i;
  }
  if (first < 0 || beef * 4 < n * 3) return undefined;
  const off = 8 * Math.floor(first / 2); // the 64-bit word, as verify_pattern reports
  const at = buf + off;
  return {
    buf,
    state: 'allocated',
    kind: 'modified',
    at,
    offset: off,
    message: `buffer ${hx(buf)} (allocated) seems corrupted, at ${hx(at)} (modified while free; its allocation found it)`,
  };
}

function verifyFree(kv: KmemView, ci: CacheInfo, buf: number): Corruption | undefined {
  const t = kv.t;
  const btp = buf + ci.buftagOff;
  try {
    if (ci.flags & KMF_DEADBEEF) {
      // illumos' verify_pattern compares 64-bit words and names the first that differs
      const n = Math.floor(ci.verify / 8);
      for (let i = 0; i < n; i++) {
        if (t.load32(buf + 8 * i) !== KMEM_FREE_PATTERN32 || t.load32(buf + 8 * i + 4) !== KMEM_FREE_PATTERN32) {
          const at = buf + 8 * i;
          return { buf, state: 'free', kind: 'modified', at, offset: 8 * i, message: `buffer ${hx(buf)} (free) seems corrupted, at ${hx(at)}` };
        }
      }
    }
    if ((ci.flags & (KMF_HASH | KMF_LITE)) === KMF_HASH) {
      const w0 = t.load32(btp + kv.L.bt_redzone);
      const w1 = t.load32(btp + kv.L.bt_redzone + 4);
      if (w0 !== KMEM_REDZONE_PATTERN32 || w1 !== KMEM_REDZONE_PATTERN32) {
        return {
          buf,
          state: 'free',
          kind: 'redzone',
          at: btp,
          offset: ci.buftagOff,
          message: `buffer ${hx(buf)} (free) seems to have a corrupt redzone pattern`,
        };
      }
    }
    if (!bxstatOk(t, btp, kv, KMEM_BUFTAG_FREE)) {
      return { buf, state: 'free', kind: 'buftag', at: btp, offset: ci.buftagOff, message: `buffer ${hx(buf)} (free) has a corrupt buftag` };
    }
  } catch {
    return { buf, state: 'free', kind: 'buftag', at: btp, offset: ci.buftagOff, message: `buffer ${hx(buf)} (free) is unreadable` };
  }
  return undefined;
}

/** Verify one cache, or every cache (in kmem_cache order) when none is given. */
export function kmemVerify(t: Target, cache?: number, warn?: WarnFn): CacheVerify[] {
  const kv = new KmemView(t, warn);
  if (cache !== undefined) return [verifyCache(kv, cache)];
  const out: CacheVerify[] = [];
  for (const c of kv.caches()) {
    try {
      out.push(verifyCache(kv, c));
    } catch {
      kv.warn(`failed to read cache ${hx(c)}`);
    }
  }
  return out;
}
