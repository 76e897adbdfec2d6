/*
 * The NetBSD report's three failures as scenarios (and their corrected and
 * DEBUG-kernel variants).  Each runs package builds on the NetBSD
 * personality (src/netbsd) and ends in the panic the report shows; nothing
 * is scripted beyond the workload: the corruption comes out of the list
 * and tree operations themselves.
 *
 *   pool-unload  perl5: exec_autoload loads the compat closure (culprit,
 *                then mqueue); a Linux tool keeps compat_linux (hence
 *                culprit) busy, so mqueue unloads first; memory pressure
 *                later unloads culprit without pool_destroy.  The next
 *                package reloads everything at the same addresses; culprit's
 *                pool_init re-links its stale pool, then culprit unloads
 *                before mqueue and mqueue's pool_destroy stores through the
 *                dangling tqe_prev: fault in pool_destroy, second autounload
 *                of mqueue.
 *   pool-drain   the same perl5 build, then hours of builds without module
 *                activity, then firefox's memory pressure: the pagedaemon's
 *                pool_drain walks pool_head into culprit's unmapped pool.
 *   sysctl-log   configure scripts autoload sysv_ipc then ksem; ksem's
 *                unload (kern.posix_semaphores, 67) leaves kern.ipc's spare
 *                slots pointing at kern.boottime; the next sysv_ipc logs
 *                1.83.N, its teardown skips them and `sysctl kern` calls a
 *                handler in unloaded text.
 *
 * Options: fixed (corrected code; 1000 load/unload cycles of the whole
 * workload, then a forced dump for ::findleaks / ::kmem_verify) and
 * debugChecks (DEBUG-kernel checks that panic at the origin).
 */

import type { System } from '../system.js';
import type { Scenario, Workload } from './types.js';
import { runWorkload } from './workload.js';
import { bootNetbsd, type NetbsdOS } from '../netbsd/index.js';
import { Builder, type BuildHooks, type Package, type Step } from '../netbsd/workload.js';

export interface NetbsdScenarioOptions {
  fixed?: boolean;
  debugChecks?: boolean | number;
  /** Cycles of the fixed workload (default 1000). */
  cycles?: number;
  hooks?: BuildHooks;
}

const shell = (t: number, n: number, format = 'elf64'): Step[] =>
  Array.from({ length: n }, (_, i) => ({ t: t + i * 0.5, op: 'exec' as const, format }));

/** perl5: the first exec_autoload, a long-running Linux tool, mq tests, a memory-hungry test suite. */
export function perl5(memoryPages: number): Package {
  return {
    name: 'perl-5.22.0',
    secs: 120,
    steps: [
      ...shell(0, 4),
      { t: 1, op: 'exec', format: 'unknown' }, // ENOEXEC: exec_autoload
      { t: 2, op: 'exec', format: 'linux', secs: 40, anon: 64 },
      { t: 3, op: 'mq', n: 24 },
      ...shell(4, 8),
      { t: 60, op: 'memory', pages: memoryPages, secs: 6 },
      ...shell(61, 4),
    ],
  };
}

/** A small package whose configure runs an ENOEXEC script and the mq tests. */
export function smallPackage(name: string): Package {
  return {
    name,
    secs: 30,
    steps: [...shell(0, 3), { t: 1, op: 'exec', format: 'unknown' }, { t: 3, op: 'mq', n: 8 }, ...shell(4, 6)],
  };
}

/** Native-only builds: no module activity at all. */
export function nativePackage(name: string, secs: number): Package {
  return { name, secs, steps: shell(0, 20) };
}

/** A configure script that tries System V and POSIX semaphores, then reads sysctl kern. */
export function ipcPackage(name: string, readSysctl: boolean): Package {
  return {
    name,
    secs: 30,
    steps: [
      ...shell(0, 2),
      { t: 1, op: 'semget' },
      { t: 2, op: 'sem_open' },
      ...(readSysctl ? [{ t: 4, op: 'sysctl' as const, path: 'kern' }] : []),
      ...shell(5, 4),
    ],
  };
}

/** Anonymous pages that push uvmexp.free to about `below` pages under freemin. */
function pressurePages(os: NetbsdOS, below: number): number {
  return Math.max(0, os.uvm.free - os.uvm.freemin + below);
}

function boot(system: System, opts: NetbsdScenarioOptions): { os: NetbsdOS; b: Builder } {
  const os = bootNetbsd(system, { fixed: opts.fixed, debugChecks: opts.debugChecks, verbose: true });
  return { os, b: new Builder(os) };
}

