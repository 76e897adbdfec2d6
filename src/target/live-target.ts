/*
 * The live target: mdb's view of a running (or just panicked) kernel.
 *
 * Theory
 * ------
 * A MemoryTarget over the kernel's own PagedMemory and TypeTable, with the
 * facts that change while the kernel runs supplied as functions: symbols
 * (modules load and unload), threads (created at any time; saved registers
 * read from kthread_t in memory, as the dump writer reads them), the module
 * history, and the panic state.  Writes are allowed unless the caller
 * says otherwise (mdb -k without -w); a caller that can let the kernel run
 * on (src/scenarios/live.ts) passes its TargetControl.
 */

import { MemoryTarget } from './memory-target.js';
import type { TargetControl, TargetModuleRecord, TargetStatus, TargetSymbol, TargetThread } from './target.js';
import { OS_NAME, OS_RELEASE, OS_VERSION, type Kernel, type KSymbol } from '../kernel/kernel.js';
import { TS_ONPROC } from '../abi/kernel-core.js';

function toTargetSymbol(s: KSymbol): TargetSymbol {
  const sym: TargetSymbol = { name: s.name, value: s.value, size: s.size, kind: s.kind };
  return { ...sym, ...(s.module !== undefined ? { module: s.module } : {}), ...(s.type !== undefined ? { type: s.type } : {}) };
}

/** Threads of k with their saved registers as memory holds them. */
export function liveThreads(k: Kernel): TargetThread[] {
  const T = k.types;
  const m = k.mem;
  const oPc = T.offsetof('kthread_t', 't_pcb.val[0]');
  const oSp = T.offsetof('kthread_t', 't_pcb.val[1]');
  const oFp = T.offsetof('kthread_t', 't_fp');
  const oState = T.offsetof('kthread_t', 't_state');
  return k.threads.map((t) => ({
    addr: t.addr,
    name: t.name,
    pc: m.loadPtr(t.addr + oPc),
    sp: m.loadPtr(t.addr + oSp),
    fp: m.loadPtr(t.addr + oFp),
    stackBase: t.stackBase,
    stackTop: t.stackTop,
    cpu: m.load16(t.addr + oState) === TS_ONPROC ? t.cpu : -1,
  }));
}

export interface LiveTargetOptions {
  /** Allow writes (default true; mdb -k without -w: false). */
  readonly writable?: boolean;
  readonly control?: TargetControl;
}

class LiveTarget extends MemoryTarget {
  readonly control: TargetControl | undefined;

  constructor(
    private readonly k: Kernel,
    opts: LiveTargetOptions,
  ) {
    super({
      memory: k.mem,
      types: k.types,
      writable: opts.writable ?? true,
      status: {
        kind: 'live',
        osName: OS_NAME,
        osRelease: OS_RELEASE,
        osVersion: OS_VERSION,
        hostname: k.hostname,
        get panicMessage() {
          return k.panicking ? k.panicMessage : undefined;
        },
        get panicThread() {
          return k.panicking ? k.mem.loadPtr(k.g.panic_thread) : undefined;
        },
        get panicCpu() {
          return k.panicking ? k.mem.load32(k.g.panic_cpu) | 0 : undefined;
        },
        get dumpTime() {
          return k.timeSecond;
        },
      } satisfies TargetStatus,
      threads: () => liveThreads(k),
      modules: (): readonly TargetModuleRecord[] =>
        k.moduleHistory.map((r) => ({ ...r, symbols: r.symbols.map((s) => toTargetSymbol({ ...s, module: r.name })) })),
    });
    this.control = opts.control;
  }

  /* Symbols come from the kernel each time: modules change them. */
  override symbolByName(name: string): TargetSymbol | undefined {
    const s = this.k.sym(name);
    return s ? toTargetSymbol(s) : undefined;
  }

  override symbolByAddr(addr: number): TargetSymbol | undefined {
    let best: KSymbol | undefined;
    for (const s of this.k.symbols()) {
      if (addr >= s.value && addr < s.value + Math.max(s.size, 1) && (!best || s.value > best.value)) best = s;
    }
    return best ? toTargetSymbol(best) : undefined;
  }

  override symbols(): readonly TargetSymbol[] {
    return this.k.symbols().map(toTargetSymbol);
  }
}

/** mdb's target for a live kernel. */
export function liveTarget(k: Kernel, opts: LiveTargetOptions = {}): MemoryTarget {
  return new LiveTarget(k, opts);
}
