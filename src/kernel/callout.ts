/*
 * Callouts: timeout(9F), the clock's deferred calls, kept in callout
 * tables in simulated memory as illumos keeps them (sys/callo.h,
 * os/callout.c), so a dump says what was pending and mdb's ::callout
 * lists it.
 *
 * Theory
 * ------
 * A callout is a function and an argument to call at an expiration time
 * (hrtime, ns).  The function is a kernel text address: a symbol whose
 * JavaScript implementation was registered with `register(func, impl)`.
 * The clock dispatches by looking the address up, so nothing about a
 * pending callout lives outside memory but the code it will run.
 *
 * Tables.  callout_init() makes CALLOUT_NTYPES tables per CPU (realtime,
 * normal), indexed `seqid << CALLOUT_TYPE_BITS | type` in the array that
 * `callout_table` points to.  timeout() queues on the normal table of the
 * CPU of the thread that will run the callout.  In a table:
 *   - callouts that expire at the same time share a callout_list_t, found
 *     through the list hash (ct_clhash, CALLOUT_CLHASH of the expiration);
 *     callouts are appended to their list (c_clnext/c_clprev);
 *   - every callout is also on the ID hash (ct_idhash, by its ID);
 *   - every list that waits is on the expiration heap (ct_heap, a binary
 *     min-heap of {expiration, list}, grown by CALLOUT_CHUNK entries);
 *   - free callouts and lists are kept on ct_free / ct_lfree (never given
 *     back to kmem), with CALLOUT_ID_FREE / CALLOUT_LIST_FLAG_FREE set;
 *   - the kstats (ct_kstat_data) count timeouts, pending ones,
 *     expirations and allocations.
 * Expirations have 1 ns resolution (CALLOUT_LIST_FLAG_NANO): nothing is
 * rounded to a tick.
 *
 * Expiry.  advance() (the clock) takes the heap top of the table whose top
 * expires first (the lowest table index among equals), moves its list to
 * ct_expired and runs its callouts in order, each marked
 * CALLOUT_EXECUTING while it runs and freed after.  A panic inside a
 * callout leaves it on the expired list, marked executing.
 *
 * Simplifications (docs/genunix.md): no cyclic subsystem (ct_cyclic holds
 * 1 for a table the clock serves, CYCLIC_NONE 0 for none); no callout
 * threads or taskq (ct_taskq is NULL): a callout runs on the thread that
 * armed it, recorded in c_executor from timeout() on, so the stack that
 * shows the callout is that thread's; no untimeout(); IDs never wrap, so
 * the generation is 0.
 *
 * Before callout_init (vmem's first vmem_update is armed by vmem_init,
 * before kmem can give the tables memory), and always for a process
 * (libumem's setting, where the tables do not exist), callouts wait in a
 * host queue of the same words (expiration, function address, argument,
 * thread) in arming order; callout_init moves the kernel's into the
 * tables.
 */

import type { Kernel, KThread } from './kernel.js';
import {
  CALLOUT_ALLOCATIONS,
  CALLOUT_BUCKETS,
  CALLOUT_COUNTER_HIGH,
  CALLOUT_EXECUTING_HI,
  CALLOUT_EXPIRATIONS,
  CALLOUT_ID_FREE_HI,
  CALLOUT_KSTAT_NAMES,
  CALLOUT_LIST_FLAG_FREE,
  CALLOUT_LIST_FLAG_HEAPED,
  CALLOUT_LIST_FLAG_NANO,
  CALLOUT_LONGTERM,
  CALLOUT_LONGTERM_TICKS,
  CALLOUT_NORMAL,
  CALLOUT_NTYPES,
  CALLOUT_NUM_STATS,
  CALLOUT_TIMEOUTS,
  CALLOUT_TIMEOUTS_PENDING,
  CALLOUT_TYPE_BITS,
  KSTAT_DATA_UINT64,
  calloutClhash,
  calloutIdhash,
  declareCalloutTypes,
} from '../abi/callout.js';

