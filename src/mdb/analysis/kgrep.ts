/*
 * kgrep: find every size-aligned word of the target's memory equal to a
 * value (or within [value, value+dist), or equal under a mask).
 *
 * The exact-match case is the hot one: it searches each window with
 * Buffer.indexOf for the low 32 bits of the value (a native memmem), then
 * checks alignment and the high half at each hit.  The other cases compare
 * Uint32Array halves in a plain loop.  Memory is every mapped range of the
 * target (illumos excludes some kernel segments it cannot read safely;
 * our targets can read everything they map).
 */

import type { Target } from '../../target/target.js';
import { TWO32 } from '../../machine/addr.js';
import { WindowReader } from './scan.js';

export interface KgrepOptions {
  /** Word size: 1, 2, 4 or 8 (default pointer size). */
  size?: number;
  /** Match values in [value, value+dist). */
  dist?: number;
  /** Match (word & mask) == value (on the low 32 and high 32 bits). */
  mask?: bigint;
  minAddr?: number;
  maxAddr?: number;
  /** Called with the size of each window before it is searched (a work bound may stop the scan by throwing). */
  charge?: (bytes: number) => void;
}

export interface KgrepHit {
  readonly addr: number;
  readonly value: bigint;
}

export class KgrepError extends Error {}

function readWord(u8: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(u8[off + i]!);
  return v;
}

/** Search the target; calls onHit for each match in address order. Returns bytes searched. */
export function kgrepScan(t: Target, value: bigint, opts: KgrepOptions, onHit: (addr: number, value: bigint) => void): number {
  const size = opts.size ?? t.model.ptrSize;
  if (![1, 2, 4, 8].includes(size)) throw new KgrepError('size must be a power of 2');
  const bits = BigInt(size * 8);
  const full = (1n << bits) - 1n;
  const pat = BigInt.asUintN(size * 8, value);
  const minA = opts.minAddr ?? -Infinity;
  const maxA = opts.maxAddr ?? Infinity;
  const wr = new WindowReader(t);
  let searched = 0;
  const mask = opts.mask !== undefined ? opts.mask & full : undefined;
  const dist = opts.dist !== undefined ? BigInt(opts.dist) : undefined;
  const patLo = Number(pat & 0xffffffffn);
  const patHi = Number((pat >> 32n) & 0xffffffffn);
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(patLo >>> 0, 0);
  for (const r of wr.ranges) {
    let a = Math.max(r.base, minA === -Infinity ? r.base : minA);
    const end = Math.min(r.base + r.size, maxA === Infinity ? r.base + r.size : maxA);
    a += (size - (((a % size) + size) % size)) % size;
    while (a + size <= end) {
      const w = wr.window(a);
      if (!w) break;
      const stop = Math.min(end, w.base + w.size);
      const off0 = a - w.base;
      const off1 = stop - w.base;
      opts.charge?.(off1 - off0);
      searched += off1 - off0;
      if (mask === undefined && dist === undefined && size >= 4) {
        // exact match: native search on the low half
        const buf = Buffer.from(w.u8.buffer, w.u8.byteOffset, w.u8.byteLength);
        let i = buf.indexOf(needle, off0);
        while (i >= 0 && i + size <= off1) {
          if (i % size === 0 && (size === 4 || w.u32.length === 0 || readHi(w.u8, w.u32, i) === patHi)) {
            onHit(w.base + i, pat);
          }
          i = buf.indexOf(needle, i + 1);
        }
      } else if (size === 8 && w.u8.byteOffset % 4 === 0) {
        const u32 = w.u32;
        const mlo = mask !== undefined ? Number(mask & 0xffffffffn) : 0;
        const mhi = mask !== undefined ? Number(mask >> 32n) : 0;
        const pv = (patHi | 0) * TWO32 + patLo;
        const nd = dist !== undefined ? Number(dist) : 0;
        for (let i = off0 >> 2; i + 2 <= off1 >> 2; i += 2) {
          const lo = u32[i]!;
          const hi = u32[i + 1]!;
          if (mask !== undefined) {
            if (((lo & mlo) >>> 0) === patLo && ((hi & mhi) >>> 0) === patHi) onHit(w.base + i * 4, (BigInt(hi) << 32n) | BigInt(lo));
          } else {
            const v = (hi | 0) * TWO32 + lo;
            if (v >= pv && v - pv < nd) onHit(w.base + i * 4, (BigInt(hi) << 32n) | BigInt(lo));
          }
        }
      } else {
        for (let o = off0; o + size <= off1; o += size) {
          const v = readWord(w.u8, o, size);
          if (mask !== undefined ? (v & mask) === pat : dist !== undefined ? v >= pat && v - pat < dist : v === pat) onHit(w.base + o, v);
        }
      }
      a = stop;
    }
  }
  return searched;
}

function readHi(u8: Uint8Array, u32: Uint32Array, i: number): number {
  if ((u8.byteOffset + i) % 4 === 0 && u8.byteOffset % 4 === 0) return u32[(i >> 2) + 1]!;
  return (u8[i + 4]! | (u8[i + 5]! << 8) | (u8[i + 6]! << 16) | (u8[i + 7]! << 24)) >>> 0;
}

/** All hits as data. */
export function kgrep(t: Target, value: number | bigint, opts: KgrepOptions = {}): { hits: KgrepHit[]; searched: number } {
  const v = BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(value));
  const hits: KgrepHit[] = [];
  const searched = kgrepScan(t, v, opts, (addr, val) => hits.push({ addr, value: val }));
  return { hits, searched };
}

