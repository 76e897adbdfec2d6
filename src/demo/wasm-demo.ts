/*
 * The program demo (`kmemdb demo wasm`): a use-after-free in a C program,
 * from libumem's report to the function that wrote to the freed buffer.
 *
 * It builds visits.c (beside this file: a visit counter whose
 * leave_page() frees a record a visitor still points at, and whose
 * count_visit() then increments the freed record's hit count) with
 * `kmemdb cc`, runs it with `kmemdb run` under UMEM_DEBUG=default and
 * UMEM_LOGGING=transaction, both as child processes showing the command
 * lines a user would type, and prints libumem's report.  Then it opens the
 * core the run left and walks through it in one mdb session (the library's
 * session over openWasmCore, as `mdb prog.wasm core.N` does): ::status, $c,
 * ::umem_verify, ::whatis of the buffer (who freed it), ::bufctl -hv (who
 * allocated it), the buffer's words, ::ugrep for the stale pointer and
 * ::whatis of the structure that holds it.
 *
 * libumem never sees the store itself, only its effect when it next checks
 * the buffer.  The writer is found as a debugger finds it: the report says
 * which word changed and how; ::ugrep finds the one live structure still
 * pointing at the freed record and ::whatis names the function that
 * allocated that structure; the stack at detection shows the function that
 * was using it, asking for a new record.  The sentences are built from
 * what the core holds (the report in kmemdb.info, the audit records, the
 * stacks, the pointers), read through the same analyses the dcmds use, so
 * the text cannot drift from the output; if the core does not show this
 * bug the demo stops with a DemoError.
 *
 * The last step runs the program again with `kmemdb run --watch-freed`,
 * which stops it at the write itself, and shows that core's ::status
 * (writer, freer and allocator in one line) and $c; the function it
 * stopped in must be the writer the tour found.
 *
 * Files: the module is written as DIR/visits.wasm (or visits-1.wasm, ...:
 * the first name that does not exist, created exclusively), the cores as
 * DIR/core.N and DIR/core.N+1 with savecore's numbering; nothing is
 * overwritten.
 * Deterministic: the same toolchain and seed give the same module, core
 * and transcript.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession } from '../mdb/index.js';
import '../mdb/modules/libumem.js';
import { MALLOC_TAG } from '../mdb/modules/libumem.js';
import { KmemView, bufctlHistory, type BufctlAudit } from '../mdb/analysis/kmem-view.js';
import { whatis } from '../mdb/analysis/whatis-index.js';
import { kgrep } from '../mdb/analysis/kgrep.js';
import { openWasmCore, type WasmCoreTarget } from '../target/wasm-core-target.js';
import { ensureDir } from '../dump/numbering.js';
import { hex } from '../machine/addr.js';
import { DemoError } from './demo.js';
import { MdbTour, wrap } from './narration.js';

/** The demo's C program (src/demo/visits.c, shipped with the package). */
export const WASM_DEMO_SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/demo/visits.c');
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kmemdb');

export interface WasmDemoOptions {
  /** Where the module and the core go (created if missing). */
  readonly dir: string;
  /** Where the transcript goes. */
  readonly out: (s: string) => void;
  /** The run's seed (default 1). */
  readonly seed?: number;
}

export interface WasmDemoResult {
  /** The module written (DIR/visits.wasm or the first free visits-N.wasm). */
  readonly wasm: string;
  /** The core number N (core.N) of the run under UMEM_DEBUG. */
  readonly index: number;
  /** The core number of the run with --watch-freed. */
  readonly watchedIndex: number;
  /** The function that wrote to the freed buffer, as the tour found it. */
  readonly writer: string;
  /** False if an mdb command of the tour failed. */
  readonly ok: boolean;
}

const UMEM_ENV = ['--umem-debug=default', '--umem-logging=transaction'];

