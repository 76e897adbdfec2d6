/*
 * Golden transcripts: each failure of the NetBSD report reproduced with a
 * fixed seed (kmem_flags 0xf), dumped, and examined with the mdb commands
 * that show its root cause; the --fixed run's forced dump (1000 clean
 * load/unload cycles: no leak, no corruption, every module unloaded); plus
 * the demo's whole transcript.  Regenerate
 * with UPDATE_GOLDEN=1 and review test/netbsd-mdb/golden/*.txt by eye.
 * Besides the byte comparison, each test asserts the lines that carry the
 * diagnosis, so a regenerated golden cannot silently lose it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type RunOptions } from '../../src/scenarios/index.js';
import { openDump } from '../../src/target/dump-target.js';
import { goldenIn, transcript } from '../golden.js';
import '../../src/mdb/modules/genunix.js';
import '../../src/mdb/modules/netbsd.js';
import type { Target } from '../../src/target/target.js';
import { hex } from '../../src/machine/addr.js';
import { runDemo } from '../../src/demo/demo.js';
import { bootSystem } from '../../src/system.js';
import { bootNetbsd } from '../../src/netbsd/index.js';
import { Builder, type Package } from '../../src/netbsd/workload.js';
import { ipcPackage } from '../../src/scenarios/netbsd-report.js';
import { liveTarget } from '../../src/target/live-target.js';

const golden = goldenIn('netbsd-mdb/golden');

const tmp = mkdtempSync(join(tmpdir(), 'netbsd-mdb-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function dump(name: string, opts: Partial<RunOptions> = {}): Target {
  const dir = join(tmp, `${name}${opts.debugChecks ? '-debug' : ''}-${opts.model ?? 'lp64'}`);
  const r = runScenario(name, { dir, seed: 1, kmemFlags: 0xf, ...opts });
  return openDump(r.dump.unixPath, r.dump.vmcorePath);
}

const X = (a: number) => '0x' + hex(a);

for (const model of ['lp64', 'ilp32'] as const) {
  // the LP64 goldens keep their historical names
  const sfx = model === 'lp64' ? '' : `-${model}`;

  test(`${model}: issue 1 (pool-unload): the stale tqe_prev is &culprit_pool.pr_alloc_list of the unloaded module`, () => {
    const t = dump('pool-unload', { model });
    const pp = t.loadPtr(t.symbolByName('mqmsg_cache')!.value);
    const stale = t.loadPtr(pp + t.types.offsetof('struct pool', 'pr_alloc_list.tqe_prev'));
    const link = `culprit_pool\\+0x${t.types.offsetof('struct pool', 'pr_alloc_list').toString(16)}`;
    const text = transcript(t, [
      '::status',
      '$c',
      '*mqmsg_cache::print struct pool pr_wchan pr_alloc_list',
      'pool_allocator_nointr::print struct pool_allocator pa_list',
      'pool_allocator_nointr::walk pa_list',
      '::walk pool_head',
      `${X(stale)}::whatis`,
      '::pool',
      '::modstat -h',
    ]);
    golden(`pool-unload${sfx}`, text);
    // each pool frame shows the pool_cache (whose first member is its pool) it is destroying
    assert.match(text, /pool_destroy\+0xb1\(([0-9a-f]+)\)\npool_cache_bootstrap_destroy\+0x[0-9a-f]+\(\1\)\npool_cache_destroy\+0x[0-9a-f]+\(\1\)\nmqueue_modcmd\+0x[0-9a-f]+\(\)\nmodule_do_unload/);
    assert.match(text, new RegExp(`tqh_last = ${X(stale)}\n`));
    assert.match(text, new RegExp(`tqe_prev = ${X(stale)}\n`));
    assert.match(text, /mdb: pa_list: element at 0x[0-9a-f]+ is unmapped \(culprit_pool in unloaded module culprit's former data/);
    assert.match(text, new RegExp(`is in freed module_map range formerly belonging to module culprit \\(loaded at [0-9.]+s, unloaded at [0-9.]+s\\): ${link}\n`));
    assert.match(text, /lies in the unloaded module culprit's former range \(culprit_pool, .*still referenced by pool_head, pa_list of pool_allocator_nointr\n/);
  });

  test(`${model}: issue 2 (pool-drain): drainpp points at the unloaded module's pool`, () => {
    const t = dump('pool-drain', { model });
    const text = transcript(t, ['::status', '$c', 'drainpp/K', '*drainpp::whatis', '::walk pool_head', '::pool']);
    golden(`pool-drain${sfx}`, text);
    assert.match(text, /pool_drain\+0x3b\(\)\nuvm_pageout/);
    assert.match(text, /is in freed module_map range formerly belonging to module culprit .*: culprit_pool\n/);
    assert.match(text, /still referenced by pool_head, pa_list of pool_allocator_nointr, drainpp\n/);
  });

  test(`${model}: issue 3 (sysctl-log): kern.ipc nodes outlive sysv_ipc, with handlers in its freed text`, () => {
    const t = dump('sysctl-log', { model });
    const panicThread = t.threads().find((x) => x.addr === t.status().panicThread);
    assert.ok(panicThread, 'the dump names its panic thread');
    const fault = panicThread.pc;
    const text = transcript(t, ['::status', '$c', '::sysctl kern', `${X(fault)}::whatis`, '::modstat -h']);
    golden(`sysctl-log${sfx}`, text);
    assert.match(text, /!! spare slots \d+-15 at 0x[0-9a-f]+\.\. have sysctl_parent 0x[0-9a-f]+ \(kern\.boottime\), expected/);
    assert.match(text, /kern\.ipc\.semmni +int +func 0x[0-9a-f]+\n {4}!! handler 0x[0-9a-f]+ is outside loaded text \(sysctl_ipc_semmni in unloaded module sysv_ipc's former text/);
    assert.match(text, /formerly belonging to module sysv_ipc .*: sysctl_ipc_semmni\n/);
  });

  test(`${model}: issue 3 with --debug-checks: the parent mismatch at sysctl_createv, seen by ::sysctl -p`, () => {
    const t = dump('sysctl-log', { debugChecks: true, model });
    const text = transcript(t, ['::status', '$c', '::sysctllog', '::sysctl -p kern.ipc']);
    golden(`sysctl-log-debug${sfx}`, text);
    assert.match(text, /sysctl parent mis-match/);
    assert.match(text, /kern\.ipc\.semmni .*\n {4}!! sysctl_parent is 0x[0-9a-f]+ \(kern\.boottime\), but the node sits in the child array of 0x[0-9a-f]+ \(kern\.ipc\): parent-pointer path 1\.83\.\d+ \(kern\.boottime\.\?\) vs containment path 1\.82\.\d+\n/);
  });
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: kmemdb crash pool-unload --fixed: 1000 load/unload cycles, a forced dump in which mdb finds no panic cause, leak or corruption`, () => {
    const r = runScenario('pool-unload', { dir: join(tmp, `fixed-${model}`), seed: 1, kmemFlags: 0xf, model, fixed: true });
    assert.equal(r.panicMessage, 'forced crash dump initiated at user request');
    const history = r.system.k.moduleHistory;
    assert.ok(history.filter((m) => m.name === 'mqueue').length >= 1000);
    // sysv_ipc and culprit stay loaded (mod_autotime 0) after a cycle where compat_linux was busy, until memory pressure
    assert.ok(history.filter((m) => m.name === 'sysv_ipc').length >= 500);
    assert.ok(history.filter((m) => m.name === 'culprit').length >= 500);
    const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
    try {
      const text = transcript(t, ['::status', '$c', '::findleaks', '::kmem_verify ! grep -cv clean', '::modstat', '::sysctl kern.ipc']);
      golden(`fixed${model === 'lp64' ? '' : `-${model}`}`, text);
      assert.match(text, /^findleaks: no memory leaks detected$/m);
      assert.match(text, /^> ::kmem_verify ! grep -cv clean\n1\n/m, 'only the header is not "clean"');
      // every module of the workload unloaded; kern.ipc keeps only its permanent child
      assert.match(text, /^> ::modstat\nNAME .*\n(.* builtin .*\n)+> /m);
      assert.match(text, /^> ::sysctl kern.ipc\n.*\n[0-9a-f]+ 1\.82 +kern\.ipc +node +1\/16 children\n[0-9a-f]+ 1\.82\.\d+ +kern\.ipc\.maxsockbuf .*\n$/m);
    } finally {
      t.close();
    }
  });
}

test('issue 3 live: sysv_ipc\'s sysctllog records 1.83.N, and ::sysctllog says teardown will skip it', () => {
  const sys = bootSystem({ model: 'lp64', seed: 1, kmemFlags: 0xf });
  const os = bootNetbsd(sys, { verbose: true });
  const b = new Builder(os);
  b.build(ipcPackage('boost-libs-1.59.0', false));
  let text = '';
  const pkg: Package = ipcPackage('glib2-2.46.1', false);
  b.build(pkg, {
    afterStep(_p, step) {
      if (step.op === 'sem_open' && text === '') text = transcript(liveTarget(sys.k), ['*sysctl_sysvipc_clog::sysctllog', '::sysctl -p kern.ipc']);
    },
  });
  golden('sysctllog-live', text);
  assert.match(text, /^root 0x[0-9a-f]+ left \d+ size \d+ content version \d+ type 2 len 3: 1 83 \d+ .* end\n/m);
  assert.match(text, /1\.83\.\d+ +!! does not resolve: kern\.boottime \(1\.83\) is a leaf \(struct\), it has no children; sysctl_teardown will skip it\n/);
});

test('the demo transcript (fixed seed) and its dump are byte-identical across runs', () => {
  const runIn = (name: string) => {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true });
    const cwd = process.cwd();
    let out = '';
    process.chdir(d);
    try {
      const r = runDemo({ dir: './crash', out: (s) => (out += s) });
      assert.equal(r.ok, true);
      assert.equal(r.index, 0);
    } finally {
      process.chdir(cwd);
    }
    return { out, vmcore: readFileSync(join(d, 'crash', 'vmcore.0')), unix: readFileSync(join(d, 'crash', 'unix.0')) };
  };
  const a = runIn('demo-a');
  golden('demo', a.out);
  const b = runIn('demo-b');
  assert.equal(b.out, a.out);
  assert.ok(a.vmcore.equals(b.vmcore), 'vmcore.0 differs between two runs with the same seed');
  assert.ok(a.unix.equals(b.unix), 'unix.0 differs between two runs with the same seed');
  for (const cmd of ['::status', '$c', '::walk pa_list', '::whatis', '::pool', '::modstat -h']) assert.ok(a.out.includes(cmd), cmd);
  assert.match(a.out, /culprit_pool\+0x80/);
  assert.match(a.out, /\n {4}\.\/bin\/mdb \.\/crash 0\n/);
});