/** The JavaScript body of a kernel function that callouts call. */
export type CalloutFunc = (arg: number) => void;

/** The memory callout_init takes from kmem (the layer above hands it in). */
export interface CalloutMemory {
  /** kmem_cache_alloc from callout_cache0 (a callout_t). */
  allocCallout(): number;
  /** kmem_cache_alloc from callout_lcache0 (a callout_list_t). */
  allocList(): number;
  /** Addresses of the two caches (ct_cache, ct_lcache). */
  readonly cache: number;
  readonly lcache: number;
  /** kmem_zalloc / kmem_free. */
  zalloc(size: number): number;
  free(addr: number, size: number): void;
}

/** A callout waiting in the host queue (see the theory statement). */
interface QueuedCallout {
  when: number;
  thread: KThread;
  func: number;
  arg: number;
}

/** Byte offsets of the callout structures' members. */
interface CalloutOffsets {
  c_idnext: number;
  c_idprev: number;
  c_clnext: number;
  c_clprev: number;
  c_xid: number;
  c_list: number;
  c_func: number;
  c_arg: number;
  c_executor: number;
  c_done: number;
  c_waiting: number;
  cl_next: number;
  cl_prev: number;
  cl_expiration: number;
  cl_head: number;
  cl_tail: number;
  cl_flags: number;
  ch_size: number;
  heap_size: number;
  hp_list: number;
  ct_size: number;
  ct_free: number;
  ct_lfree: number;
  ct_short_id: number;
  ct_long_id: number;
  ct_idhash: number;
  ct_clhash: number;
  ct_kstat_data: number;
  ct_type: number;
  ct_cyclic: number;
  ct_heap: number;
  ct_heap_num: number;
  ct_heap_max: number;
  ct_cache: number;
  ct_lcache: number;
  ct_expired: number;
  ct_qcyclic: number;
  ks_size: number;
  ks_data_type: number;
  ks_value: number;
}

/** One heap's growth step: a page of callout_heap_t (CALLOUT_CHUNK). */
function calloutChunk(k: Kernel, heapEntrySize: number): number {
  return Math.floor(k.pageSize / heapEntrySize);
}

/** Hz of the simulated clock (the `hz` global). */
const HZ = 100;
const NSEC_PER_TICK = 1e9 / HZ;

export class Callouts {
  private readonly impls = new Map<number, CalloutFunc>();
  private queue: QueuedCallout[] = [];
  private memory: CalloutMemory | undefined;
  private o!: CalloutOffsets;
  /** Address of the table array (0 before callout_init). */
  private tables = 0;
  private ntables = 0;
  private tableBits = 0;
  private hrtimeLast = 0;
  /** The earliest expiration in the tables (Infinity: none), so that an idle tick reads no memory. */
  private nextExpiry = Infinity;

  constructor(private readonly k: Kernel) {}

  /** Make `impl` the body of the kernel function at text address func. */
  register(func: number, impl: CalloutFunc): void {
    this.impls.set(func, impl);
  }

  /** timeout(): call func(arg) on thread t once delayNs have passed. */
  timeout(t: KThread, delayNs: number, func: number, arg: number): void {
    if (!this.impls.has(func)) throw new Error(`timeout: no callout function registered at ${this.k.symbolize(func)}`);
    const when = this.k.hrtime + delayNs;
    if (this.tables === 0) {
      this.queue.push({ when, thread: t, func, arg });
      return;
    }
    this.arm(t, when, delayNs, func, arg);
  }

  /** Callouts not yet run. */
  pending(): number {
    let n = this.queue.length;
    for (let i = 0; i < this.ntables; i++) n += this.kstat(this.table(i), CALLOUT_TIMEOUTS_PENDING);
    return n;
  }

  /* ------------------------------------------------------------ init */

