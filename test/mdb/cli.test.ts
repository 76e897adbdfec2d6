/*
 * The mdb command end to end: -e exit status, stdin, and a crash dump
 * written by savecore from a small kernel.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../../src/kernel/kernel.js';
import { savecore } from '../../src/dump/savecore.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const bin = path.join(root, 'bin', 'mdb');

function mdb(args: string[], input?: string, cwd?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { input: input ?? '', encoding: 'utf8', cwd });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test('-e: exit status 0 on success, 1 when a command failed; no stack traces', () => {
  const ok = mdb(['-e', '0t10=D']);
  assert.equal(ok.status, 0);
  assert.equal(ok.stdout, '                10              \n');
  const bad = mdb(['-e', '::nosuch']);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "mdb: invalid command '::nosuch': unknown dcmd name\n");
  const syn = mdb(['-e', '(((']);
  assert.equal(syn.status, 1);
  assert.doesNotMatch(syn.stderr, /at .*\.js:\d+/);
});

test('stdin: commands run in order, exit 0', () => {
  const r = mdb([], '0t8$d\n17=K\n$q\n1=K\n');
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'radix = 8 base ten\n                f               \n');
});

test('a crash dump: mdb N in the dump directory, and mdb DIR', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-mdbcli-'));
  try {
    const k = new Kernel({ model: 'lp64', seed: 5, hostname: 'crashy' });
    k.fns({ vpanic: 0x80, kmem_error: 0x100 });
    const g = k.global('kmem_flags', 'int');
    k.mem.store32(g, 0xf);
    try {
      k.panic('kernel heap corruption detected');
    } catch {
      /* panic unwinds */
    }
    const info = savecore(k, dir);
    const r = mdb(['-e', '::status; kmem_flags/X', String(info.index)], undefined, dir);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.replace(/^dump content: .*\n/m, ''),
      `debugging crash dump vmcore.${info.index} (64-bit) from crashy\n` +
        'operating system: 5.11 kmemdb-0.1 simulated (amd64)\n' +
        'panic message: kernel heap corruption detected\n' +
        'kmem_flags:\nkmem_flags:     f               \n',
    );
    const d = mdb(['-e', '::walk thread ! wc -l', dir]);
    assert.equal(d.status, 0, d.stderr);
    assert.ok(Number(d.stdout.trim()) >= 1);
    const missing = mdb(['-e', '::status', path.join(dir, 'nonexistent')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^mdb: /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
