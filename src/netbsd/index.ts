/*
 * The NetBSD personality, assembled: pool(9), uvm, modules, sysctl, exec,
 * the module files, the kernel's own pools and sysctl tree, and a process
 * model for workloads.
 *
 * Processes.  A simulated process is a "proc" item from the kernel's proc
 * pool_cache, linked on `allproc` (a LIST through the item's first words);
 * it holds pointers to its lwp, vmspace and file items and, for a Linux
 * binary, the per-process state compat_linux obtained from culprit.  So
 * every item a workload holds is reachable from kernel memory.
 */

import { NetbsdKern, type NetbsdOptions } from './kern.js';
import { hostFromSystem, type NetbsdHost, type SystemLike } from './host.js';
import { Pools } from './pool.js';
import { Uvm } from './uvm.js';
import { Modules } from './kern-module.js';
import { Sysctl } from './sysctl.js';
import { Exec } from './exec.js';
import { NETBSD_MODULES } from './module-files.js';
import {
  CTL_CREATE, CTL_KERN, CTL_HW, CTL_VM, CTLFLAG_IMMEDIATE, CTLFLAG_READWRITE, CTLTYPE_BOOL, CTLTYPE_INT, CTLTYPE_NODE,
  CTLTYPE_STRING, CTLTYPE_STRUCT, IPL_NONE, IPL_VM, KERN_ARGMAX, KERN_BOOTTIME, KERN_CLOCKRATE, KERN_EVCNT, KERN_HOSTNAME,
  KERN_MAXFILES, KERN_MAXPROC, KERN_MAXVNODES, KERN_OSRELEASE, KERN_OSREVISION, KERN_OSTYPE, KERN_SOFIXEDBUF, KERN_SYSVIPC,
  KERN_VERSION, MODULE_CLASS_ANY, MODULE_CLASS_MISC, PR_WAITOK,
} from '../abi/netbsd-sys.js';

export { NetbsdKern, DEBUG_ALL, DEBUG_KOBJ_POOLS, DEBUG_POOL_INIT, DEBUG_SYSCTL_PARENT, type NetbsdOptions } from './kern.js';
export { hostFromSystem, type NetbsdHost, type SystemLike } from './host.js';

export const NETBSD_FUNCTIONS = {
  main: 0x200,
  fork1: 0x400,
  exit1: 0x2a0,
  sysctl_kern_maxvnodes: 0x90,
  sysctl_kern_maxproc: 0x90,
  sysctl_kern_clockrate: 0xb0,
  sysctl_kern_evcnt: 0x1a0,
  sys_semget: 0x60,
  sys_sem_open: 0x60,
  sys_mq_open: 0x60,
  sys_mount: 0x80,
} as const;

/** Kernel pools: [name, size, align, allocator, cache?] */
const KERNEL_POOLS: Array<[string, number, number, 'kmem' | 'nointr', boolean]> = [
  ['amappl', 48, 0, 'nointr', true],
  ['anonpl', 32, 0, 'nointr', true],
  ['bufpl', 256, 0, 'kmem', false],
  ['execargs', 2048, 0, 'nointr', false],
  ['filepl', 128, 64, 'kmem', true],
  ['kmem-00128', 128, 0, 'kmem', true],
  ['lwppl', 960, 64, 'kmem', true],
  ['mbpl', 512, 64, 'kmem', true],
  ['namecache', 128, 64, 'kmem', true],
  ['pipepl', 512, 64, 'kmem', true],
  ['proc', 1024, 64, 'kmem', true],
  ['sigacts', 1024, 0, 'kmem', true],
  ['socket', 512, 64, 'kmem', true],
  ['vmmpepl', 80, 0, 'nointr', true],
  ['vmsppl', 448, 64, 'kmem', true],
  ['vnodepl', 256, 64, 'kmem', true],
];

/** Offsets in a proc item (our own layout of the item's first words). */
const PROC_NEXT = 0;
const PROC_PREVP = 8;
const PROC_LWP = 16;
const PROC_VMSPACE = 24;
const PROC_FILE = 32;
const PROC_EMUL = 40;
const PROC_FORMAT = 48;
const PROC_NAMEI = 56;

export interface Proc {
  addr: number;
  format: string;
}

