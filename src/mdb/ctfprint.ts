/*
 * ::print, ::sizeof, ::offsetof, ::typedef, ::list, ::array: the dcmds that
 * interpret memory with C types (illumos mdb_print.c and mdb_typedef.c).
 *
 * ::print lays a value out as mdb does: members indented four spaces per
 * level, `-a` prefixes each line with the member's address (hex, no 0x),
 * `-t` with its type; integers print in hex (`%#x`, `0` for zero), chars as
 * 'c', pointers symbolically (char pointers with the string they point at),
 * char arrays as [ "text" ], other arrays as [ a, b, ... ].  Without an
 * address only the layout is printed (offsets in place of addresses).
 */

import { fromU64, toU64 } from '../machine/addr.js';
import { CtfError, type TypeId, type TypeTable } from '../ctf/ctf.js';
import { parseAggregate, parseTypeName } from '../ctf/cparse.js';
import { ILP32, LP64 } from '../machine/memory.js';
import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_OK,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
} from './module.js';
import type { Session } from './session.js';
import { numToStr } from './printf.js';

const M64 = (1n << 64n) - 1n;

/** Join arguments that form one type name ("struct", "foo") into one string; returns [name, used]. */
export function argsToTypeName(argv: readonly string[]): [string, number] {
  if (argv.length === 0) return ['', 0];
  const a0 = argv[0]!;
  if ((a0 === 'struct' || a0 === 'union' || a0 === 'enum') && argv.length > 1) {
    let name = `${a0} ${argv[1]}`;
    let used = 2;
    while (used < argv.length && /^\*+$/.test(argv[used]!)) name += ' ' + argv[used++];
    return [name, used];
  }
  let name = a0;
  let used = 1;
  while (used < argv.length && /^\*+$/.test(argv[used]!)) name += ' ' + argv[used++];
  return [name, used];
}

/** Resolve a type name through the session's type scopes (also parses "T *" and "T [n]"). */
export function resolveType(s: Session, name: string): { tt: TypeTable; id: TypeId } {
  const direct = s.lookupType(name);
  if (direct) return direct;
  const tag = /^(struct|union|enum)\s+([A-Za-z_]\w*)/.exec(name.trim());
  for (const tt of [s.target.types, s.synth]) {
    if (tag && tt.find(`${tag[1]} ${tag[2]}`) === undefined) continue; // parsing would forward-declare it
    try {
      return { tt, id: parseTypeName(tt, name) };
    } catch {
      /* try the next scope */
    }
  }
  throw new DcmdError(`failed to look up type ${name}: unknown type`);
}

interface PrintOpts {
  showAddr: boolean;
  showType: boolean;
  showVal: boolean;
  dec: boolean;
  hex: boolean;
  arrLimit: number;
}

class Printer {
  lines = '';
  constructor(
    private readonly ctx: DcmdContext,
    private readonly tt: TypeTable,
    private readonly o: PrintOpts,
  ) {}

  private read(addr: number, n: number): Uint8Array {
    return this.ctx.target.read(addr, n);
  }

