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
 *
 * A program run with --watch-freed runs a rewritten copy of its module
 * (watch-freed.ts); its positions are mapped back to the original's pcs
 * through the rewrite's WatchPcMap, and the frames of the rewrite's helpers,
 * which map to no original pc, are left out.
 */

import { wasmPcFromModuleOffset, type WasmFunction, type WasmModuleInfo } from '../dump/wasm/module.js';
import type { CoreFrame } from '../dump/wasm/core-format.js';
import type { WatchPcMap } from './watch-freed.js';

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

  constructor(
    readonly info: WasmModuleInfo,
    /** The running module's positions to info's pcs, when it is a watched copy. */
    private readonly watchMap?: WatchPcMap,
  ) {
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

  /** The program's pc of a wasm frame (undefined for a watch helper's). */
  private pcOf(c: NodeJS.CallSite): number | undefined {
    const offset = (c.getColumnNumber() ?? 1) - 1;
    return this.watchMap ? this.watchMap.pcAt(offset) : wasmPcFromModuleOffset(this.info, offset);
  }

  /** The program's pcs of wasm frames, innermost first, helpers' left out. */
  private pcsOf(callsites: readonly NodeJS.CallSite[]): number[] {
    return wasmCallsites(callsites).flatMap((c) => {
      const pc = this.pcOf(c);
      return pc === undefined ? [] : [pc];
    });
  }

  /**
   * The caller's stack from inside an import: the program's pcs, innermost
   * first, at most max, without the first `skip` frames (1 for a heap
   * import: the shim's frame).
   */
  captureStack(max: number, skip = 1): number[] {
    return this.pcsOf(callsitesOf(undefined, max + skip)).slice(skip, max + skip);
  }

  /** The program's pcs at the point an error was thrown (a trap), innermost first. */
  pcsOfError(e: Error): number[] {
    return this.pcsOf(callsitesOf(e, 0));
  }

  /** Frames of a core's corestack for pcs: function index and offset from the body's start. */
  coreFrames(pcs: readonly number[]): CoreFrame[] {
    return pcs.flatMap((pc) => {
      const f = this.functionAt(pc);
      return f ? [{ funcIndex: f.index, codeOffset: pc - f.addr }] : [];
    });
  }
}
