/*
 * The word-index fast paths against the checked paths.  kmem's hot paths
 * (the magazine layer, the debug checks, kmem_alloc's size tags, auditing
 * and the logs) work on heap offsets with the layout written in as
 * constants; `kmemWordPaths: false` turns them off so that every operation
 * takes the checked path.  The same seeded workload must leave the same
 * memory image, byte for byte (every segment and its protection), the same
 * clock, and the same kmem_error reports, under every kmem_flags setting.
 *
 * The workload mixes caches with and without constructors, kmem_alloc of
 * every size class (and oversize and zero), several CPUs, reaps, updates
 * and the 15-second clock, and, with kmem_panic = 0 (report and continue),
 * the mistakes a buggy client makes: writing to freed buffers, freeing
 * twice, overrunning a kmem_alloc buffer, freeing with the wrong size or to
 * the wrong cache, scribbling on a buftag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bootSystem } from '../../src/system.js';
import type { ModelName } from '../../src/machine/memory.js';
import type { KmemCache } from '../../src/kmem/index.js';

interface Outcome {
  image: string;
  hrtime: number;
  errors: string[];
}

function run(model: ModelName, flags: number, wordPaths: boolean, seed: number, scribble = false): Outcome {
  const s = bootSystem({ model, kmemFlags: flags, heapSize: 64 << 20, kmemLogSize: 1 << 16, ncpus: 3, seed, kmemPanic: 0, kmemWordPaths: wordPaths });
  const { k, kmem } = s;
  let x = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  let ctorCalls = 0;
  const caches: KmemCache[] = [
    kmem.cacheCreate('w13', 13),
    kmem.cacheCreate('w64', 64),
    kmem.cacheCreate('w200', 200, {
      ctor: () => {
        ctorCalls++;
        return 0;
      },
      dtor: () => {
        ctorCalls--;
      },
    }),
    kmem.cacheCreate('w700', 700, { align: 64 }),
    kmem.cacheCreate('w5000', 5000),
  ];
  const threads = [k.createThread('w1', 1), k.createThread('w2', 2)];
  const live: Array<{ c: KmemCache | null; p: number; size: number }> = [];
  const freed: Array<{ c: KmemCache | null; p: number; size: number }> = [];
  const P = model === 'lp64' ? 8 : 4;

  // The kmem metadata the word-index paths read: the CPU caches, the
  // depot's full and empty lists, the loaded magazines.
  const T = k.types;
  const ccOff = T.offsetof('kmem_cache_t', 'cache_cpu');
  const fullOff = T.offsetof('kmem_cache_t', 'cache_full');
  const loadedOff = T.offsetof('kmem_cpu_cache_t', 'cc_loaded');
  const mlBytes = 2 * T.size('kmem_maglist_t');
  const scribbleMeta = (): void => {
    const c = caches[rnd(caches.length)]!;
    const cc = c.addr + ccOff + 64 * rnd(3);
    const values = [0, 1, 2, 0xffffffff, 0xfffffe80, x >>> 0, rnd(1 << 20), 7];
    const v = values[rnd(values.length)]!;
    const where = rnd(3);
    if (where === 0) k.mem.store32(cc + 4 * rnd(16), v);
    else if (where === 1) k.mem.store32(c.addr + fullOff + 4 * rnd(mlBytes / 4), v);
    else {
      const mp = k.mem.loadPtr(cc + loadedOff);
      if (mp !== 0) k.mem.store32(mp + 4 * rnd(12), v);
    }
  };

  const step = (): void => {
    if (scribble && rnd(50) === 0) {
      scribbleMeta();
      return;
    }
    const r = scribble ? rnd(96) : rnd(100);
    if (r < 45 || live.length === 0) {
      if (rnd(2)) {
        const c = caches[rnd(caches.length)]!;
        const p = c.alloc(1);
        if (p !== 0) live.push({ c, p, size: 0 });
      } else {
        const size = rnd(20) === 0 ? 4096 + rnd(40000) : 1 + rnd(3000);
        const p = kmem.kmemAlloc(size, 1);
        if (p !== 0) live.push({ c: null, p, size });
      }
    } else if (r < 90) {
      const j = rnd(live.length);
      const o = live[j]!;
      live[j] = live[live.length - 1]!;
      live.pop();
      if (o.c) o.c.free(o.p);
      else kmem.kmemFree(o.p, o.size);
      freed.push(o);
      if (freed.length > 64) freed.shift();
    } else if (r < 93 && freed.length > 0) {
      // write after free, at a pointer-aligned offset
      const o = freed[rnd(freed.length)]!;
      try {
        k.mem.store32(o.p + P * rnd(2), 0x5ca1ab1e);
      } catch {
        /* a firewalled or unmapped buffer: the write faults, nothing to compare */
      }
    } else if (r < 94 && freed.length > 0) {
      // free twice
      const o = freed[rnd(freed.length)]!;
      try {
        if (o.c) o.c.free(o.p);
        else kmem.kmemFree(o.p, o.size);
      } catch {
        /* a fault or an unrecoverable report */
      }
    } else if (r < 95 && live.length > 0) {
      // overrun a kmem_alloc buffer by one byte, or free with the wrong size
      const o = live.find((l) => l.c === null && l.size > 0 && l.size < 4096);
      if (o) {
        if (rnd(2)) k.mem.store8(o.p + o.size, 0x11);
        else o.size = o.size + 8;
      }
    } else if (r < 96 && live.length > 0) {
      // free to the wrong cache, or scribble on what follows the buffer
      const j = rnd(live.length);
      const o = live[j]!;
      if (o.c && rnd(2)) {
        const other = caches[(caches.indexOf(o.c) + 1) % caches.length]!;
        live[j] = live[live.length - 1]!;
        live.pop();
        try {
          other.free(o.p);
        } catch {
          /* reported */
        }
      } else if (o.c) {
        try {
          k.mem.store32(o.p + o.c.bufsize + rnd(2) * 4, 0);
        } catch {
          /* past the end of a firewalled buffer */
        }
      }
    } else if (r < 97) {
      kmem.reap();
    } else if (r < 98) {
      k.advance(16e9);
    } else if (r < 99) {
      kmem.update();
    } else {
      try {
        kmem.kmemAlloc(0, 1);
      } catch {
        /* kmem_panic_zerosized */
      }
    }
  };

  const faults: string[] = [];
  const guarded = (): void => {
    try {
      step();
    } catch (e) {
      // a client write or a kmem operation that faults (a panic in a real
      // kernel): both runs must fault alike
      faults.push(String((e as Error).message));
    }
  };
  for (let i = 0; i < 6000; i++) {
    if (rnd(4) === 0) k.runAs(threads[rnd(threads.length)]!, guarded);
    else guarded();
  }
  const h = createHash('sha256');
  for (const sg of k.mem.segments()) {
    h.update(sg.name);
    h.update(sg.u8);
    h.update(sg.prot);
  }
  h.update(String(ctorCalls));
  assert.equal(kmem.wordPaths, wordPaths);
  return { image: h.digest('hex'), hrtime: k.hrtime, errors: [...kmem.errors.map((e) => e.text), ...faults] };
}

