/*
 * Reading the NetBSD personality's pool(9), pool_cache(9) and module state
 * from a target: the data behind the netbsd mdb module's ::pool, ::modstat,
 * the pool_head / pa_list walkers and the module_map ::whatis handler.
 *
 * Theory
 * ------
 * Everything comes from the target's bytes, symbols and types (struct pool,
 * struct pool_allocator, struct pool_cache, struct module, struct modinfo),
 * plus the load/unload history the dump carries (Target.moduleHistory()).
 * Nothing is trusted.  The lists are TAILQs whose tqe_prev fields hold the
 * ADDRESS of the previous link, so a list can be checked link by link while
 * it is followed (`walkTailq`):
 *
 *   - the next element must be mapped, or the walk stops and says where the
 *     element would have been (for an address in a module_map range whose
 *     module has been unloaded, which module and which of its symbols);
 *   - its tqe_prev must point back at the link that led to it, or the
 *     mismatch is reported (and the walk goes on: the element is readable);
 *   - an element seen twice is a cycle: reported, and the walk stops;
 *   - at the end, the head's tqh_last must point at the last element's
 *     tqe_next (or at tqh_first for an empty list).
 * Problems are returned as data (ListProblem); the dcmds and walkers print
 * them.  Walks are bounded (MAX_ELEMENTS) whatever the memory holds.
 *
 * "Former module ranges": a module's text, data and bss are one chunk of
 * module_map, unmapped when the module unloads.  An address inside the
 * range of an unloaded module's record and inside no loaded module's range
 * is a stale pointer into freed module memory; `formerModuleAt` names the
 * module (the most recent unload covering the address) and the symbol of
 * its that covered the address, from the symbols the record kept.
 */

import type { Target, TargetModuleRecord, TargetSymbol } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { field, fieldsOf, rd, rdString, sizeOf, tryFieldsOf, type Field, type Fields } from './fields.js';

/** Longest list any walk follows. */
export const MAX_ELEMENTS = 1_000_000;

const X = (a: number): string => '0x' + hex(a);

/* ------------------------------------------------------------ time */

/** Seconds of simulated uptime for an hrtime in ns: "62.000s". */
export function fmtTime(ns: number): string {
  return `${(ns / 1e9).toFixed(3)}s`;
}

/* ------------------------------------------------------- module ranges */

export interface FormerModule {
  readonly record: TargetModuleRecord;
  /** The module's symbol that covered the address, if any. */
  readonly symbol?: TargetSymbol;
  /** addr - symbol.value (or addr - record.base without a symbol). */
  readonly offset: number;
  /** 'text' or 'data' of the former chunk. */
  readonly segment: 'text' | 'data';
}

/** The loaded module whose chunk holds addr (history records without unloadTime). */
export function loadedModuleAt(t: Target, addr: number): TargetModuleRecord | undefined {
  for (const m of t.moduleHistory()) {
    if (m.unloadTime === undefined && addr >= m.base && addr < m.base + m.size) return m;
  }
  return undefined;
}

/**
 * The unloaded module whose freed module_map chunk held addr, when no
 * loaded module holds it now.  The most recent unload wins.
 */
export function formerModuleAt(t: Target, addr: number): FormerModule | undefined {
  const hist = t.moduleHistory();
  if (loadedModuleAt(t, addr)) return undefined;
  for (let i = hist.length - 1; i >= 0; i--) {
    const m = hist[i]!;
    if (m.unloadTime === undefined || addr < m.base || addr >= m.base + m.size) continue;
    let sym: TargetSymbol | undefined;
    for (const s of m.symbols) {
      if (addr >= s.value && addr < s.value + Math.max(s.size, 1) && (!sym || s.value > sym.value)) sym = s;
    }
    return {
      record: m,
      symbol: sym,
      offset: sym ? addr - sym.value : addr - m.base,
      segment: addr < m.base + m.textSize ? 'text' : 'data',
    };
  }
  return undefined;
}

/** "culprit_pool+0x80" or "culprit+0x2bc0" for a former module address. */
export function formerSymbol(f: FormerModule): string {
  const name = f.symbol ? f.symbol.name : f.record.name;
  return f.offset === 0 ? name : `${name}+0x${hex(f.offset)}`;
}

