/*
 * Test helpers: read an arena's segment list straight from simulated memory
 * (as mdb would) and check the structural invariants of vmem.
 */
import assert from 'node:assert/strict';
import type { Kernel } from '../../src/kernel/kernel.js';
import { VMEM_ALLOC, VMEM_FREE, VMEM_ROTOR, VMEM_SPAN, VMEM_WALKER, type VmemArena } from '../../src/vmem/api.js';

export interface Seg {
  addr: number;
  type: number;
  start: number;
  end: number;
  imported: boolean;
}

/** The arena list (vs_anext from vm_seg0), excluding vm_seg0 itself. */
export function segList(k: Kernel, arena: VmemArena): Seg[] {
  const T = k.types;
  const mem = k.mem;
  const so = (m: string) => T.offsetof('vmem_seg_t', m);
  const seg0 = arena.addr + T.offsetof('vmem_t', 'vm_seg0');
  const out: Seg[] = [];
  let n = 0;
  for (let v = mem.loadPtr(seg0 + so('vs_anext')); v !== seg0; v = mem.loadPtr(v + so('vs_anext'))) {
    if (++n > 1_000_000) throw new Error('arena list does not terminate');
    out.push({
      addr: v,
      type: mem.load8(v + so('vs_type')),
      start: mem.loadPtr(v + so('vs_start')),
      end: mem.loadPtr(v + so('vs_end')),
      imported: mem.load8(v + so('vs_import')) !== 0,
    });
  }
  return out;
}

export function kstat(k: Kernel, arena: VmemArena, name: string): number {
  return k.mem.load64n(arena.addr + k.types.offsetof('vmem_t', 'vm_kstat.' + name));
}

function roundup(x: number, q: number): number {
  return Math.ceil(x / q) * q;
}

/**
 * Structural invariants: spans tile into ALLOC/FREE segments in address
 * order; no two free segments are adjacent unless the rotor sits between
 * them; each free segment is on the freelist its size selects and the
 * freemap agrees; ALLOC segments are on the hash chains; kstats match.
 */
export function checkArena(k: Kernel, arena: VmemArena): void {
  const T = k.types;
  const mem = k.mem;
  const P = k.model.ptrSize;
  const q = arena.quantum;
  const segs = segList(k, arena);
  let total = 0;
  let imported = 0;
  let inuse = 0;
  let cur: Seg | undefined; // current span
  let pos = 0;
  let prevFree = false;
  let rotorSeen = 0;
  for (const s of segs) {
    if (s.type === VMEM_SPAN) {
      if (cur) assert.equal(pos, cur.end, `span ${cur.start} not tiled`);
      cur = s;
      pos = s.start;
      total += s.end - s.start;
      if (s.imported) imported += s.end - s.start;
      prevFree = false;
      continue;
    }
    if (s.type === VMEM_ROTOR) {
      rotorSeen++;
      prevFree = false;
      continue; // the rotor may separate two free segments
    }
    if (s.type === VMEM_WALKER) continue;
    assert.ok(cur, 'segment before any span');
    assert.equal(s.start, pos, `gap or overlap at ${s.start}`);
    if (s.type === VMEM_FREE) {
      assert.ok(!prevFree, `adjacent free segments at ${s.start}`);
      assert.equal((s.end - s.start) % q, 0);
      pos = s.end;
      prevFree = true;
    } else {
      assert.equal(s.type, VMEM_ALLOC, `bad segment type ${s.type}`);
      inuse += s.end - s.start;
      pos = s.start + roundup(s.end - s.start, q);
      prevFree = false;
    }
    assert.ok(pos <= cur.end, 'segment beyond its span');
  }
  if (cur) assert.equal(pos, cur.end, `span ${cur.start} not tiled`);
  assert.equal(rotorSeen, 1, 'exactly one rotor');
  assert.equal(kstat(k, arena, 'vk_mem_total'), total, 'mem_total');
  assert.equal(kstat(k, arena, 'vk_mem_import'), imported, 'mem_import');
  assert.equal(kstat(k, arena, 'vk_mem_inuse'), inuse, 'mem_inuse');

  // Freelists and freemap.
  const so = (m: string) => T.offsetof('vmem_seg_t', m);
  const fl = arena.addr + T.offsetof('vmem_t', 'vm_freelist');
  const flSize = T.size('vmem_freelist_t');
  const nfl = P * 8;
  const fmAddr = arena.addr + T.offsetof('vmem_t', 'vm_freemap');
  const fmLo = mem.load32(fmAddr);
  const fmHi = P === 8 ? mem.load32(fmAddr + 4) : 0;
  const onFreelist = new Set<number>();
  for (let i = 0; i < nfl; i++) {
    const head = fl + i * flSize;
    const next = fl + (i + 1) * flSize;
    let n = 0;
    for (let v = mem.loadPtr(head + so('vs_knext')); v !== next; v = mem.loadPtr(v + so('vs_knext'))) {
      const size = mem.loadPtr(v + so('vs_end')) - mem.loadPtr(v);
      assert.ok(size >= 2 ** i && size < 2 ** (i + 1), `seg of size ${size} on freelist ${i}`);
      assert.equal(mem.load8(v + so('vs_type')), VMEM_FREE);
      onFreelist.add(v);
      n++;
    }
    const bit = i < 32 ? (fmLo >>> i) & 1 : (fmHi >>> (i - 32)) & 1;
    assert.equal(bit, n > 0 ? 1 : 0, `freemap bit ${i}`);
  }
  const frees = segs.filter((s) => s.type === VMEM_FREE);
  assert.equal(onFreelist.size, frees.length, 'every free segment is on a freelist');
  for (const f of frees) assert.ok(onFreelist.has(f.addr));

  // Hash chains hold exactly the ALLOC segments.
  const table = mem.loadPtr(arena.addr + T.offsetof('vmem_t', 'vm_hash_table'));
  const mask = mem.loadPtr(arena.addr + T.offsetof('vmem_t', 'vm_hash_mask'));
  const hashed = new Set<number>();
  for (let h = 0; h <= mask; h++) {
    for (let v = mem.loadPtr(table + h * P); v !== 0; v = mem.loadPtr(v + so('vs_knext'))) hashed.add(v);
  }
  const allocs = segs.filter((s) => s.type === VMEM_ALLOC);
  assert.equal(hashed.size, allocs.length, 'hash holds every allocated segment');
  for (const a of allocs) assert.ok(hashed.has(a.addr));
}
