/*
 * mdb -k: a live kernel booted with a fixed seed, stopped, inspected,
 * written to (-w), run on with ::kmemdb_run and stopped again, in both
 * data models; a kmem mistake panicking while it runs; the mdb -k command
 * line.  Golden transcripts under test/genunix/golden/live-*.txt
 * (UPDATE_GOLDEN=1 regenerates them).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { bootLive as boot, type LiveOptions } from '../../src/scenarios/live.js';
import { liveTarget } from '../../src/target/live-target.js';
import { goldenIn, transcript } from '../golden.js';
import { hex } from '../../src/machine/addr.js';
import '../../src/mdb/modules/genunix.js';
import '../../src/mdb/modules/netbsd.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin');
const golden = goldenIn('genunix/golden');

/** What mdb -k [-w] opens (src/cli/mdb-live.ts). */
function bootLive(o: LiveOptions & { writable?: boolean }) {
  const lk = boot(o);
  return { ...lk, target: liveTarget(lk.system.k, { writable: o.writable ?? false, control: lk.control }) };
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: mdb -k on the clean workload: read, write only with -w, run on and stop again`, () => {
    const ro = bootLive({ model, seed: 3 });
    const roText = transcript(ro.target, ['kmem_flags/W 0', 'kmem_flags/X']);
    assert.match(roText, /failed to write 0x0 at address 0x[0-9a-f]+: target is not open for writing/);
    assert.match(roText, /kmem_flags:\s+f\s*\n/);

    const lk = bootLive({ model, seed: 3, writable: true });
    const text = transcript(lk.target, [
      '::status',
      'kmem_flags/X',
      '::walk memtest_obj ! wc -l',
      '::kmemdb_run 12.5',
      '::kmastat ! grep memtest',
      '::kmemdb_run',
      '::findleaks',
      'kmem_flags/W 0',
      'kmem_flags/X',
      '::kmemdb_run 1',
    ]);
    golden(`live-${model}`, text);
    assert.match(text, /^debugging live kernel \((32|64)-bit\) on /m);
    assert.match(text, /kmemdb: ran 12\.500s; stopped at hrtime [\d.]+s\n/);
    assert.match(text, /kmemdb: ran [\d.]+s; the workload has finished, the kernel idles; stopped at hrtime [\d.]+s\n/);
    assert.match(text, /no memory leaks detected/);
    assert.match(text, /kmem_flags:\s+0\s*\n/);
    assert.equal(lk.system.kmem.errors.length, 0);
  });

  test(`${model}: mdb -k --scenario redzone: stopped before the mistake; ::kmemdb_run panics it and the target shows the panic`, () => {
    const lk = bootLive({ model, scenario: 'redzone', seed: 3 });
    const text = transcript(lk.target, ['::status', '::kmemdb_run 0.5', '::kmemdb_run', '::status', '$c', '::kmemdb_run']);
    golden(`live-redzone-${model}`, text);
    assert.match(text, /kmemdb: ran 0\.500s; stopped/);
    assert.match(text, /kernel memory allocator: redzone violation: write past end of buffer\n/);
    assert.match(text, /kmemdb: the kernel panicked after [\d.]+s; stopped at/);
    assert.match(text, /panic message: kernel heap corruption detected\n/);
    assert.match(text, /^memtest_setname\+0x[0-9a-f]+\(\)$/m);
    assert.match(text, /mdb: kmemdb_run: the kernel has panicked \(kernel heap corruption detected\); it does not run on\n/);
  });
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: mdb -k --scenario pool-unload: the NetBSD failure reached live, with the dump's diagnosis`, () => {
    const lk = bootLive({ model, scenario: 'pool-unload' });
    const ran = transcript(lk.target, ['::status', '::kmemdb_run', '::status', '$c', '::stacks -t panic', '*mqmsg_cache::print struct pool pr_wchan pr_alloc_list']);
    // the stale tqe_prev points into the unloaded culprit module's former data, as on the dump
    const t = lk.target;
    const stale = t.loadPtr(t.loadPtr(t.symbolByName('mqmsg_cache')!.value) + t.types.offsetof('struct pool', 'pr_alloc_list.tqe_prev'));
    const text = ran + transcript(t, [`0x${hex(stale)}::whatis`]);
    golden(`live-pool-unload-${model}`, text);
    assert.match(text, /kmemdb: the kernel panicked/);
    assert.match(text, /^pool_destroy\+0xb1\([0-9a-f]+\)$/m);
    assert.match(text, /pr_wchan = 0x[0-9a-f]+ "mqmsgpl"/);
    assert.match(text, new RegExp(`tqe_prev = 0x${hex(stale)}\n`));
    const link = t.types.offsetof('struct pool', 'pr_alloc_list');
    assert.match(text, new RegExp(`formerly belonging to module culprit .*: culprit_pool\\+0x${link.toString(16)}\n`));
  });
}

test('::kmemdb_run on a target that cannot run, and bad arguments, fail in one line', () => {
  const lk = bootLive({ seed: 3 });
  const text = transcript(lk.target, ['::kmemdb_run x', '::kmemdb_run -1', '::kmemdb_run 1 2']);
  assert.match(text, /mdb: kmemdb_run: bad number of seconds "x" \(decimal, e\.g\. 5 or 0\.5\)\n/);
  assert.match(text, /mdb: kmemdb_run: bad number of seconds "-1"/);
  assert.match(text, /Usage: ::kmemdb_run|usage/i);
});

test('the command line: mdb -k, mdb -kw, kmemdb mdb -k; options in one-line errors', () => {
  const mdb = (args: string[]) => spawnSync(join(BIN, 'mdb'), args, { encoding: 'utf8' });
  const a = mdb(['-k', '--model', 'ilp32', '--seed', '2', '-e', 'kmem_flags/X;::kmemdb_run 1']);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /kmem_flags:\s+f\s*\n/);
  assert.match(a.stdout, /kmemdb: ran 1\.000s; stopped/);
  const w = mdb(['-kw', '--kmem-flags', '0x1', '-e', 'kmem_flags/W 0;kmem_flags/X']);
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stdout, /kmem_flags:\s+0\s*\n/);
  const ro = mdb(['-k', '-e', 'kmem_flags/W 0']);
  assert.equal(ro.status, 1);
  assert.match(ro.stderr, /target is not open for writing/);
  const k = spawnSync(join(BIN, 'kmemdb'), ['mdb', '-k', '--scenario', 'leak', '-e', '::kmemdb_run;::findleaks'], { encoding: 'utf8' });
  assert.equal(k.status, 0, k.stderr);
  assert.match(k.stdout, /memtest_stats_update\+0x/);
  for (const [args, re] of [
    [['-k', '--scenario', 'nope'], /^mdb: unknown scenario "nope"/],
    [['-k', '--model', 'sparc'], /^mdb: --model must be lp64 or ilp32/],
    [['-k', '--at', 'soon'], /^mdb: --at: bad number of seconds "soon"/],
  ] as const) {
    const r = mdb([...args]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
