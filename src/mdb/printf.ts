/*
 * mdb_printf: the formatted output used by dcmds.
 *
 * Conversions: d i u x X o q (signed octal) c s p a A r R (current radix,
 * unsigned / signed) e f g Y (time) T (tab stop) %; flags - 0 # + space;
 * width digits, `*` or `?` (the target's pointer width in hex digits);
 * precision; lengths h hh l ll.  `%<u>` `%</u>` `%<b>` `%</b>` (underline and
 * bold) are accepted and produce nothing on non-terminals.
 *
 * Integers are handled as 64-bit BigInts: a `number` argument is an address
 * in kmemdb's signed representation or an ordinary integer.
 */

import type { PrintfArg } from './module.js';

export interface PrintfEnv {
  readonly ptrSize: 4 | 8;
  readonly radix: number;
  symbolize(addr: bigint): string;
  /** Column at which the output starts (for %T). */
  readonly col: number;
}

const M64 = (1n << 64n) - 1n;

export function toBig(a: PrintfArg | undefined): bigint {
  if (typeof a === 'bigint') return a;
  if (typeof a === 'number') return Number.isFinite(a) ? BigInt(Math.trunc(a)) : 0n;
  if (typeof a === 'boolean') return a ? 1n : 0n;
  if (typeof a === 'string') return a.length ? BigInt(a.charCodeAt(0)) : 0n;
  return 0n;
}

function toUnsigned(v: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, v);
}

