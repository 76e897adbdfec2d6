/*
 * kmemdb analyze: the standard checks of a dump, for people and for CI.
 *
 *   kmemdb analyze DUMP [--json]      (DUMP: DIR, DIR N, N, vmcore.N, or unix.N vmcore.N)
 *
 * Text: what mdb prints for ::status, ::findleaks, ::kmem_verify and
 * ::kmastat, then a verdict line.  --json: one document, the DumpReport of
 * src/mdb/analysis/dump-report.ts (schema in docs/api.md).  Exit status 0
 * when the dump is clean, 1 when it has leaked or corrupt buffers, 2 when
 * the arguments or the dump are bad.
 */

import { parseArgs } from 'node:util';
import { openDumpArgs } from '../target/dump-target.js';
import { runMdb } from '../mdb/index.js';
import { analyzeDump, type DumpReport } from '../mdb/analysis/dump-report.js';
import '../mdb/modules/genunix.js';
import '../mdb/modules/netbsd.js';

export const ANALYZE_USAGE = 'usage: kmemdb analyze DUMP [--json]   (DUMP: DIR, DIR N, N, vmcore.N, or unix.N vmcore.N)';

/** Exit statuses of kmemdb analyze. */
export const ANALYZE_CLEAN = 0;
export const ANALYZE_FINDINGS = 1;
export const ANALYZE_ERROR = 2;

export interface AnalyzeIO {
  stdout(s: string): void;
  stderr(s: string): void;
}

function verdictLine(r: DumpReport): string {
  const v = r.verdict;
  if (v.clean) return 'verdict: clean (no leaked or corrupt buffers)\n';
  return `verdict: ${v.leakedBuffers} leaked buffer${v.leakedBuffers === 1 ? '' : 's'} (${v.leakedBytes} bytes), ${v.corruptBuffers} corrupt buffer${v.corruptBuffers === 1 ? '' : 's'}\n`;
}

/** Run `kmemdb analyze` with its arguments; returns the exit status. */
export function analyzeCommand(argv: readonly string[], io: AnalyzeIO): number {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr(`kmemdb: analyze: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}\n${ANALYZE_USAGE}\n`);
    return ANALYZE_ERROR;
  }
  if (parsed.values.help) {
    io.stdout(`${ANALYZE_USAGE}\n`);
    return ANALYZE_CLEAN;
  }
  if (parsed.positionals.length === 0) {
    io.stderr(`kmemdb: analyze: which dump?\n${ANALYZE_USAGE}\n`);
    return ANALYZE_ERROR;
  }
  let t;
  try {
    t = openDumpArgs(parsed.positionals);
  } catch (e) {
    io.stderr(`kmemdb: analyze: ${e instanceof Error ? e.message : String(e)}\n`);
    return ANALYZE_ERROR;
  }
  try {
    const report = analyzeDump(t);
    if (parsed.values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else {
      for (const cmd of ['::status', '::findleaks', '::kmem_verify', '::kmastat']) {
        const r = runMdb(t, cmd);
        io.stdout(`> ${cmd}\n${r.stdout}${r.stderr}\n`);
      }
      io.stdout(verdictLine(report));
    }
    return report.verdict.clean ? ANALYZE_CLEAN : ANALYZE_FINDINGS;
  } finally {
    t.close();
  }
}
