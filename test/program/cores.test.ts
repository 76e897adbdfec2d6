/*
 * mdb on the cores of the planted-bug programs (test/program/c): for each
 * error class the program runs under UMEM_DEBUG=default with
 * UMEM_LOGGING=transaction and a fixed seed, leaves core.0, and one mdb
 * session on it (the library's session over openWasmCore, as `mdb
 * prog.wasm core.0` runs it) answers ::status, $c, ::umem_verify, ::whatis
 * of the damaged or freed buffer (its last transaction names the program's
 * function that freed it) and ::bufctl -h and -hv (the allocation too); the leak
 * program's core, written at exit, answers ::findleaks, ::umem_malloc_info
 * and ::umem_malloc_dist (its mallocs by size); a wasm trap's
 * core answers ::status, $c and ::umem_status.
 *
 * The transcripts are golden files (test/program/golden-mdb) under
 * Debian's clang-16 only: addresses and code offsets depend on the
 * compiler.  Under another toolchain the assertions on function names
 * and counts still apply, and one program is also built with
 * @yowasp/clang to check them on its core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { goldenIn, transcript } from '../golden.js';
import { toolchain } from '../../src/program/toolchain.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import type { Target } from '../../src/target/target.js';
import '../../src/mdb/modules/libumem.js';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';

const golden = goldenIn('program/golden-mdb');

/** Whether @yowasp/clang can be loaded (the in-process toolchain). */
async function yowaspClang(): Promise<boolean> {
  try {
    await import('@yowasp/clang');
    return true;
  } catch {
    return false;
  }
}
const env = { ...process.env, HOME: '/home/tester', UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction', UMEM_OPTIONS: '' };

/** Build a planted bug (with ccEnv's toolchain), run it with its arguments, cores going to a fresh directory; returns the module, core.0 and the run's stderr. */
function runToCore(name: string, runArgs: readonly string[], args: readonly string[] = [], ccEnv: NodeJS.ProcessEnv = process.env): { wasm: string; core: string; stderr: string } {
  const dir = tmpDir(`core-${name}`);
  const wasm = path.join(dir, `${name}.wasm`);
  build(['-O2', '-o', wasm, path.join(C_DIR, `${name}.c`)], { env: ccEnv });
  const r = kmemdb(['run', '--seed', '1', '--dir', dir, ...runArgs, wasm, ...args], { env });
  const core = path.join(dir, 'core.0');
  assert.ok(fs.existsSync(core), `${name}: no core\n${r.stderr}`);
  return { wasm, core, stderr: r.stderr };
}

/** The bufctl address of the audit record ::whatis printed (the first row under its ADDR/BUFADDR header). */
function whatisBufctl(text: string): string {
  const m = /\n +ADDR +BUFADDR +TIMESTAMP +THREAD\n +CACHE +LASTLOG +CONTENTS\n +([0-9a-f]+) /.exec(text);
  assert.ok(m, `::whatis printed no audit record:\n${text}`);
  return m[1]!;
}

/** The address a report names: `buffer=ADDR` in a umem allocator report, ADDR in `free(ADDR): ...`. */
function reportedAddress(report: string): string {
  const m = /\bbuffer=([0-9a-f]+) /.exec(report) ?? /^free\(([0-9a-f]+)\)/m.exec(report);
  assert.ok(m, `no address in the report:\n${report}`);
  return m[1]!;
}

/**
 * Run one heap-error program and its mdb tour: the address the report
 * names, and the transcript (checked against the golden file when built
 * with clang-16; `yowasp` builds it with @yowasp/clang, not checked).
 */
async function heapErrorTranscript(name: string, yowasp = false): Promise<{ addr: string; text: string }> {
  const { wasm, core, stderr } = runToCore(name, [], [], yowasp ? { ...process.env, KMEMDB_CC: 'yowasp' } : process.env);
  const addr = reportedAddress(stderr);
  const t = openWasmCore(core, { modulePath: wasm });
  try {
    const first = transcript(t, ['::status', '$c', '::umem_verify', `${addr}::whatis`]);
    const bufctl = whatisBufctl(first);
    const text = first + transcript(t, [`${bufctl}::bufctl -h`, `${bufctl}::bufctl -hv`]);
    if (!yowasp && (await toolchain()).kind === 'native') golden(name, text);
    return { addr, text };
  } finally {
    t.close();
  }
}

/** The frames of the first audit record from `from` on in a transcript (the stack lines after its CONTENTS row). */
function stackAfter(text: string, from: number): string[] {
  const lines = text.slice(from).split('\n');
  const i = lines.findIndex((l) => /^ +CACHE +LASTLOG +CONTENTS$/.test(l));
  const out: string[] = [];
  for (const l of lines.slice(i + 3)) {
    if (!/^ {17}\S/.test(l)) break;
    out.push(l.trim());
  }
  return out;
}

function whatisOf(text: string, addr: string): { line: string; stack: string[] } {
  const at = text.indexOf(`> ${addr}::whatis\n`);
  assert.ok(at >= 0);
  const line = text.slice(at).split('\n')[1]!;
  return { line, stack: stackAfter(text, at) };
}

test('use after free: ::whatis names the freeing function, ::bufctl -h the allocating one, ::umem_verify the corrupt cache', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { addr, text } = await heapErrorTranscript('use_after_free');
  assert.match(text, /\nstatus: process terminated by umem error: umem allocator: buffer modified after being freed \(exit status 134\)\n/);
  assert.match(text, /\n> \$c\nmalloc\+[0-9a-fx]+\(\)\nnew_record\+[0-9a-fx]+\(\)\n__original_main/);
  assert.match(text, /\numem_alloc_40 +[0-9a-f]+ 1 corrupt buffer\n/);
  const w = whatisOf(text, addr);
  assert.match(w.line, /^[0-9a-f]+ is allocated from umem_alloc_40:$/); // libumem marks it allocated before it checks the pattern
  assert.deepEqual(w.stack.slice(0, 5).map((f) => f.replace(/\+.*/, '')), ['umem_cache_free', 'umem_free', 'process_free', 'free', 'drop_record']);
  // CALLER: the first frame outside libumem's umem_* functions
  assert.match(text, /::bufctl -h\nADDR +BUFADDR +TIMESTAMP +THREAD +CALLER\n[0-9a-f]+ [0-9a-f]+ +[0-9a-f]+ [0-9a-f]+ process_free\+0x[0-9a-f]+\n[0-9a-f]+ [0-9a-f]+ +[0-9a-f]+ [0-9a-f]+ malloc\+0x[0-9a-f]+\n/);
  const history = text.slice(text.indexOf('::bufctl -hv'));
  assert.match(history, /\n {17}free\+[0-9a-fx]+\n {17}drop_record\+[0-9a-fx]+\n[^]*\n {17}malloc\+[0-9a-fx]+\n {17}new_record\+[0-9a-fx]+\n/);
});

