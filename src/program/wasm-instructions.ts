/*
 * A decoder of WebAssembly instructions, for the store watcher's rewriter
 * (watch-freed.ts): it tells where each instruction starts and ends and
 * picks out what a rewrite must change, the memory writes and the function
 * indices; everything else is copied byte for byte.
 *
 * Theory
 * ------
 * An instruction is an opcode byte (or a prefix byte and a LEB128
 * sub-opcode) followed by immediates whose shape the opcode fixes.  The
 * decoder knows the immediates of the core instruction set as clang emits
 * it for wasm32 (MVP, sign extension, non-trapping float-to-int, bulk
 * memory, reference types, multi-value block types, tail calls).  Proposals
 * a C program built with `kmemdb cc` does not use unless asked (SIMD with
 * -msimd128, threads' atomics, exception handling, GC types, multiple
 * memories) are refused with a one-line error naming the instruction: the
 * rewriter cannot watch stores it cannot decode.
 */

import { WasmCursor } from '../dump/wasm/binary.js';

/** The opcodes the rewriter treats specially. */
export const OP_CALL = 0x10;
export const OP_RETURN_CALL = 0x12;
export const OP_REF_FUNC = 0xd2;
export const OP_PREFIX_FC = 0xfc;
export const FC_MEMORY_INIT = 8;
export const FC_MEMORY_COPY = 10;
export const FC_MEMORY_FILL = 11;

/** A store: its opcode's name, the bytes it writes and the type of its value operand. */
export interface StoreOp {
  readonly name: string;
  readonly bytes: number;
  readonly value: 'i32' | 'i64' | 'f32' | 'f64';
}

/** The plain stores, by opcode (0x36 i32.store ... 0x3e i64.store32). */
export const STORES: ReadonlyMap<number, StoreOp> = new Map([
  [0x36, { name: 'i32.store', bytes: 4, value: 'i32' }],
  [0x37, { name: 'i64.store', bytes: 8, value: 'i64' }],
  [0x38, { name: 'f32.store', bytes: 4, value: 'f32' }],
  [0x39, { name: 'f64.store', bytes: 8, value: 'f64' }],
  [0x3a, { name: 'i32.store8', bytes: 1, value: 'i32' }],
  [0x3b, { name: 'i32.store16', bytes: 2, value: 'i32' }],
  [0x3c, { name: 'i64.store8', bytes: 1, value: 'i64' }],
  [0x3d, { name: 'i64.store16', bytes: 2, value: 'i64' }],
  [0x3e, { name: 'i64.store32', bytes: 4, value: 'i64' }],
]);

/** The bulk-memory writes, by sub-opcode of 0xfc. */
export const BULK_WRITES: ReadonlyMap<number, string> = new Map([
  [FC_MEMORY_INIT, 'memory.init'],
  [FC_MEMORY_COPY, 'memory.copy'],
  [FC_MEMORY_FILL, 'memory.fill'],
]);

/** One decoded instruction: its extent and the immediates a rewrite may need. */
export interface Instruction {
  /** Offset of its first byte, and of the byte after it, in the cursor's array. */
  readonly start: number;
  readonly end: number;
  readonly op: number;
  /** The sub-opcode of a prefixed (0xfc) instruction. */
  readonly sub?: number;
  /** A function index immediate (call, return_call, ref.func). */
  readonly func?: number;
  /** A load's or store's memory argument. */
  readonly memarg?: { readonly align: number; readonly offset: number };
  /** memory.init's data segment. */
  readonly segment?: number;
}

/** An instruction the decoder refuses (a proposal the rewriter does not handle). */
export class UnsupportedInstruction extends Error {}

function refuse(c: WasmCursor, at: number, what: string): never {
  throw new UnsupportedInstruction(`${what} (at 0x${(c.base + at).toString(16)} in the module)`);
}

/** The one-byte value types: i32, i64, f32, f64, v128, funcref, externref. */
const VALUE_TYPES: ReadonlySet<number> = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);

/** A block type: 0x40 (none), a value type byte, or a type index (s33, non-negative). */
function blockType(c: WasmCursor): void {
  const b = c.b[c.pos]!;
  if (b === 0x40 || VALUE_TYPES.has(b)) c.pos++;
  else if (c.s64('block type') < 0n) c.fail('bad block type');
}

function memarg(c: WasmCursor, at: number): { align: number; offset: number } {
  const align = c.u32('memory alignment');
  if (align & 0x40) refuse(c, at, 'a memory index (multiple memories)');
  return { align, offset: c.u32('memory offset') };
}

