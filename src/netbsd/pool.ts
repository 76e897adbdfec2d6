/*
 * pool(9) and pool_cache(9), after NetBSD subr_pool.c (rev 1.205, 2015).
 *
 * Theory
 * ------
 * A pool hands out fixed-size items carved from pages that its allocator
 * (struct pool_allocator: pa_alloc/pa_free function pointers) provides.
 * Each page has a header (struct pool_item_header) either at the end of the
 * page (PR_PHINPAGE, for small items) or taken from `phpool` and found again
 * through the pool's tree of off-page headers, keyed by page address.  A
 * page sits on one of three LISTs: empty (no item out), partial, full.  Free
 * items are chained through their first words (struct pool_item, with the
 * DIAGNOSTIC magic 0xdeaddead).
 *
 * Global state, all in simulated memory:
 *   pool_head        TAILQ of every pool, kept sorted by name (pr_wchan);
 *   pa_list          per allocator, TAILQ of its pools, appended at init;
 *   drainpp          pool_drain()'s round-robin cursor (a static pointer);
 *   pool_cache_head  TAILQ of caches, sorted by name.
 * A struct pool lives wherever its caller puts it: a kernel global, a
 * pool_cache from `cache_pool`, or a loadable module's static data.  The
 * lists link through the pool itself, so a pool whose storage vanishes
 * without pool_destroy() leaves dangling links in pool_head and pa_list;
 * the next list operation that touches a neighbour reads or writes through
 * them.  Nothing here checks for that, exactly as in NetBSD: the list
 * macros of queue.ts run literally, and the faults come out where the
 * report's did (pool_destroy+0xb1 storing through tqe_prev, pool_drain+0x3b
 * loading drainpp->pr_poollist.tqe_next).
 *
 * pool_cache: a struct pool_cache embeds its pool (pc_pool) and adds a
 * per-CPU layer (two groups of up to 15 objects: cc_current, cc_previous)
 * over a global layer of full and empty groups (pcg_t from pcgnormal).
 * pool_cache_bootstrap_destroy() unlinks the cache, empties every layer
 * back into the pool, then pool_destroy()s the embedded pool.
 *
 * The pagedaemon calls pool_drain() under memory pressure: it advances
 * drainpp past idle pools to the next pool with pages and reclaims that
 * pool's empty pages idle for pool_inactive_time seconds.
 */

import type { NetbsdKern } from './kern.js';
import { DEBUG_POOL_INIT } from './kern.js';
import { hex } from '../machine/addr.js';
import { IPL_NONE, PI_MAGIC, PR_NOTOUCH, PR_NOALIGN, PR_PHINPAGE, PR_WAITOK } from '../abi/netbsd-sys.js';
import { offsetsOf, type Offsets } from '../ctf/ctf.js';

export const POOL_FUNCTIONS = {
  pool_init: 0x3a0,
  pool_destroy: 0x2a0,
  pool_get: 0x2c0,
  pool_put: 0x120,
  pool_do_put: 0x260,
  pool_grow: 0x140,
  pool_prime_page: 0x160,
  pr_rmpage: 0x120,
  pool_reclaim: 0x1e0,
  pool_drain: 0x100,
  pool_update_curpage: 0x40,
  pool_page_alloc: 0x3a,
  pool_page_free: 0x36,
  pool_page_alloc_meta: 0x3a,
  pool_page_free_meta: 0x36,
  pool_cache_init: 0xa0,
  pool_cache_bootstrap: 0x220,
  pool_cache_destroy: 0x30,
  pool_cache_bootstrap_destroy: 0x120,
  pool_cache_invalidate: 0x100,
  pool_cache_invalidate_cpu: 0xa0,
  pool_cache_invalidate_groups: 0xc0,
  pool_cache_get_paddr: 0x1a0,
  pool_cache_put_paddr: 0x1c0,
} as const;

const UINT_MAX = 0xffffffff;
const PCG_NOBJECTS = 15;
const POOL_INACTIVE_TIME = 10;

/** The fields of the pool(9) structures this file reads and writes (their offsets: Pools.o). */
const POOL_FIELDS = [
  'pr_poollist', 'pr_emptypages', 'pr_fullpages', 'pr_partpages', 'pr_curpage', 'pr_phpool', 'pr_cache',
  'pr_size', 'pr_align', 'pr_itemoffset', 'pr_minitems', 'pr_minpages', 'pr_maxpages', 'pr_npages',
  'pr_itemsperpage', 'pr_slack', 'pr_nitems', 'pr_nout', 'pr_hardlimit', 'pr_refcnt', 'pr_alloc',
  'pr_alloc_list', 'pr_drain_hook', 'pr_drain_hook_arg', 'pr_wchan', 'pr_flags', 'pr_roflags', 'pr_cv',
  'pr_ipl', 'pr_phtree', 'pr_maxcolor', 'pr_curcolor', 'pr_phoffset', 'pr_hardlimit_warning', 'pr_nget',
  'pr_nfail', 'pr_nput', 'pr_npagealloc', 'pr_npagefree', 'pr_hiwat', 'pr_nidle', 'pr_freecheck', 'pr_reqsize'
] as const;
const POOL_ALLOCATOR_FIELDS = [
  'pa_alloc', 'pa_free', 'pa_pagesz', 'pa_list', 'pa_refcnt', 'pa_pagemask', 'pa_pageshift'
] as const;
const POOL_ITEM_HEADER_FIELDS = [
  'ph_next', 'ph_left', 'ph_right', 'ph_page', 'ph_time', 'ph_nmissing', 'ph_off', 'ph_itemlist'
] as const;
const POOL_ITEM_FIELDS = [
  'pi_magic', 'pi_next'
] as const;
const POOL_CACHE_FIELDS = [
  'pc_pool', 'pc_emptygroups', 'pc_fullgroups', 'pc_partgroups', 'pc_pcgpool', 'pc_pcgsize', 'pc_ncpu',
  'pc_ctor', 'pc_dtor', 'pc_arg', 'pc_hits', 'pc_misses', 'pc_nempty', 'pc_nfull', 'pc_refcnt', 'pc_cachelist',
  'pc_cpu0', 'pc_cpus'
] as const;
const PCG_FIELDS = [
  'pcg_next', 'pcg_avail', 'pcg_size', 'pcg_objects'
] as const;
const POOL_CACHE_CPU_FIELDS = [
  'cc_current', 'cc_previous', 'cc_cache', 'cc_hits', 'cc_misses', 'cc_cpuindex'
] as const;
type PoolField = (typeof POOL_FIELDS)[number] | (typeof POOL_ALLOCATOR_FIELDS)[number] | (typeof POOL_ITEM_HEADER_FIELDS)[number] | (typeof POOL_ITEM_FIELDS)[number] | (typeof POOL_CACHE_FIELDS)[number] | (typeof PCG_FIELDS)[number] | (typeof POOL_CACHE_CPU_FIELDS)[number];

