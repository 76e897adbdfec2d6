/*
 * genunix module: precision of ::findleaks and ::kmem_verify, agreement of
 * ::kmastat with the allocator's own counters, ::whatis, ::kgrep, walkers
 * over corrupt structures, and ::help.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, mdb } from './fixture.js';
import { hex } from '../../src/machine/addr.js';
import { findLeaks, TYPE_KMEM, TYPE_VMEM } from '../../src/mdb/analysis/leaks.js';
import { kmemVerify } from '../../src/mdb/analysis/verify.js';
import { kmastat } from '../../src/mdb/analysis/kmastat.js';
import { kgrep } from '../../src/mdb/analysis/kgrep.js';
import { whatis } from '../../src/mdb/analysis/whatis-index.js';
import { KmemView } from '../../src/mdb/analysis/kmem-view.js';
import { genunixModule } from '../../src/mdb/modules/genunix.js';

const X = (a: number) => '0x' + hex(a);

test('findleaks reports exactly the three leaking call paths and the oversize leak', () => {
  const f = makeFixture();
  const r = findLeaks(f.t);
  const kmem = r.groups.filter((g) => g.type === TYPE_KMEM);
  const vm = r.groups.filter((g) => g.type === TYPE_VMEM);
  assert.equal(kmem.length, 3);
  assert.equal(vm.length, 1);
  const byCaller = new Map(kmem.map((g) => [f.t.symbolByAddr(g.caller)!.name, g]));
  assert.equal(byCaller.get('leak_path_a')!.count, 3);
  assert.equal(byCaller.get('leak_path_b')!.count, 5);
  assert.equal(byCaller.get('leak_path_c')!.count, 1);
  assert.deepEqual(
    byCaller
      .get('leak_path_b')!
      .members.map((m) => m.buf)
      .sort((a, b) => a - b),
    [...f.leaked.b].sort((a, b) => a - b),
  );
  // the representative is the oldest
  const g = byCaller.get('leak_path_b')!;
  assert.ok(g.members.every((m) => m.timestamp >= g.rep.timestamp));
  assert.equal(vm[0]!.rep.buf, f.leaked.big[0]);
  assert.equal(f.t.symbolByAddr(vm[0]!.caller)!.name, 'leak_oversize');
  const out = mdb(f.t, '::findleaks').stdout;
  assert.match(out, /Total {7}9 buffers, 1272 bytes/);
  assert.match(out, /Total {7}1 kmem_oversize leak, 200000 bytes/);
});

test('findleaks on a clean system reports no leaks; leak walkers need a run', () => {
  const f = makeFixture({ leaks: false });
  const first = mdb(f.t, '::walk leak');
  assert.match(first.stderr, /::findleaks must be run before leaks can be walked/);
  assert.equal(mdb(f.t, '::findleaks').stdout, 'findleaks: no memory leaks detected\n');
  assert.equal(findLeaks(f.t).groups.length, 0);
});

test('leak and leakbuf walkers yield the leaked bufctls and buffers', () => {
  const f = makeFixture();
  const r = mdb(f.t, '::findleaks -f\n::walk leakbuf');
  const bufs = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('0x'))
    .map((l) => BigInt(l));
  const want = [...f.leaked.a, ...f.leaked.b, ...f.leaked.c, ...f.leaked.big].map((a) => BigInt.asUintN(64, BigInt(a)));
  assert.deepEqual([...bufs].sort(), [...want].sort());
});

test('kmem_verify finds exactly the corrupted buffers and names the offset', () => {
  const f = makeFixture({ leaks: false });
  const { k, kmem } = f.sys;
  const clean = kmemVerify(f.t);
  assert.ok(clean.every((c) => c.corrupt.length === 0), 'a fresh system is clean');
  // 1. modify a freed buffer at offset 8
  const freed = f.freedBuf;
  k.mem.store32(freed + 8, 0);
  // 2. overrun a kmem_alloc(20) buffer into its redzone
  k.enter(f.fns.test_keep);
  const over = kmem.kmemAlloc(20);
  k.leave();
  k.mem.store8(over + 20, 0x41);
  k.mem.store32(over + 24 + 4, 0x12345678); // size encoding destroyed
  // 3. smash the buftag of a kept buffer
  const kept = f.kept[10]!;
  const kv = new KmemView(f.t);
  const cacheOfKept = kv.caches().find((c) => kv.allocatedBuffers(kv.cache(c)).some((r) => r.buf === kept))!;
  const ci = kv.cache(cacheOfKept);
  k.mem.store32(kept + ci.buftagOff + 16, 0x1111);
  const res = kmemVerify(f.t);
  const bad = res.flatMap((c) => c.corrupt.map((x) => ({ ...x, cache: c.name })));
  assert.equal(bad.length, 3, JSON.stringify(bad));
  const m = bad.find((b) => b.buf === freed)!;
  assert.equal(m.kind, 'modified');
  assert.equal(m.offset, 8);
  assert.equal(bad.find((b) => b.buf === over)!.kind, 'size-encoding');
  assert.equal(bad.find((b) => b.buf === kept)!.kind, 'buftag');
  const out = mdb(f.t, '::kmem_verify').stdout;
  assert.equal((out.match(/1 corrupt buffer\n/g) ?? []).length + (out.match(/2 corrupt buffers/g) ?? []).length * 2, 3);
  const one = mdb(f.t, `${X(cacheOfKept)}::kmem_verify`).stdout;
  assert.match(one, new RegExp(`Summary for cache '${ci.name}'\n`));
  assert.match(one, new RegExp(`  buffer ${hex(kept)} \\(allocated\\) has a corrupt buftag`));
});

test('kmastat agrees with the allocator counters', () => {
  const f = makeFixture();
  const ks = kmastat(f.t);
  for (const c of ks.caches) {
    const st = f.sys.kmem.cacheStats(c.addr);
    assert.equal(c.total, st.buftotal, c.name);
    assert.equal(c.inuse, st.bufInuse, c.name);
    assert.equal(c.alloc, st.alloc, c.name);
  }
  assert.ok(ks.totals.some((t) => t.name === 'kmem_default'));
  assert.equal(ks.arenas[0]!.name, 'heap');
});

test('whatis: allocated, freed, the arena chain, unknown', () => {
  const f = makeFixture();
  const kept = f.kept[5]!;
  const a = whatis(f.t, kept + 4);
  assert.equal(a.length, 1);
  assert.equal(a[0]!.kind, 'kmem');
  assert.equal(a[0]!.state, 'allocated');
  assert.equal(a[0]!.base, kept);
  const fr = whatis(f.t, f.freedBuf);
  assert.equal(fr[0]!.state, 'freed');
  const all = mdb(f.t, `${X(kept)}::whatis -a`).stdout.split('\n').filter(Boolean);
  assert.match(all[0]!, /is allocated from kmem_alloc_/);
  assert.ok(all.some((l) => /allocated from the kmem_default vmem arena/.test(l)));
  assert.ok(all.some((l) => /allocated from the kmem_va vmem arena/.test(l)));
  assert.ok(all.some((l) => /allocated from the heap vmem arena/.test(l)));
  assert.match(mdb(f.t, '0x10::whatis').stdout, /^10 is unknown\n$/);
});

test('whatis: illumos forms of audited, quiet, -b, -v and KMF_LITE reports', () => {
  const f = makeFixture();
  const kept = f.kept[5]!;
  const kv = new KmemView(f.t);
  const c = kv.caches().find((x) => kv.allocatedBuffers(kv.cache(x)).some((r) => r.buf === kept))!;
  const bcp = kv.allocatedBuffers(kv.cache(c)).find((r) => r.buf === kept)!.bufctl;
  const name = kv.cache(c).name;
  // KMF_AUDIT: "allocated from C:" then the whole ::bufctl -v of the buffer's bufctl
  const full = mdb(f.t, `${X(kept + 8)}::whatis`).stdout;
  const bv = mdb(f.t, `${X(bcp)}::bufctl -v`).stdout;
  assert.equal(full, `${hex(kept + 8)} is ${hex(kept)}+8, allocated from ${name}:\n${bv}`);
  // -q keeps one line, with the bufctl illumos walked
  assert.equal(mdb(f.t, `${X(kept + 8)}::whatis -q`).stdout, `${hex(kept + 8)} is ${hex(kept)}+8, bufctl ${hex(bcp)} allocated from ${name}\n`);
  // quiet vmem lines name the vmem_seg; -b drops it for segments without a stack
  const qa = mdb(f.t, `${X(kept)}::whatis -aq`).stdout.split('\n').filter(Boolean);
  assert.ok(qa.slice(2).every((l) => /, vmem_seg [0-9a-f]+ allocated from the \S+ vmem arena$/.test(l)), qa.join('\n'));
  // non-quiet: an audited vmem segment is followed by its ::vmem_seg -v
  const va = mdb(f.t, `${X(kept)}::whatis -a`).stdout;
  assert.match(va, /allocated from the heap vmem arena:\n {12}ADDR TYPE {12}START {14}END {13}SIZE\n/);
  // -v: the handler's searches, cache by cache
  const v = mdb(f.t, `${X(f.freedBuf)}::whatis -v`).stdout;
  assert.match(v, /^Searching genunix`kmem\.\.\.$/m);
  assert.match(v, /^Searching kmem_alloc_48\.\.\.\nSearching kmem_alloc_48 for free memory\.\.\.\n[0-9a-f]+ is freed from kmem_alloc_48:\n/m);
  assert.doesNotMatch(v, /Searching kmem_alloc_56/); // stops once found
  // KMF_LITE: the buftag's recent callers, indented 8, unless -q
  const g = makeFixture({ flags: 0x100 });
  const lk = g.kept[5]!;
  const lite = mdb(g.t, `${X(lk)}::whatis`).stdout;
  assert.match(lite, /^[0-9a-f]+ is allocated from kmem_alloc_\d+:\n {8}recent callers?: test_keep\+0x10(, [^\n]+)?\n$/);
  assert.match(mdb(g.t, `${X(lk)}::whatis -q`).stdout, /^[0-9a-f]+ is allocated from kmem_alloc_\d+\n$/);
  // no debugging: one line; -b shows no bufctl for a small-slab cache, a vmem_seg for vmem
  const p = makeFixture({ flags: 0 });
  const pk = p.kept[5]!;
  assert.match(mdb(p.t, `${X(pk)}::whatis -b`).stdout, /^[0-9a-f]+ is allocated from kmem_alloc_\d+\n$/);
  const pa = mdb(p.t, `${X(pk)}::whatis -ab`).stdout.split('\n').filter(Boolean);
  assert.match(pa[pa.length - 1]!, /, vmem_seg [0-9a-f]+ allocated from the heap vmem arena$/);
});

test('kmem_slabs: -n/-N, NOMOVE marks, distribution buckets add up', () => {
  const f = makeFixture();
  const kv = new KmemView(f.t);
  const c = kv.cacheByName('kmem_alloc_24')!;
  const p = kv.partialSlabs(c)[0]!;
  // -N is exact, -n a substring; with both, either matches
  const names = (o: string) => [...mdb(f.t, `::kmem_slabs ${o}`).stdout.matchAll(/^(kmem_\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(names('-N kmem_alloc_24'), ['kmem_alloc_24']);
  assert.ok(names('-n kmem_alloc_2').length > 1);
  assert.deepEqual(names('-N kmem_alloc_24 -n kmem_alloc_256'), ['kmem_alloc_24', 'kmem_alloc_256']);
  // a NOMOVE slab's count carries a '*'
  const flagsOff = f.t.types.offsetof('kmem_slab_t', 'slab_flags');
  f.sys.k.mem.store16(p + flagsOff, 1);
  const refcnt = f.t.load32(p + f.t.types.offsetof('kmem_slab_t', 'slab_refcnt'));
  assert.match(mdb(f.t, '::kmem_slabs -N kmem_alloc_24 -v').stdout, new RegExp(`  0 complete \\(\\d+\\), 1 partial: ${refcnt}\\*\\n\\n$`));
  f.sys.k.mem.store16(p + flagsOff, 0);
  // -b 0: one bucket per count, the complete bucket first; counts sum to the slabs
  const out = mdb(f.t, `${X(c)}::kmem_slabs -b 0`).stdout;
  const rows = [...out.matchAll(/^ +(\d+(?:-\d+)?) \|@* *(\d+)$/gm)];
  const max = kv.cache(c).maxchunks;
  assert.equal(rows[0]![1], String(max));
  assert.equal(rows.length, max); // max (complete) then max-1 .. 1
  assert.equal(rows.reduce((n, r) => n + Number(r[2]), 0), kv.slabs(c).length);
  assert.match(out, /^  Allocated\n    Buffers  -{18} Distribution -{18} Slabs\n/m);
});

test('illumos messages and shapes for bad input and options', () => {
  const f = makeFixture();
  const kv = new KmemView(f.t);
  const c24 = kv.cacheByName('kmem_alloc_24')!;
  const err = (cmd: string) => mdb(f.t, cmd).stderr;
  assert.match(err('::kmausers no_such_cache'), /unknown kmem cache: no_such_cache/);
  // a named cache without KMF_AUDIT is a warning, not an error
  const p = makeFixture({ flags: 0 });
  const na = mdb(p.t, '::kmausers kmem_alloc_24');
  assert.match(na.stderr, /KMF_AUDIT is not enabled for kmem_alloc_24/);
  assert.match(mdb(p.t, '::kmausers').stderr, /KMF_AUDIT is not enabled for any caches/);
  const arena = mdb(f.t, '::walk vmem').stdout.split('\n')[0]!;
  const seg = mdb(f.t, `${arena}::walk vmem_seg`).stdout.split('\n')[0]!;
  assert.match(seg, /^[0-9a-fx]+$/);
  assert.match(err(`${seg}::vmem_seg -T BOGUS`), /"BOGUS" is not a recognized vmem_seg type/);
  assert.match(err(`${seg}::vmem_seg -T alloc`), /"alloc" is not a recognized vmem_seg type/); // case matters
  assert.match(err('0x1::kgrep -s 16'), /sizes greater than 8 not supported/);
  assert.match(err('0x1::kgrep -s 0t6'), /size must be a power of 2/);
  assert.match(err('::walk leak'), /::findleaks must be run before leaks can be walked/);
  // ::kmem_log prints its header on every call; ::bufctl -v prints its header even when filtered out
  const log = mdb(f.t, '::walk kmem_log | ::kmem_log').stdout;
  assert.ok(log.split('\n').filter((l) => /^CPU ADDR/.test(l)).length > 1);
  const bcp = kv.allocatedBuffers(kv.cache(c24))[0]!.bufctl;
  assert.match(mdb(f.t, `${X(bcp)}::bufctl -v -t 0x1234`).stdout, /^ {12}ADDR {10}BUFADDR {8}TIMESTAMP {11}THREAD\n {28}CACHE {10}LASTLOG {9}CONTENTS\n$/);
  // ::kmastat -k: illumos' "%10lu%c" memory column under 10 dashes, no Total for arenas without allocations
  const k = mdb(f.t, '::kmastat -k').stdout.split('\n');
  assert.equal(k[0], 'cache                        buf    buf    buf    memory     alloc alloc');
  assert.match(k.find((l) => l.startsWith('kmem_alloc_24 '))!, /^kmem_alloc_24 +24 +\d+ +\d+ {7,}\dK +\d+ +0$/);
  assert.equal(k.find((l) => l.startsWith('kmem_alloc_24 '))!.length, 25 + 1 + 6 + 1 + 6 + 1 + 6 + 1 + 11 + 1 + 9 + 1 + 5);
  // ::findleaks -v: illumos' statistics block
  const v = mdb(f.t, '::findleaks -fv').stdout.split('\n');
  assert.deepEqual(
    v.slice(0, 13).map((l) => l.replace(/=> .*/, '=>')),
    [
      'findleaks:                maximum buffers =>',
      'findleaks:                 actual buffers =>',
      'findleaks: ',
      'findleaks:             potential pointers =>',
      'findleaks:                     dismissals =>',
      'findleaks:                         misses =>',
      'findleaks:                           dups =>',
      'findleaks:                        follows =>',
      'findleaks: ',
      'findleaks:              peak memory usage =>',
      'findleaks:               elapsed CPU time =>',
      'findleaks:              elapsed wall time =>',
      'findleaks: ',
    ],
  );
  assert.match(v[4]!, /=> \d+ +\( ?\d+\.\d%\)$/);
  assert.match(mdb(f.t, '::findleaks').stdout, /^findleaks: using cached results \(use '-f' to force a full run\)\n/);
  assert.match(err('0x1234::walk leak'), /1234 is not a leaked ctl address/);
});