test('use after free built with @yowasp/clang: the same names in ::whatis and ::bufctl -hv', async (t) => {
  if (!(await yowaspClang())) return t.skip('the npm package @yowasp/clang is not installed');
  const { addr, text } = await heapErrorTranscript('use_after_free', true);
  assert.deepEqual(whatisOf(text, addr).stack.slice(3, 5).map((f) => f.replace(/\+.*/, '')), ['free', 'drop_record']);
  assert.match(text.slice(text.indexOf('::bufctl -hv')), /\n {17}malloc\+[0-9a-fx]+\n {17}new_record\+[0-9a-fx]+\n/);
});

test('overrun: ::whatis of the buffer with the redzone violation names the allocating function', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { addr, text } = await heapErrorTranscript('overrun');
  assert.match(text, /\nstatus: process terminated by umem error: umem allocator: redzone violation: write past end of buffer \(exit status 134\)\n/);
  assert.match(text, /\numem_alloc_32 +[0-9a-f]+ 1 corrupt buffer\n/);
  const w = whatisOf(text, addr);
  assert.ok(w.stack.some((f) => f.startsWith('copy_name+')), w.stack.join('\n'));
});

test('double free: ::whatis of the pointer names the first free, by release(); the report named cleanup()', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { addr, text } = await heapErrorTranscript('double_free');
  assert.match(text, /\nstatus: process terminated by umem error: free\([0-9a-f]+\): double-free or invalid buffer \(exit status 134\)\n/);
  const w = whatisOf(text, addr);
  assert.match(w.line, /^[0-9a-f]+ is [0-9a-f]+\+8, freed from umem_alloc_\d+:$/);
  assert.deepEqual(w.stack.slice(3, 5).map((f) => f.replace(/\+.*/, '')), ['free', 'release']); // the report's stack is cleanup's second free
});

test('interior free: ::whatis places the pointer inside an allocated buffer', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { addr, text } = await heapErrorTranscript('interior_free');
  assert.match(text, /\nstatus: process terminated by umem error: free\([0-9a-f]+\): invalid or corrupted buffer \(exit status 134\)\n/);
  assert.match(whatisOf(text, addr).line, /^[0-9a-f]+ is [0-9a-f]+\+[0-9a-f]+, allocated from umem_alloc_\d+:$/);
});

