import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KernelPanic } from '../../src/kernel/kernel.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { liveTarget } from '../../src/target/live-target.js';
import { installSavecore, lastDump, savecore, type DumpInfo } from '../../src/dump/savecore.js';
import { openDump, openDumpArgs, resolveDump, DumpFormatError, DUMP_CHUNK_SIZE } from '../../src/target/dump-target.js';
import { TargetReadError } from '../../src/target/target.js';
import { busyKernel, mergedRanges, tmpDir } from './helpers.js';

function panicInto(k: Kernel, dir: string, f: () => void): DumpInfo {
  installSavecore(k, dir);
  assert.throws(f, KernelPanic);
  const d = lastDump(k);
  assert.ok(d && !(d instanceof Error), `dump written: ${String(d)}`);
  return d;
}

for (const model of ['lp64', 'ilp32'] as const) {
  for (const seed of [1, 7, 42]) {
    test(`round trip ${model} seed ${seed}: memory, symbols, types, threads, modules`, () => {
      const dir = tmpDir('rt');
      try {
        const k = busyKernel(model, seed);
        const info = panicInto(k, dir, () => k.panic(`test panic ${seed}`));
        assert.equal(info.index, 0);
        const live = liveTarget(k);
        const t = openDump(info.unixPath, info.vmcorePath);
        try {
          // every mapped page reads back identically
          const lr = mergedRanges(live);
          assert.deepEqual(mergedRanges(t), lr);
          for (const r of lr) {
            for (let off = 0; off < r.size; off += DUMP_CHUNK_SIZE) {
              const n = Math.min(DUMP_CHUNK_SIZE, r.size - off);
              const a = live.read(r.base + off, n);
              const b = t.read(r.base + off, n);
              assert.ok(Buffer.from(a).equals(Buffer.from(b)), `bytes differ in ${r.base + off}+${n}`);
            }
          }
          // word loads agree at random spots, including the slow paths
          for (let i = 0; i < 2000; i++) {
            const r = lr[k.rand.below(lr.length)]!;
            const a = r.base + k.rand.below(r.size - 8);
            assert.equal(t.load8(a), live.load8(a));
            assert.equal(t.load16(a), live.load16(a));
            assert.equal(t.load32(a), live.load32(a));
            assert.equal(t.load64(a), live.load64(a));
            assert.equal(t.loadPtr(a), live.loadPtr(a));
          }
          // symbols and types
          const key = (s: { name: string; value: number; size: number; kind: string; module?: string }) => `${s.name}@${s.value}/${s.size}/${s.kind}/${s.module ?? ''}`;
          assert.deepEqual([...t.symbols()].map(key).sort(), [...live.symbols()].map(key).sort());
          assert.equal(t.symbolByName('zfs_init')?.module, 'zfs');
          assert.equal(t.symbolByName('nfs_init'), undefined, 'unloaded module symbols are not in the namelist');
          const ka = k.addr('kmem_cache_alloc');
          assert.equal(t.symbolByAddr(ka + 0x3c)?.name, 'kmem_cache_alloc');
          assert.deepEqual(t.types.serialize(), k.types.serialize());
          assert.equal(t.types.offsetof('kthread_t', 't_fp'), k.types.offsetof('kthread_t', 't_fp'));
          // facts
          const st = t.status();
          assert.equal(st.kind, 'dump');
          assert.equal(st.panicMessage, `test panic ${seed}`);
          assert.equal(st.panicThread, k.cur.addr);
          assert.equal(st.panicCpu, k.cur.cpu);
          assert.equal(st.dumpName, 'vmcore.0');
          assert.equal(st.dumpTime, k.timeSecond);
          assert.equal(st.content, 'all mapped pages');
          assert.equal(st.hostname, k.hostname);
          assert.deepEqual(t.threads(), live.threads());
          assert.equal(t.threads().length, 4);
          const pt = t.threads().find((x) => x.addr === k.cur.addr)!;
          assert.equal(pt.pc, ka + 0x3c, 'saved pc of the panicking thread');
          assert.equal(t.loadPtr(pt.fp + t.model.ptrSize), k.addr('pool_destroy') + 0x10, 'frame chain in the dump');
          assert.deepEqual(t.moduleHistory(), live.moduleHistory());
          assert.equal(t.moduleHistory()[1]!.unloadTime !== undefined, true);
          // unmapped reads fail as TargetReadError; isMapped agrees
          const hole = k.layout.heapBase + k.heapSize - k.pageSize;
          assert.equal(t.isMapped(hole), live.isMapped(hole));
          assert.throws(() => t.load32(k.layout.moduleBase + 0x10000), TargetReadError);
          assert.equal(t.writable, false);
          assert.throws(() => t.write(lr[0]!.base, new Uint8Array(4)));
        } finally {
          t.close();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

test('bounds: dumps are numbered, never overwritten, and resolve by N, DIR and paths', () => {
  const dir = tmpDir('bounds');
  try {
    const k1 = new Kernel();
    panicInto(k1, dir, () => k1.forcedDump());
    const k2 = new Kernel({ model: 'ilp32' });
    const g = k2.global('victim', 'int');
    const d2 = panicInto(k2, dir, () => k2.guard(() => k2.mem.load32(k2.layout.heapBase)));
    assert.equal(d2.index, 1);
    assert.equal(fs.readFileSync(path.join(dir, 'bounds'), 'utf8').trim(), '2');
    // a stale bounds must not overwrite dump 1
    fs.writeFileSync(path.join(dir, 'bounds'), '1\n');
    const k3 = new Kernel();
    const d3 = savecore(k3, dir);
    assert.equal(d3.index, 2, 'skips existing dumps');
    assert.equal(d3.panicMessage, undefined, 'a live dump has no panic');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['bounds', 'unix.0', 'unix.1', 'unix.2', 'vmcore.0', 'vmcore.1', 'vmcore.2']);

    const t0 = openDumpArgs([dir, '0']);
    assert.equal(t0.status().panicMessage, 'forced crash dump initiated at user request');
    t0.close();
    const latest = openDumpArgs([dir]);
    assert.equal(latest.status().dumpName, 'vmcore.2');
    latest.close();
    const t1 = openDumpArgs([path.join(dir, 'vmcore.1')]);
    assert.match(t1.status().panicMessage!, /^BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=d0000000$/);
    assert.equal(t1.model.bits, 32);
    assert.equal(t1.load32(g), 0);
    t1.close();
    assert.deepEqual(resolveDump(['a/unix.3', 'a/vmcore.3']), { unixPath: 'a/unix.3', vmcorePath: 'a/vmcore.3' });
    // mismatched pair
    assert.throws(() => openDump(path.join(dir, 'unix.0'), path.join(dir, 'vmcore.2')), (e: unknown) => e instanceof DumpFormatError && /does not belong/.test(e.message));
    assert.throws(() => openDumpArgs([path.join(dir, 'nope')]), DumpFormatError);
    assert.throws(() => openDump(path.join(dir, 'unix.9'), path.join(dir, 'vmcore.9')), (e: unknown) => e instanceof DumpFormatError && /cannot open/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the page cache stays bounded; bytes() views of cached chunks survive eviction and buffer reuse', () => {
  const dir = tmpDir('cache');
  try {
    const k = new Kernel({ heapSize: 16 << 20 });
    const H = k.layout.heapBase;
    k.mem.map(H, 16 << 20);
    for (let i = 0; i < 16 << 20; i += 4) k.mem.store32(H + i, i);
    const d = savecore(k, dir);
    const t = openDump(d.unixPath, d.vmcorePath, { cacheBytes: 4 * DUMP_CHUNK_SIZE });
    const word = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
    assert.equal(t.load32(H + 8), 8);
    const cached = t.bytes(H, 4096); // a view of a cached chunk
    const before = t.chunkReads;
    for (let i = 0; i < 16 << 20; i += 4096) assert.equal(t.load32(H + i), i);
    assert.equal(t.chunkReads - before, (16 << 20) / DUMP_CHUNK_SIZE - 1, 'one read per chunk, sequentially');
    for (let i = 0; i < 16 << 20; i += 4096) assert.equal(t.load32(H + i + 4), i + 4, 'recycled buffers hold the right chunk');
    assert.equal(word(cached, 16), 16, 'an exposed chunk is never recycled');
    // a scan: uncached chunks go through the ring, each read once
    const r0 = t.chunkReads;
    for (let off = 0; off < 16 << 20; off += 4096) {
      const b = t.bytes(H + off, 4096);
      assert.equal(word(b, 4092), off + 4092);
    }
    assert.ok(t.chunkReads - r0 <= (16 << 20) / DUMP_CHUNK_SIZE, 'scan reads each chunk at most once');
    const ringView = t.bytes(H + 5 * DUMP_CHUNK_SIZE, 64);
    assert.equal(word(ringView, 0), 5 * DUMP_CHUNK_SIZE);
    // reads crossing chunks are copies
    const cross = t.bytes(H + DUMP_CHUNK_SIZE - 8, 16);
    assert.equal(word(cross, 8), DUMP_CHUNK_SIZE);
    assert.equal(t.read(H + 3 * DUMP_CHUNK_SIZE - 4, 8).length, 8);
    t.close();
    assert.throws(() => t.load32(H + 8 + DUMP_CHUNK_SIZE * 7), TargetReadError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
