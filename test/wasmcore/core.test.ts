/*
 * Program cores: written by writeWasmCore, read back by openWasmCore, and
 * read by mdb (::status, $c, memory display, ::nm, ::whatis), for kmemdb's
 * cores and for a core of another runtime in the standard layout only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeWasmCore, nonZeroRuns } from '../../src/dump/wasm/core-writer.js';
import { openWasmCore, WASM_THREAD_ADDR } from '../../src/target/wasm-core-target.js';
import { parseWasmModule, WASM_TEXT_BASE, wasmPcFromModuleOffset } from '../../src/dump/wasm/module.js';
import { resolveProgramCore } from '../../src/target/wasm-core-args.js';
import { DumpFormatError } from '../../src/dump/dump-format.js';
import { WasmWriter, wasmHeader, SEC_MEMORY, SEC_DATA, OP_I32_CONST, OP_END } from '../../src/dump/wasm/binary.js';
import { runMdb } from '../../src/mdb/index.js';
import { buildTestModule, writeForeignCore, tmpDir, CALL_OFFSETS, DATA_ADDR, STACK_TOP, MEM_PAGES } from './helpers.js';

const MOD = buildTestModule();
const INFO = parseWasmModule(MOD, 'test.wasm');

function testMemory(): Uint8Array {
  const mem = new Uint8Array(MEM_PAGES * 65536);
  mem.set(new TextEncoder().encode('hello, data segment'), DATA_ADDR);
  new DataView(mem.buffer).setUint32(0x9000, 0xdeadbeef, true);
  new DataView(mem.buffer).setUint32(STACK_TOP - 16, 0x12345678, true);
  return mem;
}

function writeTestCore(dir: string, mem = testMemory()) {
  return writeWasmCore(dir, {
    module: MOD,
    programName: 'test.wasm',
    argv: ['test.wasm', '-v', 'input.txt'],
    memory: mem,
    globals: { __stack_pointer: STACK_TOP - 32 },
    frames: [
      { funcIndex: 2, codeOffset: CALL_OFFSETS.crash },
      { funcIndex: 1, codeOffset: CALL_OFFSETS.helper },
      { funcIndex: 0, codeOffset: CALL_OFFSETS.main },
    ],
    reason: { kind: 'trap', message: 'unreachable', exitStatus: 134 },
    symbols: [
      { name: 'umem_cache_alloc', value: 0xff000000, size: 0x40, kind: 'func' },
      { name: 'umem_probe', value: 0x8000, size: 8 },
    ],
    time: 1700000000,
  });
}

test('module parser: names, code addresses, layout exports', () => {
  assert.deepEqual(
    INFO.functions.map((f) => f.name),
    ['main', 'helper', 'crash'],
  );
  assert.equal(INFO.functions[1]!.locals, 2);
  assert.ok(INFO.functions.every((f) => f.addr >= WASM_TEXT_BASE));
  // a module offset maps to the code address of the same byte
  const helper = INFO.functions[1]!;
  assert.equal(wasmPcFromModuleOffset(INFO, INFO.codeOffset + (helper.addr - WASM_TEXT_BASE) + 7), helper.addr + 7);
  assert.equal(wasmPcFromModuleOffset(INFO, helper.bodyOffset + 7), helper.addr + 7);
  assert.deepEqual(INFO.imports, []);
  assert.equal(INFO.data[0]!.name, '.data');
  assert.equal(INFO.data[0]!.addr, DATA_ADDR);
  // the module is real: V8 accepts it and crash() traps
  const inst = new WebAssembly.Instance(new WebAssembly.Module(MOD));
  assert.throws(() => (inst.exports._start as () => void)(), /unreachable/);
});

test('core: round trip of memory, globals, frames and facts; zero runs left out', () => {
  const dir = tmpDir('wcore');
  const mem = testMemory();
  const info = writeTestCore(dir, mem);
  assert.equal(info.index, 0);
  assert.equal(path.basename(info.path), 'core.0');
  assert.equal(info.segments, nonZeroRuns(mem).length);
  assert.ok(info.memoryBytes < mem.length / 4, 'zero blocks are not written');
  const t = openWasmCore(info.path);
  try {
    assert.equal(t.memorySize, mem.length);
    assert.deepEqual(t.read(0, mem.length), mem);
    assert.equal(t.load32(0x9000), 0xdeadbeef);
    assert.equal(t.load32(0x20000 - 4), 0);
    assert.equal(t.stackPointer(), STACK_TOP - 32);
    assert.equal(t.program, 'test.wasm');
    assert.deepEqual(t.info?.argv, ['test.wasm', '-v', 'input.txt']);
    const th = t.threads()[0]!;
    assert.equal(th.addr, WASM_THREAD_ADDR);
    const pcs = t.threadFrames(th)!;
    assert.deepEqual(
      pcs.map((pc) => t.symbolByAddr(pc)?.name),
      ['crash', 'helper', 'main'],
    );
    assert.equal(t.symbolByName('.data')?.value, DATA_ADDR);
    assert.equal(t.symbolByAddr(0xff000010)?.name, 'umem_cache_alloc', 'host functions of audit stacks');
    assert.equal(t.symbolByAddr(0xff000010)?.kind, 'func');
    assert.equal(t.symbolByName('umem_probe')?.value, 0x8000);
    assert.throws(() => t.load32(mem.length), /failed to read memory/);
    assert.equal(t.hasAllocatorTypes, false);
  } finally {
    t.close();
  }
});

test('core numbering: core.N from bounds, never overwriting', () => {
  const dir = tmpDir('wcore-num');
  assert.equal(writeTestCore(dir).index, 0);
  assert.equal(fs.readFileSync(path.join(dir, 'bounds'), 'utf8'), '1\n');
  fs.writeFileSync(path.join(dir, 'core.1'), 'precious');
  const second = writeTestCore(dir);
  assert.equal(second.index, 2);
  assert.equal(fs.readFileSync(path.join(dir, 'core.1'), 'utf8'), 'precious');
  assert.equal(fs.readFileSync(path.join(dir, 'bounds'), 'utf8'), '3\n');
  assert.deepEqual(resolveProgramCore([dir]), { corePath: path.join(dir, 'core.2') });
  assert.deepEqual(resolveProgramCore([dir, '0']), { corePath: path.join(dir, 'core.0') });
});

test('core reader is lazy: a 1 GiB memory opens without reading it', () => {
  const dir = tmpDir('wcore-big');
  const file = path.join(dir, 'core.0');
  // a 1 GiB memory with one 4 KiB non-zero block at 768 MiB, written by hand (the writer would need the 1 GiB buffer)
  const block = new Uint8Array(4096).fill(0xab);
  const w = new WasmWriter();
  w.bytes(wasmHeader());
  w.custom('core', new WasmWriter().u8(0).name('big').result());
  w.section(SEC_MEMORY, new WasmWriter().uleb(1).u8(0).uleb(16384).result());
  w.section(SEC_DATA, new WasmWriter().uleb(1).uleb(0).u8(OP_I32_CONST).sleb(768 << 20).u8(OP_END).uleb(block.length).bytes(block).result());
  fs.writeFileSync(file, w.result());
  const t = openWasmCore(file, { cacheBytes: 1 << 20 });
  try {
    assert.equal(t.memorySize, 1 << 30);
    assert.equal(t.chunkReads, 0);
    assert.equal(t.load32(768 << 20), 0xabababab);
    assert.equal(t.load32((768 << 20) + 4096), 0);
    assert.equal(t.load32(5), 0);
    assert.equal(t.chunkReads, 2);
  } finally {
    t.close();
  }
});

test('mdb on a kmemdb core: ::status, $c, memory, ::nm, ::whatis', () => {
  const dir = tmpDir('wcore-mdb');
  const { path: core } = writeTestCore(dir);
  const t = openWasmCore(core);
  try {
    const r = runMdb(t, '::status\n$c\n0x400=X\n0x9000/X\n::nm -t func\n0x404::whatis\n');
    assert.equal(r.stderr, '');
    const helper = INFO.functions[1]!;
    assert.match(r.stdout, /^debugging core file of test\.wasm \(32-bit\) from localhost\ncore file: core\.0\ninitial argv: test\.wasm -v input\.txt\nthreading model: native threads\nstatus: process terminated by a wasm trap: unreachable \(exit status 134\)\n/);
    assert.match(r.stdout, /\ncrash\+1\(\)\nhelper\+7\(\)\nmain\+1\(\)\n/);
    assert.match(r.stdout, /0x9000:\s+deadbeef/);
    // a program core's symbols have no ELF section: Shndx "?"
    assert.match(r.stdout, new RegExp(`0x0*${helper.addr.toString(16)}\\|0x0*${helper.size.toString(16)}\\|FUNC \\|GLOB \\|0x0  \\|\\? +\\|helper`));
    assert.match(r.stdout, /404 is \.data\+4, in test\.wasm's data segment\n/);
    const w = runMdb(t, `${(helper.addr + 7).toString(16)}::whatis\n`);
    assert.match(w.stdout, /is helper\+7, in test\.wasm's text segment\n/);
  } finally {
    t.close();
  }
});

test('mdb on a core of another runtime: with the module for names; umem dcmds decline', () => {
  const dir = tmpDir('wcore-foreign');
  const core = path.join(dir, 'wasmtime.core');
  const modPath = path.join(dir, 'test.wasm');
  fs.writeFileSync(modPath, MOD);
  writeForeignCore(core, { memory: testMemory(), stackPointer: STACK_TOP - 48, frames: [[2, 1], [1, 7], [0, 1]] });
  assert.deepEqual(resolveProgramCore([modPath, core]), { corePath: core, modulePath: modPath });
  const t = openWasmCore(core, { modulePath: modPath });
  try {
    assert.equal(t.info, undefined);
    assert.equal(t.stackPointer(), STACK_TOP - 48);
    const r = runMdb(t, '::status\n$c\n0x9000/X\n::nm -t objt\n0x410::whatis\n');
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^debugging core file of test\.wasm \(32-bit\)/);
    assert.match(r.stdout, /crash\+1\(\)\nhelper\+7\(\)\nmain\+1\(\)\n/);
    assert.match(r.stdout, /deadbeef/);
    assert.match(r.stdout, /\|OBJT \|GLOB \|0x0  \|\? +\|\.data\n/);
    assert.match(r.stdout, /410 is \.data\+0x10, in test\.wasm's data segment|410 is \.data\+10, in test\.wasm's data segment/);
  } finally {
    t.close();
  }
  // without the module: memory and the stack's function indices only
  const bare = openWasmCore(core);
  try {
    const r = runMdb(bare, '0x9000/X\n');
    assert.match(r.stdout, /deadbeef/);
  } finally {
    bare.close();
  }
  // a module that is not the program's is refused for a kmemdb core
  const ours = writeTestCore(dir);
  const other = path.join(dir, 'other.wasm');
  const changed = Buffer.from(MOD);
  changed[changed.length - 1] ^= 1;
  fs.writeFileSync(other, changed);
  assert.throws(() => openWasmCore(ours.path, { modulePath: other }), (e: unknown) => e instanceof DumpFormatError && /is not the module of core\.0/.test(e.message));
});