export class Pools {
  readonly FN: Record<keyof typeof POOL_FUNCTIONS, number>;
  readonly g: {
    pool_head: number;
    pool_cache_head: number;
    drainpp: number;
    pool_allocator_kmem: number;
    pool_allocator_nointr: number;
    pool_allocator_meta: number;
    phpool: number;
    cache_pool: number;
    cache_cpu_pool: number;
    pcg_normal_pool: number;
    pcg_dummy: number;
    pool_inactive_time: number;
  };
  /* struct pool offsets */
  private readonly o: Offsets<PoolField>;
  readonly poolSize: number;
  readonly cacheSize: number;
  private readonly pageSize: number;

  constructor(private readonly nb: NetbsdKern) {
    const k = nb.k;
    this.FN = k.fns(POOL_FUNCTIONS);
    this.g = {
      pool_head: k.global('pool_head', 'struct pool_tqh'),
      pool_cache_head: k.global('pool_cache_head', 'struct pool_cache_tqh'),
      drainpp: k.global('drainpp', 'struct pool *'),
      pool_allocator_kmem: k.global('pool_allocator_kmem', 'struct pool_allocator'),
      pool_allocator_nointr: k.global('pool_allocator_nointr', 'struct pool_allocator'),
      pool_allocator_meta: k.global('pool_allocator_meta', 'struct pool_allocator'),
      phpool: k.global('phpool', 'struct pool'),
      cache_pool: k.global('cache_pool', 'struct pool'),
      cache_cpu_pool: k.global('cache_cpu_pool', 'struct pool'),
      pcg_normal_pool: k.global('pcg_normal_pool', 'struct pool'),
      pcg_dummy: k.global('pcg_dummy', 'pcg_t'),
      pool_inactive_time: k.global('pool_inactive_time', 'int'),
    };
    const T = nb.T;
    this.o = {
      ...offsetsOf(T, 'struct pool', POOL_FIELDS),
      ...offsetsOf(T, 'struct pool_allocator', POOL_ALLOCATOR_FIELDS),
      ...offsetsOf(T, 'struct pool_item_header', POOL_ITEM_HEADER_FIELDS),
      ...offsetsOf(T, 'struct pool_item', POOL_ITEM_FIELDS),
      ...offsetsOf(T, 'struct pool_cache', POOL_CACHE_FIELDS),
      ...offsetsOf(T, 'pcg_t', PCG_FIELDS),
      ...offsetsOf(T, 'pool_cache_cpu_t', POOL_CACHE_CPU_FIELDS),
    };
    const o = this.o;
    this.poolSize = T.size('struct pool');
    this.cacheSize = T.size('struct pool_cache');
    this.pageSize = k.pageSize;

    const mem = nb.mem;
    const g = this.g;
    nb.q.tailqInit(g.pool_head);
    nb.q.tailqInit(g.pool_cache_head);
    mem.store32(g.pool_inactive_time, POOL_INACTIVE_TIME);
    mem.store32(g.pcg_dummy + o.pcg_size, 0);

    // The allocators: function pointers into kernel text.
    const FN = this.FN;
    const setAlloc = (pa: number, af: number, ff: number) => {
      mem.storePtr(pa + o.pa_alloc, af);
      mem.storePtr(pa + o.pa_free, ff);
      mem.store32(pa + o.pa_pagesz, 0);
    };
    setAlloc(g.pool_allocator_kmem, FN.pool_page_alloc, FN.pool_page_free);
    setAlloc(g.pool_allocator_nointr, FN.pool_page_alloc, FN.pool_page_free);
    setAlloc(g.pool_allocator_meta, FN.pool_page_alloc_meta, FN.pool_page_free_meta);
    const pageAlloc: (pp: number, flags: number) => number = () => this.pageAlloc();
    const pageFree = (_pp: number, v: number) => {
      this.pageFree(v);
      return 0;
    };
    nb.registerImpl(FN.pool_page_alloc, pageAlloc);
    nb.registerImpl(FN.pool_page_free, pageFree);
    nb.registerImpl(FN.pool_page_alloc_meta, pageAlloc);
    nb.registerImpl(FN.pool_page_free_meta, pageFree);

    // pool_subsystem_init: the internal pools, on the meta allocator.
    const P = nb.P;
    const phsize = this.phsize();
    this.init(g.phpool, phsize, 0, 0, 0, this.kstr('phpool-0'), g.pool_allocator_meta, IPL_NONE);
    this.init(g.pcg_normal_pool, T.size('pcg_t'), P === 8 ? 64 : 32, 0, 0, this.kstr('pcgnormal'), g.pool_allocator_meta, IPL_NONE);
    this.init(g.cache_pool, this.cacheSize, 64, 0, 0, this.kstr('pcache'), g.pool_allocator_meta, IPL_NONE);
    this.init(g.cache_cpu_pool, T.size('pool_cache_cpu_t'), 64, 0, 0, this.kstr('pcachecpu'), g.pool_allocator_meta, IPL_NONE);
  }

  /** A string constant in kernel data (for pr_wchan of kernel pools). */
  kstr(s: string): number {
    const k = this.nb.k;
    const name = `.str.${s}`;
    const sym = k.sym(name);
    if (sym) return sym.value;
    const a = k.global(name, `char [${s.length + 1}]`);
    k.writeString(a, s, s.length + 1);
    return a;
  }

  private phsize(): number {
    const P = this.nb.P;
    const raw = this.nb.size('struct pool_item_header');
    return Math.ceil(raw / P) * P;
  }

  /* ------------------------------------------------------- page backend */

