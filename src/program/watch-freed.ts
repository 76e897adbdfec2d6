/*
 * The store watcher's rewriter (`kmemdb run --watch-freed`): a copy of the
 * program's module in which every write to linear memory first checks
 * whether it lands on a freed buffer.
 *
 * Theory
 * ------
 * Under UMEM_DEBUG's guards every free buffer of a kmem cache holds the
 * pattern 0xdeadbeef in each of its 32-bit words, and live buffers never
 * do unless the program put it there.  So a write into a freed buffer is a
 * write to a word that holds 0xdeadbeef, and checking that in wasm is two
 * loads and a compare.  Each store instruction (i32/i64/f32/f64.store and
 * the narrow stores) of the program becomes a call to a small helper, one
 * per (opcode, alignment, offset): the helper loads the aligned words its
 * store would touch and, only when one holds 0xdeadbeef, calls the host
 * import `kmemdb_watch.freed_store(addr, offset, size, value, op)`, which
 * asks the allocator's structures whether the word is in a freed buffer
 * (and stops the program there if it is); then it does the original store.
 * The bulk-memory writes (memory.fill, memory.copy, memory.init) get a
 * helper that scans their destination's words the same way.  The
 * effective address is addr + offset without wrapping, as the store's own:
 * the host checks it against the memory's size, and a store out of bounds
 * traps as it would have.
 *
 * The new import comes after the module's own function imports, so every
 * defined function's index moves up by one: calls, return_calls,
 * ref.func, exports, the start function, element segments, global
 * initialisers and the `name` section's function names are renumbered
 * (the name section's local and label names, and DWARF, which describe the
 * original code, are left out of the copy).  The helpers are appended
 * after the program's functions.
 *
 * Code addresses.  The program must look as it is: audit stacks, trap
 * stacks and cores speak of the original module's pcs, so that `mdb
 * prog.wasm core.N` (which checks the module's sha256) and disassemblies
 * of prog.wasm agree.  The rewrite records, for the copy's code, which
 * original instruction each byte range came from (WatchPcMap): a store
 * replaced by a call maps to the store, copied code maps byte for byte,
 * and the helpers map to nothing, so their frames drop out of every stack
 * (the writer is the innermost frame left).
 *
 * The rewritten module and its map are cached by the original's sha256 in
 * the cache directory (cache.ts), as the malloc shim's objects are.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WasmCursor, WasmWriter, checkWasmHeader, scanSections, wasmHeader, SEC_CODE, SEC_CUSTOM, SEC_ELEMENT, SEC_EXPORT, SEC_FUNCTION, SEC_GLOBAL, SEC_IMPORT, SEC_START, SEC_TYPE, VT_I32, VT_I64, type WasmSection } from '../dump/wasm/binary.js';
import { WASM_TEXT_BASE } from '../dump/wasm/module.js';
import { cacheDir } from './cache.js';
import { BULK_WRITES, OP_CALL, OP_PREFIX_FC, STORES, decodeInstruction, type Instruction, type StoreOp } from './wasm-instructions.js';

/** The host import every helper calls on a possible hit. */
export const WATCH_MODULE = 'kmemdb_watch';
export const WATCH_FUNCTION = 'freed_store';
/** The pattern of a free buffer's words (UMEM_FREE_PATTERN_32). */
const FREE_PATTERN = 0xdeadbeef;
/** Bumped whenever the rewrite changes, so that cached copies are not reused. */
const REWRITE_VERSION = 1;
/** The `op` argument of a bulk write: 0xfc00 + its sub-opcode. */
export const BULK_OP_BASE = 0xfc00;

/** What a helper's `op` argument means: a store opcode or BULK_OP_BASE + sub-opcode. */
export function watchedOpName(op: number): string {
  return STORES.get(op)?.name ?? BULK_WRITES.get(op - BULK_OP_BASE) ?? `opcode 0x${op.toString(16)}`;
}

/** The rewritten module's code positions, mapped back to the original's pcs. */
export class WatchPcMap {
  constructor(
    /** Module-file offsets in the rewritten module where a mapping starts, ascending. */
    private readonly starts: Int32Array,
    /** The original pc there (WASM_TEXT_BASE + offset in the original Code payload), or -1 in a helper. */
    private readonly pcs: Int32Array,
  ) {}

