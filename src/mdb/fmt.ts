/*
 * The format engine: `addr/fmt` (memory), `value=fmt` (the value itself).
 *
 * Each format character reads a fixed number of bytes at dot, prints them
 * and advances dot (see `FORMATS`).  Printf-style letters carry their field
 * layout (mdb widens the 64-bit decimal and octal fields so that the largest
 * value keeps a separating blank: E/e 21, G/g 23, J/K 16 or 17).  The reader
 * abstracts where bytes come from, so `=` reads from the value.
 */

import { mdbSprintf, formatTime, formatG } from './printf.js';
import type { Out } from './output.js';

export interface FmtReader {
  /** Read n bytes at addr, little-endian; throws on failure. */
  read(addr: bigint, n: number): Uint8Array;
  readonly ptrSize: 4 | 8;
  symbolize(addr: bigint): string;
  readonly radix: number;
}

export interface FmtState {
  out: Out;
  /** The increment for + and ^ (mdb's m_incr). */
  incr: bigint;
  /** Last value printed (the `0` variable). */
  rvalue: bigint;
}

type FmtKind = 'printf' | 'func' | 'match' | 'write';
interface FmtDesc {
  readonly kind: FmtKind;
  /** printf format, for printf kinds */
  readonly pf?: string;
  /** size in bytes; 0 = variable; -1 = does not move dot */
  readonly size: number;
  readonly help?: string;
  readonly signed?: boolean;
}

const M64 = (1n << 64n) - 1n;

