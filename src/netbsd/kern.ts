/*
 * The NetBSD personality of the simulated kernel: shared plumbing for
 * pool(9), modules, sysctl, exec and the pagedaemon.
 *
 * Theory
 * ------
 * Every subsystem keeps its state in simulated memory (globals in the
 * kernel data segment, structures from kmem, pools or module data) in the
 * C layouts of src/abi/netbsd-sys.ts.  JavaScript holds only addresses of globals and
 * offsets of fields, so a dump holds the whole state and mdb's ::findleaks
 * finds every buffer referenced from memory.
 *
 * Function pointers.  A C function pointer stored in memory (pa_alloc,
 * mi_modcmd, sysctl_func, pr_drain_hook) is "called" with `call()`: the
 * callee's address is pushed as a frame, its first instruction byte is
 * fetched from simulated memory (so a pointer into unloaded module text
 * faults with rip == cr2 == the pointer, as on real hardware), and only then
 * is the JavaScript implementation registered for that address run.
 *
 * Panics and faults.  Simulated functions bracket themselves with
 * k.enter(pc)/k.leave() without try/finally: a PageFault unwinds to the
 * nearest k.guard() (around each workload step and each callout) with the
 * shadow stack intact, so the panic stack reads as the report's.
 *
 * Debug checks (`netbsd_debug`, a bitmask global): DEBUG-kernel assertions
 * that stop each failure at its origin.  They are tested with one flag
 * test outside the fast paths.  `netbsd_fixed` selects the corrected code.
 */

import type { Kernel } from '../kernel/kernel.js';
import type { TypeTable } from '../ctf/ctf.js';
import type { AddressSpace } from '../machine/memory.js';
import { hex } from '../machine/addr.js';
import { declareNetbsdTypes } from '../abi/netbsd-sys.js';
import { Queues } from './queue.js';
import type { NetbsdHost } from './host.js';
import { KM_SLEEP } from '../abi/kmem-impl.js';

/** pool_init: panic if the pool is already on pool_head. */
export const DEBUG_POOL_INIT = 0x1;
/** kobj_unload: panic if a pool still lives inside the chunk being unloaded. */
export const DEBUG_KOBJ_POOLS = 0x2;
/** sysctl_createv: KASSERT(pnode->sysctl_parent == snode). */
export const DEBUG_SYSCTL_PARENT = 0x4;
export const DEBUG_ALL = DEBUG_POOL_INIT | DEBUG_KOBJ_POOLS | DEBUG_SYSCTL_PARENT;

export interface NetbsdOptions {
  /** Run the corrected code (culprit destroys its pool, sysctl re-points spare slots). */
  fixed?: boolean;
  /** DEBUG-kernel checks: true for all, or a DEBUG_* mask. */
  debugChecks?: boolean | number;
  /** kern.module.verbose */
  verbose?: boolean;
}

/** A simulated function reachable through a function pointer. */
export type Impl = (a: number, b: number, c: number) => number;

/** The plumbing every NetBSD subsystem shares: globals, function-pointer calls, debug checks. */
export class NetbsdKern {
  readonly k: Kernel;
  readonly host: NetbsdHost;
  readonly mem: AddressSpace;
  readonly T: TypeTable;
  readonly P: number;
  readonly q: Queues;
  private readonly impls = new Map<number, Impl>();
  readonly g: { netbsd_debug: number; netbsd_fixed: number; time_uptime: number };
  /** The pagedaemon's page accounting, once uvm is up. */
  uvm: { pagesAllocated(n: number): void } | undefined;

  constructor(host: NetbsdHost, opts: NetbsdOptions = {}) {
    this.host = host;
    this.k = host.k;
    this.mem = host.k.mem;
    this.T = host.k.types;
    this.P = host.k.model.ptrSize;
    declareNetbsdTypes(this.T);
    this.q = new Queues(this.mem, this.P);
    this.g = {
      netbsd_debug: this.k.global('netbsd_debug', 'int'),
      netbsd_fixed: this.k.global('netbsd_fixed', 'int'),
      time_uptime: this.k.global('time_uptime', 'time_t'),
    };
    const dc = opts.debugChecks;
    this.mem.store32(this.g.netbsd_debug, dc === true ? DEBUG_ALL : typeof dc === 'number' ? dc : 0);
    this.mem.store32(this.g.netbsd_fixed, opts.fixed ? 1 : 0);
  }

