/*
 * The fuzz targets: how input number i of a campaign is made from the
 * campaign's seed (so any input can be made again from its number alone)
 * and how it is run and judged, in the process that runs it.
 *
 *   mdb    a random command line (mdb-lines.ts) on one of the base dumps;
 *   dumps  a random mutation (dump-mutations.ts) of one of the base dumps,
 *          opened and examined by a few analysis commands, plus the command
 *          the mutation's oracle names, which must warn.
 *
 * Judging: an exception out of the session, an `internal error`, a
 * JavaScript stack trace or a V8 message in what mdb printed is a failure;
 * so is a silent oracle command.  Time and memory are bounded by the
 * campaign (campaign.ts) around the process.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rand } from '../src/kernel/rand.js';
import { openDump, DumpFormatError, type DumpTarget } from '../src/target/dump-target.js';
import { createSession } from '../src/mdb/index.js';
import '../src/mdb/modules/genunix.js';
import '../src/mdb/modules/netbsd.js';
import { commandLine, vocabulary, type LineVocabulary } from './mdb-lines.js';
import { applyMutation, dumpFacts, mutate, type DumpFacts, type Mutation } from './dump-mutations.js';
import { DumpImage } from './dumpedit.js';

export const TARGETS = ['mdb', 'dumps'] as const;
export type TargetName = (typeof TARGETS)[number];

/** A base dump: the files a scenario left. */
export interface BaseDump {
  readonly name: string;
  readonly unix: string;
  readonly vmcore: string;
}

/** What one input was, for a reproducer. */
export type InputDescription = { readonly base: string; readonly line: string } | { readonly base: string; readonly mutation: Mutation; readonly commands: readonly string[] };

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
function runOn(t: DumpTarget, cmd: string): { stderr: string; ok: boolean; threw?: string } {
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
  return {
    describe(i) {
      const { b, mutation, commands } = make(i);
      return { base: bases[b]!.name, mutation, commands };
    },
    run(i) {
      const { b, mutation, commands } = make(i);
      fs.writeFileSync(vmcore, applyMutation(images[b]!.bytes, mutation));
      let t: DumpTarget;
      try {
        t = openDump(bases[b]!.unix, vmcore, { cacheBytes: 4 << 20 });
      } catch (e) {
        if (e instanceof DumpFormatError) return { ok: true }; // refused in one line: fine
        return { ok: false, reason: `openDump threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
      }
      try {
        for (const cmd of commands) {
          const res = runOn(t, cmd);
          if (res.threw) return { ok: false, reason: `${cmd}: exception out of the session: ${res.threw}` };
          const bad = badOutput(res.stderr);
          if (bad) return { ok: false, reason: `${cmd}: ${bad}` };
          if (cmd === mutation.mustWarn && res.stderr === '') return { ok: false, reason: `silent wrong answer: ${cmd} printed no warning after "${mutation.note}"` };
        }
        return { ok: true };
      } finally {
        t.close();
      }
    },
  };
}

export function targetRunner(target: TargetName, seed: number, bases: readonly BaseDump[], scratch: string): TargetRunner {
  return target === 'mdb' ? mdbRunner(seed, bases) : dumpsRunner(seed, bases, scratch);
}
