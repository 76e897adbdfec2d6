/*
 * The glibc anchor: bench/glibc-harness.c, built at bench time with the
 * machine's C compiler ($CC, else gcc; -O2, -fno-builtin so that no
 * malloc/free pair is folded away) into a cache directory keyed by the
 * source and the compiler, then run once per call.  Without a compiler
 * the anchor is skipped with a message and no figure.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KmemBenchPattern } from './kmem-worker.js';

export type GlibcFigures = Record<KmemBenchPattern, number>;

const SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'glibc-harness.c');

/** The harness binary (built on first use), or a one-line reason why there is none. */
export function glibcHarness(): { bin: string } | { skip: string } {
  const cc = process.env.CC ?? 'gcc';
  const ver = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (ver.error || ver.status !== 0) return { skip: `no C compiler (${cc}) to build the glibc anchor` };
  const src = fs.readFileSync(SOURCE);
  const key = createHash('sha256').update(src).update(ver.stdout).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'kmemdb-bench');
  const bin = path.join(dir, `glibc-harness-${key}`);
  if (fs.existsSync(bin)) return { bin };
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-O2', '-fno-builtin', '-o', tmp, SOURCE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { skip: `${cc} could not build ${SOURCE}: ${(r.stderr || String(r.error)).trim().split('\n')[0]}` };
  fs.renameSync(tmp, bin);
  return { bin };
}

/** One run of the harness: ns per operation for each pattern (it checks its own results, see the C source). */
export function runGlibc(bin: string): GlibcFigures {
  const r = spawnSync(bin, [], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`glibc anchor failed: ${(r.stderr || String(r.error)).trim()}`);
  const o = JSON.parse(r.stdout) as Partial<GlibcFigures>;
  const out = { lifo64: o.lifo64, rand64: o.rand64, mixed: o.mixed };
  for (const [p, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`glibc anchor printed no figure for ${p}: ${r.stdout.trim()}`);
  }
  return out as GlibcFigures;
}
