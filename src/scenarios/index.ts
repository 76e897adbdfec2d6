/*
 * The scenario registry and runner.
 *
 * A scenario is a named piece of simulated kernel activity that ends in a
 * panic, leaving a crash dump for mdb: a client making one kmem mistake, a
 * leaky or a clean workload, and (later) the NetBSD report's failures.
 * `runScenario()` boots a system, installs savecore on it, runs the
 * scenario under k.guard (so a stray access is a page-fault panic, as in a
 * kernel) and returns the dump.  Scenarios are plain table rows: adding
 * one is adding a row to SCENARIOS (or calling registerScenario()).
 */

import { bootSystem, type System } from '../system.js';
import { ArgumentError, checkInt, checkOneOf, checkString } from '../machine/argcheck.js';
import { KernelPanic } from '../kernel/kernel.js';
import type { ModelName } from '../machine/memory.js';
import { installSavecore, lastDump, type DumpInfo } from '../dump/savecore.js';
import { KMEM_SCENARIOS } from './kmem-clients.js';
import { NETBSD_SCENARIOS } from './netbsd-report.js';
import type { Scenario } from './types.js';

export type { Scenario, ScenarioOptions } from './types.js';

const SCENARIOS: Scenario[] = [...KMEM_SCENARIOS, ...NETBSD_SCENARIOS];

/** The default kmem_flags of scenarios: AUDIT|DEADBEEF|REDZONE|CONTENTS. */
export const DEFAULT_SCENARIO_FLAGS = 0xf;

export function registerScenario(s: Scenario): void {
  if (SCENARIOS.some((x) => x.name === s.name)) throw new Error(`scenario ${s.name} already registered`);
  SCENARIOS.push(s);
}

export function scenarios(): readonly Scenario[] {
  return SCENARIOS;
}

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

export interface RunOptions {
  /** Crash directory. */
  readonly dir: string;
  readonly seed?: number;
  readonly kmemFlags?: number;
  readonly model?: ModelName;
  readonly heapSize?: number;
  /** Scenario variants (--fixed, --debug-checks). */
  readonly fixed?: boolean;
  readonly debugChecks?: boolean;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly system: System;
  readonly panicMessage: string;
  readonly dump: DumpInfo;
}

/** Thrown when a scenario cannot produce its dump. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** The argument checks of runScenario and bootForScenario (fn names the entry point). */
function checkRunArgs(fn: string, name: string, opts: Omit<RunOptions, 'dir'> & { dir?: string }, needDir: boolean): void {
  checkString(fn, 'name', name);
  if (typeof opts !== 'object' || opts === null) throw new ArgumentError(fn, 'opts', 'an object', opts);
  if (needDir) checkString(fn, 'opts.dir', opts.dir);
  if (opts.seed !== undefined) checkInt(fn, 'opts.seed', opts.seed, 0, 0xffffffff);
  if (opts.model !== undefined) checkOneOf(fn, 'opts.model', opts.model, ['lp64', 'ilp32']);
  if (opts.kmemFlags !== undefined) checkInt(fn, 'opts.kmemFlags', opts.kmemFlags, 0, 0xffffffff);
  if (opts.heapSize !== undefined) checkInt(fn, 'opts.heapSize', opts.heapSize, 1 << 20, Number.MAX_SAFE_INTEGER);
}

/** Find a scenario and boot the system it runs on (its default kmem_flags unless given). */
export function bootForScenario(name: string, opts: Omit<RunOptions, 'dir'>): { scenario: Scenario; system: System } {
  checkRunArgs('bootForScenario', name, opts, false);
  return boot(name, opts);
}

function boot(name: string, opts: Omit<RunOptions, 'dir'>): { scenario: Scenario; system: System } {
  const scenario = findScenario(name);
  if (!scenario) throw new ScenarioError(`unknown scenario "${name}" (kmemdb crash --list lists them)`);
  const system = bootSystem({
    model: opts.model ?? 'lp64',
    seed: opts.seed ?? 1,
    kmemFlags: opts.kmemFlags ?? scenario.kmemFlags ?? DEFAULT_SCENARIO_FLAGS,
    heapSize: opts.heapSize,
  });
  return { scenario, system };
}

/** Boot, run the scenario to its panic, and return the dump it left. */
export function runScenario(name: string, opts: RunOptions): ScenarioResult {
  checkRunArgs('runScenario', name, opts, true);
  const { scenario, system } = boot(name, opts);
  const { k } = system;
  installSavecore(k, opts.dir);
  try {
    const variant = { fixed: opts.fixed, debugChecks: opts.debugChecks };
    k.guard(() => scenario.run(system, variant));
  } catch (e) {
    if (!(e instanceof KernelPanic)) throw e;
  }
  if (!k.panicking) throw new ScenarioError(`scenario ${name} ran to completion without a panic (kmem_flags ${(opts.kmemFlags ?? scenario.kmemFlags ?? DEFAULT_SCENARIO_FLAGS).toString(16)} may not detect it)`);
  const dump = lastDump(k);
  if (dump === undefined) throw new ScenarioError(`scenario ${name} panicked but no dump was written`);
  if (dump instanceof Error) throw new ScenarioError(`savecore failed: ${dump.message}`);
  return { scenario, system, panicMessage: k.panicMessage ?? '', dump };
}
