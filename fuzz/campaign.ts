/*
 * A fuzz campaign: inputs 0..count-1 of one target, run by worker child
 * processes (worker.ts) under a time bound per input and a memory bound per
 * process.  A worker that stays on one input past the time bound is killed
 * (a hang); one that dies (a crash, V8's out-of-memory abort) or reports
 * its resident size over the bound fails the input it was on; a new worker
 * carries on from the next input.  Every failure is saved as a reproducer
 * file (JSON: target, seed, index, reason, the input itself), which
 * `npm run fuzz -- --replay FILE` runs again.
 */

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../src/scenarios/index.js';
import { cc, parseCc } from '../src/program/cc.js';
import { runProgram } from '../src/program/runner.js';
import { PACKAGE_ROOT } from '../src/program/cache.js';
import { targetRunner, type BaseCore, type BaseDump, type Bases, type TargetName, type TargetRunner } from './inputs.js';

export interface CampaignOptions {
  readonly target: TargetName;
  readonly seed: number;
  readonly count: number;
  /** First input number (default 0). */
  readonly from?: number;
  readonly bases: Bases;
  /** Time bound per input, ms. */
  readonly timeMs: number;
  /** Memory bound per worker process, bytes (resident set). */
  readonly maxRss: number;
  /** Parallel workers. */
  readonly jobs: number;
  /** Where reproducer files go (created when the first failure comes). */
  readonly outDir: string;
  /** Scratch directory for mutated dumps. */
  readonly scratch: string;
  /** Nice level for the workers (0: none). */
  readonly nice?: number;
}

export interface Failure {
  readonly index: number;
  readonly reason: string;
  readonly file: string;
}

