/*
 * kmastat: per-cache and per-arena usage, computed as illumos ::kmastat does
 * (spec §6.4) from the caches' counters, their magazines and their partial
 * slabs, and from the arenas' kstats.
 */

import { hex } from '../../machine/addr.js';
import type { Target } from '../../target/target.js';
import { rd } from './fields.js';
import { KmemView, type WarnFn } from './kmem-view.js';
import { VmemView } from './vmem-view.js';

export interface KmastatCache {
  readonly addr: number;
  readonly name: string;
  readonly bufsize: number;
  readonly inuse: number;
  readonly total: number;
  /** Bytes of slabs: (slab_create - slab_destroy) * slabsize. */
  readonly memory: number;
  readonly alloc: number;
  readonly fail: number;
  readonly arena: number;
}

export interface KmastatArenaTotal {
  readonly arena: number;
  readonly name: string;
  readonly memory: number;
  readonly alloc: number;
  readonly fail: number;
}

export interface KmastatVmem {
  readonly addr: number;
  readonly name: string;
  readonly depth: number;
  readonly inuse: number;
  readonly total: number;
  readonly imported: number;
  readonly alloc: number;
  readonly fail: number;
}

export interface Kmastat {
  readonly caches: KmastatCache[];
  readonly totals: KmastatArenaTotal[];
  readonly arenas: KmastatVmem[];
}

/** Usage of one cache. */
export function kmastatCache(kv: KmemView, c: number): KmastatCache {
  const ci = kv.cache(c);
  let alloc = ci.slabAlloc + ci.fullAlloc;
  let avail = ci.fullTotal * ci.magsize;
  for (const cc of kv.cpuCaches(c)) {
    alloc += cc.alloc;
    if (cc.rounds > 0) avail += cc.rounds;
    if (cc.prounds > 0) avail += cc.prounds;
  }
  for (const s of kv.partialSlabs(c)) {
    try {
      avail += rd(kv.t, s, kv.L.slab_chunks) - rd(kv.t, s, kv.L.slab_refcnt);
    } catch {
      kv.warn(`failed to read slab at ${hex(s)}`);
    }
  }
  return {
    addr: c,
    name: ci.name,
    bufsize: ci.bufsize,
    inuse: ci.buftotal - avail,
    total: ci.buftotal,
    memory: (ci.slabCreate - ci.slabDestroy) * ci.slabsize,
    alloc,
    fail: ci.allocFail,
    arena: ci.arena,
  };
}

export function kmastat(t: Target, warn?: WarnFn): Kmastat {
  const kv = new KmemView(t, warn);
  const vv = new VmemView(t, warn);
  const caches: KmastatCache[] = [];
  for (const c of kv.caches()) {
    try {
      caches.push(kmastatCache(kv, c));
    } catch {
      kv.warn(`failed to read cache at ${hex(c)}`);
    }
  }
  const order = vv.preorder();
  const totals: KmastatArenaTotal[] = [];
  const arenas: KmastatVmem[] = [];
  for (const { addr, depth } of order) {
    const a = vv.arena(addr);
    arenas.push({ addr, name: a.name, depth, inuse: a.inuse, total: a.total, imported: a.imported, alloc: a.alloc, fail: a.fail });
    const mine = caches.filter((c) => c.arena === addr);
    // illumos prints a Total line only for arenas whose caches have allocated
    if (mine.length === 0 || mine.reduce((s, c) => s + c.alloc, 0) === 0) continue;
    totals.push({
      arena: addr,
      name: a.name,
      memory: mine.reduce((s, c) => s + c.memory, 0),
      alloc: mine.reduce((s, c) => s + c.alloc, 0),
      fail: mine.reduce((s, c) => s + c.fail, 0),
    });
  }
  return { caches, totals, arenas };
}
