/*
 * kmemdb: the command line for making crash dumps.
 *
 *   kmemdb crash <scenario> --dir D [--seed N] [--kmem-flags X] [--model lp64|ilp32]
 *   kmemdb crash --list
 *   kmemdb demo [wasm]                   (src/demo: the kernel's, or a C program's)
 *   kmemdb analyze DUMP [--json]         (analyze.ts: the standard checks)
 *   kmemdb cc [clang arguments]          (src/program: wasm32-wasi programs)
 *   kmemdb --version
 *   kmemdb run [options] prog.wasm [args]
 *
 * Thin: parse arguments, run a scenario (src/scenarios), report where the
 * dump went.  Errors are one line on stderr and exit status 1 (2 for usage),
 * never a stack trace.
 */

import * as path from 'node:path';
import { runScenario, scenarios, ScenarioError } from '../scenarios/index.js';
import { DumpFormatError } from '../dump/dump-format.js';
import { KMEM_PANIC_MESSAGE } from '../abi/kmem-impl.js';
import { OptionError, splitOption, takeSystemOption, type SystemOptions } from './system-options.js';
import { bootSystem } from '../system.js';
import { arenaSummary, formatArenaSummary } from '../vmem/arenas.js';
import { runDemo } from '../demo/demo.js';
import { runWasmDemo } from '../demo/wasm-demo.js';
import { toolchain, ToolchainError } from '../program/toolchain.js';
import { CC_USAGE, ccCommand, RUN_USAGE, runCommand } from '../program/cli.js';
import { ANALYZE_USAGE, analyzeCommand } from './analyze.js';
import { packageVersion } from './version.js';

const USAGE = `usage: kmemdb crash <scenario> --dir DIR [--seed N] [--kmem-flags FLAGS] [--model lp64|ilp32]
                    [--fixed] [--debug-checks]
       kmemdb crash --list
       kmemdb arenas [--kmem-flags FLAGS] [--model lp64|ilp32] [--seed N]
       kmemdb mdb -k [-w] [--scenario NAME] [--kmem-flags FLAGS] [--model lp64|ilp32] [--seed N] [--at SECONDS]
       kmemdb mdb [mdb's arguments]
       kmemdb demo [wasm]
       ${ANALYZE_USAGE.replace('usage: ', '')}
       ${CC_USAGE.replace('usage: ', '')}
       ${RUN_USAGE.replace('usage: ', '')}
       kmemdb help | --help | --version`;

const CRASH_USAGE = `usage: kmemdb crash <scenario> --dir DIR [--seed N] [--kmem-flags FLAGS] [--model lp64|ilp32] [--fixed] [--debug-checks]
       kmemdb crash --list
Runs a scenario until the simulated kernel panics and saves the dump (unix.N,
vmcore.N) in DIR.  --list names the scenarios; --seed makes another run (same
seed, same bytes); --kmem-flags sets kmem_flags (default 0xf); --model picks
the data model; --fixed runs the corrected code path; --debug-checks turns on
the allocator's extra consistency checks.`;

/** A command-line mistake: printed with the usage, exit status 2. */
class UsageError extends Error {}

export interface KmemdbIO {
  stdout(s: string): void;
  stderr(s: string): void;
}

const processIO: KmemdbIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

interface CrashArgs extends SystemOptions {
  scenario?: string;
  dir?: string;
  list: boolean;
  help?: boolean;
}

function parseCrashArgs(argv: readonly string[]): CrashArgs {
  const a: CrashArgs = { list: false };
  for (let i = 0; i < argv.length; i++) {
    const [opt, inline] = splitOption(argv[i]!);
    const value = () => inline ?? argv[++i];
    if (takeSystemOption(opt, value, a)) continue;
    switch (opt) {
      case '--help':
      case '-h':
        a.help = true;
        break;
      case '--list':
      case '-l':
        a.list = true;
        break;
      case '--dir':
      case '-d': {
        const v = value();
        if (!v) throw new UsageError(`${opt} needs a directory`);
        a.dir = v;
        break;
      }
      default:
        if (opt.startsWith('-')) throw new UsageError(`unknown option ${opt}`);
        if (a.scenario !== undefined) throw new UsageError(`one scenario at a time (got ${a.scenario} and ${opt})`);
        a.scenario = opt;
    }
  }
  return a;
}

function listScenarios(io: KmemdbIO): void {
  const w = Math.max(...scenarios().map((s) => s.name.length));
  for (const s of scenarios()) io.stdout(`${s.name.padEnd(w)}  ${s.description}\n`);
}

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