export interface CampaignResult {
  readonly target: TargetName;
  readonly seed: number;
  readonly inputs: number;
  readonly failures: readonly Failure[];
  readonly elapsedMs: number;
  /** Largest resident set a worker reported, bytes. */
  readonly peakRss: number;
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

/** The base dumps of the campaigns: a leaky LP64 kernel, a redzone ILP32 kernel, the NetBSD pool-unload kernel. */
export function makeBaseDumps(dir: string): BaseDump[] {
  const out: BaseDump[] = [];
  for (const [name, model] of [
    ['leak', 'lp64'],
    ['redzone', 'ilp32'],
    ['pool-unload', 'lp64'],
  ] as const) {
    const d = path.join(dir, `${name}-${model}`);
    const r = runScenario(name, { dir: d, model });
    out.push({ name: `${name}/${model}`, unix: r.dump.unixPath, vmcore: r.dump.vmcorePath });
  }
  return out;
}

/** The fuzzer's C program (fuzz/programs/heap.c): a heap with something in every libumem structure. */
const HEAP_PROGRAM = path.join(PACKAGE_ROOT, 'fuzz', 'programs', 'heap.c');

/**
 * The base program cores: heap.c built with kmemdb cc and run to its end
 * with a core written at exit, once under UMEM_DEBUG=default with the
 * transaction log (audit bufctls, redzones, the log) and once without
 * debugging.  Needs a wasm32 C toolchain (docs/program.md); rejects with
 * its ToolchainError when there is none.
 */
export async function makeBaseCores(dir: string): Promise<BaseCore[]> {
  fs.mkdirSync(dir, { recursive: true });
  const wasm = path.join(dir, 'heap.wasm');
  await cc(parseCc(['-O2', '-o', wasm, HEAP_PROGRAM]));
  const out: BaseCore[] = [];
  for (const [name, umemEnv] of [
    ['heap/debug', { UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction' }],
    ['heap/plain', {}],
  ] as const) {
    const coreDir = path.join(dir, name.replace('/', '-'));
    fs.mkdirSync(coreDir, { recursive: true });
    let log = '';
    const r = await runProgram({ wasm, args: [], env: {}, umemEnv, preopens: {}, coreDir, coreAtExit: true, seed: 1, stderr: (x) => (log += x) });
    if (r.cores.length === 0) throw new Error(`fuzz: ${name}: the heap program left no core (status ${r.status}): ${log.trim()}`);
    out.push({ name, wasm, core: r.cores[0]! });
  }
  return out;
}

/** The base inputs the targets need: dumps for mdb and dumps, program cores for cores. */
export async function makeBases(dir: string, targets: readonly TargetName[]): Promise<Bases> {
  const dumps = targets.some((t) => t === 'mdb' || t === 'dumps') ? makeBaseDumps(path.join(dir, 'dumps')) : [];
  const cores = targets.includes('cores') ? await makeBaseCores(path.join(dir, 'cores')) : [];
  return { dumps, cores };
}

/** A scratch directory in memory when there is one (mutated dumps are written per input). */
export function scratchDir(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'kmemdb-fuzz-'));
}

/** Run one worker over [from, to); resolves with the next input to run (to when done). */
function runWorker(o: CampaignOptions, from: number, to: number, onResult: (i: number, ok: boolean, rss: number, detail?: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const heapMb = Math.max(64, Math.floor(o.maxRss / 1048576));
    const args = [`--max-old-space-size=${heapMb}`, WORKER, o.target, String(o.seed), String(from), String(to), JSON.stringify(o.bases), o.scratch, String(o.maxRss)];
    const cmd = o.nice ? 'nice' : process.execPath;
    const argv = o.nice ? ['-n', String(o.nice), process.execPath, ...args] : args;
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHELL: '/bin/true' } });
    let current = -1;
    let started = 0;
    let finished = from;
    let buf = '';
    let stderr = '';
    let killedFor: string | undefined;
    const timer = setInterval(() => {
      if (current >= 0 && Date.now() - started > o.timeMs) {
        killedFor = `hang: input ran over the ${o.timeMs} ms time bound`;
        child.kill('SIGKILL');
      }
    }, Math.min(250, o.timeMs / 4));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [tag, idx, a, ...rest] = line.split(' ');
        const i = Number(idx);
        if (tag === 'S') {
          current = i;
          started = Date.now();
        } else if (tag === 'D') {
          onResult(i, true, Number(rest[0]));
          current = -1;
          finished = i + 1;
        } else if (tag === 'F') {
          onResult(i, false, Number(a), rest.join(' '));
          current = -1;
          finished = i + 1;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (current >= 0) {
        const reason = killedFor ?? (/heap out of memory|Allocation failed/.test(stderr) ? 'memory over bound: V8 heap limit reached' : `worker died (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
        onResult(current, false, 0, JSON.stringify({ reason, input: null }));
        resolve(current + 1);
      } else resolve(code === 0 || code === 3 ? finished : Math.max(finished, to));
    });
  });
}

/** Run a campaign; failures are saved under outDir. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const t0 = Date.now();
  const from = o.from ?? 0;
  const end = from + o.count;
  const failures = new Map<number, Failure>();
  let inputs = 0;
  let peakRss = 0;
  const seen = new Set<number>();
  let describer: TargetRunner | undefined; // made on the first input that killed its worker
  const onResult = (i: number, ok: boolean, rss: number, detail?: string) => {
    if (rss > peakRss) peakRss = rss;
    if (!seen.has(i)) {
      seen.add(i);
      inputs++;
    }
    if (ok || failures.has(i)) return;
    const d = JSON.parse(detail ?? '{}') as { reason?: string; input?: unknown };
    fs.mkdirSync(o.outDir, { recursive: true });
    const file = path.join(o.outDir, `${o.target}-seed${o.seed}-${i}.json`);
    const input = d.input ?? (describer ??= targetRunner(o.target, o.seed, o.bases, o.scratch)).describe(i);
    const record = { target: o.target, seed: o.seed, index: i, reason: d.reason ?? 'unknown', input, replay: `npm run fuzz -- --replay ${file}` };
    fs.writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
    failures.set(i, { index: i, reason: record.reason, file });
  };
  const slice = Math.ceil(o.count / Math.max(1, o.jobs));
  const lanes: Array<Promise<void>> = [];
  for (let j = 0; j < o.jobs; j++) {
    const lo = from + j * slice;
    const hi = Math.min(end, lo + slice);
    if (lo >= hi) continue;
    lanes.push(
      (async () => {
        let next = lo;
        while (next < hi) next = await runWorker(o, next, hi, onResult);
      })(),
    );
  }
  await Promise.all(lanes);
  return { target: o.target, seed: o.seed, inputs, failures: [...failures.values()].sort((a, b) => a.index - b.index), elapsedMs: Date.now() - t0, peakRss };
}

/** The summary line of a campaign. */
export function summaryLine(r: CampaignResult): string {
  return `fuzz ${r.target}: ${r.inputs} inputs, ${r.failures.length} failures, ${(r.elapsedMs / 1000).toFixed(1)} s, peak worker RSS ${Math.round(r.peakRss / 1048576)} MB (seed ${r.seed})`;
}
