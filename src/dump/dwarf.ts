/*
 * DWARF for unix.N: the kernel's C types, globals and functions described
 * in DWARF 4 so that standard debuggers (gdb, drgn) see what mdb sees.
 *
 * Theory
 * ------
 * mdb reads types from our own section (`.kmemdb_ctf`); gdb and drgn read
 * DWARF.  Both are generated from the same `TypeTable` at savecore time,
 * so they cannot disagree: every type in the table becomes one DIE (void
 * is the absence of DW_AT_type, as in DWARF), every kernel global with a
 * known C type becomes a DW_TAG_variable whose location is its address
 * (DW_OP_addr), and every function a DW_TAG_subprogram covering its text.
 *
 * One compile unit holds everything.  Type references are DW_FORM_ref4
 * (offsets from the unit's start); a DIE's offset is known only once it
 * is written, so references are recorded as they are emitted and patched
 * at the end.  Abbreviations are interned: each distinct (tag, children,
 * attribute list) gets one code.
 *
 * Layouts carry over exactly: member offsets in bytes
 * (DW_AT_data_member_location) or, for bitfields, in bits from the start
 * of the struct (DW_AT_data_bit_offset, DWARF 4), which is how the table
 * stores them.  Incomplete structs are declarations (DW_AT_declaration).
 */

import type { CType, Member, TypeId, TypeTable } from '../ctf/ctf.js';
import { ByteWriter } from './dump-format.js';
import {
  DW_TAG_array_type,
  DW_TAG_enumeration_type,
  DW_TAG_formal_parameter,
  DW_TAG_member,
  DW_TAG_pointer_type,
  DW_TAG_compile_unit,
  DW_TAG_structure_type,
  DW_TAG_subroutine_type,
  DW_TAG_typedef,
  DW_TAG_union_type,
  DW_TAG_unspecified_parameters,
  DW_TAG_subrange_type,
  DW_TAG_base_type,
  DW_TAG_enumerator,
  DW_TAG_subprogram,
  DW_TAG_variable,
  DW_AT_location,
  DW_AT_name,
  DW_AT_byte_size,
  DW_AT_bit_size,
  DW_AT_low_pc,
  DW_AT_high_pc,
  DW_AT_language,
  DW_AT_const_value,
  DW_AT_producer,
  DW_AT_prototyped,
  DW_AT_count,
  DW_AT_data_member_location,
  DW_AT_declaration,
  DW_AT_encoding,
  DW_AT_external,
  DW_AT_frame_base,
  DW_AT_type,
  DW_AT_ranges,
  DW_AT_data_bit_offset,
  DW_FORM_addr,
  DW_FORM_data1,
  DW_FORM_data2,
  DW_FORM_data4,
  DW_FORM_sdata,
  DW_FORM_strp,
  DW_FORM_udata,
  DW_FORM_ref4,
  DW_FORM_sec_offset,
  DW_FORM_exprloc,
  DW_FORM_flag_present,
  DW_ATE_boolean,
  DW_ATE_float,
  DW_ATE_signed,
  DW_ATE_signed_char,
  DW_ATE_unsigned,
  DW_ATE_unsigned_char,
  DW_LANG_C99,
  DW_OP_addr,
  DW_OP_call_frame_cfa,
} from './dwarf-constants.js';

/** A global variable to describe: its address and its C type. */
export interface DwarfVariable {
  readonly name: string;
  readonly addr: number;
  readonly type: TypeId;
}

/** A function to describe: its text range. */
export interface DwarfFunction {
  readonly name: string;
  readonly addr: number;
  readonly size: number;
}

export interface DwarfInput {
  readonly types: TypeTable;
  readonly variables: readonly DwarfVariable[];
  readonly functions: readonly DwarfFunction[];
  /** The producer string (DW_AT_producer) and unit name (DW_AT_name). */
  readonly producer: string;
  readonly unitName: string;
}

/** The bytes of the DWARF sections, by section name. */
export interface DwarfSections {
  readonly '.debug_abbrev': Uint8Array;
  readonly '.debug_info': Uint8Array;
  readonly '.debug_str': Uint8Array;
  readonly '.debug_aranges': Uint8Array;
  readonly '.debug_ranges': Uint8Array;
}

/* ---------------------------------------------------------------- encodings */

function uleb(w: ByteWriter, v: number): void {
  let n = v;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    w.u8(b);
  } while (n > 0);
}

function sleb(w: ByteWriter, v: number): void {
  let n = v;
  for (;;) {
    const b = ((n % 128) + 128) % 128;
    n = Math.floor(n / 128);
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    w.u8(done ? b : b | 0x80);
    if (done) return;
  }
}