  /** The original pc of a rewritten-module file offset; undefined in a helper or outside the code. */
  pcAt(moduleOffset: number): number | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    if (hi < 0 || moduleOffset < this.starts[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= moduleOffset) lo = mid;
      else hi = mid - 1;
    }
    const pc = this.pcs[lo]!;
    return pc === -1 ? undefined : (pc + (moduleOffset - this.starts[lo]!)) >>> 0;
  }

  /** The map as bytes (the cache's .map file): count, then the pairs, little-endian. */
  encode(): Uint8Array {
    const out = new Int32Array(1 + 2 * this.starts.length);
    out[0] = this.starts.length;
    for (let i = 0; i < this.starts.length; i++) {
      out[1 + 2 * i] = this.starts[i]!;
      out[2 + 2 * i] = this.pcs[i]!;
    }
    return new Uint8Array(out.buffer);
  }

  static decode(b: Uint8Array): WatchPcMap | undefined {
    if (b.length < 4 || b.length % 4 !== 0) return undefined;
    const v = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    const n = v[0]!;
    if (n < 0 || v.length !== 1 + 2 * n) return undefined;
    const starts = new Int32Array(n);
    const pcs = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      starts[i] = v[1 + 2 * i]!;
      pcs[i] = v[2 + 2 * i]!;
    }
    return new WatchPcMap(starts, pcs);
  }
}

export interface WatchedModule {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly map: WatchPcMap;
}

/** A rewrite just made: the module, and how many stores and bulk writes it rewrote. */
export interface InstrumentedModule extends WatchedModule {
  readonly writes: number;
}

/* ------------------------------------------------------------ the helpers */

/** The helpers' types, appended to the type section (indices from the first new type). */
const HELPER_TYPES: ReadonlyArray<{ readonly key: string; readonly params: readonly number[] }> = [
  { key: 'watch', params: [VT_I32, VT_I32, VT_I32, VT_I64, VT_I32] },
  { key: 'i32', params: [VT_I32, VT_I32] },
  { key: 'i64', params: [VT_I32, VT_I64] },
  { key: 'f32', params: [VT_I32, 0x7d] },
  { key: 'f64', params: [VT_I32, 0x7c] },
  { key: 'bulk', params: [VT_I32, VT_I32, VT_I32] },
];

/* the opcodes the helpers are written with */
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_LOAD = 0x28;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_OR = 0x72;
const I32_EQ = 0x46;
const I32_EQZ = 0x45;
const I32_GE_U = 0x4f;
const I64_ADD = 0x7c;
const I64_SHL = 0x86;
const I64_LE_U = 0x58;
const I64_EXTEND_I32_U = 0xad;
const I32_REINTERPRET_F32 = 0xbc;
const I64_REINTERPRET_F64 = 0xbd;
const MEMORY_SIZE = 0x3f;
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;

/** Leaves 1 on the stack if the aligned word holding the address on the stack is 0xdeadbeef. */
function wordIsFreePattern(w: WasmWriter): void {
  w.u8(I32_CONST).sleb(-4).u8(I32_AND);
  w.u8(I32_LOAD).uleb(2).uleb(0);
  w.u8(I32_CONST).sleb(FREE_PATTERN | 0).u8(I32_EQ);
}

/** A store's helper: (addr, value) -> (); checks the words it would touch, then stores. */
function storeHelper(op: number, s: StoreOp, m: { align: number; offset: number }, watch: number): Uint8Array {
  const w = new WasmWriter(64);
  w.uleb(1).uleb(1).u8(VT_I32); /* local 2: the effective address (wrapped) */
  w.u8(LOCAL_GET).uleb(0).u8(I32_CONST).sleb(m.offset | 0).u8(I32_ADD).u8(LOCAL_TEE).uleb(2);
  wordIsFreePattern(w);
  if (s.bytes > 1) {
    w.u8(LOCAL_GET).uleb(2).u8(I32_CONST).sleb(s.bytes - 1).u8(I32_ADD);
    wordIsFreePattern(w);
    w.u8(I32_OR);
  }
  w.u8(IF).u8(VOID);
  w.u8(LOCAL_GET).uleb(0).u8(I32_CONST).sleb(m.offset | 0).u8(I32_CONST).sleb(s.bytes).u8(LOCAL_GET).uleb(1);
  if (s.value === 'i32') w.u8(I64_EXTEND_I32_U);
  else if (s.value === 'f32') w.u8(I32_REINTERPRET_F32).u8(I64_EXTEND_I32_U);
  else if (s.value === 'f64') w.u8(I64_REINTERPRET_F64);
  w.u8(I32_CONST).sleb(op).u8(OP_CALL).uleb(watch);
  w.u8(END);
  w.u8(LOCAL_GET).uleb(0).u8(LOCAL_GET).uleb(1).u8(op).uleb(m.align).uleb(m.offset);
  w.u8(END);
  return w.result();
}

