/*
 * A consumer's view of the package: everything docs/api.md documents is
 * importable through the package name and its exports map (not deep
 * paths), with its types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  analyzeDump,
  DUMP_REPORT_SCHEMA,
  findLeaks,
  hex,
  hex0x,
  KmemView,
  kmastat,
  kmemVerify,
  openDump,
  parseAddr,
  runMdb,
  runScenario,
  VmemView,
  whatis,
  type CacheVerify,
  type DumpReport,
  type Kmastat,
  type LeakReport,
  type WhatisMatch,
} from 'kmemdb';
import { createSession } from 'kmemdb/mdb';
import { tmpDir } from '../dump/helpers.js';

test('the package name exports the analyses, their result types, the views and address helpers', () => {
  const dir = tmpDir('pkg');
  try {
    const r = runScenario('leak', { dir });
    const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
    try {
      const leaks: LeakReport = findLeaks(t);
      assert.ok(leaks.groups.length > 0);
      const verify: CacheVerify[] = kmemVerify(t);
      assert.ok(verify.length > 0);
      const usage: Kmastat = kmastat(t);
      assert.ok(usage.caches.length > 0);
      const kv = new KmemView(t);
      const first = kv.caches()[0]!;
      const matches: WhatisMatch[] = whatis(t, first);
      assert.ok(matches.length > 0);
      assert.ok(new VmemView(t).arenaList().length > 0);
      const report: DumpReport = analyzeDump(t);
      assert.equal(report.schema, DUMP_REPORT_SCHEMA);
      assert.equal(report.verdict.leakedBuffers, leaks.groups.reduce((n, g) => n + g.count, 0));
      assert.equal(parseAddr(hex0x(first)), first);
      assert.equal(hex(parseAddr('0xfffffe8000025588')), 'fffffe8000025588');
      assert.equal(runMdb(t, '::echo ok ! cat').ok, false, 'shell escapes are off in library use');
      const s = createSession(t, { stdout: () => undefined, stderr: () => undefined }, [], { shellEscapes: true });
      assert.equal(s.shellEscapes, true);
    } finally {
      t.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
