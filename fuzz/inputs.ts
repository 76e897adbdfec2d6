/*
 * The fuzz targets: how input number i of a campaign is made from the
 * campaign's seed (so any input can be made again from its number alone)
 * and how it is run and judged, in the process that runs it.
 *
 *   mdb    a random command line (mdb-lines.ts) on one of the base dumps;
 *   dumps  a random mutation (dump-mutations.ts) of one of the base dumps,
 *          opened and examined by a few analysis commands, plus the command
 *          the mutation's oracle names, which must warn.
 *   cores  a random mutation (core-mutations.ts) of one of the base program
 *          cores (a wasm32 program's heap under kmemdb's libumem), opened
 *          by the program core reader, which must read it or refuse it with
 *          one DumpFormatError, and examined by a few of libumem's dcmds.
 *
 * Judging: an exception out of the session, an `internal error`, a
 * JavaScript stack trace or a V8 message in what mdb printed is a failure;
 * so is a silent oracle command.  Time and memory are bounded by the
 * campaign (campaign.ts) around the process.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rand } from '../src/kernel/rand.js';
import { openDump, DumpFormatError } from '../src/target/dump-target.js';
import { openWasmCore, type WasmCoreTarget } from '../src/target/wasm-core-target.js';
import type { Target } from '../src/target/target.js';
import { createSession, runMdb } from '../src/mdb/index.js';
import '../src/mdb/modules/genunix.js';
import '../src/mdb/modules/netbsd.js';
import '../src/mdb/modules/libumem.js';
import { commandLine, vocabulary, type LineVocabulary } from './mdb-lines.js';
import { applyMutation, dumpFacts, mutate, type DumpFacts, type Mutation } from './dump-mutations.js';
import { DumpImage } from './dumpedit.js';
import { applyCoreMutation, mutateCore, sectionSizeOffsets, type CoreFacts, type CoreMutation, type CoreObject } from './core-mutations.js';

export const TARGETS = ['mdb', 'dumps', 'cores'] as const;
export type TargetName = (typeof TARGETS)[number];

/** A base dump: the files a scenario left. */
export interface BaseDump {
  readonly name: string;
  readonly unix: string;
  readonly vmcore: string;
}

/** A base program core: the program's module and the core its run left. */
export interface BaseCore {
  readonly name: string;
  readonly wasm: string;
  readonly core: string;
}

/** The intact inputs campaigns mutate or examine (only those their targets need). */
export interface Bases {
  readonly dumps: readonly BaseDump[];
  readonly cores: readonly BaseCore[];
}

/** What one input was, for a reproducer. */
export type InputDescription =
  | { readonly base: string; readonly line: string }
  | { readonly base: string; readonly mutation: Mutation | CoreMutation; readonly commands: readonly string[] };

export interface Verdict {
  readonly ok: boolean;
  readonly reason?: string;
}

/** The random stream of input i of a campaign. */
export function inputRand(seed: number, i: number): Rand {
  return new Rand((Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(i, 0x85ebca6b) + i) >>> 0);
}

/** A problem in what mdb printed, or undefined. */
export function badOutput(text: string): string | undefined {
  const m = /internal error[^\n]*|\n\s+at [^\n]*\.js:\d+[^\n]*|FATAL ERROR[^\n]*|heap out of memory|Maximum call stack[^\n]*/.exec(text);
  return m ? m[0].trim().slice(0, 300) : undefined;
}

/**
 * Most characters one fuzzed command line may write (the session's output
 * bound): a line that multiplies output ends in the bound's one-line message
 * in well under the time bound instead of being reported as a hang.
 */
export const FUZZ_MAX_OUTPUT = 1 << 22;

