/*
 * ctf: C types and their layout.
 *
 * Theory
 * ------
 * A `TypeTable` holds the C types of one data model (LP64 or ILP32): the
 * base integer and float types, pointers, arrays, structs, unions, enums,
 * typedefs and function types.  Types are numbered (`TypeId`); derived types
 * (pointers, arrays) are interned so that the same type has one id.
 *
 * Layout follows the natural alignment of the data model: a member is
 * aligned to its type's alignment, a struct's alignment is the largest of
 * its members', and its size is rounded up to that alignment.  8-byte
 * integers align to `model.align8` (4 on i386).  Bitfields pack into their
 * declared type's storage unit as the System V ABI does.
 *
 * One definition drives both sides: the kernel declares its structures in
 * C syntax (`declare()`), computes offsets from them, and the table is
 * serialised into unix.N so that mdb reads the same layouts from the dump.
 */

import type { DataModel } from '../machine/memory.js';

export type TypeId = number;

export interface Member {
  readonly name: string;
  readonly type: TypeId;
  /** Offset in bits from the start of the struct. */
  readonly bitOffset: number;
  /** Bitfield width, or 0 for an ordinary member. */
  readonly bits: number;
}

export type CType =
  | { kind: 'void'; name: string }
  | { kind: 'int'; name: string; size: number; signed: boolean; char?: boolean; bool?: boolean }
  | { kind: 'float'; name: string; size: number }
  | { kind: 'ptr'; ref: TypeId }
  | { kind: 'array'; ref: TypeId; count: number }
  | { kind: 'struct' | 'union'; name: string; members: Member[]; size: number; align: number; complete: boolean }
  | { kind: 'enum'; name: string; values: Array<[string, number]> }
  | { kind: 'typedef'; name: string; ref: TypeId }
  | { kind: 'func'; ret: TypeId; args: TypeId[]; varargs: boolean };

export class CtfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CtfError';
  }
}

/** A member found by a dotted path, with its absolute offset. */
export interface ResolvedMember {
  readonly type: TypeId;
  readonly bitOffset: number;
  readonly bits: number;
}

export class TypeTable {
  readonly model: DataModel;
  private readonly types: CType[] = [];
  private readonly byName = new Map<string, TypeId>();
  private readonly ptrCache = new Map<TypeId, TypeId>();
  private readonly arrCache = new Map<string, TypeId>();

  constructor(model: DataModel, withBase = true) {
    this.model = model;
    if (withBase) this.addBaseTypes();
  }

  private addBaseTypes(): void {
    const L = this.model.longSize;
    const P = this.model.ptrSize;
    this.add({ kind: 'void', name: 'void' });
    const ints: Array<[string, number, boolean, boolean?]> = [
      ['char', 1, true, true],
      ['signed char', 1, true, true],
      ['unsigned char', 1, false, true],
      ['short', 2, true],
      ['unsigned short', 2, false],
      ['int', 4, true],
      ['unsigned int', 4, false],
      ['long', L, true],
      ['unsigned long', L, false],
      ['long long', 8, true],
      ['unsigned long long', 8, false],
    ];
    for (const [name, size, signed, ch] of ints) this.add({ kind: 'int', name, size, signed, char: ch });
    this.add({ kind: 'int', name: '_Bool', size: 1, signed: false, bool: true });
    this.add({ kind: 'float', name: 'float', size: 4 });
    this.add({ kind: 'float', name: 'double', size: 8 });
    this.add({ kind: 'float', name: 'long double', size: this.model.ptrSize === 8 ? 16 : 12 });
    this.alias('signed', 'int');
    this.alias('unsigned', 'unsigned int');
    this.alias('signed int', 'int');
    this.alias('short int', 'short');
    this.alias('unsigned short int', 'unsigned short');
    this.alias('long int', 'long');
    this.alias('unsigned long int', 'unsigned long');
    this.alias('long long int', 'long long');
    this.alias('unsigned long long int', 'unsigned long long');
    this.alias('signed long', 'long');
    this.alias('signed short', 'short');
    this.alias('signed long long', 'long long');
    const tdefs: Array<[string, string]> = [
      ['int8_t', 'signed char'],
      ['int16_t', 'short'],
      ['int32_t', 'int'],
      ['int64_t', P === 8 ? 'long' : 'long long'],
      ['uint8_t', 'unsigned char'],
      ['uint16_t', 'unsigned short'],
      ['uint32_t', 'unsigned int'],
      ['uint64_t', P === 8 ? 'unsigned long' : 'unsigned long long'],
      ['intptr_t', 'long'],
      ['uintptr_t', 'unsigned long'],
      ['uchar_t', 'unsigned char'],
      ['ushort_t', 'unsigned short'],
      ['uint_t', 'unsigned int'],
      ['ulong_t', 'unsigned long'],
      ['longlong_t', 'long long'],
      ['u_longlong_t', 'unsigned long long'],
      ['ptrdiff_t', 'long'],
      ['size_t', 'unsigned long'],
      ['ssize_t', 'long'],
      ['hrtime_t', 'longlong_t'],
      ['pc_t', 'uintptr_t'],
      ['u_int', 'unsigned int'],
      ['u_long', 'unsigned long'],
      ['u_short', 'unsigned short'],
      ['u_char', 'unsigned char'],
      ['time_t', 'long long'], // NetBSD: 64-bit on every port, i386 included (since 6.0)
      ['bool', '_Bool'],
      ['boolean_t', 'int'],
      ['off_t', 'long long'],
    ];
    for (const [n, to] of tdefs) this.add({ kind: 'typedef', name: n, ref: this.mustFind(to) });
    this.add({ kind: 'typedef', name: 'caddr_t', ref: this.pointerTo(this.mustFind('char')) });
  }

