/*
 * mdb: public entry points.  `createSession(target, io)` builds a session
 * with the core module and every module registered with registerModule().
 */

import type { Target } from '../target/target.js';
import { Session, type MdbIO } from './session.js';
import { coreModule } from './modules/core.js';
import { registeredModules, type MdbModule } from './module.js';
import { checkInt, checkString } from '../machine/argcheck.js';

export * from './module.js';
export { Session, MdbError, DEFAULT_OUTPUT_BOUND, DEFAULT_WORK_BOUND, type MdbIO } from './session.js';
export { NoTarget } from './notarget.js';
export { MdbSyntaxError, parseNumber } from './parse.js';
export { mdbSprintf } from './printf.js';

/** Options of a session. */
export interface SessionOptions {
  /** Let `!` run shell commands (default false: scripts cannot reach a shell). */
  readonly shellEscapes?: boolean;
  /**
   * Most characters one command line may write: output, warnings and what
   * its pipes pass on (default DEFAULT_OUTPUT_BOUND, 64 Mi; 0: no bound).
   * Past it the command stops with one line saying so.
   */
  readonly maxOutput?: number;
  /**
   * Most bytes of target memory one command line may scan in whole-memory
   * scans (::kgrep, ::ugrep; default DEFAULT_WORK_BOUND, 16 GiB; 0: no
   * bound).  Past it the command stops with one line saying so.
   */
  readonly maxWork?: number;
}

/** A session over a target (undefined: no target), with the core module and all registered modules. */
export function createSession(target: Target | undefined, io: MdbIO, extra: readonly MdbModule[] = [], options: SessionOptions = {}): Session {
  const s = new Session(target, io, []);
  s.shellEscapes = options.shellEscapes ?? false;
  if (options.maxOutput !== undefined) {
    checkInt('createSession', 'options.maxOutput', options.maxOutput, 0, Number.MAX_SAFE_INTEGER);
    s.outputBound = options.maxOutput;
  }
  if (options.maxWork !== undefined) {
    checkInt('createSession', 'options.maxWork', options.maxWork, 0, Number.MAX_SAFE_INTEGER);
    s.workBound = options.maxWork;
  }
  s.loadModule(coreModule(s));
  for (const m of [...registeredModules(), ...extra]) s.loadModule(m);
  return s;
}

/** Run commands against a target and return what mdb printed (for tests and scripts). */
export function runMdb(
  target: Target | undefined,
  commands: string,
  extra: readonly MdbModule[] = [],
  options: SessionOptions = {},
): { stdout: string; stderr: string; ok: boolean } {
  checkString('runMdb', 'commands', commands);
  let stdout = '';
  let stderr = '';
  const s = createSession(target, { stdout: (x) => (stdout += x), stderr: (x) => (stderr += x) }, extra, options);
  const ok = s.run(commands);
  return { stdout, stderr, ok };
}
