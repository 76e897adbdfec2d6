/* Helpers for dump tests: a small kernel with varied memory, and temp dirs. */
import { Kernel } from '../../src/kernel/kernel.js';
import { PROT_READ } from '../../src/machine/memory.js';
import type { ModelName } from '../../src/machine/memory.js';
import type { Target, TargetRange } from '../../src/target/target.js';

import { tmpDir } from '../tmp.js';

export { tmpDir };

/**
 * A kernel with functions, globals, threads, a loaded and an unloaded
 * module, and heap pages mapped in random runs (some read-only) filled with
 * seeded data.
 */
export function busyKernel(model: ModelName, seed: number): Kernel {
  const k = new Kernel({ model, seed, heapSize: 8 << 20 });
  const r = k.rand;
  const f = k.fns({ kmem_cache_alloc: 0x200, kmem_cache_free: 0x180, pool_destroy: 0x300 });
  const g = k.global('kmem_flags', 'int');
  k.mem.store32(g, 0x0000000f);
  const list = k.global('test_list', 'uintptr_t [64]');
  for (let i = 0; i < 3; i++) k.createThread(`worker${i}`);
  const ps = k.pageSize;
  const heapPages = k.heapSize / ps;
  let p = 0;
  let n = 0;
  while (p < heapPages) {
    const run = 1 + r.below(12);
    if (r.below(3) !== 0 && p + run <= heapPages) {
      const base = k.layout.heapBase + p * ps;
      k.mem.map(base, run * ps);
      for (let i = 0; i < run * ps; i += 4) if (r.below(4) === 0) k.mem.store32(base + i, r.u32());
      if (n < 64) k.mem.storePtr(list + n++ * k.model.ptrSize, base);
      if (r.below(5) === 0) k.mem.protect(base, run * ps, PROT_READ);
    }
    p += run + r.below(4);
  }
  // a module that is loaded and one that came and went
  const L = k.layout;
  for (const [name, off, unload] of [['zfs', 0, false], ['nfs', 0x10000, true]] as const) {
    const base = L.moduleBase + off;
    k.mem.map(base, 0x4000);
    k.mem.fill32(base, 0x4000, 0xcccccccc);
    const syms = [
      { name: `${name}_init`, value: base, size: 0x80, kind: 'func' as const },
      { name: `${name}_state`, value: base + 0x2000, size: 0x40, kind: 'object' as const },
    ];
    k.addModuleSymbols(name, syms);
    const rec = { name, base, size: 0x4000, textSize: 0x2000, loadTime: k.gethrtime(), symbols: syms.map((s) => ({ ...s, module: name })) } as {
      name: string;
      base: number;
      size: number;
      textSize: number;
      loadTime: number;
      unloadTime?: number;
      symbols: typeof syms;
    };
    k.moduleHistory.push(rec);
    if (unload) {
      k.removeModuleSymbols(name, base, 0x4000);
      k.mem.unmap(base, 0x4000);
      rec.unloadTime = k.gethrtime();
    }
  }
  k.enter(f.pool_destroy + 0x10);
  k.enter(f.kmem_cache_alloc + 0x3c);
  return k;
}

/** Ranges merged across adjacency (targets may split differently). */
export function mergedRanges(t: Target): TargetRange[] {
  const out: TargetRange[] = [];
  for (const r of t.ranges()) {
    const last = out[out.length - 1];
    if (last && last.base + last.size === r.base) out[out.length - 1] = { base: last.base, size: last.size + r.size };
    else out.push({ base: r.base, size: r.size });
  }
  return out;
}
