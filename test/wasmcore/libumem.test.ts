/*
 * libumem's dcmds on a program core with real allocator state: a heap made
 * by createUmem (UMEM_DEBUG=default) inside a wasm memory, with a leak, a
 * block reachable only from .bss, one reachable only from the live stack,
 * and a use after free that ends the "program"; the core written by
 * writeWasmCore; mdb's answers checked line by line and as a golden
 * transcript.  And the foreign-core path: the umem dcmds decline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createUmem } from '../../src/umem/umem.js';
import { UmemError } from '../../src/umem/errors.js';
import { writeWasmCore } from '../../src/dump/wasm/core-writer.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import { parseWasmModule } from '../../src/dump/wasm/module.js';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/libumem.js';
import '../../src/mdb/modules/genunix.js';
import { goldenIn } from '../golden.js';
import { buildTestModule, writeForeignCore, tmpDir, CALL_OFFSETS, HEAP_BASE, STACK_TOP } from './helpers.js';

const MOD = buildTestModule();
const INFO = parseWasmModule(MOD, 'test.wasm');
const pc = (fn: 'main' | 'helper' | 'crash') => INFO.functions.find((f) => f.name === fn)!.addr + CALL_OFFSETS[fn];
const golden = goldenIn('wasmcore/golden');

interface Made {
  core: string;
  leaked: number;
  inBss: number;
  onStack: number;
  freed: number;
  freedClean: number;
}

/** The heap of a small buggy program, and its core. */
function makeCore(dir: string): Made {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 256 });
  let stack = [pc('helper'), pc('main')];
  const u = createUmem({ memory, base: HEAP_BASE, env: { UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction' }, seed: 5, captureStack: () => stack });
  const leaked = u.malloc(24);
  const inBss = u.malloc(24);
  const onStack = u.malloc(100);
  const freed = u.malloc(40);
  const freedClean = u.malloc(200);
  stack = [pc('crash'), pc('helper'), pc('main')];
  u.free(freed);
  u.free(freedClean);
  const dv = () => new DataView(memory.buffer);
  dv().setUint32(1100, inBss, true); // a global in .bss
  dv().setUint32(STACK_TOP - 16, onStack, true); // a local in a live frame
  dv().setUint32(STACK_TOP - 64, leaked, true); // below the stack pointer: dead
  dv().setUint32(freed + 4, 0x1234, true); // use after free
  stack = [pc('helper'), pc('main')];
  let report = '';
  try {
    u.malloc(40);
  } catch (e) {
    if (!(e instanceof UmemError)) throw e;
    report = e.report;
  }
  assert.match(report, /umem allocator: buffer modified after being freed/);
  const { path: core } = writeWasmCore(dir, {
    module: MOD,
    programName: 'test.wasm',
    argv: ['test.wasm'],
    memory: new Uint8Array(memory.buffer),
    globals: { __stack_pointer: STACK_TOP - 32 },
    frames: [
      { funcIndex: 1, codeOffset: CALL_OFFSETS.helper },
      { funcIndex: 0, codeOffset: CALL_OFFSETS.main },
    ],
    reason: { kind: 'umem', message: 'buffer modified after being freed', report, exitStatus: 134 },
    types: u.types,
    symbols: u.symbols().map((s) => ({ name: s.name, value: s.value, size: s.size, kind: s.kind })),
  });
  return { core, leaked, inBss, onStack, freed, freedClean };
}

test('libumem on a program core: status, leaks from the program\'s roots, who freed a buffer', () => {
  const m = makeCore(tmpDir('umemcore'));
  const t = openWasmCore(m.core);
  try {
    const run = (cmds: string) => {
      const r = runMdb(t, cmds, [], { shellEscapes: true });
      assert.equal(r.stderr, '', `${cmds}: ${r.stderr}`);
      return r.stdout;
    };
    assert.match(run('::status\n'), /status: process terminated by umem error: buffer modified after being freed \(exit status 134\)/);
    const st = run('::umem_status\n');
    assert.match(st, /^Status:\t\tready and active/);
    assert.match(st, /Message buffer:\numem allocator: buffer modified after being freed\n/);
    // only the unreferenced buffer leaks: .bss and the live stack are roots, the dead stack is not
    const leaks = run('::findleaks\n');
    assert.match(leaks, /^CACHE +LEAKED +BUFCTL CALLER\n[0-9a-f]+ +1 [0-9a-f]+ helper\+7\n-+\n +Total +1 buffer, 32 bytes\n$/);
    assert.equal(run('::walk leakbuf\n').trim(), `0x${(m.leaked - 8).toString(16)}`);
    // who freed it: the freeing function in the buffer's history (a freed buffer, and the one
    // written after its free, which the failed malloc took off the free list)
    const w = run(`${m.freedClean.toString(16)}::whatis\n`);
    assert.match(w, new RegExp(`^${m.freedClean.toString(16)} is [0-9a-f]+\\+8, freed from umem_alloc_224:\n`));
    assert.match(w, / +free\+0x1d\n +crash\+1\n +helper\+7\n +main\+1\n/);
    const uaf = run(`${m.freed.toString(16)}::whatis\n`);
    assert.match(uaf, new RegExp(`^${m.freed.toString(16)} is [0-9a-f]+\\+8, allocated from umem_alloc_48:\n`));
    assert.match(uaf, / +free\+0x1d\n +crash\+1\n/);
    assert.match(run('::umem_cache ! grep umem_alloc_48\n'), /umem_alloc_48 +020f 200000 +48/);
    assert.match(run('::umem_verify ! grep umem_alloc_48\n'), /umem_alloc_48 +[0-9a-f]+ 1 corrupt buffer/);
    // MAXMAL: the buffer less the tag; OVERHEAD: tags, round-off, buftags and the hashed slabs' share
    assert.match(run('::umem_malloc_info ! grep "  32 "\n'), / 32 +24 +2 +24 +48 +249 518\.7%/);
    assert.match(run('::walk umem_cache ! wc -l\n'), /\d+/);
    assert.ok(run('::walk umem_alloc_32\n').includes(`0x${(m.leaked - 8).toString(16)}`), 'a walker per cache');
    // the kernel's names are genunix's, not loaded for a process
    assert.match(runMdb(t, '::kmastat\n').stderr, /unknown dcmd/);
    golden(
      'umem-core',
      run('::status\n$c\n::umem_status\n::findleaks -d\n::umalog ! head -12\n') + run(`${m.freed.toString(16)}::whatis\n`) + run('::umastat ! head -8\n::umem_malloc_dist -g -b 0t8\n'),
    );
  } finally {
    t.close();
  }
});

test('libumem on a core of another runtime: every umem dcmd says the program did not use the allocator', () => {
  const dir = tmpDir('umemforeign');
  const core = path.join(dir, 'other.core');
  const modPath = path.join(dir, 'test.wasm');
  fs.writeFileSync(modPath, MOD);
  writeForeignCore(core, { memory: new Uint8Array(65536 * 2), stackPointer: STACK_TOP - 32, frames: [[2, 1]] });
  const t = openWasmCore(core, { modulePath: modPath });
  try {
    for (const cmd of ['::umem_status', '::umastat', '::findleaks', '::umem_cache', '::umem_verify', '::walk umem_cache', '::umem_malloc_info']) {
      const r = runMdb(t, `${cmd}\n`);
      // a walk adds illumos' "failed to perform walk: failed to initialize walk"
      const walkLine = cmd.startsWith('::walk') ? 'mdb: failed to perform walk: failed to initialize walk\n' : '';
      assert.ok(r.stderr.endsWith(walkLine), cmd);
      const reason = r.stderr.slice(0, r.stderr.length - walkLine.length);
      assert.match(reason, /test\.wasm did not use kmemdb's allocator: other\.core has no umem state \(build it with kmemdb cc\)\n$/, cmd);
      assert.equal(reason.split('\n').length, 2, `one line for ${cmd}`);
    }
    assert.match(runMdb(t, '$c\n').stdout, /^crash\+1\(\)\n$/);
  } finally {
    t.close();
  }
});