function zeroByte(c: WasmCursor, at: number): void {
  if (c.u32('memory index') !== 0) refuse(c, at, 'a memory index (multiple memories)');
}

/** The 0xfc instructions' immediates (saturating truncations, bulk memory, tables). */
function prefixFc(c: WasmCursor, start: number): Instruction {
  const sub = c.u32('0xfc sub-opcode');
  const done = (extra: Partial<Instruction> = {}): Instruction => ({ start, end: c.pos, op: OP_PREFIX_FC, sub, ...extra });
  if (sub <= 7) return done();
  switch (sub) {
    case FC_MEMORY_INIT: {
      const segment = c.u32('data index');
      zeroByte(c, start);
      return done({ segment });
    }
    case 9: /* data.drop */
    case 13: /* elem.drop */
    case 15: /* table.grow */
    case 16: /* table.size */
    case 17 /* table.fill */:
      c.u32('index');
      return done();
    case FC_MEMORY_COPY:
      zeroByte(c, start);
      zeroByte(c, start);
      return done();
    case FC_MEMORY_FILL:
      zeroByte(c, start);
      return done();
    case 12: /* table.init */
    case 14 /* table.copy */:
      c.u32('index');
      c.u32('index');
      return done();
    default:
      return refuse(c, start, `instruction 0xfc ${sub}`);
  }
}

/** Decode the instruction at the cursor and move past it. */
export function decodeInstruction(c: WasmCursor): Instruction {
  const start = c.pos;
  const op = c.u8('opcode');
  const done = (extra: Partial<Instruction> = {}): Instruction => ({ start, end: c.pos, op, ...extra });
  if (op >= 0x45 && op <= 0xc4) return done(); /* numeric, no immediates */
  if (op >= 0x28 && op <= 0x3e) return done({ memarg: memarg(c, start) });
  switch (op) {
    case 0x00: /* unreachable */
    case 0x01: /* nop */
    case 0x05: /* else */
    case 0x0b: /* end */
    case 0x0f: /* return */
    case 0x1a: /* drop */
    case 0x1b: /* select */
    case 0xd1 /* ref.is_null */:
      return done();
    case 0x02: /* block */
    case 0x03: /* loop */
    case 0x04 /* if */:
      blockType(c);
      return done();
    case 0x0c: /* br */
    case 0x0d: /* br_if */
    case 0x20: /* local.get */
    case 0x21: /* local.set */
    case 0x22: /* local.tee */
    case 0x23: /* global.get */
    case 0x24: /* global.set */
    case 0x25: /* table.get */
    case 0x26 /* table.set */:
      c.u32('index');
      return done();
    case 0x0e: {
      /* br_table */
      const n = c.count('br_table size', 1);
      for (let i = 0; i <= n; i++) c.u32('label');
      return done();
    }
    case OP_CALL:
    case OP_RETURN_CALL:
    case OP_REF_FUNC:
      return done({ func: c.u32('function index') });
    case 0x11: /* call_indirect */
    case 0x13 /* return_call_indirect */:
      c.u32('type index');
      c.u32('table index');
      return done();
    case 0x1c: {
      /* select t* */
      const n = c.count('select types', 1);
      for (let i = 0; i < n; i++) if (!VALUE_TYPES.has(c.u8('value type'))) refuse(c, start, 'a typed select of GC reference types');
      return done();
    }
    case 0x3f: /* memory.size */
    case 0x40 /* memory.grow */:
      zeroByte(c, start);
      return done();
    case 0x41:
      c.s32('i32.const');
      return done();
    case 0x42:
      c.s64('i64.const');
      return done();
    case 0x43:
      c.skip(4, 'f32.const');
      return done();
    case 0x44:
      c.skip(8, 'f64.const');
      return done();
    case 0xd0 /* ref.null */:
      c.u8('heap type');
      return done();
    case OP_PREFIX_FC:
      return prefixFc(c, start);
    case 0xfd:
      return refuse(c, start, 'a SIMD (v128) instruction');
    case 0xfe:
      return refuse(c, start, 'an atomic (threads) instruction');
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x18:
    case 0x19:
    case 0x1f:
      return refuse(c, start, `an exception-handling instruction (0x${op.toString(16)})`);
    default:
      return refuse(c, start, `unknown opcode 0x${op.toString(16)}`);
  }
}
