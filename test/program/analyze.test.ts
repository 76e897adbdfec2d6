/*
 * kmemdb analyze on program cores: libumem's checks (::status with the
 * allocator's last error report, ::findleaks, ::umem_verify, ::umastat) in
 * text and as one JSON document, and an exit status a CI job can gate on:
 * 1 for a planted leak, a planted corruption (an overrun: a redzone
 * umem_verify finds; a use after free) and an allocator error that leaves
 * no corrupt buffer (a double free); 0 for a clean program, also one whose
 * wasi-libc start-up blocks (argv) are still allocated when it exits; 2
 * for a core without kmemdb's allocator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DumpReport } from '../../src/mdb/analysis/dump-report.js';
import { DUMP_REPORT_SCHEMA } from '../../src/mdb/analysis/dump-report.js';
import { writeForeignCore } from '../wasmcore/helpers.js';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';

const env = { ...process.env, UMEM_DEBUG: 'default', UMEM_LOGGING: '', UMEM_OPTIONS: '' };

interface Core {
  dir: string;
  wasm: string;
  core: string;
}

/** Build test/program/c/NAME.c, run it with --core-at-exit; its core (written at exit or at its error). */
function coreOf(name: string, status: number): Core {
  const dir = tmpDir(`analyze-${name}`);
  const wasm = path.join(dir, `${name}.wasm`);
  build(['-O2', '-o', wasm, path.join(C_DIR, `${name}.c`)]);
  const r = kmemdb(['run', '--seed', '1', '--dir', dir, '--core-at-exit', wasm], { env });
  assert.equal(r.status, status, r.stderr);
  return { dir, wasm, core: path.join(dir, 'core.0') };
}

function analyze(args: readonly string[]): { status: number | null; report: DumpReport; stderr: string } {
  const r = kmemdb(['analyze', ...args, '--json'], { env });
  assert.equal(r.stderr, '');
  const report = JSON.parse(r.stdout) as DumpReport;
  assert.equal(report.schema, DUMP_REPORT_SCHEMA);
  assert.equal(report.status.target, 'program');
  return { status: r.status, report, stderr: r.stderr };
}

test('kmemdb analyze, a planted leak: libumem\'s checks in text, the leaks by stack in JSON, exit 1', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const c = coreOf('leaks', 0);
  const text = kmemdb(['analyze', c.wasm, c.core], { env });
  assert.equal(text.status, 1, text.stderr);
  const cmds = [...text.stdout.matchAll(/^> (::\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(cmds, ['::status', '::umem_status', '::findleaks', '::umem_verify', '::umastat']);
  assert.match(text.stdout, /^status: process exited with status 0/m);
  assert.match(text.stdout, /^verdict: 5 leaked buffers \(\d+ bytes\), 0 corrupt buffers\n$/m);
  const { status, report } = analyze([c.dir, '0']); // the DIR N form
  assert.equal(status, 1);
  assert.equal(report.status.program, 'leaks.wasm');
  assert.match(report.status.processStatus!, /^process exited with status 0/);
  assert.equal(report.status.errorReport, '');
  const by = (fn: string) => report.leaks.find((l) => l.caller.startsWith(`${fn}+`));
  assert.equal(by('make_node')?.count, 3);
  assert.equal(by('make_label')?.count, 2);
  assert.equal(report.leaks.length, 2, 'the blocks reachable from the list are not leaks');
  assert.ok(by('make_node')!.stack.some((f) => f.startsWith('lose_nodes+')), 'the stack names the program\'s functions');
  assert.deepEqual(report.verdict, { clean: false, leakedBuffers: 5, leakedBytes: report.leaks.reduce((n, l) => n + l.bytes, 0), corruptBuffers: 0 });
  assert.ok(report.kmastat.some((k) => k.name.startsWith('umem_alloc_') && k.inuse > 0), 'umastat');
});

test('kmemdb analyze, planted corruption: the overrun\'s redzone, a use after free, the allocator\'s report; exit 1', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const overrun = coreOf('overrun', 134);
  const o = analyze([overrun.wasm, overrun.core]);
  assert.equal(o.status, 1);
  assert.equal(o.report.corruption.length, 1);
  assert.equal(o.report.corruption[0]!.state, 'allocated');
  assert.match(o.report.corruption[0]!.cacheName, /^umem_alloc_\d+$/);
  assert.equal(o.report.verdict.allocatorError, 'umem allocator: redzone violation: write past end of buffer');
  assert.match(o.report.status.errorReport!, /\numem: heap corruption detected\n/);

  const uaf = coreOf('use_after_free', 134);
  const u = analyze([uaf.core]); // the core alone: it carries its names
  assert.equal(u.status, 1);
  assert.equal(u.report.verdict.allocatorError, 'umem allocator: buffer modified after being freed');
  assert.equal(u.report.verdict.corruptBuffers, u.report.corruption.length);

  const df = coreOf('double_free', 134);
  const d = analyze([df.wasm, df.core]);
  assert.equal(d.status, 1, 'a double free leaves no corrupt buffer, but the allocator reported it');
  assert.equal(d.report.verdict.corruptBuffers, 0);
  assert.match(d.report.verdict.allocatorError!, /^free\([0-9a-f]+\): double-free or invalid buffer$/);
  const text = kmemdb(['analyze', df.wasm, df.core], { env });
  assert.match(text.stdout, /^verdict: 0 leaked buffers \(0 bytes\), 0 corrupt buffers, allocator error: free\([0-9a-f]+\): double-free or invalid buffer\n$/m);
});

test('kmemdb analyze, clean programs: exit 0, also with wasi-libc\'s argv blocks live at exit', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  for (const name of ['stack_root', 'wasi']) {
    const c = coreOf(name, 0);
    const { status, report } = analyze([c.dir]); // DIR: its latest core
    assert.equal(status, 0, JSON.stringify(report.leaks));
    assert.deepEqual(report.verdict, { clean: true, leakedBuffers: 0, leakedBytes: 0, corruptBuffers: 0 });
    const text = kmemdb(['analyze', c.wasm, c.core], { env });
    assert.equal(text.status, 0);
    assert.match(text.stdout, /^verdict: clean \(no leaked or corrupt buffers, no allocator error\)\n$/m);
  }
});

test('kmemdb analyze: a core without kmemdb\'s allocator is an error (exit 2, one line)', () => {
  const dir = tmpDir('analyze-foreign');
  const core = path.join(dir, 'other.core');
  writeForeignCore(core, { memory: new Uint8Array(65536 * 2), stackPointer: 66000, frames: [[2, 1]] });
  const r = kmemdb(['analyze', core]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^kmemdb: analyze: .* did not use kmemdb's allocator: other\.core has no heap to check \(build it with kmemdb cc\)\n$/);
  assert.ok(fs.existsSync(core));
});
