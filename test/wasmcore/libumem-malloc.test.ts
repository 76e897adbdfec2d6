/*
 * libumem's malloc dcmds (::umem_malloc_dist, ::umem_malloc_info) and
 * ::umastat in illumos' formats, on a live createUmem heap and on its
 * program core (ILP32): the numbers checked against hand arithmetic on a
 * heap without debugging (chunk = buffer, slabs of 4096 bytes holding
 * their kmem_slab_t), every bin of a distribution checked (a count in a
 * wrong bin fails), the live heap and the core giving the same bytes, and
 * bad options answered with mdb's one-line errors.  Also dist.ts's binnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createUmem, type Umem } from '../../src/umem/umem.js';
import { writeWasmCore } from '../../src/dump/wasm/core-writer.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import { umemTarget } from '../../src/umemcheck/analysis.js';
import { runMdb } from '../../src/mdb/index.js';
import { arrayCounts, distGeometric, distLinear, sparseCounts } from '../../src/mdb/modules/dist.js';
import type { Target } from '../../src/target/target.js';
import '../../src/mdb/modules/libumem.js';
import { buildTestModule, tmpDir, CALL_OFFSETS, HEAP_BASE, STACK_TOP } from './helpers.js';

const MOD = buildTestModule();

/** malloc sizes: umem_alloc_16 serves 1..8, umem_alloc_32 17..24, umem_alloc_112 89..104. */
const SIZES = [1, 2, 3, 5, 8, 21, 24, 24, 24, 100, 100];

function makeHeap(env: Record<string, string> = {}): { u: Umem; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 256 });
  const u = createUmem({ memory, base: HEAP_BASE, env, seed: 7 });
  for (const n of SIZES) u.malloc(n);
  const freed = u.malloc(40); // a freed malloc is not outstanding
  u.free(freed);
  return { u, memory };
}

/** The heap's core, written into dir, opened. */
function coreTarget(dir: string, u: Umem, memory: WebAssembly.Memory): ReturnType<typeof openWasmCore> {
  const { path } = writeWasmCore(dir, {
    module: MOD,
    programName: 'test.wasm',
    argv: ['test.wasm'],
    memory: new Uint8Array(memory.buffer),
    globals: { __stack_pointer: STACK_TOP - 32 },
    frames: [{ funcIndex: 0, codeOffset: CALL_OFFSETS.main }],
    reason: { kind: 'exit', message: 'exited', exitStatus: 0 },
    types: u.types,
    symbols: u.symbols().map((s) => ({ name: s.name, value: s.value, size: s.size, kind: s.kind })),
  });
  return openWasmCore(path);
}

function mdb(t: Target, cmds: string): string {
  const r = runMdb(t, cmds, [], { shellEscapes: true });
  assert.equal(r.stderr, '', `${cmds}: ${r.stderr}`);
  return r.stdout;
}

function cacheAddr(t: Target, name: string): string {
  const m = new RegExp(`^([0-9a-f]+) ${name} `, 'm').exec(mdb(t, '::umem_cache\n'));
  assert.ok(m, name);
  return m[1]!;
}

const HEADER = 'CACHE     BUFSZ MAXMAL BUFMALLC  AVG_MAL   MALLOCED   OVERHEAD  %OVER';
const DIST_HEADER = 'malloc size  ------------------ Distribution ------------------ count';

/** A distribution line: the range right-aligned in 11, a bar of n '@' padded to 50, the count. */
function bin(range: string, ats: number, count: number): string {
  return `${range.padStart(11)} |${'@'.repeat(ats)}${' '.repeat(50 - ats)} ${count}`;
}

