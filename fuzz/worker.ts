/*
 * A fuzz worker: a child process that runs inputs [from, to) of one target
 * and reports on stdout, one line each:
 *
 *   S i             input i starts
 *   D i ok rss      input i passed (rss: resident set after it, bytes)
 *   F i rss json    input i failed: {"reason", "input"}
 *
 * The campaign (campaign.ts) kills a worker that stays on one input too
 * long, and one whose memory goes over the bound; either way the input it
 * was on is the failure.  The worker itself checks its resident size after
 * every input and stops (exit 3) when it is over the bound.
 *
 *   node worker.js TARGET SEED FROM TO BASES_JSON SCRATCH_DIR MAX_RSS_BYTES
 */

import { writeSync } from 'node:fs';
import { targetRunner, type Bases, type TargetName } from './inputs.js';

function say(line: string): void {
  writeSync(1, line + '\n');
}

function main(argv: readonly string[]): void {
  const [target, seed, from, to, basesJson, scratch, maxRss] = argv;
  process.env.SHELL = '/bin/true'; // a random `!` must not run random commands
  const bases = JSON.parse(basesJson!) as Bases;
  const runner = targetRunner(target as TargetName, Number(seed), bases, scratch!);
  for (let i = Number(from); i < Number(to); i++) {
    say(`S ${i}`);
    const v = runner.run(i);
    const rss = process.memoryUsage.rss();
    if (v.ok) say(`D ${i} ok ${rss}`);
    else say(`F ${i} ${rss} ${JSON.stringify({ reason: v.reason, input: runner.describe(i) })}`);
    if (rss > Number(maxRss)) {
      say(`F ${i} ${rss} ${JSON.stringify({ reason: `memory over bound: resident ${Math.round(rss / 1048576)} MB`, input: runner.describe(i) })}`);
      process.exit(3);
    }
  }
}

main(process.argv.slice(2));
