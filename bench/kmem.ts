/*
 * kmem allocation benchmarks (ns per operation; an operation is one alloc or
 * one free), against anchors measured in the same run:
 *
 *   floor  a plain hand-written Int32Array free-list slab allocator
 *   kmem   kmem_cache_alloc/free (or kmem_alloc/free) with kmem_flags 0
 *   kmem6  the same with kmem_flags 0x6 (deadbeef + redzone)
 *   kmemf  the same with kmem_flags 0xf (+ audit, contents)
 *   thing  @thi.ng/malloc MemPool
 *   glibc  the C library's malloc/free through bench/glibc-harness.c (built
 *          at bench time with the machine's compiler; skipped without one)
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
 *
 * Every worker ends with a checked pass (no 0, no pointer handed out twice
 * while live, the pattern's live counts) and fails the run otherwise; the
 * glibc harness checks the same in C.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { KmemBenchJob, KmemBenchKey, KmemBenchPattern, KmemBenchResult } from './kmem-worker.js';
import { glibcHarness, runGlibc } from './glibc.js';

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
  const glibc = glibcHarness();
  if ('skip' in glibc) process.stderr.write(`bench: kmem: glibc anchor skipped: ${glibc.skip}\n`);
  for (let round = 0; round < ROUNDS; round++) {
    if ('bin' in glibc) {
      const g = runGlibc(glibc.bin);
      for (const p of PATTERNS) out[`alloc.glibc.${p}`] = Math.min(out[`alloc.glibc.${p}`] ?? Infinity, g[p]);
    }
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
    if ('bin' in glibc) {
      out[`alloc.ratio.kmem_glibc.${p}`] = out[`alloc.kmem.${p}`]! / out[`alloc.glibc.${p}`]!;
      out[`alloc.ratio.kmemf_glibc.${p}`] = out[`alloc.kmemf.${p}`]! / out[`alloc.glibc.${p}`]!;
    }
  }
  return out;
}
