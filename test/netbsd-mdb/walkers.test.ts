/*
 * The netbsd mdb module on small hand-built memory images (MemoryTarget):
 * the pool_head and pa_list walkers validate every link of a corrupt list
 * (unmapped element, wrong tqe_prev, cycle, wrong tqh_last), ::pool flags
 * a pool left in an unloaded module's range, ::whatis names the former
 * symbol, ::modstat reads module_list, ::sysctl flags stale spare slots.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PagedMemory, LP64, PROT_RW } from '../../src/machine/memory.js';
import { TypeTable } from '../../src/ctf/ctf.js';
import { declareNetbsdTypes } from '../../src/abi/netbsd-sys.js';
import { MemoryTarget } from '../../src/target/memory-target.js';
import type { TargetModuleRecord, TargetSymbol } from '../../src/target/target.js';
import { hex, parseAddr } from '../../src/machine/addr.js';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/netbsd.js';

const KBASE = parseAddr('0xffffffff80600000'); // kernel data
const MODMAP = parseAddr('0xffffffff80800000'); // module_map
const HEAP = parseAddr('0xfffffe8000000000');
const X = (a: number) => '0x' + hex(a);

interface Img {
  mem: PagedMemory;
  tt: TypeTable;
  syms: TargetSymbol[];
  mods: TargetModuleRecord[];
  off: (type: string, m: string) => number;
  nointr: number;
  poolHead: number;
  pools: number[];
  target(): MemoryTarget;
}

/**
 * Three pools on pool_head and on pool_allocator_nointr's pa_list: two in
 * the heap ("apl", "bpl") and one ("xleakpl") in the data of module
 * culprit, whose chunk is at MODMAP.  Links are made exactly as
 * TAILQ_INSERT_TAIL does.
 */
function image(): Img {
  const mem = new PagedMemory(LP64);
  mem.reserve('kdata', KBASE, 0x10000);
  mem.map(KBASE, 0x10000, PROT_RW);
  mem.reserve('heap', HEAP, 0x10000);
  mem.map(HEAP, 0x10000, PROT_RW);
  mem.reserve('module_map', MODMAP, 0x10000);
  mem.map(MODMAP, 0x3000, PROT_RW);
  const tt = new TypeTable(LP64);
  declareNetbsdTypes(tt);
  const off = (type: string, m: string) => tt.offsetof(type, m);
  const syms: TargetSymbol[] = [];
  const obj = (name: string, value: number, size: number) => {
    syms.push({ name, value, size, kind: 'object' });
    return value;
  };
  const poolHead = obj('pool_head', KBASE, 16);
  const nointr = obj('pool_allocator_nointr', KBASE + 0x100, tt.size('struct pool_allocator'));
  obj('drainpp', KBASE + 0x200, 8);
  const str = (a: number, s: string) => {
    for (let i = 0; i < s.length; i++) mem.store8(a + i, s.charCodeAt(i));
    mem.store8(a + s.length, 0);
    return a;
  };
  const pools = [HEAP + 0x1000, HEAP + 0x2000, MODMAP + 0x2b40];
  const names = ['apl', 'bpl', 'xleakpl'];
  // heads empty: tqh_last = &tqh_first
  const pl = off('struct pool', 'pr_poollist');
  const al = off('struct pool', 'pr_alloc_list');
  const pa = nointr + off('struct pool_allocator', 'pa_list');
  mem.storePtr(poolHead + 8, poolHead);
  mem.storePtr(pa + 8, pa);
  const insertTail = (head: number, elm: number) => {
    mem.storePtr(elm, 0);
    mem.storePtr(elm + 8, mem.loadPtr(head + 8));
    mem.storePtr(mem.loadPtr(head + 8), elm);
    mem.storePtr(head + 8, elm);
  };
  pools.forEach((pp, i) => {
    mem.storePtr(pp + off('struct pool', 'pr_wchan'), str(KBASE + 0x400 + i * 16, names[i]!));
    mem.store32(pp + off('struct pool', 'pr_size'), 64 * (i + 1));
    mem.storePtr(pp + off('struct pool', 'pr_alloc'), nointr);
    insertTail(poolHead, pp + pl);
    insertTail(pa, pp + al);
  });
  // pr_poollist is at offset 0, so element address == link address there;
  // pa_list links point at pr_alloc_list fields: fix tqe_next values to be
  // element addresses as TAILQ does (the macros store elm, not &elm->field).
  const fixNext = (head: number, lo: number) => {
    let link = head;
    for (let n = 0; n < 4; n++) {
      const next = mem.loadPtr(link);
      if (next === 0) break;
      const elm = next - lo;
      mem.storePtr(link, elm);
      link = elm + lo;
    }
  };
  fixNext(pa, al);
  const mods: TargetModuleRecord[] = [
    {
      name: 'culprit',
      base: MODMAP,
      size: 0x3000,
      textSize: 0x2000,
      loadTime: 2e9,
      unloadTime: 62.25e9,
      symbols: [{ name: 'culprit_pool', value: MODMAP + 0x2b40, size: tt.size('struct pool'), kind: 'object', module: 'culprit' }],
    },
  ];
  return {
    mem,
    tt,
    syms,
    mods,
    off,
    nointr,
    poolHead,
    pools,
    target: () => new MemoryTarget({ memory: mem, types: tt, symbols: syms, modules: mods }),
  };
}

