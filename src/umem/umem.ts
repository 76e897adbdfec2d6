/*
 * umem: kmem as the malloc of a process heap (libumem for WebAssembly and
 * for JavaScript code that manages an ArrayBuffer by hand).
 *
 * Theory
 * ------
 * `createUmem` boots the kernel core as a process inside the memory given
 * (process.ts), with kmem wearing libumem's names, and puts libumem's
 * malloc layer on top: malloc(n) is umem_alloc(n + 8) behind an 8-byte
 * malloc tag { malloc_size, malloc_stat = MALLOC_MAGIC - malloc_size }, so
 * free(p) needs no size; free marks the tag with the free pattern, so a
 * second free of the same pointer is caught by the tag ("double-free or
 * invalid buffer") before the allocator sees it; memalign beyond 8 bytes
 * takes vmem_xalloc from umem_memalign behind a MEMALIGN_MAGIC tag.
 *
 * Errors.  kmem runs with kmem_panic = 0: a detected corruption makes its
 * report (kmem_error, "umem allocator: ...") and the erring call completes
 * without harm (the bad free is not done).  The report is completed as
 * umem_err_recoverable() does ("umem: heap corruption detected", then the
 * stack of the erring call), written to the error buffer in memory
 * (umem_error_buffer), and, unless UMEM_DEBUG has `noabort`, thrown as a
 * UmemError once the call has unwound: what a process would die of, a
 * JavaScript caller can catch; the runner turns it into abort().
 *
 * Checking the heap (umem_verify) and finding leaks are mdb's analyses run
 * over this memory: src/umemcheck, a layer above mdb.
 *
 * Time and chance are simulated: the clock advances by about 10 us per
 * call (a fixed step and a seeded jitter) and the kernel's callouts (kmem_update, vmem_update: hash rescaling,
 * magazine resizing, reaping) run on it; randomness comes from the seed.
 * The same seed and the same calls give the same memory, byte for byte.
 */

import type { FlatSource } from '../machine/memory.js';
import { FlatMemory } from '../machine/memory.js';
import { hex } from '../machine/addr.js';
import { KernelPanic } from '../kernel/kernel.js';
import { PageFault } from '../machine/memory.js';
import type { KmemErrorReport } from '../kmem/index.js';
import { KM_NOSLEEP } from '../abi/kmem-impl.js';
import { MALLOC_MAGIC, MALLOC_TAG, MEMALIGN_MAGIC, UMEM_FREE_PATTERN_32 } from '../abi/umem-malloc.js';
import { VM_NOSLEEP } from '../vmem/api.js';
import { parseUmemEnv, type UmemConfig, type UmemEnv } from './env.js';
import { UmemError, type UmemErrorClass } from './errors.js';
import { bootProcessHeap, UMEM_HEAP_LIMIT, type ProcessHeap } from './process.js';
import { ArgumentError, checkInt, checkString } from '../machine/argcheck.js';
import type { KSymbol } from '../kernel/kernel.js';
import type { TypeTable } from '../ctf/ctf.js';

export { MALLOC_MAGIC, MEMALIGN_MAGIC, UMEM_FREE_PATTERN_32, MALLOC_TAG };
/** UMEM_ALIGN: malloc's alignment. */
export const UMEM_ALIGN = 8;
/** WASI errno values returned by posix_memalign. */
export const EINVAL = 28;
export const ENOMEM = 48;

/**
 * Simulated time per allocator call (ns): a fixed step plus a seeded jitter,
 * so that what samples the clock (mtbf's `gethrtime() % mtbf`) sees it move
 * as a real clock does, reproducibly.
 */
const CALL_NS = 10_000;
const CALL_JITTER = 1023;
const UINT32_MAX = 0xffffffff;

/** The host functions of the malloc layer, as symbols (name -> text size). */
const MALLOC_FUNCTIONS = {
  malloc: 0x60,
  calloc: 0x60,
  realloc: 0x100,
  free: 0x30,
  memalign: 0x140,
  process_free: 0x200,
  malloc_usable_size: 0x40,
  umem_err_recoverable: 0x80,
} as const;
type MallocFn = keyof typeof MALLOC_FUNCTIONS;