  /**
   * callout_init: the globals mdb reads (callout_table, callout_table_bits,
   * max_ncpus, nsec_per_tick, hrtime_last), the tables of every CPU, and
   * the callouts armed so far moved into them.
   */
  init(memory: CalloutMemory): void {
    const k = this.k;
    if (this.tables !== 0) throw new Error('callout_init: already done');
    declareCalloutTypes(k.types);
    this.memory = memory;
    this.o = this.offsets();
    const ncpus = k.ncpus;
    this.tableBits = CALLOUT_TYPE_BITS + highbit(ncpus);
    this.ntables = CALLOUT_NTYPES * ncpus;
    const mem = k.mem;
    const gTable = k.global('callout_table', 'callout_table_t *');
    mem.store32(k.global('callout_table_bits', 'int'), this.tableBits);
    mem.store32(k.global('max_ncpus', 'int'), ncpus);
    mem.store32(k.global('nsec_per_tick', 'int'), NSEC_PER_TICK);
    this.hrtimeLast = k.global('hrtime_last', 'hrtime_t');
    this.tables = memory.zalloc(this.ntables * this.o.ct_size);
    mem.storePtr(gTable, this.tables);
    for (let i = 0; i < this.ntables; i++) this.tableInit(i);
    const boot = this.queue;
    this.queue = [];
    for (const c of boot) this.arm(c.thread, c.when, c.when - k.hrtime, c.func, c.arg);
    this.syncTime();
  }

  private offsets(): CalloutOffsets {
    const T = this.k.types;
    const co = (m: string) => T.offsetof('callout_t', m);
    const cl = (m: string) => T.offsetof('callout_list_t', m);
    const ct = (m: string) => T.offsetof('callout_table_t', m);
    return {
      c_idnext: co('c_idnext'),
      c_idprev: co('c_idprev'),
      c_clnext: co('c_clnext'),
      c_clprev: co('c_clprev'),
      c_xid: co('c_xid'),
      c_list: co('c_list'),
      c_func: co('c_func'),
      c_arg: co('c_arg'),
      c_executor: co('c_executor'),
      c_done: co('c_done'),
      c_waiting: co('c_waiting'),
      cl_next: cl('cl_next'),
      cl_prev: cl('cl_prev'),
      cl_expiration: cl('cl_expiration'),
      cl_head: cl('cl_callouts.ch_head'),
      cl_tail: cl('cl_callouts.ch_tail'),
      cl_flags: cl('cl_flags'),
      ch_size: T.size('callout_hash_t'),
      heap_size: T.size('callout_heap_t'),
      hp_list: T.offsetof('callout_heap_t', 'ch_list'),
      ct_size: T.size('callout_table_t'),
      ct_free: ct('ct_free'),
      ct_lfree: ct('ct_lfree'),
      ct_short_id: ct('ct_short_id'),
      ct_long_id: ct('ct_long_id'),
      ct_idhash: ct('ct_idhash'),
      ct_clhash: ct('ct_clhash'),
      ct_kstat_data: ct('ct_kstat_data'),
      ct_type: ct('ct_type'),
      ct_cyclic: ct('ct_cyclic'),
      ct_heap: ct('ct_heap'),
      ct_heap_num: ct('ct_heap_num'),
      ct_heap_max: ct('ct_heap_max'),
      ct_cache: ct('ct_cache'),
      ct_lcache: ct('ct_lcache'),
      ct_expired: ct('ct_expired'),
      ct_qcyclic: ct('ct_qcyclic'),
      ks_size: T.size('kstat_named_t'),
      ks_data_type: T.offsetof('kstat_named_t', 'data_type'),
      ks_value: T.offsetof('kstat_named_t', 'value'),
    };
  }

  private table(i: number): number {
    return this.tables + i * this.o.ct_size;
  }

