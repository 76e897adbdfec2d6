/*
 * Writing a program core (core.N): the standard WebAssembly core dump of a
 * wasm32 program's state, with kmemdb's custom sections (core-format.ts).
 *
 * Theory
 * ------
 * The runner hands over what it knows at the moment of the error: the
 * module's bytes, the linear memory, the values of the globals it can read,
 * the wasm frames it captured, why it stops, and, when the program used
 * kmemdb's allocator, the C types of the allocator's structures and the
 * symbols of its globals.  The module gives the rest: function names and
 * code addresses, the memory's maximum, the globals' types and initial
 * values, the stack's extent (__data_end .. initial __stack_pointer).
 *
 * Memory is written in place: the Data section's segments are written
 * straight from the caller's buffer (no copy), one segment per run of
 * non-zero CORE_BLOCK blocks, so a core costs the memory's non-zero bytes
 * plus a few bytes per run, and a 1 GiB memory is written at disk speed.
 * The file is numbered as savecore numbers dumps (numbering.ts): `core.N`,
 * never overwriting, `bounds` advanced after.
 */

import * as fs from 'node:fs';
import type { TypeTable } from '../../ctf/ctf.js';
import { writeNumbered } from '../numbering.js';
import { SEC_DATA, SEC_GLOBAL, SEC_MEMORY, VT_F32, VT_F64, VT_I32, VT_I64, OP_END, OP_F32_CONST, OP_F64_CONST, OP_I32_CONST, OP_I64_CONST, WasmWriter, wasmHeader } from './binary.js';
import {
  CORE_BLOCK,
  HOST_FUNCTION,
  SEC_NAME_CORE,
  SEC_NAME_CORESTACK,
  SEC_NAME_CTF,
  SEC_NAME_INFO,
  SEC_NAME_SYMBOLS,
  WASM_PAGE,
  encodeCorestack,
  encodeInfo,
  encodeProcessInfo,
  encodeSymbols,
  type CoreFrame,
  type CoreReasonKind,
  type CoreSymbol,
  } from './core-format.js';
import { EXPORT_GLOBAL, WASM_TEXT_BASE, exportedGlobalInit, moduleDataSymbols, parseWasmModule, type WasmModuleInfo } from './module.js';

export interface WasmCoreInput {
  /** The program's module: its bytes, or parsed once by parseWasmModule. */
  readonly module: Uint8Array | WasmModuleInfo;
  readonly programName: string;
  readonly argv: readonly string[];
  /** The linear memory (a whole number of 64 KiB pages). */
  readonly memory: Uint8Array;
  /** Values of the globals the host could read, by name (`__stack_pointer`) or export name. */
  readonly globals?: Readonly<Record<string, number | bigint>>;
  /** Wasm frames, innermost first. */
  readonly frames: readonly CoreFrame[];
  readonly reason: { readonly kind: CoreReasonKind; readonly message: string; readonly report?: string; readonly exitStatus?: number };
  /** C types of the allocator's structures (ILP32), when the program used kmemdb's allocator. */
  readonly types?: TypeTable;
  /**
   * The allocator's symbols: its globals in linear memory (kind 'object',
   * the default) and its host functions (kind 'func': the allocator's
   * frames in audit stacks, at host-text addresses).
   */
  readonly symbols?: ReadonlyArray<CoreSymbol & { readonly kind?: 'func' | 'object' }>;
  /** Seconds since the epoch (seeded clock); default 0. */
  readonly time?: number;
  /** Thread name in corestack (default "main"). */
  readonly thread?: string;
}

export interface WasmCoreInfo {
  readonly index: number;
  readonly path: string;
  /** Bytes of the file, and of memory written as data segments. */
  readonly fileBytes: number;
  readonly memoryBytes: number;
  readonly segments: number;
}

/** Runs [start, end) of non-zero CORE_BLOCK blocks. */
export function nonZeroRuns(mem: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const aligned = mem.byteOffset % 4 === 0;
  const u32 = aligned ? new Uint32Array(mem.buffer, mem.byteOffset, mem.length >>> 2) : undefined;
  const blockZero = (b: number): boolean => {
    const end = Math.min(b + CORE_BLOCK, mem.length);
    if (u32 && end % 4 === 0) {
      for (let i = b >>> 2, e = end >>> 2; i < e; i++) if (u32[i] !== 0) return false;
      return true;
    }
    for (let i = b; i < end; i++) if (mem[i] !== 0) return false;
    return true;
  };
  let runStart = -1;
  for (let b = 0; b < mem.length; b += CORE_BLOCK) {
    const z = blockZero(b);
    if (!z && runStart < 0) runStart = b;
    if (z && runStart >= 0) {
      out.push([runStart, b]);
      runStart = -1;
    }
  }
  if (runStart >= 0) out.push([runStart, mem.length]);
  return out;
}

function constGlobal(w: WasmWriter, type: number, v: number | bigint): void {
  w.u8(type).u8(0);
  if (type === VT_I32) w.u8(OP_I32_CONST).sleb(Number(BigInt.asIntN(32, BigInt(typeof v === 'number' ? Math.trunc(v) : v))));
  else if (type === VT_I64) w.u8(OP_I64_CONST).sleb(BigInt.asIntN(64, BigInt(typeof v === 'number' ? Math.trunc(v) : v)));
  else if (type === VT_F32) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, Number(v), true);
    w.u8(OP_F32_CONST).bytes(b);
  } else if (type === VT_F64) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, Number(v), true);
    w.u8(OP_F64_CONST).bytes(b);
  } else throw new RangeError(`global of type 0x${type.toString(16)} cannot be written`);
  w.u8(OP_END);
}