/** Why an address cannot be read, in a few words. */
export function describeUnmapped(t: Target, addr: number): string {
  const f = formerModuleAt(t, addr);
  if (f) return `${formerSymbol(f)} in unloaded module ${f.record.name}'s former ${f.segment}, unloaded at ${fmtTime(f.record.unloadTime!)}`;
  return 'no mapping for address';
}

/* ------------------------------------------------------------- TAILQs */

export type ListProblemKind = 'unmapped' | 'backlink' | 'cycle' | 'tail' | 'limit';

export interface ListProblem {
  readonly kind: ListProblemKind;
  /** The element concerned (or the head, for 'tail'). */
  readonly elem: number;
  readonly found?: number;
  readonly expected?: number;
  /** One line, without the walker name. */
  readonly message: string;
}

export interface TailqWalk {
  /** Address of the TAILQ_HEAD (tqh_first, tqh_last), or undefined to start at `start`. */
  readonly head?: number;
  /** First element for a walk without a head (tqe_prev of the first is not checked). */
  readonly start?: number;
  /** Offset of the TAILQ_ENTRY (tqe_next, tqe_prev) inside an element. */
  readonly linkOff: number;
}

/**
 * Follow a TAILQ, validating every link (see the theory comment).  Yields
 * each readable element; problems are appended to `problems` as found.
 */
export function* walkTailq(t: Target, w: TailqWalk, problems: ListProblem[]): Generator<number> {
  const P = t.model.ptrSize;
  const seen = new Set<number>();
  let expectedPrev: number | undefined;
  let from: number;
  let elem: number;
  if (w.head !== undefined) {
    expectedPrev = w.head;
    from = w.head;
    elem = t.loadPtr(w.head);
  } else {
    from = 0;
    elem = w.start ?? 0;
  }
  let n = 0;
  let broken = false;
  while (elem !== 0) {
    const link = elem + w.linkOff;
    if (!t.isMapped(link) || !t.isMapped(link + 2 * P - 1)) {
      const via = from !== 0 ? `, pointed to by ${X(from)}` : '';
      problems.push({ kind: 'unmapped', elem, message: `element at ${X(elem)} is unmapped (${describeUnmapped(t, elem)})${via}` });
      broken = true;
      break;
    }
    if (seen.has(elem)) {
      problems.push({ kind: 'cycle', elem, message: `element at ${X(elem)} appears twice: the list loops after ${n} elements` });
      broken = true;
      break;
    }
    seen.add(elem);
    const prev = t.loadPtr(link + P);
    if (expectedPrev !== undefined && prev !== expectedPrev) {
      problems.push({ kind: 'backlink', elem, found: prev, expected: expectedPrev, message: `tqe_prev of ${X(elem)} is ${X(prev)}, expected ${X(expectedPrev)}` });
    }
    yield elem;
    if (++n >= MAX_ELEMENTS) {
      problems.push({ kind: 'limit', elem, message: `more than ${MAX_ELEMENTS} elements; stopped at ${X(elem)}` });
      broken = true;
      break;
    }
    expectedPrev = link;
    from = link;
    elem = t.loadPtr(link);
  }
  if (w.head !== undefined) {
    const last = t.loadPtr(w.head + P);
    if (broken) {
      // the end of the list is unknown: say only whether tqh_last is readable
      if (!t.isMapped(last)) problems.push({ kind: 'tail', elem: w.head, found: last, message: `tqh_last of ${X(w.head)} is ${X(last)}, which is unmapped (${describeUnmapped(t, last)})` });
    } else if (last !== expectedPrev) {
      const why = t.isMapped(last) ? '' : ` (unmapped: ${describeUnmapped(t, last)})`;
      problems.push({ kind: 'tail', elem: w.head, found: last, expected: expectedPrev, message: `tqh_last of ${X(w.head)} is ${X(last)}, expected ${X(expectedPrev!)}${why}` });
    }
  }
}

/* --------------------------------------------------------------- pools */