function le(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export const FORMATS: Record<string, FmtDesc> = {
  '+': { kind: 'func', size: 0, help: 'increment dot by the count' },
  '-': { kind: 'func', size: 0, help: 'decrement dot by the count' },
  B: { kind: 'printf', pf: '%-8x', size: 1 },
  C: { kind: 'func', size: 1, help: 'character using C character notation' },
  D: { kind: 'printf', pf: '%-16d', size: 4 },
  E: { kind: 'printf', pf: '%-21llu', size: 8 },
  F: { kind: 'func', size: 8, help: 'double' },
  G: { kind: 'printf', pf: '%-23llo', size: 8 },
  H: { kind: 'func', size: 4, help: 'swap bytes and shorts' },
  I: { kind: 'func', size: 0, help: 'address and disassembled instruction' },
  J: { kind: 'func', size: 8, help: 'hexadecimal long long' },
  K: { kind: 'func', size: 8, help: 'hexadecimal uintptr_t' },
  L: { kind: 'match', size: 4, help: 'int' },
  M: { kind: 'match', size: 8, help: 'long long' },
  N: { kind: 'func', size: -1, help: 'newline' },
  O: { kind: 'printf', pf: '%-#16o', size: 4 },
  P: { kind: 'func', size: 8, help: 'symbol' },
  Q: { kind: 'printf', pf: '%-#16q', size: 4 },
  R: { kind: 'func', size: 8, help: 'binary unsigned long long' },
  S: { kind: 'func', size: 0, help: 'string using C string notation' },
  T: { kind: 'func', size: -1, help: 'horizontal tab' },
  U: { kind: 'printf', pf: '%-16u', size: 4 },
  V: { kind: 'printf', pf: '%-8u', size: 1 },
  W: { kind: 'write', pf: '%-16r', size: 4 },
  X: { kind: 'printf', pf: '%-16x', size: 4 },
  Y: { kind: 'func', size: 4, help: 'decoded time32_t' },
  Z: { kind: 'write', size: 8, help: 'hexadecimal long long' },
  '^': { kind: 'func', size: 0, help: 'decrement dot by increment * count' },
  a: { kind: 'func', size: -1, help: 'dot as symbol+offset' },
  b: { kind: 'printf', pf: '%-#8o', size: 1 },
  c: { kind: 'printf', pf: '%c', size: 1 },
  d: { kind: 'printf', pf: '%-8hd', size: 2 },
  e: { kind: 'printf', pf: '%-21lld', size: 8 },
  f: { kind: 'func', size: 4, help: 'float' },
  g: { kind: 'printf', pf: '%-23llq', size: 8 },
  h: { kind: 'func', size: 2, help: 'swap bytes' },
  i: { kind: 'func', size: 0, help: 'disassembled instruction' },
  j: { kind: 'func', size: 8, help: 'bit diagram of a long long' },
  l: { kind: 'match', size: 2, help: 'short' },
  n: { kind: 'func', size: -1, help: 'newline' },
  o: { kind: 'printf', pf: '%-#8ho', size: 2 },
  p: { kind: 'func', size: 8, help: 'symbol' },
  q: { kind: 'printf', pf: '%-#8hq', size: 2 },
  r: { kind: 'func', size: -1, help: 'whitespace' },
  s: { kind: 'func', size: 0, help: 'raw string' },
  t: { kind: 'func', size: -1, help: 'horizontal tab' },
  u: { kind: 'printf', pf: '%-8hu', size: 2 },
  v: { kind: 'write', size: 1, help: 'decimal signed int' },
  w: { kind: 'write', pf: '%-8hr', size: 2 },
  x: { kind: 'printf', pf: '%-8hx', size: 2 },
  y: { kind: 'func', size: 8, help: 'decoded time64_t' },
};

/** Describe a printf format the way ::formats does ("%-16x" -> "hexadecimal int"). */
function describePrintf(pf: string): string {
  const m = /%[-#0]*\d*(hh|h|ll|l)?([a-zA-Z])/.exec(pf);
  if (!m) return pf;
  const len = m[1] ?? '';
  const conv = m[2]!;
  const type = conv === 'c' ? 'char' : len === 'h' ? 'short' : len === 'll' ? 'long long' : len === 'l' ? 'long' : 'int';
  const what: Record<string, string> = {
    x: 'hexadecimal',
    X: 'hexadecimal',
    d: 'decimal signed',
    u: 'decimal unsigned',
    o: 'octal unsigned',
    q: 'octal signed',
    r: 'unsigned',
    c: 'ASCII',
    a: 'symbol',
  };
  if (conv === 'c') return 'character';
  return `${what[conv] ?? conv} ${type}`;
}

export function formatsTable(ptrSize: 4 | 8): string {
  let s = '';
  for (const ch of Object.keys(FORMATS).sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0))) {
    const d = FORMATS[ch]!;
    let desc: string;
    if (d.kind === 'match') desc = `match ${d.help}`;
    else if (d.kind === 'write') desc = `write ${d.help ?? describePrintf(d.pf!)}`;
    else if (d.help) desc = d.help;
    else desc = describePrintf(d.pf!);
    if (d.pf && d.size === 1 && /x|u|d|o/.test(d.pf.slice(-1)) && !d.help) desc = desc.replace(/ int$/, ' char');
    let size = d.size;
    if (ch === 'K' || ch === 'p' || ch === 'P') size = ptrSize;
    const sz = size === -1 ? '' : size === 0 ? ' (variable size)' : size === 1 ? ' (1 byte)' : ` (${size} bytes)`;
    s += `${ch} - ${desc}${sz}\n`;
  }
  return s;
}

function escChar(code: number): string {
  switch (code) {
    case 0:
      return '\\0';
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 9:
      return '\\t';
    case 10:
      return '\\n';
    case 11:
      return '\\v';
    case 12:
      return '\\f';
    case 13:
      return '\\r';
    case 0x5c:
      return '\\\\';
  }
  if (code < 0x20 || code >= 0x7f) return '\\' + code.toString(8).padStart(3, '0');
  return String.fromCharCode(code);
}

