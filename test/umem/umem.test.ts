/*
 * The umem library API: malloc and friends on an ArrayBuffer and on a
 * growing WebAssembly.Memory, all state in the memory (same calls and seed
 * give the same bytes), out of memory as NULL, leaks found from roots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUmem, EINVAL, MALLOC_MAGIC } from '../../src/umem/umem.js';
import { UMEM_ANCHOR_MAGIC } from '../../src/umem/process.js';
import { umemBytesPerBuffer } from '../../src/umem/footprint.js';
import { umemFindLeaks, umemTarget, umemVerify } from '../../src/umemcheck/analysis.js';

test('malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign, malloc_usable_size', () => {
  const u = createUmem({ memory: new ArrayBuffer(16 << 20) });
  const m = u.memory;
  const p = u.malloc(100);
  assert.ok(p > u.layout.heapBase && p % 8 === 0);
  assert.equal(m.load32(p - 8), 108, 'malloc_size counts the tag');
  assert.equal(m.load32(p - 4), (MALLOC_MAGIC - 108) >>> 0);
  assert.equal(u.malloc_usable_size(p), 100);
  m.fill8(p, 100, 0x5a);
  const q = u.realloc(p, 300);
  assert.notEqual(q, p);
  assert.deepEqual([...m.read(q, 100)], new Array(100).fill(0x5a));
  assert.equal(u.realloc(q, 300), q, 'same size: same buffer');
  const z = u.calloc(10, 10);
  assert.deepEqual([...m.read(z, 100)], new Array(100).fill(0));
  assert.equal(u.calloc(0x10000, 0x10000), 0, 'calloc overflow is NULL');
  for (const align of [16, 64, 4096]) {
    const a = u.memalign(align, 40);
    assert.equal(a % align, 0, `memalign(${align})`);
    m.fill8(a, 40, 1);
    u.free(a);
  }
  assert.equal(u.memalign(3, 10), 0);
  assert.equal(u.memalign(16, 0), 0);
  const aa = u.aligned_alloc(32, 0);
  assert.ok(aa !== 0 && aa % 32 === 0);
  assert.equal(u.posix_memalign(64, 3, 10), EINVAL);
  assert.equal(u.posix_memalign(64, 128, 10), 0);
  assert.equal(m.load32(64) % 128, 0);
  u.free(m.load32(64));
  u.free(aa);
  u.free(q);
  u.free(z);
  u.free(0);
  assert.equal(u.reports.length, 0);
});

test('the anchor makes the memory self-describing', () => {
  const u = createUmem({ memory: new ArrayBuffer(4 << 20), base: 70000 });
  const a = u.layout.anchor;
  assert.equal(a % 64, 0);
  assert.ok(a >= 70000 && a < u.layout.heapBase);
  assert.equal(u.memory.load32(a), UMEM_ANCHOR_MAGIC);
  const sym = (n: string) => u.symbols().find((s) => s.name === n)!.value;
  const T = u.types;
  assert.equal(u.memory.load32(a + T.offsetof('struct umem_anchor', 'ua_caches')), sym('kmem_caches'));
  assert.equal(u.memory.load32(a + T.offsetof('struct umem_anchor', 'ua_error_buffer')), sym('umem_error_buffer'));
  assert.ok(u.symbols().some((s) => s.name === 'umem_cache_alloc' && s.kind === 'func' && s.value >= 0xff000000));
});

test('a WebAssembly.Memory grows as the heap needs, and the views follow', () => {
  const mem = new WebAssembly.Memory({ initial: 3, maximum: 1000 });
  const u = createUmem({ memory: mem, base: 1024, env: { UMEM_DEBUG: 'guards' } });
  const before = mem.buffer.byteLength;
  const ps: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const p = u.malloc(1000);
    new Uint32Array(mem.buffer, p, 1)[0] = i;
    ps.push(p);
  }
  assert.ok(mem.buffer.byteLength > before + (2 << 20));
  ps.forEach((p, i) => assert.equal(new Uint32Array(mem.buffer, p, 1)[0], i));
  // the program may grow the memory itself: the allocator notices
  mem.grow(1);
  for (const p of ps) u.free(p);
  assert.equal(u.reports.length, 0);
  assert.deepEqual(umemVerify(u).flatMap((v) => v.corrupt), []);
});

test('a WebAssembly.Memory that ends where the heap would begin grows to hold it', () => {
  const mem = new WebAssembly.Memory({ initial: 2, maximum: 100 });
  const u = createUmem({ memory: mem, base: 65536 });
  assert.ok(mem.buffer.byteLength > 0x20000);
  const p = u.malloc(100);
  assert.ok(p >= 0x20000);
  u.free(p);
  assert.equal(u.reports.length, 0);
});

test('out of memory: malloc returns NULL, logged in the failure log', () => {
  const u = createUmem({ memory: new ArrayBuffer(2 << 20), env: { UMEM_LOGGING: 'fail' } });
  let n = 0;
  while (u.malloc(5000) !== 0) n++;
  assert.ok(n > 100 && n < 420, `${n} buffers of 5000 bytes in 2 MiB`);
  assert.equal(u.malloc(1 << 30), 0);
  assert.equal(u.reports.length, 0);
  const flog = u.memory.load32(u.heap.kmem.G.kmem_failure_log);
  assert.notEqual(flog, 0, 'the failure log exists');
  const mem = createUmem({ memory: new WebAssembly.Memory({ initial: 2, maximum: 4 }), base: 1024 });
  assert.equal(mem.malloc(1 << 20), 0, 'a memory that may not grow enough');
});

test('deterministic: the same calls give the same memory, byte for byte', () => {
  const run = () => {
    const buf = new ArrayBuffer(8 << 20);
    const u = createUmem({ memory: buf, env: { UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction,contents' }, seed: 7 });
    const live: number[] = [];
    let s = 1;
    for (let i = 0; i < 3000; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      if (live.length > 0 && s % 3 === 0) u.free(live.splice(s % live.length, 1)[0]!);
      else live.push(u.malloc(1 + (s % 700)));
    }
    return new Uint8Array(buf);
  };
  assert.deepEqual(run(), run());
});

test('findLeaks: from the roots, through live buffers, grouped by allocation stack', () => {
  let site = 0xf0001010;
  const mem = new WebAssembly.Memory({ initial: 4, maximum: 100 });
  const u = createUmem({ memory: mem, base: 8192, env: { UMEM_DEBUG: 'default' }, captureStack: (max) => [site].slice(0, max) });
  const w = (a: number, v: number) => new DataView(mem.buffer).setUint32(a, v, true);
  const a = u.malloc(100);
  w(1024, a); // a global points at a
  const b = u.malloc(50);
  w(a + 8, b); // a points into b... at b's start
  const onStack = u.malloc(60);
  w(4000, onStack); // a local on the C stack [3000, 5000)
  site = 0xf0002010;
  u.malloc(30);
  u.malloc(30);
  site = 0xf0003010;
  u.malloc(100000); // oversize
  const functions = [
    { name: 'keep', value: 0xf0001000, size: 0x100 },
    { name: 'leak_small', value: 0xf0002000, size: 0x100 },
    { name: 'leak_big', value: 0xf0003000, size: 0x100 },
  ];
  const r = umemFindLeaks(u, { ranges: [{ base: 1024, size: 1024, name: 'data' }], stack: { sp: 3000, top: 5000 }, functions });
  const t = umemTarget(u, { functions });
  const summary = r.groups.map((g) => ({ cache: g.cacheName, count: g.count, caller: t.symbolByAddr(g.caller)?.name }));
  assert.deepEqual(summary.sort((x, y) => x.cache.localeCompare(y.cache)), [
    { cache: 'umem_alloc_40', count: 2, caller: 'leak_small' },
    { cache: 'umem_oversize', count: 1, caller: 'leak_big' },
  ]);
  const ignored = umemFindLeaks(u, { ranges: [{ base: 1024, size: 1024 }], stack: { sp: 3000, top: 5000 }, functions }, { ignore: (f) => f.includes('leak_big') });
  assert.equal(ignored.groups.length, 1);
  // without the stack root, the block held only by a local leaks too
  const noStack = umemFindLeaks(u, { ranges: [{ base: 1024, size: 1024 }], functions });
  assert.equal(noStack.groups.reduce((n, g) => n + g.count, 0), 4);
});

test('bytes of allocator metadata per live buffer under default (ILP32)', () => {
  const b = umemBytesPerBuffer(64);
  assert.ok(b > 100 && b < 307, `${b}`);
});

test('mtbf: injected failures are NULL returns, the same for the same seed', () => {
  const run = (seed: number) => {
    const u = createUmem({ memory: new ArrayBuffer(16 << 20), env: { UMEM_DEBUG: 'guards,mtbf=211', UMEM_LOGGING: 'fail' }, seed });
    let fails = 0;
    for (let i = 0; i < 2000; i++) if (u.malloc(40) === 0) fails++;
    assert.equal(u.reports.length, 0);
    return fails;
  };
  const a = run(3);
  assert.ok(a > 0 && a < 200, `${a} failures`);
  assert.equal(run(3), a);
});

test('every UMEM_DEBUG and UMEM_OPTIONS item runs a workload cleanly', () => {
  const envs = [
    { UMEM_DEBUG: 'lite' },
    { UMEM_DEBUG: 'firewall=64,guards' },
    { UMEM_DEBUG: 'random' },
    { UMEM_DEBUG: 'audit=3' },
    { UMEM_DEBUG: 'contents=16', UMEM_LOGGING: 'contents,transaction,slab,fail' },
    { UMEM_DEBUG: 'maxverify=16,guards' },
    { UMEM_OPTIONS: 'nomagazines' },
    { UMEM_OPTIONS: 'max_contention=1,reap_interval=1,concurrency=2,backend=mmap' },
  ];
  for (const env of envs) {
    const u = createUmem({ memory: new WebAssembly.Memory({ initial: 2, maximum: 2000 }), base: 1024, env });
    const ps: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const p = u.malloc(((i * 37) % 900) + 1);
      assert.notEqual(p, 0, JSON.stringify(env));
      ps.push(p);
      if (i % 3 === 0) u.free(ps.shift()!);
    }
    for (const p of ps) u.free(p);
    assert.equal(u.reports.length, 0, JSON.stringify(env));
    assert.deepEqual(u.envMessages, []);
    assert.deepEqual(umemVerify(u).flatMap((v) => v.corrupt), [], JSON.stringify(env));
  }
});

test('a SharedArrayBuffer serves as well; bad options are one clear error', () => {
  const u = createUmem({ memory: new SharedArrayBuffer(4 << 20) });
  const p = u.malloc(10);
  assert.notEqual(p, 0);
  u.free(p);
  assert.throws(() => createUmem({ memory: new Uint8Array(10) as unknown as ArrayBuffer }), /createUmem: memory must be an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory, got an object/);
  assert.throws(() => createUmem({ memory: new ArrayBuffer(1 << 20), base: -1 }), /createUmem: base must be an integer/);
  assert.throws(() => createUmem({ memory: new ArrayBuffer(1 << 20), env: { UMEM_DEBUG: 3 as unknown as string } }), /createUmem: env.UMEM_DEBUG must be a string/);
  assert.throws(() => createUmem({ memory: new ArrayBuffer(32768) }), /^RangeError: umem: a memory of 32768 bytes cannot hold the allocator's data area and heap \(from 0x1000 to beyond 0x11000\)$/);
  assert.throws(() => createUmem({ memory: new ArrayBuffer(1 << 20), wordPaths: 1 as unknown as boolean }), /createUmem: wordPaths must be a boolean/);
  assert.throws(() => u.malloc(-1), /umem: a size must be a non-negative integer, not -1/);
});