/** .debug_str: NUL-terminated strings, each stored once. */
class StringPool {
  readonly w = new ByteWriter(1 << 14);
  private readonly at = new Map<string, number>();
  offset(s: string): number {
    let o = this.at.get(s);
    if (o === undefined) {
      o = this.w.pos;
      this.w.bytes(new TextEncoder().encode(s)).u8(0);
      this.at.set(s, o);
    }
    return o;
  }
}

type AttrSpec = ReadonlyArray<readonly [number, number]>;

/** .debug_abbrev: one code per distinct (tag, children, attributes). */
class Abbrevs {
  readonly w = new ByteWriter(1024);
  private readonly codes = new Map<string, number>();
  code(tag: number, children: boolean, attrs: AttrSpec): number {
    const key = `${tag}/${children ? 1 : 0}/${attrs.map(([a, f]) => `${a}:${f}`).join(',')}`;
    let c = this.codes.get(key);
    if (c === undefined) {
      c = this.codes.size + 1;
      this.codes.set(key, c);
      uleb(this.w, c);
      uleb(this.w, tag);
      this.w.u8(children ? 1 : 0);
      for (const [a, f] of attrs) {
        uleb(this.w, a);
        uleb(this.w, f);
      }
      this.w.u8(0).u8(0);
    }
    return c;
  }
  /** The table, closed by the null code. */
  result(): Uint8Array {
    return this.w.u8(0).result();
  }
}

/* ---------------------------------------------------------------- the unit */

/** Writes the DIEs of one compile unit. */
class UnitWriter {
  readonly info = new ByteWriter(1 << 16);
  readonly abbrevs = new Abbrevs();
  readonly strs = new StringPool();
  /** Unit-relative offset of each type's DIE. */
  private readonly dieOf = new Map<TypeId, number>();
  /** Positions of ref4 fields still to patch, with the type they name. */
  private readonly refs: Array<{ at: number; type: TypeId }> = [];
  private readonly unitStart: number;

  constructor(
    private readonly T: TypeTable,
    private readonly addrSize: 4 | 8,
  ) {
    this.unitStart = this.info.pos;
  }

  /** Start a DIE: its abbreviation code; attribute values follow. */
  die(tag: number, children: boolean, attrs: AttrSpec): void {
    uleb(this.info, this.abbrevs.code(tag, children, attrs));
  }
  endChildren(): void {
    this.info.u8(0);
  }
  strp(s: string): void {
    this.info.u32(this.strs.offset(s));
  }
  ref(type: TypeId): void {
    this.refs.push({ at: this.info.pos, type });
    this.info.u32(0);
  }
  addr(a: number): void {
    this.info.word(a, this.addrSize === 8);
  }

  /** The type a reference should name: undefined for void. */
  private referent(id: TypeId): TypeId | undefined {
    return this.T.get(id).kind === 'void' ? undefined : id;
  }

  /** Write one type's DIE (and its children). */
  typeDie(id: TypeId, t: CType): void {
    this.dieOf.set(id, this.info.pos - this.unitStart);
    switch (t.kind) {
      case 'void':
        return;
      case 'int':
      case 'float':
        this.die(DW_TAG_base_type, false, [
          [DW_AT_name, DW_FORM_strp],
          [DW_AT_encoding, DW_FORM_data1],
          [DW_AT_byte_size, DW_FORM_data1],
        ]);
        this.strp(t.name);
        this.info.u8(baseEncoding(t));
        this.info.u8(t.size);
        return;
      case 'ptr':
        this.typed(DW_TAG_pointer_type, false, t.ref, [[DW_AT_byte_size, DW_FORM_data1]], () => this.info.u8(this.addrSize));
        return;
      case 'typedef':
        this.typed(DW_TAG_typedef, false, t.ref, [[DW_AT_name, DW_FORM_strp]], () => this.strp(t.name));
        return;
      case 'array':
        this.arrayDie(t.ref, t.count);
        return;
      case 'struct':
      case 'union':
        this.aggregateDie(t.kind, t.name, t.size, t.complete, t.members);
        return;
      case 'enum':
        this.enumDie(t.name, t.values);
        return;
      case 'func':
        this.funcTypeDie(t.ret, t.args, t.varargs);
        return;
    }
  }

  /** A DIE with an optional DW_AT_type (absent for void) after `attrs`. */
  private typed(tag: number, children: boolean, ref: TypeId, attrs: AttrSpec, values: () => void): void {
    const r = this.referent(ref);
    this.die(tag, children, r === undefined ? attrs : [...attrs, [DW_AT_type, DW_FORM_ref4]]);
    values();
    if (r !== undefined) this.ref(r);
  }

