import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel, KernelPanic } from '../../src/kernel/kernel.js';
import type { ModelName } from '../../src/machine/memory.js';
import { hex } from '../../src/machine/addr.js';
import {
  VM_BESTFIT,
  VM_ENDALLOC,
  VM_FIRSTFIT,
  VM_NEXTFIT,
  VM_NOSLEEP,
  VM_PANIC,
  VM_SLEEP,
  VMC_IDENTIFIER,
  VMEM_ALLOC,
  VMEM_FREE,
  VMEM_SPAN,
  type QcacheHandle,
  type QcacheProvider,
  type VmemArena,
} from '../../src/vmem/api.js';
import { vmemInit, vmemOf, VMEM_REENTRANT, type Vmem } from '../../src/vmem/vmem.js';
import { checkArena, kstat, segList } from './helpers.js';

const MODELS: ModelName[] = ['lp64', 'ilp32'];

function boot(model: ModelName = 'lp64', audit = false): { k: Kernel; v: Vmem } {
  const k = new Kernel({ model, heapSize: 64 << 20 });
  const v = vmemInit(k, { audit });
  return { k, v };
}

/** A VA-only arena over an unreserved range (vmem never touches the range). */
function vaArena(k: Kernel, v: Vmem, name: string, size: number, quantum = 4096): VmemArena {
  const base = k.model.ptrSize === 8 ? -0x20000000000 : 0x10000000;
  return v.create(name, base, size, quantum, undefined, undefined, undefined, 0, VM_SLEEP)!;
}

function panics(fn: () => unknown, msg: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelPanic, `expected a panic, got ${String(e)}`);
    if (typeof msg === 'string') assert.equal(e.panicMessage, msg);
    else assert.match(e.panicMessage, msg);
    return true;
  });
}