/** The j format: binary digits and a diagram naming each set bit. */
function bitDiagram(v: bigint): string[] {
  const bin = v.toString(2);
  const L = bin.length;
  const lines = [bin];
  const setIdx: number[] = [];
  for (let i = 0; i < L; i++) if (bin[i] === '1') setIdx.push(i);
  if (setIdx.length === 0) return lines;
  let bar = '';
  for (let i = 0; i < L; i++) bar += bin[i] === '1' ? '|' : ' ';
  lines.push(bar.replace(/\s+$/, ''));
  const maxMaskDigits = (1n << BigInt(L - 1)).toString(16).length;
  const digits = Math.max(2, maxMaskDigits);
  for (let k = setIdx.length - 1; k >= 0; k--) {
    const idx = setIdx[k]!;
    let line = '';
    for (let i = 0; i < idx; i++) line += bin[i] === '1' ? '|' : ' ';
    line += '+' + '-'.repeat(L - 1 - idx + 2);
    const bit = L - 1 - idx;
    line += ` bit ${bit} mask 0x${(1n << BigInt(bit)).toString(16).padStart(digits, '0')}`;
    lines.push(line);
  }
  return lines;
}

function readStr(r: FmtReader, addr: bigint, max = 4096): { s: string; n: number } {
  const out: number[] = [];
  let a = addr;
  while (out.length < max) {
    let b: Uint8Array;
    try {
      b = r.read(a, 1);
    } catch (e) {
      if (out.length === 0) throw e;
      break;
    }
    if (b[0] === 0) break;
    out.push(b[0]!);
    a = (a + 1n) & M64;
  }
  return { s: String.fromCharCode(...out), n: out.length };
}

/**
 * Print `cnt` repetitions of format character `ch` at `addr`; returns the new
 * dot.  Throws (TargetReadError, ...) when memory cannot be read.
 */