function checkMallocInfo(t: Target): void {
  const info = mdb(t, '::umem_malloc_info\n').split('\n');
  assert.equal(info[0], HEADER);
  // one line per umem_alloc_N cache, MAXMAL its buffer size less the 8-byte tag
  const rows = info.slice(1, -1);
  assert.ok(rows.length >= 30, `${rows.length} umem_alloc caches`);
  for (const r of rows) {
    const [, bufsz, maxmal] = /^[0-9a-f]{8} +(\d+) +(\d+) /.exec(r) ?? [];
    assert.equal(Number(maxmal), Number(bufsz) - 8, r);
  }
  const row = (bufsz: number) => rows.find((r) => new RegExp(`^[0-9a-f]{8} +${bufsz} `).test(r))!.slice(9);
  /*
   * umem_alloc_16: mallocs of 1 2 3 5 8 (19 bytes, average (19 + 2) / 5 = 4),
   * tags of 9 10 11 13 16 bytes: overhead 8 + 16 - size = 15 14 13 11 8 = 61;
   * a slab holds (4096 - 40) / 16 = 253 chunks and wastes 4096 - 253 * 16 =
   * 48 bytes, 48 * 5 / 253 = 0 of it theirs.  61 / 19 = 321.0%.
   */
  assert.equal(row(16), '    16      8        5        4         19         61 321.0%');
  /* umem_alloc_32: 21 24 24 24 (93, average 23); 11 + 8 + 8 + 8 = 35, plus 64 * 4 / 126 = 2: 37, 39.7% */
  assert.equal(row(32), '    32     24        4       23         93         37  39.7%');
  /* umem_alloc_112: 100 100; 2 * (8 + 112 - 108) = 24, plus (4096 - 36 * 112) * 2 / 36 = 3: 27 */
  assert.equal(row(112), '   112    104        2      100        200         27  13.5%');
  /* umem_alloc_48 held the freed malloc(40): nothing outstanding */
  assert.equal(row(48), '    48     40        0        0          0          0   0.0%');
}

function checkDistributions(t: Target): void {
  const c32 = cacheAddr(t, 'umem_alloc_32');
  // umem_alloc_32 serves 17..24: four bins of two sizes; 21 once, 24 three times
  assert.equal(
    mdb(t, `${c32}::umem_malloc_info -b 4\n`),
    [HEADER, mdb(t, `${c32}::umem_malloc_info\n`).split('\n')[1], '', DIST_HEADER, bin('17-18', 0, 0), bin('19-20', 0, 0), bin('21-22', 12, 1), bin('23-24', 37, 3), '', ''].join('\n'),
  );
  // -d: the raw counts of each size the cache serves, then a blank line
  assert.equal(mdb(t, `${c32}::umem_malloc_info -d\n`).split('\n').slice(2).join('\n'), '17\t0\n18\t0\n19\t0\n20\t0\n21\t1\n22\t0\n23\t0\n24\t3\n\n');
  // every malloc over every cache: 0..32760 (umem_alloc_32768 less the tag), 11 outstanding
  assert.equal(
    mdb(t, '::umem_malloc_dist -b 0t4\n'),
    [DIST_HEADER, bin('0-8189', 50, 11), bin('8190-16379', 0, 0), bin('16380-24569', 0, 0), bin('24570-32760', 0, 0), '', ''].join('\n'),
  );
  // geometric bins: r = 32761^(1/8); each count in its own bin
  assert.equal(
    mdb(t, '::umem_malloc_dist -g -b 8\n'),
    [
      DIST_HEADER,
      bin('0-2', 9, 2), // 1 2
      bin('3-12', 13, 3), // 3 5 8
      bin('13-48', 18, 4), // 21 24 24 24
      bin('49-180', 9, 2), // 100 100
      bin('181-662', 0, 0),
      bin('663-2434', 0, 0),
      bin('2435-8930', 0, 0),
      bin('8931-32760', 0, 0),
      '',
      '',
    ].join('\n'),
  );
  // -B 2000 (0x2000): at most 32761 / 8192 = 3 linear bins
  assert.equal(mdb(t, '::umem_malloc_dist -B 2000\n'), [DIST_HEADER, bin('0-10919', 50, 11), bin('10920-21839', 0, 0), bin('21840-32760', 0, 0), '', ''].join('\n'));
  // without options, one bin per size: sizes 0..32760, the header and a blank line
  const all = mdb(t, '::umem_malloc_dist\n').split('\n');
  assert.equal(all.length, 32761 + 3);
  assert.equal(all[1 + 24], bin('24', 13, 3));
  assert.equal(all[1 + 25], bin('25', 0, 0));
  // the sizes are size_t, as illumos': -b -1 the most bins (one per size), -B -1 the widest (one bin)
  assert.equal(mdb(t, '::umem_malloc_dist -b -1\n'), all.join('\n'));
  assert.equal(mdb(t, '::umem_malloc_dist -B -1\n'), [DIST_HEADER, bin('0-32760', 50, 11), '', ''].join('\n'));
  const raw = mdb(t, '::umem_malloc_dist -d\n').split('\n');
  assert.deepEqual([raw[0], raw[100], raw[32760], raw[32761]], ['0\t0', '100\t2', '32760\t0', '']);
}

