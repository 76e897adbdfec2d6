/*
 * What mdb learns from a program's WebAssembly module: its functions (with
 * names from the `name` section and their bodies' place in the Code
 * section), its globals and exports, its memory limits and its data
 * segments.
 *
 * Theory
 * ------
 * Code addresses.  WebAssembly code is not in linear memory, so a function
 * has no address a C pointer could hold.  Wasm DWARF gives each instruction
 * the *code address* = its byte offset from the start of the Code section's
 * payload.  kmemdb adds WASM_TEXT_BASE (0xf0000000) to it so that a
 * recorded pc never aliases a linear-memory address: an audit record's
 * pc_t, a `$c` frame, a function symbol's value all use this one
 * convention, and `function+0xoff` (off from the start of the function's
 * body) is what mdb prints.  Code up to 256 MiB fits below 2^32; linear
 * memories above 3.75 GiB would overlap the text range (docs/wasm-core.md).
 *
 * Data symbols.  Without DWARF, the module names its data segments
 * (`.rodata`, `.data`, ...) in the name section and exports `__data_end`,
 * `__heap_base` and `__stack_pointer`; the active segments' ranges become
 * object symbols, so `::whatis` of a static address names its segment.
 *
 * Validation: a module is read whole (it is small next to a core) and
 * checked as a core is: every LEB128, count and length bounded by the bytes
 * present; errors are DumpFormatError naming the file and the field.
 */

import { createHash } from 'node:crypto';
import { DumpFormatError } from '../dump-format.js';
import {
  OP_END,
  OP_F32_CONST,
  OP_F64_CONST,
  OP_I32_CONST,
  OP_I64_CONST,
  SEC_CODE,
  SEC_CUSTOM,
  SEC_DATA,
  SEC_EXPORT,
  SEC_FUNCTION,
  SEC_GLOBAL,
  SEC_IMPORT,
  SEC_MEMORY,
  SEC_TYPE,
  WasmCursor,
  checkWasmHeader,
  scanSections,
  type WasmSection,
} from './binary.js';

/** Where code addresses start (see the theory statement). */
export const WASM_TEXT_BASE = 0xf0000000;
/** Most locals a function may declare (the engines' limit). */
export const MAX_LOCALS = 50000;
/** Largest module accepted. */
export const MAX_MODULE_BYTES = 256 * 1024 * 1024;

export interface WasmFunction {
  /** Index in the function index space (imports first). */
  readonly index: number;
  readonly name: string;
  /** Code address of the body start (WASM_TEXT_BASE + offset in the Code payload). */
  readonly addr: number;
  /** File offset of the body start in the module (what V8's positions count from). */
  readonly bodyOffset: number;
  /** Body size in bytes. */
  readonly size: number;
  /** Parameters plus declared locals (what a core frame's locals vector holds). */
  readonly locals: number;
}

export interface WasmGlobalDef {
  readonly index: number;
  readonly name?: string;
  readonly type: number;
  readonly mutable: boolean;
  /** Initial value of an i32/i64 constant global (undefined if not a constant). */
  readonly init?: number | bigint;
}

export interface WasmDataSegment {
  readonly name?: string;
  /** Address of an active segment in memory 0 (undefined if passive). */
  readonly addr?: number;
  readonly size: number;
}

/** An import: module, name and kind (0 function, 1 table, 2 memory, 3 global). */
export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: number;
}

export interface WasmModuleInfo {
  /** sha256 of the module's bytes, in hex. */
  readonly sha256: string;
  readonly moduleName?: string;
  readonly imports: readonly WasmImport[];
  /** Imported functions as `module.name` (they come first in the index space). */
  readonly importedFunctions: readonly string[];
  /** Defined functions, in index order. */
  readonly functions: readonly WasmFunction[];
  readonly globals: readonly WasmGlobalDef[];
  readonly exports: ReadonlyMap<string, { readonly kind: number; readonly index: number }>;
  readonly memory?: { readonly min: number; readonly max?: number };
  readonly data: readonly WasmDataSegment[];
  /** File offset of the Code section's payload (code address 0). */
  readonly codeOffset: number;
  /** The DWARF custom sections (`.debug_info`, `.debug_abbrev`, ...) by name, when built with -g. */
  readonly debug: ReadonlyMap<string, Uint8Array>;
}

export const EXPORT_FUNC = 0;
export const EXPORT_GLOBAL = 3;

/** Skip a constant expression, returning its value when it is one i32/i64 constant. */
export function constExpr(c: WasmCursor, field: string): number | bigint | undefined {
  let value: number | bigint | undefined;
  for (let n = 0; ; n++) {
    if (n > 64) c.fail(`${field}: constant expression too long`);
    const op = c.u8(field);
    if (op === OP_END) return n === 1 ? value : undefined;
    if (op === OP_I32_CONST) value = c.s32(field);
    else if (op === OP_I64_CONST) value = c.s64(field);
    else if (op === OP_F32_CONST) c.skip(4, field);
    else if (op === OP_F64_CONST) c.skip(8, field);
    else if (op === 0x23 || op === 0xd2) c.u32(field); // global.get, ref.func
    else if (op === 0xd0) c.u8(field); // ref.null t
    else if (op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e) value = undefined; // extended-const arithmetic
    else c.fail(`${field}: unsupported opcode 0x${op.toString(16)} in a constant expression`);
  }
}

