/*
 * Fuzzing the reader: mutated and truncated dumps either open and read
 * consistently or fail with DumpFormatError; never another exception, a
 * hang or a runaway allocation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kernel, KernelPanic } from '../../src/kernel/kernel.js';
import { installSavecore, lastDump, type DumpInfo } from '../../src/dump/savecore.js';
import { openDump, DumpFormatError, type DumpTarget } from '../../src/target/dump-target.js';
import { TargetReadError } from '../../src/target/target.js';
import { Rand } from '../../src/kernel/rand.js';
import { tmpDir } from './helpers.js';

const INTERESTING = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfff, 0x1000, 0x10000000];

function exercise(unix: string, vmcore: string, r: Rand): 'ok' | 'error' {
  let t: DumpTarget;
  try {
    t = openDump(unix, vmcore, { cacheBytes: 1 << 20 });
  } catch (e) {
    if (e instanceof DumpFormatError) return 'error';
    throw e;
  }
  try {
    const st = t.status();
    assert.equal(typeof st.osName, 'string');
    for (const th of t.threads()) assert.equal(typeof th.addr, 'number');
    for (const m of t.moduleHistory()) assert.ok(Array.isArray(m.symbols));
    for (const s of t.symbols().slice(0, 50)) {
      assert.ok(t.symbolByName(s.name) !== undefined);
      t.symbolByAddr(s.value);
    }
    for (const name of t.types.names().slice(0, 40)) {
      const id = t.types.find(name)!;
      t.types.typeName(id);
      t.types.sizeof(id);
    }
    for (const rg of t.ranges()) {
      for (let i = 0; i < 4; i++) {
        const a = rg.base + r.below(rg.size) - (r.below(rg.size) % 4);
        try {
          const v1 = t.load32(a);
          assert.equal(t.load32(a), v1, 'reads are consistent');
          t.bytes(a, Math.min(64, rg.base + rg.size - a));
        } catch (e) {
          if (!(e instanceof TargetReadError || e instanceof DumpFormatError)) throw e;
        }
      }
    }
    return 'ok';
  } finally {
    t.close();
  }
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`fuzzed dumps (${model}): DumpFormatError or consistent reads`, { timeout: 60_000 }, () => {
    const dir = tmpDir('fuzz');
    try {
      const k = new Kernel({ model, heapSize: 1 << 20 });
      k.createThread('worker');
      k.mem.map(k.layout.heapBase, 3 * k.pageSize);
      k.mem.map(k.layout.heapBase + 5 * k.pageSize, k.pageSize);
      k.addModuleSymbols('zfs', [{ name: 'zfs_init', value: k.layout.moduleBase, size: 16, kind: 'func' }]);
      k.moduleHistory.push({ name: 'zfs', base: k.layout.moduleBase, size: 4096, textSize: 4096, loadTime: 5, symbols: [] });
      installSavecore(k, dir);
      assert.throws(() => k.panic('fuzz'), KernelPanic);
      const d = lastDump(k) as DumpInfo;
      const U = fs.readFileSync(d.unixPath);
      const V = fs.readFileSync(d.vmcorePath);
      // the header part of vmcore: everything before the first PT_LOAD's data
      const headerEnd = V.indexOf(Buffer.from('thread0')) + 64;
      const mu = path.join(dir, 'unix.9');
      const mv = path.join(dir, 'vmcore.9');
      fs.writeFileSync(mu, U);
      fs.writeFileSync(mv, V);
      const r = new Rand(model === 'lp64' ? 11 : 12);
      assert.equal(exercise(mu, mv, r), 'ok', 'the unmutated dump opens');

      const counts = { ok: 0, error: 0 };
      const fd = fs.openSync(mv, 'r+');
      try {
        for (let iter = 0; iter < 2500; iter++) {
          const kind = r.below(10);
          if (kind < 6) {
            // mutate vmcore's header part in place, then restore it
            const n = 1 + r.below(4);
            const spots: number[] = [];
            for (let j = 0; j < n; j++) {
              const at = r.below(headerEnd) & ~3;
              spots.push(at);
              const b = Buffer.alloc(4);
              b.writeUInt32LE(r.below(2) === 0 ? INTERESTING[r.below(INTERESTING.length)]! : r.u32());
              if (r.below(2) === 0) fs.writeSync(fd, b, 0, 4, at);
              else fs.writeSync(fd, b, 0, 1, at + r.below(4));
            }
            counts[exercise(mu, mv, r)]++;
            for (const at of spots) fs.writeSync(fd, V, at, 4, at);
          } else if (kind < 8) {
            // mutate unix.N
            const m = Buffer.from(U);
            for (let j = 1 + r.below(4); j > 0; j--) {
              const at = r.below(m.length);
              if (r.below(2) === 0) m[at] = r.below(256);
              else if (at + 4 <= m.length) m.writeUInt32LE(INTERESTING[r.below(INTERESTING.length)]!, at & ~3);
            }
            fs.writeFileSync(mu, m);
            counts[exercise(mu, mv, r)]++;
            fs.writeFileSync(mu, U);
          } else if (kind === 8) {
            // truncated unix.N
            fs.writeFileSync(mu, U.subarray(0, r.below(U.length)));
            counts[exercise(mu, mv, r)]++;
            fs.writeFileSync(mu, U);
          } else {
            // truncated vmcore.N (mostly inside the headers)
            const len = r.below(2) === 0 ? r.below(headerEnd + 64) : r.below(V.length);
            fs.ftruncateSync(fd, len);
            counts[exercise(mu, mv, r)]++;
            fs.writeSync(fd, V, len, V.length - len, len);
          }
        }
      } finally {
        fs.closeSync(fd);
      }
      console.log(`${model} mutations: ${JSON.stringify(counts)}`);
      assert.ok(counts.error > 300, `most mutations are detected (${JSON.stringify(counts)})`);
      assert.ok(counts.ok > 50, `some mutations are harmless (${JSON.stringify(counts)})`);
      assert.equal(exercise(mu, mv, r), 'ok', 'restored files open again');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