  private alias(name: string, to: string): void {
    this.byName.set(name, this.mustFind(to));
  }

  /** Add a type; named structs/unions/enums register as "struct x". */
  add(t: CType): TypeId {
    const id = this.types.length;
    this.types.push(t);
    const key = this.keyOf(t);
    if (key !== undefined) this.byName.set(key, id);
    return id;
  }

  /**
   * Add a type without giving it its name in the table: a second,
   * different definition of a name (another compile unit's) that must not
   * shadow the first.  register() names it later if it should.
   */
  addUnnamed(t: CType): TypeId {
    this.types.push(t);
    return this.types.length - 1;
  }

  /** Make a type the one its name finds ("struct x", a typedef's name). */
  register(id: TypeId): void {
    const key = this.keyOf(this.get(id));
    if (key !== undefined) this.byName.set(key, id);
  }

  /**
   * Complete an incomplete struct or union with members laid out elsewhere
   * (by a compiler, read from its debugging information) and its size;
   * its alignment is the largest of its members'.
   */
  completeLaidOut(id: TypeId, members: Member[], size: number): void {
    const t = this.get(id);
    if ((t.kind !== 'struct' && t.kind !== 'union') || t.complete) throw new CtfError(`type ${id} is not an incomplete struct or union`);
    let align = 1;
    for (const m of members) align = Math.max(align, this.alignof(m.type));
    this.types[id] = { kind: t.kind, name: t.name, members, size, align, complete: true };
  }

  private keyOf(t: CType): string | undefined {
    switch (t.kind) {
      case 'struct':
      case 'union':
      case 'enum':
        return t.name ? `${t.kind} ${t.name}` : undefined;
      case 'void':
      case 'int':
      case 'float':
      case 'typedef':
        return t.name;
      default:
        return undefined;
    }
  }

  get(id: TypeId): CType {
    const t = this.types[id];
    if (!t) throw new CtfError(`bad type id ${id}`);
    return t;
  }

  count(): number {
    return this.types.length;
  }

  /** All named types (typedefs, structs, ...), for completion and ::typedef -l. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  find(name: string): TypeId | undefined {
    return this.byName.get(name.trim().replace(/\s+/g, ' '));
  }

  mustFind(name: string): TypeId {
    const id = this.find(name);
    if (id === undefined) throw new CtfError(`unknown type ${name}`);
    return id;
  }

  pointerTo(ref: TypeId): TypeId {
    let id = this.ptrCache.get(ref);
    if (id === undefined) {
      id = this.add({ kind: 'ptr', ref });
      this.ptrCache.set(ref, id);
    }
    return id;
  }

  arrayOf(ref: TypeId, count: number): TypeId {
    const key = `${ref}[${count}]`;
    let id = this.arrCache.get(key);
    if (id === undefined) {
      id = this.add({ kind: 'array', ref, count });
      this.arrCache.set(key, id);
    }
    return id;
  }

  /** Follow typedefs. */
  resolve(id: TypeId): TypeId {
    let t = this.get(id);
    let guard = 0;
    while (t.kind === 'typedef') {
      id = t.ref;
      t = this.get(id);
      if (++guard > 64) throw new CtfError('typedef cycle');
    }
    return id;
  }

  sizeof(id: TypeId): number {
    const t = this.get(this.resolve(id));
    switch (t.kind) {
      case 'void':
        return 0;
      case 'int':
      case 'float':
        return t.size;
      case 'ptr':
        return this.model.ptrSize;
      case 'array':
        return t.count * this.sizeof(t.ref);
      case 'struct':
      case 'union':
        return t.size;
      case 'enum':
        return 4;
      case 'func':
        return 0;
      default:
        return 0;
    }
  }

