/*
 * Every error class the heap detects, provoked through the malloc
 * interface on a fresh deterministic heap under UMEM_DEBUG=default: each is
 * detected (a UmemError of the right class), and the report is exactly the
 * golden one (test/umem/golden/<case>.txt; UPDATE_GOLDEN=1 rewrites), with
 * the caller's frames named through a stack-capture hook standing in for a
 * program's wasm stack.  Also: noabort reports and continues; verify()
 * finds a redzone overrun before any free; the error buffer in memory holds
 * the reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUmem, MALLOC_MAGIC, type Umem } from '../../src/umem/umem.js';
import { UmemError, type UmemErrorClass } from '../../src/umem/errors.js';
import { goldenIn } from '../golden.js';
import { umemVerify } from '../../src/umemcheck/analysis.js';

const golden = goldenIn('umem/golden');

/** A program with three functions; `site` is the innermost one calling the allocator. */
const FUNCS = [
  { name: 'main', value: 0xf0000100, size: 0x100 },
  { name: 'parse_line', value: 0xf0000200, size: 0x100 },
  { name: 'free_list', value: 0xf0000300, size: 0x100 },
];
let site = 0xf000021c;

function program(env: string, noabort = false): Umem {
  return createUmem({
    memory: new ArrayBuffer(8 << 20),
    env: { UMEM_DEBUG: noabort ? `${env},noabort` : env },
    captureStack: (max) => [site, 0xf0000140].slice(0, max),
    symbolize: (pc) => {
      const f = FUNCS.find((x) => pc >= x.value && pc < x.value + x.size);
      return f ? `${f.name}+0x${(pc - f.value).toString(16)}` : undefined;
    },
  });
}

/** The buftag of a malloc(24) buffer (umem_alloc_32: the buftag follows the 32 bytes). */
const buftag = (p: number) => p - 8 + 32;

const CASES: Array<{ name: string; cls: UmemErrorClass; run: (u: Umem) => void }> = [
  {
    name: 'redzone',
    cls: 'REDZONE',
    run: (u) => {
      const p = u.malloc(10);
      u.memory.store8(p + 10, 0); // overrun by one
      site = 0xf0000310;
      u.free(p);
    },
  },
  {
    name: 'modified',
    cls: 'MODIFIED',
    run: (u) => {
      const p = u.malloc(24);
      site = 0xf0000310;
      u.free(p);
      u.memory.store32(p + 4, 0); // use after free
      site = 0xf0000220;
      u.malloc(24);
    },
  },
  {
    name: 'double-free',
    cls: 'DOUBLEFREE',
    run: (u) => {
      const p = u.malloc(24);
      u.free(p);
      u.free(p);
    },
  },
  {
    name: 'interior-free',
    cls: 'BADTAG',
    run: (u) => {
      const p = u.malloc(64);
      u.free(p + 16);
    },
  },
  {
    name: 'bad-buftag',
    cls: 'BADBUFTAG',
    run: (u) => {
      const p = u.malloc(24);
      u.free(p);
      u.memory.store32(buftag(p) + 12, 1); // bt_bxstat
      u.malloc(24);
    },
  },
  {
    name: 'bad-bufctl',
    cls: 'BADBUFCTL',
    run: (u) => {
      const p = u.malloc(24);
      const bogus = 0x12340;
      u.memory.store32(buftag(p) + 8, bogus); // bt_bufctl, with a matching bt_bxstat
      u.memory.store32(buftag(p) + 12, (bogus ^ 0xa110c8ed) >>> 0);
      u.free(p);
    },
  },
  {
    name: 'bad-size',
    cls: 'BADSIZE',
    run: (u) => {
      const p = u.malloc(24);
      u.memory.store32(p - 8, 30); // a well-formed malloc tag with the wrong size
      u.memory.store32(p - 4, (MALLOC_MAGIC - 30) >>> 0);
      u.free(p);
    },
  },
  {
    name: 'wrong-cache',
    cls: 'BADCACHE',
    run: (u) => {
      const p = u.malloc(24);
      u.memory.store32(p - 8, 100);
      u.memory.store32(p - 4, (MALLOC_MAGIC - 100) >>> 0);
      u.free(p);
    },
  },
];

for (const c of CASES) {
  test(`${c.name}: detected as ${c.cls}, with the exact report`, () => {
    site = 0xf000021c;
    const u = program('default');
    let err: unknown;
    try {
      c.run(u);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof UmemError, `${c.name} not detected`);
    assert.equal(err.umemClass, c.cls);
    golden(c.name, err.report);
    assert.equal(u.errorBuffer(), err.report, 'the report is in umem_error_buffer');
    assert.equal(u.reports.length, 1);
  });
}

test('every class is detected under guards too (no audit: no stacks)', () => {
  // (bufctls are checked against their buffer only in hashed caches, i.e. under audit)
  for (const c of CASES.filter((x) => x.cls !== 'BADBUFCTL')) {
    const u = program('guards');
    assert.throws(() => c.run(u), (e: unknown) => e instanceof UmemError && e.umemClass === c.cls, c.name);
  }
});

test('noabort: reported to the output, the call returns, the heap goes on', () => {
  const out: string[] = [];
  const u = createUmem({ memory: new ArrayBuffer(4 << 20), env: { UMEM_DEBUG: 'guards,noabort' }, output: (t) => out.push(t) });
  const p = u.malloc(24);
  u.free(p);
  u.free(p);
  assert.equal(u.reports.length, 1);
  assert.equal(u.reports[0]!.umemClass, 'DOUBLEFREE');
  assert.deepEqual(out, [u.reports[0]!.report]);
  const q = u.malloc(24);
  assert.equal(q, p, 'the buffer was freed once and is reused');
  u.free(q);
});

test('verify() finds an overrun of a live buffer (no page protection: verify replaces the firewall)', () => {
  const u = program('guards');
  const p = u.malloc(40);
  assert.deepEqual(umemVerify(u).flatMap((v) => v.corrupt), []);
  u.memory.store8(p + 40, 7);
  const bad = umemVerify(u).flatMap((v) => v.corrupt.map((x) => ({ name: v.name, ...x })));
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.name, 'umem_alloc_48');
  assert.equal(bad[0]!.kind, 'size-encoding', 'a malloc buffer: umem_alloc size encoding with the 0xbb byte after it');
  assert.equal(bad[0]!.buf, p - 8);
  assert.equal(bad[0]!.message, `buffer ${(p - 8).toString(16)} (allocated) has a corrupt redzone size encoding`);
});

test('no debugging: only the malloc tag checks remain', () => {
  const u = program('');
  const p = u.malloc(24);
  u.free(p);
  assert.throws(() => u.free(p), (e: unknown) => e instanceof UmemError && e.umemClass === 'DOUBLEFREE');
});