  /** callout_cpu_online's work for one table: IDs, hashes, heap, kstats, caches. */
  private tableInit(i: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const m = this.memory!;
    const ct = this.table(i);
    mem.store32(ct + o.ct_type, i & ((1 << CALLOUT_TYPE_BITS) - 1));
    mem.store32(ct + o.ct_short_id, (i | CALLOUT_COUNTER_HIGH) >>> 0);
    mem.store32(ct + o.ct_long_id, (i | CALLOUT_COUNTER_HIGH | CALLOUT_LONGTERM) >>> 0);
    mem.storePtr(ct + o.ct_idhash, m.zalloc(CALLOUT_BUCKETS * o.ch_size));
    mem.storePtr(ct + o.ct_clhash, m.zalloc(CALLOUT_BUCKETS * o.ch_size));
    const chunk = calloutChunk(this.k, o.heap_size);
    mem.storePtr(ct + o.ct_heap, m.zalloc(chunk * o.heap_size));
    mem.storePtr(ct + o.ct_heap_max, chunk);
    mem.storePtr(ct + o.ct_cache, m.cache);
    mem.storePtr(ct + o.ct_lcache, m.lcache);
    mem.storePtr(ct + o.ct_cyclic, 1);
    mem.storePtr(ct + o.ct_qcyclic, 1);
    const ks = m.zalloc(CALLOUT_NUM_STATS * o.ks_size);
    CALLOUT_KSTAT_NAMES.forEach((name, s) => {
      this.k.writeString(ks + s * o.ks_size, name, 31);
      mem.store8(ks + s * o.ks_size + o.ks_data_type, KSTAT_DATA_UINT64);
    });
    mem.storePtr(ct + o.ct_kstat_data, ks);
  }

  /* ------------------------------------------------------------ kstats */

  private kstat(ct: number, s: number): number {
    const o = this.o;
    return this.k.mem.load64n(this.k.mem.loadPtr(ct + o.ct_kstat_data) + s * o.ks_size + o.ks_value);
  }

  private kstatAdd(ct: number, s: number, d: number): void {
    const o = this.o;
    const a = this.k.mem.loadPtr(ct + o.ct_kstat_data) + s * o.ks_size + o.ks_value;
    this.k.mem.store64n(a, this.k.mem.load64n(a) + d);
  }

  /* ------------------------------------------------------------ arming */

  /** timeout_generic's work on a table: an ID, a list for the expiration, the callout on both hashes. */
  private arm(t: KThread, when: number, delayNs: number, func: number, arg: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const ct = this.table((t.cpu << CALLOUT_TYPE_BITS) | CALLOUT_NORMAL);
    const id = this.nextId(ct, delayNs >= CALLOUT_LONGTERM_TICKS * NSEC_PER_TICK);
    const cl = this.listFor(ct, when);
    const cp = this.calloutAlloc(ct);
    mem.store32(cp + o.c_xid, id);
    mem.store32(cp + o.c_xid + 4, 0);
    mem.storePtr(cp + o.c_list, cl);
    mem.storePtr(cp + o.c_func, func);
    mem.storePtr(cp + o.c_arg, arg);
    mem.storePtr(cp + o.c_executor, t.addr);
    this.append(cl + o.cl_head, cp, o.c_clnext, o.c_clprev);
    if (when < this.nextExpiry) this.nextExpiry = when;
    const bucket = calloutIdhash(id, this.tableBits);
    this.append(mem.loadPtr(ct + o.ct_idhash) + bucket * o.ch_size, cp, o.c_idnext, o.c_idprev);
    this.kstatAdd(ct, CALLOUT_TIMEOUTS, 1);
    this.kstatAdd(ct, CALLOUT_TIMEOUTS_PENDING, 1);
  }

  /** The next short- or long-term ID of a table: its counter counts down, CALLOUT_COUNTER_HIGH kept set. */
  private nextId(ct: number, longTerm: boolean): number {
    const mem = this.k.mem;
    const at = ct + (longTerm ? this.o.ct_long_id : this.o.ct_short_id);
    const id = ((mem.load32(at) - (1 << this.tableBits)) | CALLOUT_COUNTER_HIGH) >>> 0;
    mem.store32(at, id);
    return id;
  }

