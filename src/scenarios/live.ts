/*
 * A live kernel for `mdb -k`: boot, start a scenario's workload, run it to
 * the chosen point and stop, with a control that lets it run on (the
 * command line hands both to src/target/live-target.ts: mdb's target over
 * the kernel's memory, whose TargetControl the control is).
 *
 * Theory
 * ------
 * A scenario's workload (types.ts) is a generator that does some work and
 * then yields the simulated nanoseconds that should pass before it goes
 * on.  The live kernel keeps the generator and the part of its last span
 * not yet passed; run(seconds) passes time in slices (k.advance runs the
 * callouts that fall due: other threads, the modunload thread, the
 * pagedaemon) and pulls the workload on whenever its span is used up,
 * until the deadline.  So the kernel stops between two pieces of work, at
 * a callout boundary, never inside a simulated function, and every thread
 * is then materialised into its stack memory, as a switch would leave it.
 *
 * A scenario without a workload of its own (the kmem mistakes) idles for a
 * second and then makes its mistake; stopped at the start, mdb sees the
 * system just before it.  Without --scenario the workload is `clean`'s.
 * A panic while running stops the kernel for good: the target then shows
 * the panic (::status, $c, ::msgbuf) as a dump would, but it does not run
 * on.  No dump is written: this is the running system.
 */

import type { System } from '../system.js';
import { KernelPanic } from '../kernel/kernel.js';
import type { ModelName } from '../machine/memory.js';
import { bootForScenario, ScenarioError } from './index.js';
import type { Scenario, ScenarioOptions, Workload } from './types.js';

export interface LiveOptions {
  /** Scenario whose workload runs (default: `clean`). */
  readonly scenario?: string;
  readonly seed?: number;
  readonly kmemFlags?: number;
  readonly model?: ModelName;
  readonly fixed?: boolean;
  readonly debugChecks?: boolean;
  /** Simulated seconds to run before stopping (default 0: the workload's first stop). */
  readonly at?: number;
}

/** What letting the kernel run did (the shape of TargetRunResult in src/target/target.ts, which explains why there are two). */
export interface LiveRun {
  /** Simulated seconds that passed. */
  readonly seconds: number;
  /** Console output while it ran. */
  readonly console: string;
  /** stopped: at the time asked; finished: its workload is done (it idles on); panicked. */
  readonly state: 'stopped' | 'finished' | 'panicked';
  /** The kernel clock (hrtime) at the stop, in seconds. */
  readonly uptime: number;
}

export interface LiveControl {
  /** Run for `seconds` of simulated time; undefined: until the workload ends or the kernel panics. */
  run(seconds: number | undefined): LiveRun;
}

export interface LiveKernel {
  readonly system: System;
  readonly scenario: Scenario;
  readonly control: LiveControl;
  /** What running to the starting point did. */
  readonly start: LiveRun;
}

export const DEFAULT_LIVE_SCENARIO = 'clean';

/** A second of idle time, then the scenario's run(): the kmem mistakes. */
function* idleThenRun(system: System, scenario: Scenario, opts: ScenarioOptions): Workload {
  yield 1e9;
  scenario.run(system, opts);
}

class LiveRunner implements LiveControl {
  private pending = 0;
  private done = false;

  constructor(
    private readonly system: System,
    private readonly work: Workload<unknown>,
  ) {}

  run(seconds: number | undefined): LiveRun {
    const k = this.system.k;
    if (k.panicking) throw new ScenarioError(`the kernel has panicked (${k.panicMessage ?? ''}); it does not run on`);
    const t0 = k.hrtime;
    const printed = k.msgPrinted;
    const deadline = seconds === undefined ? Infinity : t0 + Math.round(seconds * 1e9);
    let state: LiveRun['state'] = 'stopped';
    try {
      k.guard(() => this.passUntil(deadline));
      if (this.done) state = 'finished';
    } catch (e) {
      if (!(e instanceof KernelPanic)) throw e;
      state = 'panicked';
    }
    for (const t of k.threads) k.materialize(t);
    const n = Math.min(k.msgPrinted - printed, k.messages().length);
    return { seconds: (k.hrtime - t0) / 1e9, console: n > 0 ? k.messages().slice(-n) : '', state, uptime: k.hrtime / 1e9 };
  }

  /** Pull the workload on and pass its time until the deadline (or its end, for an endless run). */
  private passUntil(deadline: number): void {
    const k = this.system.k;
    for (;;) {
      if (this.pending === 0 && !this.done) {
        const r = this.work.next();
        if (r.done) this.done = true;
        else this.pending = r.value;
        continue;
      }
      if (k.hrtime >= deadline || (this.done && deadline === Infinity)) return;
      const slice = this.done ? deadline - k.hrtime : Math.min(this.pending, deadline - k.hrtime);
      k.advance(slice);
      if (!this.done) this.pending -= slice;
    }
  }
}

/** Boot a kernel, start the workload and stop at opts.at seconds. */
export function bootLive(opts: LiveOptions = {}): LiveKernel {
  const { scenario, system } = bootForScenario(opts.scenario ?? DEFAULT_LIVE_SCENARIO, opts);
  const variant: ScenarioOptions = { fixed: opts.fixed, debugChecks: opts.debugChecks };
  const work = scenario.workload ? scenario.workload(system, variant) : idleThenRun(system, scenario, variant);
  const runner = new LiveRunner(system, work);
  const start = runner.run(opts.at ?? 0);
  return { system, scenario, control: runner, start };
}
