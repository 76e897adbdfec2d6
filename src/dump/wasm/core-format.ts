/*
 * The program core file: the standard WebAssembly core dump (tool-conventions
 * Coredump.md) plus kmemdb's own custom sections.
 *
 * Theory
 * ------
 * A core is a WebAssembly binary that is not meant to be instantiated:
 *
 *   custom `core`          0x00, the program's name
 *   custom `corestack`     0x00, thread name, vec(frame); a frame is 0x00
 *                          funcidx codeoffset vec(locals) vec(stack), each
 *                          value a type byte (0x01: missing) and its bytes
 *   custom `kmemdb.info`   what happened (KMEMDB_INFO below)
 *   custom `kmemdb.symbols` code addresses of the functions, and object
 *                          symbols: the allocator's globals, data segments
 *   custom `kmemdb.ctf`    the C types of the allocator's structures (the
 *                          type table serialised as in unix.N's .kmemdb_ctf)
 *   Memory section         the linear memory's limits (min = its size in pages)
 *   Global section         every defined global as a constant (the value
 *                          at the dump for those the host can read, above
 *                          all __stack_pointer; the initial value otherwise)
 *   Data section           the memory's non-zero 4 KiB-aligned runs as
 *                          active segments; everything else is zero
 *
 * Readers that do not know kmemdb's sections skip them (wabt does).  Their
 * layouts, in the WebAssembly encoding (u32 = LEB128, name = LEB128 length +
 * UTF-8) are given with the encoders below and in docs/wasm-core.md.
 */

import { TypeTable } from '../../ctf/ctf.js';
import { ILP32 } from '../../machine/memory.js';
import { DumpFormatError } from '../dump-format.js';
import { WasmCursor, WasmWriter } from './binary.js';
import { WASM_TEXT_BASE } from './module.js';

export const SEC_NAME_CORE = 'core';
export const SEC_NAME_CORESTACK = 'corestack';
export const SEC_NAME_INFO = 'kmemdb.info';
export const SEC_NAME_SYMBOLS = 'kmemdb.symbols';
export const SEC_NAME_CTF = 'kmemdb.ctf';

export const KMEMDB_CORE_VERSION = 1;
export const WASM_PAGE = 65536;
/** Granularity of the zero runs left out of the Data section. */
export const CORE_BLOCK = 4096;
/** Largest report text kept in kmemdb.info. */
export const MAX_REPORT = 1 << 20;

/** Value type byte of a missing value. */
export const VALUE_MISSING = 0x01;

/** Why the core was written. */
export type CoreReasonKind = 'snapshot' | 'umem' | 'trap' | 'abort' | 'exit' | 'watch';
const REASONS: readonly CoreReasonKind[] = ['snapshot', 'umem', 'trap', 'abort', 'exit', 'watch'];

/** kmemdb.info: what happened, to which program. */
export interface CoreInfo {
  /** sha256 (hex) of the program's module. */
  readonly moduleSha256: string;
  readonly program: string;
  readonly argv: readonly string[];
  readonly reason: CoreReasonKind;
  /** One line: the umem error, the trap message, "abort()", ... */
  readonly message: string;
  /** The whole report as printed (libumem's message buffer), possibly ''. */
  readonly report: string;
  readonly exitStatus: number;
  /** Seconds since the epoch (of the seeded clock). */
  readonly time: number;
  /** The stack's top (initial __stack_pointer) and bottom (__data_end), 0 when unknown. */
  readonly stackTop: number;
  readonly stackBottom: number;
  /** __heap_base, 0 when unknown. */
  readonly heapBase: number;
}

/*
 * kmemdb.info layout:
 *   u32 version (1), name module_sha256, name program, vec(name) argv,
 *   u8 reason (0 snapshot, 1 umem, 2 trap, 3 abort, 4 exit, 5 watch: a write
 *   into a freed buffer stopped by `kmemdb run --watch-freed`), name message,
 *   u32 report length + UTF-8 report, s32 exit status, u64 time,
 *   u32 stack top, u32 stack bottom, u32 heap base
 */
export function encodeInfo(i: CoreInfo): Uint8Array {
  const w = new WasmWriter(256);
  w.uleb(KMEMDB_CORE_VERSION).name(i.moduleSha256).name(i.program);
  w.uleb(i.argv.length);
  for (const a of i.argv) w.name(a);
  w.u8(REASONS.indexOf(i.reason)).name(i.message);
  const rep = new TextEncoder().encode(i.report.length > MAX_REPORT ? i.report.slice(0, MAX_REPORT) : i.report);
  w.uleb(rep.length).bytes(rep);
  w.sleb(i.exitStatus).uleb(i.time).uleb(i.stackTop).uleb(i.stackBottom).uleb(i.heapBase);
  return w.result();
}