  /** A free callout_t of the table, or a new one from callout_cache0. */
  private calloutAlloc(ct: number): number {
    const o = this.o;
    const mem = this.k.mem;
    const free = mem.loadPtr(ct + o.ct_free);
    if (free !== 0) {
      mem.storePtr(ct + o.ct_free, mem.loadPtr(free + o.c_idnext));
      mem.storePtr(free + o.c_idnext, 0);
      return free;
    }
    this.kstatAdd(ct, CALLOUT_ALLOCATIONS, 1);
    const cp = this.memory!.allocCallout();
    mem.store16(cp + this.o.c_done, 0);
    mem.store16(cp + this.o.c_waiting, 0);
    return cp;
  }

  /** The list of callouts expiring at `when`: found on the list hash, or a new one put on it and on the heap. */
  private listFor(ct: number, when: number): number {
    const o = this.o;
    const mem = this.k.mem;
    const bucket = mem.loadPtr(ct + o.ct_clhash) + calloutClhash(when) * o.ch_size;
    for (let cl = mem.loadPtr(bucket); cl !== 0; cl = mem.loadPtr(cl + o.cl_next)) {
      if (mem.load64n(cl + o.cl_expiration) === when) return cl;
    }
    let cl = mem.loadPtr(ct + o.ct_lfree);
    if (cl !== 0) mem.storePtr(ct + o.ct_lfree, mem.loadPtr(cl + o.cl_next));
    else cl = this.memory!.allocList();
    mem.storePtr(cl + o.cl_next, 0);
    mem.storePtr(cl + o.cl_prev, 0);
    mem.storePtr(cl + o.cl_head, 0);
    mem.storePtr(cl + o.cl_tail, 0);
    mem.store64n(cl + o.cl_expiration, when);
    mem.store32(cl + o.cl_flags, CALLOUT_LIST_FLAG_NANO | CALLOUT_LIST_FLAG_HEAPED);
    this.append(bucket, cl, o.cl_next, o.cl_prev);
    this.heapInsert(ct, when, cl);
    return cl;
  }

  /** Append x to the doubly linked queue whose callout_hash_t is at h (links at offsets next/prev). */
  private append(h: number, x: number, next: number, prev: number): void {
    const mem = this.k.mem;
    const P = this.k.model.ptrSize;
    const tail = mem.loadPtr(h + P);
    mem.storePtr(x + next, 0);
    mem.storePtr(x + prev, tail);
    if (tail === 0) mem.storePtr(h, x);
    else mem.storePtr(tail + next, x);
    mem.storePtr(h + P, x);
  }

  /** Unlink x from the queue at h. */
  private unlink(h: number, x: number, next: number, prev: number): void {
    const mem = this.k.mem;
    const P = this.k.model.ptrSize;
    const n = mem.loadPtr(x + next);
    const p = mem.loadPtr(x + prev);
    if (p === 0) mem.storePtr(h, n);
    else mem.storePtr(p + next, n);
    if (n === 0) mem.storePtr(h + P, p);
    else mem.storePtr(n + prev, p);
    mem.storePtr(x + next, 0);
    mem.storePtr(x + prev, 0);
  }

  /* -------------------------------------------------------------- heap */

  private heapEntry(ct: number, i: number): number {
    return this.k.mem.loadPtr(ct + this.o.ct_heap) + i * this.o.heap_size;
  }

