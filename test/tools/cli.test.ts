/*
 * The command lines as a user meets them: mdb's options (refused by name
 * when we lack them, --help, --version, repeated -e, vmcore.N alone,
 * failures on stdin), kmemdb --version / crash --help, and kmemdb analyze
 * in text and JSON with its exit status.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/scenarios/index.js';
import { DUMP_REPORT_SCHEMA, type DumpReport } from '../../src/mdb/analysis/dump-report.js';
import { tmpDir } from '../dump/helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin');
const VERSION = (JSON.parse(fs.readFileSync(path.join(BIN, '..', 'package.json'), 'utf8')) as { version: string }).version;

function run(tool: 'mdb' | 'kmemdb', args: string[], input = ''): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [path.join(BIN, tool), ...args], { input, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

let leakDir = '';
let cleanDir = '';
before(() => {
  leakDir = tmpDir('cli-leak');
  runScenario('leak', { dir: leakDir });
  cleanDir = tmpDir('cli-clean');
  runScenario('clean', { dir: cleanDir });
});
after(() => {
  fs.rmSync(leakDir, { recursive: true, force: true });
  fs.rmSync(cleanDir, { recursive: true, force: true });
});

test('mdb refuses an option it lacks by name, with the usage line, status 2', () => {
  for (const opt of ['-w', '-f', '-S', '--frobnicate']) {
    const r = run('mdb', [opt, path.join(leakDir, 'vmcore.0'), '-e', '1=D']);
    assert.equal(r.status, 2, opt);
    assert.equal(r.stderr.split('\n')[0], `mdb: ${opt}: not supported`);
    assert.equal(r.stdout, '');
  }
  const e = run('mdb', ['-e']);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /^mdb: -e needs a command string\n/);
});

test('mdb --help to stdout with status 0; --version', () => {
  const h = run('mdb', ['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^Usage: mdb /);
  assert.equal(h.stderr, '');
  const v = run('mdb', ['--version']);
  assert.equal(v.stdout, `mdb (kmemdb) ${VERSION}\n`);
});

test('mdb runs every -e in order, finds unix.N beside vmcore.N, and fails on a failing stdin command', () => {
  const r = run('mdb', ['-e', '1=D', '-e', '2=D', '-e', 'kmem_flags/D', path.join(leakDir, 'vmcore.0')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\s+1\s*\n\s+2\s*\n.*kmem_flags:\s+15/s);
  const bad = run('mdb', [path.join(leakDir, 'vmcore.0')], 'kmem_flags/D\n::nosuch\n');
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /kmem_flags:\s+15/);
  assert.equal(run('mdb', [path.join(leakDir, 'vmcore.0')], 'kmem_flags/D\n').status, 0);
});

test('kmemdb --version and kmemdb crash --help', () => {
  assert.equal(run('kmemdb', ['--version']).stdout, `kmemdb ${VERSION}\n`);
  const h = run('kmemdb', ['crash', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^usage: kmemdb crash <scenario> --dir DIR/);
});

test('kmemdb analyze: text and JSON agree, and the exit status gates on leaks', () => {
  const text = run('kmemdb', ['analyze', leakDir]);
  assert.equal(text.status, 1, 'leaks found');
  for (const cmd of ['::status', '::findleaks', '::kmem_verify', '::kmastat']) assert.ok(text.stdout.includes(`> ${cmd}\n`), cmd);
  const json = run('kmemdb', ['analyze', leakDir, '--json']);
  assert.equal(json.status, 1);
  const r = JSON.parse(json.stdout) as DumpReport;
  assert.equal(r.schema, DUMP_REPORT_SCHEMA);
  assert.equal(r.status.panicMessage, 'forced crash dump initiated at user request');
  assert.equal(r.verdict.clean, false);
  assert.ok(r.leaks.length > 0 && r.leaks.every((l) => /^0x[0-9a-f]+$/.test(l.buf) && l.stack.length > 0));
  assert.equal(r.verdict.leakedBuffers, r.leaks.reduce((n, l) => n + l.count, 0));
  assert.match(text.stdout, new RegExp(`verdict: ${r.verdict.leakedBuffers} leaked buffers \\(${r.verdict.leakedBytes} bytes\\), 0 corrupt buffers\\n$`));
  assert.ok(r.kmastat.some((c) => c.name === 'kmem_alloc_32'));

  const clean = run('kmemdb', ['analyze', cleanDir, '--json']);
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal((JSON.parse(clean.stdout) as DumpReport).verdict.clean, true);

  const missing = run('kmemdb', ['analyze', path.join(leakDir, 'nothing')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^kmemdb: analyze: /);
});