/** Run a scenario into dir and report; returns the dump number. */
function crash(io: KmemdbIO, name: string, dir: string, opts: Omit<CrashArgs, 'list' | 'scenario' | 'dir'>): number {
  const r = runScenario(name, { dir, seed: opts.seed, kmemFlags: opts.kmemFlags, model: opts.model, fixed: opts.fixed, debugChecks: opts.debugChecks });
  const { k, kmem } = r.system;
  // The console: what the allocator found (kmem_error's report), then the panic and its stack.
  const found = kmem.errors.at(-1);
  if (found && r.panicMessage === KMEM_PANIC_MESSAGE) io.stdout(found.text);
  io.stdout(k.panicText);
  io.stdout(`dumping to ${r.dump.vmcorePath}: ${mib(r.dump.memoryBytes)} in ${r.dump.ranges} ranges\n`);
  io.stdout(`savecore: saved crash dump ${r.dump.index} in ${dir}: ${path.basename(r.dump.unixPath)}, ${path.basename(r.dump.vmcorePath)}\n`);
  return r.dump.index;
}

/** Run kmemdb with arguments (without "node kmemdb"); returns the exit status. */
export function run(argv: readonly string[], io: KmemdbIO = processIO): number {
  try {
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case 'crash': {
        const a = parseCrashArgs(rest);
        if (a.help) {
          io.stdout(`${CRASH_USAGE}\n`);
          return 0;
        }
        if (a.list) {
          listScenarios(io);
          return 0;
        }
        if (a.scenario === undefined) throw new UsageError('which scenario? (kmemdb crash --list)');
        if (a.dir === undefined) throw new UsageError('--dir DIR is required (where the dump goes)');
        crash(io, a.scenario, a.dir, a);
        return 0;
      }
      case 'demo': {
        // The guided NetBSD pool-unload tour (src/demo/demo.ts), or the C program's (wasm-demo.ts).
        if (rest.length === 1 && rest[0] === 'wasm') return runWasmDemo({ dir: './crash', out: io.stdout }).ok ? 0 : 1;
        if (rest.length > 0) throw new UsageError(`demo takes no arguments but "wasm" (got ${rest.join(' ')})`);
        return runDemo({ dir: './crash', out: io.stdout }).ok ? 0 : 1;
      }
      case 'arenas': {
        // Boot the kernel and print its vmem arenas, read from memory.
        const a = parseCrashArgs(rest);
        if (a.list || a.scenario !== undefined || a.dir !== undefined || a.fixed || a.debugChecks) throw new UsageError('arenas takes only --kmem-flags, --model and --seed');
        const { k } = bootSystem({ model: a.model, kmemFlags: a.kmemFlags, seed: a.seed });
        io.stdout(formatArenaSummary(arenaSummary(k)));
        return 0;
      }
      case 'analyze':
        return analyzeCommand(rest, io);
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE + '\n');
        return 0;
      case '--version':
      case '-V':
        io.stdout(`kmemdb ${packageVersion()}\n`);
        return 0;
      case undefined:
        throw new UsageError('no command');
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof OptionError) {
      io.stderr(`kmemdb: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof ScenarioError || e instanceof DumpFormatError || (e instanceof Error && e.message.startsWith('savecore: '))) {
      io.stderr(`kmemdb: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
      io.stderr(`kmemdb: ${err.syscall} ${err.path ?? ''}: ${err.code}\n`.replace(' :', ':'));
      return 1;
    }
    io.stderr(`kmemdb: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** Run `then` when a wasm32-wasi toolchain is there; else the toolchain's one-line error, status 1. */
async function withToolchain(what: string, io: KmemdbIO, then: () => number): Promise<number> {
  try {
    await toolchain();
  } catch (e) {
    if (!(e instanceof ToolchainError)) throw e;
    io.stderr(`kmemdb ${what}: ${e.message}\n`);
    return 1;
  }
  return then();
}

/** The asynchronous commands (programs: src/program/cli.ts); undefined for the others. */
function runAsync(argv: readonly string[], io: KmemdbIO): Promise<number> | undefined {
  const [cmd, ...rest] = argv;
  if (cmd === 'cc') return ccCommand(rest, io);
  if (cmd === 'run') return runCommand(rest, io);
  if (cmd === 'demo' && rest[0] === 'wasm') return withToolchain('demo wasm', io, () => run(argv, io));
  return undefined;
}

export async function main(argv: readonly string[]): Promise<void> {
  // `kmemdb mdb ...` is mdb (src/cli/mdb.ts): a live kernel with -k, or a dump.
  if (argv[0] === 'mdb') return (await import('./mdb.js')).main(argv.slice(1));
  process.exitCode = (await runAsync(argv, processIO)) ?? run(argv);
}