export function decodeInfo(c: WasmCursor): CoreInfo {
  const v = c.u32('version');
  if (v !== KMEMDB_CORE_VERSION) c.fail(`unsupported version ${v}`);
  const moduleSha256 = c.name('module hash');
  const program = c.name('program');
  const n = c.count('argument count', 1);
  const argv: string[] = [];
  for (let k = 0; k < n; k++) argv.push(c.name('argument'));
  const r = c.u8('reason');
  const reason = REASONS[r];
  if (reason === undefined) c.fail(`unknown reason ${r}`);
  const message = c.name('message');
  const rl = c.u32('report length');
  if (rl > MAX_REPORT * 4) c.fail(`report too long (${rl} bytes)`);
  let report: string;
  try {
    report = new TextDecoder('utf-8', { fatal: true }).decode(c.bytes(rl, 'report'));
  } catch (e) {
    if (e instanceof DumpFormatError) throw e;
    return c.fail('report is not valid UTF-8');
  }
  const exitStatus = c.s32('exit status');
  const time = c.u32('time');
  return { moduleSha256, program, argv, reason, message, report, exitStatus, time, stackTop: c.u32('stack top'), stackBottom: c.u32('stack bottom'), heapBase: c.u32('heap base') };
}

/** The funcidx of a host function (the allocator's, outside the module) in kmemdb.symbols. */
export const HOST_FUNCTION = 0xffffffff;

/** A symbol of kmemdb.symbols. */
export interface CoreSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
}

export interface CoreFunctionSymbol extends CoreSymbol {
  /** Function index in the module. */
  readonly index: number;
}

export interface CoreSymbols {
  readonly textBase: number;
  readonly functions: readonly CoreFunctionSymbol[];
  readonly objects: readonly CoreSymbol[];
}

/*
 * kmemdb.symbols layout:
 *   u32 text base (0xf0000000), vec(u32 funcidx, u32 address, u32 size, name),
 *   vec(u32 address, u32 size, name); funcidx 0xffffffff (HOST_FUNCTION) is a
 *   function of the host (the allocator's own, in audit stacks)
 */
export function encodeSymbols(s: CoreSymbols): Uint8Array {
  const w = new WasmWriter(4096);
  w.uleb(s.textBase).uleb(s.functions.length);
  for (const f of s.functions) w.uleb(f.index).uleb(f.value).uleb(f.size).name(f.name);
  w.uleb(s.objects.length);
  for (const o of s.objects) w.uleb(o.value).uleb(o.size).name(o.name);
  return w.result();
}

export function decodeSymbols(c: WasmCursor): CoreSymbols {
  const textBase = c.u32('text base');
  if (textBase !== WASM_TEXT_BASE) c.fail(`unsupported text base 0x${textBase.toString(16)}`);
  const nf = c.count('function count', 4);
  const functions: CoreFunctionSymbol[] = [];
  for (let i = 0; i < nf; i++) {
    const index = c.u32('function index');
    const value = c.u32('function address');
    const size = c.u32('function size');
    functions.push({ index, value, size, name: c.name('function name') });
  }
  const no = c.count('object count', 3);
  const objects: CoreSymbol[] = [];
  for (let i = 0; i < no; i++) {
    const value = c.u32('object address');
    const size = c.u32('object size');
    objects.push({ value, size, name: c.name('object name') });
  }
  return { textBase, functions, objects };
}

/** kmemdb.ctf: the type table's serialisation (ILP32). */
export function decodeTypes(b: Uint8Array): TypeTable {
  return TypeTable.deserialize(b, ILP32);
}

/** One frame of a corestack section. */
export interface CoreFrame {
  readonly funcIndex: number;
  /** Offset of the instruction from the function body's start. */
  readonly codeOffset: number;
}

export interface CoreStack {
  readonly thread: string;
  readonly frames: readonly CoreFrame[];
}

/** corestack: 0x00 thread-name vec(frame); locals written as `locals` missing values, no stack values. */
export function encodeCorestack(thread: string, frames: ReadonlyArray<CoreFrame & { readonly locals: number }>): Uint8Array {
  const w = new WasmWriter(64 + frames.length * 8);
  w.u8(0).name(thread).uleb(frames.length);
  for (const f of frames) {
    w.u8(0).uleb(f.funcIndex).uleb(f.codeOffset).uleb(f.locals);
    for (let i = 0; i < f.locals; i++) w.u8(VALUE_MISSING);
    w.uleb(0);
  }
  return w.result();
}

function skipValues(c: WasmCursor, field: string): void {
  const n = c.count(field, 1);
  for (let i = 0; i < n; i++) {
    const t = c.u8(`${field} value type`);
    if (t === VALUE_MISSING) continue;
    if (t === 0x7f) c.s32(field);
    else if (t === 0x7e) c.s64(field);
    else if (t === 0x7d) c.skip(4, field);
    else if (t === 0x7c) c.skip(8, field);
    else c.fail(`bad value type 0x${t.toString(16)} in ${field}`);
  }
}

export function decodeCorestack(c: WasmCursor): CoreStack {
  if (c.u8('thread info') !== 0) c.fail('unsupported thread info');
  const thread = c.name('thread name');
  const n = c.count('frame count', 5);
  const frames: CoreFrame[] = [];
  for (let i = 0; i < n; i++) {
    if (c.u8('frame') !== 0) c.fail(`unsupported frame kind in frame ${i}`);
    const funcIndex = c.u32('funcidx');
    const codeOffset = c.u32('codeoffset');
    skipValues(c, 'locals');
    skipValues(c, 'stack');
    frames.push({ funcIndex, codeOffset });
  }
  return { thread, frames };
}

/** core: 0x00 executable-name. */
export function encodeProcessInfo(program: string): Uint8Array {
  return new WasmWriter(program.length + 8).u8(0).name(program).result();
}

export function decodeProcessInfo(c: WasmCursor): string {
  if (c.u8('process info') !== 0) c.fail('unsupported process info');
  return c.name('executable name');
}
