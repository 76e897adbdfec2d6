/*
 * Addresses.
 *
 * kmemdb represents every simulated address as a plain JavaScript number
 * holding the *signed* 64-bit value of the address.  amd64 kernel addresses
 * are canonical: bits 63..47 are copies of bit 47, so every kernel address is
 * a negative number in [-2^47, 0) and fits exactly in a double (|a| < 2^53).
 * Within the upper half, signed order equals unsigned order, so `<` compares
 * kernel addresses correctly.  ILP32 kernels and flat (wasm-style) heaps use
 * ordinary non-negative numbers below 2^32.
 *
 * No BigInt on hot paths: loads and stores split a pointer into two 32-bit
 * halves with arithmetic.  BigInt is used only for printing and for mdb's
 * 64-bit expression arithmetic.
 *
 * Bitwise operators must not be applied to addresses (they truncate to 32
 * bits); use the helpers below, which work with arithmetic.
 */

export const TWO32 = 4294967296;
const TWO64 = 1n << 64n;

/** Low 32 bits (unsigned) of an address-sized number. */
export function lo32(a: number): number {
  const r = a % TWO32;
  return r < 0 ? r + TWO32 : r;
}

/** High 32 bits as a signed int32 (for canonical addresses). */
export function hi32(a: number): number {
  return Math.floor(a / TWO32) | 0;
}

/** Address from signed high and unsigned low halves. */
export function fromHalves(hi: number, lo: number): number {
  return hi * TWO32 + lo;
}

/** Convert our signed representation to an unsigned 64-bit BigInt. */
export function toU64(a: number): bigint {
  const b = BigInt(a);
  return b < 0n ? b + TWO64 : b;
}

/** Convert an unsigned (or signed) 64-bit BigInt to our representation. */
export function fromU64(v: bigint): number {
  let b = BigInt.asIntN(64, v);
  if (b >= -(1n << 53n) && b < 1n << 53n) return Number(b);
  // Non-canonical values cannot be represented exactly; keep the nearest.
  b = b >> 11n;
  return Number(b) * 2048;
}

/** Format an address as lowercase hex without prefix, full width for 64-bit. */
export function hex(a: number): string {
  if (a >= 0 && a < TWO32) return (a >>> 0).toString(16);
  return toU64(a).toString(16);
}

/** `0x`-prefixed hex. */
export function hex0x(a: number): string {
  return '0x' + hex(a);
}

/** Non-negative modulus (works for negative addresses). */
export function mod(a: number, m: number): number {
  const r = a % m;
  return r < 0 ? r + m : r;
}

/** P2ALIGN: round down to a multiple of align (align any positive integer). */
export function p2align(a: number, align: number): number {
  return a - mod(a, align);
}

/** P2ROUNDUP: round up to a multiple of align. */
export function p2roundup(a: number, align: number): number {
  const r = mod(a, align);
  return r === 0 ? a : a - r + align;
}

/** P2PHASE: a mod align. */
export function p2phase(a: number, align: number): number {
  return mod(a, align);
}

/** P2PHASEUP(x, align, phase): smallest y >= x with y mod align == phase. */
export function p2phaseup(x: number, align: number, phase: number): number {
  return phase - p2align(phase - x, align);
}

/** P2CROSS(x, y, align): does [x, y] cross an align boundary? */
export function p2cross(x: number, y: number, align: number): boolean {
  return Math.floor(x / align) !== Math.floor(y / align);
}

/** highbit(x): 1-based index of the highest set bit (0 for 0). */
export function highbit(x: number): number {
  if (x <= 0) return 0;
  if (x < TWO32) return 32 - Math.clz32(x);
  return 32 + highbit(Math.floor(x / TWO32));
}

/** lowbit(x): 1-based index of the lowest set bit (0 for 0). */
export function lowbit(x: number): number {
  if (x === 0) return 0;
  const l = lo32(x);
  if (l !== 0) return 32 - Math.clz32(l & -l);
  return 32 + lowbit(Math.floor(x / TWO32));
}

export function isPow2(x: number): boolean {
  return x > 0 && (x & (x - 1)) === 0 && x < TWO32 ? true : x > 0 && Number.isInteger(Math.log2(x));
}

/** Parse "0x..." or a decimal string to an address (handles 64-bit values). */
export function parseAddr(s: string): number {
  const t = s.trim().toLowerCase();
  const v = t.startsWith('0x') ? BigInt(t) : /^[0-9a-f]+$/.test(t) ? BigInt('0x' + t) : NaN;
  if (typeof v !== 'bigint') throw new RangeError(`bad address: ${s}`);
  return fromU64(v);
}
