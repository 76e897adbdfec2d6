/*
 * The run side of `kmemdb run --watch-freed`: what the watched module's
 * host import does, and the report of a write into a freed buffer.
 *
 * The rewritten module (watch-freed.ts) calls `kmemdb_watch.freed_store`
 * only when a write is about to overwrite a word holding 0xdeadbeef.  The
 * import asks the heap whether the word is in a freed buffer
 * (src/umemcheck/freed-buffer.ts); if not, it returns and the store is
 * done; if so, it throws a FreedWrite, which unwinds the program before the
 * store happens.  The runner prints the report, appends it to libumem's
 * message buffer (umem_error_buffer, where `::umem_status` reads reports)
 * and writes a core whose reason is `watch` and whose stack is the
 * writer's: the store's frame innermost, the helper's left out.
 *
 * The report is kmemdb's own (libumem has no such mode), in the shape of
 * libumem's: what was written where, the buffer, its bufctl and cache,
 * the writer's stack, then the buffer's audit history: the transaction
 * that freed it and, with UMEM_LOGGING=transaction, the one that
 * allocated it.  Its one-line form names the three functions (writer,
 * freer, allocator); it is the core's message, which `::status` prints.
 */

import { hex } from '../machine/addr.js';
import type { BufctlAudit } from '../mdb/analysis/kmem-view.js';
import type { UmemEnv } from '../umem/env.js';
import type { FreedBufferHit } from '../umemcheck/freed-buffer.js';
import { BULK_OP_BASE, watchedOpName } from './watch-freed.js';
import { FC_MEMORY_FILL } from './wasm-instructions.js';

/** The UMEM_DEBUG items and UMEM_LOGGING item the watch needs (the pattern, the audit, the log). */
const NEEDED_DEBUG = ['audit', 'guards'] as const;
const NEEDED_LOGGING = 'transaction';

/** Add to a comma-separated UMEM_* value the items it lacks (an item `name` or `name=value`). */
function withItems(value: string | undefined, items: readonly string[], covered: (have: readonly string[], item: string) => boolean): string {
  const have = (value ?? '').split(',').map((s) => s.trim().split('=')[0]!).filter((s) => s !== '');
  const missing = items.filter((i) => !covered(have, i));
  return [...(value ? [value] : []), ...missing].join(',');
}

/**
 * The environment of a watched run: UMEM_DEBUG gets audit and guards
 * (0xdeadbeef in free buffers, their stacks), UMEM_LOGGING transaction
 * (the allocation before the free), unless they are there (`default`
 * covers audit and guards).
 */
export function watchFreedEnv(env: UmemEnv): UmemEnv {
  return {
    ...env,
    UMEM_DEBUG: withItems(env.UMEM_DEBUG, NEEDED_DEBUG, (have, i) => have.includes(i) || have.includes('default')),
    UMEM_LOGGING: withItems(env.UMEM_LOGGING, [NEEDED_LOGGING], (have, i) => have.includes(i)),
  };
}

/** One write the watch stopped: the instruction, its operands, and the memory it was about to change. */
export interface WatchedWrite {
  /** A store opcode or BULK_OP_BASE + a bulk-memory sub-opcode. */
  readonly op: number;
  /** The effective address and the bytes written. */
  readonly addr: number;
  readonly size: number;
  /** A store's value (the bytes it writes, as an unsigned number), a fill's byte, a copy's source. */
  readonly value: bigint;
  /** A store's bytes at addr before it (as an unsigned number). */
  readonly old?: bigint;
}

/** The program stopped at a write into a freed buffer (thrown by the watch import, caught by the runner). */
export class FreedWrite extends Error {
  constructor(
    readonly write: WatchedWrite,
    readonly hit: FreedBufferHit,
    /** The writer's stack (program pcs, innermost first). */
    readonly pcs: readonly number[],
    message: string,
    readonly report: string,
  ) {
    super(message);
  }
}

/** What a report needs of the run: names for pcs, the program's own functions, the clock. */
export interface ReportContext {
  /** `function+0xoff` of any pc (the program's or the allocator's). */
  readonly symbolize: (pc: number) => string;
  /** Whether a pc is in the program's code (not the allocator's host functions). */
  readonly inProgram: (pc: number) => boolean;
  /** The allocator's clock (ns), for the transactions' ages. */
  readonly now: number;
}

const hexv = (v: bigint): string => `0x${v.toString(16)}`;

/** "i32.store of 4 bytes at 7ffe8" and what it changes. */
function whatWasWritten(w: WatchedWrite): string {
  const name = watchedOpName(w.op);
  const where = `${name} of ${w.size} byte${w.size === 1 ? '' : 's'} at ${hex(w.addr)}`;
  if (w.op === BULK_OP_BASE + FC_MEMORY_FILL) return `${where} (fill byte ${hexv(w.value & 0xffn)})`;
  if (w.op >= BULK_OP_BASE) return `${where} (from ${hex(Number(w.value))})`;
  return w.old === undefined ? where : `${where} (${hexv(w.old)} replaced by ${hexv(w.value)})`;
}

/** The first frame of a stack in the program: the function that called the allocator, or the writer. */
function programCaller(pcs: readonly number[], c: ReportContext): string | undefined {
  const pc = pcs.find((p) => c.inProgram(p));
  return pc === undefined ? undefined : c.symbolize(pc);
}

function transaction(a: BufctlAudit, cache: string, c: ReportContext): string {
  const age = Math.max(0, c.now - a.timestamp);
  const sec = Math.floor(age / 1e9);
  const nsec = age - sec * 1e9;
  return `thread=${hex(a.thread)}  time=T-${sec}.${String(nsec).padStart(9, '0')}  slab=${hex(a.slab)}  cache: ${cache}\n` + a.stack.map((pc) => `${c.symbolize(pc)}\n`).join('');
}

/** The report and its one-line message for a write into a freed buffer. */
export function freedWriteReport(w: WatchedWrite, hit: FreedBufferHit, pcs: readonly number[], c: ReportContext): { message: string; report: string } {
  const [freed, allocated] = hit.history;
  const writer = programCaller(pcs, c) ?? '?';
  const freer = freed && programCaller(freed.stack, c);
  const allocator = allocated && programCaller(allocated.stack, c);
  let report = 'kmemdb: write to a freed buffer\n';
  report += `${whatWasWritten(w)}: offset 0x${hit.offset.toString(16)} of the buffer\n`;
  report += `buffer=${hex(hit.buffer)}  bufctl=${hex(hit.bufctl)}  cache: ${hit.cache}\n`;
  report += 'written by:\n' + pcs.map((pc) => `${c.symbolize(pc)}\n`).join('');
  if (freed) report += `freed by (last transaction on buffer ${hex(hit.buffer)}):\n${transaction(freed, hit.cache, c)}`;
  else report += `no transaction on buffer ${hex(hit.buffer)} is recorded: it was never allocated\n`;
  if (allocated) report += `allocated by (the transaction before):\n${transaction(allocated, hit.cache, c)}`;
  else if (freed) report += 'its allocation is no longer in the transaction log\n';
  const parts = [`${watchedOpName(w.op)} at ${hex(w.addr)}, offset 0x${hit.offset.toString(16)} of freed buffer ${hex(hit.buffer)} (${hit.cache}), by ${writer}`];
  if (freer) parts.push(`freed by ${freer}`);
  if (allocator) parts.push(`allocated by ${allocator}`);
  return { message: parts.join('; '), report };
}
