/*
 * A parser for the C declarations kmemdb needs: struct/union/enum
 * definitions, typedefs, member declarators with pointers, arrays,
 * bitfields and function pointers, and type names ("struct foo *").
 *
 * The kernel declares its structures with `declare()`; mdb's `::typedef`
 * uses `parseAggregate()` / `parseTypeName()`.  Errors are `CtfError`s with
 * a message naming what is wrong.
 */

import { CtfError, type TypeId, type TypeTable } from './ctf.js';

type Tok = { t: 'id' | 'num' | 'punct'; v: string };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const e = src.indexOf('*/', i + 2);
      if (e < 0) throw new CtfError('unterminated comment');
      i = e + 2;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      const e = src.indexOf('\n', i);
      i = e < 0 ? src.length : e + 1;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const num = /^-?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[tT][0-9]+|[0-9]+)/.exec(src.slice(i));
    if (num && (c !== '-' || /[0-9]/.test(src[i + 1] ?? ''))) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    if ('{}[]();,*:='.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    throw new CtfError(`invalid character '${c}'`);
  }
  return out;
}

function parseNum(s: string): number {
  let neg = false;
  if (s.startsWith('-')) {
    neg = true;
    s = s.slice(1);
  }
  let v: number;
  if (/^0[xX]/.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[oO]/.test(s)) v = parseInt(s.slice(2), 8);
  else if (/^0[tT]/.test(s)) v = parseInt(s.slice(2), 10);
  else v = parseInt(s, 10);
  return neg ? -v : v;
}

const BASE_WORDS = new Set(['signed', 'unsigned', 'char', 'short', 'int', 'long', 'float', 'double', 'void', '_Bool']);
const QUALIFIERS = new Set(['const', 'volatile', 'restrict', 'register', 'static', 'extern']);

class Parser {
  private i = 0;
  /** Allow a zero-length array as the last member of a struct (mdb ::typedef). */
  allowFlexLast = false;
  constructor(
    private readonly tt: TypeTable,
    private readonly toks: Tok[],
  ) {}

  peek(o = 0): Tok | undefined {
    return this.toks[this.i + o];
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  next(): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new CtfError('unexpected end of declaration');
    return t;
  }
  accept(v: string): boolean {
    const t = this.peek();
    if (t && t.v === v && t.t !== 'num') {
      this.i++;
      return true;
    }
    return false;
  }
  expect(v: string): void {
    const t = this.peek();
    if (!this.accept(v)) throw new CtfError(`expected '${v}'${t ? ` before '${t.v}'` : ' at end of declaration'}`);
  }

  /** Base type: struct/union/enum (maybe with body), base words, or a typedef name. */
  baseType(): TypeId {
    while (this.peek() && QUALIFIERS.has(this.peek()!.v)) this.i++;
    const t = this.peek();
    if (!t) throw new CtfError('expected a type');
    if (t.v === 'struct' || t.v === 'union') {
      this.i++;
      const kind = t.v;
      let name = '';
      if (this.peek()?.t === 'id') name = this.next().v;
      if (this.peek()?.v === '{') return this.aggregateBody(kind, name);
      if (!name) throw new CtfError(`${kind} needs a name or a body`);
      return this.tt.find(`${kind} ${name}`) ?? this.tt.forward(kind, name);
    }
    if (t.v === 'enum') {
      this.i++;
      let name = '';
      if (this.peek()?.t === 'id') name = this.next().v;
      if (this.accept('{')) {
        const values: Array<[string, number]> = [];
        let v = 0;
        while (!this.accept('}')) {
          const n = this.next();
          if (n.t !== 'id') throw new CtfError(`bad enumerator ${n.v}`);
          if (this.accept('=')) v = parseNum(this.next().v);
          values.push([n.v, v++]);
          if (!this.accept(',')) {
            this.expect('}');
            break;
          }
        }
        return this.tt.add({ kind: 'enum', name, values });
      }
      const id = this.tt.find(`enum ${name}`);
      if (id === undefined) throw new CtfError(`unknown type enum ${name}`);
      return id;
    }
    if (t.t === 'id' && BASE_WORDS.has(t.v)) {
      const words: string[] = [];
      while (this.peek() && this.peek()!.t === 'id' && (BASE_WORDS.has(this.peek()!.v) || QUALIFIERS.has(this.peek()!.v))) {
        const w = this.next().v;
        if (!QUALIFIERS.has(w)) words.push(w);
      }
      const name = canonicalBase(words);
      const id = this.tt.find(name);
      if (id === undefined) throw new CtfError(`unknown type ${words.join(' ')}`);
      return id;
    }
    if (t.t === 'id') {
      const id = this.tt.find(t.v);
      if (id === undefined) throw new CtfError(`unknown type ${t.v}`);
      this.i++;
      return id;
    }
    throw new CtfError(`expected a type before '${t.v}'`);
  }

  aggregateBody(kind: 'struct' | 'union', name: string): TypeId {
    this.expect('{');
    if (name) this.tt.forward(kind, name);
    const decls: Array<{ name: string; type: TypeId; bits?: number }> = [];
    while (!this.accept('}')) {
      if (this.done()) throw new CtfError(`unterminated ${kind}`);
      const base = this.baseType();
      if (this.accept(';')) {
        // anonymous struct/union member
        const bt = this.tt.get(base);
        if ((bt.kind === 'struct' || bt.kind === 'union') && !bt.name) {
          decls.push({ name: '', type: base });
          continue;
        }
        throw new CtfError('declaration declares no member');
      }
      for (;;) {
        const d = this.declarator(base);
        if (!d.name) throw new CtfError('member has no name');
        let bits: number | undefined;
        if (this.accept(':')) {
          const n = this.next();
          if (n.t !== 'num') throw new CtfError(`bad bitfield width ${n.v}`);
          bits = parseNum(n.v);
        }
        decls.push({ name: d.name, type: d.type, bits });
        if (this.accept(',')) continue;
        this.expect(';');
        break;
      }
    }
    if (this.allowFlexLast) {
      decls.forEach((d, k) => {
        const t = this.tt.get(d.type);
        if (t.kind === 'array' && t.count === 0 && (k !== decls.length - 1 || kind === 'union' || decls.length === 1)) {
          throw new CtfError(`zero-length array ${d.name} must be the last member of a struct with other members`);
        }
      });
    }
    return this.tt.defineAggregate(kind, name, decls);
  }