const POOL_FIELDS = [
  'pr_size', 'pr_align', 'pr_itemoffset', 'pr_roflags', 'pr_flags', 'pr_alloc', 'pr_minitems', 'pr_minpages', 'pr_maxpages',
  'pr_npages', 'pr_itemsperpage', 'pr_nitems', 'pr_nout', 'pr_hardlimit', 'pr_nget', 'pr_nfail', 'pr_nput', 'pr_npagealloc',
  'pr_npagefree', 'pr_hiwat', 'pr_nidle', 'pr_wchan', 'pr_cache', 'pr_curpage', 'pr_refcnt', 'pr_emptypages', 'pr_fullpages',
  'pr_partpages',
] as const;
export type PoolField = (typeof POOL_FIELDS)[number];
const POOL_CACHE_FIELDS = ['pc_hits', 'pc_misses', 'pc_contended', 'pc_nempty', 'pc_nfull', 'pc_cpus', 'pc_pool'] as const;
const POOL_CACHE_CPU_FIELDS = ['cc_hits', 'cc_misses'] as const;
const POOL_ITEM_HEADER_FIELDS = ['ph_next', 'ph_page', 'ph_time', 'ph_nmissing'] as const;

export class PoolLayout {
  readonly f: Fields<PoolField>;
  readonly poolSize: number;
  readonly allocSize: number;
  /** Offsets of the two links. */
  readonly poollist: number;
  readonly allocList: number;
  /** pa_list inside struct pool_allocator. */
  readonly paList: number;
  /** struct pool_cache and pool_cache_cpu_t members (those the target has), if it has pool caches. */
  readonly cache: Partial<Fields<(typeof POOL_CACHE_FIELDS)[number]>> | undefined;
  readonly cpu: Partial<Fields<(typeof POOL_CACHE_CPU_FIELDS)[number]>> | undefined;
  readonly ph: Fields<(typeof POOL_ITEM_HEADER_FIELDS)[number]> | undefined;

  constructor(readonly t: Target) {
    const tt = t.types;
    const P = 'struct pool';
    this.f = fieldsOf(tt, P, POOL_FIELDS);
    this.poolSize = sizeOf(tt, P);
    this.allocSize = sizeOf(tt, 'struct pool_allocator');
    this.poollist = field(tt, P, 'pr_poollist').off;
    this.allocList = field(tt, P, 'pr_alloc_list').off;
    this.paList = field(tt, 'struct pool_allocator', 'pa_list').off;
    if (tt.find('struct pool_cache') !== undefined) {
      this.cache = tryFieldsOf(tt, 'struct pool_cache', POOL_CACHE_FIELDS);
      this.cpu = tryFieldsOf(tt, 'pool_cache_cpu_t', POOL_CACHE_CPU_FIELDS);
    }
    if (tt.find('struct pool_item_header') !== undefined) this.ph = fieldsOf(tt, 'struct pool_item_header', POOL_ITEM_HEADER_FIELDS);
  }

  static applies(t: Target): boolean {
    return t.types.find('struct pool') !== undefined && t.symbolByName('pool_head') !== undefined;
  }
}

export interface PageInfo {
  readonly header: number;
  readonly page: number;
  readonly nmissing: number;
  readonly time: number;
}

export interface CacheStats {
  readonly cpuHits: number;
  readonly cpuMisses: number;
  readonly hits: number;
  readonly misses: number;
  readonly contended: number;
  readonly nempty: number;
  readonly nfull: number;
}

export interface PoolInfo {
  readonly addr: number;
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly ioff: number;
  readonly roflags: number;
  readonly alloc: number;
  readonly minitems: number;
  readonly minpages: number;
  readonly maxpages: number;
  readonly npages: number;
  readonly itemsperpage: number;
  readonly nitems: number;
  readonly nout: number;
  readonly hardlimit: number;
  readonly nget: number;
  readonly nfail: number;
  readonly nput: number;
  readonly npagealloc: number;
  readonly npagefree: number;
  readonly hiwat: number;
  readonly nidle: number;
  readonly refcnt: number;
  /** The pool_cache this pool belongs to (pr_cache), or 0. */
  readonly cache: number;
  readonly cacheStats?: CacheStats;
}

