/* The shape of a scenario (see index.ts). */
import type { System } from '../system.js';

/** Variants a scenario may offer (kmemdb crash --fixed / --debug-checks). */
export interface ScenarioOptions {
  /** Run the corrected code instead of the buggy one. */
  readonly fixed?: boolean;
  /** Enable DEBUG-kernel checks that panic at the origin of the corruption. */
  readonly debugChecks?: boolean;
}

/**
 * Simulated activity that can stop and go on: a generator that does some
 * work, then yields the nanoseconds of simulated time that should pass
 * (callouts run while they do) before it goes on.  Run to its end in one
 * go by runWorkload(); a live kernel (live.ts) resumes it slice by slice.
 */
export type Workload<R = void> = Generator<number, R, void>;

export interface Scenario {
  /** Command-line name, e.g. "modified-after-free". */
  readonly name: string;
  /** One line for `kmemdb crash --list`. */
  readonly description: string;
  /** kmem_flags when none is given (default 0xf, the guide's setting). */
  readonly kmemFlags?: number;
  /** Run on a booted system; ends in a panic (a kmem error, a fault, or a forced dump). */
  run(system: System, opts?: ScenarioOptions): void;
  /**
   * The activity of run() without its forced dump, resumable, for a live
   * kernel (mdb -k).  Absent: a second of idle time, then run().
   */
  workload?(system: System, opts?: ScenarioOptions): Workload<unknown>;
}