/**
 * A bulk write's helper: (dest, x, n) -> (), x the fill byte or the source.
 * When dest + n lies in the memory, each aligned word of the destination is
 * looked at, and the host is asked on the first that holds 0xdeadbeef; then
 * the original instruction runs (and traps when out of bounds).
 */
function bulkHelper(ins: Instruction, raw: Uint8Array, watch: number): Uint8Array {
  const w = new WasmWriter(128);
  w.uleb(1).uleb(2).u8(VT_I32); /* local 3: the word, local 4: the last word */
  w.u8(LOCAL_GET).uleb(2).u8(I32_EQZ).u8(I32_EQZ);
  w.u8(LOCAL_GET).uleb(0).u8(I64_EXTEND_I32_U).u8(LOCAL_GET).uleb(2).u8(I64_EXTEND_I32_U).u8(I64_ADD);
  w.u8(MEMORY_SIZE).u8(0).u8(I64_EXTEND_I32_U).u8(I64_CONST).sleb(16).u8(I64_SHL).u8(I64_LE_U);
  w.u8(I32_AND);
  w.u8(IF).u8(VOID);
  w.u8(LOCAL_GET).uleb(0).u8(I32_CONST).sleb(-4).u8(I32_AND).u8(LOCAL_SET).uleb(3);
  w.u8(LOCAL_GET).uleb(0).u8(LOCAL_GET).uleb(2).u8(I32_ADD).u8(I32_CONST).sleb(1).u8(I32_SUB).u8(I32_CONST).sleb(-4).u8(I32_AND).u8(LOCAL_SET).uleb(4);
  w.u8(BLOCK).u8(VOID).u8(LOOP).u8(VOID);
  w.u8(LOCAL_GET).uleb(3).u8(I32_LOAD).uleb(2).uleb(0).u8(I32_CONST).sleb(FREE_PATTERN | 0).u8(I32_EQ);
  w.u8(IF).u8(VOID);
  w.u8(LOCAL_GET).uleb(0).u8(I32_CONST).sleb(0).u8(LOCAL_GET).uleb(2).u8(LOCAL_GET).uleb(1).u8(I64_EXTEND_I32_U);
  w.u8(I32_CONST).sleb(BULK_OP_BASE + ins.sub!).u8(OP_CALL).uleb(watch);
  w.u8(BR).uleb(2);
  w.u8(END);
  w.u8(LOCAL_GET).uleb(3).u8(LOCAL_GET).uleb(4).u8(I32_GE_U).u8(BR_IF).uleb(1);
  w.u8(LOCAL_GET).uleb(3).u8(I32_CONST).sleb(4).u8(I32_ADD).u8(LOCAL_SET).uleb(3);
  w.u8(BR).uleb(0);
  w.u8(END).u8(END);
  w.u8(END);
  w.u8(LOCAL_GET).uleb(0).u8(LOCAL_GET).uleb(1).u8(LOCAL_GET).uleb(2).bytes(raw);
  w.u8(END);
  return w.result();
}

/* ------------------------------------------------------------ the rewrite */

/** The state of one rewrite: index shifts and the helpers made so far. */
class Rewrite {
  readonly helpers: Array<{ readonly type: string; readonly body: Uint8Array; readonly name: string }> = [];
  private readonly helperIndex = new Map<string, number>();
  writes = 0;

  constructor(
    readonly what: string,
    /** Function imports of the original: defined functions start here. */
    readonly importedFunctions: number,
    readonly definedFunctions: number,
    /** Types of the original: the helpers' types follow. */
    readonly typeCount: number,
  ) {}

  /** A function index of the original, in the copy (defined functions move up by one). */
  shift(f: number): number {
    return f < this.importedFunctions ? f : f + 1;
  }

  /** The copy's index of the watch import. */
  get watchIndex(): number {
    return this.importedFunctions;
  }

  typeIndex(key: string): number {
    return this.typeCount + HELPER_TYPES.findIndex((t) => t.key === key);
  }

