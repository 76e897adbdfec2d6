/*
 * Word scanning over the target's memory, for ::kgrep and ::findleaks.
 *
 * The target's mapped ranges are read as large views (`Target.bytes`) in
 * windows of at most WINDOW bytes, looked at as Uint32Array so that a
 * pointer is compared as two 32-bit halves: no BigInt, no object per word.
 * A window is cached while consecutive reads fall in it.  Small pieces (a
 * buffer findleaks follows a pointer into) get a SMALL_WINDOW around them
 * instead: a target that reads a file (a dump, a program core) gives that
 * as a view of one cached chunk, where a WINDOW would be copied out of
 * hundreds, for every jump of the marking from one part of memory to
 * another.
 */

import type { Target, TargetRange } from '../../target/target.js';

export const WINDOW = 16 << 20;
/** The window of a piece of at most this size (a chunk of the file-backed targets). */
export const SMALL_WINDOW = 64 << 10;

export interface Window {
  readonly base: number;
  readonly size: number;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
}

/** Make a 4-byte-aligned Uint32Array over bytes (copying only if misaligned). */
export function u32View(u8: Uint8Array): Uint32Array {
  if (u8.byteOffset % 4 === 0) return new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  const c = u8.slice();
  return new Uint32Array(c.buffer, 0, c.byteLength >>> 2);
}

/** Random access to mapped memory by windows. */
export class WindowReader {
  readonly ranges: readonly TargetRange[];
  /** The last window of each span: a scan of a large range keeps its window while the buffers it marks are followed. */
  private last: Window | undefined;
  private lastSmall: Window | undefined;

  constructor(readonly t: Target) {
    this.ranges = [...t.ranges()].sort((a, b) => a.base - b.base);
  }

  /** The range holding a, or -1. */
  rangeIndex(a: number): number {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = r[mid]!;
      if (a < x.base) hi = mid - 1;
      else if (a >= x.base + x.size) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** The window containing a (of `span` bytes at most: WINDOW or SMALL_WINDOW), or undefined if a is not mapped. */
  window(a: number, span = WINDOW): Window | undefined {
    const l = this.last;
    if (l && a >= l.base && a < l.base + l.size) return l;
    const sm = this.lastSmall;
    if (sm && a >= sm.base && a < sm.base + sm.size) return sm;
    const i = this.rangeIndex(a);
    if (i < 0) return undefined;
    const r = this.ranges[i]!;
    const wb = r.base + Math.floor((a - r.base) / span) * span;
    const ws = Math.min(span, r.base + r.size - wb);
    let u8: Uint8Array;
    try {
      u8 = this.t.bytes(wb, ws);
    } catch {
      return undefined;
    }
    const w = { base: wb, size: ws, u8, u32: u32View(u8) };
    if (span === WINDOW) this.last = w;
    else this.lastSmall = w;
    return w;
  }

  /**
   * Call fn(window, firstWordIndex, endWordIndex) for the mapped, 4-aligned
   * parts of [base, base+size).  Word indices are 32-bit word indices into
   * window.u32; base is rounded up to `align`.
   */
  forEachPiece(base: number, size: number, align: number, fn: (w: Window, i0: number, i1: number) => void): void {
    let a = base;
    const r = a % align;
    if (r !== 0) a += r < 0 ? -r : align - r;
    const end = base + size;
    const span = size <= SMALL_WINDOW ? SMALL_WINDOW : WINDOW;
    while (a + align <= end) {
      const w = this.window(a, span);
      if (!w) {
        // skip to the next mapped range
        const nexts = this.ranges.find((x) => x.base > a);
        if (!nexts || nexts.base >= end) return;
        a = nexts.base;
        continue;
      }
      const stop = Math.min(end, w.base + w.size);
      const i0 = (a - w.base) / 4;
      const n = Math.floor((stop - a) / align) * (align / 4);
      if (n > 0) fn(w, i0, i0 + n);
      a += n * 4;
      if (n === 0) a = stop;
    }
  }
}
