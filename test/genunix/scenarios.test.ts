/*
 * ::findleaks and ::kmem_verify precision on every crash scenario's dump
 * (src/scenarios), read back through the dump reader: the leak scenario's
 * three call paths are three groups whose counts add up to what the
 * workload leaked; the clean one has no leak; kmem_verify names exactly the
 * buffer each corruption scenario damaged.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, scenarios } from '../../src/scenarios/index.js';
import { leakWorkload } from '../../src/scenarios/kmem-clients.js';
import { openDump } from '../../src/target/dump-target.js';
import { findLeaks, TYPE_KMEM } from '../../src/mdb/analysis/leaks.js';
import { kmemVerify } from '../../src/mdb/analysis/verify.js';
import { bootSystem } from '../../src/system.js';
import { liveTarget } from '../../src/target/live-target.js';
import type { Target } from '../../src/target/target.js';

const root = mkdtempSync(join(tmpdir(), 'genunix-sc-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function dumpOf(name: string): { t: Target; panic: string } {
  const r = runScenario(name, { dir: join(root, name), seed: 1 });
  return { t: openDump(r.dump.unixPath, r.dump.vmcorePath), panic: r.panicMessage };
}

function corrupt(t: Target) {
  return kmemVerify(t).flatMap((c) => c.corrupt.map((x) => ({ ...x, cache: c.name })));
}

test('leak scenario: three groups, counts equal to what the workload leaked', () => {
  // the same workload on a live kernel tells how many buffers it leaked
  const s = bootSystem({ kmemFlags: 0xf, seed: 1 });
  const { leaked } = leakWorkload(s);
  const live = findLeaks(liveTarget(s.k)).groups.filter((g) => g.type === TYPE_KMEM);
  assert.equal(live.length, 3);
  assert.equal(
    live.reduce((n, g) => n + g.count, 0),
    leaked,
  );
  const { t } = dumpOf('leak');
  const groups = findLeaks(t).groups;
  assert.equal(groups.length, 3, groups.map((g) => `${g.cacheName} ${g.count}`).join(', '));
  assert.deepEqual(
    groups.map((g) => g.count).sort((a, b) => a - b),
    live.map((g) => g.count).sort((a, b) => a - b),
  );
  const callers = new Set(groups.map((g) => t.symbolByAddr(g.caller)?.name));
  assert.equal(callers.size, 3);
});

test('clean scenario: no leaks, every cache clean', () => {
  const { t } = dumpOf('clean');
  assert.equal(findLeaks(t).groups.length, 0);
  assert.deepEqual(corrupt(t), []);
});

test('every corruption scenario: kmem_verify reports only the damaged buffer', () => {
  const expect: Record<string, { kind: string; offset?: number } | null> = {
    'modified-after-free': { kind: 'modified', offset: 0x10 },
    redzone: { kind: 'size-encoding' },
    buftag: { kind: 'buftag' },
  };
  for (const sc of scenarios()) {
    if (sc.name === 'leak' || sc.name === 'clean') continue;
    const { t } = dumpOf(sc.name);
    const bad = corrupt(t);
    const e = expect[sc.name];
    if (!e) {
      assert.deepEqual(bad, [], `${sc.name}: ${JSON.stringify(bad)}`);
      continue;
    }
    assert.equal(bad.length, 1, `${sc.name}: ${JSON.stringify(bad)}`);
    assert.equal(bad[0]!.kind, e.kind, sc.name);
    if (e.offset !== undefined) assert.equal(bad[0]!.offset, e.offset, sc.name);
    // and the buffer is the one kmem_error named in kmem_panic_info
    const pi = t.symbolByName('kmem_panic_info');
    if (pi) {
      const kb = t.loadPtr(pi.value + t.types.offsetof('kmem_panic_info_t', 'kmp_buffer'));
      if (kb !== 0) assert.equal(bad[0]!.buf, kb, sc.name);
    }
  }
});
