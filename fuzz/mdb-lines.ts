/*
 * Random mdb command lines, built from what the session itself offers: the
 * dcmds (`::dcmds`) with the options their usage lines (`::help`) name, the
 * walkers, the target's symbols and types, addresses of real objects
 * (caches, slabs, buffers, threads) and of nothing, counts from 0 to far
 * beyond any cap, format verbs with random format characters, pipelines,
 * and Unicode and control characters dropped anywhere.  Shell escapes are
 * left out of the grammar (the fuzz workers run with SHELL=/bin/true in case
 * a random `!` slips in).  The same seed gives the same lines.
 */

import type { Rand } from '../src/kernel/rand.js';
import type { Session } from '../src/mdb/session.js';

/** What a line generator draws from: names and addresses taken from one session over one target. */
export interface LineVocabulary {
  readonly dcmds: ReadonlyArray<{ readonly name: string; readonly options: readonly string[] }>;
  readonly walkers: readonly string[];
  readonly symbols: readonly string[];
  readonly types: readonly string[];
  /** Addresses of real objects (as mdb numbers, hex). */
  readonly addrs: readonly string[];
}

const ODD_CHARS = ['\v', '\f', '\r', '\0', '\x1b', '\x7f', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u{1f600}', '\ud800', '\\', '"', "'", '$[', ']', '`'];
/* Counts: small ones (a count multiplies any dcmd's work) and ones beyond every cap, which must be refused at once. */
const COUNTS = ['0', '1', '2', '3', '10', '0t16', '100001', '1000000', 'ffffffff', 'ffffffffffffffff', '-1', '0t-1'];
const NUMBERS = ['0', '1', '-1', '8', '0x10', '0xdeadbeef', 'ffffffffffffffff', '7fffffffffffffff', '0t42', '0o17', '0i101', '0x', '0t', '1_000', 'fffffffffffffffff', '.', '&', '+', '^', '<x', '<.', "'a'", "'abcdefghi'"];
const FORMAT_CHARS = 'aAbBcCdDeEfFgGhHiIjJKlLmMnNoOpPqQrRsStTuUvVwWXYzZ+-^"\'';
const BINOPS = ['+', '-', '*', '%', '#', '<<', '>>', '==', '!=', '&', '^', '|'];

/** Collect the vocabulary of a session (its dcmds and walkers) over its target, with some real object addresses. */
export function vocabulary(s: Session, addrs: readonly string[]): LineVocabulary {
  const dcmds = [...s.dcmds.values()].map(({ def }) => ({ name: def.name, options: [...def.usage.matchAll(/-([A-Za-z]+)/g)].flatMap((m) => [...m[1]!].map((c) => '-' + c)) }));
  let symbols: string[] = [];
  let types: string[] = [];
  try {
    symbols = s.target.symbols().map((x) => x.name).slice(0, 2000);
    types = s.target.types.names().slice(0, 500);
  } catch {
    /* a target without symbols or types */
  }
  return { dcmds, walkers: [...s.walkers.keys()], symbols, types, addrs };
}

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[r.below(xs.length)]!;
}

/** An address expression: a real object, a symbol, a number, or an expression of those. */
function address(r: Rand, v: LineVocabulary, depth = 0): string {
  const k = r.below(10);
  if (k < 3 && v.addrs.length) return pick(r, v.addrs);
  if (k < 5 && v.symbols.length) return (r.below(4) === 0 ? '*' : '') + pick(r, v.symbols);
  if (k < 8 || depth > 2) return pick(r, NUMBERS);
  if (k < 9) return `(${address(r, v, depth + 1)}${pick(r, BINOPS)}${address(r, v, depth + 1)})`;
  return `${pick(r, ['-', '~', '#', '*', '%', '*/c/', '*/l/'])}${address(r, v, depth + 1)}`;
}

/** An argument for a dcmd: an option (with a value), a type, a walker, a symbol, a number or junk. */
function argument(r: Rand, v: LineVocabulary, options: readonly string[]): string {
  const k = r.below(10);
  if (k < 3 && options.length) return pick(r, options) + (r.below(2) ? ' ' + pick(r, [...COUNTS, ...NUMBERS]) : '');
  if (k < 4 && v.types.length) return pick(r, v.types);
  if (k < 5 && v.walkers.length) return pick(r, v.walkers);
  if (k < 6) return pick(r, COUNTS);
  if (k < 7) return address(r, v);
  if (k < 8) return `$[${address(r, v)}]`;
  if (k < 9) return `"${pick(r, ODD_CHARS)}x"`;
  return pick(r, ['-', '--', '-?', '.', 'x'.repeat(r.below(300)), '%s%s%n', '%99999d']);
}

/** One pipeline stage: a dcmd with arguments, a format verb, or an assignment. */
function stage(r: Rand, v: LineVocabulary): string {
  const k = r.below(10);
  if (k < 7 && v.dcmds.length) {
    const d = pick(r, v.dcmds);
    const n = r.below(4);
    const args: string[] = [];
    for (let i = 0; i < n; i++) args.push(argument(r, v, d.options));
    const name = d.name.startsWith('$') || d.name.startsWith(':') ? d.name : '::' + d.name;
    return [name, ...args].join(' ');
  }
  if (k < 9) {
    let f = '';
    const n = 1 + r.below(4);
    for (let i = 0; i < n; i++) f += (r.below(3) === 0 ? String(r.below(20)) : '') + FORMAT_CHARS[r.below(FORMAT_CHARS.length)];
    return pick(r, ['/', '\\', '?', '=']) + f;
  }
  return '>' + pick(r, ['x', 'a_b', '9', '/c/x', '/z/x', '']);
}

/** Drop a few odd characters into a line. */
function sprinkle(r: Rand, line: string): string {
  let out = line;
  const n = r.below(3);
  for (let i = 0; i < n; i++) {
    const at = r.below(out.length + 1);
    out = out.slice(0, at) + pick(r, ODD_CHARS) + out.slice(at);
  }
  return out;
}

/** One random command line (possibly several commands separated by ';'). */
export function commandLine(r: Rand, v: LineVocabulary): string {
  const cmds: string[] = [];
  const n = 1 + (r.below(5) === 0 ? r.below(3) : 0);
  for (let c = 0; c < n; c++) {
    let cmd = '';
    if (r.below(3) !== 0) cmd += address(r, v);
    if (r.below(5) === 0) cmd += ',' + pick(r, COUNTS);
    const stages = [stage(r, v)];
    while (r.below(3) === 0 && stages.length < 4) stages.push(stage(r, v));
    if (r.below(8) === 0) stages.push('::walk ' + pick(r, v.walkers));
    cmd += stages.join(' | ');
    cmds.push(cmd);
  }
  const line = cmds.join(r.below(2) ? ';' : '\n');
  return r.below(4) === 0 ? sprinkle(r, line) : line;
}
