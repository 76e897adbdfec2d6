/*
 * Processes, LWPs, credentials and turnstiles: the objects of illumos'
 * proc.h / klwp.h / cred_impl.h / turnstile.h that every thread belongs
 * to, in simulated memory with the C layouts of src/abi/kernel-core.ts.
 *
 * Theory
 * ------
 * As in illumos, the kernel's own threads belong to process 0 (`p0`,
 * "sched", a static global, as are its pid `pid0` and `session0`), and a
 * kernel thread's kthread_t lives at the top of its segkp stack chunk.
 * Every other process (init, pageout, fsflush, a workload's `make`) is
 * created by `newproc()`: its proc_t comes from the kmem cache
 * `process_cache`, its pid from kmem_zalloc, its credentials from
 * `cred_cache`; its threads are LWPs (`lwpCreate()`): kthread_t from
 * `thread_cache`, klwp_t from `lwp_cache`, the stack alone from segkp.
 * Every thread created once the caches exist brings a turnstile from
 * `turnstile_cache`.  The caches belong to kmem, which sits above the
 * kernel core, so the system installs them (`attach()`) once kmem is up;
 * before that only p0 and its threads exist, as during an illumos boot.
 *
 * Active processes are on the `practive` list (p_next/p_prev, newest
 * first) and in the tree of p_parent/p_child/p_sibling (a new child goes
 * first); a process's threads are on the circular t_forw/t_back list from
 * p_tlist.  mdb reads all of it from memory (::ps, ::ptree, ::pgrep,
 * ::thread, ::stacks).
 */

import type { Kernel, KThread, ThreadOptions } from './kernel.js';
import { SAUTOLPG, SEXECED, SMSACCT, SMSFORK, SNOWAIT, SOBJ_CV, SOBJ_MUTEX, SOBJ_RWLOCK, SOBJ_SEMA, SONPROC, SRUN, SSYS } from '../abi/kernel-core.js';

/** The kmem caches of kernel objects, in the order illumos creates them (thread_init, cred_init, pid_init). */
export const KERNEL_OBJECT_CACHES = ['thread_cache', 'lwp_cache', 'turnstile_cache', 'cred_cache', 'process_cache'] as const;
export type KernelObjectCache = (typeof KERNEL_OBJECT_CACHES)[number];

/** What the kernel needs from kmem to allocate its objects (installed by the system once kmem is up). */
export interface KernelObjectAllocator {
  /** A buffer from the named cache (contents undefined: the caller zeroes it). */
  cacheAlloc(cache: KernelObjectCache): number;
  /** kmem_zalloc. */
  zalloc(size: number): number;
}

/** A process: its proc_t address, pid and name (u_comm). */
export class KProc {
  constructor(
    readonly addr: number,
    readonly pid: number,
    readonly name: string,
  ) {}
}

export interface NewProcOptions {
  /** The parent (default: init once it exists, else p0). */
  parent?: KProc;
  /** p_flag (default: an exec'ed user process's SMSFORK|SMSACCT|SEXECED). */
  flags?: number;
  /** The arguments ps -f shows (default: the name). */
  psargs?: string;
  /** A user id of its own (a credential from cred_cache); default: kcred's. */
  uid?: number;
}

/** Priorities illumos gives kernel threads (minclsyspri) and user LWPs (time-sharing). */
const KERNEL_PRI = 60;
const USER_PRI = 59;

export class ProcessTable {
  readonly p0: KProc;
  /** The processes created, p0 first. */
  readonly procs: KProc[] = [];
  private objects: KernelObjectAllocator | undefined;
  private kcred = 0;
  private init: KProc | undefined;
  private readonly g: { practive: number; pid0: number; session0: number; sobj: Record<'mutex' | 'rw' | 'cv' | 'sema', number> };