/** The NetBSD personality booted on a system: its subsystems, kernel pools, sysctl tree and processes. */
export class NetbsdOS {
  readonly nb: NetbsdKern;
  readonly k;
  readonly pools: Pools;
  readonly uvm: Uvm;
  readonly modules: Modules;
  readonly sysctl: Sysctl;
  readonly exec: Exec;
  readonly FN: Record<keyof typeof NETBSD_FUNCTIONS, number>;
  readonly g: {
    allproc: number;
    emul_exec_hook: number;
    emul_exit_hook: number;
    mq_msgq: number;
    boottime: number;
    ostype: number;
    osrelease: number;
    version: number;
    hostname: number;
    maxvnodes: number;
    maxproc: number;
    sofixedbuf: number;
    kernel_pools: number;
  };
  /** Kernel pool (or cache) address by name. */
  readonly kpool = new Map<string, { pp: number; pc: number }>();

  constructor(host: NetbsdHost, opts: NetbsdOptions = {}) {
    const nb = new NetbsdKern(host, opts);
    this.nb = nb;
    const k = nb.k;
    this.k = k;
    this.FN = k.fns(NETBSD_FUNCTIONS);
    this.g = {
      allproc: k.global('allproc', 'void *'),
      emul_exec_hook: k.global('emul_exec_hook', 'void *'),
      emul_exit_hook: k.global('emul_exit_hook', 'void *'),
      mq_msgq: k.global('mq_msgq', 'void *'),
      boottime: k.global('boottime', 'struct timespec'),
      ostype: k.global('ostype', 'char [32]'),
      osrelease: k.global('osrelease', 'char [32]'),
      version: k.global('version', 'char [128]'),
      hostname: k.global('hostname', 'char [256]'),
      maxvnodes: k.global('desiredvnodes', 'int'),
      maxproc: k.global('maxproc', 'int'),
      sofixedbuf: k.global('sofixedbuf', 'bool'),
      kernel_pools: k.global('kernel_pools', `void * [${KERNEL_POOLS.length}]`),
    };
    k.enter(this.FN.main);
    this.pools = new Pools(nb);
    const npages = Math.floor(host.k.heapSize / host.k.pageSize / 4);
    this.uvm = new Uvm(nb, this.pools, npages);
    this.sysctl = new Sysctl(nb);
    this.modules = new Modules(nb, this);
    this.exec = new Exec(nb, this.modules);
    this.uvm.onSeverePressure = () => this.modules.kick();
    this.kernelPools();
    this.kernelSysctl();
    for (const spec of NETBSD_MODULES) this.modules.provide(spec);
    this.modules.initBuiltins();
    if (opts.verbose) nb.mem.store32(this.modules.g.module_verbose_on, 1);
    k.leave();
  }

  /* ------------------------------------------------------------- boot */

  private kernelPools(): void {
    const nb = this.nb;
    const P = this.pools;
    KERNEL_POOLS.forEach(([name, size, align, alloc, cache], i) => {
      const palloc = alloc === 'nointr' ? P.g.pool_allocator_nointr : P.g.pool_allocator_kmem;
      let pp: number;
      let pc = 0;
      if (cache) {
        pc = P.cacheInit(size, align, 0, 0, P.kstr(name), palloc, alloc === 'nointr' ? IPL_NONE : IPL_VM);
        pp = pc;
        nb.mem.storePtr(this.g.kernel_pools + i * nb.P, pc);
      } else {
        pp = this.k.global(`${name}_pool`, 'struct pool');
        P.init(pp, size, align, 0, 0, P.kstr(name), palloc, IPL_VM);
        nb.mem.storePtr(this.g.kernel_pools + i * nb.P, pp);
      }
      this.kpool.set(name, { pp, pc });
    });
  }

