/*
 * A running program's wasm call stack, as the host sees it.
 *
 * V8 reports a wasm frame as a callsite whose column is the frame's byte
 * offset in the module file plus one.  The module's parse (src/dump/wasm/
 * module.ts) turns that into kmemdb's code address, a pc = WASM_TEXT_BASE +
 * offset in the Code section's payload, the one convention of audit
 * records, cores and mdb; and a pc into `function+0xoff` (from the start of
 * the function's body) with the `name` section's function names.
 *
 * Two uses: the allocator asks for the caller's stack when it audits a
 * transaction (captureStack: only the program's frames, the shim's frame
 * skipped, since every heap import is called from one shim function), and
 * the runner reads the stack of a trap from the error it caught.
 */

import { wasmPcFromModuleOffset, type WasmFunction, type WasmModuleInfo } from '../dump/wasm/module.js';
import type { CoreFrame } from '../dump/wasm/core-format.js';

/** JS frames between a heap import and the capture (the allocator's own), at most. */
const HOST_FRAMES = 64;

/** The wasm frames (callsites) of a V8 stack. */
function wasmCallsites(callsites: readonly NodeJS.CallSite[]): NodeJS.CallSite[] {
  return callsites.filter((c) => c.getFileName()?.startsWith('wasm://') === true);
}

/** The callsites of an error's stack, or of the current stack (frames is the most wanted). */
function callsitesOf(target: object | undefined, frames: number): NodeJS.CallSite[] {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_e, cs) => cs;
  try {
    if (target === undefined) {
      Error.stackTraceLimit = frames + HOST_FRAMES;
      const holder: { stack?: NodeJS.CallSite[] } = {};
      Error.captureStackTrace(holder, callsitesOf);
      return holder.stack ?? [];
    }
    const stack = (target as { stack?: unknown }).stack;
    return Array.isArray(stack) ? (stack as NodeJS.CallSite[]) : [];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

/** A program's code: pcs, names and frames from its parsed module. */
export class ProgramCode {
  /** Functions by code address, for lookups. */
  private readonly byAddr: readonly WasmFunction[];

  constructor(readonly info: WasmModuleInfo) {
    this.byAddr = [...info.functions].sort((a, b) => a.addr - b.addr);
  }

  /** The function containing a pc, if any. */
  functionAt(pc: number): WasmFunction | undefined {
    let lo = 0;
    let hi = this.byAddr.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = this.byAddr[mid]!;
      if (pc < f.addr) hi = mid - 1;
      else if (pc >= f.addr + f.size) lo = mid + 1;
      else return f;
    }
    return undefined;
  }

  /** `function+0xoff` for a pc of this program, undefined outside its code. */
  symbolize(pc: number): string | undefined {
    const f = this.functionAt(pc);
    if (!f) return undefined;
    const off = pc - f.addr;
    return off === 0 ? f.name : `${f.name}+0x${off.toString(16)}`;
  }

  /** A pc, or its hex when it is in no function. */
  describe(pc: number): string {
    return this.symbolize(pc) ?? `0x${(pc >>> 0).toString(16)}`;
  }

  private pcOf(c: NodeJS.CallSite): number {
    return wasmPcFromModuleOffset(this.info, (c.getColumnNumber() ?? 1) - 1);
  }

  /**
   * The caller's stack from inside a heap import: the program's pcs,
   * innermost first, at most max, without the shim's frame.
   */
  captureStack(max: number): number[] {
    return wasmCallsites(callsitesOf(undefined, max + 1))
      .slice(1, max + 1)
      .map((c) => this.pcOf(c));
  }

  /** The program's pcs at the point an error was thrown (a trap), innermost first. */
  pcsOfError(e: Error): number[] {
    return wasmCallsites(callsitesOf(e, 0)).map((c) => this.pcOf(c));
  }

  /** Frames of a core's corestack for pcs: function index and offset from the body's start. */
  coreFrames(pcs: readonly number[]): CoreFrame[] {
    return pcs.flatMap((pc) => {
      const f = this.functionAt(pc);
      return f ? [{ funcIndex: f.index, codeOffset: pc - f.addr }] : [];
    });
  }
}