/** Create the first of DIR/visits.wasm, DIR/visits-1.wasm, ... that does not exist (exclusively). */
function claimModulePath(dir: string): string {
  for (let i = 0; i < 10000; i++) {
    const p = path.join(dir, i === 0 ? 'visits.wasm' : `visits-${i}.wasm`);
    try {
      fs.closeSync(fs.openSync(p, 'wx'));
      return p;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new DemoError(`${dir}: no free name for the demo's module (visits.wasm ... visits-9999.wasm exist)`);
}

/** Run bin/kmemdb with arguments in a child process; its status and output. */
function kmemdb(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, UMEM_DEBUG: '', UMEM_LOGGING: '', UMEM_OPTIONS: '' } });
  if (r.error) throw new DemoError(`kmemdb ${args[0]}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A path as the user gave the directory (DIR/name), for the command lines shown. */
function shown(dir: string, file: string): string {
  return path.join(dir, path.basename(file));
}

/** How a freed word changed: "0xdeadbeef became 0xdeadbef0, one more, as a counter's ++ does". */
function changeOf(was: string, now: string): string {
  const a = BigInt(`0x${was}`);
  const b = BigInt(`0x${now}`);
  const low = (v: bigint) => `0x${(v & 0xffffffffn).toString(16)}`;
  const diff = b - a;
  const what = diff === 1n ? `, one more, as a counter's ++ does` : diff > 0n && diff < 0x10000n ? `, ${diff} more` : '';
  return `${low(a)} became ${low(b)}${what}`;
}

/** What the tour needs to know about the core, read from it. */
interface Facts {
  readonly buf: number;
  readonly bufctl: number;
  readonly cache: string;
  readonly cacheAddr: number;
  /** Offset of the modified word in the buffer, its value while free and after the write. */
  readonly offset: number;
  readonly was: string;
  readonly now: string;
  /** The pointer malloc returned (past libumem's malloc tag). */
  readonly user: number;
  readonly freedBy: string;
  readonly allocatedBy: string;
  /** The program's functions on the stack when libumem noticed, innermost first. */
  readonly detectedIn: readonly string[];
  /** Where the stale pointer is kept: in a heap buffer allocated by `allocatedBy`. */
  readonly holder: { readonly addr: number; readonly base: number; readonly allocatedBy: string };
  readonly writer: string;
}

const X = (a: number): string => hex(a);

function names(t: WasmCoreTarget, pcs: readonly number[]): string[] {
  return pcs.map((pc) => t.symbolByAddr(pc)?.name ?? X(pc));
}

/** The program function that called `entry` (free, malloc) in an audited stack. */
function callerOf(t: WasmCoreTarget, a: BufctlAudit, entry: string): string | undefined {
  const n = names(t, a.stack);
  const i = n.indexOf(entry);
  return i >= 0 ? n[i + 1] : undefined;
}

/** The buffer's audit record and those before it in the transaction log, newest first. */
function history(kv: KmemView, bufctl: number): BufctlAudit[] {
  return bufctlHistory(kv, bufctl).map((a) => kv.readAudit(a));
}