  private pageAlloc(): number {
    const a = this.nb.host.pageAlloc(this.pageSize);
    if (a !== 0) this.nb.uvm?.pagesAllocated(1);
    return a;
  }

  private pageFree(v: number): void {
    this.nb.host.pageFree(v, this.pageSize);
    this.nb.uvm?.pagesAllocated(-1);
  }

  /* ------------------------------------------------------------ pool_init */

  /**
   * pool_init(pp, size, align, ioff, flags, wchan, palloc, ipl): initialise
   * the pool at pp (caller's storage) and link it into pool_head and its
   * allocator's pa_list.
   */
  init(pp: number, size: number, align: number, ioff: number, flags: number, wchan: number, palloc: number, ipl: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    const FN = this.FN;
    k.enter(FN.pool_init);
    k.args(pp, size, align, ioff, flags, wchan);
    if ((nb.debug & DEBUG_POOL_INIT) !== 0) this.checkNotInitialised(pp, wchan);
    if (palloc === 0) palloc = this.g.pool_allocator_kmem;

    k.site(FN.pool_init + 0x4c);
    const refcnt = mem.load32(palloc + o.pa_refcnt);
    mem.store32(palloc + o.pa_refcnt, refcnt + 1);
    if (refcnt === 0) {
      if (mem.load32(palloc + o.pa_pagesz) === 0) mem.store32(palloc + o.pa_pagesz, this.pageSize);
      nb.q.tailqInit(palloc + o.pa_list);
      const ps = mem.load32(palloc + o.pa_pagesz);
      mem.store32(palloc + o.pa_pagemask, -ps >>> 0);
      mem.store32(palloc + o.pa_pageshift, 31 - Math.clz32(ps));
    }
    const pagesz = mem.load32(palloc + o.pa_pagesz);

    if (align === 0) align = P;
    let prsize = size;
    const minItem = nb.size('struct pool_item');
    if ((flags & PR_NOTOUCH) === 0 && prsize < minItem) prsize = minItem;
    prsize = Math.ceil(prsize / align) * align;
    if (prsize > pagesz) k.panic(`pool_init: pool item size (${prsize}) larger than page size (${pagesz})`);

    k.site(FN.pool_init + 0xd0);
    mem.storePtr(pp + o.pr_emptypages, 0);
    mem.storePtr(pp + o.pr_fullpages, 0);
    mem.storePtr(pp + o.pr_partpages, 0);
    mem.storePtr(pp + o.pr_cache, 0);
    mem.storePtr(pp + o.pr_curpage, 0);
    mem.store32(pp + o.pr_npages, 0);
    mem.store32(pp + o.pr_minitems, 0);
    mem.store32(pp + o.pr_minpages, 0);
    mem.store32(pp + o.pr_maxpages, UINT_MAX);
    mem.store32(pp + o.pr_roflags, flags);
    mem.store32(pp + o.pr_flags, 0);
    mem.store32(pp + o.pr_size, prsize);
    mem.store32(pp + o.pr_align, align);
    mem.storePtr(pp + o.pr_wchan, wchan);
    mem.storePtr(pp + o.pr_alloc, palloc);
    mem.store32(pp + o.pr_nitems, 0);
    mem.store32(pp + o.pr_nout, 0);
    mem.store32(pp + o.pr_hardlimit, UINT_MAX);
    mem.storePtr(pp + o.pr_hardlimit_warning, 0);
    mem.store32(pp + o.pr_refcnt, 0);
    mem.storePtr(pp + o.pr_drain_hook, 0);
    mem.storePtr(pp + o.pr_drain_hook_arg, 0);
    mem.storePtr(pp + o.pr_freecheck, 0);
    mem.store32(pp + o.pr_ipl, ipl);
    mem.storePtr(pp + o.pr_phtree, 0);
    for (const f of ['pr_nget', 'pr_nfail', 'pr_nput', 'pr_npagealloc', 'pr_npagefree', 'pr_nidle'] as const) mem.storePtr(pp + o[f], 0);
    mem.store32(pp + o.pr_hiwat, 0);
    mem.storePtr(pp + o.pr_reqsize, size);
    // pr_cv: cv_init(&pp->pr_cv, wchan)
    mem.storePtr(pp + o.pr_cv + P, pp + o.pr_cv + P);
    mem.storePtr(pp + o.pr_cv + 2 * P, wchan);

    // Where do the page headers go?
    ioff = ioff % align;
    mem.store32(pp + o.pr_itemoffset, ioff);
    const reserve = (align - ioff) % align;
    const trysize = pagesz - reserve;
    const phsize = this.phsize();
    let off: number;
    let roflags = flags;
    if (
      (flags & (PR_NOTOUCH | PR_NOALIGN)) === 0 &&
      (prsize < Math.min(pagesz / 16, phsize * 8) || Math.floor(trysize / prsize) === Math.floor((trysize - phsize) / prsize))
    ) {
      roflags |= PR_PHINPAGE;
      off = pagesz - phsize;
      mem.store32(pp + o.pr_phoffset, off);
      mem.storePtr(pp + o.pr_phpool, 0);
    } else {
      mem.store32(pp + o.pr_phoffset, 0);
      off = pagesz;
      mem.storePtr(pp + o.pr_phpool, this.g.phpool);
    }
    mem.store32(pp + o.pr_roflags, roflags);
    const ipp = Math.floor((off - reserve) / prsize);
    if (ipp === 0) k.panic(`pool_init: ${nb.str(wchan)}: no items per page`);
    mem.store32(pp + o.pr_itemsperpage, ipp);
    const slack = off - ipp * prsize;
    mem.store32(pp + o.pr_slack, slack);
    mem.store32(pp + o.pr_maxcolor, 0);
    mem.store32(pp + o.pr_curcolor, 0);

    // Insert into the list of all pools, sorted by name.
    k.site(FN.pool_init + 0x2a4);
    const head = this.g.pool_head;
    let pp1 = mem.loadPtr(head);
    while (pp1 !== 0) {
      if (nb.strcmp(mem.loadPtr(pp1 + o.pr_wchan), wchan) > 0) break;
      pp1 = mem.loadPtr(pp1 + o.pr_poollist);
    }
    k.site(FN.pool_init + 0x2f0);
    if (pp1 === 0) nb.q.tailqInsertTail(head, pp, o.pr_poollist);
    else nb.q.tailqInsertBefore(pp1, pp, o.pr_poollist);

    // Insert this into the list of pools using this allocator.
    k.site(FN.pool_init + 0x330);
    nb.q.tailqInsertTail(palloc + o.pa_list, pp, o.pr_alloc_list);
    k.leave();
  }

