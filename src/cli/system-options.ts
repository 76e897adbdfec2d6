/*
 * The command-line options that choose a simulated system, shared by
 * `kmemdb crash`/`kmemdb arenas` and `mdb -k`: --seed, --kmem-flags,
 * --model, --fixed, --debug-checks.  A mistake is an OptionError (one
 * line; the command prints its usage after it).
 */

import type { ModelName } from '../machine/memory.js';

export class OptionError extends Error {}

export interface SystemOptions {
  seed?: number;
  kmemFlags?: number;
  model?: ModelName;
  fixed?: boolean;
  debugChecks?: boolean;
}

/** A 32-bit unsigned number, decimal or 0x hex. */
export function parseNumber(opt: string, v: string | undefined): number {
  if (v === undefined) throw new OptionError(`${opt} needs a value`);
  const t = v.trim().toLowerCase();
  const n = /^0x[0-9a-f]+$/.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? parseInt(t, 10) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new OptionError(`${opt}: bad number "${v}"`);
  return n;
}

/**
 * If opt is one of the system options, store it in `into` (taking its
 * value from `value()`) and return true.
 */
export function takeSystemOption(opt: string, value: () => string | undefined, into: SystemOptions): boolean {
  switch (opt) {
    case '--fixed':
      into.fixed = true;
      return true;
    case '--debug-checks':
      into.debugChecks = true;
      return true;
    case '--seed':
      into.seed = parseNumber(opt, value());
      return true;
    case '--kmem-flags':
      into.kmemFlags = parseNumber(opt, value());
      return true;
    case '--model': {
      const v = value();
      if (v !== 'lp64' && v !== 'ilp32') throw new OptionError('--model must be lp64 or ilp32');
      into.model = v;
      return true;
    }
    default:
      return false;
  }
}

/** Split `--opt=value` into its option and inline value. */
export function splitOption(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}
