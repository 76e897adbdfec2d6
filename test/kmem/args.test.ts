/*
 * What kmem's entry points refuse (src/kmem/args.ts): BigInts, NaN,
 * fractions, negative and absurd sizes and alignments, kmflags that are no
 * KM_* combination; each a TypeError (not a number) or RangeError (a number
 * kmem cannot take) naming the function and the argument, on the fast and
 * the checked paths alike, with nothing changed.  And a kmem_free with a
 * wrong size, whose size tag may lie on a page that is not there: a
 * kmem_error report, never a fault.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem, type System } from '../../src/system.js';
import type { ModelName } from '../../src/machine/memory.js';
import { KMERR_BADCACHE, KMERR_BADSIZE } from '../../src/abi/kmem-impl.js';

/** Calls f with arguments the types forbid (what a JavaScript caller can do). */
function loose<T>(f: T): (...args: unknown[]) => unknown {
  return f as (...args: unknown[]) => unknown;
}

function boot(kmemWordPaths: boolean, model: ModelName = 'lp64', kmemFlags = 0): System {
  return bootSystem({ model, kmemFlags, kmemWordPaths, kmemPanic: -1, heapSize: 64 << 20 });
}

for (const kmemWordPaths of [true, false]) {
  const paths = kmemWordPaths ? 'word paths' : 'checked paths';

  test(`${paths}: addresses and sizes that are not integers: TypeError or RangeError, naming function and argument`, () => {
    const { kmem } = boot(kmemWordPaths);
    const c = kmem.cacheCreate('args', 64);
    const b = kmem.kmem_cache_alloc(c.addr, 0);
    const p = kmem.kmem_alloc(24, 0);
    const rangeErr = (fn: string, arg: string, what: string) => ({ name: 'RangeError', message: new RegExp(`^${fn}: ${arg} must be ${what}`) });
    const typeErr = (fn: string, arg: string) => ({ name: 'TypeError', message: new RegExp(`^${fn}: ${arg} must be a number, not `) });
    assert.throws(() => kmem.kmem_cache_free(c.addr, b + 0.5), { name: 'RangeError', message: /^kmem_cache_free: buf must be an integer \(an address\), not -?\d+\.5$/ });
    assert.throws(() => kmem.kmem_cache_free(c.addr, NaN), { name: 'RangeError', message: /^kmem_cache_free: buf must be an integer \(an address\), not NaN$/ });
    assert.throws(() => kmem.kmem_cache_alloc(c.addr + 0.5, 0), rangeErr('kmem_cache_alloc', 'cp', 'an integer'));
    assert.throws(() => kmem.kmem_alloc(2.5, 0), { name: 'RangeError', message: /^kmem_alloc: size must be a non-negative integer \(a size\), not 2\.5$/ });
    assert.throws(() => kmem.kmem_alloc(-1, 0), rangeErr('kmem_alloc', 'size', 'a non-negative integer'));
    assert.throws(() => kmem.kmem_alloc(NaN, 0), rangeErr('kmem_alloc', 'size', 'a non-negative integer'));
    assert.throws(() => kmem.kmem_free(p, 7.5), rangeErr('kmem_free', 'size', 'a non-negative integer'));
    // BigInts: "Cannot mix BigInt and other types" is what a careless fast path would say
    assert.throws(() => loose(kmem.kmem_alloc).call(kmem, 24n, 0), { name: 'TypeError', message: /^kmem_alloc: size must be a number, not 24n \(a bigint\)$/ });
    assert.throws(() => loose(kmem.kmemAlloc).call(kmem, 5000n), typeErr('kmem_alloc', 'size'));
    assert.throws(() => loose(kmem.kmem_free).call(kmem, BigInt(p), 24), typeErr('kmem_free', 'buf'));
    assert.throws(() => loose(kmem.kmemFree).call(kmem, p, 24n), typeErr('kmem_free', 'size'));
    assert.throws(() => loose(kmem.kmem_cache_alloc).call(kmem, BigInt(c.addr), 0), typeErr('kmem_cache_alloc', 'cp'));
    assert.throws(() => loose(kmem.kmem_cache_free).call(kmem, c.addr, BigInt(b)), typeErr('kmem_cache_free', 'buf'));
    assert.throws(() => loose(kmem.kmem_cache_free).call(kmem, BigInt(c.addr), b), typeErr('kmem_cache_free', 'cp'));
    assert.throws(() => loose(kmem.kmem_alloc).call(kmem, '24', 0), { name: 'TypeError', message: /^kmem_alloc: size must be a number, not "24"$/ });
    // nothing was changed by the refused calls: the buffers free normally
    kmem.kmem_free(p, 24);
    kmem.kmem_cache_free(c.addr, b);
    assert.equal(kmem.errors.length, 0);
    assert.equal(kmem.cacheStats(c.addr).bufInuse, 0);
  });

  test(`${paths}: kmflags that are no KM_* combination are refused`, () => {
    const { kmem } = boot(kmemWordPaths);
    const c = kmem.cacheCreate('flags', 64);
    const msg = /^kmem_alloc: kmflag must be KM_SLEEP or a combination of KM_NOSLEEP, KM_PANIC, KM_PUSHPAGE and KM_NORMALPRI, not /;
    for (const bad of [0x10, 0x100, -1, 1.5, NaN, 0xffffffff]) {
      assert.throws(() => kmem.kmemAlloc(24, bad), { name: 'RangeError', message: msg }, String(bad));
      assert.throws(() => kmem.kmem_alloc(5000, bad), { name: 'RangeError', message: msg }, `slow path ${bad}`);
      assert.throws(() => c.alloc(bad), { name: 'RangeError', message: /^kmem_cache_alloc: kmflag must be / });
      assert.throws(() => kmem.kmemZalloc(24, bad), { name: 'RangeError', message: /^kmem_zalloc: kmflag must be / });
    }
    assert.throws(() => loose(kmem.kmemAlloc).call(kmem, 24, 'KM_SLEEP'), { name: 'TypeError', message: /^kmem_alloc: kmflag must be a number, not "KM_SLEEP"$/ });
    // every real combination is taken
    for (const ok of [0, 1, 2, 4, 8, 0x9, 0xf]) kmem.kmemFree(kmem.kmemAlloc(24, ok), 24);
    assert.equal(kmem.errors.length, 0);
  });

  test(`${paths}: cacheCreate refuses bad names, sizes and alignments before anything is created`, () => {
    const { kmem, k } = boot(kmemWordPaths);
    const before = kmem.caches().length;
    const sizeMsg = { name: 'RangeError', message: /^kmem_cache_create: size must be a positive integer \(a size\), not / };
    for (const bad of [NaN, 0, -64, 1.5, Infinity, -Infinity]) assert.throws(() => kmem.cacheCreate('bad', bad), sizeMsg, String(bad));
    assert.throws(() => kmem.cacheCreate('bad', 2 ** 60), { name: 'RangeError', message: /^kmem_cache_create: size \d+ is larger than \d+, the most it can be$/ });
    assert.throws(() => kmem.cacheCreate('bad', k.heapSize + 1), { name: 'RangeError', message: /^kmem_cache_create: size \d+ is larger than/ });
    assert.throws(() => loose(kmem.cacheCreate).call(kmem, 'bad', 64n), { name: 'TypeError', message: /^kmem_cache_create: size must be a number, not 64n \(a bigint\)$/ });
    assert.throws(() => loose(kmem.cacheCreate).call(kmem, 42, 64), { name: 'TypeError', message: /^kmem_cache_create: name must be a string, not number$/ });
    for (const align of [-8, 1.5, NaN]) {
      assert.throws(() => kmem.cacheCreate('bad', 64, { align }), { name: 'RangeError', message: /^kmem_cache_create: align must be a non-negative integer/ }, String(align));
    }
    for (const align of [3, 24, 96]) {
      assert.throws(() => kmem.cacheCreate('bad', 64, { align }), { name: 'RangeError', message: new RegExp(`^kmem_cache_create: align must be 0 or a power of two, not ${align}$`) });
    }
    assert.throws(() => kmem.cacheCreate('bad', 64, { align: 1 << 20 }), { name: 'RangeError', message: /^kmem_cache_create: align 1048576 is larger than 4096, the most it can be$/ });
    assert.equal(kmem.caches().length, before, 'no cache was created');
    assert.doesNotMatch(k.messages(), /panic/);
    // the limits themselves are taken
    for (const [size, align] of [[1, 0], [64, 4096], [1, 1]] as const) kmem.cacheCreate(`ok_${size}_${align}`, size, { align }).destroy();
  });
}