  /** The helper for a store or bulk write (made on first use); its function index. */
  helperFor(ins: Instruction, raw: Uint8Array): number {
    const store = STORES.get(ins.op);
    const key = store ? `${ins.op}:${ins.memarg!.align}:${ins.memarg!.offset}` : `fc${ins.sub}:${ins.segment ?? 0}`;
    let k = this.helperIndex.get(key);
    if (k === undefined) {
      k = this.helpers.length;
      this.helperIndex.set(key, k);
      if (store) this.helpers.push({ type: store.value, body: storeHelper(ins.op, store, ins.memarg!, this.watchIndex), name: `kmemdb_watch_${store.name}${ins.memarg!.offset ? `_off${ins.memarg!.offset}` : ''}` });
      else this.helpers.push({ type: 'bulk', body: bulkHelper(ins, raw, this.watchIndex), name: `kmemdb_watch_${BULK_WRITES.get(ins.sub!)}${ins.segment !== undefined ? `_${ins.segment}` : ''}` });
    }
    return this.importedFunctions + 1 + this.definedFunctions + k;
  }
}

/** Where copied code came from: (offset in the copy, original pc) at each change of offset delta. */
type MapNote = (outOffset: number, pc: number) => void;

/**
 * Copy instructions from c until `stop` (a body's end) or, without stop,
 * through the `end` closing a constant expression; renumber function
 * indices and, when `note` is given (a body), replace the writes by calls
 * to their helpers, noting where each replaced and re-encoded instruction
 * came from.
 */
function copyCode(r: Rewrite, c: WasmCursor, w: WasmWriter, stop: number | undefined, note?: MapNote): void {
  let depth = 0;
  for (;;) {
    if (stop !== undefined && c.pos >= stop) return;
    const ins = decodeInstruction(c);
    const raw = c.b.subarray(ins.start, ins.end);
    const isWrite = STORES.has(ins.op) || (ins.op === OP_PREFIX_FC && BULK_WRITES.has(ins.sub!));
    if (note && isWrite) {
      note(w.pos, WASM_TEXT_BASE + ins.start);
      w.u8(OP_CALL).uleb(r.helperFor(ins, raw));
      r.writes++;
      note(w.pos, WASM_TEXT_BASE + ins.end);
    } else if (ins.func !== undefined) {
      note?.(w.pos, WASM_TEXT_BASE + ins.start);
      w.u8(ins.op).uleb(r.shift(ins.func));
      note?.(w.pos, WASM_TEXT_BASE + ins.end);
    } else w.bytes(raw);
    if (stop === undefined) {
      if (ins.op === BLOCK || ins.op === LOOP || ins.op === IF) depth++;
      else if (ins.op === END && depth-- === 0) return;
    }
  }
}

/** The Code section's new payload, and its pc map relative to the payload's start. */
function rewriteCode(r: Rewrite, c: WasmCursor): { payload: Uint8Array; starts: number[]; pcs: number[] } {
  const n = c.count('code count', 1);
  if (n !== r.definedFunctions) c.fail(`${r.definedFunctions} functions declared but ${n} bodies`);
  const bodies: Uint8Array[] = [];
  const starts: number[] = [];
  const pcs: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const size = c.u32('function body size');
    const start = c.pos;
    const end = start + size;
    c.need(size, 'function body');
    const groups = c.count('local groups', 2);
    for (let j = 0; j < groups; j++) {
      c.u32('local count');
      c.u8('local type');
    }
    const bw = new WasmWriter(size + 16);
    bw.bytes(c.b.subarray(start, c.pos));
    const notes: Array<[number, number]> = [[0, WASM_TEXT_BASE + start]];
    copyCode(r, c, bw, end, (o, pc) => notes.push([o, pc]));
    if (c.pos !== end) c.fail(`function body ${i} ends inside an instruction`);
    const body = bw.result();
    const head = new WasmWriter(5).uleb(body.length).result();
    for (const [o, pc] of notes) {
      starts.push(at + head.length + o);
      pcs.push(pc);
    }
    bodies.push(head, body);
    at += head.length + body.length;
  }
  for (const h of r.helpers) {
    const head = new WasmWriter(5).uleb(h.body.length).result();
    starts.push(at);
    pcs.push(-1);
    bodies.push(head, h.body);
    at += head.length + h.body.length;
  }
  const count = new WasmWriter(5).uleb(n + r.helpers.length).result();
  const w = new WasmWriter(at + count.length);
  w.bytes(count);
  for (const b of bodies) w.bytes(b);
  return { payload: w.result(), starts: starts.map((s) => s + count.length), pcs };
}