  alignof(id: TypeId): number {
    const t = this.get(this.resolve(id));
    switch (t.kind) {
      case 'int':
      case 'float':
        return t.size === 8 ? this.model.align8 : t.size > 8 ? (this.model.ptrSize === 8 ? 16 : 4) : Math.max(1, t.size);
      case 'ptr':
        return this.model.ptrSize;
      case 'array':
        return this.alignof(t.ref);
      case 'struct':
      case 'union':
        return t.align;
      case 'enum':
        return 4;
      default:
        return 1;
    }
  }

  /** The C name of a type, as mdb prints it ("struct kmem_cache *", "char [32]"). */
  typeName(id: TypeId): string {
    const t = this.get(id);
    switch (t.kind) {
      case 'void':
      case 'int':
      case 'float':
      case 'typedef':
        return t.name;
      case 'struct':
      case 'union':
      case 'enum':
        return t.name ? `${t.kind} ${t.name}` : `${t.kind} {...}`;
      case 'ptr': {
        const inner = this.get(t.ref);
        if (inner.kind === 'func') return `${this.typeName(inner.ret)} (*)()`;
        const innerName = this.typeName(t.ref);
        return innerName.endsWith('*') ? `${innerName}*` : `${innerName} *`;
      }
      case 'array': {
        let base: TypeId = t.ref;
        let dims = `[${t.count}]`;
        let bt = this.get(base);
        while (bt.kind === 'array') {
          dims += `[${bt.count}]`;
          base = bt.ref;
          bt = this.get(base);
        }
        return `${this.typeName(base)} ${dims}`;
      }
      case 'func':
        return `${this.typeName(t.ret)} ()`;
    }
  }

  /** Members of a struct/union type (after typedefs). */
  members(id: TypeId): readonly Member[] {
    const t = this.get(this.resolve(id));
    if (t.kind !== 'struct' && t.kind !== 'union') throw new CtfError(`${this.typeName(id)} is not a struct or union`);
    return t.members;
  }

  /**
   * Resolve a member path ("a.b[2].c") in a struct type; anonymous members
   * are searched through.  Throws CtfError when absent.
   */
  member(id: TypeId, path: string): ResolvedMember {
    let cur: ResolvedMember = { type: id, bitOffset: 0, bits: 0 };
    const parts = path.match(/[A-Za-z_][A-Za-z0-9_]*|\[\d+\]/g);
    if (!parts || parts.join('').length !== path.replace(/[.\s]/g, '').length) throw new CtfError(`bad member path ${path}`);
    for (const p of parts) {
      if (p.startsWith('[')) {
        const t = this.get(this.resolve(cur.type));
        if (t.kind !== 'array') throw new CtfError(`${path}: not an array`);
        const i = Number(p.slice(1, -1));
        cur = { type: t.ref, bitOffset: cur.bitOffset + i * this.sizeof(t.ref) * 8, bits: 0 };
      } else {
        const m = this.findMember(cur.type, p);
        if (!m) throw new CtfError(`${this.typeName(cur.type)} has no member ${p}`);
        cur = { type: m.type, bitOffset: cur.bitOffset + m.bitOffset, bits: m.bits };
      }
    }
    return cur;
  }

  private findMember(id: TypeId, name: string): ResolvedMember | undefined {
    const t = this.get(this.resolve(id));
    if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
    for (const m of t.members) {
      if (m.name === name) return m;
      if (m.name === '') {
        const inner = this.findMember(m.type, name);
        if (inner) return { type: inner.type, bitOffset: m.bitOffset + inner.bitOffset, bits: inner.bits };
      }
    }
    return undefined;
  }

  /** offsetof(type, member path), in bytes. */
  offsetof(typeName: string | TypeId, path: string): number {
    const id = typeof typeName === 'number' ? typeName : this.mustFind(typeName);
    const m = this.member(id, path);
    return Math.floor(m.bitOffset / 8);
  }

  /** sizeof by name. */
  size(typeName: string): number {
    return this.sizeof(this.mustFind(typeName));
  }

