/*
 * `kmemdb cc`: the modules it builds import their heap from kmemdb (no
 * dlmalloc), export where the heap, data and stack are, keep function names
 * and drop wasi-libc's DWARF; compile-only and link-only runs (a Makefile)
 * work; the @yowasp/clang fallback builds the same program; mistakes are
 * one-line errors.
 *
 * The built programs run here under plain node:wasi with a bump allocator
 * written below: it checks the compiler's output is an ordinary WASI
 * program, independently of the runner and of kmem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WASI } from 'node:wasi';
import { BIN, build, C_DIR, customSectionNames, haveNativeClang, kmemdb, nameSectionText, noToolchain, tmpDir } from './helpers.js';

/** Run a module under node:wasi, its kmemdb imports served by a bump allocator; returns exit status and stdout. */
async function runPlain(wasmPath: string, args: string[]): Promise<{ status: number; stdout: string }> {
  const dir = tmpDir('plain');
  const outPath = path.join(dir, 'stdout');
  const fd = fs.openSync(outPath, 'w');
  const wasi = new WASI({ version: 'preview1', args: ['prog', ...args], env: {}, stdout: fd, returnOnExit: true });
  const heap = { memory: undefined as WebAssembly.Memory | undefined, top: 0 };
  const mem = (): WebAssembly.Memory => heap.memory!;
  const bump = (align: number, size: number): number => {
    const p = (heap.top + align - 1) & -align;
    heap.top = p + size;
    while (heap.top > mem().buffer.byteLength) mem().grow(1);
    return p;
  };
  const kmemdbImports = {
    malloc: (n: number) => bump(8, n),
    calloc: (n: number, s: number) => bump(8, n * s),
    realloc: (p: number, n: number) => {
      const q = bump(8, n);
      if (p) new Uint8Array(mem().buffer).copyWithin(q, p, p + n);
      return q;
    },
    free: () => {},
    aligned_alloc: (a: number, n: number) => bump(a, n),
    posix_memalign: (res: number, a: number, n: number) => {
      new DataView(mem().buffer).setUint32(res, bump(a, n), true);
      return 0;
    },
    malloc_usable_size: () => 1,
    dump: () => -1,
  };
  const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport, kmemdb: kmemdbImports });
  heap.memory = instance.exports.memory as WebAssembly.Memory;
  heap.top = (instance.exports.__heap_base as WebAssembly.Global).value as number;
  const status = wasi.start(instance);
  fs.closeSync(fd);
  return { status, stdout: fs.readFileSync(outPath, 'utf8') };
}

const TWOFILE = path.join(C_DIR, 'twofile');
const TWOFILE_SOURCES = ['main.c', 'util.c'].map((f) => path.join(TWOFILE, f));

function checkModule(wasmPath: string): void {
  const wasm = fs.readFileSync(wasmPath);
  const m = new WebAssembly.Module(wasm);
  const imports = WebAssembly.Module.imports(m);
  const heap = imports.filter((i) => i.module === 'kmemdb').map((i) => i.name);
  assert.ok(heap.includes('malloc') && heap.includes('free') && heap.includes('calloc') && heap.includes('realloc'), `kmemdb imports: ${heap.join(' ')}`);
  assert.deepEqual(imports.filter((i) => i.module !== 'kmemdb' && i.module !== 'wasi_snapshot_preview1'), []);
  const exports = WebAssembly.Module.exports(m).map((e) => `${e.kind}:${e.name}`);
  for (const e of ['global:__heap_base', 'global:__data_end', 'global:__stack_pointer', 'memory:memory', 'function:_start']) assert.ok(exports.includes(e), `exports ${e}`);
  const names = nameSectionText(wasm);
  assert.match(names, /join_words/);
  assert.match(names, /posix_memalign/, 'the shim is linked');
  assert.doesNotMatch(names, /dlmalloc|dlfree/, 'wasi-libc dlmalloc is not linked');
}

test('kmemdb cc -O2 builds a program that imports its heap from kmemdb and keeps function names', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('cc');
  const out = path.join(dir, 'prog.wasm');
  build(['-O2', '-o', out, ...TWOFILE_SOURCES]);
  checkModule(out);
  assert.deepEqual(customSectionNames(fs.readFileSync(out)).filter((n) => n.startsWith('.debug')), [], 'no DWARF without -g');
  const r = await runPlain(out, ['a', 'bc', 'def']);
  assert.equal(r.stdout, 'joined: a bc def\nusable >= len: 1\n');
  assert.equal(r.status, 7);
});

