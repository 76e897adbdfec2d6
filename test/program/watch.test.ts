/*
 * `kmemdb run --watch-freed`: the rewritten module stops a program at its
 * first write into a freed buffer, and the core names writer, freer and
 * allocator.  Real programs built with `kmemdb cc`: the demo's visits.c
 * (its planted use-after-free, written in count_visit), and
 * test/program/c/watch_writes.c (live words holding 0xdeadbeef, a
 * one-byte store, memset, memory.fill under -mbulk-memory).  The mdb
 * transcript of the watched core is a golden file under Debian's clang-16
 * (addresses and offsets depend on the compiler).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { goldenIn, transcript } from '../golden.js';
import { toolchain } from '../../src/program/toolchain.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import { parseWasmModule } from '../../src/dump/wasm/module.js';
import { instrumentModule, watchedModule } from '../../src/program/watch-freed.js';
import { WASM_DEMO_SOURCE } from '../../src/demo/wasm-demo.js';
import '../../src/mdb/modules/libumem.js';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';

const golden = goldenIn('program/golden-mdb');
/** No UMEM_* of the caller's: --watch-freed adds what it needs. */
const env = { ...process.env, HOME: '/home/tester', UMEM_DEBUG: '', UMEM_LOGGING: '', UMEM_OPTIONS: '' };

function buildIn(dir: string, name: string, source: string, flags: readonly string[] = []): string {
  const wasm = path.join(dir, `${name}.wasm`);
  build(['-O2', ...flags, '-o', wasm, source]);
  return wasm;
}

function watched(dir: string, wasm: string, args: readonly string[] = []) {
  return kmemdb(['run', '--seed', '1', '--dir', dir, '--watch-freed', wasm, ...args], { env });
}

test('the demo program stops at count_visit\'s write, and one mdb command names writer, freer and allocator', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-visits');
  const wasm = buildIn(dir, 'visits', WASM_DEMO_SOURCE);
  const r = watched(dir, wasm);
  assert.equal(r.status, 134, r.stderr);
  assert.match(r.stderr, /^kmemdb: write to a freed buffer\ni32\.store of 4 bytes at [0-9a-f]+ \(0xdeadbeef replaced by 0xdeadbef0\): offset 0x20 of the buffer\n/);
  assert.match(r.stderr, /\nwritten by:\ncount_visit\+0x[0-9a-f]+\n/);
  assert.match(r.stderr, /\nfree\+0x1d\nleave_page\+0x[0-9a-f]+\n/);
  assert.match(r.stderr, /\nmalloc\+0x27\nnew_record\+0x[0-9a-f]+\n/);
  const core = path.join(dir, 'core.0');
  assert.ok(fs.existsSync(core), r.stderr);
  const c = openWasmCore(core, { modulePath: wasm }); // the user's module: the core speaks of its pcs
  try {
    const status = transcript(c, ['::status']);
    assert.match(status, /status: process stopped at a write to a freed buffer \(kmemdb run --watch-freed\): i32\.store at [0-9a-f]+, offset 0x20 of freed buffer [0-9a-f]+ \(umem_alloc_40\), by count_visit\+0x[0-9a-f]+; freed by leave_page\+0x[0-9a-f]+; allocated by new_record\+0x[0-9a-f]+ \(exit status 134\)\n/);
    const text = status + transcript(c, ['$c', '::umem_status']);
    assert.match(text, /> \$c\ncount_visit\+0x[0-9a-f]+\(\)\n__original_main\+/);
    if ((await toolchain()).kind === 'native') golden('watch_visits', text);
  } finally {
    c.close();
  }
});

test('a live word holding 0xdeadbeef, overwritten by every store width, memset and memcpy, does not stop the program', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-live');
  const wasm = buildIn(dir, 'watch_writes', path.join(C_DIR, 'watch_writes.c'));
  const r = watched(dir, wasm, ['live']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('core.')), []);
});

test('a one-byte store and a memset into a freed buffer stop at the writer', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-narrow');
  const wasm = buildIn(dir, 'watch_writes', path.join(C_DIR, 'watch_writes.c'));
  const byte = watched(dir, wasm, ['byte']);
  assert.equal(byte.status, 134, byte.stderr);
  assert.match(byte.stderr, /^kmemdb: write to a freed buffer\ni32\.store8 of 1 byte at [0-9a-f]+ \(0xef replaced by 0x1\): offset 0x28 of the buffer\n/);
  assert.match(byte.stderr, /\nwritten by:\nset_flag\+0x[0-9a-f]+\nmain\+/);
  assert.match(byte.stderr, /\nfree\+0x1d\ndrop_entry\+0x[0-9a-f]+\n/);
  assert.match(byte.stderr, /\ncalloc\+0x[0-9a-f]+\nmake_entry\+0x[0-9a-f]+\n/);
  const set = watched(dir, wasm, ['memset']);
  assert.equal(set.status, 134, set.stderr);
  assert.match(set.stderr, /\nwritten by:\nmemset\+0x[0-9a-f]+\nclear_entry\+0x[0-9a-f]+\nmain\+/);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('core.')).sort(), ['core.0', 'core.1']);
});

