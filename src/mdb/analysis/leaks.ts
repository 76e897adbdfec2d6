/*
 * findLeaks: conservative garbage collection over a kernel image, as
 * illumos ::findleaks does (leaky.c, leaky_subr.c; spec §6.12).
 *
 * Theory
 * ------
 * 1. The buffer table holds every *allocated* buffer that a client could
 *    leak: the allocated buffers of the caches whose slabs come from the
 *    kmem_default, kmem_firewall or static arenas (metadata caches, quantum
 *    caches and the like are not client memory), and the allocated segments
 *    of the kmem_oversize and static_alloc vmem arenas.  Each entry is
 *    [base, limit) with a control address: the bufctl for audited caches
 *    (TYPE_KMEM), the cache for the others (TYPE_CACHE), the vmem_seg for
 *    oversize allocations (TYPE_VMEM).  The table is sorted by base; an
 *    overlap means the walks disagree, and is reported.
 * 2. Roots are scanned: the kernel's data (every object symbol of the
 *    kernel), loaded modules' data, every thread's stack and kthread_t, and the contents
 *    of free constructed buffers sitting in magazines.  Every pointer-aligned
 *    word that falls inside a table entry (interior pointers count) marks
 *    that entry, which is then scanned in turn (an explicit stack: no
 *    recursion).  A word is first dismissed if it is outside [min, max) of
 *    the table (compared on its high 32 bits first, so that most words cost
 *    one integer compare); otherwise a page-granular index narrows the
 *    binary search to the entries overlapping that page.
 * 3. Every entry left unmarked is a leak.  Leaks are coalesced by (type,
 *    cache, stack): audited buffers by their allocation stack (the top
 *    kmem_cache_alloc frame ignored), unaudited ones by cache (and, for
 *    KMF_LITE caches, the last caller), oversize segments by their stack.
 *    The representative of a group is its *oldest* member.
 *
 * Nothing is written to the target.  Memory is read through `Target.bytes`
 * windows as Uint32Array halves: no BigInt, no object per word.
 */

import type { Target } from '../../target/target.js';
import { TWO32, hex } from '../../machine/addr.js';
import { rd } from './fields.js';
import { KmemView, type CacheInfo, type WarnFn } from './kmem-view.js';
import { KMF_AUDIT, KMF_HASH, KMF_LITE } from '../../abi/kmem-impl.js';
import { VmemView } from './vmem-view.js';
import { VMEM_ALLOC } from '../../abi/vmem-impl.js';
import { WindowReader, type Window } from './scan.js';

export const TYPE_VMEM = 0;
export const TYPE_CACHE = 1;
export const TYPE_KMEM = 2;
export type LeakType = 0 | 1 | 2;

export interface LeakMember {
  /** bufctl (KMEM), cache (CACHE) or vmem_seg (VMEM). */
  readonly ctl: number;
  readonly buf: number;
  readonly size: number;
  readonly timestamp: number;
}

export interface LeakGroup {
  readonly type: LeakType;
  /** Cache address (KMEM, CACHE) or arena (VMEM). */
  readonly cache: number;
  readonly cacheName: string;
  /** The representative (oldest) member. */
  readonly rep: LeakMember;
  readonly members: readonly LeakMember[];
  readonly count: number;
  readonly bytes: number;
  readonly minSize: number;
  readonly maxSize: number;
  /** First frame not in kmem_/vmem_ (0 if unknown). */
  readonly caller: number;
  readonly stack: readonly number[];
}

export interface LeakStats {
  maxBuffers: number;
  buffers: number;
  potentialPointers: number;
  dismissals: number;
  misses: number;
  dups: number;
  follows: number;
  elapsedMs: number;
  /** CPU time of the run (0 where the host cannot tell). */
  cpuMs: number;
  /** Memory the run's tables take (buffer table, scan stack, leak records), in bytes; an estimate. */
  peakBytes: number;
}

/** Process CPU time in ms, where the host provides it. */
function cpuNow(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p || typeof p.cpuUsage !== 'function') return 0;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface LeakReport {
  readonly groups: LeakGroup[];
  readonly stats: LeakStats;
  readonly warnings: string[];
}

