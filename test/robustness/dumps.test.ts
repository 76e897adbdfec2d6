/*
 * Damaged and wrong input on real scenario dumps: a dcmd given an address
 * that is not a cache checks the bytes and fails in one line; lists that
 * loop or are cut are walked to the first repeat or the cut with one
 * warning, and analyses that depend on them say their answer is
 * incomplete (a vmem_seg list too, when its loop misses vm_seg0); an
 * address a walker does not expect is an error; a dump file
 * that is not a regular file is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { editedDump, mdb, mdbOn, noInternals, offsetOf, scenarioDump, tmpDir } from './helpers.js';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/genunix.js';
import { parseAddr } from '../../src/machine/addr.js';

const LK = scenarioDump('leak');
const LP = scenarioDump('pool-unload');
const ILP = scenarioDump('redzone', 'ilp32');

/** The n-th cache on kmem_caches (n = 0 is the first) and the address of its cache_link node. */
function cacheNode(t: Parameters<Parameters<typeof editedDump>[1]>[1], img: Parameters<Parameters<typeof editedDump>[1]>[0], n: number): { node: number; head: number } {
  const head = t.symbolByName('kmem_caches')!.value + offsetOf(t, 'list_t', 'list_head');
  let node = img.readPtr(head);
  for (let i = 0; i < n; i++) node = img.readPtr(node);
  return { node, head };
}

test('kmem_caches::kmem_slabs (not a cache) is refused in one line, LP64 and ILP32', () => {
  for (const d of [LP, ILP]) {
    const r = mdbOn(d, 'kmem_caches::kmem_slabs');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^mdb: [0-9a-f]+ is not a valid kmem_cache_t: it has no cache name\n$/);
    assert.equal(r.stdout, '');
  }
});

test('::kmem_slabs -B with an address inside a cache is refused, not an internal error', () => {
  const first = mdbOn(ILP, '::walk kmem_cache').stdout.split('\n')[0]!;
  const inside = '0x' + (BigInt(first) + 0x10n).toString(16);
  const r = mdbOn(ILP, `${inside}::kmem_slabs -B ${inside}`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mdb: [0-9a-f]+ is not a valid kmem_cache_t: it .*\n$/);
  const ok = mdbOn(ILP, `${first}::kmem_slabs`);
  assert.equal(ok.status, 0, ok.stderr);
});

test('walkers that take a cache check it; an explicit address a walker does not expect is an error', () => {
  const cases: Array<[string, RegExp]> = [
    ['0::walk kmem_cache', /kmem_cache is a global walk and takes no address/],
    ['0::walk kmem_slab', /0 is not a valid kmem_cache_t/],
    ['0::walk kmem_cpu_cache', /0 is not a valid kmem_cache_t/],
    ['0::walk vmem_seg', /0 is not a vmem_t on vmem_list/],
    ['0::walk kmem_log', /0 is not a kmem_log_header_t/],
    ['0::walk kmem_alloc_8', /kmem_alloc_8 is a global walk/],
    ['0::walk vmem_postfix', /0 is not a vmem_t on vmem_list/],
    ['0::walk thread', /0 is not a proc_t on the process tree/],
    ['0::walk cpu', /cpu is a global walk/],
    ['0::walk symbols', /symbols is a global walk/],
  ];
  for (const [cmd, re] of cases) {
    const r = mdbOn(LK, cmd);
    assert.equal(r.status, 1, cmd);
    assert.equal(r.stdout, '', cmd);
    // the walker's reason, then illumos' "failed to perform walk: failed to initialize walk"
    const lines = r.stderr.split('\n');
    assert.match(lines[0]!, re, cmd);
    assert.deepEqual(lines.slice(1), ['mdb: failed to perform walk: failed to initialize walk', ''], cmd);
  }
  const pool = mdbOn(LP, '0::walk pool_head');
  assert.equal(pool.status, 1);
  assert.match(pool.stderr, /0x0 is not a pool on pool_head/);
  // what they do expect still works
  const first = mdbOn(LP, '::walk pool_head').stdout.split('\n')[0]!;
  assert.equal(mdbOn(LP, `${first}::walk pool_head`).status, 0);
  const log = mdbOn(LK, '*kmem_transaction_log::walk kmem_log');
  assert.equal(log.status, 0, log.stderr);
  assert.ok(log.stdout.length > 0);
});