/** ::umastat prints each column with a blank after it, as illumos' libumem: every line but the Total lines and the blank one ends in a blank. */
function checkUmastat(t: Target): void {
  const lines = mdb(t, '::umastat\n').split('\n').slice(0, -1);
  assert.equal(lines[0], 'cache                        buf    buf    buf    memory     alloc alloc ');
  assert.equal(lines[2], '------------------------- ------ ------ ------ --------- --------- ----- ');
  assert.ok(lines.some((l) => /^umem_alloc_32 +32 +4 +\d+ +\d+ +\d+ +0 $/.test(l)), 'umem_alloc_32 row');
  for (const l of lines) {
    if (l.startsWith('Total [') || l === '') assert.doesNotMatch(l, / $/, l);
    else assert.match(l, / $/, l);
  }
}

function checkErrors(t: Target): void {
  const err = (cmds: string) => runMdb(t, cmds, []).stderr;
  const distUsage = 'Usage: ::umem_malloc_dist [-dg] [-b maxbins] [-B minbinsize]\n';
  assert.equal(err('::umem_malloc_dist -x\n'), `mdb: illegal option -- x\n${distUsage}`);
  assert.equal(err('::umem_malloc_dist -b\n'), `mdb: option requires an argument -- b\n${distUsage}`);
  assert.equal(err('::umem_malloc_dist extra\n'), distUsage);
  assert.equal(err('::umem_malloc_dist -b zzz\n'), "mdb: failed to dereference symbol: unknown symbol name 'zzz'\n");
  assert.equal(err('1234::umem_malloc_dist\n'), distUsage);
  assert.equal(err('::umem_malloc_info -q\n'), 'mdb: illegal option -- q\nUsage: [addr] ::umem_malloc_info [-dg] [-b maxbins] [-B minbinsize]\n');
  assert.equal(err('ff000000::umem_malloc_info\n'), 'mdb: unable to read cache at ff000000\n');
  assert.match(err('1234::umem_malloc_info\n'), /^mdb: 1234 is not a valid umem_cache_t: it [^\n]+\n$/);
  // a cache malloc does not use: the header, and illumos' warning
  const mag = cacheAddr(t, 'umem_magazine_1');
  const r = runMdb(t, `${mag}::umem_malloc_info\n`, []);
  assert.equal(r.stdout, `${HEADER}\n`);
  assert.equal(r.stderr, 'mdb: umem_malloc_info: cache "umem_magazine_1" is not used by malloc()\n');
  assert.equal(err('::umastat -k\n'), 'Usage: ::umastat\n');
}

function checkAll(t: Target): void {
  checkMallocInfo(t);
  checkDistributions(t);
  checkUmastat(t);
  checkErrors(t);
}

test('::umem_malloc_info, ::umem_malloc_dist and ::umastat on a live heap', () => {
  const { u } = makeHeap();
  checkAll(umemTarget(u, { ranges: [] }));
});

