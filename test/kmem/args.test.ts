/*
 * What kmem's entry points refuse (src/kmem/args.ts): BigInts, NaN,
 * fractions, negative and absurd sizes and alignments, kmflags that are no
 * KM_* combination; each the library's ArgumentError (a TypeError) naming
 * the function and the argument, on the fast and the checked paths alike,
 * with nothing changed.  And a kmem_free with a
 * wrong size, whose size tag may lie on a page that is not there: a
 * kmem_error report, never a fault.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem, type System } from '../../src/system.js';
import type { ModelName } from '../../src/machine/memory.js';
import { KMERR_BADCACHE, KMERR_BADSIZE } from '../../src/abi/kmem-impl.js';
import { ArgumentError } from '../../src/machine/argcheck.js';

/** Calls f with arguments the types forbid (what a JavaScript caller can do). */
function loose<T>(f: T): (...args: unknown[]) => unknown {
  return f as (...args: unknown[]) => unknown;
}

function boot(kmemWordPaths: boolean, model: ModelName = 'lp64', kmemFlags = 0): System {
  return bootSystem({ model, kmemFlags, kmemWordPaths, kmemPanic: -1, heapSize: 64 << 20 });
}

/** f throws the ArgumentError of fn's argument arg, whose message ends with `got`. */
function throwsArg(f: () => unknown, fn: string, arg: string, got?: string): void {
  assert.throws(
    f,
    (e: unknown) => e instanceof ArgumentError && e instanceof TypeError && e.fn === fn && e.arg === arg && e.message.startsWith(`${fn}: ${arg} must be `) && (got === undefined || e.message.endsWith(`, got ${got}`)),
    `${fn} ${arg} ${got ?? ''}`,
  );
}

for (const kmemWordPaths of [true, false]) {
  const paths = kmemWordPaths ? 'word paths' : 'checked paths';

  test(`${paths}: addresses and sizes that are not integers: an ArgumentError naming function and argument`, () => {
    const { kmem } = boot(kmemWordPaths);
    const c = kmem.cacheCreate('args', 64);
    const b = kmem.kmem_cache_alloc(c.addr, 0);
    const p = kmem.kmem_alloc(24, 0);
    throwsArg(() => kmem.kmem_cache_free(c.addr, b + 0.5), 'kmem_cache_free', 'buf', String(b + 0.5));
    throwsArg(() => kmem.kmem_cache_free(c.addr, NaN), 'kmem_cache_free', 'buf', 'NaN');
    throwsArg(() => kmem.kmem_cache_alloc(c.addr + 0.5, 0), 'kmem_cache_alloc', 'cp');
    throwsArg(() => kmem.kmem_alloc(2.5, 0), 'kmem_alloc', 'size', '2.5');
    throwsArg(() => kmem.kmem_alloc(-1, 0), 'kmem_alloc', 'size', '-1');
    throwsArg(() => kmem.kmem_alloc(NaN, 0), 'kmem_alloc', 'size', 'NaN');
    throwsArg(() => kmem.kmem_free(p, 7.5), 'kmem_free', 'size', '7.5');
    // BigInts: "Cannot mix BigInt and other types" is what a careless fast path would say
    throwsArg(() => loose(kmem.kmem_alloc).call(kmem, 24n, 0), 'kmem_alloc', 'size', 'the BigInt 24n');
    throwsArg(() => loose(kmem.kmemAlloc).call(kmem, 5000n), 'kmem_alloc', 'size');
    throwsArg(() => loose(kmem.kmem_free).call(kmem, BigInt(p), 24), 'kmem_free', 'buf');
    throwsArg(() => loose(kmem.kmemFree).call(kmem, p, 24n), 'kmem_free', 'size');
    throwsArg(() => loose(kmem.kmem_cache_alloc).call(kmem, BigInt(c.addr), 0), 'kmem_cache_alloc', 'cp');
    throwsArg(() => loose(kmem.kmem_cache_free).call(kmem, c.addr, BigInt(b)), 'kmem_cache_free', 'buf');
    throwsArg(() => loose(kmem.kmem_cache_free).call(kmem, BigInt(c.addr), b), 'kmem_cache_free', 'cp');
    throwsArg(() => loose(kmem.kmem_alloc).call(kmem, '24', 0), 'kmem_alloc', 'size', '"24"');
    // nothing was changed by the refused calls: the buffers free normally
    kmem.kmem_free(p, 24);
    kmem.kmem_cache_free(c.addr, b);
    assert.equal(kmem.errors.length, 0);
    assert.equal(kmem.cacheStats(c.addr).bufInuse, 0);
  });

  test(`${paths}: kmflags that are no KM_* combination are refused`, () => {
    const { kmem } = boot(kmemWordPaths);
    const c = kmem.cacheCreate('flags', 64);
    for (const bad of [0x10, 0x100, -1, 1.5, NaN, 0xffffffff]) {
      throwsArg(() => kmem.kmemAlloc(24, bad), 'kmem_alloc', 'kmflag', String(bad));
      throwsArg(() => kmem.kmem_alloc(5000, bad), 'kmem_alloc', 'kmflag', String(bad));
      throwsArg(() => c.alloc(bad), 'kmem_cache_alloc', 'kmflag', String(bad));
      throwsArg(() => kmem.kmemZalloc(24, bad), 'kmem_zalloc', 'kmflag', String(bad));
    }
    throwsArg(() => loose(kmem.kmemAlloc).call(kmem, 24, 'KM_SLEEP'), 'kmem_alloc', 'kmflag', '"KM_SLEEP"');
    // every real combination is taken
    for (const ok of [0, 1, 2, 4, 8, 0x9, 0xf]) kmem.kmemFree(kmem.kmemAlloc(24, ok), 24);
    assert.equal(kmem.errors.length, 0);
  });

  test(`${paths}: cacheCreate refuses bad names, sizes and alignments before anything is created`, () => {
    const { kmem, k } = boot(kmemWordPaths);
    const before = kmem.caches().length;
    for (const bad of [NaN, 0, -64, 1.5, Infinity, -Infinity, 2 ** 60, k.heapSize + 1]) throwsArg(() => kmem.cacheCreate('bad', bad), 'kmem_cache_create', 'size', String(bad));
    throwsArg(() => loose(kmem.cacheCreate).call(kmem, 'bad', 64n), 'kmem_cache_create', 'size', 'the BigInt 64n');
    throwsArg(() => loose(kmem.cacheCreate).call(kmem, 42, 64), 'kmem_cache_create', 'name', '42');
    for (const align of [-8, 1.5, NaN, 3, 24, 96, 1 << 20]) throwsArg(() => kmem.cacheCreate('bad', 64, { align }), 'kmem_cache_create', 'align', String(align));
    assert.equal(kmem.caches().length, before, 'no cache was created');
    assert.doesNotMatch(k.messages(), /panic/);
    // the limits themselves are taken
    for (const [size, align] of [[1, 0], [64, 4096], [1, 1], [k.heapSize >> 4, 8]] as const) kmem.cacheCreate(`ok_${size}_${align}`, size, { align }).destroy();
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