test('a kmem_caches node linking to itself: walks stop at the first repeat with one warning; ::findleaks finishes', () => {
  let self = 0;
  const d = editedDump(LK, (img, t) => {
    const { node } = cacheNode(t, img, 3);
    self = node;
    img.writePtr(node, node); // list_next of the 4th cache points at itself
  });
  const w = mdbOn(d, '::walk kmem_cache');
  assert.equal(w.stdout.trim().split('\n').length, 4);
  const warns = w.stderr.trim().split('\n');
  assert.equal(warns.length, 1, w.stderr);
  assert.match(warns[0]!, new RegExp(`kmem_caches list at [0-9a-f]+ is circular: node ${(BigInt.asUintN(64, BigInt(self))).toString(16)} links back to ${(BigInt.asUintN(64, BigInt(self))).toString(16)}`));
  const fl = mdbOn(d, '::findleaks');
  assert.ok(noInternals(fl));
  assert.ok(fl.stdout.split('\n').length < 100, `${fl.stdout.split('\n').length} lines`);
  assert.match(fl.stderr, /the answer is incomplete/);
});

test('a kmem_caches link set to NULL: the walk warns that the list is cut, ::findleaks says it is incomplete instead of "no buffers"', () => {
  const d = editedDump(LK, (img, t) => {
    const { node } = cacheNode(t, img, 2);
    img.writePtr(node, 0);
  });
  const w = mdbOn(d, '::walk kmem_cache');
  assert.equal(w.stdout.trim().split('\n').length, 3);
  assert.match(w.stderr, /^mdb: kmem_caches list at [0-9a-f]+ is cut: node [0-9a-f]+ links to NULL after 3 entries, not back to the head\n$/);
  const fl = mdbOn(d, '::findleaks');
  assert.doesNotMatch(fl.stderr, /findleaks: no buffers found\n/);
  assert.match(fl.stderr, /the answer is incomplete/);
  assert.equal(fl.status, 1);
});

test('a back pointer that does not point back is reported', () => {
  const d = editedDump(LK, (img, t) => {
    const { node } = cacheNode(t, img, 5);
    img.writePtr(node + offsetOf(t, 'list_node_t', 'list_prev'), node);
  });
  const w = mdbOn(d, '::walk kmem_cache');
  assert.match(w.stderr, /the back pointer of node [0-9a-f]+ does not point back to [0-9a-f]+/);
  assert.equal(w.stdout.trim().split('\n').length, mdbOn(LK, '::walk kmem_cache').stdout.trim().split('\n').length);
});

test('a FIFO or a directory as a dump file is refused by name, without opening it', () => {
  const dir = tmpDir('rob-fifo');
  const fifo = path.join(dir, 'vmcore.0');
  execFileSync('mkfifo', [fifo]);
  const f = mdb([LK.unix, fifo], '', 30_000);
  assert.equal(f.status, 1);
  assert.equal(f.stderr, `mdb: failed to open ${fifo}: is a FIFO, not a regular file\n`);
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  const dd = mdb([LK.unix, sub]);
  assert.equal(dd.status, 1);
  assert.equal(dd.stderr, `mdb: failed to open ${sub}: is a directory, not a regular file\n`);
  const du = mdb([sub, LK.vmcore]);
  assert.equal(du.stderr, `mdb: failed to open ${sub}: is a directory, not a regular file\n`);
});

test('a vmem_seg list that loops without reaching vm_seg0 stops at its first repeat with one warning', () => {
  let arena = '';
  let from = '';
  let to = '';
  const d = editedDump(LK, (img, t) => {
    // the first arena with a few segments: its 4th segment links back to its 2nd
    for (const a of runMdb(t, '::walk vmem').stdout.trim().split('\n')) {
      const segs = runMdb(t, `${a}::walk vmem_seg`).stdout.trim().split('\n');
      if (segs.length < 6) continue;
      [arena, from, to] = [a, segs[3]!, segs[1]!].map((x) => x.replace(/^0x/, '')) as [string, string, string];
      break;
    }
    img.writePtr(parseAddr('0x' + from) + offsetOf(t, 'vmem_seg_t', 'vs_anext'), parseAddr('0x' + to));
  });
  const w = mdbOn(d, `${arena}::walk vmem_seg`);
  assert.ok(noInternals(w));
  const warns = w.stderr.trim().split('\n');
  assert.equal(warns.length, 1, w.stderr);
  assert.match(warns[0]!, new RegExp(`vmem_seg list of arena ${arena} is circular: segment ${from} links back to ${to}; stopped after 4 segments`));
});
