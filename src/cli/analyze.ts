/*
 * kmemdb analyze: the standard checks of a dump, for people and for CI.
 *
 *   kmemdb analyze DUMP [--json]
 *     DUMP: a kernel dump (DIR, DIR N, N, vmcore.N, or unix.N vmcore.N)
 *           or a program core (PROG.wasm core.N, core.N, DIR N, DIR)
 *
 * Text: what mdb prints for ::status, ::findleaks, ::kmem_verify and
 * ::kmastat (for a program core libumem's ::status, ::umem_status,
 * ::findleaks, ::umem_verify, ::umastat), then a verdict line.  --json:
 * one document, the DumpReport of src/mdb/analysis/dump-report.ts (schema
 * in docs/api.md).  Exit status 0 when the dump is clean, 1 when it has
 * leaked or corrupt buffers (or, for a program, its allocator reported an
 * error), 2 when the arguments or the dump are bad, or a program core has
 * no allocator to check.
 */

import { parseArgs } from 'node:util';
import { openDumpArgs } from '../target/dump-target.js';
import { openProgramCore, resolveProgramCore } from '../target/wasm-core-args.js';
import { isProcessTarget, type Target } from '../target/target.js';
import { runMdb } from '../mdb/index.js';
import { analyzeDump, type DumpReport } from '../mdb/analysis/dump-report.js';
import { hasKmem } from '../mdb/modules/genunix.js';
import '../mdb/modules/libumem.js';
import '../mdb/modules/netbsd.js';

export const ANALYZE_USAGE = 'usage: kmemdb analyze DUMP [--json]   (DUMP: DIR, DIR N, N, vmcore.N, unix.N vmcore.N, or a program core: PROG.wasm core.N, core.N)';

/** The mdb commands whose output the text report shows: the kernel's, or libumem's for a program. */
const KERNEL_COMMANDS = ['::status', '::findleaks', '::kmem_verify', '::kmastat'];
const PROGRAM_COMMANDS = ['::status', '::umem_status', '::findleaks', '::umem_verify', '::umastat'];

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
  if (v.clean) return `verdict: clean (no leaked or corrupt buffers${r.status.target === 'program' ? ', no allocator error' : ''})\n`;
  const error = v.allocatorError !== undefined ? `, allocator error: ${v.allocatorError}` : '';
  return `verdict: ${v.leakedBuffers} leaked buffer${v.leakedBuffers === 1 ? '' : 's'} (${v.leakedBytes} bytes), ${v.corruptBuffers} corrupt buffer${v.corruptBuffers === 1 ? '' : 's'}${error}\n`;
}

/** The kernel dump or program core the arguments name. */
function openTarget(args: readonly string[]): Target & { close(): void } {
  const core = resolveProgramCore(args);
  if (!core) return openDumpArgs(args);
  const t = openProgramCore(core);
  if (!hasKmem(t)) {
    const st = t.status();
    t.close();
    throw new Error(`${st.program ?? 'the program'} did not use kmemdb's allocator: ${st.dumpName ?? 'the core'} has no heap to check (build it with kmemdb cc)`);
  }
  return t;
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
    t = openTarget(parsed.positionals);
  } catch (e) {
    io.stderr(`kmemdb: analyze: ${e instanceof Error ? e.message : String(e)}\n`);
    return ANALYZE_ERROR;
  }
  try {
    const report = analyzeDump(t);
    if (parsed.values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else {
      for (const cmd of isProcessTarget(t) ? PROGRAM_COMMANDS : KERNEL_COMMANDS) {
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