  constructor(private readonly k: Kernel) {
    const T = k.types;
    const p0 = k.global('p0', 'proc_t', 64);
    this.g = {
      practive: k.global('practive', 'proc_t *'),
      pid0: k.global('pid0', 'struct pid'),
      session0: k.global('session0', 'sess_t'),
      sobj: {
        mutex: k.global('mutex_sobj_ops', 'sobj_ops_t'),
        rw: k.global('rw_sobj_ops', 'sobj_ops_t'),
        cv: k.global('cv_sobj_ops', 'sobj_ops_t'),
        sema: k.global('sema_sobj_ops', 'sobj_ops_t'),
      },
    };
    const types: Array<[number, number]> = [[this.g.sobj.mutex, SOBJ_MUTEX], [this.g.sobj.rw, SOBJ_RWLOCK], [this.g.sobj.cv, SOBJ_CV], [this.g.sobj.sema, SOBJ_SEMA]];
    for (const [a, ty] of types) k.mem.store32(a + T.offsetof('sobj_ops_t', 'sobj_type'), ty);
    k.mem.store32(this.g.pid0 + T.offsetof('struct pid', 'pid_ref'), 1);
    k.mem.storePtr(this.g.session0 + T.offsetof('sess_t', 's_sidp'), this.g.pid0);
    k.mem.store32(this.g.session0 + T.offsetof('sess_t', 's_ref'), 1);
    this.p0 = new KProc(p0, 0, 'sched');
    this.fillProc(this.p0, { pidp: this.g.pid0, parent: undefined, flags: SSYS, psargs: 'sched', cred: 0 });
    this.procs.push(this.p0);
  }

  /** The address of cv_sobj_ops (what a thread sleeping on a condition variable points t_sobj_ops at). */
  get cvSobjOps(): number {
    return this.g.sobj.cv;
  }

  /** Whether the kmem caches of kernel objects are installed. */
  get attached(): boolean {
    return this.objects !== undefined;
  }

  /**
   * Install the caches (after kmem_init): kcred from cred_cache becomes
   * p0's and its threads' credentials, and the threads that exist get
   * their turnstiles, as thread_init and cred_init would have given them.
   */
  attach(objects: KernelObjectAllocator): void {
    if (this.objects) throw new Error('ProcessTable.attach: already attached');
    this.objects = objects;
    this.kcred = this.newCred(0);
    this.setPtr(this.p0.addr, 'proc_t', 'p_cred', this.kcred);
    for (const t of this.k.threads) this.threadJoined(t, this.p0);
  }

  /** Create a process (newproc + exec): proc_t from process_cache, pid, credentials, links. */
  newproc(name: string, opts: NewProcOptions = {}): KProc {
    return this.within('newproc', 0x1f2, () => this.newprocIn(name, opts));
  }

  private newprocIn(name: string, opts: NewProcOptions): KProc {
    const objects = this.mustHaveObjects('newproc');
    const k = this.k;
    const addr = this.zeroed(objects.cacheAlloc('process_cache'), 'proc_t');
    const pid = this.procs.length === 0 ? 0 : Math.max(...this.procs.map((p) => p.pid)) + 1;
    const pidp = objects.zalloc(k.types.size('struct pid'));
    k.mem.store32(pidp + k.types.offsetof('struct pid', 'pid_id'), pid);
    k.mem.store32(pidp + k.types.offsetof('struct pid', 'pid_ref'), 1);
    k.mem.store32(pidp + k.types.offsetof('struct pid', 'pid_prslot'), this.procs.length);
    const cred = opts.uid === undefined ? this.hold(this.kcred) : this.newCred(opts.uid);
    const parent = opts.parent ?? this.init ?? this.p0;
    const p = new KProc(addr, pid, name);
    this.fillProc(p, { pidp, parent, flags: opts.flags ?? SMSFORK | SMSACCT | SEXECED, psargs: opts.psargs ?? name, cred });
    this.procs.push(p);
    if (pid === 1) this.init = p;
    return p;
  }

  /** Create an LWP of p: kthread_t from thread_cache, klwp_t from lwp_cache, its stack from segkp. */
  lwpCreate(p: KProc, name: string, where: Pick<ThreadOptions, 'start' | 'syscall' | 'cpu'>): KThread {
    return this.within('lwp_create', 0x29b, () => this.lwpCreateIn(p, name, where));
  }

  private lwpCreateIn(p: KProc, name: string, where: Pick<ThreadOptions, 'start' | 'syscall' | 'cpu'>): KThread {
    const objects = this.mustHaveObjects('lwp_create');
    const k = this.k;
    const taddr = this.zeroed(objects.cacheAlloc('thread_cache'), 'kthread_t');
    const lwp = this.zeroed(objects.cacheAlloc('lwp_cache'), 'klwp_t');
    const lwpid = this.u32(p.addr, 'proc_t', 'p_lwpid') + 1;
    this.set32(p.addr, 'proc_t', 'p_lwpid', lwpid);
    const t = k.createThreadAt(taddr, name, { ...where, proc: p, tid: lwpid });
    this.setPtr(taddr, 'kthread_t', 't_lwp', lwp);
    this.setPtr(lwp, 'klwp_t', 'lwp_thread', taddr);
    this.setPtr(lwp, 'klwp_t', 'lwp_procp', p.addr);
    this.setPtr(lwp, 'klwp_t', 'lwp_regs', t.stackTop - 32 * k.model.ptrSize);
    k.mem.store64n(lwp + k.types.offsetof('klwp_t', 'lwp_mstate_start'), k.hrtime);
    return t;
  }