test('::umem_malloc_info, ::umem_malloc_dist and ::umastat on the heap\'s program core: the same bytes as live', () => {
  const { u, memory } = makeHeap();
  const live = umemTarget(u, { ranges: [] });
  const dir = tmpDir('umemmalloc');
  const t = coreTarget(dir, u, memory);
  try {
    checkAll(t);
    for (const cmd of ['::umem_malloc_info', '::umem_malloc_info -g -b 4', '::umem_malloc_dist -b 0t16', '::umastat']) assert.equal(mdb(t, `${cmd}\n`), mdb(live, `${cmd}\n`), cmd);
  } finally {
    t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('::umem_malloc_info under UMEM_DEBUG=default: hashed caches pay a slab and an audit bufctl per chunk', () => {
  const { u } = makeHeap({ UMEM_DEBUG: 'default' });
  const t = umemTarget(u, { ranges: [] });
  const rows = mdb(t, '::umem_malloc_info\n').split('\n');
  const row = (bufsz: number) => rows.find((r) => new RegExp(`^[0-9a-f]{8} +${bufsz} `).test(r))!;
  // same mallocs, same sizes; the overhead grows by the buftag, the audit bufctls and the external slabs
  assert.match(row(32), /^[0-9a-f]{8} +32 +24 +4 +23 +93 +(\d+) +\d+\.\d%$/);
  const over = Number(/ (\d+) +\d+\.\d%$/.exec(row(32))![1]);
  assert.ok(over > 37, `${over}`);
  const c32 = cacheAddr(t, 'umem_alloc_32');
  const chunk = Number(mdb(t, `${c32}::print -d kmem_cache_t cache_chunksize\n`).replace(/.*= 0t/, ''));
  const slab = Number(mdb(t, `${c32}::print -d kmem_cache_t cache_slabsize\n`).replace(/.*= 0t/, ''));
  const flags = Number.parseInt(mdb(t, `${c32}::print -x kmem_cache_t cache_flags\n`).replace(/.*= 0x/, ''), 16);
  assert.ok(flags & 0x200, 'a hashed cache (KMF_HASH)');
  const chunks = Math.floor(slab / chunk);
  const audit = Number(mdb(t, '::sizeof kmem_bufctl_audit_t\n').replace(/.*= 0x/, '0x'));
  const slabT = Number(mdb(t, '::sizeof kmem_slab_t\n').replace(/.*= 0x/, '0x'));
  const perChunk = 4 * 8 + (4 * chunk - (29 + 32 + 32 + 32)); // tags and each chunk less its malloc_size
  assert.equal(over, perChunk + Math.floor(((slab - chunk * chunks + slabT + chunks * audit) * 4) / chunks));
});

test('dist: linear and geometric binnings as illumos computes them; sparse and array counts agree', () => {
  assert.deepEqual(distLinear(4, 17, 24), [17, 19, 21, 23, 25]);
  assert.deepEqual(distLinear(3, 0, 9), [0, 3, 6, 10]);
  assert.deepEqual(distGeometric(1, 5, 9, 0), [5, 10]);
  // from 0 (computed as from 1), ratio 32761^(1/8) = 3.67: 3.67 13.5 49.5 181.4 ... truncated
  assert.deepEqual(distGeometric(8, 0, 32760, 0), [0, 3, 13, 49, 181, 663, 2435, 8931, 32761]);
  // ratio 32761^(1/12) = 2.38: 2.38 5.65 13.4 ...
  assert.deepEqual(distGeometric(12, 0, 32760, 0), [0, 2, 5, 13, 31, 76, 180, 430, 1023, 2435, 5791, 13774, 32761]);
  // a minimum bin size: ratio 10 (1 10 100 1000 ...), bins grow by 1000 until the curve passes them
  assert.deepEqual(distGeometric(4, 0, 9999, 1000), [0, 1000, 2000, 3000, 10000]);
  const arr = [0, 2, 0, 5, 1, 0, 0, 3];
  const map = new Map(arr.flatMap((n, v) => (n ? [[v, n] as const] : [])));
  const a = arrayCounts(arr);
  const s = sparseCounts(map);
  for (let lo = 0; lo < 9; lo++) for (let hi = lo - 1; hi < 9; hi++) assert.equal(s(lo, hi), a(lo, hi), `${lo}-${hi}`);
});
