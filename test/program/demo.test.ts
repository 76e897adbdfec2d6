/*
 * `kmemdb demo wasm`: builds visits.c, runs it into a core and walks
 * through the core with mdb to the function that wrote after the free,
 * then runs it again with --watch-freed, which stops at the write.
 * The transcript is a golden file under Debian's clang-16 (code offsets
 * and addresses depend on the compiler); the key lines are checked under
 * any toolchain.  A second run in the same directory writes new files and
 * leaves the first ones as they were; without a toolchain the demo says so
 * in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { goldenIn } from '../golden.js';
import { toolchain } from '../../src/program/toolchain.js';
import { kmemdb, noToolchain, tmpDir } from './helpers.js';

const golden = goldenIn('program/golden-mdb');

test('kmemdb demo wasm: the report, then mdb names who allocated, who freed, who still points at the buffer and who wrote', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const cwd = tmpDir('demo-wasm');
  const r = kmemdb(['demo', 'wasm'], { cwd });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const text = r.stdout;
  if ((await toolchain()).kind === 'native') golden('demo-wasm', text);
  assert.match(text, /\n\$ kmemdb cc -O2 -o crash\/visits\.wasm visits\.c\n/);
  assert.match(text, /\numem allocator: buffer modified after being freed\nmodification occurred at offset 0x20 \(0xdeadbeefdeadbeef replaced by 0xdeadbeefdeadbef0\)\n/);
  assert.match(text, /\nkmemdb run: core dumped: crash\/core\.0\n/);
  assert.match(text, /\n> \$c\nmalloc\+[0-9a-fx]+\(\)\nnew_record\+[0-9a-fx]+\(\)\ncount_visit\+[0-9a-fx]+\(\)\n/);
  assert.match(text, /\numem_alloc_40 +[0-9a-f]+ 1 corrupt buffer\n/);
  const whatis = /\n> ([0-9a-f]+)::whatis\n\1 is allocated from umem_alloc_40:\n[^]*?\n\n/.exec(text);
  assert.ok(whatis, 'no ::whatis of the buffer');
  assert.match(whatis[0], /\n {17}free\+[0-9a-fx]+\n {17}leave_page\+[0-9a-fx]+\n/);
  assert.match(text, /::bufctl -hv\n[^]*\n {17}leave_page\+[0-9a-fx]+\n[^]*\n {17}malloc\+[0-9a-fx]+\n {17}new_record\+[0-9a-fx]+\n/);
  assert.match(text, /::ugrep\n([0-9a-f]+)\n[^]*\n> \1::whatis\n\1 is [0-9a-f]+\+8, allocated from umem_alloc_16:\n[^]*\n {17}new_visitor\+/);
  assert.match(text, /The\s+function\s+that\s+wrote\s+after\s+the\s+free\s+is\s+count_visit;\s+the\s+fix\s+is\s+in\s+leave_page/);
  assert.match(text, /\n {4}\tv->on->hits\+\+;\n/);
  // the last step: the watched run stops at count_visit's store; ::status names the three functions
  assert.match(text, /\n\[4\/4\] Catching the writer in the act: kmemdb run --watch-freed\n[^]*\n\$ kmemdb run --watch-freed --seed 1 --dir \.\/crash crash\/visits\.wasm\nkmemdb: write to a freed buffer\n/);
  assert.match(text, /\nkmemdb run: core dumped: crash\/core\.1\n/);
  assert.match(text, /\nstatus: process stopped at a write to a freed buffer \(kmemdb run --watch-freed\): i32\.store at [0-9a-f]+, offset 0x20 of freed buffer [0-9a-f]+ \(umem_alloc_40\), by count_visit\+0x[0-9a-f]+; freed by leave_page\+0x[0-9a-f]+; allocated by new_record\+0x[0-9a-f]+ \(exit status 134\)\n/);
  assert.match(text, /\n> \$c\ncount_visit\+[0-9a-fx]+\(\)\n/);
  assert.deepEqual(fs.readdirSync(path.join(cwd, 'crash')).sort(), ['bounds', 'core.0', 'core.1', 'visits.wasm']);

  // again: new names, the first files untouched, the same module
  const before = ['core.0', 'core.1', 'visits.wasm'].map((f) => fs.readFileSync(path.join(cwd, 'crash', f)));
  const again = kmemdb(['demo', 'wasm'], { cwd });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /\n\$ kmemdb cc -O2 -o crash\/visits-1\.wasm visits\.c\n[^]*\nkmemdb run: core dumped: crash\/core\.2\n[^]*\nkmemdb run: core dumped: crash\/core\.3\n/);
  assert.deepEqual(['core.0', 'core.1', 'visits.wasm'].map((f) => fs.readFileSync(path.join(cwd, 'crash', f))), before);
  assert.deepEqual(fs.readFileSync(path.join(cwd, 'crash/visits-1.wasm')), before[2]);
});

test('kmemdb demo wasm without a toolchain: the toolchain\'s one-line error, nothing written', () => {
  const cwd = tmpDir('demo-wasm-none');
  const r = kmemdb(['demo', 'wasm'], { cwd, env: { ...process.env, PATH: cwd, KMEMDB_CC: 'native' } });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'kmemdb demo wasm: KMEMDB_CC=native: clang-16 is not installed: install the Debian packages clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32\n');
  assert.deepEqual(fs.readdirSync(cwd), []);
});

test('kmemdb demo takes no argument but wasm', () => {
  const r = kmemdb(['demo', 'wasm32']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^kmemdb: demo takes no arguments but "wasm" \(got wasm32\)\n/);
});

test('kmemdb demo wasm where ./crash is a file: one line, nothing printed before it', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const cwd = tmpDir('demo-wasm-file');
  fs.writeFileSync(path.join(cwd, 'crash'), 'not a directory\n');
  const r = kmemdb(['demo', 'wasm'], { cwd });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'kmemdb: savecore: ./crash exists and is not a directory\n');
  assert.equal(fs.readFileSync(path.join(cwd, 'crash'), 'utf8'), 'not a directory\n');
});
