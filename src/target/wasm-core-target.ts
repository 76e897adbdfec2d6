/*
 * Reading a program core: a Target over core.N (and, optionally, the
 * program's module for names), for mdb.
 *
 * Theory
 * ------
 * Opening reads only the section headers, the small sections (core,
 * corestack, kmemdb.*, Memory, Global) and the Data section's segment
 * headers, each through a bounded pread; the segments' bytes stay in the
 * file, found again by their file offsets.  Memory is the linear memory
 * [0, pages * 64 KiB): a read pages in its CHUNK-byte chunk, zero-filled,
 * with the segments overlapping it copied in, through a bounded LRU cache,
 * so a core of a 1 GiB memory opens in milliseconds and reading it never
 * holds more than the cache.  Bytes no segment covers are zero, as the
 * writer left them out for being zero.
 *
 * Validation: nothing in the file is trusted.  Every section must lie in
 * the file, every LEB128 fit its type, every count and length be backed by
 * bytes present before anything is allocated for it, every segment lie in
 * the memory and not overlap another.  Any violation is a DumpFormatError
 * naming the file and the field; nothing else escapes openWasmCore().
 *
 * Symbols come from kmemdb.symbols (our cores), else from the module given
 * with the core (`mdb prog.wasm core.N`; cores of other runtimes); a module
 * whose hash differs from the one the core records is refused.  Code
 * addresses follow module.ts (WASM_TEXT_BASE + code-section offset); the
 * corestack frames become the thread's pcs, which `$c` prints.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CtfError, TypeTable } from '../ctf/ctf.js';
import { hex0x } from '../machine/addr.js';
import { ILP32, type DataModel } from '../machine/memory.js';
import { SymbolIndex } from './symbols.js';
import { FileTarget } from './file-target.js';
import {
  TargetReadError,
  type Target,
  type TargetModuleRecord,
  type TargetRange,
  type TargetStatus,
  type TargetSymbol,
  type TargetThread,
} from './target.js';
import { DumpFormatError } from '../dump/dump-format.js';
import { DwarfReadError, readDebugInfo, type DebugVariable } from '../dump/dwarf-reader.js';
import { checkTypes } from './dump-target.js';
import { OP_END, OP_I32_CONST, OP_I64_CONST, OP_F32_CONST, OP_F64_CONST, SEC_CUSTOM, SEC_DATA, SEC_GLOBAL, SEC_MEMORY, WasmCursor, checkWasmHeader, scanSections, type WasmSection } from '../dump/wasm/binary.js';
import {
  SEC_NAME_CORE,
  SEC_NAME_CORESTACK,
  SEC_NAME_CTF,
  SEC_NAME_INFO,
  SEC_NAME_SYMBOLS,
  WASM_PAGE,
  decodeCorestack,
  decodeInfo,
  decodeProcessInfo,
  decodeSymbols,
  decodeTypes,
  type CoreInfo,
  type CoreStack,
  type CoreSymbols,
} from '../dump/wasm/core-format.js';
import { exportedGlobalInit, limits, moduleDataSymbols, parseWasmModule, stackPointerGlobal, type WasmModuleInfo } from '../dump/wasm/module.js';

/** Bytes per cached chunk of memory. */
export const CORE_CHUNK = 64 * 1024;
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
const MAX_SMALL_SECTION = 64 * 1024 * 1024;
const MAX_SEGMENTS = 1 << 22;
/** The pseudo address of the program's one thread. */
export const WASM_THREAD_ADDR = 1;

export interface OpenWasmCoreOptions {
  /** The program's module, for names (required for cores without kmemdb.symbols). */
  readonly modulePath?: string;
  /** Bound of the memory cache in bytes (default 32 MiB). */
  readonly cacheBytes?: number;
}

interface Segment {
  readonly addr: number;
  readonly size: number;
  readonly fileOff: number;
}

interface Chunk {
  id: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  exposed: boolean;
}

function newChunk(): Chunk {
  const buf = new ArrayBuffer(CORE_CHUNK);
  return { id: -1, u8: new Uint8Array(buf), u16: new Uint16Array(buf), u32: new Uint32Array(buf), exposed: false };
}

function preadFully(fd: number, buf: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
    if (n <= 0) throw new DumpFormatError(`${what}: file is truncated (short read at offset ${pos + done})`);
    done += n;
  }
}

