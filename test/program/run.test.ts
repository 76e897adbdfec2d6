/*
 * `kmemdb run`: what a program does through WASI works as under plain
 * node:wasi (arguments, environment, standard streams, preopened
 * directories, exit status); traps and abort() print the wasm stack with
 * the program's function names and leave a core; a seed makes a run
 * repeatable; bad input gets one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';

/** Build test/program/c/NAME.c once per test file. */
const built = new Map<string, string>();
function program(name: string): string {
  let wasm = built.get(name);
  if (!wasm) {
    wasm = path.join(tmpDir(`run-${name}`), `${name}.wasm`);
    build(['-O2', '-o', wasm, path.join(C_DIR, `${name}.c`)]);
    built.set(name, wasm);
  }
  return wasm;
}

const env = { ...process.env, HOME: '/home/tester', UMEM_DEBUG: '', UMEM_LOGGING: '', UMEM_OPTIONS: '' };

test('argv, environment, stdin, stdout, stderr, a preopened directory and the exit status', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = program('wasi');
  const data = tmpDir('run-data');
  fs.writeFileSync(path.join(data, 'in.txt'), 'hello from the host\n');
  const r = kmemdb(['run', '--mapdir', `/data::${data}`, '--env', 'GREETING=hi there', '--seed', '7', wasm, '--', '3', 'two words'], { env, input: 'a line on stdin\n' });
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, 'to stderr\n');
  const lines = r.stdout.split('\n');
  assert.deepEqual(lines.slice(0, 8), ['argv[0]=wasi.wasm', 'argv[1]=3', 'argv[2]=two words', 'HOME=/home/tester', 'GREETING=hi there', 'stdin: a line on stdin', 'in.txt: hello from the host', lines[7]]);
  assert.equal(fs.readFileSync(path.join(data, 'out.txt'), 'utf8'), 'written by wasi.wasm\n');
  const noArgs = kmemdb(['run', wasm], { env });
  assert.equal(noArgs.status, 0);
  assert.match(noArgs.stdout, /^argv\[0\]=wasi\.wasm\nHOME=\/home\/tester\nGREETING=\(unset\)\n/);
});

test('a seed makes clocks and randomness repeatable; without one they are real', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = program('wasi');
  const timeLine = (args: string[]) => kmemdb(['run', ...args, wasm], { env }).stdout.split('\n').find((l) => l.startsWith('time='))!;
  const a = timeLine(['--seed', '42']);
  assert.equal(a, timeLine(['--seed', '42']));
  assert.notEqual(a, timeLine(['--seed', '43']));
  assert.match(a, /^time=1700000000\.\d{9} mono=0\.\d{9} random=[0-9a-f]{16}$/);
  const real = timeLine([]);
  const seconds = Number(/^time=(\d+)/.exec(real)![1]);
  assert.ok(Math.abs(seconds - Date.now() / 1000) < 600, real);
});

test('a trap prints the wasm stack as function+0xoff, exits 134 and leaves a core', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = program('trap');
  const dir = tmpDir('run-cores');
  const r = kmemdb(['run', '--dir', dir, wasm, 'oob'], { env });
  assert.equal(r.status, 134);
  assert.equal(r.stdout, 'trap: oob\n');
  const lines = r.stderr.split('\n');
  assert.equal(lines[0], 'trap.wasm: wasm trap: memory access out of bounds');
  assert.match(lines[1]!, /^ {4}read_wild\+0x[0-9a-f]+$/);
  assert.match(lines[2]!, /^ {4}parse_record\+0x[0-9a-f]+$/);
  assert.match(lines[3]!, /^ {4}main\+0x[0-9a-f]+$/);
  assert.equal(lines.at(-2), `kmemdb run: core dumped: ${path.join(dir, 'core.0')}`);
  const core = fs.readFileSync(path.join(dir, 'core.0'));
  assert.deepEqual([...core.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  const sections = WebAssembly.Module.customSections(new WebAssembly.Module(new Uint8Array(core)), 'corestack');
  assert.equal(sections.length, 1);
});

test('abort(), unreachable and stack exhaustion end as abort() would', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = program('trap');
  const abort = kmemdb(['run', wasm, 'abort'], { env });
  assert.equal(abort.status, 134);
  assert.match(abort.stderr, /^trap\.wasm: abort\(\)\n {4}abort(\+0x[0-9a-f]+)?\n {4}main\+0x[0-9a-f]+\n/);
  const unreachable = kmemdb(['run', wasm, 'unreachable'], { env });
  assert.equal(unreachable.status, 134);
  assert.match(unreachable.stderr, /^trap\.wasm: wasm trap: unreachable\n {4}main\+0x[0-9a-f]+\n/);
  const deep = kmemdb(['run', wasm, 'recurse'], { env });
  assert.equal(deep.status, 134);
  assert.match(deep.stderr, /^trap\.wasm: wasm trap: call stack exhausted\n {4}recurse(\+0x[0-9a-f]+)?\n {4}recurse\+0x/);
});