const FLAGS = [0, 0x2, 0x4, 0x6, 0x1, 0x9, 0xf, 0x10f, 0x206, 0x20, 0x4f];
/** LP64 (heap pointers are word pairs) and ILP32 (one word, the heap base's low word not 0). */
const MODELS: readonly ModelName[] = ['lp64', 'ilp32'];

test('word-index paths and checked paths agree on corrupt kmem metadata (CPU caches, depot lists, magazines)', () => {
  for (const model of MODELS) {
    for (const flags of [0, 0x6, 0xf]) {
      for (const seed of [11, 4242]) {
        const a = run(model, flags, true, seed, true);
        const b = run(model, flags, false, seed, true);
        const what = `${model}, kmem_flags 0x${flags.toString(16)}, seed ${seed}`;
        assert.deepEqual(a.errors, b.errors, `${what}: reports and faults`);
        assert.equal(a.hrtime, b.hrtime, `${what}: clock`);
        assert.equal(a.image, b.image, `${what}: memory image`);
      }
    }
  }
});

test('word-index paths leave the same memory as the checked paths', () => {
  for (const model of MODELS) {
    for (const flags of FLAGS) {
      for (const seed of [7, 1234567]) {
        const a = run(model, flags, true, seed);
        const b = run(model, flags, false, seed);
        const what = `${model}, kmem_flags 0x${flags.toString(16)}, seed ${seed}`;
        assert.deepEqual(a.errors, b.errors, `${what}: kmem_error reports and faults`);
        assert.equal(a.hrtime, b.hrtime, `${what}: clock`);
        assert.equal(a.image, b.image, `${what}: memory image`);
        if (flags & 0x6) assert.ok(a.errors.length > 0, `${what}: the workload provokes reports`);
      }
    }
  }
});