/* (umem_*: a process heap's arenas, libumem's names for the same roles) */
const LEAK_ARENAS = new Set(['kmem_default', 'kmem_firewall', 'static', 'umem_default', 'umem_firewall']);
const VMEM_LEAK_ARENAS = ['kmem_oversize', 'static_alloc', 'umem_oversize', 'umem_memalign'];
/**
 * vmem's static pools of segments and arenas (vmem.c's vmem_seg0 and vmem0)
 * lie in the data segment but hold boundary tags, not references: a buffer
 * is not reachable because vmem describes it.  They are not scanned as
 * roots.  (A kernel uses them up at boot; a small process heap's spans and
 * oversize allocations are all described there.)
 */
const VMEM_STATIC_POOLS = new Set(['vmem_seg0', 'vmem0']);

/** A process heap's malloc layer: frames of the allocator, not of its caller. */
const MALLOC_LAYER = new Set(['malloc', 'calloc', 'realloc', 'free', 'memalign', 'process_free', 'malloc_usable_size', 'umem_err_recoverable']);
const EXCLUDED_CACHES = new Set(['sfmmu1_cache', 'sf_hment_cache', 'pa_hment_cache']);

interface Table {
  n: number;
  base: Float64Array;
  limit: Float64Array;
  ctl: Float64Array;
  type: Uint8Array;
  owner: Float64Array; // cache or arena
}

function buildTable(kv: KmemView, vv: VmemView, warn: WarnFn, magBufs: Array<{ buf: number; size: number; lite: boolean; ci: CacheInfo }>): Table {
  const bases: number[] = [];
  const limits: number[] = [];
  const ctls: number[] = [];
  const types: number[] = [];
  const owners: number[] = [];
  const arenaNames = new Map<number, string>();
  const arenaName = (a: number) => {
    let s = arenaNames.get(a);
    if (s === undefined) {
      try {
        s = vv.arena(a).name;
      } catch {
        s = '';
      }
      arenaNames.set(a, s);
    }
    return s;
  };
  for (const c of kv.caches()) {
    let ci: CacheInfo;
    try {
      ci = kv.cache(c);
    } catch {
      warn(`failed to read cache ${hex(c)}`);
      continue;
    }
    if (!LEAK_ARENAS.has(arenaName(ci.arena)) || EXCLUDED_CACHES.has(ci.name)) continue;
    const audit = (ci.flags & (KMF_AUDIT | KMF_HASH)) === (KMF_AUDIT | KMF_HASH);
    for (const r of kv.allocatedBuffers(ci)) {
      bases.push(r.buf);
      limits.push(r.buf + ci.bufsize);
      if (audit && r.bufctl !== 0) {
        ctls.push(r.bufctl);
        types.push(TYPE_KMEM);
      } else {
        ctls.push(c);
        types.push(TYPE_CACHE);
      }
      owners.push(c);
    }
    for (const b of kv.magazineRounds(ci)) magBufs.push({ buf: b, size: ci.bufsize, lite: (ci.flags & KMF_LITE) !== 0, ci });
  }
  for (const name of VMEM_LEAK_ARENAS) {
    const a = vv.arenaByName(name);
    if (a === undefined) continue;
    for (const s of vv.segsOfType(a, VMEM_ALLOC)) {
      if (s.end <= s.start) continue;
      bases.push(s.start);
      limits.push(s.end);
      ctls.push(s.addr);
      types.push(TYPE_VMEM);
      owners.push(a);
    }
  }
  const n = bases.length;
  const order = new Uint32Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (bases[i]! < min) min = bases[i]!;
    if (bases[i]! > max) max = bases[i]!;
  }
  if (n > 0 && n < 1 << 24 && (max - min) / 8 < 2 ** 29) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = Math.floor((bases[i]! - min) / 8) * 16777216 + i;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % 16777216;
  } else {
    const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => bases[x]! - bases[y]!);
    for (let i = 0; i < n; i++) order[i] = idx[i]!;
  }
  const T: Table = {
    n,
    base: new Float64Array(n),
    limit: new Float64Array(n),
    ctl: new Float64Array(n),
    type: new Uint8Array(n),
    owner: new Float64Array(n),
  };
  let w = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const b = bases[i]!;
    if (w > 0 && b < T.limit[w - 1]!) {
      warn(`[${hex(T.base[w - 1]!)}, ${hex(T.limit[w - 1]!)}) and [${hex(b)}, ${hex(limits[i]!)}): overlapping mtabs`);
      continue;
    }
    T.base[w] = b;
    T.limit[w] = limits[i]!;
    T.ctl[w] = ctls[i]!;
    T.type[w] = types[i]!;
    T.owner[w] = owners[i]!;
    w++;
  }
  T.n = w;
  return T;
}

