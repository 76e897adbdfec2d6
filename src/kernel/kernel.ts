/*
 * The kernel core: address-space layout, symbols, globals, CPUs, threads,
 * the clock and callouts, call stacks, the message buffer and panic.
 *
 * Theory
 * ------
 * Every kernel function has a text address and a size in the symbol table;
 * every kernel global lives in the data segment of simulated memory, with a
 * symbol and a C type.  Simulated kernel code is JavaScript that keeps the
 * state it cares about in simulated memory, so that a dump holds everything.
 *
 * Call stacks.  Each thread has a *shadow stack*: a Float64Array of program
 * counters, pushed by `enter(pc)` as a simulated function starts and popped
 * by `leave()`.  A pc is `function base + offset` (see `fn()`), so a capture
 * reads like `pool_destroy+0x1b4` in mdb.  Capturing 15 frames copies 15
 * numbers: no `new Error()`, no allocation.  Alongside each pc a frame keeps
 * the words the C function would keep on its stack: its arguments
 * (`args()`, up to FRAME_ARGS) and the locals that hold pointers
 * (`local()`, up to FRAME_LOCALS), in typed arrays; `enter()` clears the
 * frame's counts with one store.  When a thread is switched out or the
 * kernel panics, the shadow stack is *materialised* into the thread's stack
 * in simulated memory as a frame-pointer chain ([fp] = caller's fp,
 * [fp + ptrsize] = return pc), with each frame's words where a compiler
 * keeps them (see materialize()), and `t_pcb` holds the pc and sp, so mdb's
 * `$c` walks real bytes, `::findstack -v` shows arguments, and `::kgrep`,
 * `::whatis` and `::findleaks` find the pointers a sleeping thread holds.
 *
 * Time.  `hrtime` (ns) advances by a fixed small step on every
 * `gethrtime()` and explicitly through `advance(ns)`, which also runs due
 * callouts in the context of their threads (the callout tables in
 * simulated memory: callout.ts).  Nothing depends on the host
 * clock, so the same seed gives byte-identical memory.
 *
 * Panic.  `panic(msg)` records the message (`panicstr`), thread and CPU,
 * materialises every thread's stack, writes `panic: msg` to the msgbuf and
 * throws `KernelPanic`.  A `PageFault` raised by simulated code is turned
 * into a panic by `trap()`, as illumos' trap handler does (trap.ts: the
 * `BAD TRAP` message, the trap's registers on the console).
 */

import { ArgumentError, checkFinite, checkInt, checkOneOf, checkString } from '../machine/argcheck.js';
import { PagedMemory, PageFault, PROT_READ, PROT_RW, dataModel, type AddressSpace, type DataModel, type FlatMemory, type ModelName } from '../machine/memory.js';
import { hex, p2align, p2roundup } from '../machine/addr.js';
import { TypeTable } from '../ctf/ctf.js';
import { declare } from '../ctf/cparse.js';
import { Rand } from './rand.js';
import { KERNEL_CORE_TYPES, TS_ONPROC, TS_RUN, TS_SLEEP } from '../abi/kernel-core.js';
import { ProcessTable, type KProc } from './proc.js';
import type { ModctlList } from './modctl.js';
import type { PageAccounting } from './page.js';
import { fatalTrap, REGS_TYPES, type TrapHost } from './trap.js';
import { Callouts, type CalloutFunc } from './callout.js';

export interface KernelOptions {
  model?: ModelName;
  ncpus?: number;
  /** Bytes of heap virtual address space (default 256 MiB). */
  heapSize?: number;
  pageSize?: number;
  seed?: number;
  hostname?: string;
  /** Run as a process over a flat memory instead of a kernel over a paged one (see ProcessSpace). */
  process?: ProcessSpace;
}

/**
 * A process's address space: the kernel core runs as a *process* (libumem's
 * setting) inside a flat memory, one thread on one CPU.  Its globals (and
 * those of vmem and kmem) live in a data area of `dataSize` bytes at `base`,
 * the heap runs from there to `limit`; functions are symbols in a "host
 * text" range that is not part of the memory (the program's code lives
 * elsewhere, in its module).  There are no thread stacks in memory: the
 * program's own stack is its business.
 */
export interface ProcessSpace {
  memory: FlatMemory;
  /** First byte the process's allocator owns (rounded up to 64). */
  base: number;
  /** Bytes of the data area at base. */
  dataSize: number;
  /** End of the heap (exclusive). */
  limit: number;
  /** Address of the host text range (function symbols), outside the memory's use. */
  textBase: number;
  /** Symbol name and size of the message buffer (the kernel's msgbuf). */
  msgbuf: { name: string; size: number };
  /** The first object of the data area, at its start (a header that makes the memory self-describing): name, C declaration, type. */
  header?: { name: string; decl: string; type: string };
}

/** Most CPUs a kernel boots (cpus[] and every cache_cpu[] are sized by it). */
export const MAX_NCPUS = 64;

/** Check KernelOptions at the public entry (new Kernel, bootSystem): typed errors, never silent defaults. */
export function checkKernelOptions(opts: KernelOptions, fn = 'new Kernel'): void {
  if (typeof opts !== 'object' || opts === null) throw new ArgumentError(fn, 'options', 'an object', opts);
  if (opts.model !== undefined) checkOneOf(fn, 'model', opts.model, ['lp64', 'ilp32']);
  if (opts.ncpus !== undefined) checkInt(fn, 'ncpus', opts.ncpus, 1, MAX_NCPUS);
  if (opts.heapSize !== undefined) checkInt(fn, 'heapSize', opts.heapSize, 1 << 20, Number.MAX_SAFE_INTEGER);
  if (opts.pageSize !== undefined && (checkInt(fn, 'pageSize', opts.pageSize, 512, 1 << 16) & (opts.pageSize - 1)) !== 0) {
    throw new ArgumentError(fn, 'pageSize', 'a power of two', opts.pageSize);
  }
  if (opts.seed !== undefined) checkInt(fn, 'seed', opts.seed, 0, 0xffffffff);
  if (opts.hostname !== undefined) checkString(fn, 'hostname', opts.hostname);
}

/** Virtual layout of one data model. */
export interface Layout {
  textBase: number;
  textSize: number;
  dataBase: number;
  dataSize: number;
  moduleBase: number;
  moduleSize: number;
  segkpBase: number;
  segkpSize: number;
  heapBase: number;
  heapMax: number;
  /** The physical page accounting's range (page_hash and the page_t array; src/kernel/page.ts). */
  pagesBase: number;
}