/** Packages, made as their turn comes (memory pressure is sized on the state at that time). */
type Packages = (os: NetbsdOS, opts: NetbsdScenarioOptions) => Iterable<Package>;

/** The fixed workload: every ingredient of the three failures, `cycles` times. */
function* fixedPackages(os: NetbsdOS, cycles: number): Iterable<Package> {
  for (let i = 0; i < cycles; i++) {
    yield {
      name: `pkg-${i}`,
      secs: 40,
      steps: [
        ...shell(0, 2),
        { t: 1, op: 'exec', format: 'unknown' },
        { t: 2, op: 'exec', format: 'linux', secs: i % 10 === 0 ? 15 : 4 },
        { t: 2.5, op: 'semget' },
        { t: 3, op: 'sem_open' },
        { t: 3.5, op: 'mq', n: 20 },
        { t: 4, op: 'sysctl', path: 'kern' },
        ...(i % 5 === 4 ? [{ t: 20, op: 'memory' as const, pages: pressurePages(os, 512), secs: 4 }] : []),
      ],
    };
  }
  yield nativePackage('idle', 60);
}

function* poolUnloadPackages(os: NetbsdOS, opts: NetbsdScenarioOptions): Iterable<Package> {
  if (opts.fixed) return yield* fixedPackages(os, opts.cycles ?? 1000);
  yield perl5(pressurePages(os, 128));
  yield smallPackage('p5-Module-Build-0.4214');
  yield smallPackage('p5-Test-Simple-1.001014');
}

function* poolDrainPackages(os: NetbsdOS, opts: NetbsdScenarioOptions): Iterable<Package> {
  if (opts.fixed) return yield* fixedPackages(os, opts.cycles ?? 1000);
  yield perl5(pressurePages(os, 128));
  for (let i = 0; i < 12; i++) yield nativePackage(`pkg-${i}`, 900);
  yield {
    name: 'firefox-41.0.2',
    secs: 600,
    steps: [...shell(0, 10), { t: 30, op: 'memory', pages: pressurePages(os, 2000), secs: 300 }, ...shell(40, 10)],
  };
}

function* sysctlLogPackages(os: NetbsdOS, opts: NetbsdScenarioOptions): Iterable<Package> {
  if (opts.fixed) return yield* fixedPackages(os, opts.cycles ?? 1000);
  yield ipcPackage('boost-libs-1.59.0', true);
  yield ipcPackage('glib2-2.46.1', false);
  // A configure script that only reads `sysctl kern`, with sysv_ipc unloaded.
  yield { name: 'gtk3+-3.18.2', secs: 30, steps: [...shell(0, 2), { t: 1, op: 'sysctl', path: 'kern' }] };
}

/** Boot the personality and build the packages one after the other, each given its time. */
function* builds(system: System, opts: NetbsdScenarioOptions, packages: Packages): Workload<NetbsdOS> {
  const { os, b } = boot(system, opts);
  for (const pkg of packages(os, opts)) yield b.schedule(pkg, opts.hooks);
  return os;
}

export function runPoolUnload(system: System, opts: NetbsdScenarioOptions = {}): NetbsdOS {
  return runWorkload(system.k, builds(system, opts, poolUnloadPackages));
}

export function runPoolDrain(system: System, opts: NetbsdScenarioOptions = {}): NetbsdOS {
  return runWorkload(system.k, builds(system, opts, poolDrainPackages));
}

export function runSysctlLog(system: System, opts: NetbsdScenarioOptions = {}): NetbsdOS {
  return runWorkload(system.k, builds(system, opts, sysctlLogPackages));
}

function scenario(name: string, description: string, packages: Packages): Scenario {
  return {
    name,
    description,
    run(system: System, opts: NetbsdScenarioOptions = {}) {
      runWorkload(system.k, builds(system, opts, packages));
      // The corrected code runs to completion: take a dump to inspect.
      system.k.forcedDump();
    },
    workload: (system: System, opts: NetbsdScenarioOptions = {}) => builds(system, opts, packages),
  };
}

export const NETBSD_SCENARIOS: Scenario[] = [
  scenario(
    'pool-unload',
    'NetBSD #1: fault in pool_destroy at the 2nd autounload of mqueue (a module unloaded without pool_destroy)',
    poolUnloadPackages,
  ),
  scenario('pool-drain', 'NetBSD #2: fault in pool_drain from the pagedaemon on a dangling drainpp', poolDrainPackages),
  scenario('sysctl-log', 'NetBSD #3: sysctllog records 1.83.N for kern.ipc nodes; `sysctl kern` calls freed module text', sysctlLogPackages),
];