/** Marking state with a page index for fast lookups. */
class Marker {
  readonly marked: Uint8Array;
  readonly stack: Int32Array;
  sp = 0;
  readonly min: number;
  readonly max: number;
  readonly minHi: number;
  readonly maxHi: number;
  readonly gran: number;
  readonly first: Int32Array;
  readonly stats: LeakStats;

  constructor(
    readonly T: Table,
    readonly ptr: number,
    stats: LeakStats,
  ) {
    const n = T.n;
    this.marked = new Uint8Array(n);
    this.stack = new Int32Array(n + 1);
    this.stats = stats;
    this.min = n ? T.base[0]! : 0;
    let mx = 0;
    for (let i = 0; i < n; i++) if (T.limit[i]! > mx || i === 0) mx = T.limit[i]!;
    this.max = mx;
    this.minHi = Math.floor(this.min / TWO32);
    this.maxHi = Math.floor((this.max - 1) / TWO32);
    const span = Math.max(this.max - this.min, 1);
    let g = 4096;
    while (span / g > 1 << 22) g *= 2;
    this.gran = g;
    const pages = Math.ceil(span / g) + 1;
    this.first = new Int32Array(pages + 1);
    let i = 0;
    for (let p = 0; p <= pages; p++) {
      const ps = this.min + p * g;
      while (i < n && T.limit[i]! <= ps) i++;
      this.first[p] = i;
    }
  }

  /** Index of the entry containing v, or -1. */
  find(v: number): number {
    const T = this.T;
    const p = Math.floor((v - this.min) / this.gran);
    let lo = this.first[p]!;
    let hi = p + 1 < this.first.length ? this.first[p + 1]! : T.n;
    if (hi >= T.n) hi = T.n - 1;
    // first index in [lo, hi] with limit > v
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (T.limit[mid]! > v) hi = mid;
      else lo = mid + 1;
    }
    if (lo < T.n && T.base[lo]! <= v && v < T.limit[lo]!) return lo;
    return -1;
  }

  /** Scan words [i0, i1) of a window. */
  scanWords(w: Window, i0: number, i1: number): void {
    const u32 = w.u32;
    const st = this.stats;
    const min = this.min;
    const max = this.max;
    st.potentialPointers += this.ptr === 8 ? (i1 - i0) >> 1 : i1 - i0;
    if (this.ptr === 8) {
      const minHi = this.minHi;
      const maxHi = this.maxHi;
      for (let i = i0; i < i1; i += 2) {
        const hi = u32[i + 1]! | 0;
        if (hi < minHi || hi > maxHi) {
          st.dismissals++;
          continue;
        }
        const v = hi * TWO32 + u32[i]!;
        if (v < min || v >= max) {
          st.dismissals++;
          continue;
        }
        this.hit(v);
      }
    } else {
      for (let i = i0; i < i1; i++) {
        const v = u32[i]!;
        if (v < min || v >= max) {
          st.dismissals++;
          continue;
        }
        this.hit(v);
      }
    }
  }

  private hit(v: number): void {
    const j = this.find(v);
    if (j < 0) {
      this.stats.misses++;
      return;
    }
    if (this.marked[j]) {
      this.stats.dups++;
      return;
    }
    this.marked[j] = 1;
    this.stats.follows++;
    this.stack[this.sp++] = j;
  }
}