function globalSection(mod: WasmModuleInfo, given: Readonly<Record<string, number | bigint>>): Uint8Array {
  const byIndex = new Map<number, number | bigint>();
  for (const [name, e] of mod.exports) if (e.kind === EXPORT_GLOBAL && name in given) byIndex.set(e.index, given[name]!);
  const w = new WasmWriter(64 + mod.globals.length * 8);
  const writable = mod.globals.filter((g) => g.type === VT_I32 || g.type === VT_I64 || g.type === VT_F32 || g.type === VT_F64);
  w.uleb(writable.length);
  for (const g of writable) {
    const v = (g.name !== undefined && g.name in given ? given[g.name] : undefined) ?? byIndex.get(g.index) ?? g.init ?? 0;
    constGlobal(w, g.type, v);
  }
  return w.result();
}

function memorySection(pages: number, max: number | undefined): Uint8Array {
  const w = new WasmWriter(16).uleb(1);
  if (max !== undefined) w.u8(1).uleb(pages).uleb(Math.max(max, pages));
  else w.u8(0).uleb(pages);
  return w.result();
}

function stackTopOf(mod: WasmModuleInfo): number {
  const g = mod.globals.find((x) => x.name === '__stack_pointer');
  return typeof g?.init === 'number' ? g.init >>> 0 : 0;
}

function writeAllSync(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Write the core to an open file; returns bytes written and segment figures. */
function writeCoreFile(fd: number, input: WasmCoreInput, mod: WasmModuleInfo): { fileBytes: number; memoryBytes: number; segments: number } {
  const mem = input.memory;
  if (mem.length % WASM_PAGE !== 0) throw new RangeError(`core: memory of ${mem.length} bytes is not a whole number of 64 KiB pages`);
  const head = new WasmWriter(1 << 16);
  head.bytes(wasmHeader());
  head.custom(SEC_NAME_CORE, encodeProcessInfo(input.programName));
  const frames = input.frames.map((f) => ({ ...f, locals: mod.functions[f.funcIndex - mod.importedFunctions.length]?.locals ?? 0 }));
  head.custom(SEC_NAME_CORESTACK, encodeCorestack(input.thread ?? 'main', frames));
  head.custom(
    SEC_NAME_INFO,
    encodeInfo({
      moduleSha256: mod.sha256,
      program: input.programName,
      argv: input.argv,
      reason: input.reason.kind,
      message: input.reason.message,
      report: input.reason.report ?? '',
      exitStatus: input.reason.exitStatus ?? 0,
      time: Math.max(0, Math.min(0xffffffff, Math.floor(input.time ?? 0))),
      stackTop: stackTopOf(mod),
      stackBottom: exportedGlobalInit(mod, '__data_end') ?? 0,
      heapBase: exportedGlobalInit(mod, '__heap_base') ?? 0,
    }),
  );
  const given = input.symbols ?? [];
  const functions = [
    ...mod.functions.map((f) => ({ index: f.index, name: f.name, value: f.addr, size: f.size })),
    ...given.filter((s) => s.kind === 'func').map((s) => ({ index: HOST_FUNCTION, name: s.name, value: s.value, size: s.size })),
  ];
  const objects = [...moduleDataSymbols(mod), ...given.filter((s) => s.kind !== 'func').map((s) => ({ name: s.name, value: s.value, size: s.size }))];
  head.custom(SEC_NAME_SYMBOLS, encodeSymbols({ textBase: WASM_TEXT_BASE, functions, objects }));
  if (input.types) head.custom(SEC_NAME_CTF, input.types.serialize());
  head.section(SEC_MEMORY, memorySection(mem.length / WASM_PAGE, mod.memory?.max));
  head.section(SEC_GLOBAL, globalSection(mod, input.globals ?? {}));

  const runs = nonZeroRuns(mem);
  const segHeads = runs.map(([s, e]) => new WasmWriter(16).uleb(0).u8(OP_I32_CONST).sleb(s | 0).u8(OP_END).uleb(e - s).result());
  let payload = new WasmWriter(8).uleb(runs.length).result().length;
  let memoryBytes = 0;
  runs.forEach(([s, e], i) => {
    payload += segHeads[i]!.length + (e - s);
    memoryBytes += e - s;
  });
  head.u8(SEC_DATA).uleb(payload).uleb(runs.length);
  const first = head.result();
  writeAllSync(fd, first);
  runs.forEach(([s, e], i) => {
    writeAllSync(fd, segHeads[i]!);
    writeAllSync(fd, mem.subarray(s, e));
  });
  return { fileBytes: fs.fstatSync(fd).size, memoryBytes, segments: runs.length };
}

/** Write core.N into dir (created if needed), N from `bounds`; never overwrites. */
export function writeWasmCore(dir: string, input: WasmCoreInput): WasmCoreInfo {
  const mod = input.module instanceof Uint8Array ? parseWasmModule(input.module, 'program module') : input.module;
  const { index, paths, result } = writeNumbered(dir, ['core'], ([tmp]) => {
    const fd = fs.openSync(tmp!, 'wx');
    try {
      return writeCoreFile(fd, input, mod);
    } finally {
      fs.closeSync(fd);
    }
  });
  return { index, path: paths[0]!, ...result };
}