/** The Global section's constant values (i32/i64 as numbers/bigints; floats as numbers). */
function parseGlobals(c: WasmCursor): Array<number | bigint> {
  const n = c.count('global count', 3);
  const out: Array<number | bigint> = [];
  for (let i = 0; i < n; i++) {
    c.u8('global type');
    c.u8('global mutability');
    const op = c.u8('global init');
    let v: number | bigint;
    if (op === OP_I32_CONST) v = c.s32('global value') >>> 0;
    else if (op === OP_I64_CONST) v = c.s64('global value');
    else if (op === OP_F32_CONST) v = new DataView(c.bytes(4, 'global value').slice().buffer).getFloat32(0, true);
    else if (op === OP_F64_CONST) v = new DataView(c.bytes(8, 'global value').slice().buffer).getFloat64(0, true);
    else return c.fail(`global ${i}: not a constant (opcode 0x${op.toString(16)})`);
    if (c.u8('global init end') !== OP_END) c.fail(`global ${i}: constant expression not ended`);
    out.push(v);
  }
  return out;
}

export class WasmCoreTarget extends FileTarget implements Target {
  readonly model: DataModel = ILP32;
  readonly pageSize = WASM_PAGE;
  readonly types: TypeTable;
  protected readonly fileKind = 'a core file';
  readonly corePath: string;
  /** The program's name (core section). */
  readonly program: string;
  /** kmemdb.info, when the core was written by kmemdb. */
  readonly info: CoreInfo | undefined;
  readonly stack: CoreStack | undefined;
  /** The Global section's values, by global index. */
  readonly globals: ReadonlyArray<number | bigint>;
  /** Linear memory size in bytes. */
  readonly memorySize: number;
  readonly module: WasmModuleInfo | undefined;
  /** True when the core carries kmemdb's allocator types. */
  readonly hasAllocatorTypes: boolean;
  /** The program's globals and static variables from its module's DWARF (built with -g), with types in `types`. */
  readonly debugVariables: readonly DebugVariable[];
  /** What could not be read but did not stop the core from opening (malformed DWARF in the module), one line each. */
  readonly warnings: readonly string[];
  /** Chunk reads from the file (for tests and benchmarks). */
  chunkReads = 0;

  private fd: number;
  private readonly segs: Segment[];
  private readonly segAddr: Float64Array;
  private readonly cache = new Map<number, Chunk>();
  private readonly free: Chunk[] = [];
  private readonly cacheMax: number;
  protected readonly syms: SymbolIndex;
  private readonly thr: TargetThread[];
  private readonly framePcs: number[];

  /* the current chunk */
  private cBase = -CORE_CHUNK;
  private cU8: Uint8Array = new Uint8Array(0);
  private cU16: Uint16Array = new Uint16Array(0);
  private cU32: Uint32Array = new Uint32Array(0);
  private cChunk: Chunk | undefined;

