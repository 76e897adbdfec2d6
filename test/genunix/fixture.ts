/*
 * A booted system with a fixed seed and a known workload, for the genunix
 * tests: buffers kept (their pointers stored in a kernel global, so they
 * are reachable), buffers freed, and three leaking call paths (kmem_alloc
 * buffers dropped on the floor, with known counts), plus an oversize leak.
 */

import { bootSystem, type System } from '../../src/system.js';
import { liveTarget } from '../../src/target/live-target.js';
import type { Target } from '../../src/target/target.js';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/genunix.js';

export interface Fixture {
  sys: System;
  t: Target;
  kept: number[];
  leaked: { a: number[]; b: number[]; c: number[]; big: number[] };
  freedBuf: number;
  fns: Record<string, number>;
}

export interface FixtureOptions {
  flags?: number;
  leaks?: boolean;
  seed?: number;
  model?: 'lp64' | 'ilp32';
}

export function makeFixture(o: FixtureOptions = {}): Fixture {
  const sys = bootSystem({ kmemFlags: o.flags ?? 0xf, seed: o.seed ?? 42, ncpus: 2, model: o.model });
  const { k, kmem } = sys;
  const fns = {
    test_keep: k.fn('test_keep', 0x200),
    leak_path_a: k.fn('leak_path_a', 0x200),
    leak_path_b: k.fn('leak_path_b', 0x200),
    leak_path_c: k.fn('leak_path_c', 0x200),
    leak_oversize: k.fn('leak_oversize', 0x200),
    test_churn: k.fn('test_churn', 0x200),
  };
  const NKEEP = 64;
  const roots = k.global('genunix_test_roots', `void *[${NKEEP}]`);
  const P = k.model.ptrSize;
  const kept: number[] = [];
  k.enter(fns.test_keep + 0x10);
  for (let i = 0; i < NKEEP; i++) {
    const size = 16 + ((i * 37) % 300);
    const b = kmem.kmemAlloc(size);
    kept.push(b);
    k.mem.storePtr(roots + i * P, b);
    // chain: every 4th kept buffer points to a child that only it references
    if (i % 4 === 0) {
      const child = kmem.kmemAlloc(48);
      k.mem.storePtr(b, child);
    }
  }
  k.leave();
  k.enter(fns.test_churn + 0x20);
  const churn: number[] = [];
  for (let i = 0; i < 40; i++) churn.push(kmem.kmemAlloc(24 + (i % 5) * 8));
  for (let i = 0; i < churn.length; i++) kmem.kmemFree(churn[i]!, 24 + (i % 5) * 8);
  k.leave();
  const freedBuf = churn[3]!;
  const leaked = { a: [] as number[], b: [] as number[], c: [] as number[], big: [] as number[] };
  if (o.leaks !== false) {
    k.enter(fns.leak_path_a + 0x44);
    for (let i = 0; i < 3; i++) leaked.a.push(kmem.kmemAlloc(20));
    k.leave();
    k.enter(fns.leak_path_b + 0x88);
    for (let i = 0; i < 5; i++) leaked.b.push(kmem.kmemAlloc(100));
    k.leave();
    k.enter(fns.leak_path_c + 0x1c);
    leaked.c.push(kmem.kmemAlloc(600));
    k.leave();
    k.enter(fns.leak_oversize + 0x30);
    leaked.big.push(kmem.kmemAlloc(200000));
    k.leave();
  }
  return { sys, t: liveTarget(k), kept, leaked, freedBuf, fns };
}

export function mdb(t: Target, cmds: string): { stdout: string; stderr: string; ok: boolean } {
  return runMdb(t, cmds, [], { shellEscapes: true }); // as the mdb command runs them
}