/** Run commands on a target in a fresh session; stdout is counted, not kept. */
function runOn(t: Target, cmd: string): { stderr: string; ok: boolean; threw?: string } {
  let stderr = '';
  const s = createSession(t, { stdout: () => {}, stderr: (x) => (stderr += x.length > 4096 ? x.slice(0, 4096) : x) }, [], { maxOutput: FUZZ_MAX_OUTPUT });
  try {
    const ok = s.run(cmd);
    return { stderr, ok };
  } catch (e) {
    return { stderr, ok: false, threw: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** The analysis commands a mutated dump is examined with (a few per input). */
const DUMP_COMMANDS = [
  '::status',
  '::walk kmem_cache',
  '::kmastat',
  '::kmem_slabs',
  '::walk kmem_cache | ::walk kmem',
  '::walk kmem_cache | ::walk freemem',
  '::findleaks -f',
  '::vmem',
  '::walk vmem | ::walk vmem_seg',
  '::walk thread | ::findstack',
  '::kmem_verify',
  '::kmalog',
  '::walk pool_head',
  '::pool',
  '::modstat',
  '::msgbuf',
];

/** A runner for one target over the base dumps: make and judge input i. */
export interface TargetRunner {
  describe(i: number): InputDescription;
  run(i: number): Verdict;
}

/** Run each command in its own session: the first exception, bad output or silent oracle is the verdict. */
function judgeCommands(t: Target, commands: readonly string[], mustWarn: string | undefined, note: string): Verdict {
  for (const cmd of commands) {
    const res = runOn(t, cmd);
    if (res.threw) return { ok: false, reason: `${cmd}: exception out of the session: ${res.threw}` };
    const bad = badOutput(res.stderr);
    if (bad) return { ok: false, reason: `${cmd}: ${bad}` };
    if (cmd === mustWarn && res.stderr === '') return { ok: false, reason: `silent wrong answer: ${cmd} printed no warning after "${note}"` };
  }
  return { ok: true };
}

/** mdb command lines against the (intact) base dumps. */
function mdbRunner(seed: number, bases: readonly BaseDump[]): TargetRunner {
  const targets = bases.map((b) => openDump(b.unix, b.vmcore));
  const vocab: LineVocabulary[] = targets.map((t) => {
    const s = createSession(t, { stdout: () => {}, stderr: () => {} });
    const addrs: string[] = [];
    const a = { out: '' };
    const s2 = createSession(t, { stdout: (x) => (a.out += x), stderr: () => {} });
    s2.run('::walk kmem_cache');
    s2.run('::walk thread');
    for (const line of a.out.split('\n').slice(0, 200)) if (line) addrs.push(line.trim());
    return vocabulary(s, addrs);
  });
  const make = (i: number) => {
    const r = inputRand(seed, i);
    const b = r.below(bases.length);
    return { b, line: commandLine(r, vocab[b]!) };
  };
  return {
    describe(i) {
      const { b, line } = make(i);
      return { base: bases[b]!.name, line };
    },
    run(i) {
      const { b, line } = make(i);
      const res = runOn(targets[b]!, line);
      if (res.threw) return { ok: false, reason: `exception out of the session: ${res.threw}` };
      const bad = badOutput(res.stderr);
      return bad ? { ok: false, reason: bad } : { ok: true };
    },
  };
}

/** What a mutation target supplies to mutationRunner(). */
interface MutationTarget<M extends Mutation | CoreMutation> {
  /** The base inputs' names. */
  readonly names: readonly string[];
  /** Input i: which base, the mutation, the commands to examine it with. */
  make(i: number): { b: number; mutation: M; commands: string[] };
  /** The name of the opening function (for a failure's reason). */
  readonly opener: string;
  /** Write base b with the mutation and open it; throws DumpFormatError to refuse it. */
  open(b: number, mutation: M): Target & { close(): void };
  /** The command that must warn after this mutation (if any), and what the mutation did. */
  oracle(mutation: M): { mustWarn: string | undefined; note: string };
}

/**
 * A runner of mutated files: a refusal in one DumpFormatError line passes;
 * any other exception from the opener fails; an opened file is judged by
 * its commands (judgeCommands).
 */
function mutationRunner<M extends Mutation | CoreMutation>(mt: MutationTarget<M>): TargetRunner {
  return {
    describe(i) {
      const { b, mutation, commands } = mt.make(i);
      return { base: mt.names[b]!, mutation, commands };
    },
    run(i) {
      const { b, mutation, commands } = mt.make(i);
      let t: Target & { close(): void };
      try {
        t = mt.open(b, mutation);
      } catch (e) {
        if (e instanceof DumpFormatError) return e.message.includes('\n') ? { ok: false, reason: `a refusal of more than one line: ${e.message}` } : { ok: true };
        return { ok: false, reason: `${mt.opener} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
      }
      try {
        const o = mt.oracle(mutation);
        return judgeCommands(t, commands, o.mustWarn, o.note);
      } finally {
        t.close();
      }
    },
  };
}

/** Mutated dumps, each examined by a few commands; oracle commands must warn. */
function dumpsRunner(seed: number, bases: readonly BaseDump[], scratch: string): TargetRunner {
  const images = bases.map((b) => DumpImage.read(b.vmcore));
  const facts: DumpFacts[] = bases.map((b, k) => {
    const t = openDump(b.unix, b.vmcore);
    try {
      return dumpFacts(images[k]!, t);
    } finally {
      t.close();
    }
  });
  const make = (i: number) => {
    const r = inputRand(seed, i);
    const b = r.below(bases.length);
    const img = images[b]!;
    const mutation = mutate(r, img, facts[b]!, img.bytes.length);
    const commands: string[] = [];
    if (mutation.mustWarn) commands.push(mutation.mustWarn);
    for (let n = 0; n < 3; n++) commands.push(DUMP_COMMANDS[r.below(DUMP_COMMANDS.length)]!);
    if (facts[b]!.addrs.length) commands.push(`${facts[b]!.addrs[r.below(facts[b]!.addrs.length)]}::whatis`);
    return { b, mutation, commands };
  };
  const vmcore = path.join(scratch, `vmcore.${process.pid}`);
  return mutationRunner({
    names: bases.map((x) => x.name),
    make,
    opener: 'openDump',
    open(b, mutation) {
      fs.writeFileSync(vmcore, applyMutation(images[b]!.bytes, mutation));
      return openDump(bases[b]!.unix, vmcore, { cacheBytes: 4 << 20 });
    },
    oracle: (m) => ({ mustWarn: m.mustWarn, note: m.note }),
  });
}

/** libumem's dcmds and walks a mutated program core is examined with (a few per input). */
const CORE_COMMANDS = [
  '::status',
  '$c',
  '::umastat',
  '::umem_verify',
  '::findleaks',
  '::findleaks -dv',
  '::walk umem_cache | ::walk umem',
  '::walk umem_cache | ::walk freemem',
  '::walk umem_cache | ::walk umem_slab',
  '::walk umem_cache | ::walk bufctl',
  '::walk umem_cpu | ::print -a',
  '::umem_log',
  '::umalog',
  '::umausers',
  '::umem_status',
  '::umem_malloc_dist',
  '::umem_malloc_info',
  '::umem_debug',
  '::vmem',
  '::walk vmem | ::walk vmem_seg',
  '::nm',
];

/** Allocator structures of an intact core, found by walking it, that lie whole in the file. */
export function coreFacts(bytes: Uint8Array, t: WasmCoreTarget): CoreFacts {
  const objects: CoreObject[] = [];
  const size = (type: string, dflt: number): number => {
    const id = t.types.find(type);
    return id === undefined ? dflt : t.types.sizeof(id);
  };
  const kinds: ReadonlyArray<[string, string, number, number]> = [
    ['cache', '::walk umem_cache', size('kmem_cache_t', 64), 200],
    ['slab', '::walk umem_cache | ::walk umem_slab', size('kmem_slab_t', 32), 200],
    ['bufctl', '::walk umem_cache | ::walk bufctl', size('kmem_bufctl_audit_t', 32), 200],
    ['buffer', '::walk umem_cache | ::walk umem', 32, 300],
    ['vmem', '::walk vmem', size('vmem_t', 64), 50],
    ['vmem_seg', '::walk vmem | ::walk vmem_seg', size('vmem_seg_t', 32), 200],
  ];
  for (const [what, cmd, len, most] of kinds) {
    const addrs = runMdb(t, cmd).stdout.split('\n').filter(Boolean).slice(0, most);
    for (const a of addrs) {
      const addr = parseInt(a, 16);
      const off = t.fileOffset(addr);
      if (off === undefined || t.fileOffset(addr + len - 1) !== off + len - 1) continue;
      objects.push({ what, addr, size: len, fileOff: off });
    }
  }
  return { sizeOffsets: sectionSizeOffsets(bytes), objects };
}

/** Mutated program cores, read by the core reader and examined by libumem's dcmds. */
function coresRunner(seed: number, bases: readonly BaseCore[], scratch: string): TargetRunner {
  const images = bases.map((b) => new Uint8Array(fs.readFileSync(b.core)));
  const facts: CoreFacts[] = bases.map((b, k) => {
    const t = openWasmCore(b.core, { modulePath: b.wasm });
    try {
      return coreFacts(images[k]!, t);
    } finally {
      t.close();
    }
  });
  const make = (i: number) => {
    const r = inputRand(seed, i);
    const b = r.below(bases.length);
    const mutation = mutateCore(r, facts[b]!, images[b]!.length);
    const commands: string[] = [];
    for (let n = 0; n < 3; n++) commands.push(CORE_COMMANDS[r.below(CORE_COMMANDS.length)]!);
    const objs = facts[b]!.objects;
    if (objs.length) {
      const o = objs[r.below(objs.length)]!;
      commands.push(`${o.addr.toString(16)}::whatis`);
      if (o.what === 'bufctl') commands.push(`${o.addr.toString(16)}::bufctl -v`);
    }
    return { b, mutation, commands };
  };
  const file = path.join(scratch, `core.${process.pid}`);
  return mutationRunner({
    names: bases.map((x) => x.name),
    make,
    opener: 'openWasmCore',
    open(b, mutation) {
      fs.writeFileSync(file, applyCoreMutation(images[b]!, mutation));
      return openWasmCore(file, { modulePath: bases[b]!.wasm, cacheBytes: 1 << 20 });
    },
    oracle: () => ({ mustWarn: undefined, note: '' }),
  });
}

export function targetRunner(target: TargetName, seed: number, bases: Bases, scratch: string): TargetRunner {
  if (target === 'mdb') return mdbRunner(seed, bases.dumps);
  if (target === 'dumps') return dumpsRunner(seed, bases.dumps, scratch);
  return coresRunner(seed, bases.cores, scratch);
}
