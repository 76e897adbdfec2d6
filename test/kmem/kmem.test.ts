/*
 * kmem unit tests: layouts, per-cache flags and geometry (spec §1.4, §3.8),
 * the depot working set and reaping, hash rescaling, magazine resizing on
 * contention, constructors/destructors/reclaim, kmem_alloc edge cases, logs
 * and audit chains, LITE, mtbf, and a long random workload under 0xf that
 * must run clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem, type System } from '../../src/system.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { declareKmemTypes, KMC_NOHASH, KMC_NOTOUCH, KMC_QCACHE, KMF_AUDIT, KMF_HASH, KMF_LITE, KMF_NOMAGAZINE, KM_NOSLEEP } from '../../src/abi/kmem-impl.js';
import { hex } from '../../src/machine/addr.js';

function boot(model: 'lp64' | 'ilp32', flags: number, extra: { ncpus?: number } = {}): System {
  return bootSystem({ model, kmemFlags: flags, heapSize: 96 << 20, kmemLogSize: 512 << 10, kmemPanic: -1, ...extra });
}

test('layouts: illumos sizes and offsets in both data models', () => {
  const k64 = new Kernel({ model: 'lp64', ncpus: 4 });
  declareKmemTypes(k64.types, 4);
  const T = k64.types;
  assert.equal(T.size('kmem_bufctl_t'), 24);
  assert.equal(T.size('kmem_bufctl_audit_t'), 192);
  assert.equal(T.offsetof('kmem_bufctl_audit_t', 'bc_stack'), 72);
  assert.equal(T.size('kmem_buftag_t'), 24);
  assert.equal(T.size('kmem_slab_t'), 72);
  assert.equal(T.size('kmem_cpu_cache_t'), 64);
  const k32 = new Kernel({ model: 'ilp32', ncpus: 2 });
  declareKmemTypes(k32.types, 2);
  const U = k32.types;
  assert.equal(U.size('kmem_bufctl_t'), 12);
  assert.equal(U.size('kmem_bufctl_audit_t'), 100);
  assert.equal(U.size('kmem_buftag_t'), 16);
  assert.equal(U.size('kmem_slab_t'), 40);
  assert.equal(U.size('kmem_cpu_cache_t'), 64);
});

test('kmem_caches: metadata caches first; cache_cpu is 64-byte aligned; globals exist', () => {
  const s = boot('lp64', 0);
  const names = s.kmem.caches().map((c) => c.name);
  assert.deepEqual(names.slice(0, 12), [
    'kmem_magazine_1', 'kmem_magazine_3', 'kmem_magazine_7', 'kmem_magazine_15', 'kmem_magazine_31', 'kmem_magazine_47',
    'kmem_magazine_63', 'kmem_magazine_95', 'kmem_magazine_143', 'kmem_slab_cache', 'kmem_bufctl_cache', 'kmem_bufctl_audit_cache',
  ]);
  assert.ok(names.indexOf('kmem_va_4096') < names.indexOf('kmem_alloc_8'), 'quantum caches precede kmem_alloc caches');
  assert.ok(names.includes('kmem_alloc_131072'));
  for (const c of s.kmem.caches()) assert.equal(((c.addr + s.kmem.offsets().cache_cpu!) % 64 + 64) % 64, 0);
  for (const g of ['kmem_flags', 'kmem_caches', 'kmem_panic_info', 'kmem_transaction_log', 'kmem_alloc_table', 'kmem_magtype', 'kmem_ready']) assert.ok(s.k.sym(g), g);
  assert.equal(s.k.mem.load32(s.k.addr('kmem_ready')), 1);
});

test('per-cache flags and geometry (spec §1.4, §3.8 worked examples)', () => {
  const s0 = boot('lp64', 0);
  const a24 = s0.kmem.cacheStats(s0.kmem.cacheByName('kmem_alloc_24')!.addr);
  assert.equal(a24.chunksize, 24);
  assert.equal(a24.slabsize, 4096);
  const b = s0.kmem.kmemAlloc(24, 0);
  const sl = s0.kmem.slabsOf(s0.kmem.cacheByName('kmem_alloc_24')!.addr);
  assert.equal(sl[0]!.chunks, 167);
  assert.ok(b >= sl[0]!.base);
  const sf = boot('lp64', 0xf);
  const f24 = sf.kmem.cacheStats(sf.kmem.cacheByName('kmem_alloc_24')!.addr);
  assert.equal(f24.flags, 0x20f);
  assert.equal(f24.chunksize, 48);
  sf.kmem.kmemAlloc(24, 0);
  assert.equal(sf.kmem.slabsOf(sf.kmem.cacheByName('kmem_alloc_24')!.addr)[0]!.chunks, 85);
  // magazine caches: KMC_NOHASH keeps BUFTAG, never AUDIT
  const mag = sf.kmem.cacheStats(sf.kmem.cacheByName('kmem_magazine_15')!.addr);
  assert.equal(mag.flags, 0x6);
  assert.equal(mag.cflags, KMC_NOHASH);
  // quantum caches: NOTOUCH (no buftag); AUDIT forces HASH and NOMAGAZINE
  const qc = sf.kmem.cacheStats(sf.kmem.cacheByName('kmem_va_8192')!.addr);
  assert.equal(qc.cflags, KMC_QCACHE | KMC_NOTOUCH);
  assert.equal(qc.flags, KMF_AUDIT | KMF_NOMAGAZINE | KMF_HASH);
  // firewall on LP64 from kmem_minfirewall (2048) up; none on ILP32
  assert.equal(sf.kmem.cacheStats(sf.kmem.cacheByName('kmem_alloc_2048')!.addr).flags, 0x269);
  const s32 = boot('ilp32', 0xf);
  assert.equal(s32.kmem.cacheStats(s32.kmem.cacheByName('kmem_alloc_2048')!.addr).flags, 0x20f);
  // LITE: buftag + history, no debugging for multiples of 1024
  const sl1 = boot('lp64', 0x100);
  assert.equal(sl1.kmem.cacheStats(sl1.kmem.cacheByName('kmem_alloc_24')!.addr).flags, KMF_LITE | 0x6);
  assert.equal(sl1.kmem.cacheStats(sl1.kmem.cacheByName('kmem_alloc_1024')!.addr).flags & 0x16f, 0);
  // align < 8 forces NOTOUCH
  const c = sf.kmem.cacheCreate('odd', 13, { align: 1 });
  assert.equal(sf.kmem.cacheStats(c.addr).cflags & KMC_NOTOUCH, KMC_NOTOUCH);
  assert.match(sf.k.messages(), /High-overhead kmem debugging features enabled \(kmem_flags = 0xf\)/);
});

test('depot working set: a reap frees only magazines unused during the last interval', () => {
  const s = boot('lp64', 0);
  const c = s.kmem.cacheCreate('ws_cache', 64);
  const bufs: number[] = [];
  for (let i = 0; i < 600; i++) bufs.push(c.alloc(0));
  for (const b of bufs) c.free(b);
  let st = s.kmem.cacheStats(c.addr);
  const full0 = st.fullMagazines;
  assert.ok(full0 > 30, 'frees built full magazines');
  s.kmem.reap(); // no update yet: reaplimit is 0
  assert.equal(s.kmem.cacheStats(c.addr).fullMagazines, full0);
  s.k.advance(15e9); // kmem_update: reaplimit = min
  s.k.advance(15e9);
  s.kmem.reap();
  st = s.kmem.cacheStats(c.addr);
  assert.equal(st.fullMagazines, 0);
  assert.ok(st.reap >= 2);
  assert.equal(st.bufInuse, 0);
  assert.equal(st.buftotal, st.bufConstructed + st.bufslab);
  // slabs went back to vmem as their last buffer came home
  assert.ok(st.slabDestroy > 0);
});

test('reclaim callback runs on reap; constructors and destructors pair up', () => {
  const s = boot('ilp32', 0);
  let ctors = 0;
  let dtors = 0;
  let reclaims = 0;
  const c = s.kmem.cacheCreate('cb_cache', 48, {
    ctor: (buf) => {
      ctors++;
      s.k.mem.store32(buf, 0xc0ffee);
      return 0;
    },
    dtor: (buf) => {
      assert.equal(s.k.mem.load32(buf), 0xc0ffee);
      dtors++;
    },
    reclaim: () => reclaims++,
    private: 0x1234,
  });
  assert.equal(s.k.symbolize(s.k.mem.loadPtr(c.addr + s.kmem.offsets().cache_constructor!)), 'kmem_ctor_stub');
  const b = c.alloc(0);
  assert.equal(s.k.mem.load32(b), 0xc0ffee);
  c.free(b);
  assert.equal(c.alloc(0), b, 'magazines keep objects constructed');
  assert.equal(ctors, 1);
  c.free(b);
  s.k.advance(30e9);
  s.kmem.reap();
  assert.equal(reclaims, 1);
  c.destroy();
  assert.equal(dtors, ctors);
  // a failing constructor fails the allocation and counts in cache_alloc_fail
  const bad = s.kmem.cacheCreate('bad_ctor', 32, { ctor: () => -1 });
  assert.equal(bad.alloc(KM_NOSLEEP), 0);
  assert.equal(s.kmem.cacheStats(bad.addr).allocFail, 1);
});

test('kmem_cache_destroy of a non-empty cache warns', () => {
  const s = boot('lp64', 0xf);
  const c = s.kmem.cacheCreate('leaky_cache', 200);
  c.alloc(0);
  c.destroy();
  assert.match(s.k.messages(), new RegExp(`WARNING: kmem_cache_destroy: 'leaky_cache' \\(${hex(c.addr)}\\) not empty`));
  assert.equal(s.kmem.cacheByName('leaky_cache'), undefined);
});

test('hash tables rescale in kmem_update', () => {
  const s = boot('lp64', 0xf);
  const c = s.kmem.cacheCreate('hash_cache', 200);
  assert.equal(s.kmem.cacheStats(c.addr).hashSize, 64);
  const bufs: number[] = [];
  for (let i = 0; i < 2000; i++) bufs.push(c.alloc(0));
  s.k.advance(15e9);
  const st = s.kmem.cacheStats(c.addr);
  assert.equal(st.rescale, 1);
  assert.ok(st.hashSize >= 1024, `hash size ${st.hashSize}`);
  for (const b of bufs) c.free(b);
  assert.equal(s.kmem.errors.length, 0);
});

test('depot contention between CPUs grows the magazine size', () => {
  const s = boot('lp64', 0, { ncpus: 2 });
  const c = s.kmem.cacheCreate('hot_cache', 64);
  assert.equal(s.kmem.cacheStats(c.addr).magazineSize, 15);
  const t1 = s.k.createThread('cpu1_worker', 1);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 40; i++) a.push(c.alloc(0));
    s.k.runAs(t1, () => {
      for (let i = 0; i < 40; i++) b.push(c.alloc(0));
    });
    for (const x of a.splice(0)) c.free(x);
    s.k.runAs(t1, () => {
      for (const x of b.splice(0)) c.free(x);
    });
  }
  assert.ok(s.kmem.cacheStats(c.addr).depotContention > 3);
  s.k.advance(15e9);
  const st = s.kmem.cacheStats(c.addr);
  assert.equal(st.magazineSize, 31);
  assert.equal(st.bufInuse, 0);
});

test('kmem_alloc: zero size, oversize, kmem_zalloc', () => {
  const s = boot('lp64', 0);
  assert.equal(s.kmem.kmemAlloc(0, KM_NOSLEEP), 0);
  assert.equal(s.kmem.kmemAlloc(0, 0), 0);
  assert.match(s.k.messages(), /WARNING: kmem_alloc\(\): sleeping allocation with size of 0; see kmem_zerosized_log for details/);
  const big = s.kmem.kmemAlloc(300000, 0);
  assert.notEqual(big, 0);
  s.k.mem.store32(big + 299996, 7);
  s.kmem.kmemFree(big, 300000);
  s.kmem.kmemFree(0, 0);
  const z = s.kmem.kmemZalloc(100, 0);
  for (let o = 0; o < 100; o += 4) assert.equal(s.k.mem.load32(z + o), 0);
});

test('audit: bufctl stacks, transaction log copies and the bc_lastlog chain', () => {
  const s = boot('lp64', 0xf);
  const T = s.k.types;
  const mem = s.k.mem;
  const fn = s.k.fn('pm_autoconfig', 0x800);
  s.k.enter(fn + 0x708);
  const buf = s.kmem.kmemAlloc(100, 0);
  s.kmem.kmemFree(buf, 100);
  const again = s.kmem.kmemAlloc(100, 0);
  assert.equal(again, buf);
  const cp = s.kmem.cacheByName('kmem_alloc_112')!.addr;
  const btp = buf + s.kmem.cacheStats(cp).chunksize - 24;
  const bcp = mem.loadPtr(btp + 8);
  const o = (m: string) => T.offsetof('kmem_bufctl_audit_t', m);
  assert.equal(mem.loadPtr(bcp + o('bc_addr')), buf);
  assert.equal(mem.load32(bcp + o('bc_depth')), 3);
  assert.deepEqual([0, 1, 2].map((i) => s.k.symbolize(mem.loadPtr(bcp + o('bc_stack') + 8 * i)).replace(/\+.*/, '')), ['kmem_cache_alloc', 'kmem_alloc', 'pm_autoconfig']);
  assert.equal(s.k.symbolize(mem.loadPtr(bcp + o('bc_stack') + 16)), 'pm_autoconfig+0x708');
  assert.equal(mem.loadPtr(bcp + o('bc_thread')), s.k.cur.addr);
  // the chain: alloc (now) -> free -> first alloc
  const l3 = mem.loadPtr(bcp + o('bc_lastlog'));
  const l2 = mem.loadPtr(l3 + o('bc_lastlog'));
  const l1 = mem.loadPtr(l2 + o('bc_lastlog'));
  assert.ok(l3 !== 0 && l2 !== 0 && l1 !== 0);
  assert.equal(mem.loadPtr(l1 + o('bc_lastlog')), 0);
  for (const l of [l1, l2, l3]) assert.equal(mem.loadPtr(l + o('bc_addr')), buf);
  assert.equal(s.k.symbolize(mem.loadPtr(l2 + o('bc_stack'))).replace(/\+.*/, ''), 'kmem_cache_free');
  const ts = [l1, l2, l3].map((l) => mem.load64n(l + o('bc_timestamp')));
  assert.ok(ts[0]! < ts[1]! && ts[1]! < ts[2]!);
  // the content log kept the freed contents
  const contents = mem.loadPtr(l3 + o('bc_contents'));
  assert.notEqual(contents, 0);
  // the log header: chunks, CPU 0's current chunk holds l3
  const lh = mem.loadPtr(s.k.addr('kmem_transaction_log'));
  const H = (m: string) => T.offsetof('kmem_log_header_t', m);
  const base = mem.loadPtr(lh + H('lh_base'));
  const cs = mem.loadPtr(lh + H('lh_chunksize'));
  const chunk = mem.load32(lh + H('lh_cpu') + T.offsetof('kmem_cpu_log_header_t', 'clh_chunk'));
  assert.ok(l3 >= base + chunk * cs && l3 < base + (chunk + 1) * cs);
  assert.equal(mem.load32(lh + H('lh_nchunks')), 4 * s.k.ncpus);
});