function facts(t: WasmCoreTarget): Facts {
  const report = t.info?.report ?? '';
  if (!/^umem allocator: buffer modified after being freed$/m.test(report)) throw new DemoError(`${path.basename(t.corePath)} does not show a buffer modified after being freed`);
  const mod = /^modification occurred at offset 0x([0-9a-f]+) \(0x([0-9a-f]+) replaced by 0x([0-9a-f]+)\)$/m.exec(report);
  const where = /^buffer=([0-9a-f]+) {2}bufctl=([0-9a-f]+) {2}cache: (\S+)$/m.exec(report);
  if (!mod || !where) throw new DemoError('the report does not say where the buffer was modified');
  const buf = parseInt(where[1]!, 16);
  const bufctl = parseInt(where[2]!, 16);
  const kv = new KmemView(t);
  const audits = history(kv, bufctl);
  const freedBy = callerOf(t, audits[0]!, 'free');
  const alloc = audits.find((a) => callerOf(t, a, 'malloc') !== undefined);
  if (!freedBy || !alloc) throw new DemoError(`the audit records of buffer ${X(buf)} do not show its malloc and free (run with UMEM_LOGGING=transaction)`);
  const allocatedBy = callerOf(t, alloc, 'malloc')!;
  const user = buf + MALLOC_TAG;
  const holders = kgrep(t, user)
    .hits.map((h) => ({ addr: h.addr, m: whatis(t, h.addr)[0] }))
    .filter((h) => h.m?.state === 'allocated' && h.m.bufctl !== undefined && h.m.base !== buf);
  const h = holders[0];
  const holderBy = h && callerOf(t, kv.readAudit(h.m!.bufctl!), 'malloc');
  if (!h || !holderBy) throw new DemoError(`no allocated buffer holds a pointer to ${X(user)}`);
  const thread = t.threads()[0];
  const frames = thread ? names(t, t.threadFrames(thread) ?? []) : [];
  const detectedIn = frames.slice(frames.indexOf('malloc') + 1);
  const writer = detectedIn.find((f) => f !== allocatedBy);
  if (!frames.includes('malloc') || !writer) throw new DemoError('the stack at the dump does not show the allocation that found the damage');
  return {
    buf,
    bufctl,
    cache: where[3]!,
    cacheAddr: whatis(t, buf)[0]?.ownerAddr ?? 0,
    offset: parseInt(mod[1]!, 16),
    was: mod[2]!,
    now: mod[3]!,
    user,
    freedBy,
    allocatedBy,
    detectedIn,
    holder: { addr: h.addr, base: h.m!.base, allocatedBy: holderBy },
    writer,
  };
}

/** The definition of function `name` in C source text (from its header line to the closing brace in column 0). */
function definitionOf(source: string, name: string): string | undefined {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => /^\S/.test(l) && new RegExp(`\\b${name}\\(`).test(l) && l.trimEnd().endsWith('{'));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.startsWith('}'));
  return end < 0 ? undefined : lines.slice(start, end + 1).join('\n') + '\n';
}

