/*
 * kmem as the malloc of real wasm32-wasi programs, against wasi-libc's own
 * dlmalloc, in the same run (docs/program.md):
 *
 *   wasm.alloc.{dlmalloc,kmem,guards,floor}.{lifo64,rand64,mixed}   ns per operation
 *       bench/wasm/alloc.c (the patterns of bench/kmem.ts), linked once
 *       with dlmalloc and once with kmemdb's shim (kmem without debugging,
 *       and with UMEM_DEBUG=guards; floor: the shim's imports served by a
 *       trivial JavaScript allocator, so the cost of the wasm-to-JavaScript
 *       calls themselves); timed inside the program in CPU time (figures
 *       that hold on a machine shared with other work)
 *   wasm.sqlite.{dlmalloc,kmem,default,noaudit}_ms   the SQLite workload
 *       (scripts/sqlite-workload.ts), best of 3 runs; noaudit is default
 *       without auditing (UMEM_DEBUG=contents,guards), so default - noaudit
 *       is the cost of the audit records and their stack capture
 *   wasm.sqlite.{kmem,default}_ratio   over dlmalloc
 *   wasm.sqlite.watch_ms   the workload under --watch-freed (every store
 *       checked; UMEM_DEBUG=default, UMEM_LOGGING=transaction), best of 3
 *   wasm.sqlite.logged_ms   its anchor: the same allocator settings without
 *       the watch; wasm.sqlite.watch_ratio = watch / logged, the cost of
 *       watching the stores alone
 *   wasm.sqlite.watch_rewrite_ms   rewriting the SQLite module for the
 *       watch (done once per module: the copy is cached)
 *   wasm.alloc.{kmem,guards,floor}_ratio.<p>   kmem over dlmalloc, guards over
 *       kmem, floor over dlmalloc
 *   wasm.bytes_per_buf   allocator metadata per live 64-byte buffer under
 *       UMEM_DEBUG=default (ILP32)
 *
 * Each run is a child process (bench/wasm-child.ts); results are checked:
 * the microbenchmark's checksum must agree across allocators and the SQLite
 * answers must be right.  Without a toolchain or the npm registry the
 * figures are skipped with a message.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cc, parseCc } from '../src/program/cc.js';
import { cacheDir } from '../src/program/cache.js';
import { haveToolchain, toolchain } from '../src/program/toolchain.js';
import { instrumentModule } from '../src/program/watch-freed.js';
import { umemBytesPerBuffer } from '../src/umem/footprint.js';
import { realProgram, RegistryUnavailable } from '../scripts/real-programs.js';
import { workloadAnswer, workloadScript } from '../scripts/sqlite-workload.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CHILD = path.join(HERE, 'wasm-child.js');
const PATTERNS = ['lifo64', 'rand64', 'mixed'] as const;
const SQLITE_RUNS = 3;

/** How wasm-child.ts runs the program (its header says). */
type ChildMode = 'plain' | 'kmem' | 'floor' | 'watch';

interface ChildRun {
  stdout: string;
  ms: number;
}

