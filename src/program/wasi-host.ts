/*
 * The program's WASI (preview1) from node:wasi, with two additions.
 *
 * Determinism.  With a seed, the clocks and the randomness a program sees
 * are seeded: node:wasi has no hook for them, so the two imports are
 * wrapped.  Every clock reads a virtual time that starts at a fixed epoch
 * and advances one millisecond per reading; random_get returns the seeded
 * generator's bytes.  The same program, input and seed then give the same
 * memory image, output and reports.
 *
 * Exit.  returnOnExit makes proc_exit return from start() with the status,
 * as the runner needs to check leaks and write cores after the program.
 */

import { WASI } from 'node:wasi';
import { Rand } from '../kernel/rand.js';

/** Where a seeded realtime clock starts: 2023-11-14T22:13:20Z, in ns. */
const SEEDED_EPOCH_NS = 1_700_000_000_000_000_000n;
/** How far the seeded clocks advance per reading. */
const SEEDED_TICK_NS = 1_000_000n;
const CLOCK_REALTIME = 0;
const ERRNO_SUCCESS = 0;

export interface WasiOptions {
  /** argv, program name first. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Guest path -> host directory. */
  readonly preopens: Readonly<Record<string, string>>;
  /** Seed of the clocks and randomness; real ones without it. */
  readonly seed?: number;
}

export interface ProgramWasi {
  readonly wasi: WASI;
  /** The wasi_snapshot_preview1 import object. */
  readonly imports: WebAssembly.ModuleImports;
  /** Tell the wrappers where the program's memory is (after instantiation). */
  bind(memory: WebAssembly.Memory): void;
  /** Seconds since the epoch on the program's clock (for a core's time stamp). */
  now(): number;
}

/** The seeded clock and random imports, replacing node:wasi's. */
function seededImports(seed: number, memory: () => WebAssembly.Memory): { clock_time_get: (id: number, precision: bigint, out: number) => number; random_get: (buf: number, len: number) => number; ticks: () => bigint } {
  const rand = new Rand(seed);
  let ticks = 0n;
  return {
    clock_time_get(id, _precision, out) {
      ticks++;
      const t = (id === CLOCK_REALTIME ? SEEDED_EPOCH_NS : 0n) + ticks * SEEDED_TICK_NS;
      new DataView(memory().buffer).setBigUint64(out >>> 0, t, true);
      return ERRNO_SUCCESS;
    },
    random_get(buf, len) {
      const bytes = new Uint8Array(memory().buffer, buf >>> 0, len >>> 0);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rand.u32() & 0xff;
      return ERRNO_SUCCESS;
    },
    ticks: () => ticks,
  };
}

export function createProgramWasi(o: WasiOptions): ProgramWasi {
  const wasi = new WASI({ version: 'preview1', args: [...o.args], env: { ...o.env }, preopens: { ...o.preopens }, returnOnExit: true });
  const imports: WebAssembly.ModuleImports = { ...wasi.wasiImport };
  let memory: WebAssembly.Memory | undefined;
  const bind = (m: WebAssembly.Memory): void => void (memory = m);
  if (o.seed === undefined) return { wasi, imports, bind, now: () => Math.floor(Date.now() / 1000) };
  const seeded = seededImports(o.seed, () => memory!);
  imports.clock_time_get = seeded.clock_time_get;
  imports.random_get = seeded.random_get;
  return { wasi, imports, bind, now: () => Number((SEEDED_EPOCH_NS + seeded.ticks() * SEEDED_TICK_NS) / 1_000_000_000n) };
}