  private le(addr: number, n: number): bigint {
    const b = this.read(addr, n);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** Print one element (a member or the top-level object). */
  elt(name: string, id: TypeId, addr: number, bitOff: number, bits: number, depth: number, prefixName: boolean): void {
    const tt = this.tt;
    const type = tt.typeName(id);
    const base = tt.get(tt.resolve(id));
    const o = this.o;
    let line = '';
    if (depth > 0 || o.showAddr || o.showType) line += ' '.repeat(depth * 4);
    if (o.showAddr) {
      const byteAddr = toU64(addr + Math.floor(bitOff / 8));
      line += (bitOff % 8 === 0 ? byteAddr.toString(16) : `${byteAddr.toString(16)}.${(bitOff % 8).toString(16)}`) + ' ';
    }
    if (o.showType) {
      line += type;
      if (!type.endsWith('*') || (depth === 0 && !prefixName)) line += ' ';
    }
    if (depth > 0 || prefixName) line += name;
    if (o.showType && bits > 0) line += ` :${bits}`;
    if (depth > 0 || prefixName) line += o.showVal ? ' = ' : ' ';
    this.lines += line;
    const a = addr + Math.floor(bitOff / 8);
    try {
      this.value(id, a, bitOff % 8, bits, depth);
    } catch (e) {
      if (e instanceof CtfError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      this.lines += `??? (${msg})`;
    }
    if (base.kind !== 'struct' && base.kind !== 'union') this.lines += '\n';
  }

  private value(id: TypeId, a: number, shift: number, bits: number, depth: number): void {
    const tt = this.tt;
    const base = tt.get(tt.resolve(id));
    const o = this.o;
    switch (base.kind) {
      case 'struct':
      case 'union': {
        if (!base.complete) {
          this.lines += `<forward declaration of ${tt.typeName(tt.resolve(id))}>\n`;
          return;
        }
        this.lines += '{\n';
        for (const m of base.members) {
          if (m.name === '') {
            // anonymous member: print its members at this level
            const mt = tt.get(tt.resolve(m.type));
            if (mt.kind === 'struct' || mt.kind === 'union') {
              this.elt('', m.type, a, m.bitOffset, 0, depth + 1, false);
              continue;
            }
          }
          this.elt(m.name, m.type, a, m.bitOffset + shift, m.bits, depth + 1, false);
        }
        this.lines += ' '.repeat(depth * 4) + '}\n';
        return;
      }
      case 'void':
        return;
    }
    if (!o.showVal) return;
    switch (base.kind) {
      case 'int': {
        const size = base.size;
        if (bits > 0) {
          const nbytes = Math.ceil((shift + bits) / 8);
          const v = (this.le(a, nbytes) >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
          if (base.signed && !o.hex) {
            this.lines += decStr(BigInt.asIntN(bits, v));
          } else this.lines += o.dec ? numToStr(v, 10, true) : fmtHex(v);
          return;
        }
        if (base.char && !o.hex && !o.dec) {
          const c = this.read(a, 1)[0]!;
          this.lines += `'${escChar(c)}'`;
          return;
        }
        let v = this.le(a, size);
        if (o.dec) {
          if (base.signed) v = BigInt.asIntN(size * 8, v);
          this.lines += decStr(v);
        } else this.lines += fmtHex(v);
        return;
      }
      case 'enum': {
        const v = Number(BigInt.asIntN(32, this.le(a, 4)));
        const e = base.values.find(([, x]) => x === v);
        this.lines += `${decStr(BigInt(v))} (${e ? e[0] : '???'})`;
        return;
      }
      case 'float': {
        const b = this.read(a, base.size);
        const dv = new DataView(b.buffer, b.byteOffset, b.length);
        const v = base.size === 4 ? dv.getFloat32(0, true) : base.size === 8 ? dv.getFloat64(0, true) : NaN;
        this.lines += Number.isNaN(v) ? '???' : v.toExponential(7);
        return;
      }
      case 'ptr':
      case 'func': {
        const u = this.le(a, this.ctx.ptrSize);
        const p = fromU64(u);
        // a value no address can have (not canonical: kmem's 0xbaddcafebaddcafe) prints exactly, as hex
        if (toU64(p) !== u) {
          this.lines += `0x${u.toString(16)}`;
          return;
        }
        this.lines += u === 0n ? '0' : this.ctx.symbolize(p);
        if (base.kind === 'ptr' && u !== 0n && tt.typeName(id) !== 'caddr_t') {
          const ref = tt.get(tt.resolve(base.ref));
          if (ref.kind === 'int' && ref.char) {
            const str = this.ctx.readString(p, 256);
            if (str.length > 0 && isPrint(str)) this.lines += ` "${str}"`;
          }
        }
        return;
      }
      case 'array': {
        const elt = tt.resolve(base.ref);
        const et = tt.get(elt);
        const esz = tt.sizeof(base.ref);
        if (et.kind === 'int' && et.char && esz === 1) {
          const b = this.read(a, base.count);
          const nul = b.indexOf(0);
          const str = String.fromCharCode(...b.subarray(0, nul < 0 ? b.length : nul));
          if (str.length > 0 && isPrint(str)) {
            this.lines += `[ "${str}" ]`;
            return;
          }
        }
        const limit = Math.min(base.count, o.arrLimit);
        if (limit === 0) {
          this.lines += '[ ... ]';
          return;
        }
        if (et.kind === 'struct' || et.kind === 'union') {
          this.lines += '[\n';
          for (let i = 0; i < limit; i++) {
            this.lines += ' '.repeat((depth + 1) * 4);
            this.value(base.ref, a + i * esz, 0, 0, depth + 1);
            this.lines = this.lines.replace(/\}\n$/, '},\n');
          }
          this.lines += ' '.repeat(depth * 4) + (limit < base.count ? '... ]' : ']');
          return;
        }
        const parts: string[] = [];
        for (let i = 0; i < limit; i++) {
          const sub = new Printer(this.ctx, tt, { ...o, showAddr: false, showType: false });
          sub.value(base.ref, a + i * esz, 0, 0, depth + 1);
          parts.push(sub.lines.replace(/\n$/, ''));
        }
        this.lines += `[ ${parts.join(', ')}${limit < base.count ? ', ...' : ''} ]`;
        return;
      }
    }
  }
}

/** mdb's %#d / %#lld: 0t prefix above 9 (always when negative). */
function decStr(v: bigint): string {
  if (v < 0n) return '-0t' + (-v).toString(10);
  return numToStr(v, 10, true);
}

function fmtHex(v: bigint): string {
  return v === 0n ? '0' : '0x' + (v & M64).toString(16);
}

function isPrint(s: string): boolean {
  return /^[\x20-\x7e\t\n]*$/.test(s);
}

function escChar(c: number): string {
  if (c === 0) return '\\0';
  if (c === 10) return '\\n';
  if (c === 9) return '\\t';
  if (c === 0x27) return "\\'";
  if (c === 0x5c) return '\\\\';
  if (c < 0x20 || c >= 0x7f) return '\\' + c.toString(8).padStart(3, '0');
  return String.fromCharCode(c);
}

/**
 * The type ::print prints (illumos cmd_print): the type named by the
 * arguments; else, with an address, the type of the object symbol that
 * starts there (`kmem_flags::print`, `kmem_caches::print list_head`: the
 * first argument is then a member); no type and no address is a usage
 * error (undefined).
 */
function printType(s: Session, ctx: DcmdContext, addr: number | undefined, rest: readonly string[]): { tt: TypeTable; id: TypeId; used: number } | undefined {
  if (rest.length > 0) {
    if (/^[+-]/.test(rest[0]!)) return undefined;
    const [tname, used] = argsToTypeName(rest);
    try {
      return { ...resolveType(s, tname), used };
    } catch (e) {
      if (addr === undefined) throw e;
      const sym = symbolType(s, ctx, addr);
      if (!sym) throw e;
      return { ...sym, used: 0 };
    }
  }
  if (addr === undefined) return undefined;
  const syms = ctx.target.symbols();
  const i = syms.findIndex((x) => x.value === addr);
  if (i < 0) throw new DcmdError(`no symbol information for ${ctx.sprintf('%a', addr)}`);
  const sym = symbolType(s, ctx, addr);
  if (!sym) throw new DcmdError(`no type data available for ${ctx.sprintf('%a', addr)} [${i + 1}]`);
  return { ...sym, used: 0 };
}

/** The C type of the object symbol at exactly addr, if the target knows it. */
function symbolType(s: Session, ctx: DcmdContext, addr: number): { tt: TypeTable; id: TypeId } | undefined {
  const sym = ctx.target.symbols().find((x) => x.value === addr && x.type !== undefined);
  if (!sym?.type) return undefined;
  try {
    return resolveType(s, sym.type);
  } catch {
    return undefined;
  }
}

export function makeTypeDcmds(s: Session): DcmdDef[] {
  const print: DcmdDef = {
    name: 'print',
    usage: '?[-aCdhiLptx] [-c lim] [-l lim] [type] [member|offset ...]',
    description: 'print the contents of a data structure',
    help:
      'Print the data structure at the given address using its C type.\n' +
      'If no address is given, print the layout of the type (offsets instead of\n' +
      'addresses, no values).  Members may be named as further arguments, with\n' +
      'dotted paths and array indexes (a.b[2].c); with members in a pipeline,\n' +
      'the member values (pointers, integers) or addresses are passed on.\n\n' +
      '  -a   show the address (or offset) of each member\n' +
      '  -t   show the type of each member\n' +
      '  -d   print integers in decimal\n' +
      '  -x   print integers in hexadecimal\n' +
      '  -l lim  print at most lim array elements\n' +
      '  -C   do not print char arrays as strings (accepted)\n' +
      '  -h, -i, -L, -p  accepted for compatibility',
    fn(ctx, addr, flags, argv) {
      const g = ctx.getopts(argv, { a: 'bool', t: 'bool', d: 'bool', x: 'bool', C: 'bool', h: 'bool', i: 'bool', L: 'bool', p: 'bool', c: 'uint', l: 'uint' });
      if (!g) return DCMD_USAGE;
      const haveAddr = (flags & DCMD_ADDRSPEC) !== 0;
      const chosen = printType(s, ctx, haveAddr ? addr : undefined, g.rest);
      if (!chosen) return DCMD_USAGE;
      const { tt, id, used } = chosen;
      const members = g.rest.slice(used);
      const a = haveAddr ? addr : 0;
      const opts: PrintOpts = { showAddr: g.opts.a, showType: g.opts.t, showVal: haveAddr, dec: g.opts.d, hex: g.opts.x, arrLimit: g.opts.l ?? 0x7fffffff };
      const p = new Printer(ctx, tt, opts);
      if (members.length === 0) {
        if (flags & DCMD_PIPE_OUT) {
          ctx.pipeOut(a);
          return DCMD_OK;
        }
        p.elt('', id, a, 0, 0, 0, false);
        ctx.out(p.lines);
        return DCMD_OK;
      }
      for (const mpath of members) {
        let m;
        if (/^[0-9]|^\$\[|^0x/.test(mpath)) {
          const off = ctx.parseValue(mpath);
          m = { type: id, bitOffset: off * 8, bits: 0 };
        } else {
          try {
            m = tt.member(id, mpath.replace(/^\./, ''));
          } catch (e) {
            throw new DcmdError(`failed to find member ${mpath} of ${tt.typeName(id)}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        if (flags & DCMD_PIPE_OUT) {
          const ma = a + Math.floor(m.bitOffset / 8);
          const rt = tt.get(tt.resolve(m.type));
          if (g.opts.a) ctx.pipeOut(ma);
          else if (rt.kind === 'ptr') ctx.pipeOut(ctx.target.loadPtr(ma));
          else if ((rt.kind === 'int' || rt.kind === 'enum') && m.bits === 0) {
            const size = tt.sizeof(m.type);
            const b = ctx.target.read(ma, size);
            let v = 0n;
            for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
            ctx.pipeOut(fromU64(v));
          } else ctx.pipeOut(ma);
          continue;
        }
        const sub = new Printer(ctx, tt, opts);
        sub.elt(mpath, m.type, a, m.bitOffset, m.bits, 0, true);
        ctx.out(sub.lines);
      }
      return DCMD_OK;
    },
  };

  const sizeofCmd: DcmdDef = {
    name: 'sizeof',
    usage: '[-s] type',
    description: 'print the size of a type',
    help: 'Print the size of the named C type in bytes, as "sizeof (type) = n".\n  -s   print only the number (decimal)',
    fn(ctx, _addr, flags, argv) {
      const g = ctx.getopts(argv, { s: 'bool' });
      if (!g || g.rest.length === 0 || (flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
      const name = g.rest.join(' ');
      const { tt, id } = resolveType(s, name);
      const size = tt.sizeof(id);
      if (flags & DCMD_PIPE_OUT) ctx.pipeOut(size);
      else if (g.opts.s) ctx.printf('%#r\n', size);
      else ctx.out(`sizeof (${name}) = ${numToStr(BigInt(size), s.radix, true)}\n`);
      return DCMD_OK;
    },
  };

  const offsetofCmd: DcmdDef = {
    name: 'offsetof',
    usage: 'type member',
    description: 'print the offset of a given struct or union member',
    help: 'Print the byte offset of a member (dotted paths allowed) within a struct or union type.',
    fn(ctx, _addr, flags, argv) {
      if (argv.length < 2 || (flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
      const [tname, used] = argsToTypeName(argv);
      if (argv.length !== used + 1) return DCMD_USAGE;
      const { tt, id } = resolveType(s, tname);
      const member = argv[used]!;
      let m;
      try {
        m = tt.member(id, member);
      } catch (e) {
        throw new DcmdError(`failed to find member ${member} of type ${tname}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const off = Math.floor(m.bitOffset / 8);
      if (flags & DCMD_PIPE_OUT) {
        ctx.pipeOut(off);
        return DCMD_OK;
      }
      let str = `offsetof (${tname}, ${member}) = ${numToStr(BigInt(off), s.radix, true)}`;
      if (m.bitOffset % 8 !== 0 || m.bits) str += `, bit ${m.bitOffset % 8}`;
      ctx.out(str + '\n');
      return DCMD_OK;
    },
  };

  const typedefCmd: DcmdDef = {
    name: 'typedef',
    usage: '[-c model | -d | -l | -r file | -w file ] [type] [name]',
    description: 'create synthetic types',
    help:
      'Create a synthetic type name for an existing type or a C struct or union\n' +
      'definition given as one quoted argument:\n\n' +
      '    ::typedef "struct foo { int a; char *b; }" foo_t\n' +
      '    ::typedef uint8_t byte_t\n\n' +
      '  -c model  create the C base types of a data model (ilp32, lp32 or lp64);\n' +
      '            only without a target.  Without a target mdb uses lp64.\n' +
      '  -d        delete all synthetic types\n' +
      '  -l        list the synthetic types\n' +
      '  -r / -w   read or write types from a file (not supported)',
    fn(ctx, _addr, flags, argv) {
      if (flags & DCMD_ADDRSPEC) return DCMD_USAGE;
      const g = ctx.getopts(argv, { c: 'string', d: 'bool', l: 'bool', r: 'string', w: 'string' });
      if (!g) return DCMD_USAGE;
      const nopts = (g.opts.c !== undefined ? 1 : 0) + (g.opts.d ? 1 : 0) + (g.opts.l ? 1 : 0) + (g.opts.r !== undefined ? 1 : 0) + (g.opts.w !== undefined ? 1 : 0);
      if (nopts > 1) return DCMD_USAGE;
      if (nopts === 1) {
        if (g.rest.length !== 0) return DCMD_USAGE;
        if (g.opts.c !== undefined) {
          const m = g.opts.c.toLowerCase();
          if (m !== 'lp64' && m !== 'ilp32' && m !== 'lp32') throw new DcmdError(`unsupported data model: ${g.opts.c}`);
          s.setModel(m === 'lp64' ? LP64 : ILP32);
          return DCMD_OK;
        }
        if (g.opts.d) {
          s.synth = new (s.synth.constructor as new (m: typeof LP64) => TypeTable)(s.target.model);
          return DCMD_OK;
        }
        if (g.opts.l) {
          const base = new Set(new (s.synth.constructor as new (m: typeof LP64) => TypeTable)(s.target.model).names());
          for (const n of s.synth.names().filter((x) => !base.has(x)).sort()) ctx.out(n + '\n');
          return DCMD_OK;
        }
        throw new DcmdError('reading and writing type files is not supported');
      }
      if (g.rest.length !== 2) return DCMD_USAGE;
      const [def, name] = g.rest as [string, string];
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DcmdError(`'${name.replace(/^[A-Za-z_][A-Za-z0-9_]*/, '')[0] ?? name[0]}' is not a valid character in a type name`);
      if (s.lookupType(name) && s.synth.find(name) !== undefined && !isBaseName(s, name)) throw new DcmdError(`type named ${name} already exists`);
      if (s.target.types.find(name) !== undefined || (s.synth.find(name) !== undefined)) throw new DcmdError(`type named ${name} already exists`);
      let id: TypeId;
      const trimmed = def.trim();
      if (trimmed.includes('{')) {
        id = parseAggregate(s.synth, trimmed, true);
      } else {
        try {
          id = parseTypeName(s.synth, trimmed);
        } catch (e) {
          const t = s.target.types.find(trimmed);
          if (t === undefined) throw e;
          throw new DcmdError(`cannot create a synthetic type for target type ${trimmed}`);
        }
      }
      s.synth.add({ kind: 'typedef', name, ref: id });
      return DCMD_OK;
    },
  };

  const listCmd: DcmdDef = {
    name: 'list',
    usage: ':type member [variable-name]',
    description: 'walk list using member as link pointer',
    help: 'Follow a linked list starting at addr, using the named member (or a raw\nword offset) as the pointer to the next element, printing each element\naddress, until NULL or the start is reached again.',
    fn(ctx, addr, _flags, argv) {
      if (argv.length === 0) return DCMD_USAGE;
      let offset: number;
      let rest: readonly string[];
      if (/^(0[xtoi])?[0-9a-f]+$/i.test(argv[0]!) && s.lookupType(argv[0]!) === undefined) {
        offset = ctx.parseValue(argv[0]!);
        rest = argv.slice(1);
        if (offset % ctx.ptrSize) throw new DcmdError('offset must fall on a word boundary');
      } else {
        const [tname, used] = argsToTypeName(argv);
        const { tt, id } = resolveType(s, tname);
        const member = argv[used];
        if (member === undefined) return DCMD_USAGE;
        const m = tt.member(id, member);
        if (m.bitOffset % (ctx.ptrSize * 8) !== 0) throw new DcmdError(`${member} is not a word-aligned member`);
        offset = m.bitOffset / 8;
        rest = argv.slice(used + 1);
      }
      if (rest.length > 1) return DCMD_USAGE;
      let a = addr;
      let n = 0;
      const seen = new Set<number>();
      do {
        if (seen.has(a)) {
          ctx.warn(`list loops back to ${ctx.hex(a)}, not to the start ${ctx.hex(addr)}`);
          return DCMD_ERR;
        }
        seen.add(a);
        if (rest.length === 1) s.vars.set(rest[0]!, toU64(a));
        ctx.pipeOut(a);
        let next: number;
        try {
          next = ctx.target.loadPtr(a + offset);
        } catch {
          ctx.warn(`failed to read next pointer from object ${ctx.hex(a)}`);
          return DCMD_ERR;
        }
        a = next;
        if (++n > 10_000_000 || ctx.interrupted()) break;
      } while (a !== addr && a !== 0);
      return DCMD_OK;
    },
  };

  const arrayCmd: DcmdDef = {
    name: 'array',
    usage: ':[type count] [variable]',
    description: 'print each array element\'s address',
    help: 'Print the address of each of count elements of the given type starting at addr.',
    fn(ctx, addr, _flags, argv) {
      if (argv.length < 2) return DCMD_USAGE;
      const [tname, used] = argsToTypeName(argv);
      const { tt, id } = resolveType(s, tname);
      const cnt = ctx.parseCount(argv[used] ?? '0', 'array count');
      const size = tt.sizeof(id);
      for (let i = 0; i < cnt; i++) ctx.pipeOut(addr + i * size);
      return DCMD_OK;
    },
  };

  return [print, sizeofCmd, offsetofCmd, typedefCmd, listCmd, arrayCmd];
}

function isBaseName(s: Session, name: string): boolean {
  void s;
  void name;
  return false;
}

export type { DcmdResult };
