/*
 * Argument checks at the library's public entry points.
 *
 * A caller from JavaScript can pass anything: a BigInt, NaN, a string where
 * a number belongs, an unknown option.  Deep inside, such a value becomes a
 * "Cannot mix BigInt" TypeError, an endless loop or a silently wrong answer.
 * Entry points check their arguments first and throw an ArgumentError that
 * names the function and the argument, with what was expected and what came.
 */

/** A bad argument to a public function: `fn(arg): expected ..., got ...`. */
export class ArgumentError extends TypeError {
  constructor(
    readonly fn: string,
    readonly arg: string,
    expected: string,
    got: unknown,
  ) {
    super(`${fn}: ${arg} must be ${expected}, got ${describe(got)}`);
    this.name = 'ArgumentError';
  }
}

/** A short, bounded description of a value for a message. */
export function describe(v: unknown): string {
  if (typeof v === 'bigint') return `the BigInt ${v}n`;
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'function' ? 'a function' : String(v);
}

/** An integer number in [min, max] (a JavaScript number, not a BigInt). */
export function checkInt(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ArgumentError(fn, arg, `an integer in [${min}, ${max}]`, v);
  return v;
}

/** A finite number (an address or a time). */
export function checkFinite(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(fn, arg, 'a finite number', v);
  return v;
}

/** An address: a safe integer (kmemdb's signed 64-bit address representation, see machine/addr.ts). */
export function checkAddress(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ArgumentError(fn, arg, 'an address (a safe integer number)', v);
  return v;
}

/** A string. */
export function checkString(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string') throw new ArgumentError(fn, arg, 'a string', v);
  return v;
}

/** One of a fixed set of values. */
export function checkOneOf<T extends string>(fn: string, arg: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ArgumentError(fn, arg, `one of ${allowed.join(', ')}`, v);
  return v as T;
}