test('stale pointer after realloc: ::bufctl -h shows realloc freeing the old block in grow()', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { addr, text } = await heapErrorTranscript('realloc_stale');
  assert.match(text, /\numem_alloc_24 +[0-9a-f]+ 1 corrupt buffer\n/);
  const w = whatisOf(text, addr);
  assert.deepEqual(w.stack.slice(3, 5).map((f) => f.replace(/\+.*/, '')), ['realloc', 'grow']);
});

test('a wasm trap: ::status names it, $c prints the trapping frames, ::umem_status says the heap had no error', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { wasm, core } = runToCore('trap', [], ['oob']);
  const tg = openWasmCore(core, { modulePath: wasm });
  let text: string;
  try {
    text = transcript(tg, ['::status', '$c', '::umem_status']);
  } finally {
    tg.close();
  }
  if ((await toolchain()).kind === 'native') golden('trap', text);
  assert.match(text, /\ninitial argv: trap\.wasm oob\n[^]*\nstatus: process terminated by a wasm trap: memory access out of bounds/);
  assert.match(text, /\n> \$c\nread_wild\+[0-9a-fx]+\(\)\nparse_record\+[0-9a-fx]+\(\)\nmain\+/);
  assert.match(text, /\nStatus:\t\tready and active\n/);
});

/** ::umem_malloc_info of every cache, a geometric ::umem_malloc_dist, and umem_alloc_16's and umem_alloc_24's distributions. */
function mallocTranscript(tg: Target): string {
  const caches = transcript(tg, ['::umem_cache']);
  const addr = (name: string) => new RegExp(`\n([0-9a-f]+) ${name} `).exec(caches)![1]!;
  return transcript(tg, ['::umem_malloc_info', '::umem_malloc_dist -g -b 0t10', `${addr('umem_alloc_16')}::umem_malloc_info -b 4`, `${addr('umem_alloc_24')}::umem_malloc_info -d`]);
}

test('leaks: ::findleaks on the core at exit finds make_label x2 and make_node x3, with their stacks under -dv; ::umem_malloc_info and ::umem_malloc_dist count the mallocs by size', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { wasm, core } = runToCore('leaks', ['--core-at-exit']);
  const tg = openWasmCore(core, { modulePath: wasm });
  let text: string;
  let malloc: string;
  try {
    text = transcript(tg, ['::status', '::findleaks', '::findleaks -dv']);
    malloc = mallocTranscript(tg);
  } finally {
    tg.close();
  }
  if ((await toolchain()).kind === 'native') {
    golden('leaks', text);
    golden('leaks-malloc', malloc);
  }
  // the labels "one" and "two" (malloc(4), 12-byte tags: umem_alloc_16), five nodes (calloc(1, 12)) and two labels "forgotten" (malloc(10)) in umem_alloc_24
  assert.match(malloc, /\n[0-9a-f]{8} +16 +8 +2 +4 +8 +\d+ +\d+\.\d%\n[0-9a-f]{8} +24 +16 +7 +11 +80 +\d+ +\d+\.\d%\n/);
  assert.match(malloc, /\n {8}3-4 \|@{50} 2\n/);
  assert.match(malloc, /\n9\t0\n10\t2\n11\t0\n12\t5\n13\t0\n/);
  assert.match(text, /\nstatus: process exited with status 0: exit\(0\)\n/);
  assert.match(text, /\n> ::findleaks\nCACHE +LEAKED +BUFCTL CALLER\n[0-9a-f]+ +2 [0-9a-f]+ make_label\+[0-9a-fx]+\n[0-9a-f]+ +3 [0-9a-f]+ make_node\+[0-9a-fx]+\n-+\n +Total +5 buffers, 120 bytes\n/);
  assert.match(text, /\numem_alloc_24 leak: 2 buffers, 24 bytes each, 48 bytes total\n[^]*\n {17}make_label\+[0-9a-fx]+\n {17}lose_labels\+/);
  assert.match(text, /\numem_alloc_24 leak: 3 buffers, 24 bytes each, 72 bytes total\n[^]*\n {17}make_node\+[0-9a-fx]+\n {17}lose_nodes\+/);
  assert.doesNotMatch(text, /keep\+/);
});

test('a block reachable only from the live C stack: ::findleaks on the core finds no leak', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const { wasm, core } = runToCore('stack_root', ['--core-at-exit']);
  const tg = openWasmCore(core, { modulePath: wasm });
  try {
    const text = transcript(tg, ['::findleaks']);
    if ((await toolchain()).kind === 'native') golden('stack_root', text);
    assert.equal(text, '> ::findleaks\nfindleaks: no memory leaks detected\n');
  } finally {
    tg.close();
  }
});
