/*
 * Reading C types and global variables from DWARF (versions 2 to 5): what
 * a program built with `-g` carries in its `.debug_*` sections, for mdb's
 * ::print, ::sizeof, SYMBOL::print, ::nm and ::whatis on its data.
 *
 * Theory
 * ------
 * The reader parses every compile unit's DIE tree (the abbreviation table
 * tells each DIE's tag, whether it has children, and its attributes'
 * forms), keeps the DIEs by their .debug_info offset, and then turns the
 * DIEs that describe types into `TypeTable` types on demand, memoised by
 * DIE: a reference is followed once, and a struct is entered in the
 * table before its members are read, so `struct node { struct node *next; }`
 * terminates.  Qualifiers (const, volatile, restrict, _Atomic) are
 * transparent, as the table has no qualified types.
 *
 * Each compile unit repeats the types it uses; the table keeps one.  A
 * named type whose name the table already has with the same layout is that
 * type; with a different layout (two programs' `struct list`, or the
 * allocator's own types that the table already holds) it is added without
 * taking the name, so that nothing already named changes meaning: the
 * allocator's dcmds keep finding their structures, and the program's
 * variables keep their own types.
 *
 * Variables are DW_TAG_variable DIEs whose location is one DW_OP_addr (or
 * DW_OP_addrx) operation: globals and static locals.  The linker's
 * tombstone for discarded data (an address of all ones) is skipped.
 *
 * Nothing is trusted: every read is bounds-checked, LEB128s are capped at
 * 2^53, DIE nesting and reference chains are bounded, and a malformed
 * section is a DwarfReadError naming the section and offset.  A unit of a
 * kind other than compile or partial (type and skeleton units) is skipped.
 */

import type { CType, Member, TypeId, TypeTable } from '../ctf/ctf.js';
import { fromHalves } from '../machine/addr.js';
import {
  DW_AT_addr_base,
  DW_AT_bit_offset,
  DW_AT_bit_size,
  DW_AT_byte_size,
  DW_AT_const_value,
  DW_AT_count,
  DW_AT_data_bit_offset,
  DW_AT_data_member_location,
  DW_AT_declaration,
  DW_AT_encoding,
  DW_AT_location,
  DW_AT_lower_bound,
  DW_AT_name,
  DW_AT_specification,
  DW_AT_str_offsets_base,
  DW_AT_type,
  DW_AT_upper_bound,
  DW_ATE_boolean,
  DW_ATE_float,
  DW_ATE_signed,
  DW_ATE_signed_char,
  DW_ATE_unsigned_char,
  DW_FORM_addr,
  DW_FORM_addrx,
  DW_FORM_addrx1,
  DW_FORM_addrx2,
  DW_FORM_addrx3,
  DW_FORM_addrx4,
  DW_FORM_block,
  DW_FORM_block1,
  DW_FORM_block2,
  DW_FORM_block4,
  DW_FORM_data1,
  DW_FORM_data16,
  DW_FORM_data2,
  DW_FORM_data4,
  DW_FORM_data8,
  DW_FORM_exprloc,
  DW_FORM_flag,
  DW_FORM_flag_present,
  DW_FORM_GNU_addr_index,
  DW_FORM_GNU_ref_alt,
  DW_FORM_GNU_str_index,
  DW_FORM_GNU_strp_alt,
  DW_FORM_implicit_const,
  DW_FORM_indirect,
  DW_FORM_line_strp,
  DW_FORM_loclistx,
  DW_FORM_ref1,
  DW_FORM_ref2,
  DW_FORM_ref4,
  DW_FORM_ref8,
  DW_FORM_ref_addr,
  DW_FORM_ref_sig8,
  DW_FORM_ref_sup4,
  DW_FORM_ref_sup8,
  DW_FORM_ref_udata,
  DW_FORM_rnglistx,
  DW_FORM_sdata,
  DW_FORM_sec_offset,
  DW_FORM_string,
  DW_FORM_strp,
  DW_FORM_strp_sup,
  DW_FORM_strx,
  DW_FORM_strx1,
  DW_FORM_strx2,
  DW_FORM_strx3,
  DW_FORM_strx4,
  DW_FORM_udata,
  DW_OP_addr,
  DW_OP_addrx,
  DW_OP_plus_uconst,
  DW_TAG_array_type,
  DW_TAG_atomic_type,
  DW_TAG_base_type,
  DW_TAG_class_type,
  DW_TAG_const_type,
  DW_TAG_enumeration_type,
  DW_TAG_enumerator,
  DW_TAG_formal_parameter,
  DW_TAG_immutable_type,
  DW_TAG_member,
  DW_TAG_pointer_type,
  DW_TAG_restrict_type,
  DW_TAG_structure_type,
  DW_TAG_subrange_type,
  DW_TAG_subroutine_type,
  DW_TAG_typedef,
  DW_TAG_union_type,
  DW_TAG_unspecified_parameters,
  DW_TAG_variable,
  DW_TAG_volatile_type,
  DW_UT_compile,
  DW_UT_partial,
} from './dwarf-constants.js';

