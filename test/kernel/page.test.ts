/*
 * The physical page accounting (src/kernel/page.ts), checked on the bytes of
 * a booted system in both data models: every mapped page of the kernel's
 * backed segments has a page_t on page_hash, mapping and unmapping create
 * and destroy them, and freed frames are reused.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem } from '../../src/system.js';
import { P_FREE } from '../../src/abi/kernel-vm.js';
import type { Kernel } from '../../src/kernel/kernel.js';

function pf(k: Kernel, pp: number, m: string): number {
  const at = pp + k.types.offsetof('page_t', m);
  return m === 'p_offset' ? k.mem.load64n(at) : m === 'p_state' ? k.mem.load8(at) : k.mem.loadPtr(at);
}

/** Mapped pages of the segments that are physical memory, counted from the memory's own protections. */
function mappedKernelPages(k: Kernel): number {
  let n = 0;
  for (const s of k.mem.segments()) {
    if (!['text', 'data', 'module_map', 'segkp', 'heap'].includes(s.name)) continue;
    for (let i = 0; i < s.prot.length; i += k.pageSize / 4096) if (s.prot[i] !== 0) n++;
  }
  return n;
}

/** The page_t's on page_hash, by virtual address. */
function hashed(k: Kernel): Map<number, number> {
  const out = new Map<number, number>();
  const hash = k.mem.loadPtr(k.addr('page_hash'));
  const n = k.mem.loadPtr(k.addr('page_hashsz'));
  for (let b = 0; b < n; b++) {
    for (let pp = k.mem.loadPtr(hash + b * k.model.ptrSize); pp !== 0; pp = pf(k, pp, 'p_hash')) out.set(pf(k, pp, 'p_offset'), pp);
  }
  return out;
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: every mapped kernel page has a page_t on page_hash; mapping and unmapping follow`, () => {
    const sys = bootSystem({ model, seed: 1, heapSize: 32 << 20 });
    const { k, kmem } = sys;
    const pages = k.pages!;
    assert.equal(pages.pagesInUse, mappedKernelPages(k));
    const before = hashed(k);
    assert.equal(before.size, pages.pagesInUse);
    const kvp = k.addr('kvp');
    for (const pp of before.values()) assert.equal(pf(k, pp, 'p_vnode'), kvp);
    assert.equal(k.mem.loadPtr(k.addr('physmem')), (k.layout.textSize + k.layout.dataSize + k.layout.moduleSize + k.layout.segkpSize + k.heapSize) / k.pageSize);
    // an oversize allocation maps its pages; freeing it unmaps them and frees their frames
    const size = 256 << 10;
    const big = kmem.kmemAlloc(size);
    const after = hashed(k);
    assert.equal(pages.pagesInUse, mappedKernelPages(k));
    for (let va = big; va < big + size; va += k.pageSize) assert.ok(after.has(va) && !before.has(va), `page 0x${va.toString(16)}`);
    const last = after.get(big + size - k.pageSize)!;
    assert.equal(pages.pageOf(pf(k, last, 'p_pagenum')), last);
    kmem.kmemFree(big, size);
    assert.equal(pages.pagesInUse, mappedKernelPages(k));
    const now = hashed(k);
    for (let va = big; va < big + size; va += k.pageSize) assert.ok(!now.has(va));
    assert.equal(pf(k, last, 'p_state'), P_FREE);
    assert.equal(pf(k, last, 'p_vnode'), 0);
    // the next page mapped takes the frame freed last
    const again = kmem.kmemAlloc(size);
    assert.equal(pf(k, last, 'p_vnode'), kvp);
    assert.equal(pf(k, last, 'p_offset'), again);
  });
}