  /** A declarator: pointers, a name (or a (*name)(args) function pointer), array dims. */
  declarator(base: TypeId, abstract = false): { name: string; type: TypeId } {
    let type = base;
    while (this.accept('*')) {
      type = this.tt.pointerTo(type);
      while (this.peek() && QUALIFIERS.has(this.peek()!.v)) this.i++;
    }
    let name = '';
    if (this.peek()?.v === '(' && this.peek(1)?.v === '*') {
      // function pointer: (*name)(args) or (*name[N])(args)
      this.expect('(');
      let ptrs = 0;
      while (this.accept('*')) ptrs++;
      if (this.peek()?.t === 'id') name = this.next().v;
      const dims = this.dims();
      this.expect(')');
      this.expect('(');
      const args: TypeId[] = [];
      let varargs = false;
      let depth = 1;
      // Parse argument types loosely: accept anything up to the matching ')'.
      const argStart = this.i;
      while (depth > 0) {
        const t = this.next();
        if (t.v === '(') depth++;
        if (t.v === ')') depth--;
      }
      const argToks = this.toks.slice(argStart, this.i - 1);
      if (argToks.some((t) => t.v === '...')) varargs = true;
      const fn = this.tt.add({ kind: 'func', ret: type, args, varargs });
      let ft: TypeId = fn;
      for (let k = 0; k < ptrs; k++) ft = this.tt.pointerTo(ft);
      for (let k = dims.length - 1; k >= 0; k--) ft = this.tt.arrayOf(ft, dims[k]!);
      return { name, type: ft };
    }
    if (this.peek()?.t === 'id') name = this.next().v;
    else if (!abstract && this.peek()?.v !== '[') throw new CtfError(`expected a member name${this.peek() ? ` before '${this.peek()!.v}'` : ''}`);
    const dims = this.dims();
    for (let k = dims.length - 1; k >= 0; k--) type = this.tt.arrayOf(type, dims[k]!);
    return { name, type };
  }

  dims(): number[] {
    const dims: number[] = [];
    while (this.accept('[')) {
      const n = this.next();
      if (n.t !== 'num') throw new CtfError(`bad array size ${n.v}`);
      const v = parseNum(n.v);
      if (v < 0) throw new CtfError(`array size ${n.v} is negative`);
      if (v === 0 && !this.allowFlexLast) throw new CtfError('array size 0 is not allowed');
      dims.push(v);
      this.expect(']');
    }
    return dims;
  }

  /** Top-level declarations: "struct x {...};", "typedef T name;", "enum ...;". */
  declarations(): void {
    while (!this.done()) {
      if (this.accept(';')) continue;
      if (this.accept('typedef')) {
        const base = this.baseType();
        for (;;) {
          const d = this.declarator(base);
          if (!d.name) throw new CtfError('typedef has no name');
          this.tt.add({ kind: 'typedef', name: d.name, ref: d.type });
          if (!this.accept(',')) break;
        }
        this.expect(';');
        continue;
      }
      this.baseType();
      this.expect(';');
    }
  }
}

function canonicalBase(words: string[]): string {
  const count = (w: string) => words.filter((x) => x === w).length;
  const unsigned = count('unsigned') > 0;
  const signed = count('signed') > 0;
  const longs = count('long');
  if (count('char')) return unsigned ? 'unsigned char' : signed ? 'signed char' : 'char';
  if (count('short')) return unsigned ? 'unsigned short' : 'short';
  if (count('double')) return longs ? 'long double' : 'double';
  if (count('float')) return 'float';
  if (count('void')) return 'void';
  if (count('_Bool')) return '_Bool';
  if (longs >= 2) return unsigned ? 'unsigned long long' : 'long long';
  if (longs === 1) return unsigned ? 'unsigned long' : 'long';
  return unsigned ? 'unsigned int' : 'int';
}

/** Declare types from C source (struct/union/enum definitions and typedefs). */
export function declare(tt: TypeTable, src: string): void {
  new Parser(tt, lex(src)).declarations();
}

/** Parse a type name such as "struct kmem_cache *" or "char [32]". */
export function parseTypeName(tt: TypeTable, src: string): TypeId {
  const p = new Parser(tt, lex(src));
  const base = p.baseType();
  const d = p.declarator(base, true);
  if (d.name) throw new CtfError(`unexpected name ${d.name} in type`);
  if (!p.done()) throw new CtfError(`unexpected '${p.peek()!.v}' in type`);
  return d.type;
}

/**
 * Parse a struct or union definition without registering a name for it
 * beyond its own tag (mdb's `::typedef "struct { ... }" name`).
 */
export function parseAggregate(tt: TypeTable, src: string, allowFlexLast = false): TypeId {
  const p = new Parser(tt, lex(src));
  p.allowFlexLast = allowFlexLast;
  const t = p.peek();
  if (!t || (t.v !== 'struct' && t.v !== 'union')) throw new CtfError('expected struct or union keyword');
  const id = p.baseType();
  if (!p.done()) throw new CtfError(`unexpected '${p.peek()!.v}' after ${t.v} definition`);
  return id;
}
