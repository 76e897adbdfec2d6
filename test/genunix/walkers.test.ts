/*
 * The kmem, vmem and leak walkers with illumos' semantics, in both data
 * models: golden transcripts (test/genunix/golden/walkers-*.txt) and the
 * relations between the walks that illumos' definitions imply.
 *
 * Two systems per model: the genunix fixture (kmem_flags 0xf, leaks), and
 * one booted with kmem_flags 0 that holds two caches with constructors
 * (walk_obj: small, bufctls inside the buffers; walk_big: 2048 bytes,
 * KMF_HASH without buftags) with freed buffers resting in magazines.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, mdb, type Fixture } from './fixture.js';
import { goldenIn, transcript } from '../golden.js';
import { bootSystem } from '../../src/system.js';
import { liveTarget } from '../../src/target/live-target.js';
import type { Target } from '../../src/target/target.js';
import { hex } from '../../src/machine/addr.js';
import { KmemView } from '../../src/mdb/analysis/kmem-view.js';
import { VmemView } from '../../src/mdb/analysis/vmem-view.js';
import { libumemModule } from '../../src/mdb/modules/libumem.js';

const golden = goldenIn('genunix/golden');
const X = (a: number) => '0x' + hex(a);

interface Constructed {
  t: Target;
  obj: number;
  big: number;
}

/** A kernel with two constructed caches, half of their buffers freed (into the magazines). */
function constructedSystem(model: 'lp64' | 'ilp32'): Constructed {
  const { k, kmem } = bootSystem({ kmemFlags: 0, seed: 7, ncpus: 2, model });
  const obj = kmem.cacheCreate('walk_obj', 48, { ctor: () => 0 });
  const big = kmem.cacheCreate('walk_big', 2048, { ctor: () => 0 });
  k.enter(k.fn('walk_test', 0x100) + 0x10);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 20; i++) a.push(obj.alloc());
  for (let i = 0; i < 6; i++) b.push(big.alloc());
  for (let i = 0; i < a.length; i += 2) obj.free(a[i]!);
  for (let i = 0; i < b.length; i += 2) big.free(b[i]!);
  k.leave();
  const t = liveTarget(k);
  const kv = new KmemView(t);
  return { t, obj: kv.cacheByName('walk_obj')!, big: kv.cacheByName('walk_big')! };
}

function walk(t: Target, cmd: string): number[] {
  const r = mdb(t, cmd);
  assert.equal(r.stderr, '', cmd);
  return r.stdout
    .split('\n')
    .filter((l) => l)
    .map((l) => Number(BigInt.asIntN(64, BigInt(l))));
}