/** The layout of a process (see ProcessSpace): no module map, no segkp. */
export function processLayout(p: ProcessSpace): Layout {
  const dataBase = p2roundup(p.base, 64);
  const heapBase = p2roundup(dataBase + p.dataSize, 4096);
  return {
    textBase: p.textBase,
    textSize: 0x1000000,
    dataBase,
    dataSize: p.dataSize,
    moduleBase: 0,
    moduleSize: 0,
    segkpBase: 0,
    segkpSize: 0,
    heapBase,
    heapMax: p.limit - heapBase,
    pagesBase: 0,
  };
}

export function layoutFor(model: DataModel): Layout {
  if (model.ptrSize === 8) {
    return {
      textBase: -0x7ff00000, // 0xffffffff80100000
      textSize: 0x500000,
      dataBase: -0x7fa00000, // 0xffffffff80600000
      dataSize: 0x200000,
      moduleBase: -0x7f800000, // 0xffffffff80800000 (module_map, right after the image)
      moduleSize: 0x2000000,
      segkpBase: -0x1f000000000, // 0xfffffe1000000000
      segkpSize: 0x4000000,
      heapBase: -0x18000000000, // 0xfffffe8000000000
      heapMax: 0x80000000,
      pagesBase: -0x20000000000, // 0xfffffe0000000000
    };
  }
  return {
    textBase: 0xc0100000,
    textSize: 0x500000,
    dataBase: 0xc0600000,
    dataSize: 0x200000,
    moduleBase: 0xc0800000,
    moduleSize: 0x2000000,
    segkpBase: 0xc4000000,
    segkpSize: 0x4000000,
    heapBase: 0xd0000000,
    heapMax: 0x2ff00000,
    pagesBase: 0xc8000000,
  };
}

export interface KSymbol {
  name: string;
  value: number;
  size: number;
  kind: 'func' | 'object';
  module?: string;
  /** C type name of an object, when known. */
  type?: string;
}

/** One module load, and its unload once it happens. */
export interface ModuleRecord {
  name: string;
  base: number;
  size: number;
  textSize: number;
  loadTime: number;
  unloadTime?: number;
  symbols: KSymbol[];
}

/** See Kernel.outside. */
export interface OutsideCode {
  /** Up to max pcs of the caller's stack, innermost first. */
  stack(max: number): number[];
  /** `name+0xoff` for a pc of the outside code, or undefined. */
  symbolize(pc: number): string | undefined;
}

export class KernelPanic extends Error {
  readonly panicMessage: string;
  constructor(msg: string) {
    super(`panic: ${msg}`);
    this.name = 'KernelPanic';
    this.panicMessage = msg;
  }
}

/** Deepest shadow stack a thread can have. */
const MAX_FRAMES = 256;
/** Arguments a frame keeps (amd64 passes six in registers; saveargs spills them). */
export const FRAME_ARGS = 6;
/** Locals a frame keeps. */
export const FRAME_LOCALS = 4;

export class KThread {
  depth = 0;
  /** Where the thread waits for work, outermost first (thread_start and its start function): its frames while idle. */
  idleFrames: readonly number[] = [];
  /** Frames pushed by switchOut (the idle frames, cv_timedwait, swtch) while the thread is off its CPU. */
  sleepFrames = 0;
  readonly stack = new Float64Array(MAX_FRAMES);
  /** Each frame's arguments, FRAME_ARGS slots per frame. */
  readonly args = new Float64Array(MAX_FRAMES * FRAME_ARGS);
  /** Each frame's locals, FRAME_LOCALS slots per frame. */
  readonly locals = new Float64Array(MAX_FRAMES * FRAME_LOCALS);
  /** Per frame: argument count (low nibble) and local count (high nibble); enter() clears it. */
  readonly shape = new Uint8Array(MAX_FRAMES);
  constructor(
    readonly addr: number,
    readonly tid: number,
    readonly name: string,
    readonly stackBase: number,
    readonly stackTop: number,
    public cpu: number,
  ) {}
}

/** How a thread is created (see Kernel.createThread). */
export interface ThreadOptions {
  /** The process it belongs to (default p0: a kernel thread). */
  proc?: KProc;
  /** The function a kernel thread starts in and waits for work in (t_startpc): idle, its stack reads thread_start, start. */
  start?: string;
  /** The system call an LWP waits in: idle, its stack reads sys_syscall, syscall. */
  syscall?: string;
  cpu?: number;
  /** t_tid (default: the next kernel thread id; an LWP's id within its process). */
  tid?: number;
}

const STACK_SIZE = 16384;
/** illumos' default deadman_seconds (snoop_interval / MICROSEC). */
const DEADMAN_SECONDS = 50;
/**
 * The first bytes of every simulated function: the frame-pointer prologue
 * a compiler emits (amd64 `push %rbp; mov %rsp,%rbp`, i386 `push %ebp;
 * mov %esp,%ebp`).  Nothing executes them; they are there so that a
 * debugger that analyses prologues (gdb) knows each function keeps its
 * frame pointer, as materialised stacks do, and unwinds by it.  Every pc
 * that stacks record lies past it.
 */
export function functionPrologue(model: DataModel): Uint8Array {
  return model.ptrSize === 8 ? new Uint8Array([0x55, 0x48, 0x89, 0xe5]) : new Uint8Array([0x55, 0x89, 0xe5]);
}

/** amd64 saveargs pushes: %rdi, %rsi, %rdx, %rcx, %r8, %r9, in order. */
const SAVEARGS_PUSHES = new Uint8Array([0x57, 0x56, 0x52, 0x51, 0x41, 0x50, 0x41, 0x51]);
/** Bytes of SAVEARGS_PUSHES that push the first n arguments. */
const SAVEARGS_OFFSETS = [0, 1, 2, 3, 4, 6, 8];
/** The argument pushes of n arguments, padded with int3 to the longest (so fewer overwrite more). */
const SAVEARGS_TEXT = SAVEARGS_OFFSETS.map((len) => {
  const b = new Uint8Array(SAVEARGS_PUSHES.length).fill(0xcc);
  b.set(SAVEARGS_PUSHES.subarray(0, len));
  return b;
});
const NOPS3 = new Uint8Array([0x90, 0x90, 0x90]);

/** Turns of a kernel loop without progress after which the simulated deadman fires (see deadman()). */
export const DEADMAN_SPINS = 100_000;
const MSGBUF_SIZE = 65536;
export const OS_NAME = 'kmemdb';
export const OS_RELEASE = '5.11';
export const OS_VERSION = 'kmemdb-0.1 simulated';
/** 2015-11-02 00:00:00 UTC, the day of the NetBSD report. */
export const BOOT_EPOCH = 1446422400;

