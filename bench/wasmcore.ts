/*
 * mdb on a program core of a 256 MiB linear memory:
 *
 *   wasmcore.floor.s         the anchor: a raw scan of the same bytes, sharing
 *                            no code with mdb (the core file read in 16 MiB
 *                            pieces, each searched with Buffer.indexOf for one
 *                            32-bit value)
 *   wasmcore.findleaks.s     openWasmCore (with the program's module) and
 *                            ::findleaks on it, best of 3 (a fresh open each)
 *   wasmcore.findleaks.ratio findleaks / floor
 *   wasmcore.findleaks.cpu_s the CPU time of one open and ::findleaks (the
 *                            mean of the 3), a figure that holds on a
 *                            shared machine
 *   wasmcore.memory_mib      the linear memory at the dump, in MiB
 *   wasmcore.core_ratio      core file bytes / linear memory bytes
 *
 * The core is a real program's: bench/wasm/heap.c, built with kmemdb cc and
 * run by kmemdb run under UMEM_DEBUG=default with --core-at-exit, allocates
 * blocks of 16 bytes to 2 KiB, linked from a global list, until its memory
 * has grown to 256 MiB, dropping every thousandth (a leak).  The figures
 * are refused unless ::findleaks finds exactly the blocks the program says
 * it dropped, every one allocated from its main, and the raw scan finds the
 * value it looked for.  Without a wasm32 toolchain they are skipped with a
 * message.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveToolchain } from '../src/program/toolchain.js';
import { openWasmCore } from '../src/target/wasm-core-target.js';
import { runMdb } from '../src/mdb/index.js';
import '../src/mdb/modules/libumem.js';
import { bestOf } from './timing.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const KMEMDB = path.join(ROOT, 'bin/kmemdb');
const SOURCE = path.join(ROOT, 'bench/wasm/heap.c');
const PIECE = 16 << 20;
const RUNS = 3;

function kmemdb(args: readonly string[]): string {
  const env = { ...process.env, UMEM_DEBUG: 'default', UMEM_LOGGING: '', UMEM_OPTIONS: '' };
  const r = spawnSync(process.execPath, [KMEMDB, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench: kmemdb ${args[0]}: status ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * The anchor: every byte of the file read and searched for `value`
 * (little-endian), independently of mdb.  Pieces overlap by 3 bytes so a
 * value across two is found; each occurrence counts in the piece it starts in.
 */
function floorScan(file: string, value: number): { bytes: number; hits: number } {
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(value >>> 0, 0);
  const buf = Buffer.alloc(PIECE + 3);
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  let hits = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, bytes);
      if (n <= 0) break;
      const view = buf.subarray(0, n);
      for (let i = view.indexOf(needle); i >= 0 && i < PIECE; i = view.indexOf(needle, i + 1)) hits++;
      bytes += Math.min(n, PIECE);
      if (n < buf.length) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, hits };
}

/** What ::findleaks prints on the core, opened afresh with the program's module. */
function openAndFindleaks(core: string, wasm: string): string {
  const t = openWasmCore(core, { modulePath: wasm });
  try {
    const r = runMdb(t, '::findleaks\n');
    if (r.stderr !== '') throw new Error(`bench: wasmcore: ::findleaks: ${r.stderr.trim()}`);
    return r.stdout;
  } finally {
    t.close();
  }
}

/** The leaked buffers ::findleaks reports (the sum of its Total lines) and the callers it names. */
function leaksOf(text: string): { buffers: number; callers: Set<string> } {
  let buffers = 0;
  for (const m of text.matchAll(/^ +Total +(\d+) (?:buffer|oversized leak)/gm)) buffers += Number(m[1]);
  const callers = new Set<string>();
  for (const m of text.matchAll(/^[0-9a-f]+ +\d+ [0-9a-f]+ (\S+)$/gm)) callers.add(m[1]!.replace(/\+0x[0-9a-f]+$/, ''));
  return { buffers, callers };
}

export async function benchWasmcore(): Promise<Record<string, number>> {
  if (!(await haveToolchain())) {
    process.stderr.write('bench: wasmcore: skipped (no wasm32-wasi toolchain: see docs/program.md)\n');
    return {};
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-bench-wasmcore-'));
  try {
    const wasm = path.join(dir, 'heap.wasm');
    kmemdb(['cc', '-O2', '-o', wasm, SOURCE]);
    const said = /^leaked (\d+) kept (\d+) head (\d+)$/m.exec(kmemdb(['run', '--seed', '1', '--dir', dir, '--core-at-exit', wasm]));
    if (!said) throw new Error('bench: wasmcore: heap.c did not say what it leaked');
    const planted = Number(said[1]);
    const value = Number(said[3]);
    const core = path.join(dir, 'core.0');

    const probe = openWasmCore(core, { modulePath: wasm });
    const memory = probe.ranges().reduce((n, r) => n + r.size, 0);
    probe.close();

    let floor = { bytes: 0, hits: 0 };
    const floorNs = bestOf(() => {
      floor = floorScan(core, value);
      return floor.hits;
    }, RUNS);
    let leaks = '';
    const cpu0 = process.cpuUsage();
    const findleaksNs = bestOf(() => {
      leaks = openAndFindleaks(core, wasm);
      return leaks.length;
    }, RUNS);
    const cpu = process.cpuUsage(cpu0);
    const found = leaksOf(leaks);
    if (found.buffers !== planted) throw new Error(`bench: wasmcore: ::findleaks found ${found.buffers} leaked buffers, heap.c dropped ${planted}`);
    const stray = [...found.callers].filter((c) => c !== '__original_main' && c !== 'main');
    if (stray.length > 0) throw new Error(`bench: wasmcore: ::findleaks blames ${stray.join(', ')}, not heap.c's main`);
    if (floor.hits < 1) throw new Error(`bench: wasmcore: the raw scan did not find the list head ${value.toString(16)}`);
    if (floor.bytes !== fs.statSync(core).size) throw new Error(`bench: wasmcore: the raw scan read ${floor.bytes} bytes of ${fs.statSync(core).size}`);
    return {
      'wasmcore.floor.s': floorNs / 1e9,
      'wasmcore.findleaks.s': findleaksNs / 1e9,
      'wasmcore.findleaks.ratio': findleaksNs / floorNs,
      'wasmcore.findleaks.cpu_s': (cpu.user + cpu.system) / 1e6 / RUNS,
      'wasmcore.memory_mib': memory / (1 << 20),
      'wasmcore.core_ratio': floor.bytes / memory,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
