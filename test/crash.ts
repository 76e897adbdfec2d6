/* A crash dump for a test: `kmemdb crash NAME` into a fresh directory, opened for mdb, removed afterwards. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../src/cli/kmemdb.js';
import { openDump, type DumpTarget } from '../src/target/dump-target.js';

/**
 * Run `kmemdb crash NAME --seed 4 --model MODEL [ARGS...]` into a fresh
 * directory and call fn with the dump and the console (the directory
 * written as DIR); the dump is closed and the directory removed when fn
 * returns or throws.
 */
export function withCrash<R>(name: string, model: 'lp64' | 'ilp32', fn: (t: DumpTarget, console: string) => R, args: readonly string[] = []): R {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kmemdb-crash-${name}-`));
  try {
    let out = '';
    const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (out += s) };
    assert.equal(run(['crash', name, '--dir', dir, '--seed', '4', '--model', model, ...args], io), 0, out);
    const t = openDump(path.join(dir, 'unix.0'), path.join(dir, 'vmcore.0'));
    try {
      return fn(t, out.split(dir).join('DIR'));
    } finally {
      t.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