/** Build, run and debug the demo program; resolves when the transcript is written. */
export function runWasmDemo(opts: WasmDemoOptions): WasmDemoResult {
  const out = opts.out;
  const say = (text: string) => out(wrap(text));
  const seed = String(opts.seed ?? 1);
  ensureDir(opts.dir);
  out('kmemdb demo wasm: a use-after-free in a C program, from the report to the writer\n');
  out('='.repeat(77) + '\n\n');
  say(
    'kmemdb cc links C programs for WebAssembly (wasm32-wasi) with kmemdb\'s re-implementation of the Solaris ' +
      'allocator as their malloc: libumem for WebAssembly.  With UMEM_DEBUG=default every buffer has a redzone, ' +
      'freed buffers are filled with 0xdeadbeef and checked when they are handed out again, and every malloc and ' +
      'free records its stack; UMEM_LOGGING=transaction keeps the history.  When libumem finds damage it prints ' +
      'its report and the program leaves a core: a standard WebAssembly core dump that mdb reads with libumem\'s ' +
      'dcmds.  The program below, visits.c, counts visits to pages; it has a planted use-after-free.',
  );

  const wasm = claimModulePath(opts.dir);
  out(`\n[1/4] Building ${path.basename(WASM_DEMO_SOURCE)} for wasm32-wasi\n\n`);
  out(`$ kmemdb cc -O2 -o ${shown(opts.dir, wasm)} ${path.basename(WASM_DEMO_SOURCE)}\n`);
  const built = kmemdb(['cc', '-O2', '-o', wasm, WASM_DEMO_SOURCE]);
  if (built.status !== 0) {
    fs.rmSync(wasm, { force: true });
    throw new DemoError(built.stderr.trim().split('\n')[0] ?? `kmemdb cc failed with status ${built.status}`);
  }

  out(`\n[2/4] Running it with the allocator's debugging on\n\n`);
  out(`$ UMEM_DEBUG=default UMEM_LOGGING=transaction kmemdb run --seed ${seed} --dir ${opts.dir} ${shown(opts.dir, wasm)}\n`);
  const { corePath, index } = runToCore(['run', '--seed', seed, '--dir', opts.dir, ...UMEM_ENV, wasm], out);
  out(`\n[3/4] Debugging ${corePath} with mdb\n\n`);

  const t = openWasmCore(corePath, { modulePath: wasm });
  let ok = true;
  let writer = '';
  let buf = 0;
  try {
    const F = facts(t);
    writer = F.writer;
    buf = F.buf;
    const tour = new MdbTour(createSession(t, { stdout: out, stderr: out }), out);
    const field = F.offset - MALLOC_TAG;
    tour.step(
      'What happened?  ::status says how the program ended: libumem stopped it with a heap corruption error.  ' +
        '(The same core opens with ./bin/mdb; ::umem_status prints the whole report again from libumem\'s message buffer.)',
      '::status',
    );
    tour.step(
      `The stack when libumem noticed ($c prints it newest frame first): ${F.detectedIn[1]} called ${F.detectedIn[0]}, which called malloc, ` +
        'and the buffer malloc was about to return had been written to while it was free.  The damage is found here; ' +
        'it was made earlier.',
      '$c',
    );
    tour.step(
      '::umem_verify checks every cache: the freed buffers still hold the 0xdeadbeef pattern, the redzones ' +
        `0xfeedface, the audit tags agree.  One buffer of ${F.cache} is corrupt and nothing else is damaged.`,
      '::umem_verify',
    );
    tour.step(`With the cache's address, ::umem_verify says which buffer and where.`, `${X(F.cacheAddr)}::umem_verify`);
    tour.step(
      'Who freed it?  ::whatis names the cache and the buffer, and with auditing prints its last transaction: ' +
        `free() called from ${F.freedBy}.  (libumem marks the buffer allocated before it checks the pattern, ` +
        'so ::whatis says "allocated"; the record is still that of the free.)  This is the one command to run on ' +
        'a core after "buffer modified after being freed".',
      `${X(F.buf)}::whatis`,
    );
    tour.step(
      `Who allocated it?  With UMEM_LOGGING=transaction, ::bufctl -h follows the buffer's history back through ` +
        `the transaction log: malloc() called from ${F.allocatedBy}, then the free from ${F.freedBy}.`,
      `${X(F.bufctl)}::bufctl -hv`,
    );
    tour.step(
      `What was written?  The report says the word at offset 0x${F.offset.toString(16)} of the buffer changed from ` +
        `0x${F.was} to 0x${F.now}.  The first ${MALLOC_TAG} bytes are libumem's malloc tag, so the program's pointer is ` +
        `${X(F.user)} and the write hit offset 0x${field.toString(16)} of the object ${F.allocatedBy} made: ` +
        `${changeOf(F.was, F.now)}.  The buffer's words: the 0xdeadbeef pattern, the one changed word, then the ` +
        'redzone (0xfeedface) and the audit tag.',
      `${X(F.buf)},10/X`,
    );
    tour.step(
      `Who still points at it?  ::ugrep searches the whole linear memory for the freed pointer ${X(F.user)}.`,
      `${X(F.user)}::ugrep`,
    );
    tour.step(
      `${X(F.holder.addr)} is inside a live buffer: ::whatis says ${F.holder.allocatedBy} allocated it.  That ` +
        `structure still holds the pointer ${F.freedBy} freed.`,
      `${X(F.holder.addr)}::whatis`,
    );
    say(
      `Root cause: ${F.freedBy} freed the record ${F.allocatedBy} made, but left the structure from ` +
        `${F.holder.allocatedBy} pointing at it.  ${F.writer}, which was running when libumem noticed, used that ` +
        `stale pointer: it wrote to offset 0x${field.toString(16)} of the freed record and then asked ` +
        `${F.allocatedBy} for a new one, which got the same buffer back and found the damage.  The function ` +
        `that wrote after the free is ${F.writer}; the fix is in ${F.freedBy}, which must clear the pointer it frees.`,
    );
    ok = tour.ok;
    const def = definitionOf(fs.readFileSync(WASM_DEMO_SOURCE, 'utf8'), F.writer);
    if (def) {
      out(`\nThe source agrees (${path.basename(WASM_DEMO_SOURCE)}):\n\n`);
      out(def.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n'));
    }
  } finally {
    t.close();
  }
  const watched = catchTheWriter(opts, wasm, seed, writer);
  say(
    `\nThe answer in one command, for a core that ends in "buffer modified after being freed": ::whatis of the ` +
      `report's buffer= address; for the core of a run with --watch-freed: ::status.`,
  );
  out(`\n    ./bin/mdb -e '${X(buf)}::whatis' ${shown(opts.dir, wasm)} ${corePath}\n`);
  out(`    ./bin/mdb -e ::status ${shown(opts.dir, wasm)} ${watched.corePath}\n\n`);
  say('Explore these cores yourself:');
  out(`\n    ./bin/mdb ${shown(opts.dir, wasm)} ${corePath}\n    ./bin/mdb ${shown(opts.dir, wasm)} ${watched.corePath}\n\n`);
  say('then try ::umem_status, ::umem_cache, ::umastat, ::walk umem_log, ::umausers, ::findleaks, or ::dcmds for everything.');
  return { wasm, index, watchedIndex: watched.index, writer, ok: ok && watched.ok };
}

/** Run `kmemdb ARGS` (a run that must leave a core), print what it prints; the core it wrote. */
function runToCore(args: readonly string[], out: (s: string) => void): { corePath: string; index: number } {
  const ran = kmemdb(args);
  out(ran.stdout + ran.stderr);
  const dumped = /^kmemdb run: core dumped: (.*)$/m.exec(ran.stderr);
  if (!dumped) throw new DemoError(`the program did not leave a core (exit status ${ran.status})`);
  const corePath = dumped[1]!;
  return { corePath, index: Number(/core\.(\d+)$/.exec(corePath)?.[1] ?? -1) };
}

/**
 * The last step: run the program again with --watch-freed, which stops it
 * at the write itself, and show that core's ::status and $c.  The writer
 * the tour found by inference must be the function the watched run stopped
 * in.
 */
function catchTheWriter(opts: WasmDemoOptions, wasm: string, seed: string, writer: string): { corePath: string; index: number; ok: boolean } {
  const out = opts.out;
  const say = (text: string) => out(wrap(text));
  out(`\n[4/4] Catching the writer in the act: kmemdb run --watch-freed\n\n`);
  say(
    'libumem sees a write into a freed buffer only when it next checks the buffer.  kmemdb\'s own --watch-freed ' +
      'mode runs a copy of the module in which every store first checks whether it is about to overwrite the ' +
      '0xdeadbeef pattern of a freed buffer, and stops the program before the write, with a report and a core ' +
      '(it turns on the UMEM_DEBUG and UMEM_LOGGING items it needs).',
  );
  out(`\n$ kmemdb run --watch-freed --seed ${seed} --dir ${opts.dir} ${shown(opts.dir, wasm)}\n`);
  const { corePath, index } = runToCore(['run', '--watch-freed', '--seed', seed, '--dir', opts.dir, wasm], out);
  out('\n');
  const t = openWasmCore(corePath, { modulePath: wasm });
  try {
    const thread = t.threads()[0];
    const stopped = (thread ? names(t, t.threadFrames(thread) ?? []) : [])[0];
    if (t.info?.reason !== 'watch' || stopped !== writer) throw new DemoError(`the watched run stopped in ${stopped ?? 'no function'}, not at a write by ${writer}`);
    const tour = new MdbTour(createSession(t, { stdout: out, stderr: out }), out);
    tour.step(`On ${corePath} one command says what was written where, by whom, and who freed and who allocated the buffer:`, '::status');
    tour.step(`$c is the writer's stack, stopped at the store instruction itself: ${writer}, the function the tour above found.`, '$c');
    return { corePath, index, ok: tour.ok };
  } finally {
    t.close();
  }
}