  /**
   * Lay out a struct or union from member declarations and register it.
   * An existing forward declaration of the same name is completed in place.
   */
  defineAggregate(
    kind: 'struct' | 'union',
    name: string,
    decls: ReadonlyArray<{ name: string; type: TypeId; bits?: number }>,
  ): TypeId {
    const members: Member[] = [];
    let offset = 0; // bits
    let size = 0; // bits
    let align = 1;
    const seen = new Set<string>();
    for (const d of decls) {
      if (d.name !== '' && seen.has(d.name)) throw new CtfError(`duplicate member name ${d.name}`);
      if (d.name !== '') seen.add(d.name);
      const msize = this.sizeof(d.type);
      const malign = this.alignof(d.type);
      const bits = d.bits ?? 0;
      let at: number;
      if (bits > 0) {
        const unit = msize * 8;
        at = kind === 'union' ? 0 : offset;
        // A bitfield may not straddle a storage unit of its type.
        if (Math.floor(at / unit) !== Math.floor((at + bits - 1) / unit)) at = Math.ceil(at / unit) * unit;
        align = Math.max(align, malign);
        if (kind === 'struct') offset = at + bits;
        size = Math.max(size, at + bits);
      } else {
        at = kind === 'union' ? 0 : Math.ceil(offset / (malign * 8)) * malign * 8;
        align = Math.max(align, malign);
        if (kind === 'struct') offset = at + msize * 8;
        size = Math.max(size, at + msize * 8);
      }
      members.push({ name: d.name, type: d.type, bitOffset: at, bits });
    }
    const bytes = Math.ceil(Math.ceil(size / 8) / align) * align;
    const existing = name ? this.find(`${kind} ${name}`) : undefined;
    if (existing !== undefined) {
      const t = this.get(existing);
      if (t.kind === kind && !t.complete) {
        this.types[existing] = { kind, name, members, size: bytes, align, complete: true };
        return existing;
      }
    }
    return this.add({ kind, name, members, size: bytes, align, complete: true });
  }

  /** A forward declaration (incomplete struct/union). */
  forward(kind: 'struct' | 'union', name: string): TypeId {
    const existing = this.find(`${kind} ${name}`);
    if (existing !== undefined) return existing;
    return this.add({ kind, name, members: [], size: 0, align: 1, complete: false });
  }

  /** Serialise the table (for unix.N). */
  serialize(): Uint8Array {
    const names: Array<[string, number]> = [...this.byName.entries()];
    const json = JSON.stringify({ v: 1, model: this.model.name, types: this.types, names });
    return new TextEncoder().encode(json);
  }

  static deserialize(bytes: Uint8Array, model: DataModel): TypeTable {
    let o: unknown;
    try {
      o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new CtfError('type data is not valid');
    }
    const obj = o as { v?: unknown; model?: unknown; types?: unknown; names?: unknown };
    if (obj.v !== 1 || obj.model !== model.name || !Array.isArray(obj.types) || !Array.isArray(obj.names)) {
      throw new CtfError('type data has a bad header');
    }
    const tt = new TypeTable(model, false);
    for (const t of obj.types as CType[]) {
      if (typeof t !== 'object' || t === null || typeof (t as { kind?: unknown }).kind !== 'string') throw new CtfError('bad type record');
      tt.types.push(t);
      if (t.kind === 'ptr') tt.ptrCache.set(t.ref, tt.types.length - 1);
      if (t.kind === 'array') tt.arrCache.set(`${t.ref}[${t.count}]`, tt.types.length - 1);
    }
    const n = tt.types.length;
    for (const t of tt.types) {
      const refs: number[] = [];
      if (t.kind === 'ptr' || t.kind === 'array' || t.kind === 'typedef') refs.push(t.ref);
      if (t.kind === 'struct' || t.kind === 'union') for (const m of t.members) refs.push(m.type);
      if (t.kind === 'func') refs.push(t.ret, ...t.args);
      for (const r of refs) if (!Number.isInteger(r) || r < 0 || r >= n) throw new CtfError('type reference out of range');
    }
    for (const e of obj.names as Array<[string, number]>) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || !Number.isInteger(e[1]) || e[1] < 0 || e[1] >= n) throw new CtfError('bad type name record');
      tt.byName.set(e[0], e[1]);
    }
    return tt;
  }
}

/** Byte offsets of the named fields, keyed by field name (see offsetsOf). */
export type Offsets<F extends string> = { readonly [K in F]: number };

/**
 * The byte offsets of `fields` in `typeName`, as an object whose keys are
 * exactly those fields: a misspelt field is a compile error at the use
 * (`o.cache_bufsise` does not type-check) and a field the C declaration
 * lacks is a CtfError here, at start-up, not a NaN later.  Field paths may
 * name nested members (`"cache_cpu.cc_rounds"`).
 */
export function offsetsOf<const F extends string>(types: TypeTable, typeName: string, fields: readonly F[]): Offsets<F> {
  const o: Record<string, number> = {};
  for (const f of fields) o[f] = types.offsetof(typeName, f);
  // Built key by key the object is in dictionary mode; the spread copy has fast properties.
  return { ...o } as Offsets<F>;
}
