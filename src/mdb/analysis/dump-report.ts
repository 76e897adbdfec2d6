/*
 * The standard checks of a dump in one report: status, findleaks,
 * kmem_verify and kmastat for a kernel dump, and their libumem equivalents
 * (status with the allocator's last error report, findleaks, umem_verify,
 * umastat) for a wasm32 program's core, as data that serialises to JSON
 * (`kmemdb analyze --json`, docs/api.md "Analysis report").
 *
 * Theory
 * ------
 * Each check is the library function mdb's dcmd prints (findLeaks,
 * kmemVerify, kmastat over a Target), so the report and mdb cannot
 * disagree.  The report is plain data with addresses as hex strings
 * (64-bit addresses do not fit a JSON number) and pcs as `symbol+0xoff`,
 * and ends in a verdict a CI job can gate on: clean means no leaked buffer,
 * no corrupt buffer, and for a program no error report from its allocator
 * (a double free leaves no corrupt buffer behind, but umem reported it).
 * A program's heap is kmem under libumem's names, so the same functions
 * check it; only the status differs.
 */

import { isProcessTarget, type Target, type TargetStatus } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { findLeaks, TYPE_CACHE, TYPE_KMEM, type LeakGroup } from './leaks.js';
import { kmemVerify } from './verify.js';
import { kmastat } from './kmastat.js';
import { umemErrorReport } from './umem-messages.js';

/** The report's schema name and version (the `schema` field). */
export const DUMP_REPORT_SCHEMA = 'kmemdb-analyze/1';

export interface ReportStatus {
  readonly os: string;
  readonly hostname: string;
  readonly model: 'lp64' | 'ilp32';
  readonly dump?: string;
  readonly time?: number;
  readonly content?: string;
  readonly panicMessage?: string;
  readonly panicThread?: string;
  readonly panicCpu?: number;
  /** 'kernel': a crash dump; 'program': a wasm32 program's core. */
  readonly target: 'kernel' | 'program';
  /** Program cores: the program, its arguments, what ended it (as ::status says). */
  readonly program?: string;
  readonly argv?: readonly string[];
  readonly processStatus?: string;
  /** Program cores: the allocator's last error report (umem_error_buffer, as ::umem_status prints it), or "". */
  readonly errorReport?: string;
}

export interface ReportLeak {
  readonly kind: 'kmem' | 'cache' | 'vmem';
  /** Cache (kmem, cache) or arena (vmem) address and name. */
  readonly cache: string;
  readonly cacheName: string;
  readonly count: number;
  readonly bytes: number;
  /** The oldest leaked buffer and its bufctl (or vmem_seg). */
  readonly buf: string;
  readonly ctl: string;
  /** The first caller outside the allocator, and the allocation stack. */
  readonly caller: string;
  readonly stack: readonly string[];
}

export interface ReportCorruption {
  readonly cache: string;
  readonly cacheName: string;
  readonly buf: string;
  readonly state: 'allocated' | 'free';
  readonly kind: string;
  readonly message: string;
}

export interface ReportCache {
  readonly cache: string;
  readonly name: string;
  readonly bufsize: number;
  readonly inuse: number;
  readonly total: number;
  readonly memory: number;
  readonly alloc: number;
  readonly fail: number;
}

export interface DumpReport {
  readonly schema: typeof DUMP_REPORT_SCHEMA;
  readonly status: ReportStatus;
  readonly leaks: readonly ReportLeak[];
  readonly corruption: readonly ReportCorruption[];
  /** Caches whose buffers kmem_verify could not check (no redzone). */
  readonly unchecked: readonly string[];
  readonly kmastat: readonly ReportCache[];
  /** Warnings the checks printed (unreadable memory, incomplete walks). */
  readonly warnings: readonly string[];
  readonly verdict: ReportVerdict;
}

export interface ReportVerdict {
  /** No leaked buffer, no corrupt buffer, no allocator error report. */
  readonly clean: boolean;
  readonly leakedBuffers: number;
  readonly leakedBytes: number;
  readonly corruptBuffers: number;
  /** Program cores whose allocator reported an error: the report's first line ("umem allocator: ..."). */
  readonly allocatorError?: string;
}


/** `0x`-prefixed hex of an address. */
function addr(a: number): string {
  return `0x${hex(a)}`;
}

/** A pc as `symbol+0xoff` (or hex where no symbol covers it). */
function pcName(t: Target, pc: number): string {
  const s = t.symbolByAddr(pc);
  if (!s) return addr(pc);
  return pc === s.value ? s.name : `${s.name}+0x${(pc - s.value).toString(16)}`;
}

function status(t: Target, st: TargetStatus): ReportStatus {
  const program = isProcessTarget(t);
  return {
    os: [st.osName, st.osRelease, st.osVersion].filter((w) => w !== '').join(' '),
    hostname: st.hostname,
    model: t.model.name,
    dump: st.dumpName,
    time: st.dumpTime,
    content: st.content,
    panicMessage: st.panicMessage,
    panicThread: st.panicThread !== undefined ? addr(st.panicThread) : undefined,
    panicCpu: st.panicCpu,
    target: program ? 'program' : 'kernel',
    ...(program ? { program: st.program, argv: st.argv, processStatus: st.processStatus, errorReport: umemErrorReport(t) } : {}),
  };
}

function leak(t: Target, g: LeakGroup): ReportLeak {
  return {
    kind: g.type === TYPE_KMEM ? 'kmem' : g.type === TYPE_CACHE ? 'cache' : 'vmem',
    cache: addr(g.cache),
    cacheName: g.cacheName,
    count: g.count,
    bytes: g.bytes,
    buf: addr(g.rep.buf),
    ctl: addr(g.rep.ctl),
    caller: g.caller ? pcName(t, g.caller) : '',
    stack: g.stack.map((pc) => pcName(t, pc)),
  };
}

/** Run the standard checks on a kernel dump or a program core. */
export function analyzeDump(t: Target): DumpReport {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const leaks = findLeaks(t, { warn });
  const verify = kmemVerify(t, undefined, warn);
  const usage = kmastat(t, warn);
  warnings.push(...leaks.warnings);
  const corruption: ReportCorruption[] = verify.flatMap((v) =>
    v.corrupt.map((c) => ({ cache: addr(v.cache), cacheName: v.name, buf: addr(c.buf), state: c.state, kind: c.kind, message: c.message })),
  );
  const leaked = leaks.groups.map((g) => leak(t, g));
  const leakedBuffers = leaked.reduce((n, l) => n + l.count, 0);
  const st = status(t, t.status());
  const allocatorError = st.errorReport ? st.errorReport.split('\n')[0] : undefined;
  return {
    schema: DUMP_REPORT_SCHEMA,
    status: st,
    leaks: leaked,
    corruption,
    unchecked: verify.filter((v) => !v.checked).map((v) => v.name),
    kmastat: usage.caches.map((c) => ({ cache: addr(c.addr), name: c.name, bufsize: c.bufsize, inuse: c.inuse, total: c.total, memory: c.memory, alloc: c.alloc, fail: c.fail })),
    warnings,
    verdict: {
      clean: leakedBuffers === 0 && corruption.length === 0 && allocatorError === undefined,
      leakedBuffers,
      leakedBytes: leaked.reduce((n, l) => n + l.bytes, 0),
      corruptBuffers: corruption.length,
      ...(allocatorError !== undefined ? { allocatorError } : {}),
    },
  };
}
