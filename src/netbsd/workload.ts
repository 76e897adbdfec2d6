/*
 * Workloads: package builds as timed steps.
 *
 * A package is a list of steps at offsets (seconds) from its start: execs of
 * images of some format (an image no exec switch accepts gets ENOEXEC and
 * triggers exec_autoload), a Linux tool that runs a while, memory demand
 * that wakes the pagedaemon, semget/sem_open (autoloading sysv_ipc / ksem),
 * POSIX message queue traffic and `sysctl kern`.  Each step runs as a
 * callout of the "make" thread under k.guard, so a fault anywhere is a
 * panic with the stack of the step that hit it; time passes with
 * k.advance(), which also runs the modunload thread and the pagedaemon.
 */

import type { NetbsdOS } from './index.js';

export type Step =
  | { t: number; op: 'exec'; format: string; secs?: number; anon?: number }
  | { t: number; op: 'memory'; pages: number; secs: number }
  | { t: number; op: 'semget' }
  | { t: number; op: 'sem_open' }
  | { t: number; op: 'mq'; n: number }
  | { t: number; op: 'sysctl'; path: string };

export interface Package {
  name: string;
  /** Length of the build in seconds (time advanced after scheduling its steps). */
  secs: number;
  steps: Step[];
}

export interface BuildHooks {
  /** After each step has run. */
  afterStep?(pkg: Package, step: Step, os: NetbsdOS): void;
}

/** What a make_build callout does, by its argument (an index into the builder's jobs). */
type Job = { pkg: Package; step: Step; hooks: BuildHooks } | { releasePages: number };

export class Builder {
  readonly thread;
  private readonly fn: number;
  private readonly runFn: number;
  private readonly jobs: Job[] = [];

  constructor(private readonly os: NetbsdOS) {
    const k = os.k;
    // make(1) is a user process (a child of init) waiting for its children: its LWP sits in wait4
    const procs = k.procs;
    this.thread = procs?.attached ? procs.lwpCreate(procs.newproc('make', { psargs: 'make package', uid: 1000 }), 'make', { syscall: 'sys_wait4' }) : k.createThread('make');
    this.fn = k.fn('make_build', 0x300);
    this.runFn = k.fn('sh_run', 0x200);
    k.calloutFunc(this.fn, (i) => this.runJob(this.jobs[i]!));
    // a child of make exits: exit1(p)
    k.calloutFunc(os.FN.exit1, (p) => k.guard(() => os.exit(p)));
  }

  /** Arm a make_build callout for a job. */
  private later(secs: number, job: Job): void {
    this.jobs.push(job);
    this.os.k.timeout(this.thread, secs * 1e9, this.fn, this.jobs.length - 1);
  }

  private runJob(job: Job): void {
    const os = this.os;
    const k = os.k;
    if ('releasePages' in job) {
      k.guard(() => os.uvm.anon(-job.releasePages));
      return;
    }
    k.guard(() => {
      k.enter(this.fn + 0x1a4);
      k.enter(this.runFn + 0x88);
      this.run(job.step);
      k.leave();
      k.leave();
    });
    job.hooks.afterStep?.(job.pkg, job.step, os);
  }

  /** Build one package: schedule its steps, then let its time pass. */
  build(pkg: Package, hooks: BuildHooks = {}): void {
    this.os.k.advance(this.schedule(pkg, hooks));
  }

  /** Schedule a package's steps; returns the ns its build takes (to let pass). */
  schedule(pkg: Package, hooks: BuildHooks = {}): number {
    const os = this.os;
    const k = os.k;
    k.printf(`===> Building for ${pkg.name}\n`);
    for (const step of pkg.steps) this.later(step.t, { pkg, step, hooks });
    return pkg.secs * 1e9;
  }

  private run(step: Step): void {
    const os = this.os;
    const k = os.k;
    switch (step.op) {
      case 'exec': {
        const p = os.spawn(step.format, step.anon ?? 16);
        if (p !== 0) k.timeout(this.thread, (step.secs ?? 0.2) * 1e9, os.FN.exit1, p);
        break;
      }
      case 'memory':
        os.uvm.anon(step.pages);
        this.later(step.secs, { releasePages: step.pages });
        break;
      case 'semget':
        os.semget();
        break;
      case 'sem_open':
        os.semOpen();
        break;
      case 'mq':
        os.mqTraffic(step.n);
        break;
      case 'sysctl':
        os.sysctlRead(step.path);
        break;
    }
  }
}
