/*
 * Running a wasm32-wasi program with kmem as its malloc (`kmemdb run`).
 *
 * The program is instantiated under node:wasi with the `kmemdb` imports of
 * its malloc shim served by a umem heap (src/umem) laid over the program's
 * own linear memory from __heap_base up: the allocator's state lives in the
 * memory it serves, as libumem's lives in its process, and the memory alone
 * is a complete picture of the heap.
 *
 * How a run ends:
 *  - exit (main returns or exit()): the program's status; with findLeaks
 *    the heap is checked for leaks first (`::findleaks -d` of mdb over the
 *    live heap, src/umemcheck) and a leak makes the status non-zero (1 when
 *    the program's own was 0);
 *  - a detected heap error: the allocator's report (libumem's words), then
 *    status 134 as abort() would give, unless UMEM_DEBUG has noabort;
 *  - a wasm trap (out-of-bounds access, unreachable, stack exhaustion) or
 *    abort(): the trap and the program's wasm stack as `function+0xoff`,
 *    status 134.
 *  - with watchFreed, a write into a freed buffer: the program runs a
 *    rewritten copy of its module whose stores are checked
 *    (watch-freed.ts, freed-write.ts) and stops before the write, with
 *    kmemdb's report, status 134.
 * On an error, a trap, an abort or a watched write, a core is written into
 * the core directory (src/dump/wasm/core-writer.ts), as also at exit with
 * coreAtExit, and whenever the program calls kmemdb_dump().
 *
 * wasi-libc allocates a few blocks before main and never frees them (the
 * argv strings and array, the environment, the preopen table).  With
 * findLeaks or coreAtExit the runner notes the blocks allocated before main
 * is on the stack, and frees those still live at exit before looking for
 * leaks and before writing the exit core, so that the report, and
 * ::findleaks on the core, name only the program's own.
 *
 * V8 must run with --no-turbo-fast-api-calls (measured: a program making a
 * million heap calls through imports, with about a thousand memory grows,
 * then calling printf, died with SIGABRT in 4 runs of 15 without it): the
 * command line runs this in a child process that has the flag (cli.ts).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeWasmCore } from '../dump/wasm/core-writer.js';
import type { CoreReasonKind } from '../dump/wasm/core-format.js';
import { DumpFormatError } from '../dump/dump-format.js';
import { parseWasmModule, type WasmModuleInfo } from '../dump/wasm/module.js';
import { runMdb } from '../mdb/index.js';
import '../mdb/modules/libumem.js'; // ::findleaks of a process heap
import { createUmem, type Umem } from '../umem/umem.js';
import { UmemError } from '../umem/errors.js';
import type { UmemEnv } from '../umem/env.js';
import { umemFindLeaks, umemTarget, type UmemRoots } from '../umemcheck/analysis.js';
import { FreedBufferFinder } from '../umemcheck/freed-buffer.js';
import { FreedWrite, freedWriteReport, watchFreedEnv } from './freed-write.js';
import { UnsupportedInstruction } from './wasm-instructions.js';
import { BULK_OP_BASE, WATCH_FUNCTION, WATCH_MODULE, WatchError, watchedModule, type WatchedModule } from './watch-freed.js';
import { createProgramWasi, type ProgramWasi } from './wasi-host.js';
import { ProgramCode } from './wasm-stack.js';

/** Bad input to the runner (not a module, not built for kmemdb, ...): one line. */
export class ProgramError extends Error {}

/** Exit status of a program that aborts (SIGABRT's 128 + 6), as a shell reports it. */
export const ABORT_STATUS = 134;
/** Most frames kept of a trap's stack. */
const TRAP_FRAMES = 100;

/**
 * Whether a stack (function names, innermost first) is the program's own,
 * i.e. main is on it.  clang names `main(argc, argv)` main or
 * __main_argc_argv, called by wasi-libc's __main_void, which allocates argv,
 * called by __original_main; `main(void)` is __original_main itself.
 */