test('kgrep finds the root slot holding a pointer; whatthread/kgrep options', () => {
  const f = makeFixture();
  const kept = f.kept[7]!;
  const root = f.t.symbolByName('genunix_test_roots')!.value;
  const { hits } = kgrep(f.t, kept);
  assert.ok(hits.some((h) => h.addr === root + 7 * 8));
  const out = mdb(f.t, `${X(kept)}::kgrep`).stdout;
  assert.ok(out.split('\n').includes(hex(root + 56)));
  assert.match(mdb(f.t, `${X(kept)}::kgrep -d 8 -m 0xff`).stderr, /only one of -d, -m and -M may be specified/);
  assert.match(mdb(f.t, `${X(kept)}::kgrep -s 3`).stderr, /size must be a power of 2/);
  const near = mdb(f.t, `${X(kept - 4)}::kgrep -d 0x10`).stdout;
  assert.ok(near.split('\n').includes(hex(root + 56)));
});

test('::whatis -v labels each handler with the module that registered it (genunix`threads, mdb`mappings last)', () => {
  const f = makeFixture({ leaks: false });
  const labels = mdb(f.t, '1234::whatis -v')
    .stdout.split('\n')
    .filter((l) => l.includes('`'))
    .map((l) => l.replace(/^Searching (.*)\.\.\.$/, '$1'));
  // illumos order: priority (EARLY 10, ALLOCATOR 20, LATE 30, mdb`mappings
  // WHATIS_PRIO_MIN 99), then module name, then registration
  assert.deepEqual(labels, ['genunix`modules', 'genunix`threads', 'genunix`kmem', 'genunix`vmem', 'genunix`unloaded_modules', 'mdb`mappings']);
  // -i: only the handlers registered without WHATIS_REG_NO_ID (kmem and vmem, as illumos kmem_init())
  const ids = mdb(f.t, '1234::whatis -iv').stdout;
  assert.equal(ids, 'Searching genunix`kmem...\nSearching genunix`vmem...\n1234 is unknown\n');
  assert.equal(
    mdb(f.t, '::whatis -l').stdout,
    'NAME             MODULE       PRIO             FUNC              ARG    FLAGS\n' +
      'modules          genunix        10 0                0                   NO_ID\n' +
      'threads          genunix        10 0                0                   NO_ID\n' +
      'kmem             genunix        20 0                0                    none\n' +
      'vmem             genunix        20 0                0                    none\n' +
      'unloaded_modules genunix        30 0                0                   NO_ID\n' +
      'mappings         mdb            99 0                0                   NO_ID\n',
  );
  // the genunix registration answers for threads: one search, same report
  const t = f.t.threads()[0]!;
  const r = mdb(f.t, `${X(t.addr + 8)}::whatis -v`).stdout;
  assert.equal(r, `Searching genunix\`modules...\nSearching genunix\`threads...\n${hex(t.addr + 8)} is ${hex(t.addr)}+8, allocated as a thread structure\n`);
});