/** The bytes of the DWARF sections a reader needs (absent ones are empty). */
export interface DebugSections {
  readonly info: Uint8Array;
  readonly abbrev: Uint8Array;
  readonly str?: Uint8Array;
  readonly lineStr?: Uint8Array;
  readonly strOffsets?: Uint8Array;
  readonly addr?: Uint8Array;
}

/** A global (or static) variable: its name, address and type in the table. */
export interface DebugVariable {
  readonly name: string;
  readonly addr: number;
  readonly type: TypeId;
}

/** Malformed DWARF: the section, the offset, what was wrong. */
export class DwarfReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DwarfReadError';
  }
}

const MAX_DEPTH = 256;
const MAX_CHAIN = 512;
/** The linker's address for discarded data (wasm-ld, lld): all ones, in 32 or 64 bits. */
const TOMBSTONES = new Set([0xffffffff, -1]);

/** A little-endian cursor over one section that never reads past its end. */
class Cursor {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    readonly section: string,
    pos = 0,
  ) {
    this.pos = pos;
  }
  fail(what: string): never {
    throw new DwarfReadError(`${this.section}+0x${this.pos.toString(16)}: ${what}`);
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.b.length) this.fail(`${what} runs past the end of the section`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++]!;
  }
  /** An n-byte unsigned integer (n <= 8), as a number; beyond 2^53 is malformed for us. */
  uint(n: number, what: string): number {
    this.need(n, what);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.b[this.pos + i]!;
    this.pos += n;
    if (v > Number.MAX_SAFE_INTEGER) this.fail(`${what} too large`);
    return v;
  }
  uleb(what: string): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8(what);
      v += (b & 0x7f) * mul;
      if (v > Number.MAX_SAFE_INTEGER) this.fail(`${what} too large`);
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
  }
  sleb(what: string): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8(what);
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) this.fail(`${what} too large`);
      if ((b & 0x80) === 0) return b & 0x40 ? v - mul : v;
    }
  }
  /** An address of n bytes (4 or 8), in kmemdb's signed representation (machine/addr.ts). */
  address(n: number, what: string): number {
    if (n === 4) return this.uint(4, what);
    const lo = this.uint(4, what);
    return fromHalves(this.uint(4, what) | 0, lo);
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  cstr(what: string): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) this.fail(`${what} is not NUL-terminated`);
    const s = new TextDecoder().decode(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

/** An attribute's value: a constant, a string, a block, a flag, or an index to resolve against the unit. */
type Val =
  | number
  | string
  | Uint8Array
  | boolean
  | { readonly ref: number }
  | { readonly strp: number; readonly line: boolean }
  | { readonly strx: number }
  | { readonly addrx: number }
  | { readonly unusable: true };

interface Abbrev {
  readonly tag: number;
  readonly children: boolean;
  readonly attrs: ReadonlyArray<{ readonly at: number; readonly form: number; readonly implicit: number }>;
}

interface Unit {
  readonly version: number;
  readonly addrSize: number;
  readonly offSize: 4 | 8;
  strOffsetsBase: number;
  addrBase: number;
}

interface Die {
  readonly tag: number;
  readonly attrs: Map<number, Val>;
  readonly children: Die[];
  readonly unit: Unit;
}

/** Parse one abbreviation table. */
function readAbbrevs(sec: Uint8Array, offset: number): Map<number, Abbrev> {
  const c = new Cursor(sec, '.debug_abbrev', offset);
  if (offset > sec.length) c.fail('abbreviation offset out of range');
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = c.uleb('abbreviation code');
    if (code === 0) return out;
    const tag = c.uleb('tag');
    const children = c.u8('children flag') !== 0;
    const attrs: Array<{ at: number; form: number; implicit: number }> = [];
    for (;;) {
      const at = c.uleb('attribute');
      const form = c.uleb('form');
      if (at === 0 && form === 0) break;
      attrs.push({ at, form, implicit: form === DW_FORM_implicit_const ? c.sleb('implicit constant') : 0 });
    }
    out.set(code, { tag, children, attrs });
  }
}