export class Kernel {
  readonly model: DataModel;
  readonly mem: AddressSpace;
  /** Set when the core runs as a process (see ProcessSpace). */
  readonly process: ProcessSpace | undefined;
  readonly types: TypeTable;
  readonly layout: Layout;
  readonly rand: Rand;
  readonly ncpus: number;
  readonly hostname: string;
  readonly heapSize: number;
  readonly pageSize: number;

  private readonly syms: KSymbol[] = [];
  private readonly symByName = new Map<string, KSymbol>();
  private textNext: number;
  private dataNext: number;
  private segkpNext: number;

  /** Simulated high-resolution time in ns. */
  hrtime = 1_000_000_000;
  readonly hrtimeStep = 50;
  /** timeout(9F) and the callout tables (see callout.ts). */
  readonly callouts: Callouts;

  readonly threads: KThread[] = [];
  /** Module load/unload history (also written into dumps). */
  readonly moduleHistory: ModuleRecord[] = [];
  cur!: KThread;
  /** Called with the new current thread whenever runAs switches threads (the allocator keeps its CPU offset). */
  readonly switchHooks: Array<(t: KThread) => void> = [];
  panicking = false;
  panicMessage: string | undefined;
  /** What panic() printed on the console: the panic line and the panic stack. */
  panicText = '';
  /**
   * Code outside the simulation that calls into it (for a process, the
   * program's wasm functions): its call stack, outermost frames last, and
   * names for its addresses.  Captured stacks continue into it.
   */
  outside: OutsideCode | undefined;
  /** Processes (p0 and, once kmem is up, those newproc() creates); undefined for a process-mode core. */
  readonly procs: ProcessTable | undefined;
  /** Called once by panic() once the panic state is in memory (crash dump hook). */
  onPanic: ((k: Kernel) => void) | undefined;
  /** Where the kernel core's text and data ended when `new Kernel()` returned (unix's image; see modctl.ts). */
  readonly coreImageEnd: { text: number; data: number };
  /** Called after a function or a global is added to the image (the module list follows genunix's size). */
  onImageGrowth: (() => void) | undefined;
  /** The module list (`modules`), once bootSystem() has set it up. */
  modctl: ModctlList | undefined;
  /** The physical page accounting (page_t's), once bootSystem() has set it up. */
  pages: PageAccounting | undefined;

  /* addresses of core globals */
  readonly g: {
    msgbuf: number;
    msgbufp: number;
    panicstr: number;
    panic_thread: number;
    panic_cpu: number;
    cpus: number;
    cpu_list: number;
    ncpus: number;
    allthreads: number;
    utsname: number;
    hz: number;
  };
  private msgbufLen = 0;
  private get msgbufSize(): number {
    return this.process?.msgbuf.size ?? MSGBUF_SIZE;
  }
  /** Text of the message buffer (also in simulated memory). */
  private msgText = '';
  /** Characters ever printed (the msgbuf keeps the last MSGBUF_SIZE - 1). */
  msgPrinted = 0;

  constructor(opts: KernelOptions = {}) {
    checkKernelOptions(opts);
    const proc = opts.process;
    this.process = proc;
    this.model = proc ? proc.memory.model : dataModel(opts.model ?? 'lp64');
    this.pageSize = opts.pageSize ?? 4096;
    this.types = new TypeTable(this.model);
    declare(this.types, KERNEL_CORE_TYPES);
    if (!proc) declare(this.types, REGS_TYPES[this.model.ptrSize === 8 ? 'lp64' : 'ilp32']);
    this.layout = proc ? processLayout(proc) : layoutFor(this.model);
    this.rand = new Rand(opts.seed ?? 1);
    this.ncpus = opts.ncpus ?? (proc ? 1 : 2);
    this.hostname = opts.hostname ?? 'kmemdb';
    const L = this.layout;
    this.textNext = L.textBase;
    this.dataNext = L.dataBase;
    this.segkpNext = L.segkpBase;
    if (proc) {
      this.heapSize = L.heapMax;
      this.mem = proc.memory;
      // The data area must exist at once; the heap grows on demand.
      if (!proc.memory.map(L.dataBase, L.dataSize)) throw new RangeError(`process: no room for the data area at ${hex(L.dataBase)} (${L.dataSize} bytes)`);
    } else {
      this.heapSize = Math.min(p2roundup(opts.heapSize ?? 256 * 1024 * 1024, this.pageSize), L.heapMax);
      const mem = new PagedMemory(this.model, this.pageSize);
      this.mem = mem;
      mem.reserve('text', L.textBase, L.textSize);
      mem.reserve('data', L.dataBase, L.dataSize);
      mem.reserve('module_map', L.moduleBase, L.moduleSize);
      mem.reserve('segkp', L.segkpBase, L.segkpSize);
      mem.reserve('heap', L.heapBase, this.heapSize);
      // The data segment is mapped whole; text is mapped as functions appear.
      mem.map(L.dataBase, L.dataSize, PROT_RW);
    }

    if (proc?.header) {
      declare(this.types, proc.header.decl);
      this.global(proc.header.name, proc.header.type, 64);
    }
    this.fn('_start', 0x40);
    this.g = {
      msgbuf: this.global(proc?.msgbuf.name ?? 'msgbuf', `char [${this.msgbufSize}]`),
      msgbufp: this.global('msgbufp', 'unsigned long'),
      panicstr: this.global('panicstr', 'char [256]'),
      panic_thread: this.global('panic_thread', 'kthread_t *'),
      panic_cpu: this.global('panic_cpu', 'int'),
      cpus: this.global('cpus', `struct cpu [${this.ncpus}]`),
      cpu_list: this.global('cpu_list', 'struct cpu *'),
      ncpus: this.global('ncpus', 'int'),
      allthreads: this.global('allthreads', 'kthread_t *'),
      utsname: this.global('utsname', 'struct utsname'),
      hz: this.global('hz', 'int'),
    };
    this.mem.store32(this.g.ncpus, this.ncpus);
    this.mem.store32(this.g.hz, 100);
    this.mem.store32(this.g.panic_cpu, -1 >>> 0);
    this.writeString(this.g.utsname + this.types.offsetof('struct utsname', 'sysname'), OS_NAME, 65);
    this.writeString(this.g.utsname + this.types.offsetof('struct utsname', 'nodename'), this.hostname, 65);
    this.writeString(this.g.utsname + this.types.offsetof('struct utsname', 'release'), OS_RELEASE, 65);
    this.writeString(this.g.utsname + this.types.offsetof('struct utsname', 'version'), OS_VERSION, 65);
    this.writeString(this.g.utsname + this.types.offsetof('struct utsname', 'machine'), this.model.ptrSize === 8 ? 'amd64' : 'i386', 65);
    this.initCpus();
    this.procs = proc ? undefined : new ProcessTable(this);
    this.callouts = new Callouts(this);
    this.cur = this.createThread('thread0', 0);
    this.setState(this.cur, TS_ONPROC);
    this.coreImageEnd = { text: this.textNext, data: this.dataNext };
  }