export interface UmemOptions {
  /** The memory: a WebAssembly.Memory (grows on demand), an ArrayBuffer or a SharedArrayBuffer (fixed). */
  memory: FlatSource;
  /** First byte the allocator owns (a program's __heap_base).  Default 4096: page 0 stays unused, so 0 is never a buffer. */
  base?: number;
  /** End of the heap (default: the end of an ArrayBuffer, 0xf0000000 for a WebAssembly.Memory). */
  limit?: number;
  /** UMEM_DEBUG, UMEM_LOGGING, UMEM_OPTIONS as a process's environment has them. */
  env?: UmemEnv;
  /** Seed of the simulated clock's callouts and randomness (default 1). */
  seed?: number;
  /** The caller's stack as pcs, innermost first (a program's wasm frames); asked only when auditing. */
  captureStack?: (max: number) => number[];
  /** `name+0xoff` for a pc of the caller's code. */
  symbolize?: (pc: number) => string | undefined;
  /** Where reports and environment messages go when UMEM_DEBUG asks for output (verbose). */
  output?: (text: string) => void;
  /** kmem's word-index fast paths (default true); false: the checked paths only, slower, the same memory byte for byte. */
  wordPaths?: boolean;
}

/** A buffer's place, for the allocator's users (the runner, tests). */
export interface UmemLayout {
  /** The data area (the allocator's globals): [dataBase, dataBase + dataSize). */
  dataBase: number;
  dataSize: number;
  /** umem_anchor. */
  anchor: number;
  /** The heap: [heapBase, heapLimit). */
  heapBase: number;
  heapLimit: number;
}

export class Umem {
  readonly memory: FlatMemory;
  readonly config: UmemConfig;
  readonly heap: ProcessHeap;
  /** Every report made so far (also the text of umem_error_buffer), oldest first. */
  readonly reports: UmemError[] = [];
  private readonly FN: Record<MallocFn, number>;
  private readonly output: ((text: string) => void) | undefined;
  /** The report of the current call, thrown when it has unwound. */
  private pending: UmemError | undefined;
  private dead: UmemError | undefined;
  /** Where the heap starts: below it no malloc tag can be. */
  private readonly heapBase: number;
  /** The clock's jitter generator (an LCG seeded from the kernel's Rand) and the calls made. */
  private jitter: number;
  private calls = 0;

  constructor(opts: UmemOptions) {
    const source = opts.memory;
    this.memory = new FlatMemory(source);
    this.config = parseUmemEnv(opts.env ?? {});
    this.output = opts.output;
    const c = this.config;
    const limit = opts.limit ?? (source instanceof WebAssembly.Memory ? undefined : this.memory.byteLength);
    this.heap = bootProcessHeap({
      memory: this.memory,
      base: opts.base ?? 4096,
      limit,
      seed: opts.seed,
      flags: c.flags & ~0x10,
      logSizes: c.logSizes,
      stackDepth: c.stackDepth,
      outside: opts.captureStack ? { stack: opts.captureStack, symbolize: opts.symbolize ?? (() => undefined) } : undefined,
      onError: (r) => this.kmemError(r),
      wordPaths: opts.wordPaths,
    });
    this.FN = this.heap.k.fns(MALLOC_FUNCTIONS);
    this.heapBase = this.heap.k.layout.heapBase;
    this.jitter = this.heap.k.rand.u32() | 0;
    this.applyTunables();
    if (c.output > 1) for (const m of c.messages) this.output?.(m + '\n');
  }

  /** The environment's numbers into kmem's globals (umem_init). */
  private applyTunables(): void {
    const c = this.config;
    const { kmem } = this.heap;
    const G = kmem.G;
    const m = this.memory;
    if (c.contentMaxsave !== undefined) m.storePtr(G.kmem_content_maxsave, c.contentMaxsave);
    if (c.maxverify !== undefined) m.storePtr(G.kmem_maxverify, c.maxverify);
    if (c.minfirewall !== undefined) m.storePtr(G.kmem_minfirewall, c.minfirewall);
    if (c.maxContention !== undefined) m.store32(G.kmem_depot_contention, c.maxContention);
    if (c.reapInterval !== undefined) m.store32(G.kmem_reap_interval, c.reapInterval * 100);
    if (c.mtbf) kmem.setMtbf(0, c.mtbf);
  }

