/*
 * An independent reader accepts our cores: wabt's wasm-objdump -h and -x
 * (Debian `wabt`, installed by .ci/run) parse a core kmemdb wrote, with
 * its custom sections, without error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeWasmCore } from '../../src/dump/wasm/core-writer.js';
import { TypeTable } from '../../src/ctf/ctf.js';
import { declare } from '../../src/ctf/cparse.js';
import { ILP32 } from '../../src/machine/memory.js';
import { buildTestModule, tmpDir, MEM_PAGES, STACK_TOP } from './helpers.js';

const objdump = spawnSync('wasm-objdump', ['--version'], { encoding: 'utf8' });
const missing = objdump.error !== undefined ? 'wasm-objdump not installed (apt-get install -y wabt)' : false;

test('wasm-objdump -h and -x read our cores', { skip: missing }, () => {
  const mem = new Uint8Array(MEM_PAGES * 65536);
  mem.fill(7, 0x100, 0x3000);
  mem.fill(9, 0x10000, 0x10010);
  const types = new TypeTable(ILP32);
  declare(types, 'struct umem_probe { int a; char *b; };');
  const { path } = writeWasmCore(tmpDir('objdump'), {
    module: buildTestModule(),
    programName: 'probe.wasm',
    argv: ['probe.wasm'],
    memory: mem,
    globals: { __stack_pointer: STACK_TOP - 64 },
    frames: [{ funcIndex: 2, codeOffset: 1 }],
    reason: { kind: 'umem', message: 'buffer modified after being freed', report: 'umem allocator: buffer modified after being freed\n', exitStatus: 134 },
    types,
    symbols: [{ name: 'umem_probe_global', value: 0x200, size: 8 }],
  });
  const h = spawnSync('wasm-objdump', ['-h', path], { encoding: 'utf8' });
  assert.equal(h.status, 0, h.stderr);
  assert.equal(h.stderr, '');
  for (const s of ['"core"', '"corestack"', '"kmemdb.info"', '"kmemdb.symbols"', '"kmemdb.ctf"', 'Memory', 'Global', 'Data']) assert.ok(h.stdout.includes(s), `${s} in ${h.stdout}`);
  const x = spawnSync('wasm-objdump', ['-x', path], { encoding: 'utf8' });
  assert.equal(x.status, 0, x.stderr);
  assert.equal(x.stderr, '');
  assert.match(x.stdout, /memory\[0\] pages: initial=2/);
  assert.match(x.stdout, /global\[0\] i32 mutable=0 - init i32=66512/);
  assert.match(x.stdout, /segment\[0\] memory=0 size=12288 - init i32=0\n/);
  assert.match(x.stdout, /segment\[1\] memory=0 size=4096 - init i32=65536/);
});