  private heapInsert(ct: number, when: number, cl: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const num = mem.loadPtr(ct + o.ct_heap_num);
    if (num === mem.loadPtr(ct + o.ct_heap_max)) this.heapExpand(ct, num);
    let i = num;
    // sift up: move larger parents down into the hole
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pe = this.heapEntry(ct, parent);
      if (mem.load64n(pe) <= when) break;
      this.heapCopy(ct, parent, i);
      i = parent;
    }
    const e = this.heapEntry(ct, i);
    mem.store64n(e, when);
    mem.storePtr(e + o.hp_list, cl);
    mem.storePtr(ct + o.ct_heap_num, num + 1);
  }

  /** A full heap grows by CALLOUT_CHUNK entries (kmem_zalloc a larger one, copy, free the old). */
  private heapExpand(ct: number, num: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const m = this.memory!;
    const max = num + calloutChunk(this.k, o.heap_size);
    const old = mem.loadPtr(ct + o.ct_heap);
    const heap = m.zalloc(max * o.heap_size);
    mem.write(heap, mem.read(old, num * o.heap_size));
    m.free(old, num * o.heap_size);
    mem.storePtr(ct + o.ct_heap, heap);
    mem.storePtr(ct + o.ct_heap_max, max);
  }

  private heapCopy(ct: number, from: number, to: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const f = this.heapEntry(ct, from);
    const t = this.heapEntry(ct, to);
    mem.store64n(t, mem.load64n(f));
    mem.storePtr(t + o.hp_list, mem.loadPtr(f + o.hp_list));
  }

  /** Remove the heap's top entry (the caller has read it). */
  private heapRemoveTop(ct: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const num = mem.loadPtr(ct + o.ct_heap_num) - 1;
    mem.storePtr(ct + o.ct_heap_num, num);
    if (num === 0) return;
    const last = this.heapEntry(ct, num);
    const when = mem.load64n(last);
    const cl = mem.loadPtr(last + o.hp_list);
    let i = 0;
    // sift down: move smaller children up into the hole
    for (;;) {
      let c = 2 * i + 1;
      if (c >= num) break;
      if (c + 1 < num && mem.load64n(this.heapEntry(ct, c + 1)) < mem.load64n(this.heapEntry(ct, c))) c++;
      if (mem.load64n(this.heapEntry(ct, c)) >= when) break;
      this.heapCopy(ct, c, i);
      i = c;
    }
    const e = this.heapEntry(ct, i);
    mem.store64n(e, when);
    mem.storePtr(e + o.hp_list, cl);
  }

  /* ------------------------------------------------------------ expiry */

  /** Run every callout that expires at or before `target`, earliest first; the clock follows them. */
  runDue(target: number): void {
    for (;;) {
      if (this.tables === 0) {
        const i = this.earliestQueued(target);
        if (i < 0) break;
        const c = this.queue.splice(i, 1)[0]!;
        this.runOne(c.when, c.thread, c.func, c.arg);
        continue;
      }
      if (target < this.nextExpiry) break;
      const ct = this.earliestTable(target);
      if (ct === 0) break;
      this.expireList(ct);
      this.nextExpiry = this.earliestExpiry();
    }
  }

  /** Index of the host queue's earliest callout due by target (the first armed among equals), or -1. */
  private earliestQueued(target: number): number {
    let best = -1;
    for (let i = 0; i < this.queue.length; i++) {
      const w = this.queue[i]!.when;
      if (w <= target && (best < 0 || w < this.queue[best]!.when)) best = i;
    }
    return best;
  }

  /** The table whose heap top expires first, by target (0: none). */
  private earliestTable(target: number): number {
    const o = this.o;
    const mem = this.k.mem;
    let best = 0;
    let bestWhen = target;
    for (let i = 0; i < this.ntables; i++) {
      const ct = this.table(i);
      if (mem.loadPtr(ct + o.ct_heap_num) === 0) continue;
      const w = mem.load64n(this.heapEntry(ct, 0));
      if (w < bestWhen || (w === bestWhen && best === 0)) {
        best = ct;
        bestWhen = w;
      }
    }
    return best;
  }

  /** The earliest heap top of all tables (Infinity: none). */
  private earliestExpiry(): number {
    const mem = this.k.mem;
    let w = Infinity;
    for (let i = 0; i < this.ntables; i++) {
      const ct = this.table(i);
      if (mem.loadPtr(ct + this.o.ct_heap_num) !== 0) w = Math.min(w, mem.load64n(this.heapEntry(ct, 0)));
    }
    return w;
  }

  /** Take the table's earliest list off the heap and the list hash, onto ct_expired; run its callouts; free it. */
  private expireList(ct: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const top = this.heapEntry(ct, 0);
    const when = mem.load64n(top);
    const cl = mem.loadPtr(top + o.hp_list);
    this.heapRemoveTop(ct);
    this.unlink(mem.loadPtr(ct + o.ct_clhash) + calloutClhash(when) * o.ch_size, cl, o.cl_next, o.cl_prev);
    mem.store32(cl + o.cl_flags, mem.load32(cl + o.cl_flags) & ~CALLOUT_LIST_FLAG_HEAPED);
    this.append(ct + o.ct_expired, cl, o.cl_next, o.cl_prev);
    for (let cp = mem.loadPtr(cl + o.cl_head); cp !== 0; cp = mem.loadPtr(cl + o.cl_head)) this.expire(ct, cl, cp, when);
    this.unlink(ct + o.ct_expired, cl, o.cl_next, o.cl_prev);
    mem.store32(cl + o.cl_flags, CALLOUT_LIST_FLAG_FREE);
    mem.storePtr(cl + o.cl_next, mem.loadPtr(ct + o.ct_lfree));
    mem.storePtr(ct + o.ct_lfree, cl);
  }

  /** Run one callout of an expired list (marked executing meanwhile), then free it. */
  private expire(ct: number, cl: number, cp: number, when: number): void {
    const o = this.o;
    const mem = this.k.mem;
    const k = this.k;
    const hi = cp + o.c_xid + 4;
    mem.store32(hi, CALLOUT_EXECUTING_HI);
    this.kstatAdd(ct, CALLOUT_TIMEOUTS_PENDING, -1);
    this.kstatAdd(ct, CALLOUT_EXPIRATIONS, 1);
    const t = k.threadAt(mem.loadPtr(cp + o.c_executor));
    if (!t) throw new Error(`callout: no thread at ${k.symbolize(mem.loadPtr(cp + o.c_executor))}`);
    this.runOne(when, t, mem.loadPtr(cp + o.c_func), mem.loadPtr(cp + o.c_arg));
    this.unlink(cl + o.cl_head, cp, o.c_clnext, o.c_clprev);
    const bucket = calloutIdhash(mem.load32(cp + o.c_xid), this.tableBits);
    this.unlink(mem.loadPtr(ct + o.ct_idhash) + bucket * o.ch_size, cp, o.c_idnext, o.c_idprev);
    mem.store32(hi, CALLOUT_ID_FREE_HI);
    mem.storePtr(cp + o.c_list, 0);
    mem.storePtr(cp + o.c_idnext, mem.loadPtr(ct + o.ct_free));
    mem.storePtr(ct + o.ct_free, cp);
  }

  /** The clock reaches `when` and the function found at func runs with arg on thread t. */
  private runOne(when: number, t: KThread, func: number, arg: number): void {
    const k = this.k;
    if (when > k.hrtime) k.hrtime = when;
    this.syncTime();
    const impl = this.impls.get(func)!;
    k.runAs(t, () => impl(arg));
  }

  /** hrtime_last: the time mdb takes for now. */
  syncTime(): void {
    if (this.hrtimeLast !== 0) this.k.mem.store64n(this.hrtimeLast, this.k.hrtime);
  }
}

/** Bits to hold n (illumos highbit: 1-based index of the highest set bit). */
function highbit(n: number): number {
  return n === 0 ? 0 : 32 - Math.clz32(n);
}