/** Everything in .debug_info: the DIEs of every usable unit, by offset. */
class DieIndex {
  readonly byOffset = new Map<number, Die>();
  readonly all: Die[] = [];
  private readonly abbrevCache = new Map<number, Map<number, Abbrev>>();

  constructor(private readonly sec: DebugSections) {
    const c = new Cursor(sec.info, '.debug_info');
    while (c.pos < sec.info.length) this.readUnit(c);
  }

  private readUnit(c: Cursor): void {
    let len = c.uint(4, 'unit length');
    let offSize: 4 | 8 = 4;
    if (len === 0xffffffff) {
      len = c.uint(8, 'unit length');
      offSize = 8;
    }
    c.need(len, 'unit');
    const end = c.pos + len;
    const version = c.uint(2, 'unit version');
    if (version < 2 || version > 5) c.fail(`unit version ${version} is not DWARF 2 to 5`);
    let unitType = DW_UT_compile;
    let abbrevOff: number;
    let addrSize: number;
    if (version >= 5) {
      unitType = c.u8('unit type');
      addrSize = c.u8('address size');
      abbrevOff = c.uint(offSize, 'abbreviation offset');
    } else {
      abbrevOff = c.uint(offSize, 'abbreviation offset');
      addrSize = c.u8('address size');
    }
    if (unitType !== DW_UT_compile && unitType !== DW_UT_partial) {
      c.pos = end;
      return;
    }
    if (addrSize !== 4 && addrSize !== 8) c.fail(`address size ${addrSize}`);
    let abbrevs = this.abbrevCache.get(abbrevOff);
    if (!abbrevs) {
      abbrevs = readAbbrevs(this.sec.abbrev, abbrevOff);
      this.abbrevCache.set(abbrevOff, abbrevs);
    }
    const unit: Unit = { version, addrSize, offSize, strOffsetsBase: 8, addrBase: 8 };
    const unitStart = end - len - (offSize === 8 ? 12 : 4);
    const body = new Cursor(c.b.subarray(0, end), '.debug_info', c.pos);
    const stack: Die[] = [];
    while (body.pos < end) {
      const at = body.pos;
      const code = body.uleb('abbreviation code');
      if (code === 0) {
        stack.pop();
        continue;
      }
      const ab = abbrevs.get(code);
      if (!ab) return body.fail(`abbreviation code ${code} is not in the table`);
      const die: Die = { tag: ab.tag, attrs: new Map(), children: [], unit };
      for (const a of ab.attrs) die.attrs.set(a.at, readValue(body, a.form, a.implicit, unit, unitStart));
      this.byOffset.set(at, die);
      this.all.push(die);
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(die);
      else if (die.attrs.has(DW_AT_str_offsets_base) || die.attrs.has(DW_AT_addr_base)) {
        const so = die.attrs.get(DW_AT_str_offsets_base);
        const ao = die.attrs.get(DW_AT_addr_base);
        if (typeof so === 'number') unit.strOffsetsBase = so;
        if (typeof ao === 'number') unit.addrBase = ao;
      }
      if (ab.children) {
        if (stack.length >= MAX_DEPTH) body.fail(`DIEs nested more than ${MAX_DEPTH} deep`);
        stack.push(die);
      }
    }
    c.pos = end;
  }