  private checkNotInitialised(pp: number, wchan: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    let pp1 = mem.loadPtr(this.g.pool_head);
    let n = 0;
    while (pp1 !== 0 && n++ < 100000) {
      if (pp1 === pp) nb.k.panic(`pool_init: pool ${nb.str(wchan)} already initialised`);
      pp1 = mem.loadPtr(pp1 + o.pr_poollist);
    }
  }

  /* --------------------------------------------------------- pool_destroy */

  destroy(pp: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    const FN = this.FN;
    k.enter(FN.pool_destroy);
    k.args(pp);

    // Remove from the global pool list; forget it as the drain cursor.
    k.site(FN.pool_destroy + 0x4a);
    if (mem.load32(pp + o.pr_refcnt) !== 0) k.panic(`pool_destroy: ${nb.str(mem.loadPtr(pp + o.pr_wchan))}: pool busy (refcnt)`);
    nb.q.tailqRemove(this.g.pool_head, pp, o.pr_poollist);
    if (mem.loadPtr(this.g.drainpp) === pp) mem.storePtr(this.g.drainpp, 0);

    // Remove this pool from its allocator's list of pools:
    // TAILQ_REMOVE(&pp->pr_alloc->pa_list, pp, pr_alloc_list), as compiled.
    const pa = mem.loadPtr(pp + o.pr_alloc);
    const le = pp + o.pr_alloc_list;
    k.site(FN.pool_destroy + 0x85);
    const next = mem.loadPtr(le); // mov 0x80(%rbx),%rax
    if (next !== 0) {
      k.site(FN.pool_destroy + 0x9c);
      mem.storePtr(next + o.pr_alloc_list + P, mem.loadPtr(le + P)); // next->tqe_prev = elm->tqe_prev
    } else {
      k.site(FN.pool_destroy + 0x265);
      mem.storePtr(pa + o.pa_list + P, mem.loadPtr(le + P)); // head->tqh_last = elm->tqe_prev
    }
    k.site(FN.pool_destroy + 0xb1);
    mem.storePtr(mem.loadPtr(le + P), mem.loadPtr(le)); // *elm->tqe_prev = elm->tqe_next
    k.site(FN.pool_destroy + 0xc8);
    mem.store32(pa + o.pa_refcnt, mem.load32(pa + o.pa_refcnt) - 1);

    k.site(FN.pool_destroy + 0x110);
    if (mem.loadPtr(pp + o.pr_cache) !== 0) k.panic('pool_destroy: pool still has a cache (pr_cache != NULL)');
    const nout = mem.load32(pp + o.pr_nout);
    if (nout !== 0) k.panic(`pool_destroy: pool busy: still out: ${nout}`);
    if (mem.loadPtr(pp + o.pr_fullpages) !== 0 || mem.loadPtr(pp + o.pr_partpages) !== 0) k.panic('pool_destroy: pages still in use');

    // Remove all pages.
    k.site(FN.pool_destroy + 0x1b4);
    let ph: number;
    while ((ph = mem.loadPtr(pp + o.pr_emptypages)) !== 0) this.rmpage(pp, ph);
    k.leave();
  }

  /* ------------------------------------------------------- get, put, grow */

