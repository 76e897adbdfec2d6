/*
 * Golden transcripts of the genunix dcmds on a live kernel booted with a
 * fixed seed and a fixed workload (fixture.ts), in the shapes of the MDB
 * guide's transcripts, in both data models (the LP64 files keep their
 * historical names; the ILP32 ones end in -ilp32, the guide's own data
 * model).  Regenerate with UPDATE_GOLDEN=1 (then review the files under
 * test/genunix/golden/ by eye against the guide).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, mdb, type Fixture } from './fixture.js';
import { goldenIn, transcript } from '../golden.js';
import { hex, parseAddr } from '../../src/machine/addr.js';
import { KmemView } from '../../src/mdb/analysis/kmem-view.js';
import { VmemView } from '../../src/mdb/analysis/vmem-view.js';

const goldenFile = goldenIn('genunix/golden');
const X = (a: number) => '0x' + hex(a);

for (const model of ['lp64', 'ilp32'] as const) {
  const golden = (name: string, text: string) => goldenFile(model === 'lp64' ? name : `${name}-${model}`, text);
  let fx: Fixture | undefined;
  const F = (): Fixture => (fx ??= makeFixture({ model }));

  /** "> cmd" lines, then what mdb printed (stderr lines marked "! "). */
  const run = (cmds: string): string => {
    const r = mdb(F().t, cmds);
    return cmds
      .split('\n')
      .map((c) => `> ${c}\n`)
      .join('') + r.stdout + (r.stderr ? r.stderr.replace(/^/gm, '! ') : '');
  };

  test(`golden (${model}): ::kmastat`, () => golden('kmastat', run('::kmastat')));
  test(`golden (${model}): ::kmastat -k`, () => golden('kmastat-k', run('::kmastat -k')));
  test(`golden (${model}): ::kmem_cache`, () => golden('kmem_cache', run('::kmem_cache')));
  test(`golden (${model}): ::kmem_cache -n kmem_alloc_2`, () => golden('kmem_cache-n', run('::kmem_cache -n kmem_alloc_2')));
  test(`golden (${model}): ::kmem_slabs`, () => golden('kmem_slabs', run('::kmem_slabs -n kmem_alloc')));
  test(`golden (${model}): ::kmem_slabs -v, -b, -B`, () => golden('kmem_slabs-dist', run('::kmem_slabs -n kmem_alloc_2 -v\n::kmem_slabs -N kmem_alloc_24 -b 4\n::kmem_slabs -N kmem_va_4096 -B 5 -v')));
  test(`golden (${model}): ::vmem`, () => golden('vmem', run('::vmem')));

  test(`golden (${model}): the guide's walks (kmem_cache, kmem and freemem of kmem_alloc_24, the per-cache walkers, thread_cache), kmem_cpu_cache, kmem_slab`, () => {
    const f = F();
    const kv = new KmemView(f.t);
    const c24 = kv.cacheByName('kmem_alloc_24')!;
    const cmds = ['::walk kmem_cache ! wc -l', `${X(c24)}::walk kmem`, `${X(c24)}::walk freemem ! wc -l`, '::walk kmem_alloc_24', '::walk thread_cache', `${X(c24)}::walk kmem_cpu_cache`, `${X(c24)}::walk kmem_slab`];
    const text = transcript(f.t, cmds);
    golden('guide-walks', text);
    const out = (cmd: string) => text.split(`> ${cmd}\n`)[1]!.split('\n> ')[0]!.trim().split('\n');
    const addrs = (cmd: string) => out(cmd).map((l) => parseAddr(l));
    // ::walk kmem_alloc_24 is ::walk kmem from kmem_alloc_24's address, and holds the fixture's buffers of that size
    assert.deepEqual(addrs('::walk kmem_alloc_24'), addrs(cmds[1]!));
    for (const b of f.leaked.a) assert.ok(addrs('::walk kmem_alloc_24').includes(b), `leaked ${hex(b)} is allocated from kmem_alloc_24`);
    assert.equal(Number(out(cmds[0]!)[0]), kv.caches().length);
    assert.equal(Number(out(cmds[2]!)[0]), kv.freeBuffers(kv.cache(c24)).length);
    // thread_cache holds the LWPs' threads, each a kthread_t the thread walker knows
    const threads = new Set(f.t.threads().map((t) => t.addr));
    assert.ok(addrs('::walk thread_cache').length > 0);
    for (const t of addrs('::walk thread_cache')) assert.ok(threads.has(t), `${hex(t)} is a thread`);
    // one kmem_cpu_cache_t per CPU, inside the cache (cache_cpu[]); the slabs are the cache's complete then partial ones
    const cpuOff = c24 + f.t.types.offsetof('kmem_cache_t', 'cache_cpu');
    const ccSize = f.t.types.size('kmem_cpu_cache_t');
    assert.deepEqual(addrs(cmds[5]!), [0, 1].map((i) => cpuOff + i * ccSize));
    assert.deepEqual(addrs(cmds[6]!), kv.slabs(c24));
  });

  test(`golden (${model}): buffer dump, $<bufctl_audit and ::kmem_cache of its cache`, () => {
    const f = F();
    const buf = f.kept[0]!;
    const kv = new KmemView(f.t);
    const c = kv.caches().find((x) => kv.allocatedBuffers(kv.cache(x)).some((r) => r.buf === buf))!;
    const ci = kv.cache(c);
    const bcp = f.t.loadPtr(buf + ci.buftagOff + f.t.types.offsetof('kmem_buftag_t', 'bt_bufctl'));
    golden('buffer-dump', run(`${X(buf)},5/KKn\n${X(bcp)}$<bufctl_audit\n${X(c)}::kmem_cache\n${X(c)}$<kmem_cache`));
  });

  test(`golden (${model}): ::kmem_verify`, () => golden('kmem_verify', run('::kmem_verify')));

  test(`golden (${model}): ::findleaks and ::findleaks -d`, () => {
    golden('findleaks', run('::findleaks'));
    golden('findleaks-d', run('::findleaks -d'));
  });

  test(`golden (${model}): ::whatis -a and ::kgrep`, () => {
    const f = F();
    golden('whatis', run(`${X(f.kept[5]! + 8)}::whatis -a\n${X(f.freedBuf)}::whatis\n${X(f.kept[9]!)}::kgrep | ::whatis`));
  });

  test(`golden (${model}): ::kmem_log, ::walk kmem_log | ::bufctl -a, ::allocdby, ::bufctl -v, ::vmem_seg`, () => {
    const f = F();
    const leaked = f.leaked.a[1]!;
    const th = f.sys.k.cur.addr;
    golden('kmem_log', run('::kmem_log'));
    golden('bufctl-a', run(`::walk kmem_log | ::bufctl -a ${X(leaked)}`));
    golden('allocdby', run(`${X(th)}::allocdby`));
    const kv = new KmemView(f.t);
    const c = kv.cacheByName('kmem_alloc_24')!;
    const bcp = kv.allocatedBuffers(kv.cache(c)).find((r) => r.buf === leaked)!.bufctl;
    golden('bufctl-v', run(`${X(bcp)}::bufctl -v\n${X(bcp)}::bufctl -h`));
    golden('kmalog', run('::kmalog').split('\n').slice(0, 40).join('\n') + '\n');
    const ov = new VmemView(f.t).arenaByName('kmem_oversize')!;
    golden('vmem_seg', run(`${X(ov)}::walk vmem_seg | ::vmem_seg\n${X(ov)}::walk vmem_alloc | ::vmem_seg -v`));
  });
}