test('kmemdb cc -g keeps DWARF', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('cc-g');
  const out = path.join(dir, 'prog.wasm');
  build(['-g', '-O1', '-o', out, ...TWOFILE_SOURCES]);
  assert.ok(customSectionNames(fs.readFileSync(out)).includes('.debug_info'));
});

test('the link step gets no -O flag, so clang never runs wasm-opt (which would drop the name section)', async (t) => {
  if (!haveNativeClang()) return t.skip('the native clang-16 is not installed');
  const dir = tmpDir('cc-wasmopt');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const marker = path.join(dir, 'wasm-opt-ran');
  fs.writeFileSync(path.join(bin, 'wasm-opt'), `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
  const out = path.join(dir, 'prog.wasm');
  build(['-O2', '-o', out, ...TWOFILE_SOURCES], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KMEMDB_CC: 'native' } });
  assert.equal(fs.existsSync(marker), false);
  checkModule(out);
});

test('CC="kmemdb cc" make: compile and link as two steps', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  if (spawnSync('make', ['--version']).status !== 0) return t.skip('make is not installed');
  const dir = tmpDir('cc-make');
  for (const f of ['Makefile', 'main.c', 'util.c', 'util.h']) fs.copyFileSync(path.join(TWOFILE, f), path.join(dir, f));
  const r = spawnSync('make', [`CC=${process.execPath} ${BIN} cc`], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'main.o')) && fs.existsSync(path.join(dir, 'util.o')));
  checkModule(path.join(dir, 'prog.wasm'));
  const run = await runPlain(path.join(dir, 'prog.wasm'), ['x']);
  assert.equal(run.stdout, 'joined: x\nusable >= len: 1\n');
});

test('KMEMDB_CC=yowasp: the npm toolchain builds the same program', async () => {
  const dir = tmpDir('cc-yowasp');
  const out = path.join(dir, 'prog.wasm');
  build(['-O2', '-o', out, ...TWOFILE_SOURCES], { env: { ...process.env, KMEMDB_CC: 'yowasp' } });
  checkModule(out);
  const r = await runPlain(out, ['via', 'npm']);
  assert.equal(r.stdout, 'joined: via npm\nusable >= len: 1\n');
});

test('kmemdb cc errors are one line', () => {
  const dir = tmpDir('cc-err');
  const none = kmemdb(['cc', '-O2']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^kmemdb cc: no input files\nusage: kmemdb cc/);
  const missing = kmemdb(['cc', '-o', path.join(dir, 'x.wasm'), path.join(dir, 'nothere.c')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, `kmemdb cc: ${path.join(dir, 'nothere.c')}: No such file or directory\n`);
  const src = path.join(TWOFILE, 'util.c');
  const noClang = kmemdb(['cc', '-c', '-o', path.join(dir, 'u.o'), src], { env: { ...process.env, PATH: dir, KMEMDB_CC: 'native' } });
  assert.equal(noClang.status, 1);
  assert.equal(noClang.stderr, 'kmemdb cc: KMEMDB_CC=native: clang-16 is not installed: install the Debian packages clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32\n');
  const bad = kmemdb(['cc', '-c', src], { env: { ...process.env, KMEMDB_CC: 'gcc' } });
  assert.equal(bad.stderr, 'kmemdb cc: KMEMDB_CC must be native or yowasp, not "gcc"\n');
});

test('a compile error exits with clang\'s status after its diagnostics', async (t) => {
  const skip = await noToolchain();
  if (skip) return t.skip(skip);
  const dir = tmpDir('cc-diag');
  const src = path.join(dir, 'bad.c');
  fs.writeFileSync(src, 'int main(void) { return undeclared; }\n');
  const r = kmemdb(['cc', '-o', path.join(dir, 'bad.wasm'), src]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.c:1:\d+: error: use of undeclared identifier 'undeclared'/);
  assert.equal(fs.existsSync(path.join(dir, 'bad.wasm')), false);
});
