/*
 * The program commands of the kmemdb command line: `kmemdb cc` (cc.ts).
 * Asynchronous, unlike the kernel commands, because the in-memory compiler
 * runs inside this process.  Errors are one line on stderr; a failed
 * compile exits with clang's status after clang's own diagnostics.
 */

import { cc, CcFailed, CcInputError, CcUsageError, parseCc } from './cc.js';
import { ToolchainError } from './toolchain.js';

export interface ProgramIO {
  stdout(s: string): void;
  stderr(s: string): void;
}

export const CC_USAGE = 'usage: kmemdb cc [-c] [-O2] [-g] [-o OUTPUT] FILE... [clang flags]';

/** `kmemdb cc ARGS`: returns the exit status. */
export async function ccCommand(argv: readonly string[], io: ProgramIO): Promise<number> {
  try {
    await cc(parseCc(argv));
    return 0;
  } catch (e) {
    if (e instanceof CcFailed) return e.status;
    if (e instanceof CcUsageError) {
      io.stderr(`kmemdb cc: ${e.message}\n${CC_USAGE}\n`);
      return 2;
    }
    if (e instanceof ToolchainError || e instanceof CcInputError) {
      io.stderr(`kmemdb cc: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