/** A number in a base with an optional mdb-style prefix (0x, 0t, 0o, 0i). */
export function numToStr(u: bigint, base: number, showBase: boolean): string {
  let s = u.toString(base);
  if (showBase) {
    const small = base >= 10 ? u <= 9n : u < BigInt(base);
    if (!small) s = (base === 16 ? '0x' : base === 10 ? '0t' : base === 8 ? '0o' : base === 2 ? '0i' : '') + s;
  }
  return s;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** mdb's %Y: "2024 Jan  1 00:00:00" style, UTC. */
export function formatTime(sec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return String(sec);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

export function mdbSprintf(fmt: string, args: readonly PrintfArg[], env: PrintfEnv): string {
  let out = '';
  let col = env.col;
  let ai = 0;
  const emit = (s: string) => {
    out += s;
    const nl = s.lastIndexOf('\n');
    col = nl >= 0 ? s.length - nl - 1 : col + s.length;
  };
  const next = (): PrintfArg | undefined => args[ai++];
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i]!;
    if (c !== '%') {
      const j = fmt.indexOf('%', i);
      const lit = j < 0 ? fmt.slice(i) : fmt.slice(i, j);
      emit(lit);
      i += lit.length;
      continue;
    }
    i++;
    if (fmt[i] === '<') {
      const e = fmt.indexOf('>', i);
      i = e < 0 ? fmt.length : e + 1;
      continue;
    }
    let left = false;
    let zero = false;
    let alt = false;
    let plus = false;
    let space = false;
    for (;;) {
      const f = fmt[i];
      if (f === '-') left = true;
      else if (f === '0') zero = true;
      else if (f === '#') alt = true;
      else if (f === '+') plus = true;
      else if (f === ' ') space = true;
      else break;
      i++;
    }
    let width = -1;
    if (fmt[i] === '*') {
      width = Number(toBig(next()));
      if (width < 0) {
        left = true;
        width = -width;
      }
      i++;
    } else if (fmt[i] === '?') {
      width = env.ptrSize * 2;
      i++;
    } else {
      let w = '';
      while (/[0-9]/.test(fmt[i] ?? '')) w += fmt[i++];
      if (w) width = Number(w);
    }
    let prec = -1;
    if (fmt[i] === '.') {
      i++;
      if (fmt[i] === '*') {
        prec = Number(toBig(next()));
        i++;
      } else {
        let p = '';
        while (/[0-9]/.test(fmt[i] ?? '')) p += fmt[i++];
        prec = p ? Number(p) : 0;
      }
    }
    let bits = 32;
    if (fmt[i] === 'h') {
      i++;
      bits = 16;
      if (fmt[i] === 'h') {
        i++;
        bits = 8;
      }
    } else if (fmt[i] === 'l') {
      i++;
      bits = 64;
      if (fmt[i] === 'l') i++;
    } else if (fmt[i] === 'j' || fmt[i] === 'z' || fmt[i] === 't') {
      i++;
      bits = 64;
    }
    const conv = fmt[i++] ?? '';
    let body = '';
    let sign = '';
    let numeric = false;
    switch (conv) {
      case '%':
        emit('%');
        continue;
      case 'T': {
        const n = width > 0 ? width : 8;
        const r = col % n;
        if (r !== 0) emit(' '.repeat(n - r));
        continue;
      }
      case 'd':
      case 'i': {
        const v = BigInt.asIntN(bits, toBig(next()));
        numeric = true;
        if (v < 0n) sign = '-';
        else if (plus) sign = '+';
        else if (space) sign = ' ';
        body = (v < 0n ? -v : v).toString(10);
        // mdb: %#d shows the base (0t) for values above 9 (negative values always)
        if (alt && (v < 0n || v > 9n)) body = '0t' + body;
        break;
      }
      case 'u': {
        numeric = true;
        const u = toUnsigned(toBig(next()), bits);
        body = numToStr(u, 10, alt);
        break;
      }
      case 't': {
        const n = width > 0 ? width : 1;
        for (let k = 0; k < n; k++) emit(' '.repeat(8 - (col % 8)));
        continue;
      }
      case 'x':
      case 'X': {
        numeric = true;
        const u = toUnsigned(toBig(next()), bits);
        body = u.toString(16);
        if (conv === 'X') body = body.toUpperCase();
        if (alt && u !== 0n) sign = conv === 'X' ? '0X' : '0x';
        break;
      }
      case 'o': {
        numeric = true;
        const u = toUnsigned(toBig(next()), bits);
        body = u.toString(8);
        if (alt && u !== 0n) body = '0' + body;
        break;
      }
      case 'q': {
        numeric = true;
        const v = BigInt.asIntN(bits, toBig(next()));
        if (v < 0n) sign = '-';
        body = (v < 0n ? -v : v).toString(8);
        if (alt && v !== 0n) body = '0' + body;
        break;
      }
      case 'p': {
        numeric = true;
        const u = toUnsigned(toBig(next()), env.ptrSize * 8);
        body = u.toString(16); // mdb's %p never shows the base, even with #
        break;
      }
      case 'a': {
        const u = toUnsigned(toBig(next()), env.ptrSize * 8) & M64;
        body = env.symbolize(u);
        if (alt) body += ':';
        break;
      }
      case 'A': {
        // symbol+offset only; nothing (or "?" with #) when there is no symbol
        const u = toUnsigned(toBig(next()), env.ptrSize * 8) & M64;
        const sym = env.symbolize(u);
        body = /^(0x)?[0-9a-f]+$/.test(sym) ? (alt ? '?' : '') : sym;
        break;
      }
      case 'r':
      case 'R': {
        numeric = true;
        const raw = toBig(next());
        if (conv === 'R') {
          const v = BigInt.asIntN(bits, raw);
          if (v < 0n) sign = '-';
          body = numToStr(v < 0n ? -v : v, env.radix, alt);
        } else {
          body = numToStr(toUnsigned(raw, bits), env.radix, alt);
        }
        break;
      }
      case 'c': {
        const a = next();
        body = typeof a === 'string' ? a.slice(0, 1) : String.fromCharCode(Number(toBig(a) & 0xffn));
        break;
      }
      case 's': {
        const a = next();
        body = a === undefined ? '(null)' : String(a);
        if (prec >= 0) body = body.slice(0, prec);
        break;
      }
      case 'e':
      case 'f':
      case 'g': {
        const a = next();
        const v = typeof a === 'number' ? a : Number(toBig(a));
        const p = prec >= 0 ? prec : 6;
        body = conv === 'e' ? v.toExponential(p).replace(/e([+-])(\d)$/, 'e$10$2') : conv === 'f' ? v.toFixed(p) : formatG(v, p);
        break;
      }
      case 'Y':
        body = formatTime(Number(toBig(next())));
        break;
      default:
        // Unknown conversion: print it literally.
        emit('%' + conv);
        continue;
    }
    if (numeric && prec >= 0 && body.length < prec) body = '0'.repeat(prec - body.length) + body;
    let s = sign + body;
    if (width > s.length) {
      if (left) s = s + ' '.repeat(width - s.length);
      else if (zero && numeric && prec < 0) s = sign + '0'.repeat(width - s.length) + body;
      else s = ' '.repeat(width - s.length) + s;
    }
    emit(s);
  }
  return out;
}

/** C's %g. */
export function formatG(v: number, prec = 6): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v < 0 ? '-inf' : 'inf';
  if (v === 0) return '0';
  const p = prec === 0 ? 1 : prec;
  const exp = Math.floor(Math.log10(Math.abs(v)));
  let s: string;
  if (exp < -4 || exp >= p) {
    s = v.toExponential(p - 1);
    let [m, e] = s.split('e') as [string, string];
    if (m.includes('.')) m = m.replace(/\.?0+$/, '');
    const en = Number(e);
    e = (en < 0 ? '-' : '+') + String(Math.abs(en)).padStart(2, '0');
    return `${m}e${e}`;
  }
  s = v.toFixed(Math.max(0, p - 1 - exp));
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s;
}
