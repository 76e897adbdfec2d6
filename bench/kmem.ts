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
 *
 * Each (allocator, pattern) is measured in a fresh V8 isolate (a worker
 * thread running bench/kmem-worker.ts), one after the other, never two at
 * once.  In one isolate the harness closures would share type feedback, so
 * their alloc/free call sites would be monomorphic (and inlined) only for
 * the allocator measured first and polymorphic for the others.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { KmemBenchJob, KmemBenchKey, KmemBenchPattern, KmemBenchResult } from './kmem-worker.js';

const KEYS: ReadonlyArray<readonly [KmemBenchKey, number]> = [
  ['floor', 0],
  ['kmem', 0],
  ['kmem6', 0x6],
  ['kmemf', 0xf],
  ['thing', 0],
];
const PATTERNS: readonly KmemBenchPattern[] = ['lifo64', 'rand64', 'mixed'];

/** Runs one job in a worker of its own and waits for it to exit. */
async function runJob(job: KmemBenchJob): Promise<KmemBenchResult> {
  const w = new Worker(new URL('./kmem-worker.js', import.meta.url), { workerData: job });
  let result: KmemBenchResult | undefined;
  let failure: unknown;
  w.on('message', (m: KmemBenchResult) => {
    result = m;
  });
  w.on('error', (e: unknown) => {
    failure = e;
  });
  const [code] = (await once(w, 'exit')) as [number];
  if (failure !== undefined) throw failure;
  if (!result) throw new Error(`kmem bench worker ${job.key}.${job.pattern} exited with code ${code} and no result`);
  return result;
}

/**
 * Isolates per (allocator, pattern), in interleaved rounds; the figure is
 * the best of them.  One isolate's JIT can settle on slower code for the
 * whole run (where on-stack replacement happened, what was inlined), which
 * moved single-isolate figures by up to 2x between identical runs; thing
 * (tens of microseconds per operation, far from every ratio) runs once.
 */
const ROUNDS = 3;

export async function benchKmem(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, flags] of KEYS) {
      if (key === 'thing' && round > 0) continue;
      for (const pattern of PATTERNS) {
        const r = await runJob({ key, flags, pattern });
        const k = `alloc.${key}.${pattern}`;
        out[k] = Math.min(out[k] ?? Infinity, r.nsPerOp);
        if (r.bytesPerBuf !== undefined) bytes[`alloc.${key}.bytes_per_buf`] = r.bytesPerBuf;
      }
    }
  }
  Object.assign(out, bytes);
  for (const p of PATTERNS) {
    out[`alloc.ratio.kmem_floor.${p}`] = out[`alloc.kmem.${p}`]! / out[`alloc.floor.${p}`]!;
    out[`alloc.ratio.kmem6_kmem.${p}`] = out[`alloc.kmem6.${p}`]! / out[`alloc.kmem.${p}`]!;
    out[`alloc.ratio.kmemf_floor.${p}`] = out[`alloc.kmemf.${p}`]! / out[`alloc.floor.${p}`]!;
  }
  return out;
}