/** A vector section with new entries appended: the new count, the old entries, the new ones. */
function appendToVector(c: WasmCursor, field: string, added: number, extra: (w: WasmWriter) => void): Uint8Array {
  const n = c.count(field, 1);
  const w = new WasmWriter(c.remaining + 64);
  w.uleb(n + added).bytes(c.b.subarray(c.pos));
  extra(w);
  return w.result();
}

function rewriteExports(r: Rewrite, c: WasmCursor): Uint8Array {
  const n = c.count('export count', 3);
  const w = new WasmWriter(c.remaining + 16).uleb(n);
  for (let i = 0; i < n; i++) {
    w.name(c.name('export name'));
    const kind = c.u8('export kind');
    const index = c.u32('export index');
    w.u8(kind).uleb(kind === 0 ? r.shift(index) : index);
  }
  return w.result();
}

function rewriteGlobals(r: Rewrite, c: WasmCursor): Uint8Array {
  const n = c.count('global count', 3);
  const w = new WasmWriter(c.remaining + 16).uleb(n);
  for (let i = 0; i < n; i++) {
    w.u8(c.u8('global type')).u8(c.u8('global mutability'));
    copyCode(r, c, w, undefined);
  }
  return w.result();
}

/** Element segments (flags 0-7): function indices renumbered in vectors and expressions. */
function rewriteElements(r: Rewrite, c: WasmCursor): Uint8Array {
  const n = c.count('element segment count', 1);
  const w = new WasmWriter(c.remaining + 16).uleb(n);
  for (let i = 0; i < n; i++) {
    const flags = c.u32('element segment flags');
    if (flags > 7) c.fail(`bad element segment flags ${flags}`);
    w.uleb(flags);
    if (flags === 2 || flags === 6) w.uleb(c.u32('table index'));
    if ((flags & 1) === 0) copyCode(r, c, w, undefined);
    if (flags & 3) w.u8(c.u8(flags & 4 ? 'reference type' : 'element kind'));
    const m = c.count('element count', 1);
    w.uleb(m);
    for (let k = 0; k < m; k++) {
      if (flags & 4) copyCode(r, c, w, undefined);
      else w.uleb(r.shift(c.u32('function index')));
    }
  }
  return w.result();
}

/** The name section: function names renumbered, the import and helpers named; local and label names dropped. */
function rewriteNames(r: Rewrite, c: WasmCursor): Uint8Array {
  const w = new WasmWriter(c.remaining + 64);
  while (c.remaining > 0) {
    const id = c.u8('name subsection id');
    const size = c.u32('name subsection size');
    const sub = new WasmCursor(c.bytes(size, 'name subsection'), r.what, 0, c.base + c.pos - size);
    if (id === 2 || id === 3) continue;
    if (id !== 1) {
      w.u8(id).uleb(size).bytes(sub.b);
      continue;
    }
    const names: Array<[number, string]> = [];
    const n = sub.count('function name count', 2);
    for (let i = 0; i < n; i++) {
      const f = sub.u32('function index');
      names.push([r.shift(f), sub.name('function name')]);
    }
    names.push([r.watchIndex, `${WATCH_MODULE}.${WATCH_FUNCTION}`]);
    r.helpers.forEach((h, k) => names.push([r.importedFunctions + 1 + r.definedFunctions + k, h.name]));
    names.sort((a, b) => a[0] - b[0]);
    const nw = new WasmWriter(size + 64).uleb(names.length);
    for (const [f, name] of names) nw.uleb(f).name(name);
    const payload = nw.result();
    w.u8(1).uleb(payload.length).bytes(payload);
  }
  return w.result();
}

/** Counts the rewrite needs before the code: types, function imports, defined functions. */
function countsOf(b: Uint8Array, secs: readonly WasmSection[], what: string): { types: number; imported: number; defined: number } {
  let types = 0;
  let imported = 0;
  let defined = 0;
  for (const s of secs) {
    const c = new WasmCursor(b.subarray(s.offset, s.offset + s.size), what, 0, s.offset);
    if (s.id === SEC_TYPE) types = c.count('type count', 3);
    else if (s.id === SEC_FUNCTION) defined = c.count('function count', 1);
    else if (s.id === SEC_IMPORT) {
      const n = c.count('import count', 4);
      for (let i = 0; i < n; i++) {
        c.name('import module');
        c.name('import name');
        const kind = c.u8('import kind');
        if (kind === 0) {
          c.u32('import type');
          imported++;
        } else if (kind === 1) {
          c.u8('table type');
          if (c.u8('limits') & 1) c.u32('maximum');
          c.u32('minimum');
        } else if (kind === 2) {
          if (c.u8('limits') & 1) c.u32('maximum');
          c.u32('minimum');
        } else if (kind === 3) c.skip(2, 'global type');
        else c.fail(`unknown import kind ${kind}`);
      }
    }
  }
  return { types, imported, defined };
}