function runChild(mode: ChildMode, wasm: string, args: string[], umemDebug: string, input = '', umemLogging = ''): ChildRun {
  const r = spawnSync(process.execPath, ['--no-turbo-fast-api-calls', '--disable-warning=ExperimentalWarning', CHILD, mode, wasm, ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 << 20,
    env: { ...process.env, UMEM_DEBUG: umemDebug, UMEM_LOGGING: umemLogging, UMEM_OPTIONS: '' },
  });
  const m = /elapsed_ms=([\d.]+)\n$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`bench wasm: ${mode} ${path.basename(wasm)} ${args.join(' ')} (UMEM_DEBUG=${umemDebug}): status ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return { stdout: r.stdout, ms: Number(m[1]) };
}

/** bench/wasm/alloc.c built with one malloc, cached by its source and the compiler. */
async function allocProgram(malloc: 'kmem' | 'libc'): Promise<string> {
  const src = path.join(ROOT, 'bench/wasm/alloc.c');
  const key = createHash('sha256').update(fs.readFileSync(src)).update(malloc).update((await toolchain()).description).digest('hex').slice(0, 16);
  const out = path.join(cacheDir(), 'bench', `alloc-${malloc}-${key}.wasm`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await cc(parseCc([...(malloc === 'libc' ? ['--libc-malloc'] : []), '-O2', '-o', out, src]));
  }
  return out;
}

function allocRun(mode: ChildMode, wasm: string, pattern: string, umemDebug = ''): { ns: number; checksum: string } {
  const line = runChild(mode, wasm, [pattern], umemDebug).stdout.trim();
  const m = /^(\w+) ns_per_op=([\d.]+) checksum=(\d+)$/.exec(line);
  if (!m || m[1] !== pattern) throw new Error(`bench wasm: alloc ${pattern}: unexpected output "${line}"`);
  return { ns: Number(m[2]), checksum: m[3]! };
}

async function benchAlloc(out: Record<string, number>): Promise<void> {
  const libc = await allocProgram('libc');
  const kmem = await allocProgram('kmem');
  for (const p of PATTERNS) {
    const d = allocRun('plain', libc, p);
    const k = allocRun('kmem', kmem, p);
    const g = allocRun('kmem', kmem, p, 'guards');
    const f = allocRun('floor', kmem, p);
    if ([k, g, f].some((r) => r.checksum !== d.checksum)) throw new Error(`bench wasm: alloc ${p}: checksums differ (${d.checksum}, ${k.checksum}, ${g.checksum}, ${f.checksum})`);
    out[`wasm.alloc.dlmalloc.${p}`] = d.ns;
    out[`wasm.alloc.kmem.${p}`] = k.ns;
    out[`wasm.alloc.guards.${p}`] = g.ns;
    out[`wasm.alloc.floor.${p}`] = f.ns;
    out[`wasm.alloc.kmem_ratio.${p}`] = k.ns / d.ns;
    out[`wasm.alloc.guards_ratio.${p}`] = g.ns / k.ns;
    out[`wasm.alloc.floor_ratio.${p}`] = f.ns / d.ns;
  }
}

function sqliteBest(mode: 'plain' | 'kmem' | 'watch', wasm: string, umemDebug: string, umemLogging = ''): number {
  const script = workloadScript();
  const answer = workloadAnswer();
  let best = Infinity;
  for (let i = 0; i < SQLITE_RUNS; i++) {
    const r = runChild(mode, wasm, [], umemDebug, script, umemLogging);
    if (r.stdout !== answer) throw new Error(`bench wasm: the SQLite workload gave wrong answers (${mode}, UMEM_DEBUG=${umemDebug})`);
    best = Math.min(best, r.ms);
  }
  return best;
}

async function benchSqlite(out: Record<string, number>): Promise<void> {
  const libc = await realProgram('sqlite', 'libc');
  const kmem = await realProgram('sqlite', 'kmem');
  const d = sqliteBest('plain', libc, '');
  out['wasm.sqlite.dlmalloc_ms'] = d;
  out['wasm.sqlite.kmem_ms'] = sqliteBest('kmem', kmem, '');
  out['wasm.sqlite.default_ms'] = sqliteBest('kmem', kmem, 'default');
  out['wasm.sqlite.noaudit_ms'] = sqliteBest('kmem', kmem, 'contents,guards');
  out['wasm.sqlite.kmem_ratio'] = out['wasm.sqlite.kmem_ms'] / d;
  out['wasm.sqlite.default_ratio'] = out['wasm.sqlite.default_ms'] / d;
  benchWatch(out, kmem);
}

/** The SQLite workload under --watch-freed, against the same allocator settings without it (in this run). */
function benchWatch(out: Record<string, number>, kmem: string): void {
  const bytes = new Uint8Array(fs.readFileSync(kmem));
  const t0 = process.hrtime.bigint();
  instrumentModule(bytes, kmem);
  out['wasm.sqlite.watch_rewrite_ms'] = Number(process.hrtime.bigint() - t0) / 1e6;
  const logged = sqliteBest('kmem', kmem, 'default', 'transaction');
  const watch = sqliteBest('watch', kmem, 'default', 'transaction');
  out['wasm.sqlite.logged_ms'] = logged;
  out['wasm.sqlite.watch_ms'] = watch;
  out['wasm.sqlite.watch_ratio'] = watch / logged;
}

export async function benchWasm(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (!(await haveToolchain())) {
    process.stderr.write('bench: wasm: skipped: no wasm32-wasi toolchain (docs/program.md)\n');
    return out;
  }
  await benchAlloc(out);
  try {
    await benchSqlite(out);
  } catch (e) {
    if (!(e instanceof RegistryUnavailable)) throw e;
    process.stderr.write(`bench: wasm.sqlite: skipped: ${e.message}\n`);
  }
  out['wasm.bytes_per_buf'] = umemBytesPerBuffer();
  return out;
}