  get(pp: number, flags: number): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pool_get);
    k.args(pp, flags);
    let ph = mem.loadPtr(pp + o.pr_curpage);
    if (ph === 0) {
      k.site(this.FN.pool_get + 0x98);
      if (this.grow(pp, flags) !== 0) {
        mem.storePtr(pp + o.pr_nfail, mem.loadPtr(pp + o.pr_nfail) + 1);
        k.leave();
        return 0;
      }
      ph = mem.loadPtr(pp + o.pr_curpage);
    }
    k.site(this.FN.pool_get + 0x120);
    const v = mem.loadPtr(ph + o.ph_itemlist);
    if (v === 0) k.panic(`pool_get: ${nb.str(mem.loadPtr(pp + o.pr_wchan))}: page empty`);
    if (mem.load32(v + o.pi_magic) !== PI_MAGIC) {
      k.panic(
        `pool_get(${nb.str(mem.loadPtr(pp + o.pr_wchan))}): free list modified: magic=${mem.load32(v + o.pi_magic).toString(16)}; page ${'0x' + hex(mem.loadPtr(ph + o.ph_page))}; item addr ${'0x' + hex(v)}`,
      );
    }
    nb.q.listRemove(v, o.pi_next);
    mem.store32(pp + o.pr_nitems, mem.load32(pp + o.pr_nitems) - 1);
    mem.store32(pp + o.pr_nout, mem.load32(pp + o.pr_nout) + 1);
    mem.storePtr(pp + o.pr_nget, mem.loadPtr(pp + o.pr_nget) + 1);
    const nmissing = mem.load16(ph + o.ph_nmissing);
    if (nmissing === 0) {
      // The page was empty: it becomes partial.
      mem.storePtr(pp + o.pr_nidle, mem.loadPtr(pp + o.pr_nidle) - 1);
      nb.q.listRemove(ph, o.ph_next);
      nb.q.listInsertHead(pp + o.pr_partpages, ph, o.ph_next);
    }
    mem.store16(ph + o.ph_nmissing, nmissing + 1);
    if (mem.loadPtr(ph + o.ph_itemlist) === 0) {
      // The page is now full.
      nb.q.listRemove(ph, o.ph_next);
      nb.q.listInsertHead(pp + o.pr_fullpages, ph, o.ph_next);
      this.updateCurpage(pp);
    }
    k.leave();
    return v;
  }

  put(pp: number, v: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pool_put + 0x5c);
    k.args(pp, v);
    k.enter(this.FN.pool_do_put);
    k.args(pp, v);
    const wchan = () => nb.str(mem.loadPtr(pp + o.pr_wchan));
    if (mem.load32(pp + o.pr_nout) === 0) k.panic(`pool_put: pool ${wchan()}: putting with none out`);
    const ph = this.findPage(pp, v);
    if (ph === 0) k.panic(`pool_put: ${wchan()}: page header missing`);
    mem.store32(v + o.pi_magic, PI_MAGIC);
    nb.q.listInsertHead(ph + o.ph_itemlist, v, o.pi_next);
    const nmissing = mem.load16(ph + o.ph_nmissing) - 1;
    mem.store16(ph + o.ph_nmissing, nmissing);
    mem.storePtr(pp + o.pr_nput, mem.loadPtr(pp + o.pr_nput) + 1);
    mem.store32(pp + o.pr_nitems, mem.load32(pp + o.pr_nitems) + 1);
    mem.store32(pp + o.pr_nout, mem.load32(pp + o.pr_nout) - 1);
    if (nmissing === 0) {
      mem.storePtr(pp + o.pr_nidle, mem.loadPtr(pp + o.pr_nidle) + 1);
      const npages = mem.load32(pp + o.pr_npages);
      if (npages > mem.load32(pp + o.pr_minpages) && npages > mem.load32(pp + o.pr_maxpages)) {
        this.rmpage(pp, ph);
      } else {
        nb.q.listRemove(ph, o.ph_next);
        nb.q.listInsertHead(pp + o.pr_emptypages, ph, o.ph_next);
        mem.store32(ph + o.ph_time, nb.uptime());
      }
      this.updateCurpage(pp);
    } else if (nmissing === mem.load32(pp + o.pr_itemsperpage) - 1) {
      nb.q.listRemove(ph, o.ph_next);
      nb.q.listInsertHead(pp + o.pr_partpages, ph, o.ph_next);
      mem.storePtr(pp + o.pr_curpage, ph);
    }
    k.leave();
    k.leave();
  }

  private findPage(pp: number, v: number): number {
    const mem = this.nb.mem;
    const o = this.o;
    const pa = mem.loadPtr(pp + o.pr_alloc);
    const pagesz = mem.load32(pa + o.pa_pagesz);
    const page = v - (((v % pagesz) + pagesz) % pagesz);
    if ((mem.load32(pp + o.pr_roflags) & PR_PHINPAGE) !== 0) return page + mem.load32(pp + o.pr_phoffset);
    let ph = mem.loadPtr(pp + o.pr_phtree);
    while (ph !== 0) {
      const p = mem.loadPtr(ph + o.ph_page);
      if (p === page) return ph;
      ph = mem.loadPtr(ph + (page < p ? o.ph_left : o.ph_right));
    }
    return 0;
  }

  private grow(pp: number, flags: number): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pool_grow + 0x3e);
    k.args(pp, flags);
    const pa = mem.loadPtr(pp + o.pr_alloc);
    const storage = nb.call(mem.loadPtr(pa + o.pa_alloc), pp, flags);
    if (storage === 0) {
      k.leave();
      return 12;
    }
    k.site(this.FN.pool_grow + 0x7c);
    let ph: number;
    if ((mem.load32(pp + o.pr_roflags) & PR_PHINPAGE) !== 0) ph = storage + mem.load32(pp + o.pr_phoffset);
    else ph = this.get(mem.loadPtr(pp + o.pr_phpool), flags);
    if (ph === 0) {
      nb.call(mem.loadPtr(pa + o.pa_free), pp, storage);
      k.leave();
      return 12;
    }
    this.primePage(pp, storage, ph);
    mem.storePtr(pp + o.pr_npagealloc, mem.loadPtr(pp + o.pr_npagealloc) + 1);
    k.leave();
    return 0;
  }

  private primePage(pp: number, storage: number, ph: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pool_prime_page);
    k.args(pp, storage, ph);
    nb.q.listInsertHead(pp + o.pr_emptypages, ph, o.ph_next);
    mem.storePtr(ph + o.ph_itemlist, 0);
    mem.store16(ph + o.ph_nmissing, 0);
    mem.store16(ph + o.ph_off, 0);
    mem.store32(ph + o.ph_time, nb.uptime());
    mem.storePtr(ph + o.ph_page, storage);
    mem.storePtr(ph + o.ph_left, 0);
    mem.storePtr(ph + o.ph_right, 0);
    if ((mem.load32(pp + o.pr_roflags) & PR_PHINPAGE) === 0) this.treeInsert(pp, ph, storage);
    mem.storePtr(pp + o.pr_nidle, mem.loadPtr(pp + o.pr_nidle) + 1);
    const size = mem.load32(pp + o.pr_size);
    const ipp = mem.load32(pp + o.pr_itemsperpage);
    const align = mem.load32(pp + o.pr_align);
    const ioff = mem.load32(pp + o.pr_itemoffset);
    let cp = storage + ((align - ioff) % align);
    for (let n = 0; n < ipp; n++, cp += size) {
      mem.store32(cp + o.pi_magic, PI_MAGIC);
      nb.q.listInsertHead(ph + o.ph_itemlist, cp, o.pi_next);
    }
    mem.store32(pp + o.pr_nitems, mem.load32(pp + o.pr_nitems) + ipp);
    const npages = mem.load32(pp + o.pr_npages) + 1;
    mem.store32(pp + o.pr_npages, npages);
    if (npages > mem.load32(pp + o.pr_hiwat)) mem.store32(pp + o.pr_hiwat, npages);
    if (mem.loadPtr(pp + o.pr_curpage) === 0) this.updateCurpage(pp);
    k.leave();
  }

  private rmpage(pp: number, ph: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pr_rmpage);
    k.args(pp, ph);
    if (mem.load16(ph + o.ph_nmissing) !== 0) k.panic(`pr_rmpage: ${nb.str(mem.loadPtr(pp + o.pr_wchan))}: page in use`);
    mem.store32(pp + o.pr_nitems, mem.load32(pp + o.pr_nitems) - mem.load32(pp + o.pr_itemsperpage));
    nb.q.listRemove(ph, o.ph_next);
    const page = mem.loadPtr(ph + o.ph_page);
    const offpage = (mem.load32(pp + o.pr_roflags) & PR_PHINPAGE) === 0;
    if (offpage) this.treeRemove(pp, ph);
    const pa = mem.loadPtr(pp + o.pr_alloc);
    k.site(this.FN.pr_rmpage + 0x8a);
    nb.call(mem.loadPtr(pa + o.pa_free), pp, page);
    if (offpage) this.put(mem.loadPtr(pp + o.pr_phpool), ph);
    mem.store32(pp + o.pr_npages, mem.load32(pp + o.pr_npages) - 1);
    mem.storePtr(pp + o.pr_npagefree, mem.loadPtr(pp + o.pr_npagefree) + 1);
    mem.storePtr(pp + o.pr_nidle, mem.loadPtr(pp + o.pr_nidle) - 1);
    this.updateCurpage(pp);
    k.leave();
  }

  private updateCurpage(pp: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    let ph = mem.loadPtr(pp + o.pr_partpages);
    if (ph === 0) ph = mem.loadPtr(pp + o.pr_emptypages);
    mem.storePtr(pp + o.pr_curpage, ph);
  }

  /* Off-page headers: a binary search tree on ph_page (pr_phtree). */

  private treeInsert(pp: number, ph: number, page: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    let link = pp + o.pr_phtree;
    let cur = mem.loadPtr(link);
    while (cur !== 0) {
      link = cur + (page < mem.loadPtr(cur + o.ph_page) ? o.ph_left : o.ph_right);
      cur = mem.loadPtr(link);
    }
    mem.storePtr(link, ph);
  }

  private treeRemove(pp: number, ph: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    const page = mem.loadPtr(ph + o.ph_page);
    let link = pp + o.pr_phtree;
    let cur = mem.loadPtr(link);
    while (cur !== 0 && cur !== ph) {
      link = cur + (page < mem.loadPtr(cur + o.ph_page) ? o.ph_left : o.ph_right);
      cur = mem.loadPtr(link);
    }
    if (cur === 0) this.nb.k.panic('pool: page header not in tree');
    const l = mem.loadPtr(ph + o.ph_left);
    const r = mem.loadPtr(ph + o.ph_right);
    if (l === 0) mem.storePtr(link, r);
    else if (r === 0) mem.storePtr(link, l);
    else {
      // Replace by the smallest node of the right subtree.
      let slink = ph + o.ph_right;
      let s = r;
      while (mem.loadPtr(s + o.ph_left) !== 0) {
        slink = s + o.ph_left;
        s = mem.loadPtr(slink);
      }
      mem.storePtr(slink, mem.loadPtr(s + o.ph_right));
      mem.storePtr(s + o.ph_left, mem.loadPtr(ph + o.ph_left));
      mem.storePtr(s + o.ph_right, mem.loadPtr(ph + o.ph_right));
      mem.storePtr(link, s);
    }
  }

  /* ------------------------------------------------------ reclaim, drain */

  reclaim(pp: number): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.pool_reclaim);
    k.args(pp);
    const hook = mem.loadPtr(pp + o.pr_drain_hook);
    if (hook !== 0) {
      k.site(this.FN.pool_reclaim + 0x2e);
      nb.call(hook, mem.loadPtr(pp + o.pr_drain_hook_arg), 0);
    }
    const pc = mem.loadPtr(pp + o.pr_cache);
    if (pc !== 0) {
      k.site(this.FN.pool_reclaim + 0x4a);
      this.cacheInvalidate(pc);
    }
    k.site(this.FN.pool_reclaim + 0x90);
    const now = nb.uptime();
    const inactive = mem.load32(this.g.pool_inactive_time);
    let freed = 0;
    let ph = mem.loadPtr(pp + o.pr_emptypages);
    while (ph !== 0) {
      const next = mem.loadPtr(ph + o.ph_next);
      if (mem.load32(pp + o.pr_npages) <= mem.load32(pp + o.pr_minpages)) break;
      if (now - mem.load32(ph + o.ph_time) >= inactive) {
        if (mem.load32(pp + o.pr_nitems) - mem.load32(pp + o.pr_itemsperpage) < mem.load32(pp + o.pr_minitems)) break;
        this.rmpage(pp, ph);
        freed++;
      }
      ph = next;
    }
    k.leave();
    return freed;
  }

  /**
   * pool_drain(): reclaim from the next non-idle pool after drainpp.
   * Returns the number of pages freed.
   */
  drain(): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const FN = this.FN;
    const drainpp = this.g.drainpp;
    k.enter(FN.pool_drain);
    let pp = 0;
    let loops = 0;
    do {
      k.site(FN.pool_drain + 0x26);
      let dp = mem.loadPtr(drainpp);
      if (dp === 0) {
        dp = mem.loadPtr(this.g.pool_head);
        mem.storePtr(drainpp, dp);
      }
      if (dp !== 0) {
        pp = dp;
        k.site(FN.pool_drain + 0x3b);
        mem.storePtr(drainpp, mem.loadPtr(pp + o.pr_poollist)); // drainpp = TAILQ_NEXT(pp, pr_poollist)
      }
      if (++loops > 1_000_000) k.panic('pool_drain: no active pool (pool_head corrupt?)');
      k.site(FN.pool_drain + 0x52);
    } while (pp === 0 || mem.load32(pp + o.pr_npages) === 0);
    mem.store32(pp + o.pr_refcnt, mem.load32(pp + o.pr_refcnt) + 1);
    k.site(FN.pool_drain + 0x8c);
    const freed = this.reclaim(pp);
    mem.store32(pp + o.pr_refcnt, mem.load32(pp + o.pr_refcnt) - 1);
    k.leave();
    return freed;
  }

  /* ---------------------------------------------------------- pool_cache */

  /** pool_cache_init(): a pool_cache from cache_pool. */
  cacheInit(size: number, align: number, ioff: number, flags: number, wchan: number, palloc: number, ipl: number): number {
    const nb = this.nb;
    const k = nb.k;
    k.enter(this.FN.pool_cache_init + 0x44);
    const pc = this.get(this.g.cache_pool, PR_WAITOK);
    if (pc === 0) k.panic('pool_cache_init: out of memory');
    k.site(this.FN.pool_cache_init + 0x72);
    this.cacheBootstrap(pc, size, align, ioff, flags, wchan, palloc, ipl);
    k.leave();
    return pc;
  }

  cacheBootstrap(pc: number, size: number, align: number, ioff: number, flags: number, wchan: number, palloc: number, ipl: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    k.enter(this.FN.pool_cache_bootstrap + 0x6a);
    if (palloc === 0 && ipl === IPL_NONE) palloc = this.g.pool_allocator_nointr;
    const pp = pc + o.pc_pool;
    this.init(pp, size, align, ioff, flags, wchan, palloc, ipl);
    k.site(this.FN.pool_cache_bootstrap + 0xa0);
    for (const f of ['pc_emptygroups', 'pc_fullgroups', 'pc_partgroups', 'pc_ctor', 'pc_dtor', 'pc_arg', 'pc_hits', 'pc_misses'] as const) {
      mem.storePtr(pc + o[f], 0);
    }
    mem.store32(pc + o.pc_nempty, 0);
    mem.store32(pc + o.pc_nfull, 0);
    mem.store32(pc + o.pc_refcnt, 0);
    mem.storePtr(pc + o.pc_pcgpool, this.g.pcg_normal_pool);
    mem.store32(pc + o.pc_pcgsize, PCG_NOBJECTS);
    const ncpu = nb.k.ncpus;
    mem.store32(pc + o.pc_ncpu, ncpu);
    for (let i = 0; i < 8; i++) mem.storePtr(pc + o.pc_cpus + i * P, 0);
    for (let i = 0; i < ncpu && i < 8; i++) {
      const cc = i === 0 ? pc + o.pc_cpu0 : this.get(this.g.cache_cpu_pool, PR_WAITOK);
      mem.storePtr(cc + o.cc_current, this.g.pcg_dummy);
      mem.storePtr(cc + o.cc_previous, this.g.pcg_dummy);
      mem.storePtr(cc + o.cc_cache, pc);
      mem.storePtr(cc + o.cc_hits, 0);
      mem.storePtr(cc + o.cc_misses, 0);
      mem.store32(cc + o.cc_cpuindex, i);
      mem.storePtr(pc + o.pc_cpus + i * P, cc);
    }
    // Add to the list of all caches, sorted by name.
    k.site(this.FN.pool_cache_bootstrap + 0x1a0);
    const head = this.g.pool_cache_head;
    let pc1 = mem.loadPtr(head);
    while (pc1 !== 0) {
      if (nb.strcmp(mem.loadPtr(pc1 + o.pc_pool + o.pr_wchan), wchan) > 0) break;
      pc1 = mem.loadPtr(pc1 + o.pc_cachelist);
    }
    if (pc1 === 0) nb.q.tailqInsertTail(head, pc, o.pc_cachelist);
    else nb.q.tailqInsertBefore(pc1, pc, o.pc_cachelist);
    mem.storePtr(pp + o.pr_cache, pc);
    k.leave();
  }

  /** pool_cache_destroy(): bootstrap_destroy, then give the struct back to cache_pool. */
  cacheDestroy(pc: number): void {
    const k = this.nb.k;
    k.enter(this.FN.pool_cache_destroy + 0x1d);
    k.args(pc);
    this.cacheBootstrapDestroy(pc);
    k.site(this.FN.pool_cache_destroy + 0x28);
    this.put(this.g.cache_pool, pc);
    k.leave();
  }

  cacheBootstrapDestroy(pc: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    const FN = this.FN;
    k.enter(FN.pool_cache_bootstrap_destroy + 0x2c);
    k.args(pc);
    if (mem.load32(pc + o.pc_refcnt) !== 0) k.panic('pool_cache_bootstrap_destroy: cache busy');
    nb.q.tailqRemove(this.g.pool_cache_head, pc, o.pc_cachelist);
    k.site(FN.pool_cache_bootstrap_destroy + 0x4e);
    this.cacheInvalidate(pc);
    const pp = pc + o.pc_pool;
    mem.storePtr(pp + o.pr_cache, 0);
    k.site(FN.pool_cache_bootstrap_destroy + 0x8a);
    for (let i = 0; i < 8; i++) {
      const cc = mem.loadPtr(pc + o.pc_cpus + i * P);
      if (cc === 0) continue;
      this.invalidateCpu(pc, cc);
      if (cc !== pc + o.pc_cpu0) this.put(this.g.cache_cpu_pool, cc);
      mem.storePtr(pc + o.pc_cpus + i * P, 0);
    }
    k.site(FN.pool_cache_bootstrap_destroy + 0xdd);
    this.destroy(pp);
    k.leave();
  }

  private destructGroup(pc: number, pcg: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    const P = this.nb.P;
    const pp = pc + o.pc_pool;
    const dtor = mem.loadPtr(pc + o.pc_dtor);
    const n = mem.load32(pcg + o.pcg_avail);
    for (let i = 0; i < n; i++) {
      const obj = mem.loadPtr(pcg + o.pcg_objects + i * P);
      if (dtor !== 0) this.nb.call(dtor, mem.loadPtr(pc + o.pc_arg), obj);
      this.put(pp, obj);
    }
    mem.store32(pcg + o.pcg_avail, 0);
  }

  /** pool_cache_invalidate(): empty the global layer back into the pool. */
  cacheInvalidate(pc: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    nb.k.enter(this.FN.pool_cache_invalidate);
    nb.k.args(pc);
    for (const list of [o.pc_fullgroups, o.pc_partgroups, o.pc_emptygroups]) {
      let pcg = mem.loadPtr(pc + list);
      mem.storePtr(pc + list, 0);
      while (pcg !== 0) {
        const next = mem.loadPtr(pcg + o.pcg_next);
        this.destructGroup(pc, pcg);
        this.put(mem.loadPtr(pc + o.pc_pcgpool), pcg);
        pcg = next;
      }
    }
    mem.store32(pc + o.pc_nfull, 0);
    mem.store32(pc + o.pc_nempty, 0);
    nb.k.leave();
  }

  private invalidateCpu(pc: number, cc: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    this.nb.k.enter(this.FN.pool_cache_invalidate_cpu);
    this.nb.k.args(pc, cc);
    for (const f of [o.cc_current, o.cc_previous]) {
      const pcg = mem.loadPtr(cc + f);
      if (pcg !== 0 && pcg !== this.g.pcg_dummy) {
        this.destructGroup(pc, pcg);
        this.put(mem.loadPtr(pc + o.pc_pcgpool), pcg);
      }
      mem.storePtr(cc + f, this.g.pcg_dummy);
    }
    this.nb.k.leave();
  }

  private ccOf(pc: number): number {
    return this.nb.mem.loadPtr(pc + this.o.pc_cpus + this.nb.k.cpuSeqid * this.nb.P);
  }

  /** pool_cache_get(pc, flags) */
  cacheGet(pc: number, flags: number): number {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    nb.k.enter(this.FN.pool_cache_get_paddr);
    nb.k.args(pc, flags);
    const cc = this.ccOf(pc);
    for (let pass = 0; pass < 2; pass++) {
      const cur = mem.loadPtr(cc + o.cc_current);
      const avail = mem.load32(cur + o.pcg_avail);
      if (avail > 0) {
        mem.store32(cur + o.pcg_avail, avail - 1);
        const obj = mem.loadPtr(cur + o.pcg_objects + (avail - 1) * P);
        mem.storePtr(cur + o.pcg_objects + (avail - 1) * P, 0);
        mem.storePtr(cc + o.cc_hits, mem.loadPtr(cc + o.cc_hits) + 1);
        nb.k.leave();
        return obj;
      }
      if (pass === 0) {
        // Try the previous group, then a full group from the global layer.
        const prev = mem.loadPtr(cc + o.cc_previous);
        if (mem.load32(prev + o.pcg_avail) > 0) {
          mem.storePtr(cc + o.cc_previous, cur);
          mem.storePtr(cc + o.cc_current, prev);
          continue;
        }
        const full = mem.loadPtr(pc + o.pc_fullgroups);
        if (full !== 0) {
          mem.storePtr(pc + o.pc_fullgroups, mem.loadPtr(full + o.pcg_next));
          mem.store32(pc + o.pc_nfull, mem.load32(pc + o.pc_nfull) - 1);
          if (cur !== this.g.pcg_dummy) {
            mem.storePtr(cur + o.pcg_next, mem.loadPtr(pc + o.pc_emptygroups));
            mem.storePtr(pc + o.pc_emptygroups, cur);
            mem.store32(pc + o.pc_nempty, mem.load32(pc + o.pc_nempty) + 1);
          }
          mem.storePtr(cc + o.cc_current, full);
          mem.storePtr(pc + o.pc_hits, mem.loadPtr(pc + o.pc_hits) + 1);
          continue;
        }
      }
      break;
    }
    mem.storePtr(cc + o.cc_misses, mem.loadPtr(cc + o.cc_misses) + 1);
    mem.storePtr(pc + o.pc_misses, mem.loadPtr(pc + o.pc_misses) + 1);
    nb.k.site(this.FN.pool_cache_get_paddr + 0x112);
    const obj = this.get(pc + o.pc_pool, flags);
    const ctor = mem.loadPtr(pc + o.pc_ctor);
    if (obj !== 0 && ctor !== 0) nb.call(ctor, mem.loadPtr(pc + o.pc_arg), obj, flags);
    nb.k.leave();
    return obj;
  }

  /** pool_cache_put(pc, obj) */
  cachePut(pc: number, obj: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    nb.k.enter(this.FN.pool_cache_put_paddr);
    nb.k.args(pc, obj);
    const cc = this.ccOf(pc);
    for (let pass = 0; pass < 3; pass++) {
      const cur = mem.loadPtr(cc + o.cc_current);
      const avail = mem.load32(cur + o.pcg_avail);
      if (avail < mem.load32(cur + o.pcg_size)) {
        mem.storePtr(cur + o.pcg_objects + avail * P, obj);
        mem.store32(cur + o.pcg_avail, avail + 1);
        mem.storePtr(cc + o.cc_hits, mem.loadPtr(cc + o.cc_hits) + 1);
        nb.k.leave();
        return;
      }
      const prev = mem.loadPtr(cc + o.cc_previous);
      if (pass === 0 && mem.load32(prev + o.pcg_avail) < mem.load32(prev + o.pcg_size)) {
        mem.storePtr(cc + o.cc_previous, cur);
        mem.storePtr(cc + o.cc_current, prev);
        continue;
      }
      if (pass > 1) break;
      // Both groups full (or dummy): push previous to the global layer, take an empty group.
      let empty = mem.loadPtr(pc + o.pc_emptygroups);
      if (empty !== 0) {
        mem.storePtr(pc + o.pc_emptygroups, mem.loadPtr(empty + o.pcg_next));
        mem.store32(pc + o.pc_nempty, mem.load32(pc + o.pc_nempty) - 1);
      } else {
        nb.k.site(this.FN.pool_cache_put_paddr + 0x15a);
        empty = this.get(mem.loadPtr(pc + o.pc_pcgpool), 0);
        if (empty === 0) break;
        mem.store32(empty + o.pcg_avail, 0);
        mem.store32(empty + o.pcg_size, mem.load32(pc + o.pc_pcgsize));
      }
      if (prev !== this.g.pcg_dummy) {
        mem.storePtr(prev + o.pcg_next, mem.loadPtr(pc + o.pc_fullgroups));
        mem.storePtr(pc + o.pc_fullgroups, prev);
        mem.store32(pc + o.pc_nfull, mem.load32(pc + o.pc_nfull) + 1);
      }
      mem.storePtr(cc + o.cc_previous, cur);
      mem.storePtr(cc + o.cc_current, empty);
      mem.storePtr(cc + o.cc_misses, mem.loadPtr(cc + o.cc_misses) + 1);
    }
    // No group available: destruct and return the object to the pool.
    const dtor = mem.loadPtr(pc + o.pc_dtor);
    if (dtor !== 0) nb.call(dtor, mem.loadPtr(pc + o.pc_arg), obj);
    this.put(pc + o.pc_pool, obj);
    nb.k.leave();
  }

  /* -------------------------------------------------------------- helpers */

  /** Walk pool_head (bounded), returning pool addresses. */
  pools(max = 10000): number[] {
    const mem = this.nb.mem;
    const out: number[] = [];
    let pp = mem.loadPtr(this.g.pool_head);
    while (pp !== 0 && out.length < max) {
      out.push(pp);
      pp = mem.loadPtr(pp + this.o.pr_poollist);
    }
    return out;
  }

  wchan(pp: number): string {
    return this.nb.str(this.nb.mem.loadPtr(pp + this.o.pr_wchan));
  }
}
