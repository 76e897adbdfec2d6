/*
 * Model-based tests: random sequences of cache create / alloc / free /
 * kmem_alloc / kmem_free / reap / update / destroy, run against kmem and a
 * reference model (which buffers are live, with what contents), under
 * kmem_flags 0, 0x6, 0xf and 0x100, in both data models.
 *
 * Invariants checked after every step:
 *  - no buffer is handed out twice; every buffer lies on a chunk boundary of
 *    one of its own cache's slabs (kmem_alloc buffers: of the right size
 *    class) and respects the cache's alignment;
 *  - client data survives until freed (nothing else writes into live buffers);
 *  - statistics: in-use buffers (buftotal - constructed - slab free) equal the
 *    model's live count, allocations counted equal the model's; slab refcnts
 *    add up; partial slabs are in AVL order;
 *  - constructed objects = constructor calls - destructor calls;
 *  - no kmem_error report, no panic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bootSystem, type System } from '../../src/system.js';
import type { ModelName } from '../../src/machine/memory.js';
import { KMEM_ALLOC_SIZES, KMEM_BIG_ALLOC_SIZES, KMF_DEADBEEF, KMF_LITE } from '../../src/abi/kmem-impl.js';
import type { KmemCache } from '../../src/kmem/index.js';

type Op =
  | { t: 'create'; size: number; align: number; ctor: boolean }
  | { t: 'alloc'; c: number; n: number }
  | { t: 'free'; c: number; i: number }
  | { t: 'kalloc'; size: number; zero: boolean }
  | { t: 'kfree'; i: number }
  | { t: 'reap' }
  | { t: 'update' }
  | { t: 'cpu' }
  | { t: 'destroy'; c: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('create' as const), size: fc.integer({ min: 1, max: 1200 }), align: fc.constantFrom(0, 1, 4, 8, 16, 64), ctor: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('alloc' as const), c: fc.nat(), n: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('free' as const), c: fc.nat(), i: fc.nat() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('kalloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 140000 })), zero: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('kfree' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reap' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'update' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'cpu' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('destroy' as const), c: fc.nat() }) },
);

interface MCache {
  h: KmemCache;
  size: number;
  align: number;
  live: number[];
  allocs: number;
  ctorCalls: number;
  dtorCalls: number;
}

function sizeClass(size: number): string | undefined {
  const all = [...KMEM_ALLOC_SIZES, ...KMEM_BIG_ALLOC_SIZES];
  const c = all.find((x) => x >= size);
  return c === undefined ? undefined : `kmem_alloc_${c}`;
}

class Harness {
  readonly s: System;
  readonly caches: MCache[] = [];
  readonly kbufs: Array<{ buf: number; size: number; tag: number }> = [];
  readonly owner = new Map<number, string>();
  readonly contents = new Map<number, number>();
  private tagSeq = 1;
  private readonly other;
  private ncreated = 0;

  constructor(model: ModelName, flags: number) {
    this.s = bootSystem({ model, kmemFlags: flags, kmemPanic: 1, heapSize: 96 << 20, kmemLogSize: 256 << 10 });
    this.other = this.s.k.createThread('model_cpu1', 1);
  }

  /** The client writes a tag into the first and last words it owns. */
  private stamp(buf: number, size: number): number {
    const tag = (this.tagSeq++ * 2654435761) >>> 0;
    const mem = this.s.k.mem;
    if (size >= 4) mem.store32(buf, tag);
    if (size >= 8) mem.store32(buf + (size & ~3) - 4, tag ^ 0x5a5a5a5a);
    return tag;
  }

  private checkStamp(buf: number, size: number, tag: number): void {
    if (size < 4) return;
    const mem = this.s.k.mem;
    assert.equal(mem.load32(buf), tag, 'client data intact (first word)');
    if (size >= 8)
      assert.equal(mem.load32(buf + (size & ~3) - 4), (tag ^ 0x5a5a5a5a) >>> 0, 'client data intact (last word)');
  }

  private inSlabOf(cp: number, buf: number): boolean {
    const st = this.s.kmem.cacheStats(cp);
    return this.s.kmem.slabsOf(cp).some((sl) => buf >= sl.base && buf < sl.base + sl.chunks * st.chunksize && (buf - sl.base) % st.chunksize === 0);
  }

  private took(buf: number, what: string): void {
    assert.notEqual(buf, 0, `${what}: allocation succeeded`);
    assert.ok(!this.owner.has(buf), `${what}: buffer ${buf} handed out twice (held by ${this.owner.get(buf)})`);
    this.owner.set(buf, what);
  }

  run(op: Op): void {
    const km = this.s.kmem;
    switch (op.t) {
      case 'create': {
        if (this.caches.length >= 6) return;
        const name = `model_${this.ncreated++}`;
        const mc: MCache = { h: undefined as unknown as KmemCache, size: op.size, align: op.align, live: [], allocs: 0, ctorCalls: 0, dtorCalls: 0 };
        mc.h = km.cacheCreate(name, op.size, {
          align: op.align,
          ctor: op.ctor
            ? (buf: number) => {
                mc.ctorCalls++;
                void buf;
                return 0;
              }
            : undefined,
          dtor: op.ctor
            ? () => {
                mc.dtorCalls++;
              }
            : undefined,
        });
        this.caches.push(mc);
        return;
      }
      case 'alloc': {
        if (this.caches.length === 0) return;
        const mc = this.caches[op.c % this.caches.length]!;
        for (let i = 0; i < op.n; i++) {
          const buf = mc.h.alloc(0);
          this.took(buf, mc.h.name);
          mc.allocs++;
          const al = mc.align === 0 ? 8 : mc.align;
          assert.equal(((buf % al) + al) % al, 0, 'alignment');
          assert.ok(this.inSlabOf(mc.h.addr, buf), 'buffer inside its own cache slabs');
          this.contents.set(buf, this.stamp(buf, mc.size));
          mc.live.push(buf);
        }
        return;
      }
      case 'free': {
        if (this.caches.length === 0) return;
        const mc = this.caches[op.c % this.caches.length]!;
        if (mc.live.length === 0) return;
        const [buf] = mc.live.splice(op.i % mc.live.length, 1);
        this.checkStamp(buf!, mc.size, this.contents.get(buf!)!);
        this.owner.delete(buf!);
        mc.h.free(buf!);
        return;
      }
      case 'kalloc': {
        const buf = op.zero ? km.kmemZalloc(op.size, 0) : km.kmemAlloc(op.size, 0);
        this.took(buf, `kmem_alloc(${op.size})`);
        const cls = sizeClass(op.size);
        const maxCached = this.s.k.model.ptrSize === 8 ? 131072 : 32768;
        if (cls && op.size <= maxCached) {
          const cp = km.cacheByName(cls)!.addr;
          assert.ok(this.inSlabOf(cp, buf), `kmem_alloc(${op.size}) comes from ${cls}`);
        }
        if (op.zero) for (let o = 0; o + 4 <= op.size; o += Math.max(4, (op.size >> 4) & ~3)) assert.equal(this.s.k.mem.load32(buf + o), 0, 'kmem_zalloc zeroes');
        this.kbufs.push({ buf, size: op.size, tag: this.stamp(buf, op.size) });
        return;
      }
      case 'kfree': {
        if (this.kbufs.length === 0) return;
        const [e] = this.kbufs.splice(op.i % this.kbufs.length, 1);
        this.checkStamp(e!.buf, e!.size, e!.tag);
        this.owner.delete(e!.buf);
        km.kmemFree(e!.buf, e!.size);
        return;
      }
      case 'reap':
        km.reap();
        return;
      case 'update':
        this.s.k.advance(15e9);
        return;
      case 'cpu': {
        // run a burst on CPU 1
        this.s.k.runAs(this.other, () => {
          for (const mc of this.caches) {
            const b = mc.h.alloc(0);
            this.took(b, mc.h.name);
            mc.allocs++;
            this.contents.set(b, this.stamp(b, mc.size));
            mc.live.push(b);
          }
        });
        return;
      }
      case 'destroy': {
        if (this.caches.length === 0) return;
        const idx = op.c % this.caches.length;
        const mc = this.caches[idx]!;
        for (const b of mc.live) {
          this.owner.delete(b);
          mc.h.free(b);
        }
        mc.live = [];
        mc.h.destroy();
        assert.ok(!this.s.k.messages().includes(`'${mc.h.name}'`), 'an empty cache is destroyed without a warning');
        assert.equal(mc.ctorCalls, mc.dtorCalls, 'every constructed object was destructed');
        this.caches.splice(idx, 1);
        return;
      }
    }
  }

  check(): void {
    const km = this.s.kmem;
    assert.equal(km.errors.length, 0, km.errors[0]?.text);
    for (const mc of this.caches) {
      const st = km.cacheStats(mc.h.addr);
      assert.equal(st.bufInuse, mc.live.length, `${mc.h.name}: buffers in use`);
      assert.equal(st.alloc, mc.allocs, `${mc.h.name}: allocations counted`);
      const slabs = km.slabsOf(mc.h.addr);
      assert.equal(slabs.reduce((n, s) => n + s.chunks, 0), st.buftotal, 'buftotal = chunks in slabs');
      assert.equal(slabs.reduce((n, s) => n + s.refcnt, 0), st.buftotal - st.bufslab, 'refcnts = buffers out of the slab layer');
      assert.equal(slabs.length, st.slabCreate - st.slabDestroy);
      const partial = slabs.slice(st.completeSlabs);
      assert.equal(partial.length, st.partialSlabs);
      for (const p of partial) assert.ok(p.refcnt > 0 && p.refcnt < p.chunks, 'partial slabs are partial');
      // illumos AVL order: KMEM_PARTIAL_SLAB_WEIGHT ascending, then slab address
      const bs = st.partialBinshift;
      const w = (sl: { refcnt: number; chunks: number }) =>
        sl.refcnt <= bs || sl.chunks - sl.refcnt <= bs ? -sl.refcnt : -(bs + Math.floor(sl.refcnt / 2 ** bs));
      for (let i = 1; i < partial.length; i++) {
        const a = partial[i - 1]!;
        const b = partial[i]!;
        assert.ok(w(a) < w(b) || (w(a) === w(b) && a.slab < b.slab), `${mc.h.name}: partial slabs in AVL order`);
      }
      if (mc.ctorCalls > 0 || mc.dtorCalls > 0) {
        const dbeef = (st.flags & KMF_DEADBEEF) !== 0 && (st.flags & KMF_LITE) === 0;
        const constructed = mc.ctorCalls - mc.dtorCalls;
        assert.equal(constructed, dbeef ? mc.live.length : mc.live.length + st.bufConstructed, `${mc.h.name}: constructed objects`);
      }
    }
  }
}

const CONFIGS: Array<[ModelName, number]> = [];
for (const model of ['lp64', 'ilp32'] as const) for (const flags of [0, 0x6, 0xf, 0x100]) CONFIGS.push([model, flags]);

for (const [model, flags] of CONFIGS) {
  test(`model: ${model} kmem_flags 0x${flags.toString(16)}`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
        const h = new Harness(model, flags);
        for (const op of ops) {
          h.run(op);
          h.check();
        }
      }),
      { numRuns: 20, seed: 0x5eed + flags + (model === 'lp64' ? 0 : 7) },
    );
  });
}