  /** Mark a process running (SONPROC) or runnable (SRUN), as its thread goes on or off a CPU. */
  setRunning(p: KProc, onproc: boolean): void {
    this.k.mem.store8(p.addr + this.k.types.offsetof('proc_t', 'p_stat'), onproc ? SONPROC : SRUN);
  }

  /** The kernel processes an illumos boot starts (main: init, pageout, fsflush), each with one LWP asleep. */
  startSystemProcesses(): void {
    const init = this.newproc('init', { parent: this.p0, flags: SMSFORK | SAUTOLPG | SMSACCT | SEXECED, psargs: '/sbin/init' });
    this.lwpCreate(init, 'init', { syscall: 'waitsys' });
    const pageout = this.newproc('pageout', { parent: this.p0, flags: SNOWAIT | SSYS });
    this.lwpCreate(pageout, 'pageout', { start: 'pageout_scanner' });
    const fsflush = this.newproc('fsflush', { parent: this.p0, flags: SNOWAIT | SSYS });
    this.lwpCreate(fsflush, 'fsflush', { start: 'fsflush' });
  }

  /**
   * A thread joins process p (called by the kernel as it creates one):
   * t_procp, the process's thread list, credentials, priority, and a
   * turnstile once turnstile_cache exists.
   */
  threadJoined(t: KThread, p: KProc): void {
    const k = this.k;
    const T = k.types;
    const off = (m: string) => t.addr + T.offsetof('kthread_t', m);
    if (k.mem.loadPtr(off('t_procp')) === 0) {
      k.mem.storePtr(off('t_procp'), p.addr);
      this.linkThread(t, p);
      k.mem.store16(off('t_pri'), p === this.p0 ? KERNEL_PRI : USER_PRI);
      k.mem.store32(off('t_bind_cpu'), -1 >>> 0);
    }
    const cred = k.mem.loadPtr(p.addr + T.offsetof('proc_t', 'p_cred'));
    if (cred !== 0 && k.mem.loadPtr(off('t_cred')) === 0) k.mem.storePtr(off('t_cred'), this.hold(cred));
    const objects = this.objects;
    if (objects && k.mem.loadPtr(off('t_ts')) === 0) {
      k.mem.storePtr(off('t_ts'), this.within('thread_create', 0x1a4, () => this.zeroed(objects.cacheAlloc('turnstile_cache'), 'turnstile_t')));
    }
  }

  /* ------------------------------------------------------------ helpers */

  /** Run body as the kernel function fn would (a frame at fn+off), so allocations record it. */
  private within<R>(fn: string, off: number, body: () => R): R {
    const k = this.k;
    k.enter(k.fn(fn, 0x400) + off);
    try {
      return body();
    } finally {
      k.leave();
    }
  }

  private mustHaveObjects(fn: string): KernelObjectAllocator {
    if (!this.objects) throw new Error(`${fn}: the kernel object caches are not installed (kmem is not up)`);
    return this.objects;
  }

