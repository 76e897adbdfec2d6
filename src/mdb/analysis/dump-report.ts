/*
 * The standard checks of a kernel dump in one report: status, findleaks,
 * kmem_verify and kmastat, as data that serialises to JSON (`kmemdb
 * analyze --json`, docs/api.md "Analysis report").
 *
 * Theory
 * ------
 * Each check is the library function mdb's dcmd prints (findLeaks,
 * kmemVerify, kmastat over a Target), so the report and mdb cannot
 * disagree.  The report is plain data with addresses as hex strings
 * (64-bit addresses do not fit a JSON number) and pcs as `symbol+0xoff`,
 * and ends in a verdict a CI job can gate on: clean means no leaked buffer
 * and no corrupt buffer.
 */

import type { Target, TargetStatus } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { findLeaks, TYPE_CACHE, TYPE_KMEM, type LeakGroup } from './leaks.js';
import { kmemVerify } from './verify.js';
import { kmastat } from './kmastat.js';

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
  readonly verdict: { readonly clean: boolean; readonly leakedBuffers: number; readonly leakedBytes: number; readonly corruptBuffers: number };
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
  return {
    os: `${st.osName} ${st.osRelease} ${st.osVersion}`,
    hostname: st.hostname,
    model: t.model.name,
    dump: st.dumpName,
    time: st.dumpTime,
    content: st.content,
    panicMessage: st.panicMessage,
    panicThread: st.panicThread !== undefined ? addr(st.panicThread) : undefined,
    panicCpu: st.panicCpu,
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

/** Run the standard checks on a kernel target. */
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
  return {
    schema: DUMP_REPORT_SCHEMA,
    status: status(t, t.status()),
    leaks: leaked,
    corruption,
    unchecked: verify.filter((v) => !v.checked).map((v) => v.name),
    kmastat: usage.caches.map((c) => ({ cache: addr(c.addr), name: c.name, bufsize: c.bufsize, inuse: c.inuse, total: c.total, memory: c.memory, alloc: c.alloc, fail: c.fail })),
    warnings,
    verdict: {
      clean: leakedBuffers === 0 && corruption.length === 0,
      leakedBuffers,
      leakedBytes: leaked.reduce((n, l) => n + l.bytes, 0),
      corruptBuffers: corruption.length,
    },
  };
}