  /* ---------------------------------------------------------------- symbols */

  private addSymbol(s: KSymbol): void {
    if (this.symByName.has(s.name) && s.module === undefined) throw new Error(`duplicate kernel symbol ${s.name}`);
    this.syms.push(s);
    this.symByName.set(s.name, s);
  }

  /** Register a kernel function of `size` bytes of text; returns its address. */
  fn(name: string, size = 0x100): number {
    const existing = this.symByName.get(name);
    if (existing && existing.kind === 'func') return existing.value;
    const base = p2roundup(this.textNext, 16);
    const end = base + size;
    if (end > this.layout.textBase + this.layout.textSize) throw new Error('kernel text segment is full');
    const prevEnd = this.textNext;
    this.textNext = end;
    this.addSymbol({ name, value: base, size, kind: 'func' });
    if (!this.process) this.mapText(prevEnd, base, end);
    this.onImageGrowth?.();
    return base;
  }

  /**
   * Map the new text pages of a function at [base, end) and fill them with
   * int3 (0xcc), as padding would; then open the function with a
   * frame-pointer prologue.  (A process's text is not in its memory.)
   */
  private mapText(prevEnd: number, base: number, end: number): void {
    const firstPage = p2roundup(prevEnd, this.pageSize);
    const lastPage = p2roundup(end, this.pageSize);
    if (lastPage > firstPage) {
      this.mem.map(firstPage, lastPage - firstPage, PROT_RW);
      this.mem.fill8(firstPage, lastPage - firstPage, 0xcc);
    }
    const basePage = p2align(base, this.pageSize);
    this.mem.protect(basePage, lastPage - basePage, PROT_RW);
    this.mem.write(base, functionPrologue(this.model));
    this.mem.protect(basePage, lastPage - basePage, PROT_READ);
  }

  /** Register several functions; returns name → address. */
  fns<T extends string>(table: Record<T, number>): Record<T, number> {
    const out = {} as Record<T, number>;
    for (const name of Object.keys(table) as T[]) out[name] = this.fn(name, table[name]);
    return out;
  }

  /** Allocate a kernel global of a C type in the data segment. */
  global(name: string, typeName: string, align?: number): number {
    const id = this.typeId(typeName);
    const size = Math.max(this.types.sizeof(id), 1);
    const al = align ?? Math.max(this.types.alignof(id), size >= 64 ? 64 : 1);
    const base = p2roundup(this.dataNext, al);
    if (base + size > this.layout.dataBase + this.layout.dataSize) throw new Error('kernel data segment is full');
    this.dataNext = base + size;
    this.addSymbol({ name, value: base, size, kind: 'object', type: typeName });
    this.onImageGrowth?.();
    return base;
  }

  /** The type id of a C type name as globals are declared ("uintptr_t [64]", "pool_t *"). */
  typeId(typeName: string): number {
    const m = /^(.*?)\s*\[(\d+)\]$/.exec(typeName);
    if (m) return this.types.arrayOf(this.typeId(m[1]!), Number(m[2]));
    const p = /^(.*?)\s*\*$/.exec(typeName);
    if (p) return this.types.pointerTo(this.typeId(p[1]!));
    return this.types.mustFind(typeName);
  }

  /** Register symbols of a loaded module (kept until unload). */
  addModuleSymbols(module: string, syms: ReadonlyArray<Omit<KSymbol, 'module'>>): void {
    for (const s of syms) {
      const full = { ...s, module };
      this.syms.push(full);
      this.symByName.set(s.name, full);
    }
    this.forgetText();
  }

  /**
   * Drop the symbols of a module's copy loaded at [base, base + size); a
   * name another copy still defines (a second copy that failed to load
   * beside the first) goes back to that copy.
   */
  removeModuleSymbols(module: string, base: number, size: number): void {
    const gone = new Set<string>();
    for (let i = this.syms.length - 1; i >= 0; i--) {
      const s = this.syms[i]!;
      if (s.module === module && s.value >= base && s.value < base + size) {
        this.syms.splice(i, 1);
        if (this.symByName.get(s.name) === s) {
          this.symByName.delete(s.name);
          gone.add(s.name);
        }
      }
    }
    for (const s of this.syms) if (gone.has(s.name)) this.symByName.set(s.name, s);
    this.forgetText();
  }

  /** Module text came or went: what frameText() knew about text addresses no longer holds. */
  private forgetText(): void {
    this.funcByPc.clear();
    this.textArgs.clear();
  }

  symbols(): readonly KSymbol[] {
    return this.syms;
  }

  sym(name: string): KSymbol | undefined {
    return this.symByName.get(name);
  }

  /** Address of a symbol; throws if absent. */
  addr(name: string): number {
    const s = this.symByName.get(name);
    if (!s) throw new Error(`no kernel symbol ${name}`);
    return s.value;
  }

  /** `sym+0xoff` for an address, or the hex address. */
  symbolize(a: number): string {
    const best = this.symAt(a);
    if (!best) return this.outside?.symbolize(a) ?? hex(a);
    return a === best.value ? best.name : `${best.name}+0x${(a - best.value).toString(16)}`;
  }

  /** End of the kernel image's data (for placing module_map). */
  get dataEnd(): number {
    return this.dataNext;
  }

  /** End of the kernel image's text. */
  get textEnd(): number {
    return this.textNext;
  }

  /* -------------------------------------------------------------- strings */

  writeString(a: number, s: string, max: number): void {
    const b = new TextEncoder().encode(s);
    const n = Math.min(b.length, max - 1);
    this.mem.write(a, b.subarray(0, n));
    this.mem.store8(a + n, 0);
  }