export class PoolView {
  readonly L: PoolLayout;
  private readonly P: number;

  constructor(readonly t: Target) {
    this.L = new PoolLayout(t);
    this.P = t.model.ptrSize;
  }

  sym(name: string): number | undefined {
    return this.t.symbolByName(name)?.value;
  }

  /** Read a pool (throws TargetReadError when unmapped). */
  pool(addr: number): PoolInfo {
    const t = this.t;
    const f = this.L.f;
    const r = (n: PoolField) => rd(t, addr, f[n]);
    const wchan = r('pr_wchan');
    const cache = r('pr_cache');
    let cacheStats: CacheStats | undefined;
    if (cache !== 0 && this.L.cache && this.L.cpu) {
      try {
        cacheStats = this.cacheStats(cache);
      } catch {
        cacheStats = undefined;
      }
    }
    return {
      addr,
      name: wchan !== 0 ? rdString(t, wchan, 64) : '',
      size: r('pr_size'),
      align: r('pr_align'),
      ioff: r('pr_itemoffset'),
      roflags: r('pr_roflags'),
      alloc: r('pr_alloc'),
      minitems: r('pr_minitems'),
      minpages: r('pr_minpages'),
      maxpages: r('pr_maxpages'),
      npages: r('pr_npages'),
      itemsperpage: r('pr_itemsperpage'),
      nitems: r('pr_nitems'),
      nout: r('pr_nout'),
      hardlimit: r('pr_hardlimit'),
      nget: r('pr_nget'),
      nfail: r('pr_nfail'),
      nput: r('pr_nput'),
      npagealloc: r('pr_npagealloc'),
      npagefree: r('pr_npagefree'),
      hiwat: r('pr_hiwat'),
      nidle: r('pr_nidle'),
      refcnt: r('pr_refcnt'),
      cache,
      cacheStats,
    };
  }

  private cacheStats(pc: number): CacheStats {
    const t = this.t;
    const c = this.L.cache!;
    const cc = this.L.cpu!;
    let cpuHits = 0;
    let cpuMisses = 0;
    const cpus = c.pc_cpus;
    if (cpus && cc.cc_hits && cc.cc_misses) {
      for (let i = 0; i < cpus.count; i++) {
        const p = rd(t, pc, cpus, i);
        if (p === 0) continue;
        cpuHits += rd(t, p, cc.cc_hits);
        cpuMisses += rd(t, p, cc.cc_misses);
      }
    }
    const g = (x: Field | undefined) => (x ? rd(t, pc, x) : 0);
    return {
      cpuHits,
      cpuMisses,
      hits: g(c.pc_hits),
      misses: g(c.pc_misses),
      contended: g(c.pc_contended),
      nempty: g(c.pc_nempty),
      nfull: g(c.pc_nfull),
    };
  }

  /** The pages of one of the pool's page lists (LIST through ph_next), bounded. */
  pages(pp: number, list: 'pr_emptypages' | 'pr_fullpages' | 'pr_partpages', problems: ListProblem[]): PageInfo[] {
    const ph = this.L.ph;
    if (!ph) return [];
    const out: PageInfo[] = [];
    const seen = new Set<number>();
    let h = rd(this.t, pp, this.L.f[list]);
    while (h !== 0) {
      if (!this.t.isMapped(h)) {
        problems.push({ kind: 'unmapped', elem: h, message: `page header at ${X(h)} is unmapped (${describeUnmapped(this.t, h)})` });
        break;
      }
      if (seen.has(h) || out.length >= MAX_ELEMENTS) {
        problems.push({ kind: 'cycle', elem: h, message: `page header at ${X(h)} appears twice: the ${list} list loops` });
        break;
      }
      seen.add(h);
      out.push({ header: h, page: rd(this.t, h, ph.ph_page), nmissing: rd(this.t, h, ph.ph_nmissing), time: rd(this.t, h, ph.ph_time) });
      h = rd(this.t, h, ph.ph_next);
    }
    return out;
  }

