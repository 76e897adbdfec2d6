/*
 * Every scenario panics the way it should and leaves a dump that mdb reads:
 * the kmem error class, the panic message, the client on the panic stack;
 * the leak workload's leaks are exactly what ::findleaks reports; the clean
 * workload has none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bootForScenario, runScenario, scenarios, findScenario, registerScenario, ScenarioError } from '../../src/scenarios/index.js';
import { leakWorkload } from '../../src/scenarios/kmem-clients.js';
import { bootSystem } from '../../src/system.js';
import { openDump } from '../../src/target/dump-target.js';
import { runMdb } from '../../src/mdb/index.js';
import { run } from '../../src/cli/kmemdb.js';
import '../../src/mdb/modules/genunix.js';

const tmp = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `kmemdb-scn-${tag}-`));

const EXPECT: Record<string, { error?: string; panic: RegExp; frame: string; args?: string }> = {
  'modified-after-free': { error: 'MODIFIED', panic: /^kernel heap corruption detected$/, frame: 'memtest_submit' },
  redzone: { error: 'REDZONE', panic: /^kernel heap corruption detected$/, frame: 'memtest_setname' },
  'duplicate-free': { error: 'DUPFREE', panic: /^kernel heap corruption detected$/, frame: 'memtest_detach' },
  'bad-free': { error: 'BADADDR', panic: /^kernel heap corruption detected$/, frame: 'memtest_detach' },
  'wrong-cache': { error: 'BADCACHE', panic: /^kernel heap corruption detected$/, frame: 'memtest_close' },
  'bad-size': { error: 'BADSIZE', panic: /^kernel heap corruption detected$/, frame: 'memtest_close' },
  'bad-base': { error: 'BADBASE', panic: /^kernel heap corruption detected$/, frame: 'memtest_close' },
  buftag: { error: 'BADBUFTAG', panic: /^kernel heap corruption detected$/, frame: 'memtest_node_get' },
  firewall: { panic: /^BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=[0-9a-f]+$/, frame: 'memtest_fill' },
  uninitialized: {
    panic: /^BAD TRAP: type=(d \(#gp General protection\) rp=[0-9a-f]+ addr=0|e \(#pf Page fault\) rp=[0-9a-f]+ addr=baddcafe occurred in module "genunix" due to an illegal access to a user address)$/,
    frame: 'memtest_dispatch',
    args: '[0-9a-f]+, 4d01', // memtest_dispatch(sess, MEMTEST_IOC_GET)
  },
  leak: { panic: /^forced crash dump initiated at user request$/, frame: 'memtest_main' },
  clean: { panic: /^forced crash dump initiated at user request$/, frame: 'memtest_main' },
};

test('the registry lists every scenario once, with a description', () => {
  const names = scenarios().map((s) => s.name);
  for (const n of Object.keys(EXPECT)) assert.ok(names.includes(n), n);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  for (const s of scenarios()) assert.ok(s.description.length > 10 && !s.description.includes('\n'));
  assert.throws(() => registerScenario(findScenario('leak')!), /already registered/);
});

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: each mistake panics with its kmem error and leaves a readable dump`, () => {
    const dir = tmp(model);
    try {
      let n = 0;
      for (const name of Object.keys(EXPECT)) {
        if (name === 'clean' || name === 'leak') continue;
        const e = EXPECT[name]!;
        const r = runScenario(name, { dir, model, seed: 5 });
        assert.match(r.panicMessage, e.panic, name);
        if (e.error) assert.equal(r.system.kmem.errors.at(-1)?.name, e.error, name);
        assert.equal(r.dump.index, n++);
        const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
        try {
          assert.match(t.status().panicMessage!, e.panic);
          const out = runMdb(t, '$c');
          assert.ok(out.ok, out.stderr);
          assert.match(out.stdout, new RegExp(`^${e.frame}\\+0x[0-9a-f]+\\(${e.args ?? ''}\\)$`, 'm'), `${name}: the client is on the panic stack\n${out.stdout}`);
          assert.match(out.stdout, /^memtest_main\+0x64\(\)$/m);
        } finally {
          t.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// The firewall scenario under kmem_flags 0xf in both models: test/genunix/console.test.ts.

test('leak: ::findleaks reports exactly the leaked buffers, by their three call paths', () => {
  const dir = tmp('leak');
  try {
    // the same seed gives the same workload: count its leaks on a twin system
    const twin = bootSystem({ model: 'lp64', seed: 9, kmemFlags: 0xf });
    const { leaked } = leakWorkload(twin);
    assert.ok(leaked > 20);
    const r = runScenario('leak', { dir, model: 'lp64', seed: 9 });
    const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
    try {
      const out = runMdb(t, '::findleaks');
      assert.ok(out.ok, out.stderr);
      for (const f of ['memtest_req_alloc', 'memtest_node_create', 'memtest_stats_update']) assert.match(out.stdout, new RegExp(`${f}\\+0x`), f);
      const m = /Total\s+(\d+) buffers/.exec(out.stdout);
      assert.ok(m, out.stdout);
      assert.equal(Number(m[1]), leaked);
    } finally {
      t.close();
    }
    const c = runScenario('clean', { dir, model: 'ilp32', seed: 2 });
    assert.equal(c.system.kmem.errors.length, 0);
    const tc = openDump(c.dump.unixPath, c.dump.vmcorePath);
    try {
      const out = runMdb(tc, '::findleaks');
      assert.match(out.stdout, /no memory leaks detected/);
    } finally {
      tc.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a scenario that does not panic is an error, not a silent success', () => {
  const dir = tmp('nopanic');
  try {
    assert.throws(() => runScenario('redzone', { dir, kmemFlags: 0 }), (e: unknown) => e instanceof ScenarioError && /without a panic/.test(e.message));
    assert.throws(() => runScenario('no-such', { dir }), ScenarioError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('uninitialized without kmem_flags: the reopened session gets the closed one\'s buffer back, stale s_ops and all, and nothing faults', () => {
  for (const model of ['lp64', 'ilp32'] as const) {
    const dir = tmp('uninit');
    try {
      assert.throws(() => runScenario('uninitialized', { dir, model, kmemFlags: 0 }), (e: unknown) => e instanceof ScenarioError && /without a panic/.test(e.message));
      const { scenario, system } = bootForScenario('uninitialized', { model, kmemFlags: 0 });
      scenario.run(system);
      const { k } = system;
      const sess = k.mem.loadPtr(k.addr('memtest_sess'));
      assert.equal(k.mem.loadPtr(sess + k.types.offsetof('struct memtest_sess', 's_ops')), k.addr('memtest_ops'), model);
      // with KMF_DEADBEEF the same field holds the uninitialised pattern
      const debug = bootForScenario('uninitialized', { model, kmemFlags: 0xf });
      assert.throws(() => debug.system.k.guard(() => debug.scenario.run(debug.system)));
      const dk = debug.system.k;
      const at = dk.mem.loadPtr(dk.addr('memtest_sess')) + dk.types.offsetof('struct memtest_sess', 's_ops');
      assert.equal(model === 'lp64' ? dk.mem.load64(at) : BigInt(dk.mem.load32(at)), model === 'lp64' ? 0xbaddcafebaddcafen : 0xbaddcafen);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('kmemdb crash: output, list, and one-line errors', () => {
  const dir = tmp('cli');
  try {
    let out = '';
    let err = '';
    const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) };
    assert.equal(run(['crash', 'duplicate-free', '--dir', dir, '--seed', '3', '--kmem-flags', '0xf', '--model', 'ilp32'], io), 0);
    assert.match(out, /^panic\[cpu\d\]\/thread=[0-9a-f]+: kernel heap corruption detected$/m);
    assert.match(out, new RegExp(`savecore: saved crash dump 0 in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unix\\.0, vmcore\\.0`));
    assert.ok(fs.existsSync(path.join(dir, 'vmcore.0')));
    out = '';
    assert.equal(run(['crash', '--list'], io), 0);
    assert.equal(out.trim().split('\n').length, scenarios().length);
    for (const [argv, code, re] of [
      [['crash', 'redzone'], 2, /--dir DIR is required/],
      [['crash', 'nope', '--dir', dir], 1, /unknown scenario "nope"/],
      [['crash', 'redzone', '--dir', dir, '--model', 'sparc'], 2, /--model must be lp64 or ilp32/],
      [['crash', 'redzone', '--dir', dir, '--seed', 'x'], 2, /--seed: bad number/],
      [['frobnicate'], 2, /unknown command/],
    ] as const) {
      err = '';
      assert.equal(run(argv, io), code);
      assert.match(err.split('\n')[0]!, re);
      assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/kmemdb is an executable script printing one-line errors', () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'kmemdb');
  assert.ok((fs.statSync(bin).mode & 0o111) !== 0, 'executable bit');
  assert.match(execFileSync(bin, ['crash', '--list'], { encoding: 'utf8' }), /^modified-after-free\s/m);
  const r = spawnSync(bin, ['crash', 'redzone', '--dir', '/proc/kmemdb-nope'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^kmemdb: savecore: cannot create \/proc\/kmemdb-nope/);
});
