/*
 * Planted bugs (test/program/c): each error class is detected under
 * UMEM_DEBUG=default and reported in libumem's words with the program's own
 * functions; leaks are grouped by allocation stack, and blocks reachable
 * from the data or from the live C stack are not leaks.
 *
 * With Debian's clang-16 the whole output is compared with a golden file
 * (test/program/golden): addresses and code offsets depend on the
 * compiler, so under another toolchain only the assertions on the report's
 * lines and functions apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { goldenIn } from '../golden.js';
import { toolchain } from '../../src/program/toolchain.js';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';

const golden = goldenIn('program/golden');
const env = { ...process.env, HOME: '/home/tester', UMEM_DEBUG: 'default', UMEM_LOGGING: '', UMEM_OPTIONS: '' };

/** Build and run a planted bug; returns the exit status and stderr+stdout as one text. */
async function runBug(name: string, args: string[] = []): Promise<{ status: number | null; text: string }> {
  const wasm = path.join(tmpDir(`bug-${name}`), `${name}.wasm`);
  build(['-O2', '-o', wasm, path.join(C_DIR, `${name}.c`)]);
  const r = kmemdb(['run', '--seed', '1', ...args, wasm], { env });
  return { status: r.status, text: `${r.stdout}${r.stderr}` };
}

async function check(t: { skip(m: string): void }, name: string, status: number, args: string[] = []): Promise<string | undefined> {
  const skip = await noToolchain();
  if (skip) {
    t.skip(skip);
    return undefined;
  }
  const r = await runBug(name, args);
  assert.equal(r.status, status, r.text);
  if ((await toolchain()).kind === 'native') golden(name, r.text);
  return r.text;
}

test('use after free: buffer modified after being freed, with the freeing and the reallocating stacks', async (t) => {
  const text = await check(t, 'use_after_free', 134);
  if (text === undefined) return;
  assert.match(text, /^umem allocator: buffer modified after being freed\n/);
  assert.match(text, /\nfree\+0x[0-9a-f]+\ndrop_record\+0x[0-9a-f]+\n/);
  assert.match(text, /\nmalloc\+0x[0-9a-f]+\nnew_record\+0x[0-9a-f]+\n/);
});

test('overrun by one: redzone violation found at free, naming the allocating function', async (t) => {
  const text = await check(t, 'overrun', 134);
  if (text === undefined) return;
  assert.match(text, /^umem allocator: redzone violation: write past end of buffer\n/);
  assert.match(text, /\nmalloc\+0x[0-9a-f]+\ncopy_name\+0x[0-9a-f]+\n/);
});

test('duplicate free: the second free, from another function', async (t) => {
  const text = await check(t, 'double_free', 134);
  if (text === undefined) return;
  assert.match(text, /^free\([0-9a-f]+\): double-free or invalid buffer\n/);
  assert.match(text, /\nfree\+0x[0-9a-f]+\ncleanup\+0x[0-9a-f]+\n/);
});

test('free of an interior pointer', async (t) => {
  const text = await check(t, 'interior_free', 134);
  if (text === undefined) return;
  assert.match(text, /^free\([0-9a-f]+\): invalid or corrupted buffer\n/);
  assert.match(text, /\nfree_field\+0x[0-9a-f]+\n/);
});

test('a stale pointer written after realloc moved the block', async (t) => {
  const text = await check(t, 'realloc_stale', 134);
  if (text === undefined) return;
  assert.match(text, /^umem allocator: buffer modified after being freed\n/);
  assert.match(text, /\nrealloc\+0x[0-9a-f]+\ngrow\+0x[0-9a-f]+\n/);
});

test('leaks grouped by two stacks; reachable blocks are not leaks; the exit status says so', async (t) => {
  const text = await check(t, 'leaks', 1, ['--findleaks']);
  if (text === undefined) return;
  const table = text.split('\n').slice(0, 5).join('\n');
  assert.match(table, /^CACHE +LEAKED +BUFCTL CALLER\n[0-9a-f]+ +2 [0-9a-f]+ make_label\+0x[0-9a-f]+\n[0-9a-f]+ +3 [0-9a-f]+ make_node\+[0-9a-fx]+\n-+\n +Total +5 buffers, 120 bytes$/);
  assert.match(text, /\n +make_label\+0x[0-9a-f]+\n +lose_labels\+0x[0-9a-f]+\n/);
  assert.match(text, /\n +make_node\+[0-9a-fx]+\n +lose_nodes\+0x[0-9a-f]+\n/);
  assert.doesNotMatch(text, /keep\+/);
});

test('a block reachable only from a local on the C stack at exit is not a leak; nor are wasi-libc\'s start-up blocks', async (t) => {
  const text = await check(t, 'stack_root', 0, ['--findleaks']);
  if (text === undefined) return;
  assert.equal(text, 'exiting with the block on the stack\nfindleaks: no memory leaks detected\n');
});

test('leaks without auditing: grouped by cache', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const wasm = path.join(tmpDir('bug-leaks-plain'), 'leaks.wasm');
  build(['-O2', '-o', wasm, path.join(C_DIR, 'leaks.c')]);
  const r = kmemdb(['run', '--findleaks', wasm], { env: { ...env, UMEM_DEBUG: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^CACHE +LEAKED +BUFFER CALLER\n[0-9a-f]+ +5 [0-9a-f]+ \?\n-+\n +Total +5 buffers, 120 bytes\n/);
});
