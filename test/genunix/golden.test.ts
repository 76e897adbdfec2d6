/*
 * Golden transcripts of the genunix dcmds on a live kernel booted with a
 * fixed seed and a fixed workload (fixture.ts), in the shapes of the MDB
 * guide's transcripts.  Regenerate with UPDATE_GOLDEN=1 (then review the
 * files under test/genunix/golden/ by eye against the guide).
 */

import { test } from 'node:test';
import { makeFixture, mdb, type Fixture } from './fixture.js';
import { goldenIn } from '../golden.js';
import { hex } from '../../src/machine/addr.js';
import { KmemView } from '../../src/mdb/analysis/kmem-view.js';
import { VmemView } from '../../src/mdb/analysis/vmem-view.js';

const golden = goldenIn('genunix/golden');

let fx: Fixture | undefined;
function F(): Fixture {
  fx ??= makeFixture();
  return fx;
}

function run(cmds: string): string {
  const r = mdb(F().t, cmds);
  return cmds
    .split('\n')
    .map((c) => `> ${c}\n`)
    .join('') + r.stdout + (r.stderr ? r.stderr.replace(/^/gm, '! ') : '');
}

const X = (a: number) => '0x' + hex(a);

test('golden: ::kmastat', () => golden('kmastat', run('::kmastat')));
test('golden: ::kmastat -k', () => golden('kmastat-k', run('::kmastat -k')));
test('golden: ::kmem_cache', () => golden('kmem_cache', run('::kmem_cache')));
test('golden: ::kmem_cache -n kmem_alloc_2', () => golden('kmem_cache-n', run('::kmem_cache -n kmem_alloc_2')));
test('golden: ::kmem_slabs', () => golden('kmem_slabs', run('::kmem_slabs -n kmem_alloc')));
test('golden: ::kmem_slabs -v, -b, -B', () => golden('kmem_slabs-dist', run('::kmem_slabs -n kmem_alloc_2 -v\n::kmem_slabs -N kmem_alloc_24 -b 4\n::kmem_slabs -N kmem_va_4096 -B 5 -v')));
test('golden: ::vmem', () => golden('vmem', run('::vmem')));

test('golden: buffer dump, $<bufctl_audit and ::kmem_cache of its cache', () => {
  const f = F();
  const buf = f.kept[0]!;
  const kv = new KmemView(f.t);
  const c = kv.caches().find((x) => kv.allocatedBuffers(kv.cache(x)).some((r) => r.buf === buf))!;
  const ci = kv.cache(c);
  const bcp = f.t.loadPtr(buf + ci.buftagOff + 8);
  golden('buffer-dump', run(`${X(buf)},5/KKn\n${X(bcp)}$<bufctl_audit\n${X(c)}::kmem_cache\n${X(c)}$<kmem_cache`));
});

test('golden: ::kmem_verify', () => golden('kmem_verify', run('::kmem_verify')));

test('golden: ::findleaks and ::findleaks -d', () => {
  golden('findleaks', run('::findleaks'));
  golden('findleaks-d', run('::findleaks -d'));
});

test('golden: ::whatis -a and ::kgrep', () => {
  const f = F();
  golden('whatis', run(`${X(f.kept[5]! + 8)}::whatis -a\n${X(f.freedBuf)}::whatis\n${X(f.kept[9]!)}::kgrep | ::whatis`));
});

test('golden: ::kmem_log, ::walk kmem_log | ::bufctl -a, ::allocdby, ::bufctl -v, ::vmem_seg', () => {
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