test('kmemdb_dump() writes a numbered core and the program goes on; never overwriting', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = program('trap');
  const dir = tmpDir('run-dump');
  const first = kmemdb(['run', '--dir', dir, wasm, 'dump'], { env });
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, 'trap: dump\nkmemdb_dump() = 0\n');
  const second = kmemdb(['run', '--dir', dir, '--core-at-exit', wasm, 'dump'], { env });
  assert.equal(second.stdout, 'trap: dump\nkmemdb_dump() = 1\n');
  assert.equal(second.stderr, `kmemdb run: core dumped: ${path.join(dir, 'core.2')}\n`);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['bounds', 'core.0', 'core.1', 'core.2']);
  const none = kmemdb(['run', wasm, 'dump'], { env });
  assert.equal(none.stdout, 'trap: dump\nkmemdb_dump() = -1\n');
});

test('bad input: one line each', async (t) => {
  const dir = tmpDir('run-bad');
  const notWasm = path.join(dir, 'prog.wasm');
  fs.writeFileSync(notWasm, '#!/bin/sh\necho hi\n');
  assert.deepEqual(pick(kmemdb(['run', notWasm], { env })), [1, `kmemdb run: ${notWasm}: not a WebAssembly module\n`]);
  const truncated = path.join(dir, 'truncated.wasm');
  fs.writeFileSync(truncated, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 0x7f]));
  const tr = kmemdb(['run', truncated], { env });
  assert.equal(tr.status, 1);
  assert.match(tr.stderr, /^kmemdb run: .*truncated\.wasm: invalid WebAssembly module: .*\n$/);
  assert.deepEqual(pick(kmemdb(['run', path.join(dir, 'nothere.wasm')], { env })), [1, `kmemdb run: ${path.join(dir, 'nothere.wasm')}: No such file or directory\n`]);
  const usage = kmemdb(['run', '--mapdir', 'nocolons', notWasm], { env });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^kmemdb run: --mapdir wants GUEST::HOST, not "nocolons"\nusage: kmemdb run/);
  assert.match(kmemdb(['run', '--core-at-exit', notWasm], { env }).stderr, /^kmemdb run: --core-at-exit needs --dir DIR/);
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const plain = path.join(dir, 'plain.wasm');
  build(['--libc-malloc', '-o', plain, path.join(C_DIR, 'wasi.c')]);
  assert.deepEqual(pick(kmemdb(['run', plain], { env })), [1, `kmemdb run: ${plain} imports no malloc from kmemdb: build it with kmemdb cc (docs/program.md)\n`]);
});

function pick(r: { status: number | null; stderr: string }): [number | null, string] {
  return [r.status, r.stderr];
}

test("unknown UMEM_DEBUG items are reported in libumem's words and the program runs", async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const r = kmemdb(['run', program('wasi')], { env: { ...env, UMEM_DEBUG: 'bogus,audit=x' } });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, "UMEM_DEBUG: 'bogus' not recognized\nUMEM_DEBUG: audit: not a number\nto stderr\n");
  const opt = kmemdb(['run', '--umem-debug=nonsense', program('wasi')], { env });
  assert.equal(opt.stderr, "UMEM_DEBUG: 'nonsense' not recognized\nto stderr\n");
});
