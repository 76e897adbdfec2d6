/*
 * ::nm: the target's symbol table, as illumos' mdb prints it
 * (usr/src/cmd/mdb/common/mdb/mdb_nm.c).
 *
 * Theory
 * ------
 * A row is the symbol's ELF entry in the columns -f asks for (default
 * val, sz, type, bind, oth, shndx, name), joined by "|" under a header
 * joined by " ": Value and Size in the output radix (0x%016llx / 0x%08llx
 * by the target's pointer size, %-20llu / %-10llu with -d, %-22llo /
 * %-11llo with -o), Type (NOTY OBJT FUNC SECT FILE COMM TLS REGI), Bind
 * (LOCL GLOB WEAK), Other (0x%-3x), Shndx (UNDEF, ABS, COMMON or the
 * section number), Name.  Symbols come in symbol-table order, or sorted
 * by name (-n) or value (-v); with an address, the one symbol containing
 * it.  A dump's symbols carry their ELF fields (unix.N's .symtab); a live
 * kernel's and a program core's do not: their symbols are global (GLOB,
 * 0x0, as unix.N would write them) and their section is unknown, printed
 * "?" as illumos prints what it cannot name.  The C type column (-f ctype)
 * is the object's type where the target knows it.  Our targets have no
 * .dynsym (-D), no private symbols (-P, ::nmadd) and no undefined symbols
 * (-u): those print the header only.
 */

import { DCMD_ADDRSPEC, DCMD_ERR, DCMD_OK, DCMD_PIPE_OUT, DCMD_USAGE, DcmdError, type DcmdContext, type DcmdDef, type DcmdResult } from './module.js';
import type { TargetSymbol } from '../target/target.js';

/** -f columns, in illumos' print order (mdb_nm.c NM_FMT_*). */
const FORMATS = ['ndx', 'obj', 'val', 'sz', 'type', 'bind', 'oth', 'shndx', 'ctfid', 'ctype', 'name'] as const;
type Format = (typeof FORMATS)[number];
const DEFAULT_FORMATS: ReadonlySet<Format> = new Set(['val', 'sz', 'type', 'bind', 'oth', 'shndx', 'name']);

/** -t types and their ELF STT_* numbers. */
const TYPES: Record<string, number> = { noty: 0, objt: 1, func: 2, sect: 3, file: 4, comm: 5, tls: 6, regi: 13 };
const TYPE_NAMES: Record<number, string> = { 0: 'NOTY', 1: 'OBJT', 2: 'FUNC', 3: 'SECT', 4: 'FILE', 5: 'COMM', 6: 'TLS', 13: 'REGI' };
const BIND_NAMES: Record<number, string> = { 0: 'LOCL', 1: 'GLOB', 2: 'WEAK' };
const STB_GLOBAL = 1;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;

interface NmSymbol {
  readonly sym: TargetSymbol;
  /** Index in the symbol table (0 is the null symbol). */
  readonly ndx: number;
}

/** A comma-separated -f or -t argument as a set of known names; undefined if one is unknown. */
function subopts<T extends string>(arg: string | undefined, known: readonly T[]): Set<T> | undefined {
  if (arg === undefined) return undefined;
  const out = new Set<T>();
  for (const w of arg.split(',')) {
    if (!(known as readonly string[]).includes(w)) return undefined;
    out.add(w as T);
  }
  return out;
}

function sectName(s: TargetSymbol): string {
  if (!s.elf) return '?';
  if (s.elf.shndx === SHN_UNDEF) return 'UNDEF';
  if (s.elf.shndx === SHN_ABS) return 'ABS';
  if (s.elf.shndx === SHN_COMMON) return 'COMMON';
  return String(s.elf.shndx);
}

function sttOf(s: TargetSymbol): number {
  return s.kind === 'func' ? TYPES.func! : TYPES.objt!;
}