test('::help whatis lists the genunix handlers as SOURCES (illumos whatis_help); -D lists the addresses first', () => {
  const f = makeFixture({ leaks: false });
  const help = mdb(f.t, '::help whatis').stdout;
  assert.ok(
    help.endsWith(
      'SOURCES\n\n' +
        '  The following information sources will be used:\n\n' +
        '    genunix`modules\n' +
        '    genunix`threads\n' +
        '    genunix`kmem\n' +
        '    genunix`vmem\n' +
        '    genunix`unloaded_modules\n' +
        '    mdb`mappings\n' +
        '\n' +
        'ATTRIBUTES\n\n' +
        '  Target: live\n' +
        '  Module: mdb\n' +
        '  Interface Stability: Evolving\n\n',
    ),
    help,
  );
  // the kmem report continues the "    %p" line (illumos cmd_whatis prints no newline after it)
  const kept = f.kept[5]!;
  const q = mdb(f.t, `${X(kept + 8)}::whatis -q`).stdout;
  assert.equal(mdb(f.t, `${X(kept + 8)}::whatis -Dq`).stdout, `Searching for:\n    ${hex(kept + 8)}${q}`);
});

test('::whatthread prints each thread holding the value as 0x-prefixed %#lr', () => {
  const f = makeFixture({ leaks: false });
  const [t0, t1] = f.t.threads();
  const v = f.kept[9]!;
  f.sys.k.mem.storePtr(t1!.stackBase + 0x80, v);
  f.sys.k.mem.storePtr(t1!.stackBase + 0x88, v);
  assert.equal(mdb(f.t, `${X(v)}::whatthread`).stdout, `${X(t1!.addr)}\n`);
  assert.match(X(t1!.addr), /^0xfffffe10/);
  assert.equal(
    mdb(f.t, `${X(v)}::whatthread -v`).stdout,
    // t1 (kmem_taskq) sleeps: its saved sp is above the words written at the stack's base
    `${hex(t1!.stackBase + 0x80)} in thread ${hex(t1!.addr)}'s stack (below sp)\n${hex(t1!.stackBase + 0x88)} in thread ${hex(t1!.addr)}'s stack (below sp)\n`,
  );
  f.sys.k.mem.storePtr(t0!.stackBase, v);
  assert.equal(mdb(f.t, `${X(v)}::whatthread`).stdout, `${X(t0!.addr)}\n${X(t1!.addr)}\n`);
  assert.match(mdb(f.t, '::whatthread').stderr, /^Usage: addr ::whatthread \[-v\]$/m);
});

