/*
 * ::kmemdb_run, a dcmd of kmemdb's own (illumos has none like it): on a
 * live simulated kernel (mdb -k) it lets the kernel run on for some
 * simulated seconds and stop again, as `:c` and a breakpoint would under
 * kmdb.  The console output of the run is printed, then where the kernel
 * stopped.  It works through the target's TargetControl only: mdb does not
 * know what the kernel runs.
 */

import { DCMD_ADDRSPEC, DCMD_OK, DCMD_USAGE, DcmdError, type DcmdContext, type DcmdDef } from '../module.js';
import { forgetCachedLeaks } from '../analysis/leaks.js';

function parseSeconds(s: string): number {
  const v = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(v)) throw new DcmdError(`kmemdb_run: bad number of seconds "${s}" (decimal, e.g. 5 or 0.5)`);
  return v;
}

function kmemdbRunDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]) {
  if (flags & DCMD_ADDRSPEC || argv.length > 1) return DCMD_USAGE;
  const control = ctx.target.control;
  if (!control) throw new DcmdError('kmemdb_run: the target is not a running kernel (use mdb -k)');
  const seconds = argv.length === 1 ? parseSeconds(argv[0]!) : undefined;
  let r;
  try {
    r = control.run(seconds);
  } catch (e) {
    throw new DcmdError(`kmemdb_run: ${e instanceof Error ? e.message : String(e)}`);
  }
  forgetCachedLeaks(ctx.target);
  ctx.out(r.console);
  const at = `hrtime ${r.uptime.toFixed(3)}s`;
  if (r.state === 'panicked') ctx.out(`kmemdb: the kernel panicked after ${r.seconds.toFixed(3)}s; stopped at ${at}\n`);
  else if (r.state === 'finished') ctx.out(`kmemdb: ran ${r.seconds.toFixed(3)}s; the workload has finished, the kernel idles; stopped at ${at}\n`);
  else ctx.out(`kmemdb: ran ${r.seconds.toFixed(3)}s; stopped at ${at}\n`);
  return DCMD_OK;
}

export function liveDcmds(): DcmdDef[] {
  return [
    {
      name: 'kmemdb_run',
      usage: '[seconds]',
      description: 'let a live kernel run on, then stop it again (kmemdb)',
      help: `kmemdb's own dcmd, for a live simulated kernel (mdb -k).  The kernel
runs its workload for the given simulated seconds (decimal; without an
argument: until the workload ends or the kernel panics), then stops
between two pieces of work.  Its console output is printed, then where
it stopped.  After a panic the target shows the panic as a dump does
(::status, $c, ::msgbuf) and the kernel does not run on.`,
      fn: kmemdbRunDcmd,
    },
  ];
}
