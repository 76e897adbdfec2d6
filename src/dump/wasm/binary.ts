/*
 * The WebAssembly binary encoding, as much of it as the core dump format and
 * the module parser need: unsigned and signed LEB128, names (a LEB128 length
 * and UTF-8 bytes), section framing.
 *
 * Theory
 * ------
 * Every program core and every module we read may be corrupt, so the
 * cursor never trusts a length: a LEB128 longer than its type allows, or
 * with bits beyond it, is an error ("LEB128 overflow"), every length is
 * checked against the bytes left before anything is sliced or allocated,
 * and every error is a DumpFormatError naming the file and the field.  The
 * writer is the ByteWriter of the ELF dumps with the LEB128 forms added.
 */

import { ByteCursor, ByteWriter, DumpFormatError } from '../dump-format.js';

/** Largest name we accept (a corrupt length must not allocate). */
export const MAX_WASM_NAME = 1 << 16;

/** Section ids of the WebAssembly binary format. */
export const SEC_CUSTOM = 0;
export const SEC_TYPE = 1;
export const SEC_IMPORT = 2;
export const SEC_FUNCTION = 3;
export const SEC_TABLE = 4;
export const SEC_MEMORY = 5;
export const SEC_GLOBAL = 6;
export const SEC_EXPORT = 7;
export const SEC_START = 8;
export const SEC_ELEMENT = 9;
export const SEC_CODE = 10;
export const SEC_DATA = 11;
export const SEC_DATACOUNT = 12;

/** Value types. */
export const VT_I32 = 0x7f;
export const VT_I64 = 0x7e;
export const VT_F32 = 0x7d;
export const VT_F64 = 0x7c;

/* constant-expression opcodes */
export const OP_END = 0x0b;
export const OP_I32_CONST = 0x41;
export const OP_I64_CONST = 0x42;
export const OP_F32_CONST = 0x43;
export const OP_F64_CONST = 0x44;

export const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d] as const;
export const WASM_VERSION = 1;

/**
 * The dumps' bounds-checked cursor reading the WebAssembly encoding: u32 is
 * LEB128 here (so `count` checks LEB128 counts), names are LEB128-prefixed.
 */
export class WasmCursor extends ByteCursor {
  constructor(
    b: Uint8Array,
    what: string,
    start = 0,
    /** Offset of b[0] in the file, so errors give file offsets. */
    readonly base = 0,
  ) {
    super(b, what, start);
  }

  /** Unsigned LEB128 of at most 32 bits. */
  override u32(field: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const byte = this.u8(field);
      if (i === 4 && byte & 0x70) this.fail(`LEB128 overflow in ${field} (offset ${this.base + this.pos - 1})`);
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
    return this.fail(`LEB128 overflow in ${field} (offset ${this.base + this.pos - 1})`);
  }

  /** Signed LEB128 of at most 32 bits, as a signed number. */
  s32(field: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const byte = this.u8(field);
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) result -= mul;
        if (result < -0x80000000 || result > 0x7fffffff) this.fail(`LEB128 overflow in ${field} (offset ${this.base + this.pos - 1})`);
        return result;
      }
    }
    return this.fail(`LEB128 overflow in ${field} (offset ${this.base + this.pos - 1})`);
  }

  /** Signed LEB128 of at most 64 bits, as a bigint. */
  s64(field: string): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8(field);
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) result -= 1n << shift;
        return BigInt.asIntN(64, result);
      }
    }
    return this.fail(`LEB128 overflow in ${field} (offset ${this.base + this.pos - 1})`);
  }

  /** A name: LEB128 length then UTF-8. */
  name(field: string): string {
    const n = this.u32(field);
    if (n > MAX_WASM_NAME) this.fail(`${field} too long (${n} bytes)`);
    const b = this.bytes(n, field);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }
}

/** The ELF dumps' little-endian writer, with the WebAssembly forms added. */
export class WasmWriter extends ByteWriter {
  uleb(v: number): this {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`uleb: ${v}`);
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) byte |= 0x80;
      this.u8(byte);
    } while (v !== 0);
    return this;
  }

  sleb(v: number | bigint): this {
    let x = BigInt(v);
    for (;;) {
      const byte = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (byte & 0x40) === 0) || (x === -1n && (byte & 0x40) !== 0);
      this.u8(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.uleb(b.length).bytes(b);
  }

  /** One section: id, LEB128 size, payload. */
  section(id: number, payload: Uint8Array): this {
    return this.u8(id).uleb(payload.length).bytes(payload);
  }

  /** A custom section: name then payload. */
  custom(name: string, payload: Uint8Array): this {
    const n = new WasmWriter(name.length + 8).name(name).result();
    return this.u8(SEC_CUSTOM).uleb(n.length + payload.length).bytes(n).bytes(payload);
  }
}

/** The 8-byte header of every module and core. */
export function wasmHeader(): Uint8Array {
  return new Uint8Array([...WASM_MAGIC, WASM_VERSION, 0, 0, 0]);
}

/** Throw unless b starts with the WebAssembly magic and version 1. */
export function checkWasmHeader(b: Uint8Array, what: string): void {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new DumpFormatError(`${what}: not a WebAssembly file (bad magic)`);
  const v = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
  if (v !== WASM_VERSION) throw new DumpFormatError(`${what}: unsupported WebAssembly version ${v}`);
}

/** A section of a parsed file: id, custom name, payload position in the file. */
export interface WasmSection {
  readonly id: number;
  /** The custom section's name ('' for others). */
  readonly name: string;
  /** File offset of the payload (after the name for custom sections). */
  readonly offset: number;
  /** Payload bytes (after the name for custom sections). */
  readonly size: number;
}

/**
 * Walk the section headers of bytes [8, total) available through `peek`,
 * which returns the bytes at a file offset (at least `len` bytes, fewer only
 * at the end of the file).  Every section must lie inside the file.
 */
export function scanSections(peek: (off: number, len: number) => Uint8Array, total: number, what: string, maxSections = 1 << 20): WasmSection[] {
  const out: WasmSection[] = [];
  let off = 8;
  while (off < total) {
    if (out.length >= maxSections) throw new DumpFormatError(`${what}: more than ${maxSections} sections`);
    const head = peek(off, 16);
    const c = new WasmCursor(head, what, 0, off);
    const id = c.u8('section id');
    const size = c.u32('section size');
    const start = off + c.pos;
    if (start + size > total) c.fail(`section ${out.length} (id ${id}, ${size} bytes at offset ${start}) extends past the end of the file (${total} bytes)`);
    if (id > SEC_DATACOUNT) c.fail(`unknown section id ${id} at offset ${off}`);
    if (id === SEC_CUSTOM) {
      const nb = peek(start, Math.min(size, MAX_WASM_NAME + 5));
      const nc = new WasmCursor(nb.subarray(0, Math.min(nb.length, size)), `${what} custom section at offset ${start}`, 0, start);
      const name = nc.name('custom section name');
      out.push({ id, name, offset: start + nc.pos, size: size - nc.pos });
    } else out.push({ id, name: '', offset: start, size });
    off = start + size;
  }
  return out;
}