  private arrayDie(elem: TypeId, count: number): void {
    this.die(DW_TAG_array_type, true, [[DW_AT_type, DW_FORM_ref4]]);
    this.ref(elem);
    const index = this.T.mustFind('unsigned long');
    if (count > 0) {
      this.die(DW_TAG_subrange_type, false, [
        [DW_AT_type, DW_FORM_ref4],
        [DW_AT_count, DW_FORM_udata],
      ]);
      this.ref(index);
      uleb(this.info, count);
    } else {
      this.die(DW_TAG_subrange_type, false, [[DW_AT_type, DW_FORM_ref4]]);
      this.ref(index);
    }
    this.endChildren();
  }

  private aggregateDie(kind: 'struct' | 'union', name: string, size: number, complete: boolean, members: readonly Member[]): void {
    if (!Array.isArray(members) || !members.every(wellFormed)) throw new DwarfError(`${kind} ${name}: malformed member list`);
    const tag = kind === 'struct' ? DW_TAG_structure_type : DW_TAG_union_type;
    const named: AttrSpec = name ? [[DW_AT_name, DW_FORM_strp]] : [];
    if (!complete) {
      this.die(tag, false, [...named, [DW_AT_declaration, DW_FORM_flag_present]]);
      if (name) this.strp(name);
      return;
    }
    this.die(tag, true, [...named, [DW_AT_byte_size, DW_FORM_udata]]);
    if (name) this.strp(name);
    uleb(this.info, size);
    for (const m of members) this.memberDie(m);
    this.endChildren();
  }

  private memberDie(m: Member): void {
    const named: AttrSpec = m.name ? [[DW_AT_name, DW_FORM_strp]] : [];
    const where: AttrSpec =
      m.bits > 0
        ? [
            [DW_AT_bit_size, DW_FORM_udata],
            [DW_AT_data_bit_offset, DW_FORM_udata],
          ]
        : [[DW_AT_data_member_location, DW_FORM_udata]];
    this.die(DW_TAG_member, false, [...named, [DW_AT_type, DW_FORM_ref4], ...where]);
    if (m.name) this.strp(m.name);
    this.ref(m.type);
    if (m.bits > 0) {
      uleb(this.info, m.bits);
      uleb(this.info, m.bitOffset);
    } else uleb(this.info, m.bitOffset / 8);
  }

  private enumDie(name: string, values: ReadonlyArray<readonly [string, number]>): void {
    const named: AttrSpec = name ? [[DW_AT_name, DW_FORM_strp]] : [];
    this.die(DW_TAG_enumeration_type, true, [...named, [DW_AT_byte_size, DW_FORM_data1]]);
    if (name) this.strp(name);
    this.info.u8(4);
    for (const [n, v] of values) {
      this.die(DW_TAG_enumerator, false, [
        [DW_AT_name, DW_FORM_strp],
        [DW_AT_const_value, DW_FORM_sdata],
      ]);
      this.strp(n);
      sleb(this.info, v);
    }
    this.endChildren();
  }

  private funcTypeDie(ret: TypeId, args: readonly TypeId[], varargs: boolean): void {
    this.typed(DW_TAG_subroutine_type, true, ret, [[DW_AT_prototyped, DW_FORM_flag_present]], () => undefined);
    for (const a of args) {
      this.die(DW_TAG_formal_parameter, false, [[DW_AT_type, DW_FORM_ref4]]);
      this.ref(a);
    }
    if (varargs) this.die(DW_TAG_unspecified_parameters, false, []);
    this.endChildren();
  }

  variableDie(v: DwarfVariable): void {
    this.die(DW_TAG_variable, false, [
      [DW_AT_name, DW_FORM_strp],
      [DW_AT_type, DW_FORM_ref4],
      [DW_AT_external, DW_FORM_flag_present],
      [DW_AT_location, DW_FORM_exprloc],
    ]);
    this.strp(v.name);
    this.ref(v.type);
    uleb(this.info, 1 + this.addrSize);
    this.info.u8(DW_OP_addr);
    this.addr(v.addr);
  }

  /** A function: name and text range; its frame base is the CFA. */
  functionDie(f: DwarfFunction): void {
    this.die(DW_TAG_subprogram, false, [
      [DW_AT_name, DW_FORM_strp],
      [DW_AT_external, DW_FORM_flag_present],
      [DW_AT_low_pc, DW_FORM_addr],
      [DW_AT_high_pc, DW_FORM_data4],
      [DW_AT_frame_base, DW_FORM_exprloc],
    ]);
    this.strp(f.name);
    this.addr(f.addr);
    this.info.u32(f.size);
    uleb(this.info, 1);
    this.info.u8(DW_OP_call_frame_cfa);
  }

