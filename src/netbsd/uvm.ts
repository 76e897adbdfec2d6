/*
 * A small uvm: page accounting in `uvmexp` and the pagedaemon.
 *
 * Theory
 * ------
 * uvmexp.free counts free pages: the machine's pages less those wired by
 * pools (pool_page_alloc and friends report through pagesAllocated) and
 * the anonymous pages of user processes (the workload's memory demand).
 * When free drops below freetarg the "pgdaemon" thread runs uvm_pageout()
 * once a second: each iteration drains one pool (pool_drain, which advances
 * the static drainpp cursor) and pages out a slice of anonymous memory.
 * Below freemin the pagedaemon kicks the modunload thread, which then
 * tries to unload every auto-loaded module, as kern_module.c does under
 * memory pressure (the kick is ours: it stands for whatever wakes that
 * thread while the system is short of memory).
 */

import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import type { NetbsdKern } from './kern.js';
import type { Pools } from './pool.js';

export const UVM_FUNCTIONS = {
  uvm_pageout: 0x600,
  uvm_kick_pdaemon: 0x40,
  uvmpd_scan: 0x300,
} as const;

/** The fields of struct uvmexp this file uses. */
const UVMEXP_FIELDS = ['pagesize', 'npages', 'free', 'freemin', 'freetarg', 'wired', 'anonpages', 'pdwoke', 'pdrevs', 'pdfreed'] as const;
type UvmexpField = (typeof UVMEXP_FIELDS)[number];

export class Uvm {
  readonly FN: Record<keyof typeof UVM_FUNCTIONS, number>;
  readonly g: { uvmexp: number };
  readonly thread;
  private readonly o: Offsets<UvmexpField>;
  private scheduled = false;
  /** Pages the pagedaemon frees per iteration (paging out anon memory). */
  pageoutRate = 128;
  /** Called when free < freemin (the kernel kicks the modunload thread). */
  onSeverePressure: (() => void) | undefined;

  constructor(
    private readonly nb: NetbsdKern,
    private readonly pools: Pools,
    npages: number,
  ) {
    const k = nb.k;
    this.FN = k.fns(UVM_FUNCTIONS);
    this.g = { uvmexp: k.global('uvmexp', 'struct uvmexp') };
    const T = nb.T;
    this.o = offsetsOf(T, 'struct uvmexp', UVMEXP_FIELDS);
    const mem = nb.mem;
    const u = this.g.uvmexp;
    mem.store32(u + this.o.pagesize, k.pageSize);
    mem.store32(u + this.o.npages, npages);
    mem.store32(u + this.o.free, npages);
    mem.store32(u + this.o.freemin, Math.max(16, Math.floor(npages / 32)));
    mem.store32(u + this.o.freetarg, Math.max(24, Math.floor(npages / 24)));
    this.thread = k.createThread('pgdaemon', undefined, { start: 'uvm_pageout' });
    k.calloutFunc(this.FN.uvm_pageout, () => this.pageout());
    nb.uvm = this;
  }

  private get(f: UvmexpField): number {
    return this.nb.mem.loadI32(this.g.uvmexp + this.o[f]);
  }

  private set(f: UvmexpField, v: number): void {
    this.nb.mem.store32(this.g.uvmexp + this.o[f], v);
  }

  get free(): number {
    return this.get('free');
  }

  get freemin(): number {
    return this.get('freemin');
  }

  get freetarg(): number {
    return this.get('freetarg');
  }

  underPressure(): boolean {
    return this.get('free') < this.get('freemin');
  }

  /** Pool pages wired (+) or released (-). */
  pagesAllocated(n: number): void {
    this.set('wired', this.get('wired') + n);
    this.set('free', this.get('free') - n);
    if (n > 0) this.kick();
  }

  /** User processes fault in (+) or release (-) anonymous pages. */
  anon(n: number): void {
    const cur = this.get('anonpages');
    const d = n < 0 ? Math.max(n, -cur) : n;
    this.set('anonpages', cur + d);
    this.set('free', this.get('free') - d);
    if (d > 0) this.kick();
  }

  /** uvm_kick_pdaemon(): wake the pagedaemon if free is below target. */
  kick(): void {
    if (this.scheduled || this.get('free') >= this.get('freetarg')) return;
    this.scheduled = true;
    this.nb.k.timeout(this.thread, 250e6, this.FN.uvm_pageout);
  }

  /** One iteration of uvm_pageout(). */
  private pageout(): void {
    const nb = this.nb;
    const k = nb.k;
    this.scheduled = false;
    if (this.get('free') >= this.get('freetarg')) return;
    k.guard(() => {
      k.enter(this.FN.uvm_pageout + 0x45f);
      this.set('pdwoke', this.get('pdwoke') + 1);
      if (this.underPressure()) this.onSeverePressure?.();
      // Drain the pools: pool_drain() reclaims one pool per call.
      const freed = this.pools.drain();
      this.set('pdfreed', this.get('pdfreed') + freed);
      k.site(this.FN.uvm_pageout + 0x4b2);
      // Page out anonymous memory.
      k.enter(this.FN.uvmpd_scan + 0x9a);
      const out = Math.min(this.get('anonpages'), this.pageoutRate);
      this.set('anonpages', this.get('anonpages') - out);
      this.set('free', this.get('free') + out);
      this.set('pdrevs', this.get('pdrevs') + 1);
      k.leave();
      k.leave();
    });
    if (this.get('free') < this.get('freetarg')) {
      this.scheduled = true;
      k.timeout(this.thread, 1e9, this.FN.uvm_pageout);
    }
  }
}
