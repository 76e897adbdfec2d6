/*
 * The program commands of the kmemdb command line: `kmemdb cc` (cc.ts) and
 * `kmemdb run` (runner.ts).  Asynchronous, unlike the kernel commands: the
 * in-memory compiler and WebAssembly instantiation are.  Errors are one
 * line on stderr; a failed compile exits with clang's status after clang's
 * own diagnostics; a program's run exits with the program's status.
 *
 * `kmemdb run` runs the program in a child Node process started with
 * --no-turbo-fast-api-calls (runner.ts says why), unless this process
 * already has that flag; the child is this same command.  The runner is
 * loaded only there: loading node:wasi prints an ExperimentalWarning, which
 * the child is started without.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cc, CcFailed, CcInputError, CcUsageError, parseCc } from './cc.js';
import { PACKAGE_ROOT } from './cache.js';
import { ToolchainError } from './toolchain.js';
import type { RunOptions } from './runner.js';
import { watchFreedEnv } from './freed-write.js';

export interface ProgramIO {
  stdout(s: string): void;
  stderr(s: string): void;
}

export const CC_USAGE = 'usage: kmemdb cc [-c] [-O2] [-g] [-o OUTPUT] FILE... [clang flags]';
export const RUN_USAGE = `usage: kmemdb run [--dir DIR] [--mapdir GUEST::HOST] [--env NAME=VALUE] [--seed N]
                  [--umem-debug=ITEMS] [--umem-logging=ITEMS] [--umem-options=ITEMS]
                  [--findleaks] [--core-at-exit] [--watch-freed] PROG.wasm [--] [ARG...]`;

/** A command-line mistake: printed with the usage, exit status 2. */
class RunUsageError extends Error {}

/** `kmemdb cc ARGS`: returns the exit status. */
export async function ccCommand(argv: readonly string[], io: ProgramIO): Promise<number> {
  try {
    await cc(parseCc(argv));
    return 0;
  } catch (e) {
    if (e instanceof CcFailed) return e.status;
    if (e instanceof CcUsageError) {
      io.stderr(`kmemdb cc: ${e.message}\n${CC_USAGE}\n`);
      return 2;
    }
    if (e instanceof ToolchainError || e instanceof CcInputError) {
      io.stderr(`kmemdb cc: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** The program's environment: HOME (so programs find a home directory), plus --env. */
function programEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  return { ...env, ...extra };
}

function parseSeed(v: string): number {
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffffffff) throw new RunUsageError(`--seed: bad number "${v}"`);
  return Number(v);
}

function existingDir(opt: string, dir: string): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new RunUsageError(`${opt}: ${dir}: not a directory`);
  return dir;
}

/** Parse `kmemdb run` arguments (UMEM_* come from the environment unless given as options). */
export function parseRun(argv: readonly string[], environ: NodeJS.ProcessEnv, stderr: (s: string) => void): RunOptions {
  const preopens: Record<string, string> = {};
  const extraEnv: Record<string, string> = {};
  const umemEnv = { UMEM_DEBUG: environ.UMEM_DEBUG, UMEM_LOGGING: environ.UMEM_LOGGING, UMEM_OPTIONS: environ.UMEM_OPTIONS };
  let o: Partial<RunOptions> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) break;
    if (arg === '--') {
      i++;
      break;
    }
    const eq = arg.indexOf('=');
    const [opt, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new RunUsageError(`${opt} needs a value`);
      return v;
    };
    switch (opt) {
      case '--dir':
        o = { ...o, coreDir: value() };
        break;
      case '--mapdir': {
        const v = value();
        const sep = v.indexOf('::');
        if (sep <= 0 || sep + 2 >= v.length) throw new RunUsageError(`--mapdir wants GUEST::HOST, not "${v}"`);
        preopens[v.slice(0, sep)] = existingDir(opt, v.slice(sep + 2));
        break;
      }
      case '--env': {
        const v = value();
        const e = v.indexOf('=');
        if (e <= 0) throw new RunUsageError(`--env wants NAME=VALUE, not "${v}"`);
        extraEnv[v.slice(0, e)] = v.slice(e + 1);
        break;
      }
      case '--seed':
        o = { ...o, seed: parseSeed(value()) };
        break;
      case '--umem-debug':
        umemEnv.UMEM_DEBUG = inline ?? value();
        break;
      case '--umem-logging':
        umemEnv.UMEM_LOGGING = inline ?? value();
        break;
      case '--umem-options':
        umemEnv.UMEM_OPTIONS = inline ?? value();
        break;
      case '--findleaks':
        o = { ...o, findLeaks: true };
        break;
      case '--core-at-exit':
        o = { ...o, coreAtExit: true };
        break;
      case '--watch-freed':
        o = { ...o, watchFreed: true };
        break;
      default:
        throw new RunUsageError(`unknown option ${opt}`);
    }
  }
  const wasm = argv[i];
  if (wasm === undefined) throw new RunUsageError('which program? (a .wasm file built with kmemdb cc)');
  const rest = argv.slice(i + 1);
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  if (o.coreAtExit && o.coreDir === undefined) throw new RunUsageError('--core-at-exit needs --dir DIR (where the core goes)');
  const effective = o.watchFreed ? watchFreedEnv(umemEnv) : umemEnv;
  for (const k of Object.keys(effective) as (keyof typeof effective)[]) if (effective[k] !== undefined) extraEnv[k] ??= effective[k]!;
  return { ...o, wasm, args, env: programEnv(extraEnv), umemEnv, preopens, stderr };
}

/** The flag the program's V8 must have (runner.ts). */
const V8_FLAG = '--no-turbo-fast-api-calls';

/** Run `kmemdb run ARGS` in a child Node process that has V8_FLAG; its status is ours. */
function runInChild(argv: readonly string[], io: ProgramIO): number {
  const bin = path.join(PACKAGE_ROOT, 'bin/kmemdb');
  const r = spawnSync(process.execPath, [V8_FLAG, '--disable-warning=ExperimentalWarning', bin, 'run', ...argv], { stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.signal) {
    io.stderr(`kmemdb run: the runner died of ${r.signal}\n`);
    return r.signal === 'SIGABRT' ? 134 : 128 + 15;
  }
  return r.status ?? 1;
}

/** The synchronous writer of the run's messages (in order with what the program writes to fd 2). */
function writeStderr(s: string): void {
  fs.writeSync(2, s);
}

/** `kmemdb run ARGS`: returns the exit status. */
export async function runCommand(argv: readonly string[], io: ProgramIO): Promise<number> {
  let o: RunOptions;
  try {
    o = parseRun(argv, process.env, writeStderr);
  } catch (e) {
    if (!(e instanceof RunUsageError)) throw e;
    io.stderr(`kmemdb run: ${e.message}\n${RUN_USAGE}\n`);
    return 2;
  }
  if (!process.execArgv.includes(V8_FLAG)) return runInChild(argv, io);
  const { ProgramError, runProgram } = await import('./runner.js');
  try {
    return (await runProgram(o)).status;
  } catch (e) {
    if (!(e instanceof ProgramError)) throw e;
    io.stderr(`kmemdb run: ${e.message}\n`);
    return 1;
  }
}
