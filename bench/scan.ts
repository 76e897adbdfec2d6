/*
 * Scans over a live kernel with 1 GiB of kmem heap in use:
 *
 *   scan.floor.gbps      Buffer.indexOf search for an aligned 32-bit value
 *                        over the same memory image (the anchor)
 *   scan.kgrep.gbps      ::kgrep's search (kgrepScan) over every mapped page
 *   scan.kgrep.ratio     kgrep / floor
 *   leaks.findleaks_1g.s findLeaks over that kernel, every buffer reachable
 *                        (so the whole GiB is scanned)
 *
 * The heap is 131072 kmem_alloc(8192) buffers chained through their first
 * word from a kernel global, each also holding 15 pointers to other
 * buffers, so both the dismissal path and the lookup path are exercised.
 */
import { bootSystem } from '../src/system.js';
import { liveTarget } from '../src/target/live-target.js';
import { kgrepScan } from '../src/mdb/analysis/kgrep.js';
import { findLeaks } from '../src/mdb/analysis/leaks.js';
import { WindowReader } from '../src/mdb/analysis/scan.js';
import { lo32 } from '../src/machine/addr.js';
import type { Target } from '../src/target/target.js';

function best<T>(n: number, fn: () => T): { ms: number; v: T } {
  let ms = Infinity;
  let v!: T;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    v = fn();
    ms = Math.min(ms, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms, v };
}

/** The floor: Buffer.indexOf over every mapped window for an aligned 32-bit value. */
function floorScan(t: Target, value: number): { bytes: number; hits: number } {
  const wr = new WindowReader(t);
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(lo32(value), 0);
  let bytes = 0;
  let hits = 0;
  for (const r of wr.ranges) {
    let a = r.base;
    const end = r.base + r.size;
    while (a < end) {
      const w = wr.window(a)!;
      const buf = Buffer.from(w.u8.buffer, w.u8.byteOffset, w.u8.byteLength);
      let i = buf.indexOf(needle, a - w.base);
      while (i >= 0) {
        if (i % 4 === 0) hits++;
        i = buf.indexOf(needle, i + 1);
      }
      bytes += w.base + w.size - a;
      a = w.base + w.size;
    }
  }
  return { bytes, hits };
}

export async function benchScan(): Promise<Record<string, number>> {
  const GiB = 1 << 30;
  const { k, kmem } = bootSystem({ kmemFlags: 0, seed: 7, heapSize: GiB + (256 << 20) });
  const head = k.global('bench_scan_head', 'void *');
  const N = GiB / 8192;
  const bufs: number[] = new Array<number>(N);
  for (let i = 0; i < N; i++) bufs[i] = kmem.kmemAlloc(8192);
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) % N;
  for (let i = 0; i < N; i++) {
    const b = bufs[i]!;
    k.mem.fill32(b, 8192, 0x5eed0000 + (i & 0xffff));
    k.mem.storePtr(b, i + 1 < N ? bufs[i + 1]! : 0);
    for (let j = 1; j < 16; j++) k.mem.storePtr(b + j * 512, bufs[rnd()]!);
  }
  k.mem.storePtr(head, bufs[0]!);
  const t = liveTarget(k);
  const value = bufs[N >> 1]!;

  const fl = best(3, () => floorScan(t, value));
  let hits = 0;
  const kg = best(3, () => {
    hits = 0;
    return kgrepScan(t, BigInt.asUintN(64, BigInt(value)), {}, () => hits++);
  });
  const floorGbps = fl.v.bytes / (fl.ms / 1e3) / 1e9;
  const kgrepGbps = kg.v / (kg.ms / 1e3) / 1e9;
  const lk = best(1, () => findLeaks(t));
  if (lk.v.groups.length !== 0) throw new Error(`bench: findleaks found ${lk.v.groups.length} false leaks`);
  if (hits < 1) throw new Error('bench: kgrep found nothing');
  return {
    'scan.floor.gbps': floorGbps,
    'scan.kgrep.gbps': kgrepGbps,
    'scan.kgrep.ratio': kgrepGbps / floorGbps,
    'leaks.findleaks_1g.s': lk.ms / 1e3,
  };
}
