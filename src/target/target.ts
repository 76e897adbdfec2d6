/*
 * The target: what mdb sees of a kernel.
 *
 * mdb never imports allocator or kernel code.  Everything it knows comes
 * through this interface: bytes at virtual addresses, symbols, C types, and
 * a few facts that a crash dump header carries (the panic, the threads'
 * saved registers, the module load/unload history).  Implementations: the
 * live kernel (`live-target.ts`), a crash dump (`dump-target.ts`, reading
 * what dump/savecore.ts wrote), a wasm32 program's core
 * (`wasm-core-target.ts`: a process, not a kernel), and `NoTarget`, which lets mdb run with no target at all.
 */

import type { DataModel } from '../machine/memory.js';
import type { TypeTable } from '../ctf/ctf.js';
import { MessageError } from '../machine/message-error.js';

/** A read of an address that is not in the target (reported by message: no stack is captured). */
export class TargetReadError extends MessageError {
  readonly addr: number;
  constructor(addr: number, message?: string) {
    super(message ?? `failed to read memory at 0x${addr < 0 ? (BigInt(addr) + (1n << 64n)).toString(16) : addr.toString(16)}`);
    this.addr = addr;
  }
}

export interface TargetSymbol {
  readonly name: string;
  /** Address (signed representation; see machine/addr.ts). */
  readonly value: number;
  readonly size: number;
  readonly kind: 'func' | 'object';
  /** Module name, or undefined for the kernel itself ("unix"/"genunix"). */
  readonly module?: string;
  /** C type name of an object symbol ("list_t", "void *[64]"), when the target knows it (illumos: CTF's object section). */
  readonly type?: string;
  /** ELF symbol table entry fields, for targets read from an ELF namelist (unix.N): STB_* binding, st_other, st_shndx. */
  readonly elf?: { readonly bind: number; readonly other: number; readonly shndx: number };
}

export interface TargetStatus {
  /** 'core': a program core (core.N of a wasm32 program), the others a kernel. */
  readonly kind: 'live' | 'dump' | 'core' | 'none';
  readonly osName: string; // "SunOS"-like name, e.g. "kmemdb"
  readonly osRelease: string;
  readonly osVersion: string;
  readonly hostname: string;
  readonly panicMessage?: string;
  readonly panicThread?: number;
  readonly panicCpu?: number;
  /** Dump file name (vmcore.N) for dumps. */
  readonly dumpName?: string;
  /** Seconds since the epoch of the simulated clock. */
  readonly dumpTime?: number;
  readonly content?: string;
  /** Program cores: the program's name, its arguments, and what ended it. */
  readonly program?: string;
  readonly argv?: readonly string[];
  readonly processStatus?: string;
}

/** Saved state of one thread (from the dump notes, or the live kernel). */
export interface TargetThread {
  readonly addr: number; // kthread_t address
  readonly name: string;
  readonly pc: number;
  readonly sp: number;
  readonly fp: number;
  readonly stackBase: number;
  readonly stackTop: number;
  readonly cpu: number; // -1 if not on a CPU
}

/** One module load, possibly followed by an unload. */
export interface TargetModuleRecord {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly textSize: number;
  readonly loadTime: number; // ns of simulated hrtime
  readonly unloadTime?: number;
  readonly symbols: readonly TargetSymbol[];
}

/** A mapped virtual range. */
export interface TargetRange {
  readonly base: number;
  readonly size: number;
}

/**
 * What letting a live kernel run did (TargetControl.run).  The live kernel
 * (src/scenarios/live.ts) declares the same shape as LiveRun and
 * LiveControl: scenarios come before target in the layers, and mdb, which
 * imports this file, may not reach scenario code, so neither file can
 * import the other.  src/cli/mdb-live.ts passes a LiveControl where a
 * TargetControl is wanted, which makes the compiler check that they agree.
 */
export interface TargetRunResult {
  /** Simulated seconds that passed. */
  readonly seconds: number;
  /** Console output while it ran. */
  readonly console: string;
  /** stopped: at the time asked; finished: its workload is done (it idles on); panicked. */
  readonly state: 'stopped' | 'finished' | 'panicked';
  /** The kernel clock (hrtime) at the stop, in seconds. */
  readonly uptime: number;
}

/** A target whose kernel can run on and stop again (a live simulated kernel). */
export interface TargetControl {
  /** Run for `seconds` of simulated time; undefined: until the workload ends or the kernel panics. */
  run(seconds: number | undefined): TargetRunResult;
}

export interface Target {
  readonly model: DataModel;
  readonly pageSize: number;
  readonly types: TypeTable;

  /* memory: every read throws TargetReadError for an unmapped address */
  load8(a: number): number;
  load16(a: number): number;
  load32(a: number): number;
  load64(a: number): bigint;
  loadPtr(a: number): number;
  read(a: number, len: number): Uint8Array;
  isMapped(a: number): boolean;
  /** Mapped ranges in address order (page granular). */
  ranges(): readonly TargetRange[];
  /**
   * Bytes of [base, base+size) inside one range, as a view when possible.
   * Used by scans (kgrep, findleaks) for speed.
   */
  bytes(base: number, size: number): Uint8Array;
  /** Writes, for targets that allow them (a live kernel). */
  readonly writable: boolean;
  write(a: number, bytes: Uint8Array): void;

  /* symbols */
  symbolByName(name: string): TargetSymbol | undefined;
  /** The symbol containing addr (value <= addr < value+max(size,1)). */
  symbolByAddr(addr: number): TargetSymbol | undefined;
  symbols(): readonly TargetSymbol[];

  /* facts */
  status(): TargetStatus;
  threads(): readonly TargetThread[];
  /**
   * The thread's frames (pcs, innermost first) when the target recorded
   * them (a wasm core's corestack); undefined: follow the frame pointers.
   */
  threadFrames?(t: TargetThread): readonly number[] | undefined;
  moduleHistory(): readonly TargetModuleRecord[];
  /** Present on live kernels that can be resumed (mdb -k). */
  readonly control?: TargetControl;
}

/**
 * A process rather than a kernel: a program core, or a live process heap
 * (a wasm32 program's).  mdb loads libumem for these, genunix for kernels.
 */
export function isProcessTarget(t: Target): boolean {
  const st = t.status();
  return st.kind === 'core' || st.osName === 'wasm32-wasi';
}