/** Find leaks.  The result is plain data; ::findleaks formats it. */
export function findLeaks(t: Target, opts: { warn?: WarnFn } = {}): LeakReport {
  const t0 = Date.now();
  const c0 = cpuNow();
  const warnings: string[] = [];
  const warn: WarnFn = (m) => {
    warnings.push(m);
    opts.warn?.(m);
  };
  const kv = new KmemView(t, warn);
  const vv = new VmemView(t, warn);
  const ptr = t.model.ptrSize;
  const mags: Array<{ buf: number; size: number; lite: boolean; ci: CacheInfo }> = [];
  const T = buildTable(kv, vv, warn, mags);
  const stats: LeakStats = { maxBuffers: T.n, buffers: T.n, potentialPointers: 0, dismissals: 0, misses: 0, dups: 0, follows: 0, elapsedMs: 0, cpuMs: 0, peakBytes: 0 };
  const groups: LeakGroup[] = [];
  if (T.n === 0) {
    stats.elapsedMs = Date.now() - t0;
    stats.cpuMs = cpuNow() - c0;
    return { groups, stats, warnings };
  }
  const M = new Marker(T, ptr, stats);
  const wr = new WindowReader(t);
  const scan = (base: number, size: number) => {
    if (size <= 0) return;
    wr.forEachPiece(base, size, ptr, (w, i0, i1) => M.scanWords(w, i0, i1));
    drain();
  };
  const drain = () => {
    while (M.sp > 0) {
      const j = M.stack[--M.sp]!;
      const b = T.base[j]!;
      wr.forEachPiece(b, T.limit[j]! - b, ptr, (w, i0, i1) => M.scanWords(w, i0, i1));
    }
  };

  // Roots: kernel data (object symbols) but vmem's static boundary tags,
  // loaded modules' data and bss.
  const objs = t
    .symbols()
    .filter((s) => s.kind === 'object' && s.size > 0 && !VMEM_STATIC_POOLS.has(s.name))
    .map((s) => [s.value, s.value + s.size] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  let cur: [number, number] | undefined;
  for (const r of objs) {
    if (cur && r[0] <= cur[1]) cur[1] = Math.max(cur[1], r[1]);
    else {
      if (cur) scan(cur[0], cur[1] - cur[0]);
      cur = [r[0], r[1]];
    }
  }
  if (cur) scan(cur[0], cur[1] - cur[0]);
  for (const m of t.moduleHistory()) {
    if (m.unloadTime !== undefined) continue;
    scan(m.base + m.textSize, m.size - m.textSize);
  }
  // Thread stacks, and the thread structures (a kernel thread's lives in its segkp chunk, in no cache).
  const kthreadId = t.types.find('kthread_t');
  const kthreadSize = kthreadId === undefined ? 0 : t.types.sizeof(kthreadId);
  for (const th of t.threads()) {
    if (th.stackTop > th.stackBase) scan(th.stackBase, th.stackTop - th.stackBase);
    if (kthreadSize > 0) scan(th.addr, kthreadSize);
  }
  // Constructed buffers in magazines (and, for LITE caches, the first word saved in the redzone).
  for (const m of mags) {
    scan(m.buf, m.size);
    if (m.lite) scan(m.buf + m.ci.buftagOff + kv.L.bt_redzone, ptr);
  }
  // kstat data.
  const ks = vv.arenaByName('kstat');
  if (ks !== undefined) for (const s of vv.segsOfType(ks, VMEM_ALLOC)) scan(s.start, s.end - s.start);

  // Collect and coalesce the leaks.
  const byKey = new Map<string, { type: LeakType; cache: number; stack: number[]; members: LeakMember[] }>();
  const cacheNames = new Map<number, string>();
  const nameOf = (c: number, type: LeakType) => {
    let s = cacheNames.get(c);
    if (s === undefined) {
      try {
        s = type === TYPE_VMEM ? vv.arena(c).name : kv.cache(c).name;
      } catch {
        s = '?';
      }
      cacheNames.set(c, s);
    }
    return s;
  };
  for (let j = 0; j < T.n; j++) {
    if (M.marked[j]) continue;
    const type = T.type[j]! as LeakType;
    const ctl = T.ctl[j]!;
    const buf = T.base[j]!;
    const size = T.limit[j]! - buf;
    const owner = T.owner[j]!;
    let stack: number[] = [];
    let ts = 0;
    try {
      if (type === TYPE_KMEM) {
        const a = kv.readAudit(ctl);
        stack = [...a.stack];
        ts = a.timestamp;
        // the top frame is kmem_cache_alloc+off; illumos drops it to uniquify stacks
        if (stack.length) stack = stack.slice(1);
      } else if (type === TYPE_VMEM) {
        const s = vv.seg(ctl);
        stack = [...s.stack];
        ts = s.timestamp;
      } else {
        const ci = kv.cache(owner);
        if (ci.flags & KMF_LITE && kv.L.bt_history) {
          const pc = rd(t, buf + ci.buftagOff, kv.L.bt_history, 0);
          if (pc !== 0) stack = [pc];
        }
      }
    } catch {
      warn(`failed to read the control structure ${hex(ctl)} of leaked buffer ${hex(buf)}`);
    }
    const key = `${type}:${owner}:${stack.join(',')}`;
    let g = byKey.get(key);
    if (!g) {
      g = { type, cache: owner, stack, members: [] };
      byKey.set(key, g);
    }
    g.members.push({ ctl, buf, size, timestamp: ts });
  }
  for (const g of byKey.values()) {
    let rep = g.members[0]!;
    let bytes = 0;
    let minSize = Infinity;
    let maxSize = 0;
    for (const m of g.members) {
      if (m.timestamp < rep.timestamp) rep = m;
      bytes += m.size;
      if (m.size < minSize) minSize = m.size;
      if (m.size > maxSize) maxSize = m.size;
    }
    groups.push({
      type: g.type,
      cache: g.cache,
      cacheName: nameOf(g.cache, g.type),
      rep,
      members: g.members,
      count: g.members.length,
      bytes,
      minSize,
      maxSize,
      caller: leakCaller(t, g.stack),
      stack: g.stack,
    });
  }
  const callerName = (pc: number) => (pc ? (t.symbolByAddr(pc)?.name ?? '') : '');
  groups.sort((a, b) => {
    if (a.type !== b.type) return a.type - b.type;
    const an = callerName(a.caller);
    const bn = callerName(b.caller);
    if (an !== bn) return an < bn ? -1 : 1;
    if (a.caller !== b.caller) return a.caller - b.caller;
    // lkb_data: the representative's size (vmem), the cache (cache), 0 (kmem)
    const ad = a.type === TYPE_VMEM ? a.rep.size : a.type === TYPE_CACHE ? a.cache : 0;
    const bd = b.type === TYPE_VMEM ? b.rep.size : b.type === TYPE_CACHE ? b.cache : 0;
    return ad - bd || a.rep.ctl - b.rep.ctl;
  });
  stats.elapsedMs = Date.now() - t0;
  stats.cpuMs = cpuNow() - c0;
  // as leaky.c counts: the buffer table (base, limit, ctl per buffer), the 16 KiB scan buffer, one record per leak
  let records = 0;
  for (const g of groups) records += g.members.length * (8 * ptr + g.stack.length * ptr);
  stats.peakBytes = T.n * 3 * ptr + 16384 + records;
  return { groups, stats, warnings };
}

/**
 * The caller ::findleaks names (leaky_subr_caller): the first frame with a
 * symbol outside kmem_, vmem_ (and a process heap's umem_ and malloc layer),
 * else the last frame; 0 for no stack.
 */
export function leakCaller(t: Target, stack: readonly number[]): number {
  let pc = 0;
  for (const x of stack) {
    pc = x;
    const s = t.symbolByAddr(x);
    if (!s || s.name.startsWith('kmem_') || s.name.startsWith('vmem_') || s.name.startsWith('umem_') || MALLOC_LAYER.has(s.name)) continue;
    return x;
  }
  return pc;
}

const cached = new WeakMap<Target, LeakReport>();

/** The last findleaks result for a target (for ::walk leak), if any. */
export function cachedLeaks(t: Target): LeakReport | undefined {
  return cached.get(t);
}

/** Drop a target's cached result (its memory has changed: a live kernel ran on). */
export function forgetCachedLeaks(t: Target): void {
  cached.delete(t);
}

/** findLeaks with the result cached per target (`force` reruns). */
export function findLeaksCached(t: Target, force: boolean, warn?: WarnFn): { report: LeakReport; fromCache: boolean } {
  const c = cached.get(t);
  if (c && !force) return { report: c, fromCache: true };
  const r = findLeaks(t, { warn });
  cached.set(t, r);
  return { report: r, fromCache: false };
}
