/*
 * The kmemdb demo (`npm start`, `kmemdb demo`): the NetBSD report's first
 * failure, from the workload to the root cause.
 *
 * It runs the pool-unload scenario (perl5 and two small pkgsrc builds on the
 * simulated NetBSD kernel, kmem_flags 0xf, a fixed seed) until the kernel
 * faults in pool_destroy(), lets savecore write the dump into `dir`, opens
 * the dump with the dump reader and runs a guided series of mdb commands in
 * one real mdb session (the library entry point, not a subprocess), each
 * preceded by a sentence saying why it is run and what to look at.  The
 * sentences are built from what the dump holds (the stale address, the
 * module that owned it, its load and unload times), read through the same
 * analyses the dcmds use, so the text cannot drift from the output.
 *
 * Deterministic: the same seed gives byte-identical dumps and therefore the
 * same transcript (the dump index and `dir` appear in it as given).
 */

import * as path from 'node:path';
import { runScenario, ScenarioError } from '../scenarios/index.js';
import { openDump } from '../target/dump-target.js';
import { createSession } from '../mdb/index.js';
import '../mdb/modules/genunix.js';
import '../mdb/modules/netbsd.js';
import { hex } from '../machine/addr.js';
import type { Target } from '../target/target.js';
import { fmtTime, formerModuleAt, formerSymbol } from '../mdb/analysis/netbsd-view.js';
import { MdbTour, wrap } from './narration.js';

export interface DemoOptions {
  /** Crash directory (savecore writes unix.N, vmcore.N and bounds there). */
  readonly dir: string;
  /** Where the transcript goes. */
  readonly out: (s: string) => void;
  /** Scenario seed (default 1). */
  readonly seed?: number;
}

export interface DemoResult {
  /** The dump number N (unix.N, vmcore.N). */
  readonly index: number;
  /** False if an mdb command of the tour failed. */
  readonly ok: boolean;
}