  private kernelSysctl(): void {
    const k = this.k;
    const sy = this.sysctl;
    const mem = this.nb.mem;
    k.writeString(this.g.ostype, 'NetBSD', 32);
    k.writeString(this.g.osrelease, '7.99.21', 32);
    k.writeString(this.g.version, 'NetBSD 7.99.21 (KMEMDB) #0: Mon Nov  2 00:00:00 UTC 2015', 128);
    k.writeString(this.g.hostname, k.hostname, 256);
    mem.store32(this.g.maxvnodes, 32768);
    mem.store32(this.g.maxproc, 1044);
    mem.store64n(this.g.boottime, k.timeSecond);
    for (const [num, name] of [[CTL_KERN, 'kern'], [CTL_VM, 'vm'], [CTL_HW, 'hw']] as const) {
      sy.kernelNode([num], { type: CTLTYPE_NODE, name });
    }
    const RW = CTLFLAG_READWRITE;
    const leaf = (num: number, name: string, type: number, extra: Partial<{ data: number; func: number; qv: number; flags: number; size: number }>) =>
      sy.kernelNode([CTL_KERN, num], { type, name, ...extra });
    leaf(KERN_OSTYPE, 'ostype', CTLTYPE_STRING, { data: this.g.ostype, size: 32 });
    leaf(KERN_OSRELEASE, 'osrelease', CTLTYPE_STRING, { data: this.g.osrelease, size: 32 });
    leaf(KERN_OSREVISION, 'osrevision', CTLTYPE_INT, { flags: CTLFLAG_IMMEDIATE, qv: 799002100 });
    leaf(KERN_VERSION, 'version', CTLTYPE_STRING, { data: this.g.version, size: 128 });
    leaf(KERN_MAXVNODES, 'maxvnodes', CTLTYPE_INT, { flags: RW, func: this.FN.sysctl_kern_maxvnodes, data: this.g.maxvnodes });
    leaf(KERN_MAXPROC, 'maxproc', CTLTYPE_INT, { flags: RW, func: this.FN.sysctl_kern_maxproc, data: this.g.maxproc });
    leaf(KERN_MAXFILES, 'maxfiles', CTLTYPE_INT, { flags: RW | CTLFLAG_IMMEDIATE, qv: 3404 });
    leaf(KERN_ARGMAX, 'argmax', CTLTYPE_INT, { flags: CTLFLAG_IMMEDIATE, qv: 262144 });
    leaf(KERN_HOSTNAME, 'hostname', CTLTYPE_STRING, { flags: RW, data: this.g.hostname, size: 256 });
    leaf(KERN_CLOCKRATE, 'clockrate', CTLTYPE_STRUCT, { func: this.FN.sysctl_kern_clockrate, size: 20 });
    // kern.ipc: in this kernel a permanent node with the socket-buffer limit.
    sy.kernelNode([CTL_KERN, KERN_SYSVIPC], { type: CTLTYPE_NODE, name: 'ipc' });
    sy.kernelNode([CTL_KERN, KERN_SYSVIPC, 20], { type: CTLTYPE_INT, name: 'maxsockbuf', flags: RW | CTLFLAG_IMMEDIATE, qv: 262144 });
    leaf(KERN_BOOTTIME, 'boottime', CTLTYPE_STRUCT, { data: this.g.boottime, size: this.nb.size('struct timespec') });
    leaf(KERN_EVCNT, 'evcnt', CTLTYPE_STRUCT, { func: this.FN.sysctl_kern_evcnt, size: 0 });
    leaf(KERN_SOFIXEDBUF, 'sofixedbuf', CTLTYPE_BOOL, { flags: RW, data: this.g.sofixedbuf });
    const mod = sy.kernelNode([CTL_KERN, CTL_CREATE], { type: CTLTYPE_NODE, name: 'module' });
    const modNum = sy.num(mod);
    sy.kernelNode([CTL_KERN, modNum, CTL_CREATE], { type: CTLTYPE_BOOL, name: 'autoload', flags: RW, data: this.modules.g.module_autoload_on });
    sy.kernelNode([CTL_KERN, modNum, CTL_CREATE], { type: CTLTYPE_INT, name: 'verbose', flags: RW, data: this.modules.g.module_verbose_on });
    sy.kernelNode([CTL_KERN, modNum, CTL_CREATE], { type: CTLTYPE_INT, name: 'autotime', flags: RW, data: this.modules.g.module_autotime });
    const nb = this.nb;
    const rd = (node: number) => nb.mem.loadI32(nb.mem.loadPtr(node + sy.offset('sysctl_data')));
    nb.registerImpl(this.FN.sysctl_kern_maxvnodes, rd);
    nb.registerImpl(this.FN.sysctl_kern_maxproc, rd);
    nb.registerImpl(this.FN.sysctl_kern_clockrate, () => 100);
    nb.registerImpl(this.FN.sysctl_kern_evcnt, () => 0);
  }

  /* -------------------------------------------------- hooks for modules */

  setEmulHooks(exec: number, exit: number): void {
    this.nb.mem.storePtr(this.g.emul_exec_hook, exec);
    this.nb.mem.storePtr(this.g.emul_exit_hook, exit);
  }

  /** Queue a message (its first word links the queue). */
  mqPush(m: number): void {
    const mem = this.nb.mem;
    mem.storePtr(m, mem.loadPtr(this.g.mq_msgq));
    mem.storePtr(this.g.mq_msgq, m);
  }

  mqPop(): number {
    const mem = this.nb.mem;
    const m = mem.loadPtr(this.g.mq_msgq);
    if (m !== 0) mem.storePtr(this.g.mq_msgq, mem.loadPtr(m));
    return m;
  }

  /* ------------------------------------------------------- processes */

  private cacheGet(name: string): number {
    const p = this.kpool.get(name)!;
    return p.pc !== 0 ? this.pools.cacheGet(p.pc, PR_WAITOK) : this.pools.get(p.pp, PR_WAITOK);
  }

