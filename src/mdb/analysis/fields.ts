/*
 * Field access driven by the target's C types.
 *
 * Every offset the genunix analyses use is computed from the types the
 * target carries (`unix.N` for a dump, the kernel's table for a live
 * target): nothing is hard-coded.  A `Field` is resolved once per layout
 * (offset, size, signedness, pointer-ness) so reads on hot paths are one
 * load and no map lookup.
 */

import type { Target } from '../../target/target.js';
import type { TypeTable, TypeId } from '../../ctf/ctf.js';
import { MessageError } from '../../machine/message-error.js';

export interface Field {
  readonly off: number;
  readonly size: number;
  readonly signed: boolean;
  readonly ptr: boolean;
  /** Element size and count when the member is an array. */
  readonly elemSize: number;
  readonly count: number;
}

/** A needed type or member is absent from the target's types (reported by message: a damaged core can lack any). */
export class LayoutError extends MessageError {}

function describe(tt: TypeTable, id: TypeId, off: number): Field {
  const rid = tt.resolve(id);
  const t = tt.get(rid);
  if (t.kind === 'array') {
    const es = tt.sizeof(t.ref);
    const inner = tt.get(tt.resolve(t.ref));
    return {
      off,
      size: es,
      signed: inner.kind === 'int' ? inner.signed : false,
      ptr: inner.kind === 'ptr',
      elemSize: es,
      count: t.count,
    };
  }
  const size = tt.sizeof(rid);
  return {
    off,
    size,
    signed: t.kind === 'int' ? t.signed : t.kind === 'enum',
    ptr: t.kind === 'ptr',
    elemSize: size,
    count: 1,
  };
}

/** Resolve `type.path`; undefined when the type or member is absent. */
export function tryField(tt: TypeTable, type: string, path: string): Field | undefined {
  const id = tt.find(type);
  if (id === undefined) return undefined;
  try {
    const m = tt.member(id, path);
    const f = describe(tt, m.type, Math.floor(m.bitOffset / 8));
    // kstat_named_t and similar wrappers: descend to the integer value.
    const rt = tt.get(tt.resolve(m.type));
    if (rt.kind === 'struct' || rt.kind === 'union') {
      for (const sub of ['value.ui64', 'value.i64', 'value', 'ui64']) {
        try {
          const mm = tt.member(id, `${path}.${sub}`);
          const ft = tt.get(tt.resolve(mm.type));
          if (ft.kind === 'int' || ft.kind === 'ptr') return describe(tt, mm.type, Math.floor(mm.bitOffset / 8));
        } catch {
          /* try the next spelling */
        }
      }
    }
    return f;
  } catch {
    return undefined;
  }
}

export function field(tt: TypeTable, type: string, path: string): Field {
  const f = tryField(tt, type, path);
  if (!f) {
    if (tt.find(type) === undefined) throw new LayoutError(`type ${type} is not in the target's types`);
    throw new LayoutError(`${type} has no member ${path}`);
  }
  return f;
}

/** Resolved members keyed by their names (see fieldsOf). */
export type Fields<F extends string> = { readonly [K in F]: Field };

/**
 * The members `names` of `type`, keyed by name: a misspelt name at the use
 * is a compile error, a member the target lacks a LayoutError here.
 */
export function fieldsOf<const F extends string>(tt: TypeTable, type: string, names: readonly F[]): Fields<F> {
  const o: Partial<Record<F, Field>> = {};
  for (const n of names) o[n] = field(tt, type, n);
  return o as Fields<F>;
}

/** As fieldsOf, for members a target may lack: absent ones are left out. */
export function tryFieldsOf<const F extends string>(tt: TypeTable, type: string, names: readonly F[]): Partial<Fields<F>> {
  const o: Partial<Record<F, Field>> = {};
  for (const n of names) {
    const x = tryField(tt, type, n);
    if (x) o[n] = x;
  }
  return o;
}

export function trySize(tt: TypeTable, type: string): number | undefined {
  const id = tt.find(type);
  return id === undefined ? undefined : tt.sizeof(id);
}

export function sizeOf(tt: TypeTable, type: string): number {
  const s = trySize(tt, type);
  if (s === undefined) throw new LayoutError(`type ${type} is not in the target's types`);
  return s;
}

/** Read an integer or pointer member at struct address `a` (index for arrays). */
export function rd(t: Target, a: number, f: Field, index = 0): number {
  const p = a + f.off + index * f.elemSize;
  switch (f.size) {
    case 1: {
      const v = t.load8(p);
      return f.signed && v >= 0x80 ? v - 0x100 : v;
    }
    case 2: {
      const v = t.load16(p);
      return f.signed && v >= 0x8000 ? v - 0x10000 : v;
    }
    case 4: {
      if (f.ptr) return t.loadPtr(p);
      const v = t.load32(p);
      return f.signed ? v | 0 : v >>> 0;
    }
    case 8: {
      // 64-bit values are returned in kmemdb's signed address representation
      // (exact for addresses, pcs and for counters below 2^53).
      if (t.model.ptrSize === 8) return t.loadPtr(p);
      const b = t.load64(p);
      return Number(f.signed ? BigInt.asIntN(64, b) : b);
    }
    default:
      return 0;
  }
}

/** Read a NUL-terminated string of at most max bytes. */
export function rdString(t: Target, a: number, max: number): string {
  let s = '';
  for (let i = 0; i < max; i++) {
    let c: number;
    try {
      c = t.load8(a + i);
    } catch {
      break;
    }
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}