/** Memory limits: flags, min, [max]. */
export function limits(c: WasmCursor, field: string): { min: number; max?: number } {
  const flags = c.u8(`${field} flags`);
  if (flags & ~0x03) c.fail(`${field}: unsupported limits flags 0x${flags.toString(16)}`);
  const min = c.u32(`${field} min`);
  return flags & 1 ? { min, max: c.u32(`${field} max`) } : { min };
}

function sectionBytes(b: Uint8Array, s: WasmSection): Uint8Array {
  return b.subarray(s.offset, s.offset + s.size);
}

/** The name section's maps (subsections 1 functions, 7 globals, 9 data segments). */
function parseNames(c: WasmCursor): { module?: string; funcs: Map<number, string>; globals: Map<number, string>; data: Map<number, string> } {
  const out = { module: undefined as string | undefined, funcs: new Map<number, string>(), globals: new Map<number, string>(), data: new Map<number, string>() };
  while (c.remaining > 0) {
    const id = c.u8('name subsection id');
    const size = c.u32('name subsection size');
    const sub = new WasmCursor(c.bytes(size, 'name subsection'), c.what, 0, c.base + c.pos - size);
    if (id === 0) out.module = sub.name('module name');
    else if (id === 1 || id === 7 || id === 9) {
      const map = id === 1 ? out.funcs : id === 7 ? out.globals : out.data;
      const n = sub.count('name map count', 2);
      for (let i = 0; i < n; i++) {
        const idx = sub.u32('name map index');
        map.set(idx, sub.name('name'));
      }
    }
  }
  return out;
}

/** Parse a program module (the whole file in b). */
export function parseWasmModule(b: Uint8Array, what: string): WasmModuleInfo {
  if (b.length > MAX_MODULE_BYTES) throw new DumpFormatError(`${what}: implausibly large module (${b.length} bytes)`);
  checkWasmHeader(b, what);
  const secs = scanSections((off, len) => b.subarray(off, off + len), b.length, what);
  const importedFunctions: string[] = [];
  const imports: WasmImport[] = [];
  let importedGlobals = 0;
  const typeParams: number[] = [];
  let funcTypes: number[] = [];
  const globals: WasmGlobalDef[] = [];
  const exports = new Map<string, { kind: number; index: number }>();
  let memory: { min: number; max?: number } | undefined;
  const data: Array<{ addr?: number; size: number }> = [];
  const bodies: Array<{ addr: number; size: number; locals: number }> = [];
  let codeOffset = 0;
  let names: ReturnType<typeof parseNames> | undefined;
  const debug = new Map<string, Uint8Array>();
  for (const s of secs) {
    const c = new WasmCursor(sectionBytes(b, s), what, 0, s.offset);
    switch (s.id) {
      case SEC_IMPORT: {
        const n = c.count('import count', 4);
        for (let i = 0; i < n; i++) {
          const mod = c.name('import module');
          const field = c.name('import name');
          const kind = c.u8('import kind');
          imports.push({ module: mod, name: field, kind });
          if (kind === 0) {
            c.u32('import type');
            importedFunctions.push(`${mod}.${field}`);
          } else if (kind === 1) {
            c.u8('table type');
            limits(c, 'table');
          } else if (kind === 2) memory = limits(c, 'imported memory');
          else if (kind === 3) {
            c.u8('global type');
            c.u8('global mutability');
            importedGlobals++;
          } else c.fail(`unknown import kind ${kind}`);
        }
        break;
      }
      case SEC_TYPE: {
        const n = c.count('type count', 3);
        for (let i = 0; i < n; i++) {
          if (c.u8('type form') !== 0x60) c.fail('unsupported type form');
          const np = c.count('parameter count', 1);
          c.skip(np, 'parameter types');
          c.skip(c.count('result count', 1), 'result types');
          typeParams.push(np);
        }
        break;
      }
      case SEC_FUNCTION: {
        const n = c.count('function count', 1);
        funcTypes = [];
        for (let i = 0; i < n; i++) funcTypes.push(c.u32('function type'));
        break;
      }
      case SEC_MEMORY:
        if (c.count('memory count', 2) > 0) memory = limits(c, 'memory');
        break;
      case SEC_GLOBAL: {
        const n = c.count('global count', 3);
        for (let i = 0; i < n; i++) {
          const type = c.u8('global type');
          const mutable = c.u8('global mutability') === 1;
          const init = constExpr(c, 'global init');
          globals.push({ index: importedGlobals + i, type, mutable, init });
        }
        break;
      }
      case SEC_EXPORT: {
        const n = c.count('export count', 3);
        for (let i = 0; i < n; i++) {
          const name = c.name('export name');
          const kind = c.u8('export kind');
          exports.set(name, { kind, index: c.u32('export index') });
        }
        break;
      }
      case SEC_CODE: {
        codeOffset = s.offset;
        const n = c.count('code count', 1);
        for (let i = 0; i < n; i++) {
          const size = c.u32('function body size');
          const body = new WasmCursor(c.bytes(size, 'function body'), what, 0, s.offset + c.pos - size);
          let locals = 0;
          const groups = body.count('local groups', 2);
          for (let j = 0; j < groups; j++) {
            locals += body.u32('local count');
            body.u8('local type');
            if (locals > MAX_LOCALS) body.fail(`function ${importedFunctions.length + bodies.length}: more than ${MAX_LOCALS} locals`);
          }
          bodies.push({ addr: WASM_TEXT_BASE + c.pos - size, size, locals });
        }
        break;
      }
      case SEC_DATA: {
        const n = c.count('data segment count', 2);
        for (let i = 0; i < n; i++) {
          const flags = c.u32('data segment flags');
          let addr: number | undefined;
          if (flags === 0 || flags === 2) {
            if (flags === 2) c.u32('data segment memory');
            const v = constExpr(c, 'data segment offset');
            addr = typeof v === 'number' ? v >>> 0 : undefined;
          } else if (flags !== 1) c.fail(`bad data segment flags ${flags}`);
          const size = c.u32('data segment size');
          c.skip(size, 'data segment bytes');
          data.push({ addr, size });
        }
        break;
      }
      case SEC_CUSTOM:
        if (s.name === 'name') names = parseNames(c);
        else if (s.name?.startsWith('.debug_')) debug.set(s.name, sectionBytes(b, s));
        break;
    }
  }
  if (bodies.length !== funcTypes.length) throw new DumpFormatError(`${what}: ${funcTypes.length} functions declared but ${bodies.length} bodies`);
  const nimp = importedFunctions.length;
  const functions = bodies.map((body, i) => ({
    index: nimp + i,
    name: names?.funcs.get(nimp + i) ?? `wasm_function_${nimp + i}`,
    addr: body.addr,
    bodyOffset: codeOffset + (body.addr - WASM_TEXT_BASE),
    size: body.size,
    locals: (typeParams[funcTypes[i]!] ?? 0) + body.locals,
  }));
  return {
    sha256: createHash('sha256').update(b).digest('hex'),
    moduleName: names?.module,
    imports,
    importedFunctions,
    functions,
    globals: globals.map((g) => ({ ...g, name: names?.globals.get(g.index) })),
    exports,
    memory,
    data: data.map((d, i) => ({ ...d, name: names?.data.get(i) })),
    codeOffset,
    debug,
  };
}