test('the transaction log wraps around its chunks', () => {
  const s = bootSystem({ model: 'ilp32', kmemFlags: 0x1, heapSize: 64 << 20, kmemLogSize: 64 << 10 });
  const c = s.kmem.cacheCreate('logwrap', 32);
  for (let i = 0; i < 3000; i++) c.free(c.alloc(0));
  const lh = s.k.mem.loadPtr(s.k.addr('kmem_transaction_log'));
  const hits = s.k.mem.load32(lh + s.k.types.offsetof('kmem_log_header_t', 'lh_hits'));
  assert.ok(hits > 8, `rotations ${hits}`);
  assert.equal(s.kmem.errors.length, 0);
});

test('LITE: caller history in the buftag, first word checked', () => {
  const s = boot('lp64', 0x100);
  const c = s.kmem.cacheCreate('lite_cache', 40);
  const f1 = s.k.fn('lite_user_a', 0x100);
  const f2 = s.k.fn('lite_user_b', 0x100);
  s.k.enter(f1 + 0x10);
  const b = c.alloc(0);
  s.k.leave();
  s.k.enter(f2 + 0x20);
  c.free(b);
  s.k.leave();
  const st = s.kmem.cacheStats(c.addr);
  assert.equal(st.chunksize, 40 + 24 + 4 * 8);
  const hist = b + 40 + 24;
  assert.equal(s.k.symbolize(s.k.mem.loadPtr(hist)), 'lite_user_b+0x20');
  assert.equal(s.k.symbolize(s.k.mem.loadPtr(hist + 8)), 'lite_user_a+0x10');
  // the first word is checked on reuse from the magazine
  s.k.mem.store32(b, 0);
  c.alloc(0);
  assert.equal(s.kmem.errors.at(-1)?.name, 'MODIFIED');
});