  readString(a: number, max = 256): string {
    let s = '';
    for (let i = 0; i < max; i++) {
      const c = this.mem.load8(a + i);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }

  /* ----------------------------------------------------------------- CPUs */

  private initCpus(): void {
    const sz = this.types.size('struct cpu');
    const T = this.types;
    for (let i = 0; i < this.ncpus; i++) {
      const c = this.g.cpus + i * sz;
      this.mem.store32(c + T.offsetof('struct cpu', 'cpu_id'), i);
      this.mem.store32(c + T.offsetof('struct cpu', 'cpu_seqid'), i);
      this.mem.store32(c + T.offsetof('struct cpu', 'cpu_flags'), 0x1b); // RUNNING|READY|EXISTS|ENABLE
      const next = this.g.cpus + ((i + 1) % this.ncpus) * sz;
      const prev = this.g.cpus + ((i + this.ncpus - 1) % this.ncpus) * sz;
      this.mem.storePtr(c + T.offsetof('struct cpu', 'cpu_next'), next);
      this.mem.storePtr(c + T.offsetof('struct cpu', 'cpu_prev'), prev);
    }
    this.mem.storePtr(this.g.cpu_list, this.g.cpus);
  }

  cpuAddr(i: number): number {
    return this.g.cpus + i * this.types.size('struct cpu');
  }

  /** The current CPU's sequence id. */
  get cpuSeqid(): number {
    return this.cur.cpu;
  }

  /* -------------------------------------------------------------- threads */

  /** Create a kernel thread of p0: kthread_t at the top of its segkp chunk, as illumos' thread_create. */
  createThread(name: string, cpu?: number, opts: Omit<ThreadOptions, 'cpu' | 'proc'> = {}): KThread {
    const { taddr, stackBase, stackTop } = this.process ? this.processThreadSpace(name) : this.segkpThreadSpace(true);
    return this.setUpThread(taddr, name, stackBase, stackTop, { ...opts, cpu });
  }

  /** Create a thread whose kthread_t the caller allocated (an LWP's, from thread_cache); its stack comes from segkp. */
  createThreadAt(taddr: number, name: string, opts: ThreadOptions): KThread {
    const { stackBase, stackTop } = this.segkpThreadSpace(false);
    return this.setUpThread(taddr, name, stackBase, stackTop, opts);
  }

  private setUpThread(taddr: number, name: string, stackBase: number, stackTop: number, opts: ThreadOptions): KThread {
    const T = this.types;
    const tid = opts.tid ?? this.threads.length + 1;
    const c = opts.cpu ?? (this.threads.length % this.ncpus);
    const t = new KThread(taddr, tid, name, stackBase, stackTop, c);
    const off = (m: string) => taddr + T.offsetof('kthread_t', m);
    this.mem.storePtr(off('t_stk'), stackTop);
    this.mem.storePtr(off('t_stkbase'), stackBase);
    this.mem.store32(off('t_tid'), tid);
    this.mem.store16(off('t_state'), TS_RUN);
    this.mem.storePtr(off('t_cpu'), this.cpuAddr(c));
    this.writeString(off('t_name'), name, 32);
    // link into the circular all-threads list
    const head = this.threads.length ? this.threads[0]!.addr : 0;
    if (!head) {
      this.mem.storePtr(off('t_next'), taddr);
      this.mem.storePtr(off('t_prev'), taddr);
      this.mem.storePtr(this.g.allthreads, taddr);
    } else {
      const last = this.mem.loadPtr(head + T.offsetof('kthread_t', 't_prev'));
      this.mem.storePtr(off('t_next'), head);
      this.mem.storePtr(off('t_prev'), last);
      this.mem.storePtr(last + T.offsetof('kthread_t', 't_next'), taddr);
      this.mem.storePtr(head + T.offsetof('kthread_t', 't_prev'), taddr);
    }
    this.threads.push(t);
    // (a process's threads have no stacks in memory: nothing to wait in)
    if (opts.start !== undefined && !this.process) this.idleIn(t, ['thread_start', 0x8], [opts.start, 0x6e]);
    if (opts.syscall !== undefined && !this.process) this.idleIn(t, ['sys_syscall', 0x1e4], [opts.syscall, 0x9c]);
    if (this.procs) this.procs.threadJoined(t, opts.proc ?? this.procs.p0);
    if (t.idleFrames.length > 0) this.switchOut(t); // it runs to its first wait
    return t;
  }

  /** Where an idle thread waits (outermost frame first); the second function is its t_startpc. */
  private idleIn(t: KThread, outer: [string, number], start: [string, number]): void {
    const startFn = this.fn(start[0], 0x200);
    this.mem.storePtr(t.addr + this.types.offsetof('kthread_t', 't_startpc'), startFn);
    t.idleFrames = [this.fn(outer[0], 0x300) + outer[1], startFn + start[1]];
  }

  /** A thread's kthread_t (withThread) and stack in segkp, with a guard page below the stack. */
  private segkpThreadSpace(withThread: boolean): { taddr: number; stackBase: number; stackTop: number } {
    const tsize = withThread ? p2roundup(this.types.size('kthread_t'), 64) : 0;
    const chunk = p2roundup(tsize, this.pageSize) + STACK_SIZE + this.pageSize;
    const base = this.segkpNext;
    if (base + chunk > this.layout.segkpBase + this.layout.segkpSize) throw new Error('segkp exhausted');
    this.segkpNext += chunk;
    const stackBase = base + p2roundup(tsize, this.pageSize) + this.pageSize;
    if (tsize > 0) this.mem.map(base, p2roundup(tsize, this.pageSize), PROT_RW);
    this.mem.map(stackBase, STACK_SIZE, PROT_RW);
    return { taddr: base, stackBase, stackTop: stackBase + STACK_SIZE };
  }

  /** A process's thread: its kthread_t is a global of the data area; it has no stack in memory. */
  private processThreadSpace(name: string): { taddr: number; stackBase: number; stackTop: number } {
    return { taddr: this.global(`${name}_kthread`, 'kthread_t', 64), stackBase: 0, stackTop: 0 };
  }

  setState(t: KThread, state: number): void {
    this.mem.store16(t.addr + this.types.offsetof('kthread_t', 't_state'), state);
  }

  /** Run fn as thread t (on t's CPU), then switch back. */
  runAs<R>(t: KThread, fn: () => R): R {
    const prev = this.cur;
    if (prev === t) return fn();
    this.switchOut(prev);
    this.cur = t;
    for (const h of this.switchHooks) h(t);
    this.switchIn(t);
    try {
      return fn();
    } finally {
      if (!this.panicking) {
        this.switchOut(t);
        this.cur = prev;
        for (const h of this.switchHooks) h(prev);
        this.switchIn(prev);
      }
    }
  }

  private switchIn(t: KThread): void {
    t.depth -= t.sleepFrames;
    t.sleepFrames = 0;
    this.setState(t, TS_ONPROC);
    this.setSleep(t, 0, 0);
    this.mem.storePtr(this.cpuAddr(t.cpu) + this.types.offsetof('struct cpu', 'cpu_thread'), t.addr);
  }

  /**
   * A thread leaves its CPU.  One that is in the middle of work, or idle
   * where it waits for work (its idle frames), waits for time to pass
   * (delay(), its next callout): it sleeps on its t_delay_cv in
   * cv_timedwait, so its stack ends in cv_timedwait and swtch, as a
   * sleeping illumos thread's does.  A thread with nothing on its stack
   * and nowhere to idle is merely runnable.
   */
  private switchOut(t: KThread): void {
    const idle = t.depth === 0 ? t.idleFrames : [];
    if ((t.depth > 0 || idle.length > 0) && this.procs) {
      const d0 = t.depth;
      for (const pc of idle) this.pushFrame(t, pc);
      this.pushFrame(t, this.fn('cv_timedwait', 0x180) + 0xea);
      this.pushFrame(t, this.fn('swtch', 0x200) + 0x141);
      t.sleepFrames = t.depth - d0;
      this.setState(t, TS_SLEEP);
      this.setSleep(t, t.addr + this.types.offsetof('kthread_t', 't_delay_cv'), this.procs.cvSobjOps);
    } else {
      this.setState(t, t.depth > 0 ? TS_SLEEP : TS_RUN);
    }
    this.mem.storePtr(t.addr + this.types.offsetof('kthread_t', 't_disp_time'), Math.floor(this.hrtime / 1e7));
    this.materialize(t);
  }

  /** Push a frame that keeps no words onto a thread that is not running (see switchOut). */
  private pushFrame(t: KThread, pc: number): void {
    t.shape[t.depth] = 0;
    t.stack[t.depth++] = pc;
  }

  /** What a thread sleeps on (t_wchan) and its type (t_sobj_ops); zeros when it runs. */
  private setSleep(t: KThread, wchan: number, sobjOps: number): void {
    const T = this.types;
    this.mem.storePtr(t.addr + T.offsetof('kthread_t', 't_wchan'), wchan);
    this.mem.storePtr(t.addr + T.offsetof('kthread_t', 't_sobj_ops'), sobjOps);
  }

  /* -------------------------------------------------------------- stacks */

  /** Push a frame: pc = function address + offset. */
  enter(pc: number): void {
    const t = this.cur;
    t.shape[t.depth] = 0;
    t.stack[t.depth++] = pc;
  }

  /**
   * The current frame's arguments, as the C function received them (the
   * words a debugger shows as `fn+off(a0, a1, ...)`); call once, right
   * after enter().  Trailing undefined arguments are not passed.
   */
  args(a0: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number): void {
    const t = this.cur;
    const d = t.depth - 1;
    const w = t.args;
    const o = d * FRAME_ARGS;
    w[o] = a0;
    w[o + 1] = a1 ?? 0;
    w[o + 2] = a2 ?? 0;
    w[o + 3] = a3 ?? 0;
    w[o + 4] = a4 ?? 0;
    w[o + 5] = a5 ?? 0;
    const n = a5 !== undefined ? 6 : a4 !== undefined ? 5 : a3 !== undefined ? 4 : a2 !== undefined ? 3 : a1 !== undefined ? 2 : 1;
    t.shape[d] = (t.shape[d]! & 0xf0) | n;
  }

  /** Set local slot i (0 to FRAME_LOCALS - 1) of the current frame: a pointer the function holds. */
  local(i: number, v: number): void {
    const t = this.cur;
    const d = t.depth - 1;
    t.locals[d * FRAME_LOCALS + i] = v;
    const sh = t.shape[d]!;
    if (i >= sh >>> 4) t.shape[d] = ((i + 1) << 4) | (sh & 0xf);
  }

  leave(): void {
    this.cur.depth--;
  }

  /** Update the current frame's pc (a call site within the function). */
  site(pc: number): void {
    const t = this.cur;
    t.stack[t.depth - 1] = pc;
  }

  /** Current depth of the shadow stack (to restore after a caught error). */
  get depth(): number {
    return this.cur.depth;
  }

  set depth(d: number) {
    this.cur.depth = d;
  }

  /**
   * Capture up to `max` pcs, innermost first, into simulated memory at
   * `dst` (pointer-sized slots).  Returns the depth stored.
   */
  capturePcs(dst: number, max: number): number {
    const t = this.cur;
    const n = t.depth < max ? t.depth : max;
    const st = t.stack;
    const mem = this.mem;
    const P = this.model.ptrSize;
    let d = t.depth - 1;
    for (let i = 0; i < n; i++, d--) mem.storePtr(dst + i * P, st[d]!);
    if (n < max && this.outside) return n + this.captureOutside(dst + n * P, max - n);
    return n;
  }

  /** Append the outside caller's frames (a program's) below the simulated ones. */
  private captureOutside(dst: number, max: number): number {
    const pcs = this.outside!.stack(max);
    const n = Math.min(pcs.length, max);
    for (let i = 0; i < n; i++) this.mem.storePtr(dst + i * this.model.ptrSize, pcs[i]!);
    return n;
  }

  /** The current stack as pcs, innermost first. */
  stackPcs(max = 64): number[] {
    const t = this.cur;
    const out: number[] = [];
    for (let d = t.depth - 1; d >= 0 && out.length < max; d--) out.push(t.stack[d]!);
    if (out.length < max && this.outside) out.push(...this.outside.stack(max - out.length).slice(0, max - out.length));
    return out;
  }

  /**
   * Write thread t's shadow stack into its stack memory as a frame chain,
   * outermost frame at the top.  Every function but the outermost has a
   * frame record ([fp] = caller's fp, [fp + P] = return pc); the chain ends
   * with a saved fp of 0, where unwinders stop, so the outermost function
   * (the thread's entry point) keeps its words at the top of the stack
   * with no record to find them by.  The words a frame keeps go where a
   * compiler keeps them:
   *
   *   amd64 (illumos' -msave-args)      i386 (cdecl)
   *   [fp + 8]   return pc              [fp + 8 + 4i]  argument i (pushed by the caller)
   *   [fp]       caller's fp            [fp + 4]       return pc
   *   [fp - 8i - 8]  argument i         [fp]           caller's fp
   *   below them: locals                [fp - 4 ...]   locals
   *
   * and the function's text says how many arguments there are, as
   * debuggers read it (see frameText()): on amd64 its prologue pushes the
   * argument registers after `push %rbp; mov %rsp,%rbp`; on i386 the
   * instruction at the return address pops the pushed arguments
   * (`add $4n,%esp`).  Frames that do not fit in the stack are left out
   * (innermost ones: the chain still ends at a valid outermost frame).
   */
  materialize(t: KThread): void {
    if (t.stackTop === 0) return; // a process's thread: no stack in memory
    const P = this.model.ptrSize;
    const amd64 = P === 8;
    const T = this.types;
    const mem = this.mem;
    const limit = t.stackBase + 16 * P; // headroom below the innermost frame
    let fp = 0;
    let a = t.stackTop - 4 * P;
    let pc = 0;
    for (let j = 0; j < t.depth; j++) {
      const sh = t.shape[j]!;
      const nargs = sh & 0xf;
      const nlocals = sh >>> 4;
      if (a - (2 + nargs + nlocals) * P - 16 < limit) break;
      const ao = j * FRAME_ARGS;
      if (!amd64) {
        a -= nargs * P;
        for (let i = 0; i < nargs; i++) mem.storePtr(a + i * P, t.args[ao + i]!);
      }
      if (j > 0) {
        a -= 2 * P;
        mem.storePtr(a, fp);
        mem.storePtr(a + P, t.stack[j - 1]!);
        fp = a;
      }
      if (amd64) {
        a -= nargs * P;
        for (let i = 0; i < nargs; i++) mem.storePtr(a + (nargs - 1 - i) * P, t.args[ao + i]!);
      }
      a -= nlocals * P;
      const lo = j * FRAME_LOCALS;
      for (let i = 0; i < nlocals; i++) mem.storePtr(a + i * P, t.locals[lo + i]!);
      a = p2align(a, 16);
      pc = t.stack[j]!;
      if (j > 0) this.frameText(pc, t.stack[j - 1]!, nargs);
    }
    mem.storePtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[0]'), pc);
    mem.storePtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[1]'), a);
    mem.storePtr(t.addr + T.offsetof('kthread_t', 't_fp'), fp);
  }

  /** Argument count each text address was last made to say (see frameText()). */
  private readonly textArgs = new Map<number, number>();

  /**
   * Make the text say how many arguments a frame at `pc` (returning to
   * `ret`) has, as a compiler's code would: amd64, the function's prologue
   * pushes that many argument registers (%rdi, %rsi, %rdx, %rcx, %r8, %r9)
   * after `push %rbp; mov %rsp,%rbp`; i386, the caller's instruction at the
   * return address is `add $4n,%esp` (nops when n is 0).  Text is
   * read-only to kernel code, so this patches the bytes below the page
   * protection, as a kernel's own text patching does.  Return addresses
   * inside a prologue are left alone (gdb reads prologues).
   */
  private frameText(pc: number, ret: number, nargs: number): void {
    if (this.process) return;
    if (this.model.ptrSize === 8) {
      const f = this.funcAt(pc);
      if (f === undefined) return;
      const at = f.value + functionPrologue(this.model).length;
      if (this.textArgs.get(at) === nargs) return;
      this.textArgs.set(at, nargs);
      this.patchText(f, at, SAVEARGS_TEXT[nargs]!);
      return;
    }
    if (ret === 0 || this.textArgs.get(ret) === nargs) return;
    const f = this.funcAt(ret);
    if (f === undefined || ret < f.value + functionPrologue(this.model).length) return;
    this.textArgs.set(ret, nargs);
    this.patchText(f, ret, nargs === 0 ? NOPS3 : new Uint8Array([0x83, 0xc4, 4 * nargs]));
  }

  /** Functions by pc, for frameText() (switch-outs materialise the same pcs again and again). */
  private readonly funcByPc = new Map<number, KSymbol | undefined>();

  private funcAt(pc: number): KSymbol | undefined {
    if (this.funcByPc.has(pc)) return this.funcByPc.get(pc);
    const s = this.symAt(pc);
    const f = s && s.kind === 'func' ? s : undefined;
    this.funcByPc.set(pc, f);
    return f;
  }

  /** Write bytes into function f's mapped text, below its read-only protection. */
  private patchText(f: KSymbol, a: number, bytes: Uint8Array): void {
    const end = a + bytes.length;
    if (end > f.value + f.size || !this.mem.isMapped(a) || !this.mem.isMapped(end - 1)) return;
    const seg = this.mem.segmentOf(a);
    if (seg) seg.u8.set(bytes, a - seg.base);
  }

  /* ---------------------------------------------------------------- time */

  gethrtime(): number {
    this.hrtime += this.hrtimeStep;
    return this.hrtime;
  }

  /** Seconds since the epoch, on the simulated clock. */
  get timeSecond(): number {
    return BOOT_EPOCH + Math.floor(this.hrtime / 1e9);
  }

  /** Make impl the body of the kernel function at text address func, for callouts to call. */
  calloutFunc(func: number, impl: CalloutFunc): number {
    this.callouts.register(func, impl);
    return func;
  }

  /** timeout(): call the kernel function at func (see calloutFunc) with arg, on thread t, after delay ns. */
  timeout(t: KThread, delayNs: number, func: number, arg = 0): void {
    checkFinite('Kernel.timeout', 'delayNs', delayNs);
    if (delayNs < 0) throw new ArgumentError('Kernel.timeout', 'delayNs', 'a non-negative number of nanoseconds', delayNs);
    this.callouts.timeout(t, delayNs, func, arg);
  }

  /** Advance the clock by ns, running callouts that fall due. */
  advance(ns: number): void {
    checkFinite('Kernel.advance', 'ns', ns);
    if (ns < 0) throw new ArgumentError('Kernel.advance', 'ns', 'a non-negative number of nanoseconds', ns);
    const target = this.hrtime + ns;
    this.callouts.runDue(target);
    if (target > this.hrtime) this.hrtime = target;
    this.callouts.syncTime();
  }

  pendingCallouts(): number {
    return this.callouts.pending();
  }

  /** The thread whose kthread_t is at addr. */
  threadAt(addr: number): KThread | undefined {
    return this.threads.find((t) => t.addr === addr);
  }

  /* ------------------------------------------------------------- messages */

  /** Append text to the message buffer (kernel printf). */
  printf(text: string): void {
    this.msgText += text;
    this.msgPrinted += text.length;
    if (this.msgText.length > MSGBUF_SIZE - 1) this.msgText = this.msgText.slice(this.msgText.length - (MSGBUF_SIZE - 1));
    const b = new TextEncoder().encode(this.msgText);
    // rewrite only what changed when appending without wrap
    if (b.length >= this.msgbufLen && b.length === this.msgText.length) {
      this.mem.write(this.g.msgbuf + this.msgbufLen, b.subarray(this.msgbufLen));
    } else {
      this.mem.write(this.g.msgbuf, b);
    }
    this.msgbufLen = b.length;
    this.mem.store8(this.g.msgbuf + b.length, 0);
    this.mem.storePtr(this.g.msgbufp, b.length);
  }

  /** cmn_err-style messages: CE_NOTE "NOTICE: ", CE_WARN "WARNING: ". */
  cmnErr(level: 'note' | 'warn' | 'cont', text: string): void {
    const prefix = level === 'note' ? 'NOTICE: ' : level === 'warn' ? 'WARNING: ' : '';
    this.printf(prefix + text + (level === 'cont' ? '' : '\n'));
  }

  messages(): string {
    return this.msgText;
  }

  /* ---------------------------------------------------------------- panic */

  /**
   * A loop in kernel code that can no longer make progress (its data is
   * corrupt) would hang a real system until the deadman cyclic noticed
   * the clock standing still.  A simulator cannot hang, so such a loop
   * calls this once it has gone round far longer than it ever could with
   * sound data: the panic illumos' deadman() raises (with its default
   * deadman_seconds, 50), so the dump shows the looping thread.
   */
  deadman(): never {
    return this.panic(`deadman: timed out after ${DEADMAN_SECONDS} seconds of clock inactivity`);
  }

  /**
   * Panic with msg.  trapText (a fatal trap's registers, see trap()) goes
   * between the panic line and the panic stack, as panicsys() prints it.
   */
  panic(msg: string, trapText?: string): never {
    if (!this.panicking) {
      this.panicking = true;
      this.callouts.syncTime();
      this.panicMessage = msg;
      this.writeString(this.g.panicstr, msg, 256);
      this.mem.storePtr(this.g.panic_thread, this.cur.addr);
      this.mem.store32(this.g.panic_cpu, this.cur.cpu);
      for (const t of this.threads) this.materialize(t);
      this.panicText = `panic[cpu${this.cur.cpu}]/thread=${hex(this.cur.addr)}: ${msg}\n`;
      if (!this.process) this.panicText += `\n${trapText === undefined ? '' : `${trapText}\n`}${this.panicStack(this.cur)}\n`;
      this.printf(this.panicText);
      // dumpsys: savecore installs itself here (dump/savecore.ts).
      if (this.onPanic) this.onPanic(this);
    }
    throw new KernelPanic(msg);
  }

  /**
   * Turn a fault raised by simulated code into the trap the CPU would take
   * (#pf, or #gp for a non-canonical amd64 address) and die() of it: the
   * panic names the trap as illumos does, its registers lie on the
   * thread's stack and print on the console (trap.ts).
   */
  trap(f: PageFault): never {
    const t = this.cur;
    this.materialize(t);
    const trap = fatalTrap(this.trapHost, t, f);
    this.panic(trap.message, trap.showregs);
  }

  /** What the trap handler reads of the kernel. */
  private get trapHost(): TrapHost {
    const T = this.types;
    return {
      ptrSize: this.model.ptrSize,
      storePtr: (a, v) => this.mem.storePtr(a, v),
      moduleOf: (pc) => this.moduleOf(pc),
      procOf: (t) => {
        const procp = this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_procp'));
        const p = this.procs?.procs.find((x) => x.addr === procp);
        return { comm: p?.name ?? '', pid: p?.pid ?? 0 };
      },
      savedFrame: (t) => ({
        pc: this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[0]')),
        sp: this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[1]')),
        fp: this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_fp')),
      }),
    };
  }

  /** The module of the function at pc, as mod_containing_pc() names it (kernel proper: genunix). */
  private moduleOf(pc: number): string {
    const s = this.symAt(pc);
    return s ? (s.module ?? 'genunix') : '<null string>';
  }

  /** Run simulated code, turning page faults into panics. */
  guard<R>(fn: () => R): R {
    try {
      return fn();
    } catch (e) {
      if (e instanceof PageFault) this.trap(e);
      throw e;
    }
  }

  /**
   * The panic stack illumos prints on the console after the panic line
   * (panic_stack): one `fp module:function+off ()` line per frame, from the
   * panicking thread's frame chain as materialised in its stack.
   */
  private panicStack(t: KThread): string {
    const T = this.types;
    const P = this.model.ptrSize;
    let fp = this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_fp'));
    let pc = this.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[0]'));
    let out = '';
    for (let n = 0; pc !== 0 && n < 64; n++) {
      const s = this.symAt(pc);
      const where = s ? `${this.moduleOf(pc)}:${s.name}${pc === s.value ? '' : '+' + (pc - s.value).toString(16)}` : hex(pc);
      out += `${hex(fp).padStart(2 * P, '0')} ${where} ()\n`;
      if (fp === 0) break;
      pc = this.mem.loadPtr(fp + P);
      fp = this.mem.loadPtr(fp);
    }
    return out;
  }

  /** The symbol containing a (as symbolize() finds it). */
  private symAt(a: number): KSymbol | undefined {
    let best: KSymbol | undefined;
    for (const s of this.syms) {
      if (a >= s.value && a < s.value + Math.max(s.size, 1) && (!best || s.value > best.value)) best = s;
    }
    return best;
  }

  /**
   * Forced crash dump, as `reboot -d`: a user thread's uadmin(A_DUMP)
   * system call, whose kadmin() panics, so the dump has its stack.
   */
  forcedDump(): never {
    const procs = this.procs;
    // uadmin is called below by hand: the LWP starts with an empty stack
    const t = procs?.attached ? procs.lwpCreate(procs.newproc('reboot', { psargs: 'reboot -d' }), 'reboot', {}) : this.createThread('reboot');
    const sysSyscall = this.fn('sys_syscall', 0x300);
    const uadmin = this.fn('uadmin', 0x600);
    const kadmin = this.fn('kadmin', 0x600);
    return this.runAs(t, () => {
      this.enter(sysSyscall + 0x227);
      this.enter(uadmin + 0x55c);
      this.enter(kadmin + 0x517);
      return this.panic('forced crash dump initiated at user request');
    });
  }
}

export { TS_SLEEP };
