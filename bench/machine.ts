/*
 * machine.load32.ratio: a 32-bit load plus a 32-bit store through the paged
 * backend, against the same pattern on a raw Uint32Array, in the same run.
 */
import { PagedMemory, LP64 } from '../src/machine/memory.js';
import { bestOf } from './timing.js';

function timeIt(fn: () => number): number {
  return bestOf(fn, 7);
}

export async function benchMachine(): Promise<Record<string, number>> {
  const N = 4_000_000;
  const SIZE = 1 << 20; // 1 MiB working set, 256 pages
  const base = -0x18000000000;
  const m = new PagedMemory(LP64);
  m.reserve('heap', base, SIZE);
  m.map(base, SIZE);
  const raw = new Uint32Array(SIZE / 4);
  const mask = SIZE - 4;
  const rawNs = timeIt(() => {
    let s = 0;
    for (let i = 0; i < N; i++) {
      const off = (i * 68) & mask;
      s = (s + raw[off >>> 2]!) | 0;
      raw[off >>> 2] = s;
    }
    return s;
  });
  const pagedNs = timeIt(() => {
    let s = 0;
    for (let i = 0; i < N; i++) {
      const a = base + ((i * 68) & mask);
      s = (s + m.load32(a)) | 0;
      m.store32(a, s);
    }
    return s;
  });
  // Both loops ran the same passes over the same pattern: their memories must agree word for word.
  for (let i = 0; i < SIZE / 4; i++) {
    if (m.load32(base + i * 4) !== raw[i]) throw new Error(`bench: paged memory differs from the raw array at word ${i}`);
  }
  return {
    'machine.load32.raw_ns': rawNs / N,
    'machine.load32.paged_ns': pagedNs / N,
    'machine.load32.ratio': pagedNs / rawNs,
  };
}