test('walkers end with a message on a corrupt freelist or hash chain, never hang', () => {
  const f = makeFixture({ leaks: false });
  const kv = new KmemView(f.t);
  const c = kv.cacheByName('kmem_alloc_48')!;
  const ci = kv.cache(c);
  // hash chain cycle: point a bufctl's bc_next at itself
  const refs = kv.allocatedBuffers(ci);
  const bcp = refs[0]!.bufctl;
  f.sys.k.mem.storePtr(bcp, bcp);
  const r = mdb(f.t, `${X(c)}::walk kmem`);
  assert.match(r.stderr, /cycle at/);
  // a partial slab whose freelist points at unmapped memory
  const slab = kv.partialSlabs(c)[0]!;
  f.sys.k.mem.storePtr(slab + f.t.types.offsetof('kmem_slab_t', 'slab_head'), 0x1000);
  const r2 = mdb(f.t, `${X(c)}::walk freemem`);
  assert.match(r2.stderr, /corrupt bufctl ptr 1000 in slab/);
  // cache list pointing at unmapped memory
  const caches = f.t.symbolByName('kmem_caches')!.value;
  const next = f.t.types.offsetof('list_t', 'list_head.list_next');
  f.sys.k.mem.storePtr(caches + next, 0x2000);
  const r3 = mdb(f.t, '::walk kmem_cache');
  assert.match(r3.stderr, /kmem_caches/);
});