  get debug(): number {
    return this.mem.load32(this.g.netbsd_debug);
  }

  get fixed(): boolean {
    return this.mem.load32(this.g.netbsd_fixed) !== 0;
  }

  /** time_second */
  get timeSecond(): number {
    return this.k.timeSecond;
  }

  /** time_uptime (seconds since boot), also kept in memory. */
  uptime(): number {
    const t = Math.floor(this.k.hrtime / 1e9);
    this.mem.store64n(this.g.time_uptime, t);
    return t;
  }

  off(type: string, path: string): number {
    return this.T.offsetof(type, path);
  }

  size(type: string): number {
    return this.T.sizeof(this.typeId(type));
  }

  /** Type id of a C type name, with trailing `*` and `[n]` handled. */
  typeId(name: string): number {
    const m = /^(.*?)\s*\[(\d+)\]$/.exec(name);
    if (m) return this.T.arrayOf(this.typeId(m[1]!), Number(m[2]));
    const p = /^(.*?)\s*\*$/.exec(name);
    if (p) return this.T.pointerTo(this.typeId(p[1]!));
    return this.T.mustFind(name.trim());
  }

  /* ------------------------------------------------------ function pointers */

  registerImpl(addr: number, fn: Impl): void {
    this.impls.set(addr, fn);
  }

  unregisterImpl(addr: number): void {
    this.impls.delete(addr);
  }

  /** Call through a function pointer held in simulated memory. */
  call(fnaddr: number, a = 0, b = 0, c = 0): number {
    const k = this.k;
    if (fnaddr === 0) {
      k.enter(0);
      this.mem.load8(0); // a NULL function pointer faults at 0
    }
    k.enter(fnaddr);
    this.mem.load8(fnaddr); // instruction fetch
    const impl = this.impls.get(fnaddr);
    if (!impl) return k.panic(`trap: illegal instruction at 0x${hex(fnaddr)} (${k.symbolize(fnaddr)})`);
    const r = impl(a, b, c);
    k.leave();
    return r;
  }

  /* ----------------------------------------------------------- memory utils */

  kmemAlloc(size: number): number {
    const a = this.host.kmem.kmemAlloc(size, KM_SLEEP);
    if (a === 0) this.k.panic(`kmem_alloc(${size}): out of memory`);
    return a;
  }

  kmemZalloc(size: number): number {
    const a = this.host.kmem.kmemZalloc(size, KM_SLEEP);
    if (a === 0) this.k.panic(`kmem_zalloc(${size}): out of memory`);
    return a;
  }

  kmemFree(a: number, size: number): void {
    this.host.kmem.kmemFree(a, size);
  }

  bzero(a: number, n: number): void {
    this.mem.fill8(a, n, 0);
  }

  /** memmove within simulated memory (overlap-safe). */
  memmove(dst: number, src: number, n: number): void {
    if (n <= 0 || dst === src) return;
    const bytes = this.mem.read(src, n).slice();
    this.mem.write(dst, bytes);
  }

  /** strcmp over two C strings in simulated memory. */
  strcmp(a: number, b: number): number {
    const m = this.mem;
    for (let i = 0; ; i++) {
      const x = m.load8(a + i);
      const y = m.load8(b + i);
      if (x !== y) return x - y;
      if (x === 0) return 0;
    }
  }

  /** strcmp of a C string in memory with a JS string. */
  strcmpJs(a: number, s: string): number {
    const m = this.mem;
    for (let i = 0; ; i++) {
      const x = m.load8(a + i);
      const y = i < s.length ? s.charCodeAt(i) : 0;
      if (x !== y) return x - y;
      if (x === 0) return 0;
    }
  }

  str(a: number, max = 256): string {
    return this.k.readString(a, max);
  }
}
