import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PagedMemory, FlatMemory, PageFault, LP64, ILP32, PROT_READ } from '../../src/machine/memory.js';
import { hex, hi32, lo32, fromHalves, p2align, p2roundup, p2phaseup, highbit, lowbit, toU64, fromU64, parseAddr } from '../../src/machine/addr.js';

const HEAP = -0x18000000000; // 0xfffffe8000000000

test('canonical 64-bit addresses print in full and survive a store/load', () => {
  const m = new PagedMemory(LP64);
  m.reserve('heap', HEAP, 1 << 20);
  m.map(HEAP, 8192);
  assert.equal(hex(HEAP), 'fffffe8000000000');
  assert.equal(hex(-0x7ff00000), 'ffffffff80100000');
  const p = HEAP + 0x1dda47300 % 4096;
  m.storePtr(HEAP + 16, -0x7f6634400); // 0xffffffff8099cbc0-ish value
  assert.equal(m.loadPtr(HEAP + 16), -0x7f6634400);
  m.storePtr(HEAP + 24, p);
  assert.equal(m.loadPtr(HEAP + 24), p);
  assert.equal(m.load64(HEAP + 24), toU64(p));
});

test('unmapped and read-only accesses fault with the address and kind', () => {
  const m = new PagedMemory(LP64);
  m.reserve('heap', HEAP, 1 << 20);
  m.map(HEAP, 4096);
  m.store32(HEAP + 4092, 0xdeadbeef);
  assert.equal(m.load32(HEAP + 4092), 0xdeadbeef);
  assert.throws(() => m.load32(HEAP + 4096), (e: unknown) => e instanceof PageFault && e.addr === HEAP + 4096 && e.access === 'read');
  assert.throws(() => m.store8(HEAP + 8191, 1), (e: unknown) => e instanceof PageFault && e.addr === HEAP + 8191 && e.access === 'write');
  assert.throws(() => m.load8(0x1000), (e: unknown) => e instanceof PageFault && e.addr === 0x1000);
  m.protect(HEAP, 4096, PROT_READ);
  assert.throws(() => m.store32(HEAP, 1), (e: unknown) => e instanceof PageFault && e.access === 'write');
  assert.equal(m.load32(HEAP + 4092), 0xdeadbeef);
  // an unaligned load that crosses into an unmapped page faults at that page
  m.map(HEAP + 4096, 4096);
  m.unmap(HEAP + 4096, 4096);
  assert.throws(() => m.load32(HEAP + 4094), (e: unknown) => e instanceof PageFault && e.addr === HEAP + 4096);
  // unmapping discards contents
  m.map(HEAP + 4096, 4096);
  assert.equal(m.load32(HEAP + 4096), 0);
  assert.equal(m.mappedPages, 2);
});

test('a faulting multi-byte write changes nothing', () => {
  const m = new PagedMemory(ILP32);
  m.reserve('x', 0x10000, 0x4000);
  m.map(0x10000, 0x1000);
  assert.throws(() => m.write(0x10ffe, new Uint8Array([1, 2, 3, 4])), PageFault);
  assert.equal(m.load16(0x10ffe), 0);
  assert.throws(() => m.store32(0x10ffe, 0x01020304), PageFault);
  assert.equal(m.load16(0x10ffe), 0);
});

test('ILP32 pointers are 4 bytes and 8192-byte pages work', () => {
  const m = new PagedMemory(ILP32, 8192);
  m.reserve('h', 0xd0000000, 0x10000);
  m.map(0xd0000000, 8192);
  m.storePtr(0xd0000000, 0xfffffff0);
  assert.equal(m.loadPtr(0xd0000000), 0xfffffff0);
  assert.equal(m.load32(0xd0000004), 0);
  assert.throws(() => m.load8(0xd0002000), PageFault);
});

test('flat backend over WebAssembly.Memory follows growth', () => {
  const wm = new WebAssembly.Memory({ initial: 1 });
  const m = new FlatMemory(wm, ILP32);
  m.store32(100, 42);
  assert.equal(m.load32(100), 42);
  assert.throws(() => m.load8(65536), PageFault);
  wm.grow(1);
  m.refresh();
  m.store32(65536, 7);
  assert.equal(m.load32(65536), 7);
  assert.equal(m.load32(100), 42);
});

test('address helpers agree with BigInt arithmetic', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 47), max: 2 ** 47 - 1 }), fc.integer({ min: 0, max: 20 }), (a, sh) => {
      const al = 2 ** sh;
      assert.equal(fromHalves(hi32(a), lo32(a)), a);
      assert.equal(toU64(p2align(a, al)), toU64(a) & ~BigInt(al - 1));
      assert.equal(p2roundup(a, al) >= a && p2roundup(a, al) - a < al, true);
      assert.equal(p2roundup(a, al) % al === 0 || Object.is(p2roundup(a, al) % al, -0), true);
      assert.equal(fromU64(toU64(a)), a);
      assert.equal(parseAddr('0x' + hex(a)), a);
      const ph = p2phaseup(a, al, 0);
      assert.equal(ph >= a && ph - a < al, true);
    }),
  );
  assert.equal(highbit(1), 1);
  assert.equal(highbit(0x80000000), 32);
  assert.equal(highbit(2 ** 40), 41);
  assert.equal(lowbit(2 ** 40), 41);
  assert.equal(lowbit(12), 3);
});
