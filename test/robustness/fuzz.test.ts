/*
 * The fixed-seed slice of the fuzz campaigns that CI runs: a couple of
 * thousand mdb command lines and a couple of hundred mutated dumps, each
 * input under the campaign's time and memory bounds.  Any failure names
 * its reproducer file.  (`npm run fuzz` runs the long campaigns.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBaseDumps, runCampaign, scratchDir, summaryLine } from '../../fuzz/campaign.js';
import type { TargetName } from '../../fuzz/inputs.js';
import { tmpDir } from './helpers.js';

const SLICES: ReadonlyArray<[TargetName, number]> = [
  ['mdb', 2000],
  ['dumps', 150],
];

test('fuzz slices: no hang, crash, internal error, stack trace, memory over bound or silent wrong answer', async () => {
  const work = tmpDir('rob-fuzz');
  const scratch = scratchDir();
  try {
    const bases = makeBaseDumps(work);
    for (const [target, count] of SLICES) {
      const outDir = path.join(work, 'failures');
      const r = await runCampaign({ target, seed: 18, count, bases, timeMs: 20_000, maxRss: 1024 * 1048576, jobs: 1, outDir, scratch });
      assert.equal(r.inputs, count, summaryLine(r));
      assert.deepEqual(
        r.failures.map((f) => `${f.index}: ${f.reason}`),
        [],
        `${summaryLine(r)}; reproducers: ${r.failures.map((f) => fs.readFileSync(f.file, 'utf8')).join('\n')}`,
      );
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
