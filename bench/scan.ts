/*
 * Scans over a live kernel with 1 GiB of kmem heap in use:
 *
 *   scan.floor.gbps      a raw Buffer.indexOf scan of the same bytes for the
 *                        same 64-bit value, straight from the kernel's memory
 *                        segments, sharing no code with kgrep (the anchor);
 *                        its hit count and byte count must equal kgrep's
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
import { PROT_NONE, type Memory } from '../src/machine/memory.js';

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

/**
 * The floor: a raw scan of the same bytes, independent of mdb (no Target,
 * no WindowReader, no kgrep code): every readable 4 KiB page of every
 * segment of the kernel's memory, searched with Buffer.indexOf for the low
 * 32 bits of the value, each match kept when it is 8-byte aligned and the
 * high 32 bits match too.  Its hit count must equal ::kgrep's.
 */
function floorScan(mem: Memory, value: number): { bytes: number; hits: number } {
  const v = BigInt.asUintN(64, BigInt(value));
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(Number(v & 0xffffffffn), 0);
  const hi = Number(v >> 32n);
  let bytes = 0;
  let hits = 0;
  for (const seg of mem.segments()) {
    const pages = seg.prot.length;
    for (let p = 0; p < pages; ) {
      if (seg.prot[p] === PROT_NONE) {
        p++;
        continue;
      }
      let q = p;
      while (q < pages && seg.prot[q] !== PROT_NONE) q++;
      const off = p * 4096;
      const len = Math.min(q * 4096, seg.size) - off;
      const buf = Buffer.from(seg.u8.buffer, seg.u8.byteOffset + off, len);
      for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
        if ((off + i) % 8 === 0 && seg.u32[(off + i) / 4 + 1] === hi) hits++;
      }
      bytes += len;
      p = q;
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

  const fl = best(3, () => floorScan(k.mem, value));
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
  if (hits !== fl.v.hits) throw new Error(`bench: kgrep found ${hits} words holding the value, the raw scan ${fl.v.hits}`);
  if (kg.v !== fl.v.bytes) throw new Error(`bench: kgrep searched ${kg.v} bytes, the raw scan ${fl.v.bytes}`);
  return {
    'scan.floor.gbps': floorGbps,
    'scan.kgrep.gbps': kgrepGbps,
    'scan.kgrep.ratio': kgrepGbps / floorGbps,
    'leaks.findleaks_1g.s': lk.ms / 1e3,
  };
}