test('a healthy pa_list and pool_head walk without warnings', () => {
  const img = image();
  const t = img.target();
  const r = runMdb(t, `${X(img.nointr)}::walk pa_list\n::walk pool_head`);
  assert.equal(r.stderr, '');
  const want = img.pools.map((p) => X(p)).join('\n') + '\n';
  assert.equal(r.stdout, want + want);
});

test('pa_list: an element in an unloaded module is reported by address, never followed', () => {
  const img = image();
  img.mem.unmap(MODMAP, 0x3000); // kobj_unload without pool_destroy
  const t = img.target();
  const r = runMdb(t, `${X(img.nointr)}::walk pa_list`);
  assert.equal(r.stdout, `${X(img.pools[0]!)}\n${X(img.pools[1]!)}\n`);
  const lo = img.off('struct pool', 'pr_alloc_list');
  assert.equal(
    r.stderr,
    `mdb: pa_list: element at ${X(img.pools[2]!)} is unmapped (culprit_pool in unloaded module culprit's former data, unloaded at 62.250s), pointed to by ${X(img.pools[1]! + lo)}\n` +
      `mdb: pa_list: tqh_last of ${X(img.nointr + img.off('struct pool_allocator', 'pa_list'))} is ${X(img.pools[2]! + lo)}, which is unmapped (culprit_pool+0x80 in unloaded module culprit's former data, unloaded at 62.250s)\n`,
  );
  // ::whatis names the former object; ::pool flags it
  const w = runMdb(t, `${X(img.pools[2]! + lo)}::whatis`);
  assert.equal(w.stdout, `${hex(img.pools[2]! + lo)} is in freed module_map range formerly belonging to module culprit (loaded at 2.000s, unloaded at 62.250s): culprit_pool+0x80\n`);
  const p = runMdb(t, '::pool');
  assert.match(p.stdout, /pool at 0xffffffff80802b40 lies in the unloaded module culprit's former range \(culprit_pool, loaded at 2\.000s, unloaded at 62\.250s\), unmapped; still referenced by pool_head, pa_list of pool_allocator_nointr\n/);
  assert.match(p.stdout, /^fffffe8000001000 apl /m);
});

test('pa_list: a tqe_prev that does not point back is reported, and the walk goes on', () => {
  const img = image();
  const lo = img.off('struct pool', 'pr_alloc_list');
  const bad = img.pools[0]! + 0x10;
  img.mem.storePtr(img.pools[1]! + lo + 8, bad);
  const r = runMdb(img.target(), `${X(img.nointr)}::walk pa_list`);
  assert.equal(r.stdout, img.pools.map((p) => X(p) + '\n').join(''));
  assert.equal(r.stderr, `mdb: pa_list: tqe_prev of ${X(img.pools[1]!)} is ${X(bad)}, expected ${X(img.pools[0]! + lo)}\n`);
});

test('pool_head: a cycle is reported and the walk stops', () => {
  const img = image();
  img.mem.storePtr(img.pools[2]!, img.pools[0]!); // xleakpl.tqe_next = apl
  const r = runMdb(img.target(), '::walk pool_head');
  assert.equal(r.stdout, img.pools.map((p) => X(p) + '\n').join(''));
  assert.equal(r.stderr, 'mdb: pool_head: element at 0xfffffe8000001000 appears twice: the list loops after 3 elements\n');
});

test('pa_list: a pool whose pr_alloc is another allocator is reported', () => {
  const img = image();
  img.mem.storePtr(img.pools[1]! + img.off('struct pool', 'pr_alloc'), KBASE + 0x900);
  const r = runMdb(img.target(), `${X(img.nointr)}::walk pa_list`);
  assert.equal(r.stderr, `mdb: pa_list: pr_alloc of ${X(img.pools[1]!)} is ${X(KBASE + 0x900)}, expected ${X(img.nointr)}\n`);
});

test('pa_list from an unmapped allocator fails cleanly', () => {
  const img = image();
  const r = runMdb(img.target(), `${X(MODMAP + 0x5000)}::walk pa_list`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^mdb: pool_allocator at 0xffffffff80805000 is unmapped \(no mapping for address\)\nmdb: failed to perform walk: failed to initialize walk\n$/);
});

test('addr::pool prints the show-pool shape; -v adds the page lists', () => {
  const img = image();
  const r = runMdb(img.target(), `${X(img.pools[0]!)}::pool -v`);
  assert.equal(r.stderr, '');
  assert.equal(
    r.stdout,
    'POOL apl: size 64, align 0, ioff 0, roflags 0x00000000\n' +
      `\talloc ${X(img.nointr)} (pool_allocator_nointr)\n` +
      '\tminitems 0, minpages 0, maxpages 0, npages 0\n' +
      '\titemsperpage 0, nitems 0, nout 0, hardlimit 0\n' +
      '\tnget 0, nfail 0, nput 0\n' +
      '\tnpagealloc 0, npagefree 0, hiwat 0, nidle 0\n' +
      '\tno current page\n',
  );
});

test('every netbsd dcmd has a help text', () => {
  const img = image();
  for (const d of ['pool', 'modstat', 'sysctl', 'sysctllog']) {
    const r = runMdb(img.target(), `::help ${d}`);
    assert.equal(r.stderr, '', d);
    assert.match(r.stdout, /DESCRIPTION\n {2}\S.{40,}/, d);
  }
});