test('memory.fill (clang -mbulk-memory) into a freed buffer is watched too', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-bulk');
  const wasm = buildIn(dir, 'watch_writes', path.join(C_DIR, 'watch_writes.c'), ['-mbulk-memory']);
  const r = watched(dir, wasm, ['memset']);
  assert.equal(r.status, 134, r.stderr);
  assert.match(r.stderr, /^kmemdb: write to a freed buffer\nmemory\.fill of 36 bytes at [0-9a-f]+ \(fill byte 0x0\): offset 0x8 of the buffer\n/);
  assert.match(r.stderr, /\nwritten by:\nclear_entry\+0x[0-9a-f]+\nmain\+/);
  assert.equal(watched(dir, wasm, ['live']).status, 0);
});

test('the rewrite: a valid module, pcs mapped back to the original, helpers mapped to none, cached by hash', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-rewrite');
  const wasm = buildIn(dir, 'watch_writes', path.join(C_DIR, 'watch_writes.c'));
  const bytes = new Uint8Array(fs.readFileSync(wasm));
  const w = instrumentModule(bytes, wasm);
  assert.ok(WebAssembly.validate(w.bytes));
  assert.ok(w.writes > 10);
  const orig = parseWasmModule(bytes, wasm);
  const copy = parseWasmModule(w.bytes, 'copy');
  assert.equal(copy.functions.length > orig.functions.length, true);
  for (const f of orig.functions) {
    const g = copy.functions[f.index - orig.importedFunctions.length]!;
    assert.equal(g.name, f.name); // renumbered names
    assert.equal(w.map.pcAt(g.bodyOffset), f.addr);
  }
  for (const g of copy.functions.slice(orig.functions.length)) {
    assert.match(g.name, /^kmemdb_watch_/);
    assert.equal(w.map.pcAt(g.bodyOffset + 2), undefined);
  }
  process.env.KMEMDB_CACHE = path.join(dir, 'cache');
  try {
    const first = watchedModule(bytes, wasm);
    const again = watchedModule(bytes, wasm);
    assert.deepEqual(again.bytes, first.bytes);
    assert.equal(fs.readdirSync(path.join(dir, 'cache', 'watch-freed')).length, 2);
  } finally {
    delete process.env.KMEMDB_CACHE;
  }
});

test('a module the rewriter cannot decode (SIMD) is refused in one line', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-simd');
  const src = path.join(dir, 'simd.c');
  fs.writeFileSync(
    src,
    '#include <wasm_simd128.h>\n#include <stdlib.h>\n' +
      '__attribute__((noinline)) void twice(void *d, const void *s) {\n  wasm_v128_store(d, wasm_i32x4_add(wasm_v128_load(s), wasm_v128_load(s)));\n}\n' +
      'int main(int argc, char **argv) {\n  int *p = malloc(8 * sizeof *p);\n  for (int i = 0; i < 8; i++) p[i] = argc;\n  twice(p + 4, p);\n  return p[4];\n}\n',
  );
  const wasm = buildIn(dir, 'simd', src, ['-msimd128']);
  const r = watched(dir, wasm);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^kmemdb run: .*simd\.wasm: --watch-freed cannot watch this module: it uses a SIMD \(v128\) instruction \(at 0x[0-9a-f]+ in the module\)\n$/);
});

test('a store out of bounds traps in the helper, and the stack is the one the plain run prints', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('watch-trap');
  const src = path.join(dir, 'wild.c');
  fs.writeFileSync(src, '#include <stdlib.h>\n__attribute__((noinline)) void poke(volatile int *p, int i) { p[i] = 5; }\nint main(void) { int *p = malloc(4); poke(p, 1 << 28); free(p); return 0; }\n');
  const wasm = buildIn(dir, 'wild', src);
  const plain = kmemdb(['run', '--seed', '1', wasm], { env });
  const w = kmemdb(['run', '--seed', '1', '--watch-freed', wasm], { env });
  assert.equal(w.status, 134);
  assert.match(w.stderr, /^wild\.wasm: wasm trap: memory access out of bounds\n {4}poke\+0x[0-9a-f]+\n {4}__original_main\+/);
  assert.equal(w.stderr, plain.stderr);
});
