/*
 * Fuzzing program cores and modules: 10,000+ mutations per run (byte flips,
 * truncations, section length changes, LEB128 overflows, inserted bytes,
 * the container mutations of fuzz/core-mutations.ts).
 * Each mutated core either opens and reads consistently, mdb included, or
 * fails with one DumpFormatError; never another exception, a hang or a
 * runaway allocation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeWasmCore } from '../../src/dump/wasm/core-writer.js';
import { openWasmCore, type WasmCoreTarget } from '../../src/target/wasm-core-target.js';
import { parseWasmModule } from '../../src/dump/wasm/module.js';
import { DumpFormatError } from '../../src/dump/dump-format.js';
import { TargetReadError } from '../../src/target/target.js';
import { TypeTable } from '../../src/ctf/ctf.js';
import { declare } from '../../src/ctf/cparse.js';
import { ILP32 } from '../../src/machine/memory.js';
import { Rand } from '../../src/kernel/rand.js';
import { runMdb } from '../../src/mdb/index.js';
import { buildTestModule, tmpDir, STACK_TOP } from './helpers.js';
import { applyCoreMutation, mutateCore, sectionSizeOffsets, type CoreFacts } from '../../fuzz/core-mutations.js';

/** The container mutations of the fuzzer's cores target (no allocator structures to aim at here). */
function mutate(base: Uint8Array, facts: CoreFacts, r: Rand): Uint8Array {
  return applyCoreMutation(base, mutateCore(r, facts, base.length));
}

const MUTATIONS = 10_000;

function exercise(t: WasmCoreTarget, r: Rand, withMdb: boolean): void {
  t.status();
  for (const th of t.threads()) t.threadFrames(th);
  for (const s of t.symbols().slice(0, 20)) t.symbolByAddr(s.value);
  for (let i = 0; i < 4 && t.memorySize > 0; i++) {
    const a = r.below(t.memorySize);
    try {
      const v = t.load8(a);
      assert.equal(t.load8(a), v, 'reads are consistent');
      t.read(a, Math.min(32, t.memorySize - a));
    } catch (e) {
      if (!(e instanceof TargetReadError || e instanceof DumpFormatError)) throw e;
    }
  }
  if (withMdb) {
    const out = runMdb(t, '::status\n$c\n::nm\n0x400/X\n::sizeof umem_probe_t\n');
    assert.ok(!/\n\s+at /.test(out.stderr), `no JS stack traces: ${out.stderr}`);
  }
}

test(`fuzzed program cores: ${MUTATIONS} mutations, DumpFormatError or consistent reads`, { timeout: 120_000 }, () => {
  const dir = tmpDir('wfuzz');
  const mem = new Uint8Array(65536 * 2);
  mem.fill(0x11, 0x400, 0x600);
  mem.fill(0x22, 0x10000, 0x10100);
  const types = new TypeTable(ILP32);
  declare(types, 'typedef struct umem_probe { int a; char *b; } umem_probe_t;');
  const { path: core } = writeWasmCore(dir, {
    module: buildTestModule(),
    programName: 'fuzz.wasm',
    argv: ['fuzz.wasm', 'x'],
    memory: mem,
    globals: { __stack_pointer: STACK_TOP - 64 },
    frames: [
      { funcIndex: 2, codeOffset: 1 },
      { funcIndex: 1, codeOffset: 7 },
    ],
    reason: { kind: 'umem', message: 'duplicate free', report: 'umem allocator: duplicate free\n', exitStatus: 134 },
    types,
    symbols: [{ name: 'umem_probe_global', value: 0x400, size: 8 }],
  });
  const base = new Uint8Array(fs.readFileSync(core));
  const facts: CoreFacts = { sizeOffsets: sectionSizeOffsets(base), objects: [] };
  const file = path.join(dir, 'mutant.core');
  const r = new Rand(20261206);
  const heap0 = process.memoryUsage().heapUsed;
  let opened = 0;
  let refused = 0;
  for (let i = 0; i < MUTATIONS; i++) {
    fs.writeFileSync(file, mutate(base, facts, r));
    let t: WasmCoreTarget;
    try {
      t = openWasmCore(file, { cacheBytes: 1 << 18 });
    } catch (e) {
      if (!(e instanceof DumpFormatError)) throw new Error(`mutation ${i}: ${String(e)}`);
      assert.ok(!e.message.includes('\n'), 'one-line errors');
      refused++;
      continue;
    }
    opened++;
    try {
      exercise(t, r, i % 25 === 0);
    } finally {
      t.close();
    }
  }
  assert.equal(opened + refused, MUTATIONS);
  assert.ok(opened > 100 && refused > 1000, `both outcomes exercised (${opened} opened, ${refused} refused)`);
  assert.ok(process.memoryUsage().heapUsed - heap0 < 256 << 20, 'memory stays bounded');
});

test('fuzzed modules: parseWasmModule throws only DumpFormatError', { timeout: 60_000 }, () => {
  const base = buildTestModule();
  const facts: CoreFacts = { sizeOffsets: sectionSizeOffsets(base), objects: [] };
  const r = new Rand(7);
  for (let i = 0; i < 5000; i++) {
    const m = mutate(base, facts, r);
    try {
      parseWasmModule(m, 'mutant.wasm');
    } catch (e) {
      if (!(e instanceof DumpFormatError)) throw new Error(`mutation ${i}: ${String(e)}`);
    }
  }
});
