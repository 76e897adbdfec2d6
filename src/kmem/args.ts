/*
 * What kmem's entry points accept.
 *
 * Addresses and sizes are JavaScript numbers: an address a signed 64-bit
 * value (a safe integer), a size a non-negative integer, a kmflag a
 * combination of KM_NOSLEEP, KM_PANIC, KM_PUSHPAGE and KM_NORMALPRI
 * (KM_SLEEP is 0).  Anything else (a BigInt, a string, NaN, a fraction, a
 * negative size, a size no cache could hold, a bit that is no KM_* flag) is
 * a caller's bug in the script, not the kernel's, and is refused before
 * anything changes with the library's ArgumentError (machine/argcheck.ts, a
 * TypeError) naming the function and the argument.
 *
 * The word-index fast paths take integers in the heap and hand everything
 * else to the checked paths, which check here; so the checks cost nothing
 * on the fast paths.  The library's camelCase API checks kmflag too (the
 * fast paths do not read it).
 */

import { KM_NOSLEEP, KM_NORMALPRI, KM_PANIC, KM_PUSHPAGE } from '../abi/kmem-impl.js';
import { ArgumentError, checkAddress } from '../machine/argcheck.js';

/** The kmflag bits an allocation may carry. */
const KM_VALID = KM_NOSLEEP | KM_PANIC | KM_PUSHPAGE | KM_NORMALPRI;

/** An address: a safe integer. */
export function checkAddr(fn: string, name: string, v: unknown): void {
  checkAddress(fn, name, v);
}

/** A size: an integer in [min, max]. */
export function checkSize(fn: string, name: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(fn, name, `a size (an integer from ${min} to ${max})`, v);
  }
}

/** A kmflag: KM_SLEEP (0) or a combination of the other KM_* flags. */
export function checkKmflag(fn: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (v & ~KM_VALID) !== 0 || v > KM_VALID) {
    throw new ArgumentError(fn, 'kmflag', 'KM_SLEEP or a combination of KM_NOSLEEP, KM_PANIC, KM_PUSHPAGE and KM_NORMALPRI', v);
  }
}