for (const model of ['lp64', 'ilp32'] as const) {
  let cs: Constructed | undefined;
  const C = () => (cs ??= constructedSystem(model));
  let fx: Fixture | undefined;
  const F = () => (fx ??= makeFixture({ model }));

  test(`golden (${model}): freemem_constructed, freectl_constructed, freectl, kmem_hash, bufctl, kmem_slab_partial, vmem_postfix`, () => {
    const { t, obj, big } = C();
    const vv = new VmemView(t);
    const metadata = vv.arenaByName('kmem_metadata')!;
    golden(
      `walkers-constructed-${model}`,
      transcript(t, [
        '::kmem_cache -n walk_',
        `${X(obj)}::walk freemem_constructed`,
        `${X(big)}::walk freectl_constructed`,
        `${X(big)}::walk freectl`,
        `${X(big)}::walk kmem_hash`,
        `${X(big)}::walk bufctl`,
        `${X(obj)}::walk bufctl`,
        `${X(obj)}::walk kmem_hash`,
        '::walk kmem_hash',
        `${X(obj)}::walk kmem_slab_partial`,
        '::walk vmem_postfix | ::vmem',
        `${X(metadata)}::walk vmem_postfix`,
        '::walk vmem_seg',
        '::walk nosuch',
      ]),
    );
  });

  test(`golden (${model}): leak, leakbuf, bufctl_history and a debugging kernel's constructed walks`, () => {
    const f = makeFixture({ model });
    const kv = new KmemView(f.t);
    const c24 = kv.allocatedBuffers(kv.cache(kv.cacheByName('kmem_alloc_24')!));
    const rep = c24.find((r) => r.buf === f.leaked.a[0])!.bufctl;
    const other = c24.find((r) => r.buf === f.leaked.a[2])!.bufctl;
    golden(
      `walkers-leaks-${model}`,
      transcript(f.t, [
        '::walk leak',
        '::walk freemem_constructed',
        '::findleaks',
        `${X(rep)}::walk leak`,
        `${X(other)}::walk leakbuf`,
        '::walk leak',
        `${X(f.kept[0]!)}::walk leak`,
        `${X(rep)}::walk bufctl_history`,
        '::walk bufctl_history',
      ]),
    );
  });

  test(`freemem_constructed is the magazine layer of freemem; nothing for caches that fill free buffers with 0xdeadbeef (${model})`, () => {
    const { t, obj } = C();
    const cons = walk(t, `${X(obj)}::walk freemem_constructed`);
    const free = walk(t, `${X(obj)}::walk freemem`);
    const kv = new KmemView(t);
    assert.deepEqual(cons, kv.magazineRounds(kv.cache(obj)));
    assert.ok(cons.length > 0 && cons.length < free.length);
    assert.deepEqual(free.slice(0, cons.length), cons);
    assert.deepEqual(walk(F().t, '::walk freemem_constructed'), []);
    assert.deepEqual(walk(F().t, '::walk freectl_constructed'), []);
  });

  test(`kmem_hash holds the allocated bufctls and those of the buffers in magazines (${model})`, () => {
    const { t, big } = C();
    const hash = walk(t, `${X(big)}::walk kmem_hash`).sort((a, b) => a - b);
    const alloc = walk(t, `${X(big)}::walk bufctl`);
    const mags = walk(t, `${X(big)}::walk freectl_constructed`);
    assert.equal(alloc.length, 3);
    assert.equal(mags.length, 3);
    assert.deepEqual([...alloc, ...mags].sort((a, b) => a - b), hash);
    // freectl: the magazine bufctls (found on the hash chains), then the slab freelists' (golden: walkers-constructed-*)
    assert.deepEqual(walk(t, `${X(big)}::walk freectl`).slice(0, 3), mags);
  });

  test(`leak walks one group from any of its ctls; leakbuf gives the buffers (${model})`, () => {
    const f = F();
    mdb(f.t, '::findleaks');
    const kv = new KmemView(f.t);
    const c100 = kv.allocatedBuffers(kv.cache(kv.cacheByName('kmem_alloc_112') ?? kv.cacheByName('kmem_alloc_128')!));
    const ctls = f.leaked.b.map((b) => c100.find((r) => r.buf === b)?.bufctl).filter((x): x is number => x !== undefined);
    assert.equal(ctls.length, 5);
    for (const c of ctls) {
      assert.deepEqual(walk(f.t, `${X(c)}::walk leakbuf`).sort((a, b) => a - b), [...f.leaked.b].sort((a, b) => a - b));
      assert.deepEqual(walk(f.t, `${X(c)}::walk leak`).sort((a, b) => a - b), [...ctls].sort((a, b) => a - b));
    }
    const r = mdb(f.t, `${X(f.kept[0]!)}::walk leak`);
    assert.equal(r.stderr, `mdb: ${hex(f.kept[0]!)} is not a leaked ctl address\nmdb: failed to perform walk: failed to initialize walk\n`);
  });
}

test('libumem has the constructed and hash walkers under its names', () => {
  const names = new Set(libumemModule.walkers.map((w) => w.name));
  for (const n of ['freemem_constructed', 'freectl_constructed', 'umem_hash', 'bufctl', 'freectl', 'bufctl_history', 'umem_slab_partial', 'vmem_postfix', 'leak', 'leakbuf']) {
    assert.ok(names.has(n), n);
  }
});
