/*
 * Model-based test: random sequences of malloc / calloc / realloc /
 * memalign / free against umem and a reference model (the live blocks, with
 * the byte each was filled with), under no debugging, guards and default,
 * on a WebAssembly.Memory that grows.  After every step: live blocks never
 * overlap, are aligned, keep their contents (realloc keeps the common
 * prefix), malloc_usable_size is the size asked for, and no report is made;
 * at the end umem_verify finds every cache clean and freeing everything
 * leaves findLeaks nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createUmem, type Umem } from '../../src/umem/umem.js';
import { umemFindLeaks, umemVerify } from '../../src/umemcheck/analysis.js';

type Op =
  | { t: 'malloc'; size: number }
  | { t: 'calloc'; n: number; size: number }
  | { t: 'memalign'; shift: number; size: number }
  | { t: 'realloc'; i: number; size: number }
  | { t: 'free'; i: number };

const sizeArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 20000 }) }, { weight: 1, arbitrary: fc.integer({ min: 30000, max: 70000 }) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('malloc' as const), size: sizeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('calloc' as const), n: fc.integer({ min: 0, max: 20 }), size: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('memalign' as const), shift: fc.integer({ min: 0, max: 12 }), size: fc.integer({ min: 1, max: 3000 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('realloc' as const), i: fc.nat(), size: sizeArb }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('free' as const), i: fc.nat() }) },
);

interface Block {
  p: number;
  size: number;
  fill: number;
  align: number;
}

class Model {
  readonly u: Umem;
  readonly mem: WebAssembly.Memory;
  readonly live: Block[] = [];
  private seq = 1;
  constructor(debug: string) {
    this.mem = new WebAssembly.Memory({ initial: 2, maximum: 4096 });
    this.u = createUmem({ memory: this.mem, base: 4096, env: { UMEM_DEBUG: debug } });
  }
  private bytes(p: number, n: number): Uint8Array {
    return new Uint8Array(this.mem.buffer, p, n);
  }
  private add(p: number, size: number, align: number, zero: boolean): void {
    assert.notEqual(p, 0, `allocation of ${size} failed`);
    if (zero) assert.ok(this.bytes(p, size).every((b) => b === 0), 'calloc zeroes');
    const fill = this.seq++ & 0xff;
    this.bytes(p, size).fill(fill);
    this.live.push({ p, size, fill, align });
  }
  step(op: Op): void {
    const u = this.u;
    switch (op.t) {
      case 'malloc':
        this.add(u.malloc(op.size), op.size, 8, false);
        break;
      case 'calloc':
        this.add(u.calloc(op.n, op.size), op.n * op.size, 8, true);
        break;
      case 'memalign': {
        const align = 1 << op.shift;
        this.add(u.memalign(align, op.size), op.size, Math.max(align, 8), false);
        break;
      }
      case 'realloc': {
        if (this.live.length === 0) return;
        const b = this.live.splice(op.i % this.live.length, 1)[0]!;
        const p = u.realloc(b.p, op.size);
        assert.notEqual(p, 0);
        const keep = Math.min(b.size, op.size);
        assert.ok(this.bytes(p, keep).every((x) => x === b.fill), 'realloc keeps the contents');
        this.add(p, op.size, 8, false);
        break;
      }
      case 'free': {
        if (this.live.length === 0) return;
        const b = this.live.splice(op.i % this.live.length, 1)[0]!;
        u.free(b.p);
        break;
      }
    }
    this.check();
  }
  check(): void {
    const sorted = [...this.live].sort((a, b) => a.p - b.p);
    for (let i = 0; i < sorted.length; i++) {
      const b = sorted[i]!;
      assert.equal(b.p % b.align, 0, 'aligned');
      if (i > 0) assert.ok(sorted[i - 1]!.p + Math.max(sorted[i - 1]!.size, 1) <= b.p, 'no overlap');
    }
    for (const b of this.live) {
      assert.ok(this.bytes(b.p, b.size).every((x) => x === b.fill), 'contents kept');
      assert.equal(this.u.malloc_usable_size(b.p), b.size);
    }
    assert.equal(this.u.reports.length, 0, this.u.reports[0]?.report);
  }
  finish(): void {
    assert.deepEqual(umemVerify(this.u).flatMap((v) => v.corrupt), []);
    for (const b of this.live.splice(0)) this.u.free(b.p);
    assert.deepEqual(umemFindLeaks(this.u).groups, []);
  }
}

for (const debug of ['', 'guards', 'default']) {
  test(`umem against a model, UMEM_DEBUG=${debug || '(unset)'}`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
        const m = new Model(debug);
        for (const op of ops) m.step(op);
        m.finish();
      }),
      { numRuns: 25, seed: 20261206 },
    );
  });
}
