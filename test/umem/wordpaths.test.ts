/*
 * The word-index fast paths on a process heap (ILP32, the flat memory of
 * a wasm program, heap base 0, the program's frames below the allocator's
 * in audit records) against the checked paths: the same seeded
 * malloc / free / realloc / calloc / memalign workload, with a buggy
 * client's mistakes (writes after free, double frees, overruns, frees of
 * pointers that were never allocated), must leave the same memory, byte
 * for byte, and make the same reports, with every UMEM_DEBUG setting that
 * changes the paths taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createUmem } from '../../src/umem/umem.js';
import { UmemError } from '../../src/umem/errors.js';
import { Rand } from '../../src/kernel/rand.js';

interface Outcome {
  image: string;
  reports: string[];
  wordPaths: boolean;
}

function run(debug: string, wordPaths: boolean, seed: number): Outcome {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 8192 });
  // the program's frames below the allocator's in audit records: a stack that changes with every call
  let calls = 0;
  const captureStack = (max: number): number[] => [0x10000 + (calls++ % 13), 0x20000, 0x30000].slice(0, max);
  const env = { UMEM_DEBUG: debug, UMEM_LOGGING: debug === '' ? '' : 'transaction,contents,fail' };
  const u = createUmem({ memory, base: 4096, seed, env, wordPaths, captureStack });
  const rand = new Rand(seed);
  const rnd = (n: number): number => rand.below(n);
  const live: Array<{ p: number; size: number }> = [];
  const freed: number[] = [];
  const bytes = (): Uint8Array => new Uint8Array(memory.buffer);
  const size = (): number => (rnd(30) === 0 ? 4096 + rnd(40000) : rnd(20) === 0 ? 0 : 1 + rnd(600));
  const step = (): void => {
    const r = rnd(100);
    if (r < 40 || live.length === 0) {
      const n = size();
      const kind = rnd(10);
      const p = kind === 0 ? u.calloc(1 + rnd(8), n) : kind === 1 ? u.memalign(8 << rnd(6), n + 1) : u.malloc(n);
      if (p !== 0) live.push({ p, size: kind === 1 ? n + 1 : n });
    } else if (r < 85) {
      const o = live.splice(rnd(live.length), 1)[0]!;
      u.free(o.p);
      freed.push(o.p);
      if (freed.length > 64) freed.shift();
    } else if (r < 92) {
      const j = rnd(live.length);
      const n = size();
      const p = u.realloc(live[j]!.p, n);
      if (p !== 0 || n === 0) live[j] = { p, size: n };
      if (p === 0) live.splice(j, 1);
    } else if (r < 95 && freed.length > 0) {
      bytes()[freed[rnd(freed.length)]! + 4 * rnd(4)] = 0x5a; // write after free
    } else if (r < 97 && freed.length > 0) {
      u.free(freed[rnd(freed.length)]!); // free twice
    } else if (r < 99) {
      const o = live[rnd(live.length)]!;
      bytes()[o.p + o.size] ^= 0x11; // overrun by one byte
    } else {
      u.free(8 * (1 + rnd(1 << 20))); // never allocated
    }
  };
  const reports: string[] = [];
  for (let i = 0; i < 4000; i++) {
    try {
      step();
    } catch (e) {
      if (!(e instanceof UmemError)) throw e;
      reports.push(e.report);
    }
  }
  for (const o of live) {
    try {
      u.free(o.p);
    } catch (e) {
      if (!(e instanceof UmemError)) throw e;
      reports.push(e.report);
    }
  }
  const image = createHash('sha256').update(bytes()).digest('hex');
  return { image, reports: [...reports, u.errorBuffer()], wordPaths: u.heap.kmem.wordPaths };
}

test('word-index paths and checked paths leave the same process heap and make the same reports', () => {
  for (const debug of ['', 'guards', 'default', 'audit=4,contents', 'firewall=64,guards']) {
    for (const seed of [3, 99991]) {
      const a = run(debug, true, seed);
      const b = run(debug, false, seed);
      const what = `UMEM_DEBUG=${debug}, seed ${seed}`;
      assert.equal(a.wordPaths, true, `${what}: word paths on`);
      assert.equal(b.wordPaths, false, `${what}: word paths off`);
      assert.deepEqual(a.reports, b.reports, `${what}: reports`);
      assert.equal(a.image, b.image, `${what}: memory image`);
      if (debug !== '') assert.ok(a.reports.length > 1, `${what}: the workload provokes reports`);
    }
  }
});