/** The recorded pc of an instruction at a module-file byte offset (what V8 reports as column - 1). */
export function wasmPcFromModuleOffset(info: WasmModuleInfo, moduleOffset: number): number {
  return WASM_TEXT_BASE + (moduleOffset - info.codeOffset);
}

/** The pc of frame (function index, offset from the body start), or undefined for an unknown function. */
export function wasmPcOfFrame(info: WasmModuleInfo, funcIndex: number, codeOffset: number): number | undefined {
  const f = info.functions[funcIndex - info.importedFunctions.length];
  return f ? f.addr + codeOffset : undefined;
}

/** The value of an exported i32 constant-initialised global (`__heap_base`, `__data_end`). */
export function exportedGlobalInit(info: WasmModuleInfo, name: string): number | undefined {
  const e = info.exports.get(name);
  if (!e || e.kind !== EXPORT_GLOBAL) return undefined;
  const g = info.globals.find((x) => x.index === e.index);
  return typeof g?.init === 'number' ? g.init >>> 0 : undefined;
}

/** The index of the global named `__stack_pointer` (by the name section, else the first mutable i32). */
export function stackPointerGlobal(info: WasmModuleInfo): number | undefined {
  return (info.globals.find((g) => g.name === '__stack_pointer') ?? info.globals.find((g) => g.mutable && g.type === 0x7f))?.index;
}

/**
 * The module's static data as object symbols: its named active data
 * segments, `.bss` (from the end of the last segment to __data_end: the
 * zero-initialised globals no segment holds), and the layout exports
 * (size 0).  A core's leak search scans the sized ones as roots.
 */
export function moduleDataSymbols(mod: WasmModuleInfo): Array<{ name: string; value: number; size: number }> {
  const out: Array<{ name: string; value: number; size: number }> = [];
  let end = 0;
  for (const d of mod.data) {
    if (d.addr === undefined) continue;
    if (d.name) out.push({ name: d.name, value: d.addr, size: d.size });
    end = Math.max(end, d.addr + d.size);
  }
  const dataEnd = exportedGlobalInit(mod, '__data_end');
  if (dataEnd !== undefined && end > 0 && dataEnd > end && !mod.data.some((d) => d.name === '.bss')) out.push({ name: '.bss', value: end, size: dataEnd - end });
  for (const n of ['__data_end', '__heap_base', '__global_base']) {
    const v = exportedGlobalInit(mod, n);
    if (v !== undefined) out.push({ name: n, value: v, size: 0 });
  }
  return out;
}