  private cachePut(name: string, v: number): void {
    const p = this.kpool.get(name)!;
    if (p.pc !== 0) this.pools.cachePut(p.pc, v);
    else this.pools.put(p.pp, v);
  }

  /** fork + execve of an image of `format`; returns the proc, or 0 on ENOEXEC. */
  spawn(format: string, anonPages = 16): number {
    const nb = this.nb;
    const mem = nb.mem;
    const k = this.k;
    k.enter(this.FN.fork1 + 0x1c4);
    const p = this.cacheGet('proc');
    mem.storePtr(p + PROC_LWP, this.cacheGet('lwppl'));
    mem.storePtr(p + PROC_VMSPACE, this.cacheGet('vmsppl'));
    mem.storePtr(p + PROC_FILE, this.cacheGet('filepl'));
    mem.storePtr(p + PROC_NAMEI, this.cacheGet('namecache'));
    mem.storePtr(p + PROC_EMUL, 0);
    // link on allproc
    const head = this.g.allproc;
    const first = mem.loadPtr(head);
    mem.storePtr(p + PROC_NEXT, first);
    if (first !== 0) mem.storePtr(first + PROC_PREVP, p + PROC_NEXT);
    mem.storePtr(head, p);
    mem.storePtr(p + PROC_PREVP, head);
    k.leave();
    const r = this.exec.execve(format);
    if (r.error !== 0) {
      this.reap(p);
      return 0;
    }
    mem.store32(p + PROC_FORMAT, r.proc);
    (this.procFormat ??= new Map()).set(p, format);
    if (format === 'linux') {
      const hook = mem.loadPtr(this.g.emul_exec_hook);
      if (hook !== 0) mem.storePtr(p + PROC_EMUL, nb.call(hook));
    }
    this.uvm.anon(anonPages);
    this.procAnon.set(p, anonPages);
    return p;
  }

  private procFormat: Map<number, string> | undefined;
  private readonly procAnon = new Map<number, number>();

  /** exit1() of a process returned by spawn(). */
  exit(p: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    this.k.enter(this.FN.exit1 + 0x1e8);
    const format = this.procFormat?.get(p);
    const emul = mem.loadPtr(p + PROC_EMUL);
    if (emul !== 0) {
      const hook = mem.loadPtr(this.g.emul_exit_hook);
      if (hook !== 0) nb.call(hook, emul);
    }
    if (format !== undefined) this.exec.exit(format);
    this.procFormat?.delete(p);
    this.uvm.anon(-(this.procAnon.get(p) ?? 0));
    this.procAnon.delete(p);
    this.reap(p);
    this.k.leave();
  }

  private reap(p: number): void {
    const mem = this.nb.mem;
    const next = mem.loadPtr(p + PROC_NEXT);
    const prevp = mem.loadPtr(p + PROC_PREVP);
    if (next !== 0) mem.storePtr(next + PROC_PREVP, prevp);
    mem.storePtr(prevp, next);
    this.cachePut('namecache', mem.loadPtr(p + PROC_NAMEI));
    this.cachePut('filepl', mem.loadPtr(p + PROC_FILE));
    this.cachePut('vmsppl', mem.loadPtr(p + PROC_VMSPACE));
    this.cachePut('lwppl', mem.loadPtr(p + PROC_LWP));
    this.cachePut('proc', p);
  }

  /** semget(2): autoloads sysv_ipc. */
  semget(): number {
    this.k.enter(this.FN.sys_semget + 0x2e);
    const r = this.modules.lookup('sysv_ipc') !== 0 ? 0 : this.modules.autoload('sysv_ipc', MODULE_CLASS_ANY);
    this.k.leave();
    return r;
  }

  /** sem_open(3): autoloads ksem. */
  semOpen(): number {
    this.k.enter(this.FN.sys_sem_open + 0x2e);
    const r = this.modules.lookup('ksem') !== 0 ? 0 : this.modules.autoload('ksem', MODULE_CLASS_MISC);
    this.k.leave();
    return r;
  }

  /** mq_send + mq_receive of n messages, when mqueue is loaded. */
  mqTraffic(n: number): number {
    if (this.modules.lookup('mqueue') === 0) return -1;
    const nb = this.nb;
    nb.call(this.k.addr('mq_send1'), n);
    return nb.call(this.k.addr('mq_recv1'), n);
  }

  /** `sysctl <path>` */
  sysctlRead(path: string): string[] {
    return this.sysctl.read(path);
  }
}

/** Boot the NetBSD personality on a booted system (bootSystem()). */
export function bootNetbsd(sys: SystemLike, opts: NetbsdOptions = {}): NetbsdOS {
  return new NetbsdOS(hostFromSystem(sys), opts);
}
