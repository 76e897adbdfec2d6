/*
 * Mutations of program cores (WebAssembly core dumps, docs/wasm-core.md).
 *
 * A mutation is a small serializable description (kept in reproducers)
 * applied to the intact core's bytes:
 *
 *   flip          a few bits anywhere in the file
 *   truncate      the file cut at an offset
 *   section-size  a section's size LEB128 rewritten with another value
 *   leb-overflow  a section's size LEB128 made overlong or over 32 bits
 *   insert        a few random bytes inserted
 *   word          a 32-bit word anywhere set to 0, -1, 0x7fffffff or 0x80808080
 *   heap-word     a word inside an allocator structure of the linear memory
 *                 (a cache, a slab, a buffer, a vmem arena) set to 0, -1,
 *                 a pointer to another structure, one past itself, or junk
 *   heap-flip     bits flipped in the bytes of such a structure
 *
 * The first six damage the container (what openWasmCore must refuse in one
 * line or read consistently); the last two keep the file valid and damage
 * what libumem's dcmds read (what mdb must report in words, never with a
 * stack trace or a hang).  CoreFacts are learned once from the intact core:
 * where the section sizes are and where allocator structures lie in the file.
 */

import type { Rand } from '../src/kernel/rand.js';

export type CoreMutation =
  | { readonly kind: 'flip'; readonly at: readonly number[]; readonly bits: readonly number[] }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'section-size'; readonly at: number; readonly value: number }
  | { readonly kind: 'leb-overflow'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly kind: 'word'; readonly at: number; readonly value: number }
  | { readonly kind: 'heap-word'; readonly at: number; readonly value: number; readonly note: string }
  | { readonly kind: 'heap-flip'; readonly at: readonly number[]; readonly bits: readonly number[]; readonly note: string };

/** An allocator structure: its linear address, its size, where its first byte is in the file. */
export interface CoreObject {
  readonly what: string;
  readonly addr: number;
  readonly size: number;
  readonly fileOff: number;
}

/** What mutations aim at, from the intact core. */
export interface CoreFacts {
  /** File offsets of every section's size LEB128 (the byte after the id). */
  readonly sizeOffsets: readonly number[];
  /** Allocator structures stored in the file, whole. */
  readonly objects: readonly CoreObject[];
}

/** File offsets of every section's size LEB128 (id byte + 1), walking the section headers. */
export function sectionSizeOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  let off = 8;
  while (off < b.length) {
    out.push(off + 1);
    let size = 0;
    let mul = 1;
    let p = off + 1;
    for (;;) {
      const byte = b[p++]!;
      size += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) break;
    }
    off = p + size;
  }
  return out;
}

/** The unsigned LEB128 encoding of v (v < 2^53). */
function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    out.push((v % 128) | (v >= 128 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return out;
}

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[r.below(xs.length)]!;
}

const SIZE_VALUES = [0, 1, 0x7f, 0x80, 0xffff, 0x7fffffff, 0xffffffff];
const WORD_VALUES = [0, 0xffffffff, 0x7fffffff, 0x80808080];

/** A heap-word value: 0, -1, another structure, one past this word, or junk. */
function heapValue(r: Rand, facts: CoreFacts, at: CoreObject, off: number): { value: number; note: string } {
  switch (r.below(5)) {
    case 0:
      return { value: 0, note: 'zero' };
    case 1:
      return { value: 0xffffffff, note: 'all ones' };
    case 2: {
      const o = pick(r, facts.objects);
      return { value: o.addr, note: `points at ${o.what} ${o.addr.toString(16)}` };
    }
    case 3:
      return { value: (at.addr + off + 4) >>> 0, note: 'points one word past itself' };
    default:
      return { value: (r.below(0x10000) * 0x10000 + r.below(0x10000)) >>> 0, note: 'junk' };
  }
}

/** A random mutation of the core `base` (length n). */
export function mutateCore(r: Rand, facts: CoreFacts, n: number): CoreMutation {
  const heap = facts.objects.length > 0;
  const kind = r.below(heap ? 10 : 6);
  if (kind === 0) {
    const k = 1 + r.below(4);
    return { kind: 'flip', at: Array.from({ length: k }, () => r.below(n)), bits: Array.from({ length: k }, () => r.below(8)) };
  }
  if (kind === 1) return { kind: 'truncate', at: r.below(n) };
  if (kind === 2) return { kind: 'section-size', at: pick(r, facts.sizeOffsets), value: r.below(2) ? pick(r, SIZE_VALUES) : r.below(1 << 20) };
  if (kind === 3) return { kind: 'leb-overflow', at: pick(r, facts.sizeOffsets), length: 5 + r.below(3) };
  if (kind === 4) return { kind: 'insert', at: r.below(n), bytes: Array.from({ length: 1 + r.below(8) }, () => r.below(256)) };
  if (kind === 5) return { kind: 'word', at: r.below(Math.max(1, n - 4)), value: pick(r, WORD_VALUES) };
  const o = pick(r, facts.objects);
  if (kind <= 8) {
    const off = 4 * r.below(Math.max(1, Math.floor(o.size / 4)));
    const v = heapValue(r, facts, o, off);
    return { kind: 'heap-word', at: o.fileOff + off, value: v.value, note: `${o.what} ${o.addr.toString(16)}+${off.toString(16)}: ${v.note}` };
  }
  const k = 1 + r.below(3);
  const offs = Array.from({ length: k }, () => r.below(Math.max(1, o.size)));
  return { kind: 'heap-flip', at: offs.map((x) => o.fileOff + x), bits: offs.map(() => r.below(8)), note: `${o.what} ${o.addr.toString(16)}` };
}

/** The bytes of the LEB128 at `at`: its end (exclusive). */
function lebEnd(b: Uint8Array, at: number): number {
  let end = at;
  while (end < b.length && b[end]! & 0x80) end++;
  return Math.min(b.length, end + 1);
}

function splice(b: Uint8Array, at: number, end: number, bytes: readonly number[]): Uint8Array {
  const out = new Uint8Array(b.length - (end - at) + bytes.length);
  out.set(b.subarray(0, at), 0);
  out.set(bytes, at);
  out.set(b.subarray(end), at + bytes.length);
  return out;
}

/** The mutated core. */
export function applyCoreMutation(base: Uint8Array, m: CoreMutation): Uint8Array {
  switch (m.kind) {
    case 'truncate':
      return base.slice(0, m.at);
    case 'section-size':
      return splice(base, m.at, lebEnd(base, m.at), uleb(m.value));
    case 'leb-overflow':
      return splice(base, m.at, lebEnd(base, m.at), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f].slice(0, m.length));
    case 'insert':
      return splice(base, m.at, m.at, m.bytes);
    case 'flip':
    case 'heap-flip': {
      const b = base.slice();
      m.at.forEach((at, i) => {
        if (at < b.length) b[at] = b[at]! ^ (1 << m.bits[i]!);
      });
      return b;
    }
    case 'word':
    case 'heap-word': {
      const b = base.slice();
      if (m.at + 4 <= b.length) new DataView(b.buffer).setUint32(m.at, m.value, true);
      return b;
    }
  }
}