  /** A string attribute's text: inline, or found in .debug_str / .debug_line_str / through .debug_str_offsets. */
  str(v: Val | undefined, die: Die): string | undefined {
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && 'strp' in v) return v.line ? stringAt(this.sec.lineStr, '.debug_line_str', v.strp) : stringAt(this.sec.str, '.debug_str', v.strp);
    if (typeof v === 'object' && v !== null && 'strx' in v) {
      const u = die.unit;
      const table = this.sec.strOffsets ?? new Uint8Array(0);
      const c = new Cursor(table, '.debug_str_offsets', u.strOffsetsBase + v.strx * u.offSize);
      return stringAt(this.sec.str, '.debug_str', c.uint(u.offSize, 'string offset'));
    }
    return undefined;
  }

  addr(v: Val | undefined, die: Die): number | undefined {
    if (typeof v === 'number') return v;
    if (typeof v === 'object' && v !== null && 'addrx' in v) {
      const u = die.unit;
      const c = new Cursor(this.sec.addr ?? new Uint8Array(0), '.debug_addr', u.addrBase + v.addrx * u.addrSize);
      return c.address(u.addrSize, 'address');
    }
    return undefined;
  }

  /** The DIE a reference attribute names. */
  target(die: Die, at: number): Die | undefined {
    const v = die.attrs.get(at);
    return typeof v === 'object' && v !== null && 'ref' in v ? this.byOffset.get(v.ref) : undefined;
  }
}

function stringAt(sec: Uint8Array | undefined, name: string, off: number): string {
  const b = sec ?? new Uint8Array(0);
  const c = new Cursor(b, name, off);
  if (off >= b.length) c.fail('string offset out of range');
  return c.cstr('string');
}

/** Read one attribute value of the given form. */
function readValue(c: Cursor, form: number, implicit: number, u: Unit, unitStart: number): Val {
  const off = (): number => c.uint(u.offSize, 'offset');
  switch (form) {
    case DW_FORM_addr:
      return c.address(u.addrSize, 'address');
    case DW_FORM_data1:
    case DW_FORM_flag:
      return form === DW_FORM_flag ? c.u8('flag') !== 0 : c.u8('constant');
    case DW_FORM_data2:
      return c.uint(2, 'constant');
    case DW_FORM_data4:
      return c.uint(4, 'constant');
    case DW_FORM_data8: {
      const b = c.bytes(8, 'constant');
      // a constant beyond 2^48 is nothing a C type's layout needs
      return b[6] === 0 && b[7] === 0 ? new Cursor(b, c.section).uint(6, 'constant') : { unusable: true };
    }
    case DW_FORM_data16:
      c.bytes(16, 'constant');
      return { unusable: true };
    case DW_FORM_sdata:
      return c.sleb('constant');
    case DW_FORM_udata:
      return c.uleb('constant');
    case DW_FORM_implicit_const:
      return implicit;
    case DW_FORM_string:
      return c.cstr('string');
    case DW_FORM_strp:
      return { strp: off(), line: false };
    case DW_FORM_line_strp:
      return { strp: off(), line: true };
    case DW_FORM_strp_sup:
    case DW_FORM_GNU_strp_alt:
    case DW_FORM_sec_offset:
    case DW_FORM_GNU_ref_alt:
      off();
      return { unusable: true };
    case DW_FORM_strx:
    case DW_FORM_GNU_str_index:
      return { strx: c.uleb('string index') };
    case DW_FORM_strx1:
    case DW_FORM_strx2:
    case DW_FORM_strx3:
    case DW_FORM_strx4:
      return { strx: c.uint(form - DW_FORM_strx1 + 1, 'string index') };
    case DW_FORM_addrx:
    case DW_FORM_GNU_addr_index:
      return { addrx: c.uleb('address index') };
    case DW_FORM_addrx1:
    case DW_FORM_addrx2:
    case DW_FORM_addrx3:
    case DW_FORM_addrx4:
      return { addrx: c.uint(form - DW_FORM_addrx1 + 1, 'address index') };
    case DW_FORM_ref1:
      return { ref: unitStart + c.u8('reference') };
    case DW_FORM_ref2:
      return { ref: unitStart + c.uint(2, 'reference') };
    case DW_FORM_ref4:
      return { ref: unitStart + c.uint(4, 'reference') };
    case DW_FORM_ref8:
      return { ref: unitStart + c.uint(8, 'reference') };
    case DW_FORM_ref_udata:
      return { ref: unitStart + c.uleb('reference') };
    case DW_FORM_ref_addr:
      return { ref: c.uint(u.version <= 2 ? u.addrSize : u.offSize, 'reference') };
    case DW_FORM_ref_sig8:
    case DW_FORM_ref_sup8:
      c.bytes(8, 'reference');
      return { unusable: true };
    case DW_FORM_ref_sup4:
      c.bytes(4, 'reference');
      return { unusable: true };
    case DW_FORM_block1:
      return c.bytes(c.u8('block length'), 'block');
    case DW_FORM_block2:
      return c.bytes(c.uint(2, 'block length'), 'block');
    case DW_FORM_block4:
      return c.bytes(c.uint(4, 'block length'), 'block');
    case DW_FORM_block:
    case DW_FORM_exprloc:
      return c.bytes(c.uleb('block length'), 'block');
    case DW_FORM_flag_present:
      return true;
    case DW_FORM_loclistx:
    case DW_FORM_rnglistx:
      c.uleb('list index');
      return { unusable: true };
    case DW_FORM_indirect:
      return readValue(c, c.uleb('form'), 0, u, unitStart);
    default:
      return c.fail(`unknown attribute form 0x${form.toString(16)}`);
  }
}