  /** The current page's page address, or 0. */
  curpage(pp: number): number {
    const c = rd(this.t, pp, this.L.f.pr_curpage);
    if (c === 0 || !this.L.ph) return 0;
    try {
      return rd(this.t, c, this.L.ph.ph_page);
    } catch {
      return c;
    }
  }

  /** pool_head, validated. */
  poolHead(problems: ListProblem[]): number[] {
    const head = this.sym('pool_head');
    if (head === undefined) return [];
    return [...walkTailq(this.t, { head, linkOff: this.L.poollist }, problems)];
  }

  /** The pools on an allocator's pa_list, validated (and each pool's pr_alloc checked). */
  allocatorPools(pa: number, problems: ListProblem[]): number[] {
    const out: number[] = [];
    for (const pp of walkTailq(this.t, { head: pa + this.L.paList, linkOff: this.L.allocList }, problems)) {
      out.push(pp);
      const back = rd(this.t, pp, this.L.f.pr_alloc);
      if (back !== pa) problems.push({ kind: 'backlink', elem: pp, found: back, expected: pa, message: `pr_alloc of ${X(pp)} is ${X(back)}, expected ${X(pa)}` });
    }
    return out;
  }

  /**
   * Every allocator known: kernel objects named pool_allocator* (arrays
   * included), then the pr_alloc of each pool on pool_head, in that order.
   */
  allocators(): number[] {
    const out: number[] = [];
    const add = (a: number) => {
      if (a !== 0 && !out.includes(a)) out.push(a);
    };
    const syms = [...this.t.symbols()].filter((s) => s.module === undefined && s.kind === 'object' && s.name.startsWith('pool_allocator'));
    syms.sort((a, b) => a.value - b.value);
    for (const s of syms) {
      const n = s.size >= this.L.allocSize && s.size % this.L.allocSize === 0 ? s.size / this.L.allocSize : 1;
      for (let i = 0; i < n; i++) add(s.value + i * this.L.allocSize);
    }
    for (const pp of this.poolHead([])) {
      try {
        add(rd(this.t, pp, this.L.f.pr_alloc));
      } catch {
        /* skip */
      }
    }
    return out;
  }

  /** Symbolic name of an allocator ("pool_allocator_nointr") or its address. */
  allocatorName(pa: number): string {
    const s = this.t.symbolByAddr(pa);
    if (!s) return X(pa);
    if (s.value === pa) return s.name;
    const i = (pa - s.value) / this.L.allocSize;
    return Number.isInteger(i) ? `${s.name}[${i}]` : `${s.name}+0x${hex(pa - s.value)}`;
  }
}

/* ------------------------------------------------------- the pool report */

export interface StalePool {
  readonly addr: number;
  readonly former: FormerModule;
  readonly mapped: boolean;
  /** Where the pool is still referenced: "pool_head", "pa_list of pool_allocator_nointr", "drainpp". */
  readonly refs: readonly string[];
}

export interface PoolReport {
  /** Pools on pool_head that could be read. */
  readonly pools: readonly PoolInfo[];
  /** Link problems, each prefixed with the list it was found on. */
  readonly problems: ReadonlyArray<{ list: string; problem: ListProblem }>;
  /** Pools referenced from a list or drainpp that lie in a former module range. */
  readonly stale: readonly StalePool[];
  /** drainpp's value (0 if none or no such symbol). */
  readonly drainpp: number;
}

/**
 * Gather every pool reachable from pool_head, every allocator's pa_list and
 * drainpp, with the link problems and the stale (unloaded module) pools.
 */
