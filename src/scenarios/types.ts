/* The shape of a scenario (see index.ts). */
import type { System } from '../system.js';

/** Variants a scenario may offer (kmemdb crash --fixed / --debug-checks). */
export interface ScenarioOptions {
  /** Run the corrected code instead of the buggy one. */
  readonly fixed?: boolean;
  /** Enable DEBUG-kernel checks that panic at the origin of the corruption. */
  readonly debugChecks?: boolean;
}

export interface Scenario {
  /** Command-line name, e.g. "modified-after-free". */
  readonly name: string;
  /** One line for `kmemdb crash --list`. */
  readonly description: string;
  /** kmem_flags when none is given (default 0xf, the guide's setting). */
  readonly kmemFlags?: number;
  /** Run on a booted system; ends in a panic (a kmem error, a fault, or a forced dump). */
  run(system: System, opts?: ScenarioOptions): void;
}