function inMain(names: readonly string[]): boolean {
  return names.some((n) => n === 'main' || n === '__main_argc_argv') || (names.includes('__original_main') && !names.includes('__main_void'));
}
/** Frames looked at to see whether main is on the stack. */
const MAIN_DEPTH = 64;

export interface RunOptions {
  /** The program's .wasm file. */
  readonly wasm: string;
  /** Its arguments (after the program name). */
  readonly args: readonly string[];
  /** Its environment. */
  readonly env: Readonly<Record<string, string>>;
  /** UMEM_DEBUG, UMEM_LOGGING, UMEM_OPTIONS for the allocator. */
  readonly umemEnv: UmemEnv;
  /** Guest path -> host directory. */
  readonly preopens: Readonly<Record<string, string>>;
  /** Where cores go; none are written without it. */
  readonly coreDir?: string;
  readonly findLeaks?: boolean;
  readonly coreAtExit?: boolean;
  /** Stop at the first write into a freed buffer (implies the UMEM_DEBUG and UMEM_LOGGING items it needs). */
  readonly watchFreed?: boolean;
  /** Seed of the program's clocks and randomness and of the allocator. */
  readonly seed?: number;
  /** Where the runner's messages and the allocator's reports go (written at once, in order with the program's output). */
  readonly stderr: (text: string) => void;
}

export type RunEnd = 'exit' | 'umem' | 'trap' | 'abort' | 'watch';

export interface RunResult {
  readonly status: number;
  readonly end: RunEnd;
  /** The error's or trap's one-line message. */
  readonly message?: string;
  /** Cores written, in order. */
  readonly cores: readonly string[];
  /** With watchFreed, the stopped write's report (also on stderr and in the core). */
  readonly report?: string;
  /** With findLeaks, at exit: `::findleaks -d` of the heap, and how many buffers leaked. */
  readonly leaks?: { readonly text: string; readonly buffers: number };
}

/** The program's module, checked: a wasm module built with `kmemdb cc`. */
interface LoadedProgram {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly module: WebAssembly.Module;
  readonly info: WasmModuleInfo;
}

const PROVIDED = new Set(['wasi_snapshot_preview1', 'kmemdb']);

async function loadProgram(file: string): Promise<LoadedProgram> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new ProgramError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new ProgramError(`${file}: not a WebAssembly module`);
  let module: WebAssembly.Module;
  let info: WasmModuleInfo;
  try {
    module = await WebAssembly.compile(bytes);
    info = parseWasmModule(bytes, file);
  } catch (e) {
    if (e instanceof WebAssembly.CompileError || e instanceof DumpFormatError) throw new ProgramError(`${file}: invalid WebAssembly module: ${e.message}`);
    throw e;
  }
  const imports = WebAssembly.Module.imports(module);
  if (!imports.some((i) => i.module === 'kmemdb' && i.name === 'malloc')) {
    throw new ProgramError(`${file} imports no malloc from kmemdb: build it with kmemdb cc (docs/program.md)`);
  }
  const foreign = imports.find((i) => !PROVIDED.has(i.module));
  if (foreign) throw new ProgramError(`${file} imports ${foreign.module}.${foreign.name}, which kmemdb run does not provide`);
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const e of ['memory', '_start', '__heap_base', '__stack_pointer', '__data_end']) {
    if (!exports.has(e)) throw new ProgramError(`${file} does not export ${e}: build it with kmemdb cc (docs/program.md)`);
  }
  return { bytes, module, info };
}

function globalValue(instance: WebAssembly.Instance, name: string): number {
  return Number((instance.exports[name] as WebAssembly.Global).value) >>> 0;
}

