/*
 * What kmem's entry points accept.
 *
 * Addresses and sizes are JavaScript numbers: an address a signed 64-bit
 * value (an integer), a size a non-negative integer, a kmflag a
 * combination of KM_NOSLEEP, KM_PANIC, KM_PUSHPAGE and KM_NORMALPRI
 * (KM_SLEEP is 0).  Anything else is a caller's bug in the script, not the
 * kernel's, and is refused before anything changes: a TypeError when the
 * argument is not a number at all (a BigInt, a string), a RangeError when
 * it is a number kmem cannot take (NaN, a fraction, a negative size, a
 * size no cache could hold, a bit that is no KM_* flag).  The message
 * names the function and the argument.
 *
 * The word-index fast paths take integers in the heap and hand everything
 * else to the checked paths, which check here; so the checks cost nothing
 * on the fast paths.  The library's camelCase API checks kmflag too (the
 * fast paths do not read it).
 */

import { KM_NOSLEEP, KM_NORMALPRI, KM_PANIC, KM_PUSHPAGE } from '../abi/kmem-impl.js';

/** The kmflag bits an allocation may carry. */
const KM_VALID = KM_NOSLEEP | KM_PANIC | KM_PUSHPAGE | KM_NORMALPRI;

function describe(v: unknown): string {
  return typeof v === 'bigint' ? `${String(v)}n (a bigint)` : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function notANumber(fn: string, name: string, v: unknown): TypeError {
  return new TypeError(`${fn}: ${name} must be a number, not ${describe(v)}`);
}

/** An address: an integer. */
export function checkAddr(fn: string, name: string, v: unknown): void {
  if (typeof v !== 'number') throw notANumber(fn, name, v);
  if (!Number.isSafeInteger(v)) throw new RangeError(`${fn}: ${name} must be an integer (an address), not ${describe(v)}`);
}

/** A size: an integer in [min, max]. */
export function checkSize(fn: string, name: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number') throw notANumber(fn, name, v);
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${fn}: ${name} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer (a size), not ${describe(v)}`);
  }
  if (v > max) throw new RangeError(`${fn}: ${name} ${v} is larger than ${max}, the most it can be`);
}

/** A kmflag: KM_SLEEP (0) or a combination of the other KM_* flags. */
export function checkKmflag(fn: string, v: unknown): void {
  if (typeof v !== 'number') throw notANumber(fn, 'kmflag', v);
  if (!Number.isInteger(v) || (v & ~KM_VALID) !== 0 || v < 0 || v > KM_VALID) {
    throw new RangeError(`${fn}: kmflag must be KM_SLEEP or a combination of KM_NOSLEEP, KM_PANIC, KM_PUSHPAGE and KM_NORMALPRI, not ${describe(v)}`);
  }
}