test('every dcmd has help; per-cache walkers exist', () => {
  const f = makeFixture({ leaks: false });
  for (const d of genunixModule.dcmds) {
    assert.ok(d.help && d.help.length > 40, d.name);
    const r = mdb(f.t, `::help ${d.name}`);
    assert.match(r.stdout, new RegExp(d.description.replace(/[()$<>|[\]]/g, '.')));
  }
  const w = mdb(f.t, '::walk kmem_alloc_24');
  assert.equal(w.stderr, '');
});

test('::kmem_debug toggles what the kmem walkers say about their walk (stderr), per target', () => {
  const f = makeFixture({ leaks: false });
  const quiet = mdb(f.t, '::walk kmem_alloc_128');
  assert.equal(quiet.stderr, '');
  const on = mdb(f.t, '::kmem_debug\n::walk kmem_alloc_128\n::walk kmem_log ! wc -l');
  assert.match(on.stdout, /^kmem: debugging is now on\n/);
  assert.match(on.stderr, /^mdb: kmem_debug: walking [0-9a-f]+ \(kmem_alloc_128\): [1-9]\d* allocated buffers$/m);
  assert.match(on.stderr, /^mdb: kmem_debug: walking log header [0-9a-f]+$/m);
  const n = Number(/: (\d+) allocated buffers/.exec(on.stderr)![1]);
  assert.equal(on.stdout.split('\n').filter((l) => /^0x[0-9a-f]+$/.test(l)).length, n, 'the count it reports is the count it walks');
  const off = mdb(f.t, '::kmem_debug\n::walk kmem_alloc_128');
  assert.match(off.stdout, /^kmem: debugging is now off\n/);
  assert.equal(off.stderr, '');
});