/** One run of a program (the state a run's import functions and its end share). */
class ProgramRun {
  readonly code: ProgramCode;
  readonly wasi: ProgramWasi;
  readonly cores: string[] = [];
  private instance!: WebAssembly.Instance;
  private memory!: WebAssembly.Memory;
  private umem!: Umem;
  private stackTop = 0;
  /** With findLeaks or coreAtExit: the blocks allocated before main that are still live. */
  private readonly startup: Set<number> | undefined;
  /** No allocation has yet been made with main on the stack. */
  private beforeMain = true;
  /** With watchFreed: the module that runs, the program's with its writes checked. */
  private readonly watched: WatchedModule | undefined;
  /** With watchFreed: answers whether a write lands on a freed buffer (made at the first question). */
  private freedFinder: FreedBufferFinder | undefined;

  constructor(
    readonly o: RunOptions,
    readonly program: LoadedProgram,
  ) {
    this.watched = o.watchFreed ? watchProgram(program, o.wasm) : undefined;
    this.code = new ProgramCode(program.info, this.watched?.map);
    this.startup = o.findLeaks || o.coreAtExit ? new Set() : undefined;
    this.wasi = createProgramWasi({ args: [path.basename(o.wasm), ...o.args], env: o.env, preopens: o.preopens, seed: o.seed });
  }

  /** Note a block allocated while main is not yet on the stack (findLeaks or coreAtExit; see the file comment). */
  private noteStartup(p: number): number {
    if (!this.beforeMain || p === 0) return p;
    if (inMain(this.code.captureStack(MAIN_DEPTH).map((pc) => this.code.functionAt(pc)?.name ?? ''))) this.beforeMain = false;
    else this.startup!.add(p >>> 0);
    return p;
  }

  /** The shim's imports, served by the umem heap (arguments are i32: made unsigned here). */
  private heapImports(): WebAssembly.ModuleImports {
    const u = () => this.umem;
    const heap = {
      malloc: (size: number) => u().malloc(size >>> 0),
      free: (ptr: number) => u().free(ptr >>> 0),
      calloc: (n: number, size: number) => u().calloc(n >>> 0, size >>> 0),
      realloc: (ptr: number, size: number) => u().realloc(ptr >>> 0, size >>> 0),
      aligned_alloc: (align: number, size: number) => u().aligned_alloc(align >>> 0, size >>> 0),
      posix_memalign: (memptr: number, align: number, size: number) => u().posix_memalign(memptr >>> 0, align >>> 0, size >>> 0),
      malloc_usable_size: (ptr: number) => u().malloc_usable_size(ptr >>> 0),
      dump: () => this.writeCore('snapshot', 'kmemdb_dump()', this.code.captureStack(TRAP_FRAMES)) ?? -1,
    };
    const startup = this.startup;
    if (!startup) return heap;
    /* note what wasi-libc allocates before main (it uses neither posix_memalign nor aligned_alloc), and what is freed of it */
    return {
      ...heap,
      malloc: (size: number) => this.noteStartup(heap.malloc(size)),
      calloc: (n: number, size: number) => this.noteStartup(heap.calloc(n, size)),
      realloc: (ptr: number, size: number) => {
        startup.delete(ptr >>> 0);
        return this.noteStartup(heap.realloc(ptr, size));
      },
      free: (ptr: number) => {
        startup.delete(ptr >>> 0);
        heap.free(ptr);
      },
    };
  }

  /** The watch's import: called by a watched write about to overwrite 0xdeadbeef; stops the program if the word is in a freed buffer. */
  private watchImports(): WebAssembly.ModuleImports {
    return {
      [WATCH_FUNCTION]: (addr: number, offset: number, size: number, value: bigint, op: number) => {
        const at = (addr >>> 0) + (offset >>> 0);
        const bytes = size >>> 0;
        this.freedFinder ??= new FreedBufferFinder(this.umem);
        const hit = this.freedFinder.written(at, bytes);
        if (!hit) return;
        const bulk = op >= BULK_OP_BASE;
        throw this.freedWrite({ op, addr: at, size: bytes, value: bulk ? value : BigInt.asUintN(bytes * 8, value), old: bulk ? undefined : this.bytesAt(at, bytes) }, hit);
      },
    };
  }

