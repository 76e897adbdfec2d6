/*
 * mdb.startup_ms: wall time of `./bin/mdb -e '::status' DIR` on a fresh
 * crash dump (process start to exit, i.e. to where the first prompt would
 * be, plus one command), and node.startup_ms, a bare `node -e ''`, as the
 * anchor in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function wall(cmd: string, args: string[], expect?: RegExp): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
    const t1 = process.hrtime.bigint();
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    if (expect && !expect.test(r.stdout)) throw new Error(`${cmd} ${args.join(' ')} printed ${JSON.stringify(r.stdout.slice(0, 200))}, not ${expect}`);
    best = Math.min(best, Number(t1 - t0) / 1e6);
  }
  return best;
}

export async function benchMdb(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'kmemdb-bench-'));
  try {
    const c = spawnSync(process.execPath, [join(root, 'bin/kmemdb'), 'crash', 'clean', '--dir', dir, '--kmem-flags', '0xf'], { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`kmemdb crash failed: ${c.stderr}`);
    const node = wall(process.execPath, ['-e', '']);
    const mdb = wall(process.execPath, [join(root, 'bin/mdb'), '-e', '::status', dir], /^debugging crash dump [\s\S]*^panic message: /m);
    return { 'node.startup_ms': node, 'mdb.startup_ms': mdb, 'mdb.startup_over_node_ms': mdb - node };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