  /** Messages about the environment, in libumem's words (`UMEM_DEBUG: 'x' not recognized`). */
  get envMessages(): readonly string[] {
    return this.config.messages;
  }

  get layout(): UmemLayout {
    const L = this.heap.k.layout;
    return { dataBase: L.dataBase, dataSize: L.dataSize, anchor: this.heap.anchor, heapBase: L.heapBase, heapLimit: L.heapBase + L.heapMax };
  }

  /** The allocator's symbols: its globals in the data area (objects) and its functions in host text. */
  symbols(): readonly KSymbol[] {
    return this.heap.k.symbols();
  }

  /** The C types of the allocator's structures (ILP32), for a core's readers. */
  get types(): TypeTable {
    return this.heap.k.types;
  }

  /** The text of umem_error_buffer: every report so far. */
  errorBuffer(): string {
    return this.heap.k.messages();
  }

  /* ------------------------------------------------------------ calls */

  /**
   * Run one entry point: refresh the views if the program grew the memory,
   * advance the clock, keep the simulated stack balanced, turn the
   * allocator's own failures into UmemError, and throw the call's report
   * (unless noabort) once it is done.
   */
  private call<R>(fn: MallocFn, off: number, body: () => R): R {
    const d0 = this.begin(this.FN[fn] + off);
    let r: R;
    try {
      r = body();
    } catch (e) {
      throw this.fail(e, d0);
    }
    this.end(d0);
    return r;
  }

  /** The start of every entry point (see call); returns the stack depth to come back to. */
  private begin(pc: number): number {
    if (this.dead) throw this.dead;
    this.memory.current();
    this.tick();
    const k = this.heap.k;
    const d0 = k.depth;
    k.enter(pc);
    return d0;
  }