  /** Fill a proc_t: ids, session, credentials, u area, and link it into practive and its parent's children. */
  private fillProc(p: KProc, o: { pidp: number; parent: KProc | undefined; flags: number; psargs: string; cred: number }): void {
    const k = this.k;
    const T = k.types;
    const a = p.addr;
    const off = (m: string) => a + T.offsetof('proc_t', m);
    k.mem.storePtr(off('p_pidp'), o.pidp);
    // A process leads its own group unless it is a system process (pgid 0, session 0).
    k.mem.storePtr(off('p_pgidp'), o.flags & SSYS || p.pid <= 1 ? this.g.pid0 : o.pidp);
    k.mem.storePtr(off('p_sessp'), this.g.session0);
    k.mem.store8(off('p_stat'), SRUN);
    k.mem.store32(off('p_flag'), o.flags >>> 0);
    k.mem.storePtr(off('p_cred'), o.cred);
    k.mem.store64n(off('p_mstart'), k.hrtime);
    const u = off('p_user');
    const U = (m: string) => u + T.offsetof('user_t', m);
    k.mem.storePtr(U('u_start.tv_sec'), k.timeSecond);
    k.mem.storePtr(U('u_start.tv_nsec'), k.hrtime % 1e9);
    k.mem.storePtr(U('u_ticks'), Math.floor(k.hrtime / 1e7));
    k.writeString(U('u_comm'), p.name, 17);
    k.writeString(U('u_psargs'), o.psargs, 80);
    k.mem.store32(U('u_argc'), o.psargs.split(' ').length);
    // practive: newest first
    const head = k.mem.loadPtr(this.g.practive);
    k.mem.storePtr(off('p_next'), head);
    if (head !== 0) k.mem.storePtr(head + T.offsetof('proc_t', 'p_prev'), a);
    k.mem.storePtr(this.g.practive, a);
    if (o.parent) {
      const pa = o.parent.addr;
      k.mem.storePtr(off('p_parent'), pa);
      k.mem.store32(off('p_ppid'), o.parent.pid);
      const older = k.mem.loadPtr(pa + T.offsetof('proc_t', 'p_child'));
      k.mem.storePtr(off('p_sibling'), older);
      if (older !== 0) k.mem.storePtr(older + T.offsetof('proc_t', 'p_psibling'), a);
      k.mem.storePtr(pa + T.offsetof('proc_t', 'p_child'), a);
    }
  }

  /** Put t on p's circular thread list (p_tlist, t_forw/t_back) and count the LWP. */
  private linkThread(t: KThread, p: KProc): void {
    const k = this.k;
    const T = k.types;
    const tf = T.offsetof('kthread_t', 't_forw');
    const tb = T.offsetof('kthread_t', 't_back');
    const first = this.ptr(p.addr, 'proc_t', 'p_tlist');
    if (first === 0) {
      k.mem.storePtr(t.addr + tf, t.addr);
      k.mem.storePtr(t.addr + tb, t.addr);
      this.setPtr(p.addr, 'proc_t', 'p_tlist', t.addr);
    } else {
      const last = k.mem.loadPtr(first + tb);
      k.mem.storePtr(t.addr + tf, first);
      k.mem.storePtr(t.addr + tb, last);
      k.mem.storePtr(last + tf, t.addr);
      k.mem.storePtr(first + tb, t.addr);
    }
    this.set32(p.addr, 'proc_t', 'p_lwpcnt', this.u32(p.addr, 'proc_t', 'p_lwpcnt') + 1);
    this.set32(p.addr, 'proc_t', 'p_lwprcnt', this.u32(p.addr, 'proc_t', 'p_lwprcnt') + 1);
  }

  /** A credential from cred_cache (crget): one reference, the given uid and gid. */
  private newCred(uid: number): number {
    return this.within('crget', 0x2a, () => this.newCredIn(uid));
  }

  private newCredIn(uid: number): number {
    const cr = this.zeroed(this.mustHaveObjects('crget').cacheAlloc('cred_cache'), 'cred_t');
    for (const m of ['cr_uid', 'cr_ruid', 'cr_suid', 'cr_gid', 'cr_rgid', 'cr_sgid']) this.set32(cr, 'cred_t', m, uid);
    this.set32(cr, 'cred_t', 'cr_ref', 1);
    return cr;
  }

  /** crhold: one more reference. */
  private hold(cr: number): number {
    if (cr !== 0) this.set32(cr, 'cred_t', 'cr_ref', this.u32(cr, 'cred_t', 'cr_ref') + 1);
    return cr;
  }

  private zeroed(a: number, type: string): number {
    this.k.mem.fill8(a, this.k.types.size(type), 0);
    return a;
  }

  private ptr(a: number, type: string, m: string): number {
    return this.k.mem.loadPtr(a + this.k.types.offsetof(type, m));
  }

  private setPtr(a: number, type: string, m: string, v: number): void {
    this.k.mem.storePtr(a + this.k.types.offsetof(type, m), v);
  }

  private u32(a: number, type: string, m: string): number {
    return this.k.mem.load32(a + this.k.types.offsetof(type, m));
  }

  private set32(a: number, type: string, m: string, v: number): void {
    this.k.mem.store32(a + this.k.types.offsetof(type, m), v >>> 0);
  }
}