  /** Fill in every type reference; a reference to a type with no DIE is a bug. */
  patchRefs(): void {
    for (const r of this.refs) {
      const off = this.dieOf.get(r.type);
      if (off === undefined) throw new DwarfError(`type ${r.type} has no DIE`);
      this.info.patch32(r.at, off);
    }
  }
}

/** A type table that DWARF cannot describe (a malformed record). */
export class DwarfError extends Error {
  constructor(message: string) {
    super(`dwarf: ${message}`);
    this.name = 'DwarfError';
  }
}

function wellFormed(m: Member): boolean {
  return typeof m.name === 'string' && Number.isInteger(m.type) && Number.isInteger(m.bitOffset) && m.bitOffset >= 0 && Number.isInteger(m.bits);
}

function baseEncoding(t: Extract<CType, { kind: 'int' | 'float' }>): number {
  if (t.kind === 'float') return DW_ATE_float;
  if (t.bool) return DW_ATE_boolean;
  if (t.char) return t.signed ? DW_ATE_signed_char : DW_ATE_unsigned_char;
  return t.signed ? DW_ATE_signed : DW_ATE_unsigned;
}

/** Whether a named type is not the one its name finds in the table. */
function isShadowed(T: TypeTable, id: TypeId): boolean {
  const t = T.get(id);
  if (t.kind === 'ptr' || t.kind === 'array' || t.kind === 'func' || !t.name) return false;
  const key = t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' ? `${t.kind} ${t.name}` : t.name;
  const canonical = T.find(key);
  return canonical !== undefined && canonical !== id;
}

/** Merge function ranges into sorted, disjoint [start, end) ranges. */
function textRanges(functions: readonly DwarfFunction[]): Array<[number, number]> {
  const sorted = [...functions].filter((f) => f.size > 0).sort((a, b) => a.addr - b.addr);
  const out: Array<[number, number]> = [];
  for (const f of sorted) {
    const last = out[out.length - 1];
    if (last && f.addr <= last[1]) last[1] = Math.max(last[1], f.addr + f.size);
    else out.push([f.addr, f.addr + f.size]);
  }
  return out;
}

/**
 * Build the DWARF sections for `input` in a data model whose addresses
 * are `addrSize` bytes.
 */
export function buildDwarf(input: DwarfInput, addrSize: 4 | 8): DwarfSections {
  const u = new UnitWriter(input.types, addrSize);
  const is64 = addrSize === 8;
  const ranges = textRanges(input.functions);

  // Unit header (DWARF 4, 32-bit format): length patched at the end.
  u.info.u32(0).u16(4).u32(0).u8(addrSize);
  u.die(DW_TAG_compile_unit, true, [
    [DW_AT_producer, DW_FORM_strp],
    [DW_AT_language, DW_FORM_data2],
    [DW_AT_name, DW_FORM_strp],
    [DW_AT_low_pc, DW_FORM_addr],
    [DW_AT_ranges, DW_FORM_sec_offset],
  ]);
  u.strp(input.producer);
  u.info.u16(DW_LANG_C99);
  u.strp(input.unitName);
  u.addr(0);
  u.info.u32(0); // offset of our one range list in .debug_ranges

  // Types a later definition of the same name shadows (mdb finds the later
  // one by name) go last, so that debuggers' name lookups, which take the
  // first, find what mdb finds.
  const T = input.types;
  const shadowed: TypeId[] = [];
  for (let id = 0; id < T.count(); id++) {
    if (isShadowed(T, id)) shadowed.push(id);
    else u.typeDie(id, T.get(id));
  }
  for (const id of shadowed) u.typeDie(id, T.get(id));
  for (const v of input.variables) u.variableDie(v);
  for (const f of input.functions) u.functionDie(f);
  u.endChildren();
  u.patchRefs();
  u.info.patch32(0, u.info.pos - 4);

  // .debug_ranges: the unit's text ranges, base address 0, then the end.
  const rw = new ByteWriter(16 * (ranges.length + 1));
  for (const [s, e] of ranges) rw.word(s, is64).word(e, is64);
  rw.word(0, is64).word(0, is64);

  // .debug_aranges: one set for the unit (header padded to twice the address size).
  const aw = new ByteWriter(32 + 16 * ranges.length);
  aw.u32(0).u16(2).u32(0).u8(addrSize).u8(0);
  aw.align(2 * addrSize);
  for (const [s, e] of ranges) aw.word(s, is64).word(e - s, is64);
  aw.word(0, is64).word(0, is64);
  aw.patch32(0, aw.pos - 4);

  return {
    '.debug_abbrev': u.abbrevs.result(),
    '.debug_info': u.info.result(),
    '.debug_str': u.strs.w.result(),
    '.debug_aranges': aw.result(),
    '.debug_ranges': rw.result(),
  };
}