/** Rewrite a module so that its writes into freed buffers are watched (see the theory statement). */
export function instrumentModule(b: Uint8Array, what: string): InstrumentedModule {
  checkWasmHeader(b, what);
  const secs = scanSections((off, len) => b.subarray(off, off + len), b.length, what);
  const k = countsOf(b, secs, what);
  const r = new Rewrite(what, k.imported, k.defined, k.types);
  const codeSec = secs.find((s) => s.id === SEC_CODE);
  const code = codeSec ? rewriteCode(r, new WasmCursor(b.subarray(codeSec.offset, codeSec.offset + codeSec.size), what, 0, codeSec.offset)) : undefined;
  const out = new WasmWriter(b.length + b.length / 3);
  out.bytes(wasmHeader());
  let starts = new Int32Array(0);
  let pcs = new Int32Array(0);
  for (const s of secs) {
    const c = new WasmCursor(b.subarray(s.offset, s.offset + s.size), what, 0, s.offset);
    switch (s.id) {
      case SEC_TYPE:
        out.section(s.id, appendToVector(c, 'type count', HELPER_TYPES.length, (w) => {
          for (const t of HELPER_TYPES) w.u8(0x60).uleb(t.params.length).bytes(new Uint8Array(t.params)).uleb(0);
        }));
        break;
      case SEC_IMPORT:
        out.section(s.id, appendToVector(c, 'import count', 1, (w) => w.name(WATCH_MODULE).name(WATCH_FUNCTION).u8(0).uleb(r.typeIndex('watch'))));
        break;
      case SEC_FUNCTION:
        out.section(s.id, appendToVector(c, 'function count', r.helpers.length, (w) => {
          for (const h of r.helpers) w.uleb(r.typeIndex(h.type));
        }));
        break;
      case SEC_EXPORT:
        out.section(s.id, rewriteExports(r, c));
        break;
      case SEC_START:
        out.section(s.id, new WasmWriter(5).uleb(r.shift(c.u32('start function'))).result());
        break;
      case SEC_GLOBAL:
        out.section(s.id, rewriteGlobals(r, c));
        break;
      case SEC_ELEMENT:
        out.section(s.id, rewriteElements(r, c));
        break;
      case SEC_CODE: {
        const payload = code!.payload;
        const head = new WasmWriter(6).u8(SEC_CODE).uleb(payload.length).result();
        const at = out.pos + head.length;
        starts = Int32Array.from(code!.starts, (x) => x + at);
        pcs = Int32Array.from(code!.pcs);
        out.bytes(head).bytes(payload);
        break;
      }
      case SEC_CUSTOM:
        if (s.name === 'name') out.custom('name', rewriteNames(r, c));
        else if (!s.name.startsWith('.debug_')) out.custom(s.name, c.b);
        break;
      default:
        out.section(s.id, c.b);
    }
  }
  if (!secs.some((s) => s.id === SEC_IMPORT)) throw new WatchError(`${what} imports nothing: build it with kmemdb cc (docs/program.md)`);
  const bytes = out.result();
  return { bytes: new Uint8Array(bytes), map: new WatchPcMap(starts, pcs), writes: r.writes };
}

/** The module cannot be watched (a proposal the rewriter does not decode, a malformed module). */
export class WatchError extends Error {}

/** The watched copy of a module, from the cache or made (and cached) now. */
export function watchedModule(b: Uint8Array, what: string): WatchedModule {
  const sha = createHash('sha256').update(b).digest('hex');
  const dir = path.join(cacheDir(), 'watch-freed');
  const base = path.join(dir, `${sha}.v${REWRITE_VERSION}`);
  try {
    const bytes = new Uint8Array(fs.readFileSync(`${base}.wasm`));
    const map = WatchPcMap.decode(new Uint8Array(fs.readFileSync(`${base}.map`)));
    if (map) return { bytes, map };
  } catch {
    /* not cached yet */
  }
  const w = instrumentModule(b, what);
  fs.mkdirSync(dir, { recursive: true });
  for (const [ext, data] of [['.map', w.map.encode()], ['.wasm', w.bytes]] as const) {
    const tmp = `${base}${ext}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, `${base}${ext}`);
  }
  return w;
}