for (const model of MODELS) {
  test(`${model}: vmem_seg_t and vmem_t layouts`, () => {
    const { k, v } = boot(model);
    const T = k.types;
    const P = k.model.ptrSize;
    const o = (m: string) => T.offsetof('vmem_seg_t', m);
    assert.deepEqual(
      ['vs_start', 'vs_end', 'vs_knext', 'vs_kprev', 'vs_anext', 'vs_aprev'].map(o),
      [0, 1, 2, 3, 4, 5].map((i) => i * P),
    );
    assert.equal(o('vs_type'), 6 * P);
    assert.equal(o('vs_import'), 6 * P + 1);
    assert.equal(o('vs_depth'), 6 * P + 2);
    if (P === 8) {
      assert.deepEqual([o('vs_thread'), o('vs_timestamp'), o('vs_stack'), T.size('vmem_seg_t')], [56, 64, 72, 232]);
    } else {
      assert.deepEqual([o('vs_thread'), o('vs_timestamp'), o('vs_stack'), T.size('vmem_seg_t')], [28, 32, 40, 120]);
    }
    assert.equal(v.segSize, o('vs_thread'), 'vmem_seg_size without KMF_AUDIT');
    assert.equal(k.mem.loadPtr(k.addr('vmem_seg_size')), v.segSize);
    assert.equal(T.sizeof(T.member(T.mustFind('vmem_t'), 'vm_freelist').type), (P * 8 + 1) * 4 * P);
    assert.equal(T.offsetof('vmem_t', 'vm_kstat.vk_contains_search') - T.offsetof('vmem_t', 'vm_kstat'), 13 * 8);
  });

  test(`${model}: vmem_init builds heap and vmem's metadata arenas on vmem_list`, () => {
    const { k, v } = boot(model);
    assert.deepEqual(
      v.arenas().map((a) => `${a.id}:${a.name}<${a.source?.name ?? ''}`),
      ['1:heap<', '2:vmem_metadata<heap', '3:vmem_seg<vmem_metadata', '4:vmem_hash<vmem_metadata', '5:vmem_vmem<vmem_metadata'],
    );
    const heap = v.byName('heap')!;
    assert.equal(heap.addr, k.addr('vmem0'), 'the first vmem_t is static');
    assert.equal(kstat(k, heap, 'vk_mem_total'), 64 << 20);
    assert.equal(k.readString(heap.addr), 'heap');
    assert.ok(heap.contains(k.layout.heapBase, 4096));
    assert.ok(!heap.contains(k.layout.heapBase - 4096, 4096));
    assert.ok(!heap.contains(k.layout.heapBase + (64 << 20) - 4096, 8192));
    // vmem_vmem holds the five static vmem_t's as allocated segments.
    const vv = v.byName('vmem_vmem')!;
    const allocs = segList(k, vv).filter((s) => s.type === VMEM_ALLOC);
    assert.equal(allocs.length, 5);
    assert.equal(allocs[0]!.start, k.addr('vmem0'));
    for (const a of v.arenas()) checkArena(k, a);
    // No heap page is mapped until something imports through segkmem.
    assert.ok(!k.mem.isMapped(k.layout.heapBase));
  });

  test(`${model}: instant fit, coalescing and accounting`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'test', 1 << 20);
    const base = segList(k, a).find((s) => s.type === VMEM_SPAN)!.start;
    const x = a.alloc(4096, VM_SLEEP);
    const y = a.alloc(3 * 4096, VM_SLEEP);
    const z = a.alloc(5000, VM_SLEEP); // not a quantum multiple
    assert.equal(x, base);
    assert.equal(y, base + 4096);
    assert.equal(z, base + 4 * 4096);
    assert.equal(a.size(VMEM_ALLOC), 4096 + 3 * 4096 + 5000);
    assert.equal(a.size(VMEM_FREE), (1 << 20) - a.size(VMEM_ALLOC));
    checkArena(k, a);
    const ends: number[] = [];
    a.walk(VMEM_ALLOC, (s, n) => ends.push(s + n));
    assert.deepEqual(ends, [x + 4096, y + 3 * 4096, z + 5000], 'ALLOC segments keep the requested size');
    a.free(y, 3 * 4096);
    checkArena(k, a);
    a.free(x, 4096);
    checkArena(k, a);
    a.free(z, 5000);
    checkArena(k, a);
    const segs = segList(k, a);
    assert.deepEqual(
      segs.filter((s) => s.type !== 0x20).map((s) => [s.type, s.start, s.end]),
      [
        [VMEM_SPAN, base, base + (1 << 20)],
        [VMEM_FREE, base, base + (1 << 20)],
      ],
    );
    assert.equal(kstat(k, a, 'vk_alloc'), 3);
    assert.equal(kstat(k, a, 'vk_free'), 3);
    // VM_ENDALLOC takes the end of the segment.
    const e = a.alloc(8192, VM_SLEEP | VM_ENDALLOC);
    assert.equal(e, base + (1 << 20) - 8192);
    a.free(e, 8192);
  });

  test(`${model}: best fit, first fit and next fit`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'fits', 64 * 4096);
    const base = segList(k, a).find((s) => s.type === VMEM_SPAN)!.start;
    const pg = (n: number) => n * 4096;
    // Make holes of 3, 1 and 2 pages separated by allocated pages.
    const xs = [a.alloc(pg(3), 0), a.alloc(pg(1), 0), a.alloc(pg(1), 0), a.alloc(pg(1), 0), a.alloc(pg(2), 0), a.alloc(pg(1), 0)];
    a.free(xs[0]!, pg(3));
    a.free(xs[2]!, pg(1));
    a.free(xs[4]!, pg(2));
    checkArena(k, a);
    const bf = a.alloc(pg(1), VM_BESTFIT);
    assert.equal(bf, xs[2], 'best fit takes the 1-page hole');
    const ff = a.alloc(pg(2), VM_FIRSTFIT);
    assert.ok(ff === xs[0] || ff === xs[4], 'first fit takes a hole on the first list that fits');
    a.free(bf, pg(1));
    a.free(ff, pg(2));
    for (const i of [1, 3, 5]) a.free(xs[i]!, pg(1));
    checkArena(k, a);
    // Next fit cycles through the arena: a freed address is not reused at once.
    const n1 = a.alloc(pg(1), VM_NEXTFIT);
    a.free(n1, pg(1));
    const n2 = a.alloc(pg(1), VM_NEXTFIT);
    assert.equal(n2, n1 + pg(1));
    const seen = new Set<number>([n1]);
    let last = n2;
    seen.add(n2);
    a.free(n2, pg(1));
    for (let i = 0; i < 62; i++) {
      last = a.alloc(pg(1), VM_NEXTFIT);
      assert.ok(!seen.has(last), 'next fit does not reuse before wrapping');
      seen.add(last);
      a.free(last, pg(1));
      checkArena(k, a);
    }
    assert.equal(seen.size, 64);
    const wrapped = a.alloc(pg(1), VM_NEXTFIT);
    assert.equal(wrapped, base, 'the rotor wraps around');
    a.free(wrapped, pg(1));
    checkArena(k, a);
  });

  test(`${model}: vmem_xalloc honours align, phase, nocross, min and max`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'x', 1 << 20, 16);
    const base = segList(k, a).find((s) => s.type === VMEM_SPAN)!.start;
    const mod = (x: number, m: number) => ((x % m) + m) % m;
    const live: Array<[number, number]> = [];
    a.alloc(48, 0); // disturb alignment
    for (const [size, align, phase, nocross] of [
      [64, 256, 0, 0],
      [100, 1024, 16, 0],
      [48, 64, 32, 4096],
      [4000, 4096, 0, 4096],
      [200, 0, 0, 256],
      [16, 16, 0, 0],
    ] as const) {
      const p = a.xalloc(size, align, phase, nocross, 0, 0, VM_SLEEP);
      assert.notEqual(p, 0);
      assert.equal(mod(p, align || 16), phase, `phase of ${hex(p)}`);
      if (nocross) assert.equal(Math.floor(p / nocross), Math.floor((p + size - 1) / nocross), 'crosses a nocross boundary');
      live.push([p, size]);
    }
    const lo = base + 0x40000;
    const hi = base + 0x50000;
    for (let i = 0; i < 20; i++) {
      const p = a.xalloc(0x1000, 0x1000, 0, 0, lo, hi, VM_NOSLEEP);
      assert.ok(p >= lo && p + 0x1000 <= hi, 'inside [min, max)');
      if (i < 16) live.push([p, 0x1000]);
      else assert.fail('more than fits in [min, max)');
      if (i === 15) {
        assert.equal(a.xalloc(0x1000, 0x1000, 0, 0, lo, hi, VM_NOSLEEP), 0, 'range exhausted');
        assert.equal(kstat(k, a, 'vk_fail'), 1);
        break;
      }
    }
    checkArena(k, a);
    for (const [p, s] of live) a.xfree(p, s);
    checkArena(k, a);
    assert.equal(a.size(VMEM_ALLOC), 48);
  });

  test(`${model}: bad frees and bad arguments panic with illumos's messages`, () => {
    const mk = () => {
      const { k, v } = boot(model);
      return { k, a: vaArena(k, v, 'p', 1 << 20) };
    };
    {
      const { k, a } = mk();
      const x = a.alloc(8192, 0);
      panics(() => a.free(x + 4096, 4096), `vmem_hash_delete(${hex(a.addr)}, ${hex(x + 4096)}, 4096): bad free`);
      assert.equal(k.readString(k.addr('panicstr')), k.panicMessage);
    }
    {
      const { a } = mk();
      const x = a.alloc(8192, 0);
      panics(() => a.free(x, 4096), `vmem_hash_delete(${hex(a.addr)}, ${hex(x)}, 4096): wrong size (expect 8192)`);
    }
    {
      const { a } = mk();
      const x = a.alloc(8192, 0);
      a.free(x, 8192);
      panics(() => a.free(x, 8192), /: bad free$/);
    }
    const pre = (a: VmemArena, rest: string) => `vmem_xalloc(${hex(a.addr)}, ${rest}`;
    {
      const { a } = mk();
      panics(() => a.xalloc(4096, 100, 0, 0, 0, 0, 0), pre(a, '4096, 100, 0, 0, 0, 0, 0): parameters not vm_quantum aligned'));
    }
    {
      const { a } = mk();
      panics(() => a.xalloc(8192, 8192, 0, 4096, 0, 0, 1), pre(a, '8192, 8192, 0, 4096, 0, 0, 1): overconstrained allocation'));
    }
    {
      const { a } = mk();
      panics(() => a.xalloc(4096, 4096, 4096, 0, 0, 0, 0), pre(a, '4096, 4096, 4096, 0, 0, 0, 0): parameters inconsistent or invalid'));
    }
    {
      const { a } = mk();
      panics(() => a.xalloc(4096, 3 * 4096, 0, 0, 0, 0, 0), /parameters inconsistent or invalid$/);
    }
    {
      const { a } = mk();
      panics(() => a.xalloc(0, 0, 0, 0, 0, 0, 0), 'vmem_xalloc(): size == 0');
    }
    {
      const { a } = mk();
      panics(() => a.add(0, 4096, 0), `vmem_add(${hex(a.addr)}, 0, 4096): bad arguments`);
    }
    {
      const { a } = mk();
      panics(() => a.add(0x7000000, 0, 0), `vmem_add(${hex(a.addr)}, 7000000, 0): bad arguments`);
    }
    {
      const { a } = mk();
      panics(
        () => a.xalloc(2 << 20, 0, 0, 0, 0, 0, VM_NOSLEEP | VM_PANIC),
        pre(a, `${2 << 20}, 0, 0, 0, 0, 0, 3): cannot satisfy mandatory allocation`),
      );
    }
    {
      const { a } = mk();
      assert.equal(a.alloc(2 << 20, VM_NOSLEEP), 0);
      panics(() => a.alloc(2 << 20, VM_SLEEP), /arena 'p' exhausted; VM_SLEEP allocation would wait forever$/);
    }
  });

  test(`${model}: importing arenas release fully free spans to their source`, () => {
    const { k, v } = boot(model);
    const src = vaArena(k, v, 'src', 1 << 20);
    const child = v.create('child', 0, 0, 16, v.vmem_alloc, v.vmem_free, src, 0, VM_SLEEP)!;
    assert.equal(kstat(k, child, 'vk_source_id'), src.id);
    assert.equal(k.mem.loadPtr(child.addr + k.types.offsetof('vmem_t', 'vm_source_alloc')), k.addr('vmem_alloc'));
    const a = child.alloc(100, 0);
    const b = child.alloc(5000, 0);
    assert.ok(child.contains(a, 100) && src.contains(a, 100));
    assert.equal(kstat(k, child, 'vk_mem_import'), kstat(k, child, 'vk_mem_total'));
    assert.equal(src.size(VMEM_ALLOC), kstat(k, child, 'vk_mem_import'));
    checkArena(k, child);
    checkArena(k, src);
    child.free(a, 100);
    child.free(b, 5000);
    checkArena(k, child);
    assert.equal(kstat(k, child, 'vk_mem_total'), 0);
    assert.equal(kstat(k, child, 'vk_mem_import'), 0);
    assert.equal(src.size(VMEM_ALLOC), 0);
    assert.deepEqual(
      segList(k, child).map((s) => s.type),
      [0x20],
      'only the rotor is left',
    );
    // VMC_NO_QCACHE sets the minimum import to the qcache slab size.
    const md = v.byName('vmem_metadata')!;
    assert.equal(k.mem.loadPtr(md.addr + k.types.offsetof('vmem_t', 'vm_min_import')), 128 * 1024);
  });

  test(`${model}: segkmem maps imported pages and unmaps them on release`, () => {
    const { k, v } = boot(model);
    const pages = v.create('pages', 0, 0, 4096, v.segkmem_alloc, v.segkmem_free, v.heap, 0, VM_SLEEP)!;
    const x = pages.alloc(3 * 4096, 0);
    assert.ok(x >= k.layout.heapBase && x < k.layout.heapBase + (64 << 20));
    for (let i = 0; i < 3; i++) assert.ok(k.mem.isMapped(x + i * 4096));
    k.mem.store32(x + 3 * 4096 - 4, 0xdeadbeef);
    pages.free(x, 3 * 4096);
    assert.ok(!k.mem.isMapped(x), 'released pages are unmapped');
    assert.equal(v.heap.size(VMEM_ALLOC) % 4096, 0);
  });

  test(`${model}: the hash table rescales every 15 s and frees still find their segments`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'h', 4 << 20);
    const hashTable = () => k.mem.loadPtr(a.addr + k.types.offsetof('vmem_t', 'vm_hash_table'));
    const mask = () => k.mem.loadPtr(a.addr + k.types.offsetof('vmem_t', 'vm_hash_mask'));
    assert.equal(hashTable(), a.addr + k.types.offsetof('vmem_t', 'vm_hash0'));
    const xs: number[] = [];
    for (let i = 0; i < 300; i++) xs.push(a.alloc(4096, 0));
    k.advance(15e9);
    assert.equal(mask() + 1, 256, 'MAX(16, 1 << (highbit(3 * 300 + 4) - 2))');
    const vh = v.byName('vmem_hash')!;
    assert.ok(vh.contains(hashTable(), (mask() + 1) * k.model.ptrSize), 'table comes from vmem_hash');
    checkArena(k, a);
    for (const x of xs.splice(0, 290)) a.free(x, 4096);
    assert.ok(kstat(k, a, 'vk_lookup') < 290 * 2, 'short chains');
    k.advance(15e9);
    assert.equal(mask() + 1, 16);
    checkArena(k, a);
    for (const x of xs) a.free(x, 4096);
    checkArena(k, a);
  });

  test(`${model}: KMF_AUDIT fills vs_thread, vs_timestamp and vs_stack`, () => {
    const { k, v } = boot(model, true);
    const T = k.types;
    assert.equal(v.segSize, T.size('vmem_seg_t'));
    const a = vaArena(k, v, 'audited', 1 << 20);
    const caller = k.fn('pool_get', 0x200);
    k.enter(caller + 0x88);
    const t0 = k.hrtime;
    const x = a.alloc(8192, 0);
    k.leave();
    const seg = segList(k, a).find((s) => s.type === VMEM_ALLOC && s.start === x)!;
    const o = (m: string) => seg.addr + T.offsetof('vmem_seg_t', m);
    const depth = k.mem.load8(o('vs_depth'));
    const stack = Array.from({ length: depth }, (_, i) => k.symbolize(k.mem.loadPtr(o('vs_stack') + i * k.model.ptrSize)));
    assert.deepEqual(stack, ['vmem_hash_insert+0x8c', 'vmem_seg_alloc+0xb4', 'vmem_alloc+0x4c', 'pool_get+0x88']);
    assert.equal(k.mem.loadPtr(o('vs_thread')), k.cur.addr);
    assert.ok(k.mem.load64n(o('vs_timestamp')) > t0);
    a.free(x, 8192);
  });

  test(`${model}: vmem_walk, vmem_contains and vmem_destroy`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'w', 1 << 20);
    const xs = [a.alloc(4096, 0), a.alloc(8192, 0), a.alloc(4096, 0)];
    a.free(xs[1]!, 8192);
    const got: string[] = [];
    a.walk(VMEM_ALLOC | VMEM_FREE, (s, n) => got.push(`${s - xs[0]!}+${n}`));
    assert.deepEqual(got, ['0+4096', '4096+8192', '12288+4096', `16384+${(1 << 20) - 16384}`]);
    // A reentrant walk may free what it visits.
    a.walk(VMEM_ALLOC | VMEM_REENTRANT, (s, n) => a.free(s, n));
    assert.equal(a.size(VMEM_ALLOC), 0);
    checkArena(k, a);
    assert.ok(a.contains(xs[0]!, 1 << 20));
    assert.ok(!a.contains(xs[0]!, (1 << 20) + 1));
    assert.equal(kstat(k, a, 'vk_contains'), 2);
    const leak = a.alloc(3 * 4096, 0);
    assert.ok(leak);
    const id = v.create('ids', 1, 1000, 1, undefined, undefined, undefined, 0, VM_SLEEP | VMC_IDENTIFIER)!;
    id.alloc(1, VM_NEXTFIT);
    id.alloc(1, VM_NEXTFIT);
    const nlist = v.arenas().length;
    a.destroy();
    id.destroy();
    assert.match(k.messages(), /WARNING: vmem_destroy\('w'\): leaked 12288 bytes\n/);
    assert.match(k.messages(), /WARNING: vmem_destroy\('ids'\): leaked 2 identifiers\n/);
    assert.equal(v.arenas().length, nlist - 2);
    assert.equal(v.byName('w'), undefined);
    // The vmem_t is reused by the next arena.
    const again = v.create('again', 0, 0, 4096, undefined, undefined, undefined, 0, VM_SLEEP)!;
    assert.ok(again.addr === a.addr || again.addr === id.addr);
    for (const ar of v.arenas()) checkArena(k, ar);
  });

  test(`${model}: segments come from vmem_seg once the static pool is gone`, () => {
    const { k, v } = boot(model);
    const a = vaArena(k, v, 'many', 16 << 20);
    const xs: number[] = [];
    // Every other page allocated: one ALLOC and one FREE segment each.
    for (let i = 0; i < 600; i++) xs.push(a.alloc(8192, 0));
    for (let i = 0; i < xs.length; i += 2) a.free(xs[i]!, 8192);
    const vs = v.byName('vmem_seg')!;
    assert.ok(vs.size(VMEM_ALLOC) > 0, 'vmem_seg supplied segments');
    assert.ok(k.mem.isMapped(segList(k, vs).find((s) => s.type === VMEM_ALLOC)!.start), 'vmem_seg pages are mapped');
    assert.equal(kstat(k, a, 'vk_populate_fail'), 0);
    const segs = segList(k, a);
    assert.ok(segs.some((s) => s.addr >= k.layout.heapBase && s.addr < k.layout.heapBase + (64 << 20)));
    for (const ar of v.arenas()) checkArena(k, ar);
    for (let i = 1; i < xs.length; i += 2) a.free(xs[i]!, 8192);
    checkArena(k, a);
  });

  test(`${model}: quantum caches appear when the provider is installed`, () => {
    const { k, v } = boot(model);
    const made: string[] = [];
    const provider: QcacheProvider = {
      create(arena, name, size, align, slabSize): QcacheHandle {
        made.push(`${name}/${size}/${align}/${slabSize}`);
        const addr = k.fn(`fake_cache_${name}`, 16);
        return {
          addr,
          alloc: (fl) => arena.xalloc(size, 0, 0, 0, 0, 0, fl),
          free: (p) => arena.xfree(p, size),
          destroy: () => undefined,
        };
      },
    };
    const early = v.create('early', 0, 0, 4096, v.vmem_alloc, v.vmem_free, v.heap, 4 * 4096, VM_SLEEP)!;
    const qmax = () => k.mem.loadPtr(early.addr + k.types.offsetof('vmem_t', 'vm_qcache_max'));
    assert.equal(qmax(), 0, 'no quantum caches before kmem is ready');
    const x = early.alloc(8192, 0);
    early.free(x, 8192);
    const before = early.alloc(8192, 0); // a segment-layer allocation of a qcache size
    v.setQcacheProvider(provider);
    assert.deepEqual(made, ['early_4096/4096/4096/65536', 'early_8192/8192/4096/65536', 'early_12288/12288/4096/65536', 'early_16384/16384/4096/65536']);
    assert.equal(qmax(), 16384);
    assert.equal(k.mem.loadPtr(early.addr + k.types.offsetof('vmem_t', 'vm_qcache') + k.model.ptrSize), k.addr('fake_cache_early_8192'));
    const fromCache = early.alloc(8192, 0);
    early.free(before, 8192); // still freed to the segment layer: no bad free
    early.free(fromCache, 8192);
    assert.equal(early.size(VMEM_ALLOC), 0);
    const late = v.create('late', 0, 0, 4096, v.vmem_alloc, v.vmem_free, v.heap, 2 * 4096, VM_SLEEP)!;
    assert.equal(made.length, 6, 'arenas created afterwards get caches at once');
    const y = late.alloc(8192, 0);
    late.free(y, 8192);
    assert.equal(vmemOf(k), v);
  });
}