/* Turning DIEs into table types. */

class TypeReader {
  private readonly memo = new Map<Die, TypeId>();
  /** The first defining DIE of each type name, in .debug_info order. */
  private readonly firstOf = new Map<string, Die>();
  private chain = 0;

  constructor(
    private readonly idx: DieIndex,
    private readonly tt: TypeTable,
  ) {
    for (const die of idx.all) {
      const key = this.keyOfDie(die);
      if (key !== undefined && !this.firstOf.has(key) && die.attrs.get(DW_AT_declaration) !== true) this.firstOf.set(key, die);
    }
  }

  /**
   * Whether a DIE may give its type the name: it is the name's first
   * definition in the sections (debuggers take the first; unix.N's writer
   * puts the definition mdb uses first), or the name has no definition.
   */
  private mayName(key: string, die: Die): boolean {
    const first = this.firstOf.get(key);
    return first === undefined || first === die;
  }

  private keyOfDie(die: Die): string | undefined {
    const name = NAMED_TYPE_TAGS.has(die.tag) ? this.name(die) : undefined;
    if (!name) return undefined;
    switch (die.tag) {
      case DW_TAG_structure_type:
      case DW_TAG_class_type:
        return `struct ${name}`;
      case DW_TAG_union_type:
        return `union ${name}`;
      case DW_TAG_enumeration_type:
        return `enum ${name}`;
      default:
        return name;
    }
  }

  name(die: Die): string | undefined {
    return this.idx.str(die.attrs.get(DW_AT_name), die);
  }

  num(die: Die, at: number): number | undefined {
    const v = die.attrs.get(at);
    return typeof v === 'number' ? v : undefined;
  }

  /** The type a DIE's DW_AT_type names (void when absent). */
  typeOf(die: Die): TypeId {
    const t = this.idx.target(die, DW_AT_type);
    return t ? this.type(t) : this.tt.mustFind('void');
  }

  /**
   * The table type of a type DIE.  An aggregate is memoised before its
   * members are read, so a chain of pointers, typedefs and qualifiers that
   * leads back to it ends there; a chain that never reaches one (only
   * malformed DWARF has such cycles) ends at MAX_CHAIN as void.
   */
  type(die: Die): TypeId {
    const known = this.memo.get(die);
    if (known !== undefined) return known;
    if (this.chain >= MAX_CHAIN) return this.tt.mustFind('void');
    this.chain++;
    try {
      const id = this.build(die);
      this.memo.set(die, id);
      return id;
    } finally {
      this.chain--;
    }
  }

  private build(die: Die): TypeId {
    const tt = this.tt;
    switch (die.tag) {
      case DW_TAG_base_type:
        return this.base(die);
      case DW_TAG_pointer_type:
        return tt.pointerTo(this.typeOf(die));
      case DW_TAG_const_type:
      case DW_TAG_volatile_type:
      case DW_TAG_restrict_type:
      case DW_TAG_atomic_type:
      case DW_TAG_immutable_type:
        return this.typeOf(die);
      case DW_TAG_typedef:
        return this.named(die, { kind: 'typedef', name: this.name(die) ?? '', ref: this.typeOf(die) });
      case DW_TAG_array_type:
        return this.array(die);
      case DW_TAG_structure_type:
      case DW_TAG_class_type:
      case DW_TAG_union_type:
        return this.aggregate(die);
      case DW_TAG_enumeration_type:
        return this.named(die, {
          kind: 'enum',
          name: this.name(die) ?? '',
          values: die.children.filter((c) => c.tag === DW_TAG_enumerator).map((c) => [this.name(c) ?? '', this.num(c, DW_AT_const_value) ?? 0] as [string, number]),
        });
      case DW_TAG_subroutine_type:
        return tt.addUnnamed({
          kind: 'func',
          ret: this.typeOf(die),
          args: die.children.filter((c) => c.tag === DW_TAG_formal_parameter).map((c) => this.typeOf(c)),
          varargs: die.children.some((c) => c.tag === DW_TAG_unspecified_parameters),
        });
      default:
        return tt.mustFind('void');
    }
  }

