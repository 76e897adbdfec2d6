/*
 * The allocation benchmark refuses to time a broken allocator: its checked
 * pass (bench/kmem-worker.ts checkPass) fails on a NULL, on a pointer
 * handed out twice while live (and on a free of a pointer that is not live).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPass, type Allocator, type KmemBenchJob } from '../../bench/kmem-worker.js';

/** A correct bump allocator with free lists per size (pointers never 0). */
function good(): Allocator {
  let top = 0x1000;
  const free = new Map<number, number[]>();
  return {
    alloc(size) {
      const l = free.get(size);
      if (l && l.length) return l.pop()!;
      top += 256;
      return top;
    },
    free(p, size) {
      let l = free.get(size);
      if (!l) free.set(size, (l = []));
      l.push(p);
    },
  };
}

const jobs: KmemBenchJob[] = (['lifo64', 'rand64', 'mixed'] as const).map((pattern) => ({ key: 'floor', flags: 0, pattern }));

test('a correct allocator passes the checked pass of every pattern', () => {
  for (const job of jobs) checkPass(good(), job);
});

test('NULL, a live pointer handed out again, and a lost free each fail the run', () => {
  for (const job of jobs) {
    const g = good();
    let n = 0;
    const nulls: Allocator = { alloc: (s) => (++n === 500 ? 0 : g.alloc(s)), free: (p, s) => g.free(p, s) };
    assert.throws(() => checkPass(nulls, job), /alloc\(\d+\) returned 0 with \d+ live/);
    const h = good();
    let last = 0;
    const twice: Allocator = { alloc: (s) => (++n % 97 === 0 && last ? last : (last = h.alloc(s))), free: (p, s) => h.free(p, s) };
    assert.throws(() => checkPass(twice, job), /which is still live/);
  }
});
