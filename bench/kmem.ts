/*
 * kmem allocation benchmarks (ns per operation; an operation is one alloc or
 * one free), against anchors measured in the same run:
 *
 *   floor  a plain hand-written Int32Array free-list slab allocator
 *   kmem   kmem_cache_alloc/free (or kmem_alloc/free) with kmem_flags 0
 *   kmem6  the same with kmem_flags 0x6 (deadbeef + redzone)
 *   kmemf  the same with kmem_flags 0xf (+ audit, contents)
 *   thing  @thi.ng/malloc MemPool
 *
 * Patterns: lifo64 (allocate 1000 x 64 B, free in reverse, repeat), rand64
 * (10,000 live 64 B objects; each step frees a random live one and
 * allocates one), mixed (the same with sizes uniform in 16..256 through
 * kmem_alloc / kmem_free).  The random choices are drawn once and replayed
 * identically for every allocator.
 */
import { MemPool } from '@thi.ng/malloc';
import { bootSystem } from '../src/system.js';

interface Allocator {
  alloc(size: number): number;
  free(p: number, size: number): void;
}

const LIFO_N = 1000;
const LIFO_ROUNDS = 60;
const LIVE = 10_000;
const STEPS = 60_000;

/** Deterministic choices: victim index and size for each step. */
function choices(): { victim: Int32Array; size: Int32Array } {
  const victim = new Int32Array(STEPS);
  const size = new Int32Array(STEPS + LIVE);
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < STEPS; i++) victim[i] = next() % LIVE;
  for (let i = 0; i < size.length; i++) size[i] = 16 + (next() % 241);
  return { victim, size };
}

function timeBest(fn: () => number, reps = 5): number {
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    sink ^= fn();
    const t1 = process.hrtime.bigint();
    best = Math.min(best, Number(t1 - t0));
  }
  if (sink === 0x12345678) console.log('');
  return best;
}

function lifo(a: Allocator): () => number {
  const ptrs = new Array<number>(LIFO_N).fill(0);
  return () => {
    let s = 0;
    for (let r = 0; r < LIFO_ROUNDS; r++) {
      for (let i = 0; i < LIFO_N; i++) ptrs[i] = a.alloc(64);
      for (let i = LIFO_N - 1; i >= 0; i--) {
        s ^= ptrs[i]!;
        a.free(ptrs[i]!, 64);
      }
    }
    return s;
  };
}

function steady(a: Allocator, ch: { victim: Int32Array; size: Int32Array }, mixed: boolean): { setup: () => void; run: () => number; teardown: () => void } {
  const live = new Array<number>(LIVE).fill(0);
  const sizes = new Int32Array(LIVE);
  let next = 0;
  return {
    setup: () => {
      for (let i = 0; i < LIVE; i++) {
        sizes[i] = mixed ? ch.size[next++]! : 64;
        live[i] = a.alloc(sizes[i]!);
      }
    },
    run: () => {
      let s = 0;
      for (let i = 0; i < STEPS; i++) {
        const v = ch.victim[i]!;
        a.free(live[v]!, sizes[v]!);
        const sz = mixed ? ch.size[LIVE + i]! : 64;
        sizes[v] = sz;
        const p = a.alloc(sz);
        live[v] = p;
        s ^= p;
      }
      return s;
    },
    teardown: () => {
      for (let i = 0; i < LIVE; i++) a.free(live[i]!, sizes[i]!);
      next = 0;
    },
  };
}

/** The floor: per-size-class free lists of indices in one Int32Array. */
function floorAllocator(): Allocator {
  const CLASSES = 17; // 16-byte classes up to 256, class 4 doubles as "64"
  const PER = 16384;
  const next = new Int32Array(CLASSES * PER);
  const heads = new Int32Array(CLASSES);
  for (let c = 0; c < CLASSES; c++) {
    heads[c] = c * PER;
    for (let i = 0; i < PER - 1; i++) next[c * PER + i] = c * PER + i + 1;
    next[c * PER + PER - 1] = -1;
  }
  return {
    alloc(size: number): number {
      const c = (size + 15) >> 4;
      const i = heads[c]!;
      heads[c] = next[i]!;
      return i;
    },
    free(p: number, size: number): void {
      const c = (size + 15) >> 4;
      next[p] = heads[c]!;
      heads[c] = p;
    },
  };
}