/** The number formats of Value/Size and Other, and the header width (mdb_nm.c's nii_pfmt, nii_ofmt, hwidth). */
function radixFormats(ctx: DcmdContext, radix: 8 | 10 | 16): { pfmt: string; ofmt: string; width: number } {
  const wide = ctx.ptrSize === 8;
  if (radix === 10) return { pfmt: wide ? '%-20llu' : '%-10llu', ofmt: '%-5u', width: wide ? 20 : 10 };
  if (radix === 8) return { pfmt: wide ? '%-22llo' : '%-11llo', ofmt: '%-5o', width: wide ? 22 : 11 };
  return { pfmt: wide ? '0x%016llx' : '0x%08llx', ofmt: '0x%-3x', width: wide ? 18 : 10 };
}

function header(ctx: DcmdContext, fmts: ReadonlySet<Format>, width: number): string {
  const cols: Record<Format, string> = {
    ndx: 'Index',
    obj: ctx.sprintf('%-15s', 'Object'),
    val: ctx.sprintf('%-*s', width, 'Value'),
    sz: ctx.sprintf('%-*s', width, 'Size'),
    type: ctx.sprintf('%-5s', 'Type'),
    bind: ctx.sprintf('%-5s', 'Bind'),
    oth: ctx.sprintf('%-5s', 'Other'),
    shndx: ctx.sprintf('%-8s', 'Shndx'),
    ctfid: ctx.sprintf('%-9s', 'CTF ID'),
    ctype: ctx.sprintf('%-50s', 'C Type'),
    name: 'Name',
  };
  return FORMATS.filter((f) => fmts.has(f))
    .map((f) => cols[f])
    .join(' ');
}

function row(ctx: DcmdContext, fmts: ReadonlySet<Format>, x: NmSymbol, pfmt: string, ofmt: string): string {
  const s = x.sym;
  const cols: Record<Format, () => string> = {
    ndx: () => ctx.sprintf('%5u', x.ndx),
    obj: () => ctx.sprintf('%-15s', s.module ?? 'unix'),
    val: () => ctx.sprintf(pfmt, s.value),
    sz: () => ctx.sprintf(pfmt, s.size),
    type: () => ctx.sprintf('%-5s', TYPE_NAMES[sttOf(s)] ?? '?'),
    bind: () => ctx.sprintf('%-5s', BIND_NAMES[s.elf?.bind ?? STB_GLOBAL] ?? '?'),
    oth: () => ctx.sprintf(ofmt, s.elf?.other ?? 0),
    shndx: () => ctx.sprintf('%-8s', sectName(s)),
    ctfid: () => ctx.sprintf('%9s', ''),
    ctype: () => ctx.sprintf('%-50s', s.type ?? '<unknown type>'),
    name: () => s.name,
  };
  return FORMATS.filter((f) => fmts.has(f))
    .map((f) => cols[f]())
    .join('|');
}

/** Options that select the radix; a usage error if more than one. */
function radixOf(ctx: DcmdContext, d: boolean, o: boolean, x: boolean): 8 | 10 | 16 | undefined {
  const n = (d ? 1 : 0) + (o ? 1 : 0) + (x ? 1 : 0);
  if (n > 1) {
    ctx.warn('-d/-o/-x options are mutually exclusive');
    return undefined;
  }
  if (d) return 10;
  if (o) return 8;
  if (x) return 16;
  return outputRadix(ctx);
}

/** mdb's output radix ($d), as %r shows it: ten is "a" in 16, "12" in 8, "10" in 10. */
function outputRadix(ctx: DcmdContext): 8 | 10 | 16 {
  const ten = ctx.sprintf('%r', 10);
  return ten === '12' ? 8 : ten === '10' ? 10 : 16;
}

function nmDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { D: 'bool', P: 'bool', d: 'bool', g: 'bool', h: 'bool', n: 'bool', o: 'bool', p: 'bool', u: 'bool', v: 'bool', x: 'bool', f: 'string', t: 'string' });
  if (!g) return DCMD_USAGE;
  let object: string | undefined;
  if (g.rest.length > 0) {
    if (flags & DCMD_ADDRSPEC || g.rest.length !== 1 || g.rest[0]!.startsWith('-')) return DCMD_USAGE;
    object = g.rest[0]!;
  }
  const fmts = g.opts.f === undefined ? DEFAULT_FORMATS : subopts(g.opts.f, FORMATS);
  const types = g.opts.t === undefined ? new Set(Object.keys(TYPES)) : subopts(g.opts.t, Object.keys(TYPES));
  if (!fmts || !types) return DCMD_USAGE;
  const radix = radixOf(ctx, g.opts.d, g.opts.o, g.opts.x);
  if (radix === undefined) return DCMD_USAGE;
  if (g.opts.P && object !== undefined) {
    ctx.warn('-P/object options are mutually exclusive');
    return DCMD_USAGE;
  }
  if (g.opts.P && flags & DCMD_ADDRSPEC) {
    ctx.warn('-P/address options are mutually exclusive');
    return DCMD_USAGE;
  }
  const { pfmt, ofmt, width } = radixFormats(ctx, radix);
  const all = ctx.target.symbols().map((sym, i) => ({ sym, ndx: i + 1 }));
  let syms: NmSymbol[];
  if (flags & DCMD_ADDRSPEC) {
    const s = ctx.target.symbolByAddr(addr);
    if (!s) throw new DcmdError(`${ctx.sprintf('%lr', addr)}: no symbol corresponds to address`);
    syms = all.filter((x) => x.sym.name === s.name && x.sym.value === s.value).slice(0, 1);
  } else if (object !== undefined) {
    const obj = object;
    syms = all.filter((x) => (x.sym.module ?? 'unix') === obj || (obj === 'genunix' && x.sym.module === undefined));
    if (syms.length === 0 && !all.some((x) => x.sym.module === obj) && obj !== 'unix' && obj !== 'genunix') throw new DcmdError('failed to iterate over symbols: unknown object file name');
  } else syms = all;
  // no .dynsym, no private (::nmadd) or undefined symbols in our targets
  if (g.opts.D || g.opts.P || g.opts.u) syms = [];
  const wanted = new Set([...types].map((t) => TYPES[t]!));
  syms = syms.filter((x) => wanted.has(sttOf(x.sym)));
  if (g.opts.n) syms.sort((a, b) => (a.sym.name < b.sym.name ? -1 : a.sym.name > b.sym.name ? 1 : 0));
  else if (g.opts.v) syms.sort((a, b) => a.sym.value - b.sym.value);
  if (flags & DCMD_PIPE_OUT) {
    for (const x of syms) ctx.pipeOut(x.sym.value);
    return DCMD_OK;
  }
  if (!g.opts.h && !g.opts.p) ctx.printf('%<u>%s%</u>\n', header(ctx, fmts, width));
  for (const x of syms) {
    if (ctx.interrupted()) return DCMD_ERR;
    ctx.out(row(ctx, fmts, x, pfmt, ofmt) + '\n');
  }
  return DCMD_OK;
}

export const nmDcmdDef: DcmdDef = {
  name: 'nm',
  usage: '?[-DPdghnopuvx] [-f format] [-t types] [object]',
  description: 'print symbol table',
  help: `Print the target's symbol table: Value, Size, Type, Bind, Other, Shndx
and Name of each symbol, in symbol-table order.  With an address, only the
symbol containing it; with an object name (unix, genunix, or a module),
only that object's symbols.  A live kernel's and a program core's symbols
have no ELF section: Shndx prints "?".

Options:
  -D         print .dynsym instead of .symtab (our targets have none)
  -P         print private symbol table instead of .symtab (empty)
  -d         print value and size in decimal
  -g         only print global symbols
  -h         suppress header line
  -n         sort symbols by name
  -o         print value and size in octal
  -p         print symbols as a series of ::nmadd commands (with -P)
  -u         only print undefined symbols (our targets have none)
  -v         sort symbols by value
  -x         print value and size in hexadecimal
  -f format  use specified format
             ndx, val, sz, type, bind, oth, shndx, name, ctype, obj, ctfid
  -t types   display symbols with the specified types
             noty, objt, func, sect, file, comm, tls, regi`,
  fn: nmDcmd,
};