  /** The end of an entry point: unwind, then throw its report unless noabort. */
  private end(d0: number): void {
    this.heap.k.depth = d0;
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      if (this.config.abort) throw p;
    }
  }

  /** An entry point failed: unwind and say why. */
  private fail(e: unknown, d0: number): unknown {
    this.heap.k.depth = d0;
    return this.fatal(e);
  }

  /**
   * Advance the clock by one call's time (a fixed step and a jitter from a
   * generator seeded by the kernel's), running due callouts every 256 calls.
   */
  private tick(): void {
    const k = this.heap.k;
    this.jitter = (Math.imul(this.jitter, 1664525) + 1013904223) | 0;
    k.hrtime += CALL_NS + ((this.jitter >>> 16) & CALL_JITTER);
    if ((++this.calls & 0xff) === 0) k.advance(0);
  }

  /** The allocator could not go on (a panic inside it, an access outside the memory). */
  private fatal(e: unknown): unknown {
    if (e instanceof UmemError) return e;
    let text: string;
    if (e instanceof KernelPanic) text = `umem: ${e.panicMessage}\n`;
    else if (e instanceof PageFault) text = `umem: fatal access outside the heap: ${e.access} at ${hex(e.addr)}\n`;
    else return e;
    const err = new UmemError('PANIC', text + this.stackTrace(), { buffer: 0 });
    this.heap.k.printf(err.report);
    this.reports.push(err);
    this.dead = err;
    return err;
  }

  /** print_stacktrace(): the erring call's stack, innermost first. */
  private stackTrace(): string {
    const k = this.heap.k;
    const pcs = k.stackPcs(64);
    if (pcs.length === 0) return '';
    return 'stack trace:\n' + pcs.map((pc) => k.symbolize(pc) + '\n').join('');
  }

  /** umem_err_recoverable(): finish a report, keep it, print it if asked. */
  private recoverable(cls: UmemErrorClass, text: string, where: { buffer: number; bufctl?: number; cache?: number; slab?: number }): void {
    const k = this.heap.k;
    k.enter(this.FN.umem_err_recoverable + 0x2c);
    const tail = this.stackTrace();
    k.leave();
    k.printf(tail);
    const err = new UmemError(cls, text + tail, where);
    this.reports.push(err);
    if (this.config.output > 0 || !this.config.abort) this.output?.(err.report);
    this.pending ??= err;
  }

  /** kmem_error's report (already in the error buffer), completed as umem_error does. */
  private kmemError(r: KmemErrorReport): void {
    const tail = 'umem: heap corruption detected\n';
    this.heap.k.printf(tail);
    this.recoverable(r.name, r.text + tail, { buffer: r.buffer, bufctl: r.bufctl, cache: r.realcache || r.cache, slab: r.slab });
  }

  /* ---------------------------------------------------- the malloc layer */

  malloc(size: number): number {
    // (call's work without its closure: malloc and free are the hot ones)
    const d0 = this.begin(this.FN.malloc + 0x27);
    let p: number;
    try {
      p = this.mallocTagged(size);
    } catch (e) {
      throw this.fail(e, d0);
    }
    this.end(d0);
    return p;
  }

  private mallocTagged(sizeArg: number): number {
    const size = toSize(sizeArg) + MALLOC_TAG;
    if (size > UINT32_MAX) return 0;
    const buf = this.heap.kmem.kmem_alloc(size, KM_NOSLEEP);
    if (buf === 0) return 0;
    this.memory.store32(buf, size);
    this.memory.store32(buf + 4, (MALLOC_MAGIC - size) >>> 0);
    return buf + MALLOC_TAG;
  }

  calloc(nelem: number, elsize: number): number {
    return this.call('calloc', 0x2b, () => {
      const size = toSize(nelem) * toSize(elsize);
      if (size > UINT32_MAX) return 0;
      const p = this.mallocTagged(size);
      if (p !== 0) this.memory.fill8(p, size, 0);
      return p;
    });
  }

  free(ptr: number): void {
    if (ptr === 0) return;
    const d0 = this.begin(this.FN.free + 0x1d);
    try {
      this.processFree(ptr, true);
    } catch (e) {
      throw this.fail(e, d0);
    }
    this.end(d0);
  }

  realloc(ptr: number, newsize: number): number {
    if (ptr === 0) return this.malloc(newsize);
    return this.call('realloc', 0x42, () => {
      const old = this.processFree(ptr, false);
      if (old < 0) return 0;
      if (newsize === old) return ptr;
      const p = this.mallocTagged(newsize);
      if (p === 0) return 0;
      const n = Math.min(old, toSize(newsize));
      if (n > 0) this.memory.write(p, this.memory.read(ptr, n));
      this.processFree(ptr, true);
      return p;
    });
  }

  /** memalign: malloc when it aligns enough, else vmem_xalloc from umem_memalign behind a MEMALIGN_MAGIC tag. */
  memalign(align: number, size: number): number {
    return this.call('memalign', 0x6a, () => this.memalignTagged(align, size));
  }

  private memalignTagged(align: number, sizeArg: number): number {
    if (sizeArg === 0 || align === 0 || !isPow2(align) || align > 0x80000000) return 0;
    if (align <= UMEM_ALIGN) return this.mallocTagged(sizeArg);
    const size = toSize(sizeArg) + MALLOC_TAG;
    if (size > UINT32_MAX) return 0;
    const buf = this.heap.arenas.umem_memalign.xalloc(size, align, align - MALLOC_TAG, 0, 0, 0, VM_NOSLEEP);
    if (buf === 0) return 0;
    this.memory.store32(buf, size);
    this.memory.store32(buf + 4, (MEMALIGN_MAGIC - size) >>> 0);
    return buf + MALLOC_TAG;
  }

  /** C11 aligned_alloc: memalign, with a zero size taken as one byte (so it succeeds as dlmalloc's does). */
  aligned_alloc(align: number, size: number): number {
    return this.memalign(align, size === 0 ? 1 : size);
  }

  /** posix_memalign: 0, EINVAL or ENOMEM; on success the pointer is stored at memptr. */
  posix_memalign(memptr: number, align: number, size: number): number {
    if (align < 4 || !isPow2(align)) return EINVAL;
    const p = this.memalign(align, size === 0 ? 1 : size);
    if (p === 0) return ENOMEM;
    this.memory.store32(memptr, p);
    return 0;
  }

  /** The bytes a buffer may use: what was asked for (beyond it is the redzone). */
  malloc_usable_size(ptr: number): number {
    if (ptr === 0) return 0;
    return this.call('malloc_usable_size', 0x19, () => Math.max(this.processFree(ptr, false), 0));
  }

  /**
   * process_free: read the tag in front of ptr; free the buffer (doFree) or
   * return its data size.  A bad tag is reported ("free(addr): ...") and
   * -1 returned.
   */
  private processFree(ptr: number, doFree: boolean): number {
    const k = this.heap.k;
    k.enter(this.FN.process_free + (doFree ? 0xd4 : 0x6c));
    try {
      const m = this.memory;
      const tag = ptr - MALLOC_TAG;
      if (tag < this.heapBase || (ptr & 3) !== 0 || ptr > m.byteLength) return this.badTag(ptr, doFree, 0);
      const size = m.load32(tag);
      const stat = m.load32(tag + 4);
      const kind = (stat + size) >>> 0;
      if (kind !== MALLOC_MAGIC && kind !== MEMALIGN_MAGIC) return this.badTag(ptr, doFree, stat);
      if (!doFree) return size - MALLOC_TAG;
      m.store32(tag + 4, UMEM_FREE_PATTERN_32);
      if (kind === MALLOC_MAGIC) this.heap.kmem.kmem_free(tag, size);
      else this.heap.arenas.umem_memalign.xfree(tag, size);
      return size - MALLOC_TAG;
    } finally {
      k.leave();
    }
  }

  private badTag(ptr: number, doFree: boolean, stat: number): number {
    const dup = stat === UMEM_FREE_PATTERN_32;
    const message = dup ? 'double-free or invalid buffer' : 'invalid or corrupted buffer';
    const text = `${doFree ? 'free' : 'realloc'}(${hex(ptr)}): ${message}\n`;
    this.heap.k.printf(text);
    this.recoverable(dup ? 'DOUBLEFREE' : 'BADTAG', text, { buffer: ptr });
    return -1;
  }
}