  private base(die: Die): TypeId {
    const name = this.name(die) ?? '';
    const size = this.num(die, DW_AT_byte_size) ?? 0;
    const enc = this.num(die, DW_AT_encoding) ?? DW_ATE_signed;
    const t: CType =
      enc === DW_ATE_float
        ? { kind: 'float', name, size }
        : { kind: 'int', name, size, signed: enc === DW_ATE_signed || enc === DW_ATE_signed_char, ...(enc === DW_ATE_signed_char || enc === DW_ATE_unsigned_char ? { char: true } : {}), ...(enc === DW_ATE_boolean ? { bool: true } : {}) };
    return this.named(die, t);
  }

  /**
   * Enter a named, non-aggregate type: the table's type of that name if it
   * lays out the same, else a new one, which takes the name if the name is
   * free and this DIE is its first definition (see mayName).
   */
  private named(die: Die, t: CType): TypeId {
    const key = keyOf(t);
    const have = key ? this.tt.find(key) : undefined;
    if (have !== undefined && sameShape(this.tt, this.tt.get(have), t)) return have;
    const id = this.tt.addUnnamed(t);
    if (key && have === undefined && this.mayName(key, die)) this.tt.register(id);
    return id;
  }

  private array(die: Die): TypeId {
    const dims = die.children
      .filter((c) => c.tag === DW_TAG_subrange_type)
      .map((c) => {
        const count = this.num(c, DW_AT_count);
        if (count !== undefined) return count;
        const ub = this.num(c, DW_AT_upper_bound);
        return ub !== undefined ? ub - (this.num(c, DW_AT_lower_bound) ?? 0) + 1 : 0;
      });
    let id = this.typeOf(die);
    for (const n of (dims.length ? dims : [0]).reverse()) id = this.tt.arrayOf(id, Math.max(0, n));
    return id;
  }

  private aggregate(die: Die): TypeId {
    const kind = die.tag === DW_TAG_union_type ? 'union' : 'struct';
    const name = this.name(die) ?? '';
    const tt = this.tt;
    const id = tt.addUnnamed({ kind, name, members: [], size: 0, align: 1, complete: false });
    this.memo.set(die, id); // members may point back at it
    if (die.attrs.get(DW_AT_declaration) === true) return this.settle(die, kind, name, id);
    const members: Member[] = [];
    for (const m of die.children) if (m.tag === DW_TAG_member) members.push(this.member(m));
    tt.completeLaidOut(id, members, this.num(die, DW_AT_byte_size) ?? 0);
    return this.settle(die, kind, name, id);
  }

  /** Name an aggregate as named() names types, once its members are known; a definition completes a declaration's name. */
  private settle(die: Die, kind: 'struct' | 'union', name: string, id: TypeId): TypeId {
    if (!name) return id;
    const key = `${kind} ${name}`;
    const have = this.tt.find(key);
    const complete = isComplete(this.tt, id);
    if (have === undefined || (!isComplete(this.tt, have) && complete)) {
      if (this.mayName(key, die)) this.tt.register(id);
    } else if (!complete || sameShape(this.tt, this.tt.get(have), this.tt.get(id))) return have;
    return id;
  }

  private member(m: Die): Member {
    const type = this.typeOf(m);
    const bits = this.num(m, DW_AT_bit_size) ?? 0;
    const loc = m.attrs.get(DW_AT_data_member_location);
    let byteOff = 0;
    if (typeof loc === 'number') byteOff = loc;
    else if (loc instanceof Uint8Array && loc[0] === DW_OP_plus_uconst) byteOff = new Cursor(loc, 'member location', 1).uleb('offset');
    let bitOffset = byteOff * 8;
    const dbo = this.num(m, DW_AT_data_bit_offset);
    if (bits > 0 && dbo !== undefined) bitOffset = dbo;
    else if (bits > 0) {
      // DWARF 2/3: bit_offset counts from the most significant bit of the storage unit (little-endian targets).
      const unit = (this.num(m, DW_AT_byte_size) ?? this.tt.sizeof(type)) * 8;
      const fromMsb = this.num(m, DW_AT_bit_offset);
      if (fromMsb !== undefined) bitOffset = byteOff * 8 + unit - fromMsb - bits;
    }
    return { name: this.name(m) ?? '', type, bitOffset, bits };
  }
}