/** Thrown when the dump does not show the failure the tour explains. */
export class DemoError extends ScenarioError {
  constructor(message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

const X = (a: number): string => '0x' + hex(a);

/** What the tour needs to know about the dump, read from it. */
interface Facts {
  readonly pp: number;
  readonly stale: number;
  readonly allocator: string;
  readonly module: string;
  readonly symbol: string;
  readonly offset: number;
  readonly loads: ReadonlyArray<{ base: number; load: number; unload?: number }>;
  readonly mqueueLoads: number;
}

function facts(t: Target): Facts {
  const P = t.model.ptrSize;
  const tt = t.types;
  const cacheSym = t.symbolByName('mqmsg_cache');
  if (!cacheSym) throw new DemoError('the dump has no mqmsg_cache: mqueue was not being unloaded at the panic');
  const pp = t.loadPtr(cacheSym.value);
  const sid = tt.find('struct pool');
  if (sid === undefined || pp === 0) throw new DemoError('the dump has no struct pool for mqmsgpl');
  const linkOff = tt.member(sid, 'pr_alloc_list').bitOffset / 8;
  const stale = t.loadPtr(pp + linkOff + P);
  const alloc = t.loadPtr(pp + tt.member(sid, 'pr_alloc').bitOffset / 8);
  const f = formerModuleAt(t, stale);
  if (!f || t.isMapped(stale)) throw new DemoError(`mqmsgpl's tqe_prev ${X(stale)} is not in a freed module range: not the failure this tour explains`);
  const loads = t
    .moduleHistory()
    .filter((m) => m.name === f.record.name)
    .map((m) => ({ base: m.base, load: m.loadTime, unload: m.unloadTime }));
  return {
    pp,
    stale,
    allocator: t.symbolByAddr(alloc)?.name ?? X(alloc),
    module: f.record.name,
    symbol: formerSymbol(f),
    offset: f.offset,
    loads,
    mqueueLoads: t.moduleHistory().filter((m) => m.name === 'mqueue').length,
  };
}

/** Run the demo: make the dump, then the guided mdb session. */
export function runDemo(opts: DemoOptions): DemoResult {
  const out = opts.out;
  const say = (text: string) => out(wrap(text));
  out('kmemdb demo: NetBSD "fault in pool_destroy() while unloading mqueue"\n');
  out('='.repeat(69) + '\n\n');
  say(
    'In November 2015 a NetBSD-current user reported (current-users, "Three failure modes seen with -current") that ' +
      'pkgsrc builds panic the kernel.  exec_autoload() loads the compat modules and their dependencies, among them ' +
      'mqueue; ten seconds later the modunload thread auto-unloads them; on the second auto-unload of mqueue the ' +
      'kernel faults in pool_destroy(), in TAILQ_REMOVE(&pp->pr_alloc->pa_list, pp, pr_alloc_list).  The ' +
      "allocator's pool list was corrupt, and the reporter could not find who corrupted it.",
  );
  out('\n');
  say(
    'kmemdb runs a simulated NetBSD kernel (pool(9), loadable modules, sysctl) on a re-implementation of the ' +
      'Solaris kmem/vmem allocator, booted with kmem_flags=0xf (auditing, redzones, freed-buffer patterns).  ' +
      'Below it builds perl5 and two small packages until the kernel panics, saves a crash dump, and then finds ' +
      "the root cause with mdb, the Solaris modular debugger, reading nothing but the dump's bytes, symbols and types.",
  );
  out('\n[1/2] Building packages on the simulated kernel until it panics\n\n');
  const r = runScenario('pool-unload', { dir: opts.dir, seed: opts.seed ?? 1, kmemFlags: 0xf });
  out(`panic: ${r.panicMessage}\n`);
  out(`savecore: saved crash dump ${r.dump.index} in ${opts.dir}: ${path.basename(r.dump.unixPath)}, ${path.basename(r.dump.vmcorePath)}\n`);
  const vmcore = `${opts.dir.replace(/\/+$/, '')}/${path.basename(r.dump.vmcorePath)}`;
  out(`\n[2/2] Debugging ${vmcore} with mdb\n\n`);

  const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
  let ok = true;
  try {
    const F = facts(t);
    const tour = new MdbTour(createSession(t, { stdout: out, stderr: out }), out);
    const step = (text: string, cmd: string) => tour.step(text, cmd);
    const first = F.loads[0];
    const last = F.loads[F.loads.length - 1];
    const loadList = F.loads.map((l) => `${fmtTime(l.load)} to ${l.unload === undefined ? 'now' : fmtTime(l.unload)}`).join(' and ');
    const sameVa = F.loads.every((l) => l.base === first?.base);

    step(
      'What happened?  ::status prints the dump header: the panic is a BAD TRAP, a page fault (#pf) at an unmapped ' +
        'kernel address (addr=), as in the report.',
      '::status',
    );
    step(
      "The panicking thread's stack, newest frame first.  The modunload thread is auto-unloading mqueue " +
        '(module_do_unload calls mqueue_modcmd with MODULE_CMD_FINI), mqueue destroys its message pool_cache ' +
        '"mqmsgpl", and pool_destroy faults while unlinking the pool from its allocator\'s list.',
      '$c',
    );
    step(
      'mqueue keeps its cache in the pointer mqmsg_cache.  A struct pool_cache begins with its struct pool, so the ' +
        `same address is the pool being destroyed (pp in the report).  Look at its allocator link: tqe_next is NULL, ` +
        `so mqmsgpl is the last pool on ${F.allocator}'s list, and tqe_prev, which must point at the tqe_next field ` +
        `of the element before it, holds ${X(F.stale)}.`,
      '*mqmsg_cache::print struct pool pr_wchan pr_alloc pr_alloc_list',
    );
    step(
      'TAILQ_REMOVE of the last element does two stores: head->tqh_last = elm->tqe_prev, then *elm->tqe_prev = ' +
        `elm->tqe_next.  The first one has happened: the allocator's tqh_last now holds the same ${X(F.stale)}.  ` +
        'The second one is the fault: nothing is mapped there.  This is exactly what the report shows.',
      `${F.allocator}::print struct pool_allocator pa_list`,
    );
    step(
      "Which pool comes before mqmsgpl?  Walk the allocator's list.  The pa_list walker checks every link as it " +
        'goes (is the next element mapped? does its tqe_prev point back at the link we came from?) and reports ' +
        'the first bad one by address instead of following it.',
      `${F.allocator}::walk pa_list`,
    );
    step(
      'What used to be at that address?  The dump keeps the history of module loads and unloads with their ' +
        `symbols, so ::whatis can name memory that no longer exists: ${X(F.stale)} lies in module_map memory freed ` +
        `when the module ${F.module} was unloaded, at ${F.symbol}, a struct pool in ${F.module}'s static data` +
        (F.offset === 0x80 ? ' (offset 0x80 is pr_alloc_list.tqe_next, the 0x80(%rbx) of the report\'s disassembly).' : '.'),
      `${X(F.stale)}::whatis`,
    );
    step(
      `So ${F.module}'s pool is still linked into the pool lists although its module is gone.  ::pool lists every ` +
        'pool on pool_head, then checks pool_head, every allocator\'s pa_list and the pagedaemon\'s drainpp ' +
        'cursor for pools that live in the former range of an unloaded module.',
      '::pool',
    );
    step(
      '::modstat prints the loaded modules as modstat(8) does (only the built-ins and the half-unloaded mqueue ' +
        'are left); -h adds the load/unload history.  ' +
        `${F.module} was loaded ${F.loads.length === 1 ? 'once' : `${F.loads.length} times`} (${loadList})` +
        (sameVa && F.loads.length > 1 ? `, each time at ${X(first!.base)}: module_map is first fit, so a reload gets the same addresses back.` : '.'),
      '::modstat -h',
    );
    say(
      `Root cause: ${F.module}'s MODULE_CMD_FINI does not pool_destroy() the struct pool in its static data.  ` +
        (F.loads.length > 1
          ? `The first unload (at ${fmtTime(first!.unload ?? 0)}) unmapped the pages of a pool still linked on ` +
            'pool_head and pa_list.  The reload mapped the same pages again and pool_init() linked the same ' +
            'struct pool a second time into lists that still held it, which corrupted them.  '
          : 'Its unload unmapped the pages of a pool still linked on pool_head and pa_list.  ') +
        `The last unload (at ${fmtTime(last?.unload ?? 0)}) left the link dangling again, and when mqueue ` +
        'unloaded after it, pool_destroy wrote through it.  mqueue is the victim, not the culprit.  The fix is in ' +
        `${F.module}: pool_destroy() every pool in FINI, as mqueue does.  The report's second failure (the ` +
        "pagedaemon's pool_drain faulting on a stale drainpp) has the same cause.",
    );
    out('\n');
    ok = tour.ok;
  } finally {
    t.close();
  }
  out('Explore the dump yourself:\n\n');
  out(`    ./bin/mdb ${opts.dir} ${r.dump.index}\n\n`);
  say(
    'then try ::help pool, ::pool -v, ::walk pool_head, ::msgbuf (the kernel messages: every module load and ' +
      'unload), ::findleaks, ::kmem_verify, or ::dcmds for everything.',
  );
  out('\nThe other failures of the report, and the kernels that catch them early:\n\n');
  out('    ./bin/kmemdb crash pool-drain --dir D                  # issue 2: ::pool, *drainpp::whatis\n');
  out('    ./bin/kmemdb crash sysctl-log --dir D                  # issue 3: ::sysctl kern, ::sysctllog\n');
  out('    ./bin/kmemdb crash pool-unload --dir D --debug-checks  # DEBUG kernel: panics at the origin\n');
  out('    ./bin/kmemdb crash pool-unload --dir D --fixed         # the fix: 1000 cycles, then a dump\n');
  return { index: r.dump.index, ok };
}
