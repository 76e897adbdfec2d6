/*
 * One measurement of the kmem allocation benchmark (bench/kmem.ts), run in
 * a worker thread of its own: a fresh V8 isolate per (allocator, pattern),
 * so the harness call sites `a.alloc(...)` / `a.free(...)` and `fn()` only
 * ever see one allocator and stay monomorphic for every allocator alike.
 *
 * workerData: KmemBenchJob.  Posts back one KmemBenchResult: the best of
 * REPS timed passes (after one untimed warm-up pass), in ns per operation,
 * once a checked pass (checkPass) has confirmed the allocator's answers.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MemPool } from '@thi.ng/malloc';
import { bootSystem } from '../src/system.js';
import { bestOf } from './timing.js';

export type KmemBenchKey = 'floor' | 'kmem' | 'kmem6' | 'kmemf' | 'thing';
export type KmemBenchPattern = 'lifo64' | 'rand64' | 'mixed';

export interface KmemBenchJob {
  key: KmemBenchKey;
  /** kmem_flags for the kmem keys (ignored by floor and thing). */
  flags: number;
  pattern: KmemBenchPattern;
}

export interface KmemBenchResult {
  /** Best pass, nanoseconds per operation (one alloc or one free). */
  nsPerOp: number;
  /** kmemf only, after rand64: slab (and bufctl) bytes per bench_64 buffer. */
  bytesPerBuf?: number;
}

export interface Allocator {
  alloc(size: number): number;
  free(p: number, size: number): void;
}

const LIFO_N = 1000;
const LIFO_ROUNDS = 60;
const LIVE = 10_000;
const STEPS = 60_000;
const REPS = 5;

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

/** One untimed warm-up pass, then the best of `reps` timed passes (ns). */
function timeBest(fn: () => number, reps = REPS): number {
  return bestOf(fn, reps, 1);
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

/**
 * A kmem system with the given kmem_flags: `cache` is kmem_cache_alloc/free
 * on a 64-byte cache, `kma` is kmem_alloc/kmem_free.  Only the one that the
 * pattern uses is ever called in a worker.
 */
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

/**
 * An allocator that checks what it hands out: never 0, never a pointer that
 * is still live, frees only of live pointers.  Used for one pass after the
 * timed ones (a second allocator shape at the timed call sites would make
 * them polymorphic), so a broken allocator fails the run instead of
 * producing a figure.
 */
function checking(a: Allocator, what: string): Allocator & { readonly live: Set<number> } {
  const live = new Set<number>();
  return {
    live,
    alloc(size: number): number {
      const p = a.alloc(size);
      if (p === 0) throw new Error(`${what}: alloc(${size}) returned 0 with ${live.size} live`);
      if (live.has(p)) throw new Error(`${what}: alloc(${size}) returned ${p}, which is still live`);
      live.add(p);
      return p;
    },
    free(p: number, size: number): void {
      if (!live.delete(p)) throw new Error(`${what}: free(${p}) of a pointer that is not live`);
      a.free(p, size);
    },
  };
}

/** One checked pass of the job's pattern on `a`: the live counts must be the pattern's. */
export function checkPass(a: Allocator, job: KmemBenchJob): void {
  const c = checking(a, `${job.key}.${job.pattern}`);
  const expect = (n: number, when: string) => {
    if (c.live.size !== n) throw new Error(`${job.key}.${job.pattern}: ${c.live.size} live ${when}, expected ${n}`);
  };
  if (job.pattern === 'lifo64') {
    lifo(c)();
    expect(0, 'after the lifo rounds');
    return;
  }
  const st = steady(c, choices(), job.pattern === 'mixed');
  st.setup();
  expect(LIVE, 'after setup');
  st.run();
  expect(LIVE, 'after the steps');
  st.teardown();
  expect(0, 'after teardown');
}

/** Runs one job in this isolate (exported for a same-thread debug run). */
export function runKmemBenchJob(job: KmemBenchJob): KmemBenchResult {
  const isKmem = job.key === 'kmem' || job.key === 'kmem6' || job.key === 'kmemf';
  let a: Allocator;
  let bytesPerBuf: (() => number) | undefined;
  if (isKmem) {
    const k = kmemAllocators(job.flags);
    a = job.pattern === 'mixed' ? k.kma : k.cache;
    bytesPerBuf = k.bytesPerBuf;
  } else {
    a = job.key === 'floor' ? floorAllocator() : thingAllocator();
  }
  const res: KmemBenchResult = { nsPerOp: 0 };
  if (job.pattern === 'lifo64') {
    res.nsPerOp = timeBest(lifo(a)) / (LIFO_N * LIFO_ROUNDS * 2);
  } else {
    const st = steady(a, choices(), job.pattern === 'mixed');
    st.setup();
    res.nsPerOp = timeBest(st.run) / (STEPS * 2);
    st.teardown();
  }
  if (job.key === 'kmemf' && job.pattern === 'rand64' && bytesPerBuf) res.bytesPerBuf = bytesPerBuf();
  checkPass(a, job);
  return res;
}

if (!isMainThread && parentPort) {
  parentPort.postMessage(runKmemBenchJob(workerData as KmemBenchJob));
}