function keyOf(t: CType): string | undefined {
  if (t.kind === 'typedef' || t.kind === 'int' || t.kind === 'float') return t.name || undefined;
  if (t.kind === 'enum') return t.name ? `enum ${t.name}` : undefined;
  return undefined;
}

function isComplete(tt: TypeTable, id: TypeId): boolean {
  const t = tt.get(id);
  return (t.kind !== 'struct' && t.kind !== 'union') || t.complete;
}

/** Whether two types lay out the same: same kind and size, and for aggregates the same members at the same places. */
function sameShape(tt: TypeTable, x: CType, y: CType): boolean {
  if (x.kind !== y.kind) return false;
  if (x.kind === 'typedef' && y.kind === 'typedef') return tt.sizeof(x.ref) === tt.sizeof(y.ref) && tt.get(tt.resolve(x.ref)).kind === tt.get(tt.resolve(y.ref)).kind;
  if (x.kind === 'enum' && y.kind === 'enum') return x.values.length === y.values.length && x.values.every(([n, v], i) => y.values[i]![0] === n && y.values[i]![1] === v);
  if ((x.kind === 'int' || x.kind === 'float') && (y.kind === 'int' || y.kind === 'float')) return x.size === y.size;
  if ((x.kind === 'struct' || x.kind === 'union') && (y.kind === 'struct' || y.kind === 'union')) {
    return (
      x.size === y.size &&
      x.members.length === y.members.length &&
      x.members.every((m, i) => {
        const n = y.members[i]!;
        return m.name === n.name && m.bitOffset === n.bitOffset && m.bits === n.bits && tt.sizeof(m.type) === tt.sizeof(n.type);
      })
    );
  }
  return false;
}

/** The tags of types a user can name (`::print -t struct node`, `::sizeof node_t`). */
const NAMED_TYPE_TAGS = new Set([DW_TAG_base_type, DW_TAG_typedef, DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type, DW_TAG_enumeration_type]);

/**
 * Read the named types and the variables of every unit into `types` (which keeps its
 * own types and names; see the header comment).  Returns the variables.
 */
export function readDebugInfo(sec: DebugSections, types: TypeTable): DebugVariable[] {
  const idx = new DieIndex(sec);
  const r = new TypeReader(idx, types);
  for (const die of idx.all) if (NAMED_TYPE_TAGS.has(die.tag) && die.attrs.has(DW_AT_name)) r.type(die);
  const out: DebugVariable[] = [];
  for (const die of idx.all) {
    if (die.tag !== DW_TAG_variable) continue;
    const loc = die.attrs.get(DW_AT_location);
    if (!(loc instanceof Uint8Array)) continue;
    const addr = locationAddr(loc, die, idx);
    if (addr === undefined || TOMBSTONES.has(addr)) continue;
    const spec = idx.target(die, DW_AT_specification);
    const name = r.name(die) ?? (spec ? r.name(spec) : undefined);
    if (!name) continue;
    const typed = die.attrs.has(DW_AT_type) ? die : spec ?? die;
    out.push({ name, addr, type: r.typeOf(typed) });
  }
  return out;
}

/** The address of a location that is one DW_OP_addr or DW_OP_addrx, else undefined. */
function locationAddr(loc: Uint8Array, die: Die, idx: DieIndex): number | undefined {
  const c = new Cursor(loc, 'location');
  if (loc.length === 1 + die.unit.addrSize && loc[0] === DW_OP_addr) {
    c.pos = 1;
    return c.address(die.unit.addrSize, 'address');
  }
  if (loc[0] === DW_OP_addrx) {
    c.pos = 1;
    const i = c.uleb('address index');
    return c.pos === loc.length ? idx.addr({ addrx: i }, die) : undefined;
  }
  return undefined;
}
