/*
 * Helpers for the robustness tests: scenario dumps in temporary
 * directories, copies of them with edited kernel memory, and the mdb
 * command run as a child process (so a hang is caught by a timeout and
 * the exit status is mdb's own).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/scenarios/index.js';
import { openDump, type DumpTarget } from '../../src/target/dump-target.js';
import { DumpImage } from '../../fuzz/dumpedit.js';
import type { ModelName } from '../../src/machine/memory.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..', '..');
const MDB = path.join(ROOT, 'bin', 'mdb');

import { tmpDir } from '../tmp.js';

export { tmpDir };

export interface Dump {
  readonly unix: string;
  readonly vmcore: string;
}

/** A scenario's dump, written into a fresh temporary directory. */
export function scenarioDump(name: string, model: ModelName = 'lp64'): Dump {
  const dir = tmpDir(`rob-${name}`);
  const r = runScenario(name, { dir, model });
  return { unix: r.dump.unixPath, vmcore: r.dump.vmcorePath };
}

/**
 * A copy of a dump whose kernel memory `edit` changes; edit gets the
 * vmcore image and the original dump opened as a target (for symbols and
 * types).
 */
export function editedDump(d: Dump, edit: (img: DumpImage, t: DumpTarget) => void): Dump {
  const dir = tmpDir('rob-edit');
  const unix = path.join(dir, 'unix.0');
  const vmcore = path.join(dir, 'vmcore.0');
  fs.copyFileSync(d.unix, unix);
  const img = DumpImage.read(d.vmcore);
  const t = openDump(d.unix, d.vmcore);
  try {
    edit(img, t);
  } finally {
    t.close();
  }
  img.save(vmcore);
  return { unix, vmcore };
}

/** Byte offset of a struct member in the target's types. */
export function offsetOf(t: DumpTarget, type: string, member: string): number {
  return t.types.member(t.types.find(type)!, member).bitOffset / 8;
}

export interface MdbRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
}

/**
 * Run bin/mdb (with a generous timeout that only a hang reaches).  $SHELL is
 * /bin/true: random input may contain `!` and must not run random commands.
 */
export function mdb(args: readonly string[], input = '', timeoutMs = 60_000): MdbRun {
  const env = { ...process.env, SHELL: '/bin/true' };
  const r = spawnSync(process.execPath, [MDB, ...args], { input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 << 20, env });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** mdb -e cmd on a dump. */
export function mdbOn(d: Dump, cmd: string): MdbRun {
  return mdb(['-e', cmd, d.unix, d.vmcore]);
}

/** No JavaScript stack trace or internal error leaked into what mdb printed. */
export function noInternals(r: MdbRun): boolean {
  return !/internal error|\n\s+at .*\.js:\d+|RangeError|TypeError|heap out of memory/.test(r.stdout + r.stderr);
}