export function fmtPrint(r: FmtReader, st: FmtState, addr: bigint, cnt: bigint, ch: string): bigint {
  const d = FORMATS[ch];
  if (!d || d.kind === 'match' || d.kind === 'write') {
    if (ch === 'v' || ch === 'w' || ch === 'W' || ch === 'Z') {
      // In a print context the write formats print the value (like B/x/X/J).
      const pfMap: Record<string, [string, number]> = { v: ['%-8d', 1], w: ['%-8hr', 2], W: ['%-16r', 4], Z: ['%-16llx', 8] };
      const [pf, size] = pfMap[ch]!;
      for (let i = 0n; i < cnt; i++) {
        let v = le(r.read(addr, size));
        if (ch === 'v') v = BigInt.asIntN(8, v);
        st.out.field(mdbSprintf(pf, [v], env(r, st)));
        st.rvalue = v & M64;
        addr = (addr + BigInt(size)) & M64;
      }
      return addr;
    }
    throw new FormatError(`invalid format character -- '${ch}'`);
  }
  const out = st.out;
  const size = d.size;
  if (d.kind === 'printf') {
    for (let i = 0n; i < cnt; i++) {
      const v = le(r.read(addr, size));
      out.field(mdbSprintf(d.pf!, [v], env(r, st)));
      st.rvalue = v;
      addr = (addr + BigInt(size)) & M64;
    }
    return addr;
  }
  switch (ch) {
    case '+':
      return (addr + cnt) & M64;
    case '-':
      return (addr - cnt) & M64;
    case '^':
      return (addr - st.incr * cnt) & M64;
    case 'n':
    case 'N':
      for (let i = 0n; i < cnt; i++) out.write('\n');
      return addr;
    case 'r':
      out.write(' '.repeat(Number(cnt)));
      return addr;
    case 't':
    case 'T': {
      const n = Number(cnt) || 8;
      const c = out.effectiveCol();
      const rem = c % n;
      out.write(' '.repeat(rem === 0 ? n : n - rem));
      return addr;
    }
    case 'a': {
      const saved = out.indent;
      out.indent = 0;
      const s = r.symbolize(addr);
      const label = /^[0-9]/.test(s) || s.startsWith('0x') ? `0x${addr.toString(16)}:` : `${s}:`;
      for (let i = 0n; i < cnt; i++) {
        out.write(label.padEnd(16));
        const rem = out.col % 16;
        if (rem) out.write(' '.repeat(16 - rem));
      }
      out.indent = saved;
      st.rvalue = addr;
      return addr;
    }
    case 'C': {
      let s = '';
      for (let i = 0n; i < cnt; i++) s += escChar(r.read(addr + i, 1)[0]!);
      out.write(s);
      return (addr + cnt) & M64;
    }
    case 's':
    case 'S': {
      const saved = out.indent;
      out.indent = 0;
      for (let i = 0n; i < cnt; i++) {
        const { s, n } = readStr(r, addr);
        out.write(ch === 'S' ? [...s].map((x) => escChar(x.charCodeAt(0))).join('') : s);
        addr = (addr + BigInt(n) + 1n) & M64;
        if (i + 1n < cnt) out.write('\\0');
      }
      out.indent = saved;
      return addr;
    }
    case 'h':
      for (let i = 0n; i < cnt; i++) {
        const b = r.read(addr, 2);
        const v = (b[0]! << 8) | b[1]!;
        out.field(mdbSprintf('%-8x', [v], env(r, st)));
        st.rvalue = BigInt(v);
        addr = (addr + 2n) & M64;
      }
      return addr;
    case 'H':
      for (let i = 0n; i < cnt; i++) {
        const b = r.read(addr, 4);
        const v = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
        out.field(mdbSprintf('%-16x', [v], env(r, st)));
        st.rvalue = BigInt(v);
        addr = (addr + 4n) & M64;
      }
      return addr;
    case 'J':
    case 'K': {
      const sz = ch === 'K' ? r.ptrSize : 8;
      for (let i = 0n; i < cnt; i++) {
        const v = le(r.read(addr, sz));
        if (sz === 4) out.field(mdbSprintf('%-16x', [v], env(r, st)));
        else out.field(mdbSprintf(v >> 60n !== 0n ? '%-17llx' : '%-16llx', [v], env(r, st)));
        st.rvalue = v;
        addr = (addr + BigInt(sz)) & M64;
      }
      return addr;
    }
    case 'p':
    case 'P': {
      const sz = r.ptrSize;
      for (let i = 0n; i < cnt; i++) {
        const v = le(r.read(addr, sz));
        const s = r.symbolize(v);
        out.field(s.length >= 16 ? s + ' ' : s.padEnd(16));
        st.rvalue = v;
        addr = (addr + BigInt(sz)) & M64;
      }
      return addr;
    }
    case 'R':
      for (let i = 0n; i < cnt; i++) {
        const v = le(r.read(addr, 8));
        const s = v.toString(2);
        out.field(s.length >= 64 ? s + ' ' : s.padEnd(64));
        st.rvalue = v;
        addr = (addr + 8n) & M64;
      }
      return addr;
    case 'j':
      for (let i = 0n; i < cnt; i++) {
        const v = le(r.read(addr, 8));
        const lines = bitDiagram(v);
        out.write(lines.join('\n'));
        st.rvalue = v;
        addr = (addr + 8n) & M64;
      }
      return addr;
    case 'f':
    case 'F': {
      const sz = ch === 'f' ? 4 : 8;
      for (let i = 0n; i < cnt; i++) {
        const b = r.read(addr, sz);
        const dv = new DataView(b.buffer, b.byteOffset, sz);
        const v = sz === 4 ? dv.getFloat32(0, true) : dv.getFloat64(0, true);
        out.field(sz === 4 ? mdbSprintf('%e', [v], env(r, st)) : formatG(v));
        addr = (addr + BigInt(sz)) & M64;
      }
      return addr;
    }
    case 'Y':
    case 'y': {
      const sz = ch === 'Y' ? 4 : 8;
      for (let i = 0n; i < cnt; i++) {
        const v = BigInt.asIntN(sz * 8, le(r.read(addr, sz)));
        out.field(formatTime(Number(v)).padEnd(24));
        st.rvalue = v & M64;
        addr = (addr + BigInt(sz)) & M64;
      }
      return addr;
    }
    case 'i':
    case 'I':
      throw new FormatError('no disassembler is available for this target');
  }
  throw new FormatError(`invalid format character -- '${ch}'`);
}

function env(r: FmtReader, st: FmtState) {
  return { ptrSize: r.ptrSize, radix: r.radix, symbolize: r.symbolize, col: st.out.effectiveCol() };
}

export class FormatError extends Error {
  constructor(m: string) {
    super(m);
    this.name = 'FormatError';
  }
}