  /** The little-endian bytes at addr (at most 8), as a number. */
  private bytesAt(addr: number, size: number): bigint {
    const b = new Uint8Array(this.memory.buffer, addr, size);
    return b.reduceRight((v, x) => (v << 8n) | BigInt(x), 0n);
  }

  private freedWrite(w: Parameters<typeof freedWriteReport>[0], hit: Parameters<typeof freedWriteReport>[1]): FreedWrite {
    const pcs = this.code.captureStack(TRAP_FRAMES, 0);
    const k = this.umem.heap.k;
    const { message, report } = freedWriteReport(w, hit, pcs, {
      symbolize: (pc) => k.symbolize(pc),
      inProgram: (pc) => this.code.functionAt(pc) !== undefined,
      now: k.hrtime,
    });
    return new FreedWrite(w, hit, pcs, message, report);
  }

  async start(): Promise<RunResult> {
    const { o } = this;
    const imports: WebAssembly.Imports = { wasi_snapshot_preview1: this.wasi.imports, kmemdb: this.heapImports() };
    if (this.watched) imports[WATCH_MODULE] = this.watchImports();
    const module = this.watched ? await WebAssembly.compile(this.watched.bytes) : this.program.module;
    this.instance = await WebAssembly.instantiate(module, imports);
    this.memory = this.instance.exports.memory as WebAssembly.Memory;
    this.wasi.bind(this.memory);
    this.stackTop = globalValue(this.instance, '__stack_pointer');
    this.umem = createUmem({
      memory: this.memory,
      base: globalValue(this.instance, '__heap_base'),
      env: o.watchFreed ? watchFreedEnv(o.umemEnv) : o.umemEnv,
      seed: o.seed,
      captureStack: (max) => this.code.captureStack(max),
      symbolize: (pc) => this.code.symbolize(pc),
      output: (text) => o.stderr(text),
    });
    for (const m of this.umem.envMessages) o.stderr(`${m}\n`);
    let status: number;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = TRAP_FRAMES + 20; /* a trap's stack is captured when it is thrown */
    try {
      status = this.wasi.wasi.start(this.instance);
    } catch (e) {
      return this.failed(e);
    } finally {
      Error.stackTraceLimit = limit;
    }
    return this.exited(status);
  }

  /** Write a core if there is a core directory; returns its number. */
  private writeCore(kind: CoreReasonKind, message: string, pcs: readonly number[], extra: { report?: string; exitStatus?: number } = {}): number | undefined {
    const dir = this.o.coreDir;
    if (dir === undefined) return undefined;
    const core = writeWasmCore(dir, {
      module: this.program.info,
      programName: path.basename(this.o.wasm),
      argv: [path.basename(this.o.wasm), ...this.o.args],
      memory: new Uint8Array(this.memory.buffer),
      globals: { __stack_pointer: globalValue(this.instance, '__stack_pointer') },
      frames: this.code.coreFrames(pcs),
      reason: { kind, message, ...extra },
      types: this.umem.types,
      symbols: this.umem.symbols(),
      time: this.wasi.now(),
    });
    this.cores.push(core.path);
    return core.index;
  }

  private coreLine(kind: CoreReasonKind, message: string, pcs: readonly number[], extra: { report?: string; exitStatus?: number }): void {
    const n = this.writeCore(kind, message, pcs, extra);
    if (n !== undefined) this.o.stderr(`kmemdb run: core dumped: ${this.cores[this.cores.length - 1]}\n`);
  }

