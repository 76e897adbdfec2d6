/*
 * npm run fuzz -- [--target mdb|dumps|cores|all] [--count N] [--seed S] [--jobs J]
 *                 [--time-ms T] [--mem-mb M] [--nice N] [--out DIR]
 * npm run fuzz -- --replay FILE
 *
 * Runs fuzz campaigns (campaign.ts) and prints one summary line per target;
 * the exit status is 1 if any input failed.  Reproducers are written to
 * --out (default fuzz-failures/ in the current directory).  --replay runs
 * the input of a reproducer file again in this process and prints its
 * verdict.  The cores target builds its program with kmemdb cc and so
 * needs a wasm32 C toolchain (docs/program.md).
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBases, runCampaign, scratchDir, summaryLine } from './campaign.js';
import { TARGETS, targetRunner, type TargetName } from './inputs.js';
import { ToolchainError } from '../src/program/toolchain.js';

interface Args {
  targets: TargetName[];
  count: number;
  seed: number;
  jobs: number;
  timeMs: number;
  memMb: number;
  nice: number;
  out: string;
  replay?: string;
}

function usage(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- [--target mdb|dumps|cores|all] [--count N] [--seed S] [--jobs J] [--time-ms T] [--mem-mb M] [--nice N] [--out DIR] | --replay FILE\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { targets: [...TARGETS], count: 1000, seed: 1, jobs: 1, timeMs: 10_000, memMb: 1024, nice: 0, out: 'fuzz-failures' };
  const num = (v: string | undefined, name: string, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min) usage(`${name} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    switch (k) {
      case '--target':
        if (v === 'all') a.targets = [...TARGETS];
        else if ((TARGETS as readonly string[]).includes(v ?? '')) a.targets = [v as TargetName];
        else usage(`unknown target ${v ?? ''}`);
        i++;
        break;
      case '--count':
        a.count = num(v, k, 1);
        i++;
        break;
      case '--seed':
        a.seed = num(v, k, 0);
        i++;
        break;
      case '--jobs':
        a.jobs = num(v, k, 1);
        i++;
        break;
      case '--time-ms':
        a.timeMs = num(v, k, 100);
        i++;
        break;
      case '--mem-mb':
        a.memMb = num(v, k, 64);
        i++;
        break;
      case '--nice':
        a.nice = num(v, k, 0);
        i++;
        break;
      case '--out':
        if (v === undefined) usage('--out needs a directory');
        a.out = v;
        i++;
        break;
      case '--replay':
        if (v === undefined) usage('--replay needs a file');
        a.replay = v;
        i++;
        break;
      default:
        usage(`unknown option ${k}`);
    }
  }
  return a;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-fuzz-base-'));
  const scratch = scratchDir();
  try {
    const rec = a.replay ? (JSON.parse(fs.readFileSync(a.replay, 'utf8')) as { target: TargetName; seed: number; index: number }) : undefined;
    let bases;
    try {
      bases = await makeBases(work, rec ? [rec.target] : a.targets);
    } catch (e) {
      if (!(e instanceof ToolchainError)) throw e;
      usage(`the cores target needs a wasm32 C toolchain: ${e.message}`);
    }
    if (rec) {
      process.env.SHELL = '/bin/true';
      const runner = targetRunner(rec.target, rec.seed, bases, scratch);
      process.stdout.write(JSON.stringify(runner.describe(rec.index), null, 2) + '\n');
      const v = runner.run(rec.index);
      process.stdout.write(v.ok ? 'passes now\n' : `fails: ${v.reason}\n`);
      process.exitCode = v.ok ? 0 : 1;
      return;
    }
    let failed = 0;
    for (const target of a.targets) {
      const r = await runCampaign({ target, seed: a.seed, count: a.count, bases, timeMs: a.timeMs, maxRss: a.memMb * 1048576, jobs: a.jobs, outDir: a.out, scratch, nice: a.nice });
      process.stdout.write(summaryLine(r) + '\n');
      for (const f of r.failures.slice(0, 20)) process.stdout.write(`  input ${f.index}: ${f.reason.slice(0, 200)} (${f.file})\n`);
      failed += r.failures.length;
    }
    process.exitCode = failed ? 1 : 0;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