for (const model of ['lp64', 'ilp32'] as const) {
  for (const flags of [0x6, 0xf, 0x100]) {
    test(`${model} kmem_flags 0x${flags.toString(16)}: kmem_free with a size of another class is a kmem_error report, not a fault`, () => {
      for (const kmemWordPaths of [true, false]) {
        const { kmem } = boot(kmemWordPaths, model, flags);
        // kmem_alloc_224's size tag is 224 bytes into a 112-byte buffer: past its slab under 0xf
        const buf = kmem.kmemAlloc(100);
        kmem.kmemFree(buf, 200);
        const r = kmem.errors.at(-1);
        assert.ok(r, 'a report');
        assert.equal(r.error, KMERR_BADCACHE);
        assert.deepEqual(r.text.split('\n').slice(0, 3), [
          'kernel memory allocator: buffer freed to wrong cache',
          'buffer was allocated from kmem_alloc_112,',
          'caller attempting free to kmem_alloc_224.',
        ]);
        // the same class: illumos' bad-size report, with both sizes
        const b2 = kmem.kmemAlloc(100);
        kmem.kmemFree(b2, 110);
        const r2 = kmem.errors.at(-1)!;
        assert.equal(r2.error, KMERR_BADSIZE);
        assert.equal(r2.text.split('\n')[0], 'kernel memory allocator: bad free: free size (110) != alloc size (100)');
      }
    });
  }
}