test('mtbf: induced KM_NOSLEEP failures are counted and logged', () => {
  const s = boot('lp64', 0x6);
  const c = s.kmem.cacheCreate('mtbf_cache', 64);
  s.kmem.setMtbf(c.addr, 3);
  let fails = 0;
  const got: number[] = [];
  for (let i = 0; i < 200; i++) {
    const b = c.alloc(KM_NOSLEEP);
    if (b === 0) fails++;
    else got.push(b);
  }
  assert.ok(fails > 20 && fails < 180, `failures ${fails}`);
  assert.equal(s.kmem.cacheStats(c.addr).allocFail, fails);
  for (const b of got) c.free(b);
  // KM_SLEEP allocations never fail
  for (let i = 0; i < 50; i++) assert.notEqual(c.alloc(0), 0);
  assert.equal(s.kmem.errors.length, 0);
});

test('no false positives: a long random workload under 0xf on two CPUs runs clean', () => {
  for (const model of ['lp64', 'ilp32'] as const) {
    const s = boot(model, 0xf);
    s.kmem.setPanic(1);
    const t1 = s.k.createThread('worker1', 1);
    const caches = [s.kmem.cacheCreate('w_a', 24), s.kmem.cacheCreate('w_b', 200, { align: 64 }), s.kmem.cacheCreate('w_c', 3000)];
    const live: Array<{ b: number; size: number; c: number }> = [];
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let step = 0; step < 12000; step++) {
      const work = () => {
        if (live.length > 0 && rnd(100) < 48) {
          const e = live.splice(rnd(live.length), 1)[0]!;
          if (e.c < 0) s.kmem.kmemFree(e.b, e.size);
          else caches[e.c]!.free(e.b);
        } else if (rnd(2) === 0) {
          const size = rnd(10) === 0 ? 1 + rnd(40000) : 1 + rnd(700);
          const b = s.kmem.kmemAlloc(size, 0);
          s.k.mem.store8(b + size - 1, 0x42);
          live.push({ b, size, c: -1 });
        } else {
          const c = rnd(3);
          live.push({ b: caches[c]!.alloc(0), size: 0, c });
        }
      };
      if (step % 7 === 0) s.k.runAs(t1, work);
      else work();
      if (step % 3000 === 2999) {
        s.k.advance(15e9);
        s.kmem.reap();
      }
    }
    for (const e of live) {
      if (e.c < 0) s.kmem.kmemFree(e.b, e.size);
      else caches[e.c]!.free(e.b);
    }
    for (const c of caches) c.destroy();
    assert.equal(s.kmem.errors.length, 0, s.kmem.errors[0]?.text);
    assert.doesNotMatch(s.k.messages(), /not empty|panic/);
  }
});

test('a free that can never get a magazine of the right size (corrupt cc_magsize) ends in the deadman panic, not a hang', () => {
  const { k, kmem } = bootSystem({ model: 'lp64', heapSize: 64 << 20 });
  const c = kmem.cacheCreate('spin', 64);
  const bufs: number[] = [];
  for (let i = 0; i < 200; i++) bufs.push(c.alloc(0));
  const T = k.types;
  const magsizeAt = c.addr + T.offsetof('kmem_cache_t', 'cache_cpu') + T.offsetof('kmem_cpu_cache_t', 'cc_magsize');
  const magsize = k.mem.load16(magsizeAt);
  assert.equal(magsize, 15);
  k.mem.store16(magsizeAt, magsize - 1); // what kmem_cache_magazine_resize never writes
  assert.throws(
    () => {
      for (const b of bufs) c.free(b);
    },
    /deadman: timed out after 50 seconds of clock inactivity/,
  );
  assert.equal(k.panicMessage, 'deadman: timed out after 50 seconds of clock inactivity');
});