  constructor(corePath: string, opts: OpenWasmCoreOptions = {}) {
    super();
    this.corePath = corePath;
    const what = path.basename(corePath);
    this.cacheMax = Math.max(2, Math.floor((opts.cacheBytes ?? DEFAULT_CACHE_BYTES) / CORE_CHUNK));
    try {
      this.fd = fs.openSync(corePath, 'r');
    } catch (e) {
      throw new DumpFormatError(`cannot open ${corePath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const st = fs.fstatSync(this.fd);
      if (!st.isFile()) throw new DumpFormatError(`${what}: not a regular file`);
      const total = st.size;
      const head = new Uint8Array(Math.min(8, total));
      preadFully(this.fd, head, 0, what);
      checkWasmHeader(head, what);
      const peek = (off: number, len: number): Uint8Array => {
        const b = new Uint8Array(Math.max(0, Math.min(len, total - off)));
        preadFully(this.fd, b, off, what);
        return b;
      };
      const secs = scanSections(peek, total, what, 1 << 16);
      const small = (s: WasmSection, label: string): WasmCursor => {
        if (s.size > MAX_SMALL_SECTION) throw new DumpFormatError(`${what}: ${label} section implausibly large (${s.size} bytes)`);
        return new WasmCursor(peek(s.offset, s.size), `${what} ${label}`, 0, s.offset);
      };
      const custom = (n: string) => secs.find((s) => s.id === SEC_CUSTOM && s.name === n);
      const coreSec = custom(SEC_NAME_CORE);
      if (!coreSec) throw new DumpFormatError(`${what}: not a WebAssembly core dump (no "core" section)`);
      this.program = decodeProcessInfo(small(coreSec, 'core'));
      const stackSec = custom(SEC_NAME_CORESTACK);
      this.stack = stackSec ? decodeCorestack(small(stackSec, 'corestack')) : undefined;
      const infoSec = custom(SEC_NAME_INFO);
      this.info = infoSec ? decodeInfo(small(infoSec, 'kmemdb.info')) : undefined;
      const symSec = custom(SEC_NAME_SYMBOLS);
      const coreSyms = symSec ? decodeSymbols(small(symSec, 'kmemdb.symbols')) : undefined;
      const ctfSec = custom(SEC_NAME_CTF);
      this.types = ctfSec ? this.parseTypes(small(ctfSec, 'kmemdb.ctf').b, what) : new TypeTable(ILP32);
      this.hasAllocatorTypes = ctfSec !== undefined;
      const memSec = secs.find((s) => s.id === SEC_MEMORY);
      if (!memSec) throw new DumpFormatError(`${what}: no Memory section`);
      const mc = small(memSec, 'Memory');
      if (mc.count('memory count', 2) < 1) mc.fail('no memory');
      this.memorySize = limits(mc, 'memory').min * WASM_PAGE;
      if (this.memorySize > 0x100000000) mc.fail(`memory of ${this.memorySize} bytes exceeds 4 GiB`);
      const globSec = secs.find((s) => s.id === SEC_GLOBAL);
      this.globals = globSec ? parseGlobals(small(globSec, 'Global')) : [];
      const dataSec = secs.find((s) => s.id === SEC_DATA);
      this.segs = dataSec ? this.parseSegments(peek, dataSec, what) : [];
      this.segAddr = Float64Array.from(this.segs, (s) => s.addr);
      this.module = opts.modulePath ? this.loadModule(opts.modulePath) : undefined;
      const warnings: string[] = [];
      this.debugVariables = this.module && opts.modulePath ? this.readDebugInfo(this.module, path.basename(opts.modulePath), warnings) : [];
      this.warnings = warnings;
      this.syms = new SymbolIndex(this.buildSymbols(coreSyms));
      this.framePcs = this.stackPcs(coreSyms);
      this.thr = this.buildThreads();
    } catch (e) {
      fs.closeSync(this.fd);
      this.fd = -1;
      throw e;
    }
  }

  private parseTypes(b: Uint8Array, what: string): TypeTable {
    try {
      const tt = decodeTypes(b);
      checkTypes(tt);
      return tt;
    } catch (e) {
      if (e instanceof CtfError || e instanceof TypeError || e instanceof RangeError) throw new DumpFormatError(`${what} kmemdb.ctf: bad type data: ${e.message}`);
      throw e;
    }
  }

  /** Segment headers, read one by one; bytes are left in the file. */
  private parseSegments(peek: (off: number, len: number) => Uint8Array, s: WasmSection, what: string): Segment[] {
    const label = `${what} Data`;
    let off = s.offset;
    const end = s.offset + s.size;
    const first = new WasmCursor(peek(off, 5), label, 0, off);
    const n = first.u32('data segment count');
    off += first.pos;
    if (n > MAX_SEGMENTS || n * 4 > end - off) first.fail(`data segment count ${n} exceeds the data present`);
    const out: Segment[] = [];
    for (let i = 0; i < n; i++) {
      const c = new WasmCursor(peek(off, Math.min(24, end - off)), label, 0, off);
      const flags = c.u32('data segment flags');
      if (flags === 2) {
        if (c.u32('data segment memory') !== 0) c.fail(`segment ${i}: memory other than 0`);
      } else if (flags !== 0) c.fail(`segment ${i}: not an active segment (flags ${flags})`);
      if (c.u8('data segment offset') !== OP_I32_CONST) c.fail(`segment ${i}: offset is not an i32.const`);
      const addr = c.s32('data segment offset') >>> 0;
      if (c.u8('data segment offset end') !== OP_END) c.fail(`segment ${i}: offset expression not ended`);
      const size = c.u32('data segment size');
      const fileOff = off + c.pos;
      if (fileOff + size > end) c.fail(`segment ${i} (${size} bytes at offset ${fileOff}) extends past the Data section`);
      if (addr + size > this.memorySize) c.fail(`segment ${i} (${hex0x(addr)}+${size}) lies outside the ${this.memorySize}-byte memory`);
      if (size > 0) out.push({ addr, size, fileOff });
      off = fileOff + size;
    }
    out.sort((x, y) => x.addr - y.addr);
    for (let i = 1; i < out.length; i++) {
      if (out[i]!.addr < out[i - 1]!.addr + out[i - 1]!.size) throw new DumpFormatError(`${label}: segments overlap at ${hex0x(out[i]!.addr)}`);
    }
    return out;
  }

  private loadModule(p: string): WasmModuleInfo {
    let b: Uint8Array;
    try {
      const st = fs.statSync(p);
      if (!st.isFile()) throw new DumpFormatError(`${p}: not a regular file`);
      b = fs.readFileSync(p);
    } catch (e) {
      if (e instanceof DumpFormatError) throw e;
      throw new DumpFormatError(`cannot open ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const m = parseWasmModule(b, path.basename(p));
    if (this.info && this.info.moduleSha256 !== m.sha256) {
      throw new DumpFormatError(`${path.basename(p)} is not the module of ${path.basename(this.corePath)} (its sha256 ${m.sha256.slice(0, 12)}... differs from the core's ${this.info.moduleSha256.slice(0, 12)}...)`);
    }
    return m;
  }

  /**
   * The program's types and variables from the module's DWARF, read into
   * `types` beside the allocator's (dwarf-reader.ts says how names are
   * shared).  Malformed DWARF leaves them out with a warning: the core
   * still opens, as a debugger still opens a program whose debugging
   * information it cannot read.
   */
  private readDebugInfo(m: WasmModuleInfo, moduleName: string, warnings: string[]): DebugVariable[] {
    const info = m.debug.get('.debug_info');
    const abbrev = m.debug.get('.debug_abbrev');
    if (!info || !abbrev) return [];
    try {
      return readDebugInfo(
        { info, abbrev, str: m.debug.get('.debug_str'), lineStr: m.debug.get('.debug_line_str'), strOffsets: m.debug.get('.debug_str_offsets'), addr: m.debug.get('.debug_addr') },
        this.types,
      ).filter((v) => v.addr >= 0 && v.addr < this.memorySize);
    } catch (e) {
      if (!(e instanceof DwarfReadError || e instanceof CtfError)) throw e;
      warnings.push(`${moduleName}: DWARF not read, the program's types and variables are unknown: ${e.message}`);
      return [];
    }
  }

  /** Functions and objects: the core's own table, else the module's; then the program's variables from DWARF. */
  private buildSymbols(coreSyms: CoreSymbols | undefined): TargetSymbol[] {
    const out: TargetSymbol[] = [];
    if (coreSyms) {
      for (const f of coreSyms.functions) out.push({ name: f.name, value: f.value, size: f.size, kind: 'func' });
      for (const o of coreSyms.objects) out.push({ name: o.name, value: o.value, size: o.size, kind: 'object' });
    } else if (this.module) {
      for (const f of this.module.functions) out.push({ name: f.name, value: f.addr, size: f.size, kind: 'func' });
      for (const d of moduleDataSymbols(this.module)) out.push({ ...d, kind: 'object' });
    }
    const named = new Set(out.map((x) => x.name));
    for (const v of this.debugVariables) {
      if (named.has(v.name)) continue;
      named.add(v.name);
      out.push({ name: v.name, value: v.addr, size: this.types.sizeof(v.type), kind: 'object', type: this.types.typeName(v.type) });
    }
    return out;
  }

  /** The corestack frames as code addresses (a frame of an unknown function keeps its index in the low bits of an unnamed address). */
  private stackPcs(coreSyms: CoreSymbols | undefined): number[] {
    if (!this.stack) return [];
    const byIndex = new Map<number, number>();
    if (coreSyms) for (const f of coreSyms.functions) byIndex.set(f.index, f.value);
    else if (this.module) for (const f of this.module.functions) byIndex.set(f.index, f.addr);
    return this.stack.frames.map((f) => {
      const start = byIndex.get(f.funcIndex);
      return start !== undefined ? start + f.codeOffset : 0;
    });
  }

  /** __stack_pointer's value in the core (by the module's names, else the first global). */
  stackPointer(): number | undefined {
    const idx = this.module ? stackPointerGlobal(this.module) : 0;
    const v = idx !== undefined ? this.globals[idx] : undefined;
    return typeof v === 'number' ? v : undefined;
  }

  /** The stack's extent [bottom, top): from kmemdb.info, else the module's layout. */
  stackExtent(): { bottom: number; top: number } | undefined {
    if (this.info && this.info.stackTop > 0) return { bottom: this.info.stackBottom, top: this.info.stackTop };
    const m = this.module;
    if (!m) return undefined;
    const g = m.globals.find((x) => x.name === '__stack_pointer');
    const top = typeof g?.init === 'number' ? g.init >>> 0 : 0;
    return top > 0 ? { bottom: exportedGlobalInit(m, '__data_end') ?? 0, top } : undefined;
  }

  private buildThreads(): TargetThread[] {
    if (!this.stack) return [];
    const sp = this.stackPointer() ?? 0;
    const ext = this.stackExtent();
    // the stack's live part, [__stack_pointer, top): what ::findleaks scans
    const top = ext && ext.top > sp ? ext.top : sp;
    return [{ addr: WASM_THREAD_ADDR, name: this.stack.thread, pc: this.framePcs[0] ?? 0, sp, fp: 0, stackBase: sp, stackTop: top, cpu: 0 }];
  }

  /** Frames of a thread as recorded in the core (innermost first). */
  threadFrames(t: TargetThread): readonly number[] | undefined {
    return t.addr === WASM_THREAD_ADDR ? this.framePcs : undefined;
  }

  /** The raw corestack frames (function index, code offset). */
  frames(): readonly { readonly funcIndex: number; readonly codeOffset: number }[] {
    return this.stack?.frames ?? [];
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.cache.clear();
    this.free.length = 0;
    this.cBase = -CORE_CHUNK;
    this.cChunk = undefined;
  }

  /* ------------------------------------------------------------ memory */

  /** Index of the last segment starting at or below a, or -1. */
  private segAtOrBelow(a: number): number {
    const b = this.segAddr;
    let lo = 0;
    let hi = b.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid]! <= a) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /**
   * Where in the core file the byte at linear address a is stored, or
   * undefined for a byte the core leaves out (it reads as zero).  For tools
   * that edit cores (the fuzzer's mutations of allocator structures).
   */
  fileOffset(a: number): number | undefined {
    const i = this.segAtOrBelow(a);
    if (i < 0) return undefined;
    const s = this.segs[i]!;
    return a < s.addr + s.size ? s.fileOff + (a - s.addr) : undefined;
  }

  /** Zero the chunk and copy in the segments overlapping it. */
  private fillChunk(u8: Uint8Array, base: number): void {
    if (this.fd < 0) throw new TargetReadError(base, `failed to read memory at ${hex0x(base)}: core is closed`);
    u8.fill(0);
    const end = base + CORE_CHUNK;
    let i = this.segAtOrBelow(base);
    if (i < 0) i = 0;
    for (; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      if (s.addr >= end) break;
      const from = Math.max(s.addr, base);
      const to = Math.min(s.addr + s.size, end);
      if (to <= from) continue;
      preadFully(this.fd, u8.subarray(from - base, to - base), s.fileOff + (from - s.addr), path.basename(this.corePath));
    }
    this.chunkReads++;
  }

  private chunkAt(a: number): void {
    if (!(a >= 0 && a < this.memorySize)) throw new TargetReadError(a);
    const id = Math.floor(a / CORE_CHUNK);
    let ch = this.cache.get(id);
    if (ch !== undefined) {
      this.cache.delete(id);
      this.cache.set(id, ch);
    } else {
      if (this.cache.size >= this.cacheMax) {
        const old = this.cache.values().next().value!;
        this.cache.delete(old.id);
        if (!old.exposed && this.free.length < 8) this.free.push(old);
      }
      ch = this.free.pop() ?? newChunk();
      ch.id = -1;
      this.fillChunk(ch.u8, id * CORE_CHUNK);
      ch.id = id;
      ch.exposed = false;
      this.cache.set(id, ch);
    }
    this.cChunk = ch;
    this.cBase = id * CORE_CHUNK;
    this.cU8 = ch.u8;
    this.cU16 = ch.u16;
    this.cU32 = ch.u32;
  }

  load8(a: number): number {
    const off = a - this.cBase;
    if (off >= 0 && off < CORE_CHUNK) return this.cU8[off]!;
    this.chunkAt(a);
    return this.cU8[a - this.cBase]!;
  }

  load16(a: number): number {
    const off = a - this.cBase;
    if ((off & 1) === 0 && off >= 0 && off < CORE_CHUNK) return this.cU16[off >>> 1]!;
    return this.load8(a) | (this.load8(a + 1) << 8);
  }

  load32(a: number): number {
    const off = a - this.cBase;
    if ((off & 3) === 0 && off >= 0 && off < CORE_CHUNK) return this.cU32[off >>> 2]!;
    if ((a & 3) === 0) {
      this.chunkAt(a);
      return this.cU32[(a - this.cBase) >>> 2]!;
    }
    return (this.load8(a) | (this.load8(a + 1) << 8) | (this.load8(a + 2) << 16) | (this.load8(a + 3) << 24)) >>> 0;
  }

  load64(a: number): bigint {
    const lo = this.load32(a);
    return (BigInt(this.load32(a + 4)) << 32n) | BigInt(lo);
  }

  loadPtr(a: number): number {
    return this.load32(a);
  }

  isMapped(a: number): boolean {
    return a >= 0 && a < this.memorySize;
  }

  read(a: number, len: number): Uint8Array {
    if (!(len >= 0) || !Number.isSafeInteger(len)) throw new TargetReadError(a, `bad read length ${len} at ${hex0x(a)}`);
    if (!(a >= 0 && a + len <= this.memorySize)) throw new TargetReadError(a >= 0 && a < this.memorySize ? this.memorySize : a);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const p = a + done;
      if (!(p - this.cBase >= 0 && p - this.cBase < CORE_CHUNK)) this.chunkAt(p);
      const off = p - this.cBase;
      const n = Math.min(len - done, CORE_CHUNK - off);
      out.set(this.cU8.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  ranges(): readonly TargetRange[] {
    return this.memorySize > 0 ? [{ base: 0, size: this.memorySize }] : [];
  }

  bytes(base: number, size: number): Uint8Array {
    // a piece inside one chunk is a view of the cached chunk (paged in if need be), not a copy
    if (size > 0 && base >= 0 && base + size <= this.memorySize && Math.floor(base / CORE_CHUNK) === Math.floor((base + size - 1) / CORE_CHUNK)) {
      const off = base - this.cBase;
      if (!(off >= 0 && off + size <= CORE_CHUNK && this.cChunk)) this.chunkAt(base);
      this.cChunk!.exposed = true;
      return this.cU8.subarray(base - this.cBase, base - this.cBase + size);
    }
    return this.read(base, size);
  }

  /* ------------------------------------------------------------ facts */

  status(): TargetStatus {
    const i = this.info;
    return {
      kind: 'core',
      osName: 'wasm32-wasi',
      osRelease: '',
      osVersion: '',
      hostname: 'localhost',
      dumpName: path.basename(this.corePath),
      dumpTime: i?.time,
      program: this.program,
      argv: i?.argv,
      processStatus: i ? processStatusLine(i) : undefined,
    };
  }

  threads(): readonly TargetThread[] {
    return this.thr;
  }

  moduleHistory(): readonly TargetModuleRecord[] {
    return [];
  }
}

/** The ::status line of what ended the program. */
function processStatusLine(i: CoreInfo): string {
  switch (i.reason) {
    case 'umem':
      return `process terminated by umem error: ${i.message} (exit status ${i.exitStatus})`;
    case 'trap':
      return `process terminated by a wasm trap: ${i.message} (exit status ${i.exitStatus})`;
    case 'abort':
      return `process terminated by abort() (exit status ${i.exitStatus})${i.message ? ': ' + i.message : ''}`;
    case 'exit':
      return `process exited with status ${i.exitStatus}${i.message ? ': ' + i.message : ''}`;
    case 'snapshot':
      return `process running (snapshot${i.message ? ': ' + i.message : ''})`;
    case 'watch':
      return `process stopped at a write to a freed buffer (kmemdb run --watch-freed): ${i.message} (exit status ${i.exitStatus})`;
  }
}

/** Open a program core (with the program's module for names, when given). */
export function openWasmCore(corePath: string, opts: OpenWasmCoreOptions = {}): WasmCoreTarget {
  return new WasmCoreTarget(corePath, opts);
}

/** True if the file starts with the WebAssembly magic (a module or a core). */
export function isWasmFile(p: string): boolean {
  try {
    const fd = fs.openSync(p, 'r');
    try {
      const b = new Uint8Array(4);
      return fs.readSync(fd, b, 0, 4, 0) === 4 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Does this program core carry kmemdb's allocator (its types and the text base)? */
export function usesKmemdbAllocator(t: Target): boolean {
  return t instanceof WasmCoreTarget && t.hasAllocatorTypes;
}