  /** The program stopped on an exception: a heap error, a trap, or abort(). */
  private failed(e: unknown): RunResult {
    if (e instanceof FreedWrite) {
      this.o.stderr(e.report);
      this.umem.heap.k.printf(e.report); /* into umem_error_buffer, where ::umem_status reads reports */
      this.coreLine('watch', e.message, e.pcs, { report: e.report, exitStatus: ABORT_STATUS });
      return { status: ABORT_STATUS, end: 'watch', message: e.message, report: e.report, cores: this.cores };
    }
    const pcs = e instanceof Error ? this.code.pcsOfError(e).slice(0, TRAP_FRAMES) : [];
    if (e instanceof UmemError) {
      this.o.stderr(e.report.endsWith('\n') ? e.report : `${e.report}\n`);
      this.coreLine('umem', e.message, pcs, { report: e.report, exitStatus: ABORT_STATUS });
      return { status: ABORT_STATUS, end: 'umem', message: e.message, cores: this.cores };
    }
    const trap = e instanceof WebAssembly.RuntimeError || (e instanceof RangeError && pcs.length > 0);
    if (!trap) throw e;
    const top = this.code.functionAt(pcs[0] ?? 0);
    const isAbort = top?.name === 'abort';
    const trapMessage = e instanceof RangeError ? 'call stack exhausted' : e.message;
    const message = isAbort ? 'abort()' : `wasm trap: ${trapMessage}`;
    this.o.stderr(`${path.basename(this.o.wasm)}: ${message}\n${pcs.map((pc) => `    ${this.code.describe(pc)}\n`).join('')}`);
    // the core's reason says it was a trap; its message is the trap's own
    this.coreLine(isAbort ? 'abort' : 'trap', isAbort ? message : trapMessage, pcs, { exitStatus: ABORT_STATUS });
    return { status: ABORT_STATUS, end: isAbort ? 'abort' : 'trap', message, cores: this.cores };
  }

  /** The program's roots for leak detection: its data, and its live stack at exit. */
  private roots(): UmemRoots {
    const info = this.program.info;
    const dataEnd = globalValue(this.instance, '__data_end');
    const dataStart = Math.min(dataEnd, ...info.data.flatMap((d) => (d.addr === undefined ? [] : [d.addr])));
    const sp = globalValue(this.instance, '__stack_pointer');
    return {
      ranges: [{ base: dataStart, size: dataEnd - dataStart, name: 'data' }],
      stack: { sp, top: this.stackTop },
      functions: info.functions.map((f) => ({ name: f.name, value: f.addr, size: f.size })),
    };
  }

  /** At exit: free wasi-libc's start-up blocks that are still live (see the file comment). */
  private releaseStartup(): void {
    for (const p of this.startup ?? []) this.umem.free(p);
    this.startup?.clear();
  }

  /** findleaks at exit, after wasi-libc's start-up blocks are released. */
  private findLeaks(): { text: string; buffers: number } {
    const roots = this.roots();
    const buffers = umemFindLeaks(this.umem, roots).groups.reduce((n, g) => n + g.count, 0);
    const r = runMdb(umemTarget(this.umem, roots), '::findleaks -d\n');
    return { text: r.stdout + r.stderr, buffers };
  }

  private exited(status: number): RunResult {
    let leaks: { text: string; buffers: number } | undefined;
    let final = status;
    this.releaseStartup();
    if (this.o.findLeaks) {
      leaks = this.findLeaks();
      this.o.stderr(leaks.text);
      if (leaks.buffers > 0 && final === 0) final = 1;
    }
    if (this.o.coreAtExit) this.coreLine('exit', `exit(${status})`, [], { exitStatus: status });
    return { status: final, end: 'exit', cores: this.cores, leaks };
  }
}

/** The watched copy of a program's module (watch-freed.ts); ProgramError when it cannot be made. */
function watchProgram(program: LoadedProgram, file: string): WatchedModule {
  try {
    return watchedModule(program.bytes, file);
  } catch (e) {
    if (e instanceof UnsupportedInstruction) throw new ProgramError(`${file}: --watch-freed cannot watch this module: it uses ${e.message}`);
    if (e instanceof WatchError || e instanceof DumpFormatError) throw new ProgramError(`${file}: --watch-freed: ${e.message}`);
    throw e;
  }
}

/** Run a program to its end; throws ProgramError for bad input. */
export async function runProgram(o: RunOptions): Promise<RunResult> {
  const program = await loadProgram(o.wasm);
  return new ProgramRun(o, program).start();
}