export function poolReport(t: Target): PoolReport {
  const v = new PoolView(t);
  const problems: Array<{ list: string; problem: ListProblem }> = [];
  const refs = new Map<number, string[]>();
  const ref = (pp: number, what: string) => {
    const r = refs.get(pp) ?? [];
    if (!r.includes(what)) r.push(what);
    refs.set(pp, r);
  };
  const headProblems: ListProblem[] = [];
  const onHead = v.poolHead(headProblems);
  for (const p of headProblems) problems.push({ list: 'pool_head', problem: p });
  for (const pp of onHead) ref(pp, 'pool_head');
  for (const p of headProblems) if (p.kind === 'unmapped') ref(p.elem, 'pool_head');
  for (const pa of v.allocators()) {
    const name = `pa_list of ${v.allocatorName(pa)}`;
    const ps: ListProblem[] = [];
    let members: number[];
    try {
      members = v.allocatorPools(pa, ps);
    } catch {
      continue;
    }
    for (const p of ps) problems.push({ list: name, problem: p });
    for (const pp of members) ref(pp, name);
    for (const p of ps) if (p.kind === 'unmapped') ref(p.elem, name);
  }
  const dsym = t.symbolByName('drainpp');
  let drainpp = 0;
  if (dsym) {
    try {
      drainpp = t.loadPtr(dsym.value);
    } catch {
      drainpp = 0;
    }
    if (drainpp !== 0) ref(drainpp, 'drainpp');
  }
  const pools: PoolInfo[] = [];
  for (const pp of onHead) {
    try {
      pools.push(v.pool(pp));
    } catch {
      /* an unreadable pool is reported by its link problem */
    }
  }
  const stale: StalePool[] = [];
  for (const [pp, r] of [...refs].sort((a, b) => a[0] - b[0])) {
    const f = formerModuleAt(t, pp);
    if (f) stale.push({ addr: pp, former: f, mapped: t.isMapped(pp), refs: r });
  }
  return { pools, problems, stale, drainpp };
}

/* ------------------------------------------------------------- modules */

export const MODULE_CLASSES = ['any', 'misc', 'vfs', 'driver', 'exec', 'secmodel'];
export const MODULE_SOURCES = ['builtin', 'boot', 'filesys'];

export interface ModuleInfo {
  readonly addr: number;
  readonly name: string;
  readonly cls: string;
  readonly source: string;
  readonly refcnt: number;
  readonly size: number;
  readonly address: number;
  readonly required: string;
  readonly autoloaded: boolean;
}

export interface ModstatReport {
  readonly modules: readonly ModuleInfo[];
  readonly problems: readonly ListProblem[];
  readonly history: readonly TargetModuleRecord[];
}

/** module_list (validated), sorted by name as modstat(8) does, and the load/unload history. */
export function modstat(t: Target): ModstatReport {
  const tt = t.types;
  const M = 'struct module';
  const I = 'struct modinfo';
  const head = t.symbolByName('module_list');
  const problems: ListProblem[] = [];
  const modules: ModuleInfo[] = [];
  if (head && tt.find(M) !== undefined) {
    const f = {
      refcnt: field(tt, M, 'mod_refcnt'),
      flags: field(tt, M, 'mod_flags'),
      source: field(tt, M, 'mod_source'),
      info: field(tt, M, 'mod_info'),
      size: field(tt, M, 'mod_size'),
      address: field(tt, M, 'mod_address'),
      cls: field(tt, I, 'mi_class'),
      name: field(tt, I, 'mi_name'),
      req: field(tt, I, 'mi_required'),
    };
    const linkOff = field(tt, M, 'mod_list').off;
    for (const m of walkTailq(t, { head: head.value, linkOff }, problems)) {
      let name = '?';
      let cls = '?';
      let required = '';
      try {
        const mi = rd(t, m, f.info);
        const c = rd(t, mi, f.cls);
        cls = MODULE_CLASSES[c] ?? String(c);
        name = rdString(t, rd(t, mi, f.name), 64);
        const rq = rd(t, mi, f.req);
        required = rq !== 0 ? rdString(t, rq, 256) : '';
      } catch {
        problems.push({ kind: 'unmapped', elem: m, message: `modinfo of module ${X(m)} is unreadable` });
      }
      const src = rd(t, m, f.source);
      modules.push({
        addr: m,
        name,
        cls,
        source: MODULE_SOURCES[src] ?? String(src),
        refcnt: rd(t, m, f.refcnt),
        size: rd(t, m, f.size),
        address: rd(t, m, f.address),
        required,
        autoloaded: (rd(t, m, f.flags) & 0x02) !== 0,
      });
    }
  }
  modules.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { modules, problems, history: t.moduleHistory() };
}