function thingAllocator(): Allocator {
  const pool = new MemPool({ size: 16 << 20, align: 8 });
  return {
    alloc: (size: number) => pool.malloc(size),
    free: (p: number) => {
      pool.free(p);
    },
  };
}

function kmemAllocators(flags: number): { cache: Allocator; kma: Allocator; bytesPerBuf: () => number } {
  const { kmem } = bootSystem({ model: 'lp64', kmemFlags: flags, heapSize: 512 << 20, kmemLogSize: 1 << 20 });
  const c = kmem.cacheCreate('bench_64', 64);
  const cp = c.addr;
  return {
    cache: {
      alloc: () => kmem.kmem_cache_alloc(cp, 0),
      free: (p: number) => kmem.kmem_cache_free(cp, p),
    },
    kma: {
      alloc: (size: number) => kmem.kmem_alloc(size, 0),
      free: (p: number, size: number) => kmem.kmem_free(p, size),
    },
    bytesPerBuf: () => {
      const st = kmem.cacheStats(cp);
      const slabBytes = (st.slabCreate - st.slabDestroy) * st.slabsize;
      let extra = 0;
      if (st.flags & 0x200) {
        const bcName = st.flags & 0x1 ? 'kmem_bufctl_audit_cache' : 'kmem_bufctl_cache';
        const bc = kmem.cacheStats(kmem.cacheByName(bcName)!.addr);
        const sl = kmem.cacheStats(kmem.cacheByName('kmem_slab_cache')!.addr);
        extra = bc.chunksize + (sl.chunksize * (st.slabCreate - st.slabDestroy)) / Math.max(st.buftotal, 1);
      }
      return slabBytes / Math.max(st.buftotal, 1) + extra;
    },
  };
}

export async function benchKmem(): Promise<Record<string, number>> {
  const ch = choices();
  const out: Record<string, number> = {};
  const lifoOps = LIFO_N * LIFO_ROUNDS * 2;
  const steadyOps = STEPS * 2;
  const measure = (key: string, cache: Allocator, kma: Allocator) => {
    out[`alloc.${key}.lifo64`] = timeBest(lifo(cache)) / lifoOps;
    for (const [p, a, mixed] of [
      ['rand64', cache, false],
      ['mixed', kma, true],
    ] as const) {
      const st = steady(a, ch, mixed);
      st.setup();
      out[`alloc.${key}.${p}`] = timeBest(st.run) / steadyOps;
      st.teardown();
    }
  };
  const fl = floorAllocator();
  measure('floor', fl, fl);
  for (const [key, flags] of [
    ['kmem', 0],
    ['kmem6', 0x6],
    ['kmemf', 0xf],
  ] as const) {
    const k = kmemAllocators(flags);
    measure(key, k.cache, k.kma);
    if (key === 'kmemf') out['alloc.kmemf.bytes_per_buf'] = k.bytesPerBuf();
  }
  const th = thingAllocator();
  measure('thing', th, th);
  for (const p of ['lifo64', 'rand64', 'mixed']) {
    out[`alloc.ratio.kmem_floor.${p}`] = out[`alloc.kmem.${p}`]! / out[`alloc.floor.${p}`]!;
    out[`alloc.ratio.kmem6_kmem.${p}`] = out[`alloc.kmem6.${p}`]! / out[`alloc.kmem.${p}`]!;
    out[`alloc.ratio.kmemf_floor.${p}`] = out[`alloc.kmemf.${p}`]! / out[`alloc.floor.${p}`]!;
  }
  return out;
}