function toSize(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`umem: a size must be a non-negative integer, not ${String(n)}`);
  return n;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Create a debugging allocator over a memory (see UmemOptions). */
export function createUmem(opts: UmemOptions): Umem {
  checkUmemOptions(opts);
  return new Umem(opts);
}

/** Bad options are an ArgumentError naming the option (a memory too small for the allocator: a RangeError). */
function checkUmemOptions(opts: UmemOptions): void {
  const fn = 'createUmem';
  if (typeof opts !== 'object' || opts === null) throw new ArgumentError(fn, 'options', 'an object', opts);
  const m: unknown = opts.memory;
  const isMemory = m instanceof ArrayBuffer || m instanceof WebAssembly.Memory || (typeof SharedArrayBuffer !== 'undefined' && m instanceof SharedArrayBuffer);
  if (!isMemory) throw new ArgumentError(fn, 'memory', 'an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory', m);
  if (opts.base !== undefined) checkInt(fn, 'base', opts.base, 0, UMEM_HEAP_LIMIT - 1);
  if (opts.limit !== undefined) checkInt(fn, 'limit', opts.limit, 1, 0x100000000);
  if (opts.seed !== undefined) checkInt(fn, 'seed', opts.seed, 0, 0xffffffff);
  for (const k of ['UMEM_DEBUG', 'UMEM_LOGGING', 'UMEM_OPTIONS'] as const) {
    const v = opts.env?.[k];
    if (v !== undefined) checkString(fn, `env.${k}`, v);
  }
  if (opts.wordPaths !== undefined && typeof opts.wordPaths !== 'boolean') throw new ArgumentError(fn, 'wordPaths', 'a boolean', opts.wordPaths);
  for (const k of ['captureStack', 'symbolize', 'output'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'function') throw new ArgumentError(fn, k, 'a function', opts[k]);
  }
}
