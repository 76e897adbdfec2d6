/*
 * Reading the kmem allocator from a target.
 *
 * Theory
 * ------
 * mdb never asks the allocator: everything here is read from the target's
 * bytes, interpreted with the target's C types (kmem_cache_t, kmem_slab_t,
 * kmem_bufctl_audit_t, ...) and found through its symbols (kmem_caches,
 * kmem_transaction_log, ...).  The semantics are those of illumos
 * (usr/src/uts/common/os/kmem.c and the genunix mdb module):
 *
 *   - caches are on the list_t `kmem_caches`, linked through cache_link;
 *   - slabs are on `cache_complete_slabs` (a list_t) and in
 *     `cache_partial_slabs` (an AVL tree), both through slab_link;
 *   - a slab's free buffers are the chain slab_head -> bc_next; for caches
 *     with KMF_HASH the bufctls are separate objects (bc_addr names the
 *     buffer) and the allocated ones hang off the hash table; otherwise the
 *     bufctl is embedded at buf + cache_bufctl;
 *   - free *constructed* buffers sit in magazines: the per-CPU loaded and
 *     previously loaded magazines (cc_rounds / cc_prounds rounds) and the
 *     depot's full list (magsize rounds each);
 *   - the allocated buffers of a cache are therefore all chunks of all slabs
 *     minus the slab freelists minus the magazine rounds.
 *
 * The memory may be corrupt: that is why we are looking at it.  Every loop
 * is bounded (by the counts the cache claims, with slack, or by a fixed
 * ceiling), a pointer that cannot be read ends that walk with a warning that
 * names the address, a list_t that comes back to a node it has already
 * visited stops there with one warning naming the node, and a list_t that
 * ends in NULL instead of at its head (it was cut) or whose back pointers do
 * not point back says so.  Nothing here throws for bad data except
 * `LayoutError` (the types are missing: the target has no kmem at all).
 * Warnings go to a sink so dcmds can print them as `mdb: ...` and library
 * callers can collect them; `damage` counts them, so an analysis can tell
 * that its answer is incomplete.
 *
 * A cache given by address is checked for identity (checkCache) before it
 * is walked: its name, sizes and geometry must agree with each other and
 * with the per-CPU caches it embeds (cc_flags is the CPU-local copy of
 * cache_flags), so a wrong address gets a one-line error instead of
 * garbage counts or a runaway allocation.
 */

import type { Target } from '../../target/target.js';
import { hex, mod } from '../../machine/addr.js';
import { KMEM_SLAB_NOMOVE, KMEM_STACK_DEPTH, KMF_BUFTAG, KMF_DEADBEEF, KMF_HASH, KMF_LITE, KMF_NOMAGAZINE } from '../../abi/kmem-impl.js';
import { field, rd, rdString, sizeOf, tryField, trySize, LayoutError, type Field } from './fields.js';

/** Upper bound on any list walk when no better bound is known. */
export const WALK_CEILING = 1 << 24;

export type WarnFn = (msg: string) => void;

/** Largest slab a kmem_cache_t may claim (kmem's slabs are a few pages; 16 MiB is far beyond any). */
const MAX_SLAB_BYTES = 1 << 24;

function h(a: number): string {
  return hex(a);
}

/** Offsets of everything kmem's debugger support reads, from the target's types. */
export class KmemLayout {
  readonly ptr: 4 | 8;
  /* kmem_cache_t */
  readonly cache_name: Field;
  readonly cache_bufsize: Field;
  readonly cache_align: Field;
  readonly cache_flags: Field;
  readonly cache_cflags: Field;
  readonly cache_chunksize: Field;
  readonly cache_slabsize: Field;
  readonly cache_maxchunks: Field | undefined;
  readonly cache_bufctl: Field;
  readonly cache_buftag: Field;
  readonly cache_verify: Field | undefined;
  readonly cache_contents: Field | undefined;
  readonly cache_color: Field | undefined;
  readonly cache_maxcolor: Field | undefined;
  readonly cache_hash_table: Field;
  readonly cache_hash_mask: Field;
  readonly cache_hash_shift: Field | undefined;
  readonly cache_complete_slabs: number; // offset of the list_t
  readonly cache_partial_slabs: number; // offset of the avl_tree_t
  readonly cache_magtype: Field | undefined;
  readonly cache_full: number; // offset of kmem_maglist_t
  readonly cache_empty: number;
  readonly cache_cpu: number;
  /** Elements of cache_cpu[] (the booted CPU count; 1 if declared as a flexible array). */
  readonly cpuCount: number;
  readonly cache_arena: Field;
  readonly cache_constructor: Field | undefined;
  readonly cache_destructor: Field | undefined;
  readonly cache_reclaim: Field | undefined;
  readonly cache_link: number;
  readonly cache_bufctl_cache: Field | undefined;
  readonly cache_slab_create: Field;
  readonly cache_slab_destroy: Field;
  readonly cache_slab_alloc: Field;
  readonly cache_slab_free: Field;
  readonly cache_alloc_fail: Field;
  readonly cache_buftotal: Field;
  readonly cache_bufmax: Field;
  readonly cache_bufslab: Field | undefined;
  readonly cache_rescale: Field | undefined;
  readonly cache_lookup_depth: Field | undefined;
  readonly nameLen: number;
  /* list_t / avl */
  readonly list_offset: Field;
  readonly list_head: number;
  readonly list_next: Field;
  readonly list_prev: Field | undefined;
  readonly avl_root: Field;
  readonly avl_offset: Field;
  readonly avl_numnodes: Field | undefined;
  readonly avl_child: Field;
  readonly cache_complete_slab_count: Field | undefined;
  /* kmem_slab_t */
  readonly slab_cache: Field;
  readonly slab_base: Field;
  readonly slab_head: Field;
  readonly slab_refcnt: Field;
  readonly slab_chunks: Field;
  readonly slab_flags: Field | undefined;
  readonly slabSize: number;
  /* kmem_bufctl_t / audit */
  readonly bc_next: Field;
  readonly bc_addr: Field;
  readonly bc_slab: Field;
  readonly bc_cache: Field;
  readonly bc_timestamp: Field;
  readonly bc_thread: Field;
  readonly bc_lastlog: Field;
  readonly bc_contents: Field;
  readonly bc_depth: Field;
  readonly bc_stack: Field;
  readonly auditSize: number;
  /* kmem_buftag_t */
  readonly bt_redzone: number;
  readonly bt_bufctl: Field;
  readonly bt_bxstat: Field;
  readonly bt_history: Field | undefined;
  readonly buftagSize: number;
  /* kmem_cpu_cache_t */
  readonly cpuCacheSize: number;
  readonly cc_alloc: Field;
  readonly cc_free: Field;
  readonly cc_loaded: Field;
  readonly cc_ploaded: Field;
  readonly cc_rounds: Field;
  readonly cc_prounds: Field;
  readonly cc_magsize: Field;
  readonly cc_flags: Field | undefined;
  /* magazines */
  readonly mag_next: Field;
  readonly mag_round: Field;
  readonly ml_list: Field;
  readonly ml_total: Field;
  readonly ml_min: Field | undefined;
  readonly ml_alloc: Field;
  readonly mt_magsize: Field | undefined;
  /* logs */
  readonly lh_base: Field;
  readonly lh_chunksize: Field;
  readonly lh_nchunks: Field;
  readonly lh_cpu: Field;
  readonly cpuLogSize: number;
  readonly clh_current: Field;
  readonly clh_chunk: Field;

  constructor(readonly target: Target) {
    const tt = target.types;
    this.ptr = target.model.ptrSize;
    const C = 'kmem_cache_t';
    const f = (p: string) => field(tt, C, p);
    const o = (p: string) => tryField(tt, C, p);
    this.cache_name = f('cache_name');
    this.nameLen = this.cache_name.count;
    this.cache_bufsize = f('cache_bufsize');
    this.cache_align = f('cache_align');
    this.cache_flags = f('cache_flags');
    this.cache_cflags = f('cache_cflags');
    this.cache_chunksize = f('cache_chunksize');
    this.cache_slabsize = f('cache_slabsize');
    this.cache_maxchunks = o('cache_maxchunks');
    this.cache_bufctl = f('cache_bufctl');
    this.cache_buftag = f('cache_buftag');
    this.cache_verify = o('cache_verify');
    this.cache_contents = o('cache_contents');
    this.cache_color = o('cache_color');
    this.cache_maxcolor = o('cache_maxcolor');
    this.cache_hash_table = f('cache_hash_table');
    this.cache_hash_mask = f('cache_hash_mask');
    this.cache_hash_shift = o('cache_hash_shift');
    this.cache_complete_slabs = f('cache_complete_slabs').off;
    this.cache_complete_slab_count = o('cache_complete_slab_count');
    this.cache_partial_slabs = f('cache_partial_slabs').off;
    this.cache_magtype = o('cache_magtype');
    this.cache_full = f('cache_full').off;
    this.cache_empty = f('cache_empty').off;
    const ccf = f('cache_cpu');
    this.cache_cpu = ccf.off;
    this.cpuCount = ccf.count;
    this.cache_arena = f('cache_arena');
    this.cache_constructor = o('cache_constructor');
    this.cache_destructor = o('cache_destructor');
    this.cache_reclaim = o('cache_reclaim');
    this.cache_link = f('cache_link').off;
    this.cache_bufctl_cache = o('cache_bufctl_cache');
    this.cache_slab_create = f('cache_slab_create');
    this.cache_slab_destroy = f('cache_slab_destroy');
    this.cache_slab_alloc = f('cache_slab_alloc');
    this.cache_slab_free = f('cache_slab_free');
    this.cache_alloc_fail = f('cache_alloc_fail');
    this.cache_buftotal = f('cache_buftotal');
    this.cache_bufmax = f('cache_bufmax');
    this.cache_bufslab = o('cache_bufslab');
    this.cache_rescale = o('cache_rescale');
    this.cache_lookup_depth = o('cache_lookup_depth');

    const lt = tt.find('list_t') !== undefined ? 'list_t' : 'struct list';
    this.list_offset = field(tt, lt, 'list_offset');
    this.list_head = field(tt, lt, 'list_head').off;
    const ln = tt.find('list_node_t') !== undefined ? 'list_node_t' : 'struct list_node';
    this.list_next = field(tt, ln, 'list_next');
    this.list_prev = tryField(tt, ln, 'list_prev');
    const at = tt.find('avl_tree_t') !== undefined ? 'avl_tree_t' : 'struct avl_tree';
    this.avl_root = field(tt, at, 'avl_root');
    this.avl_offset = field(tt, at, 'avl_offset');
    this.avl_numnodes = tryField(tt, at, 'avl_numnodes');
    const an = tt.find('avl_node_t') !== undefined ? 'avl_node_t' : 'struct avl_node';
    this.avl_child = field(tt, an, 'avl_child');

    const S = 'kmem_slab_t';
    this.slab_cache = field(tt, S, 'slab_cache');
    this.slab_base = field(tt, S, 'slab_base');
    this.slab_head = field(tt, S, 'slab_head');
    this.slab_refcnt = field(tt, S, 'slab_refcnt');
    this.slab_chunks = field(tt, S, 'slab_chunks');
    this.slab_flags = tryField(tt, S, 'slab_flags');
    this.slabSize = sizeOf(tt, S);

    const B = 'kmem_bufctl_audit_t';
    this.bc_next = field(tt, B, 'bc_next');
    this.bc_addr = field(tt, B, 'bc_addr');
    this.bc_slab = field(tt, B, 'bc_slab');
    this.bc_cache = field(tt, B, 'bc_cache');
    this.bc_timestamp = field(tt, B, 'bc_timestamp');
    this.bc_thread = field(tt, B, 'bc_thread');
    this.bc_lastlog = field(tt, B, 'bc_lastlog');
    this.bc_contents = field(tt, B, 'bc_contents');
    this.bc_depth = field(tt, B, 'bc_depth');
    this.bc_stack = field(tt, B, 'bc_stack');
    this.auditSize = sizeOf(tt, B);

    const T = 'kmem_buftag_t';
    this.bt_redzone = field(tt, T, 'bt_redzone').off;
    this.bt_bufctl = field(tt, T, 'bt_bufctl');
    this.bt_bxstat = field(tt, T, 'bt_bxstat');
    this.bt_history = tryField(tt, 'kmem_buftag_lite_t', 'bt_history');
    this.buftagSize = sizeOf(tt, T);

    const CC = 'kmem_cpu_cache_t';
    this.cpuCacheSize = sizeOf(tt, CC);
    this.cc_alloc = field(tt, CC, 'cc_alloc');
    this.cc_free = field(tt, CC, 'cc_free');
    this.cc_loaded = field(tt, CC, 'cc_loaded');
    this.cc_ploaded = field(tt, CC, 'cc_ploaded');
    this.cc_rounds = field(tt, CC, 'cc_rounds');
    this.cc_prounds = field(tt, CC, 'cc_prounds');
    this.cc_magsize = field(tt, CC, 'cc_magsize');
    this.cc_flags = tryField(tt, CC, 'cc_flags');

    this.mag_next = field(tt, 'kmem_magazine_t', 'mag_next');
    this.mag_round = field(tt, 'kmem_magazine_t', 'mag_round');
    this.ml_list = field(tt, 'kmem_maglist_t', 'ml_list');
    this.ml_total = field(tt, 'kmem_maglist_t', 'ml_total');
    this.ml_min = tryField(tt, 'kmem_maglist_t', 'ml_min');
    this.ml_alloc = field(tt, 'kmem_maglist_t', 'ml_alloc');
    this.mt_magsize = tryField(tt, 'kmem_magtype_t', 'mt_magsize');

    const LH = 'kmem_log_header_t';
    this.lh_base = field(tt, LH, 'lh_base');
    this.lh_chunksize = field(tt, LH, 'lh_chunksize');
    this.lh_nchunks = field(tt, LH, 'lh_nchunks');
    this.lh_cpu = field(tt, LH, 'lh_cpu');
    this.cpuLogSize = trySize(tt, 'kmem_cpu_log_header_t') ?? this.lh_cpu.elemSize;
    this.clh_current = field(tt, 'kmem_cpu_log_header_t', 'clh_current');
    this.clh_chunk = field(tt, 'kmem_cpu_log_header_t', 'clh_chunk');
  }
}

const layouts = new WeakMap<Target, KmemLayout>();

/** The (cached) kmem layout of a target; throws LayoutError if it has no kmem types. */
export function kmemLayout(t: Target): KmemLayout {
  let l = layouts.get(t);
  if (!l) {
    l = new KmemLayout(t);
    layouts.set(t, l);
  }
  return l;
}

/** Everything a dcmd needs to know about one cache, read in one go. */
export interface CacheInfo {
  readonly addr: number;
  readonly name: string;
  readonly flags: number;
  readonly cflags: number;
  readonly bufsize: number;
  readonly align: number;
  readonly chunksize: number;
  readonly slabsize: number;
  readonly maxchunks: number;
  readonly bufctlOff: number;
  readonly buftagOff: number;
  readonly verify: number;
  readonly arena: number;
  readonly constructor_: number;
  readonly hashTable: number;
  readonly hashMask: number;
  readonly hashShift: number;
  readonly slabCreate: number;
  readonly slabDestroy: number;
  readonly slabAlloc: number;
  readonly slabFree: number;
  readonly allocFail: number;
  readonly buftotal: number;
  readonly bufmax: number;
  readonly bufslab: number;
  readonly magsize: number;
  readonly fullList: number;
  readonly fullTotal: number;
  readonly fullAlloc: number;
  readonly emptyAlloc: number;
}

export interface CpuCacheInfo {
  readonly addr: number;
  readonly alloc: number;
  readonly free: number;
  readonly loaded: number;
  readonly ploaded: number;
  readonly rounds: number;
  readonly prounds: number;
  readonly magsize: number;
}

/** One audit record (a bufctl_audit or a transaction log entry). */
export interface BufctlAudit {
  readonly addr: number;
  readonly next: number;
  readonly bufaddr: number;
  readonly slab: number;
  readonly cache: number;
  readonly timestamp: number;
  readonly thread: number;
  readonly lastlog: number;
  readonly contents: number;
  readonly depth: number;
  readonly stack: readonly number[];
}

/** What ::kmem_slabs reports of a cache (see KmemView.slabUsage). */
export interface SlabUsage {
  readonly slabs: number;
  /** Unused buffers on slabs that are not completely allocated. */
  readonly unused: number;
  /** buckets[n]: slabs with n buffers allocated (n = 0..maxchunks). */
  readonly buckets: readonly number[];
  /** Slabs with unused buffers, in walk order. */
  readonly partial: ReadonlyArray<{ readonly refcnt: number; readonly nomove: boolean }>;
}

/** A buffer of a walk: its address and its bufctl (0 when the cache has none). */
export interface BufRef {
  readonly buf: number;
  readonly bufctl: number;
}

/**
 * A view of the kmem allocator in a target.  Cheap to create (the layout is
 * cached per target); it reads memory on demand and caches nothing that a
 * live kernel could change, except within one call.
 */
export class KmemView {
  readonly L: KmemLayout;
  readonly ptr: number;
  /** Warnings given so far: each names damage that may have cut an answer short. */
  damage = 0;
  readonly warn: WarnFn;
  private cacheInfoMemo = new Map<number, CacheInfo>();

  constructor(
    readonly t: Target,
    warn: WarnFn = () => {},
  ) {
    this.L = kmemLayout(t);
    this.ptr = t.model.ptrSize;
    this.warn = (m) => {
      this.damage++;
      warn(m);
    };
  }

  /* ------------------------------------------------------------ helpers */

  private sym(name: string): number {
    const s = this.t.symbolByName(name);
    if (!s) throw new LayoutError(`symbol ${name} is not in the target`);
    return s.value;
  }

  /** Number of CPUs whose kmem_cpu_cache_t exist in each cache. */
  ncpus(): number {
    if (this.L.cpuCount > 1) return this.L.cpuCount;
    for (const n of ['max_ncpus', 'ncpus']) {
      const s = this.t.symbolByName(n);
      if (s) {
        try {
          const v = this.t.load32(s.value) | 0;
          if (v > 0 && v <= 1024) return v;
        } catch {
          /* fall through */
        }
      }
    }
    return 1;
  }

  /** Walk a list_t at `listAddr`, yielding object addresses (bounded). */
  listWalk(listAddr: number, what: string, limit = WALK_CEILING): number[] {
    const L = this.L;
    const out: number[] = [];
    let off: number;
    let node: number;
    try {
      off = rd(this.t, listAddr, L.list_offset);
      node = rd(this.t, listAddr + L.list_head, L.list_next);
    } catch {
      this.warn(`failed to read ${what} list at ${h(listAddr)}`);
      return out;
    }
    const head = listAddr + L.list_head;
    const seen = new Set<number>();
    let prev = head;
    let backChecked = false;
    while (node !== head) {
      if (node === 0) {
        this.warn(`${what} list at ${h(listAddr)} is cut: node ${h(prev)} links to NULL after ${out.length} ${out.length === 1 ? 'entry' : 'entries'}, not back to the head`);
        break;
      }
      if (seen.has(node)) {
        this.warn(`${what} list at ${h(listAddr)} is circular: node ${h(prev)} links back to ${h(node)}; stopped after ${out.length} entries`);
        break;
      }
      if (out.length >= limit) {
        this.warn(`${what} list at ${h(listAddr)} is too long; stopped at ${h(node)} after ${limit} entries`);
        break;
      }
      seen.add(node);
      out.push(node - off);
      try {
        if (!backChecked && L.list_prev && rd(this.t, node, L.list_prev) !== prev) {
          this.warn(`${what} list at ${h(listAddr)}: the back pointer of node ${h(node)} does not point back to ${h(prev)}`);
          backChecked = true; // one warning per list
        }
        prev = node;
        node = rd(this.t, node, L.list_next);
      } catch {
        this.warn(`failed to read ${what} list node at ${h(node)}`);
        break;
      }
    }
    return out;
  }

  /** In-order walk of an avl_tree_t at `treeAddr`, yielding object addresses (bounded). */
  avlWalk(treeAddr: number, what: string, limit = WALK_CEILING): number[] {
    const L = this.L;
    const out: number[] = [];
    let root: number;
    let off: number;
    try {
      root = rd(this.t, treeAddr, L.avl_root);
      off = rd(this.t, treeAddr, L.avl_offset);
    } catch {
      this.warn(`failed to read ${what} tree at ${h(treeAddr)}`);
      return out;
    }
    const stack: number[] = [];
    let node = root;
    let steps = 0;
    const seen = new Set<number>();
    while (node !== 0 || stack.length > 0) {
      if (++steps > 2 * limit + 2) {
        this.warn(`${what} tree at ${h(treeAddr)} is corrupt; stopped at ${h(node)}`);
        break;
      }
      if (node !== 0) {
        if (seen.has(node)) {
          this.warn(`${what} tree at ${h(treeAddr)} has a cycle at ${h(node)}`);
          break;
        }
        seen.add(node);
        if (stack.length > 256) {
          this.warn(`${what} tree at ${h(treeAddr)} is too deep at ${h(node)}`);
          break;
        }
        stack.push(node);
        try {
          node = rd(this.t, node, L.avl_child, 0);
        } catch {
          this.warn(`failed to read ${what} tree node at ${h(node)}`);
          stack.pop();
          node = 0;
        }
        continue;
      }
      const n = stack.pop()!;
      out.push(n - off);
      if (out.length >= limit) break;
      try {
        node = rd(this.t, n, L.avl_child, 1);
      } catch {
        this.warn(`failed to read ${what} tree node at ${h(n)}`);
        node = 0;
      }
    }
    return out;
  }

  /* ------------------------------------------------------------- caches */

  /** Cache addresses in creation order (the kmem_cache walker). */
  caches(): number[] {
    return this.listWalk(this.sym('kmem_caches'), 'kmem_caches', 65536);
  }

  /** Read a cache; throws TargetReadError if unreadable. */
  cache(addr: number): CacheInfo {
    const memo = this.cacheInfoMemo.get(addr);
    if (memo) return memo;
    const L = this.L;
    const t = this.t;
    const r = (f: Field) => rd(t, addr, f);
    const opt = (f: Field | undefined, d = 0) => (f ? rd(t, addr, f) : d);
    const flags = r(L.cache_flags);
    let magsize = 0;
    const mt = opt(L.cache_magtype);
    if (mt !== 0 && L.mt_magsize) {
      try {
        magsize = rd(t, mt, L.mt_magsize);
      } catch {
        magsize = 0;
      }
    }
    if (magsize === 0) {
      try {
        magsize = rd(t, addr + L.cache_cpu, L.cc_magsize);
      } catch {
        magsize = 0;
      }
    }
    if (flags & KMF_NOMAGAZINE) magsize = 0;
    const chunksize = r(L.cache_chunksize);
    const slabsize = r(L.cache_slabsize);
    const info: CacheInfo = {
      addr,
      name: rdString(t, addr + L.cache_name.off, L.nameLen),
      flags,
      cflags: r(L.cache_cflags),
      bufsize: r(L.cache_bufsize),
      align: r(L.cache_align),
      chunksize,
      slabsize,
      maxchunks: opt(L.cache_maxchunks, chunksize > 0 ? Math.floor(slabsize / chunksize) : 0),
      bufctlOff: r(L.cache_bufctl),
      buftagOff: r(L.cache_buftag),
      verify: opt(L.cache_verify),
      arena: r(L.cache_arena),
      constructor_: opt(L.cache_constructor),
      hashTable: r(L.cache_hash_table),
      hashMask: r(L.cache_hash_mask),
      hashShift: opt(L.cache_hash_shift),
      slabCreate: r(L.cache_slab_create),
      slabDestroy: r(L.cache_slab_destroy),
      slabAlloc: r(L.cache_slab_alloc),
      slabFree: r(L.cache_slab_free),
      allocFail: r(L.cache_alloc_fail),
      buftotal: r(L.cache_buftotal),
      bufmax: r(L.cache_bufmax),
      bufslab: opt(L.cache_bufslab),
      magsize,
      fullList: rd(t, addr + L.cache_full, L.ml_list),
      fullTotal: rd(t, addr + L.cache_full, L.ml_total),
      fullAlloc: rd(t, addr + L.cache_full, L.ml_alloc),
      emptyAlloc: rd(t, addr + L.cache_empty, L.ml_alloc),
    };
    this.cacheInfoMemo.set(addr, info);
    return info;
  }

  /** Is `addr` plausibly a kmem_cache_t (on the kmem_caches list)? */
  isCache(addr: number): boolean {
    return this.caches().includes(addr);
  }

  /**
   * Why `addr` is not a kmem_cache_t, or undefined if it looks like one:
   * readable, a printable NUL-terminated name, sizes that fit together
   * (0 < bufsize <= chunksize <= slabsize, maxchunks chunks fit in a slab)
   * and every per-CPU cache's cc_flags equal to cache_flags.  This is an
   * identity check of the bytes, independent of the kmem_caches list (which
   * may itself be damaged).
   */
  checkCache(addr: number): string | undefined {
    let ci: CacheInfo;
    let raw: Uint8Array;
    try {
      ci = this.cache(addr);
      raw = this.t.read(addr + this.L.cache_name.off, this.L.nameLen);
    } catch {
      return 'cannot be read';
    }
    const nul = raw.indexOf(0);
    if (nul <= 0 || raw.subarray(0, nul).some((b) => b < 0x20 || b > 0x7e)) return 'has no cache name';
    if (!(ci.bufsize > 0 && ci.chunksize >= ci.bufsize && ci.slabsize >= ci.chunksize)) return `has inconsistent sizes (buf ${ci.bufsize}, chunk ${ci.chunksize}, slab ${ci.slabsize})`;
    if (ci.slabsize > MAX_SLAB_BYTES) return `has a ${ci.slabsize}-byte slab`;
    if (!(ci.maxchunks >= 1 && ci.maxchunks * ci.chunksize <= ci.slabsize)) return `has ${ci.maxchunks} chunks of ${ci.chunksize} bytes in a ${ci.slabsize}-byte slab`;
    const ccFlags = this.L.cc_flags;
    if (ccFlags) {
      const n = this.ncpus();
      for (let i = 0; i < n; i++) {
        let f: number;
        try {
          f = rd(this.t, addr + this.L.cache_cpu + i * this.L.cpuCacheSize, ccFlags);
        } catch {
          return `has an unreadable cache_cpu[${i}]`;
        }
        if (f !== ci.flags) return `has cache_cpu[${i}].cc_flags ${h(f)} != cache_flags ${h(ci.flags)}`;
      }
    }
    return undefined;
  }

  cacheByName(name: string): number | undefined {
    for (const c of this.caches()) {
      try {
        if (this.cache(c).name === name) return c;
      } catch {
        /* unreadable cache */
      }
    }
    return undefined;
  }

  cpuCaches(c: number): CpuCacheInfo[] {
    const L = this.L;
    const out: CpuCacheInfo[] = [];
    const n = this.ncpus();
    for (let i = 0; i < n; i++) {
      const a = c + L.cache_cpu + i * L.cpuCacheSize;
      out.push({
        addr: a,
        alloc: rd(this.t, a, L.cc_alloc),
        free: rd(this.t, a, L.cc_free),
        loaded: rd(this.t, a, L.cc_loaded),
        ploaded: rd(this.t, a, L.cc_ploaded),
        rounds: rd(this.t, a, L.cc_rounds),
        prounds: rd(this.t, a, L.cc_prounds),
        magsize: rd(this.t, a, L.cc_magsize),
      });
    }
    return out;
  }

  /* -------------------------------------------------------------- slabs */

  completeSlabs(c: number): number[] {
    const before = this.damage;
    const out = this.listWalk(c + this.L.cache_complete_slabs, `cache ${h(c)} complete slab`, 1 << 22);
    if (this.damage === before) this.checkCount(out.length, c, this.L.cache_complete_slab_count, `cache ${h(c)} complete slab list`, 'cache_complete_slab_count');
    return out;
  }

  partialSlabs(c: number): number[] {
    const before = this.damage;
    const out = this.avlWalk(c + this.L.cache_partial_slabs, `cache ${h(c)} partial slab`, 1 << 22);
    if (this.damage === before) this.checkCount(out.length, c + this.L.cache_partial_slabs, this.L.avl_numnodes, `cache ${h(c)} partial slab tree`, 'avl_numnodes');
    return out;
  }

  /** Warn when a walk that ended normally found a different number of entries than the count the kernel keeps. */
  private checkCount(walked: number, base: number, f: Field | undefined, what: string, name: string): void {
    if (!f) return;
    let kept: number;
    try {
      kept = rd(this.t, base, f);
    } catch {
      return;
    }
    if (kept !== walked) this.warn(`${what} has ${walked} entries, but ${name} says ${kept}`);
  }

  /** Complete then partial slabs (the kmem_slab walker). */
  slabs(c: number): number[] {
    return [...this.completeSlabs(c), ...this.partialSlabs(c)];
  }

  /**
   * Slab usage of a cache as ::kmem_slabs counts it (illumos
   * kmem_slablist_stat): over every slab (complete, then partial), a
   * histogram of allocated buffers per slab (index 0..maxchunks), and for
   * each slab with unused buffers its refcnt and whether it is NOMOVE.
   */
  slabUsage(ci: CacheInfo): SlabUsage {
    const L = this.L;
    let max = Math.max(ci.maxchunks, 0);
    if (max > MAX_SLAB_BYTES / 8) {
      this.warn(`cache ${h(ci.addr)} claims ${ci.maxchunks} chunks per slab; its slab histogram is left empty`);
      max = 0;
    }
    const buckets = new Array<number>(max + 1).fill(0);
    const partial: Array<{ refcnt: number; nomove: boolean }> = [];
    let slabs = 0;
    let unused = 0;
    for (const s of this.slabs(ci.addr)) {
      let chunks: number;
      let refcnt: number;
      let sflags = 0;
      try {
        chunks = rd(this.t, s, L.slab_chunks);
        refcnt = rd(this.t, s, L.slab_refcnt);
        if (L.slab_flags) sflags = rd(this.t, s, L.slab_flags);
      } catch {
        this.warn(`failed to read slab at ${h(s)}`);
        break;
      }
      slabs++;
      if (refcnt >= 0 && refcnt <= max) buckets[refcnt]!++;
      else this.warn(`slab ${h(s)} of cache ${h(ci.addr)} has refcnt ${refcnt}, more than ${max} chunks`);
      const u = chunks - refcnt;
      if (u === 0) continue;
      unused += u;
      partial.push({ refcnt, nomove: (sflags & KMEM_SLAB_NOMOVE) !== 0 });
    }
    return { slabs, unused, buckets, partial };
  }

  /* ---------------------------------------------------------- magazines */

  /** The rounds of one magazine (the first n). */
  private magRounds(mag: number, n: number, out: number[], magsize: number): void {
    if (mag === 0 || n <= 0) return;
    if (n > magsize) {
      this.warn(`magazine ${h(mag)} claims ${n} rounds, more than its size ${magsize}`);
      n = magsize;
    }
    for (let i = 0; i < n; i++) {
      try {
        out.push(rd(this.t, mag, this.L.mag_round, i));
      } catch {
        this.warn(`failed to read magazine ${h(mag)}`);
        return;
      }
    }
  }

  /**
   * All buffers in the cache's magazines, in illumos' order: the depot's
   * full list, then each CPU's loaded and previously loaded magazines.
   */
  magazineRounds(ci: CacheInfo): number[] {
    const out: number[] = [];
    const magsize = ci.magsize;
    if (magsize <= 0) return out;
    let mag = ci.fullList;
    const seen = new Set<number>();
    const limit = Math.max(ci.fullTotal, 0) + 16;
    let whole = true;
    while (mag !== 0) {
      if (seen.has(mag)) {
        this.warn(`depot full magazine list of cache ${h(ci.addr)} loops back to magazine ${h(mag)} after ${seen.size}`);
        whole = false;
        break;
      }
      if (seen.size >= limit) {
        this.warn(`depot full magazine list of cache ${h(ci.addr)} is longer than ml_total ${ci.fullTotal}; stopped at ${h(mag)}`);
        whole = false;
        break;
      }
      seen.add(mag);
      this.magRounds(mag, magsize, out, magsize);
      try {
        mag = rd(this.t, mag, this.L.mag_next);
      } catch {
        this.warn(`failed to read magazine ${h(mag)}`);
        whole = false;
        break;
      }
    }
    if (whole && seen.size !== ci.fullTotal) this.warn(`depot full magazine list of cache ${h(ci.addr)} holds ${seen.size} magazines, but ml_total says ${ci.fullTotal}`);
    let cpus: CpuCacheInfo[];
    try {
      cpus = this.cpuCaches(ci.addr);
    } catch {
      this.warn(`failed to read the per-CPU caches of cache ${h(ci.addr)}`);
      return out;
    }
    for (const cc of cpus) {
      this.magRounds(cc.loaded, cc.rounds, out, magsize);
      this.magRounds(cc.ploaded, cc.prounds, out, magsize);
    }
    return out;
  }

  /* --------------------------------------------------- buffers of a cache */

  /** The buffer a freelist bufctl stands for. */
  private bufOfCtl(ci: CacheInfo, bcp: number): number {
    if (ci.flags & KMF_HASH) return rd(this.t, bcp, this.L.bc_addr);
    return bcp - ci.bufctlOff;
  }

  /** Free buffers on one slab's freelist (bounded by slab_chunks). */
  slabFreelist(ci: CacheInfo, slab: number): BufRef[] {
    const L = this.L;
    const out: BufRef[] = [];
    let chunks: number;
    let refcnt: number;
    let bcp: number;
    try {
      chunks = rd(this.t, slab, L.slab_chunks);
      refcnt = rd(this.t, slab, L.slab_refcnt);
      bcp = rd(this.t, slab, L.slab_head);
    } catch {
      this.warn(`failed to read slab ${h(slab)} of cache ${h(ci.addr)}`);
      return out;
    }
    const limit = Math.min(Math.max(chunks, 0), ci.maxchunks > 0 ? ci.maxchunks : chunks) + 1;
    const seen = new Set<number>();
    let whole = true;
    while (bcp !== 0) {
      if (seen.has(bcp)) {
        this.warn(`slab ${h(slab)} in cache ${h(ci.addr)} has a freelist that loops back to bufctl ${h(bcp)}`);
        whole = false;
        break;
      }
      if (out.length >= limit) {
        this.warn(`slab ${h(slab)} in cache ${h(ci.addr)} has a freelist longer than its ${chunks} chunks; stopped at ${h(bcp)}`);
        whole = false;
        break;
      }
      seen.add(bcp);
      let buf: number;
      let next: number;
      try {
        buf = this.bufOfCtl(ci, bcp);
        next = rd(this.t, bcp, L.bc_next);
      } catch {
        this.warn(`found corrupt bufctl ptr ${h(bcp)} in slab ${h(slab)} in cache ${h(ci.addr)}`);
        break;
      }
      out.push({ buf, bufctl: ci.flags & KMF_HASH ? bcp : 0 });
      bcp = next;
    }
    if (whole && bcp === 0 && out.length !== chunks - refcnt) {
      this.warn(`slab ${h(slab)} in cache ${h(ci.addr)} has ${out.length} free buffers on its freelist, but ${chunks} chunks with refcnt ${refcnt}`);
    }
    return out;
  }

  /**
   * Bufctl of a magazine buffer, or 0: from its buftag when the cache has
   * one, else (a KMF_HASH cache without buftags) looked up in the hash
   * table, where a buffer in a magazine still hangs (illumos
   * kmem_hash_lookup).
   */
  private magBufctl(ci: CacheInfo, buf: number): number {
    if (!(ci.flags & KMF_HASH)) return 0;
    if (!(ci.flags & KMF_BUFTAG)) return this.hashLookup(ci, buf);
    try {
      return rd(this.t, buf + ci.buftagOff, this.L.bt_bufctl);
    } catch {
      this.warn(`reading buftag for ${h(buf)} at ${h(buf + ci.buftagOff)}`);
      return 0;
    }
  }

  /** The bufctl of buf on its hash chain (KMEM_HASH: bucket (buf >> hash_shift) & hash_mask), or 0 with a warning. */
  hashLookup(ci: CacheInfo, buf: number): number {
    const bucket = ci.hashTable + mod(Math.floor(buf / 2 ** ci.hashShift), ci.hashMask + 1) * this.ptr;
    let bcp: number;
    try {
      bcp = this.t.loadPtr(bucket);
    } catch {
      this.warn(`unable to read hash bucket for ${h(buf)} in cache ${h(ci.addr)}`);
      return 0;
    }
    for (let n = 0; bcp !== 0 && n <= Math.max(ci.buftotal, 0) + 64; n++) {
      try {
        if (rd(this.t, bcp, this.L.bc_addr) === buf) return bcp;
        bcp = rd(this.t, bcp, this.L.bc_next);
      } catch {
        this.warn(`unable to read bufctl at ${h(bcp)}`);
        return 0;
      }
    }
    this.warn(`unable to find bufctl for ${h(buf)} in cache ${h(ci.addr)}`);
    return 0;
  }

  /**
   * Free buffers that are constructed (illumos KM_FREE | KM_CONSTRUCTED):
   * the magazine rounds, and only when the cache has a constructor and
   * does not fill free buffers with 0xdeadbeef (KMF_DEADBEEF without
   * KMF_LITE destroys the constructed state); otherwise none.
   */
  constructedBuffers(ci: CacheInfo): BufRef[] {
    if (ci.constructor_ === 0 || (ci.flags & (KMF_DEADBEEF | KMF_LITE)) === KMF_DEADBEEF) return [];
    return this.magazineRounds(ci).map((b) => ({ buf: b, bufctl: this.magBufctl(ci, b) }));
  }

  /** Free buffers: magazine rounds first, then the partial slabs' freelists. */
  freeBuffers(ci: CacheInfo): BufRef[] {
    const out: BufRef[] = [];
    for (const b of this.magazineRounds(ci)) out.push({ buf: b, bufctl: this.magBufctl(ci, b) });
    for (const s of this.partialSlabs(ci.addr)) for (const r of this.slabFreelist(ci, s)) out.push(r);
    return out;
  }

  /**
   * Every bufctl on the hash table of a KMF_HASH cache, bucket by bucket and
   * down each chain (the kmem_hash walker): the buffers the slab layer has
   * handed out, including those now resting in magazines.  Bounded by the
   * cache's buffer count (with slack).
   */
  hashChains(ci: CacheInfo): BufRef[] {
    const out: BufRef[] = [];
    const nb = ci.hashMask + 1;
    if (ci.hashTable === 0 || nb <= 0 || nb > 1 << 24) {
      this.warn(`cache ${h(ci.addr)} has a bad hash table (${h(ci.hashTable)}, mask ${h(ci.hashMask)})`);
      return out;
    }
    const limit = Math.max(ci.buftotal, 0) + 64;
    for (let i = 0; i < nb; i++) {
      let bcp: number;
      try {
        bcp = this.t.loadPtr(ci.hashTable + i * this.ptr);
      } catch {
        this.warn(`failed to read hash table of cache ${h(ci.addr)} at ${h(ci.hashTable + i * this.ptr)}`);
        break;
      }
      while (bcp !== 0) {
        if (out.length >= limit) {
          this.warn(`hash chains of cache ${h(ci.addr)} hold more bufctls than the cache's ${ci.buftotal} buffers (cycle at ${h(bcp)})`);
          return out;
        }
        try {
          out.push({ buf: rd(this.t, bcp, this.L.bc_addr), bufctl: bcp });
          bcp = rd(this.t, bcp, this.L.bc_next);
        } catch {
          this.warn(`failed to read bufctl ${h(bcp)} in the hash table of cache ${h(ci.addr)}`);
          break;
        }
      }
    }
    return out;
  }

  /**
   * Allocated buffers in address order.  HASH caches: the bufctls on the
   * hash chains (minus magazine buffers).  Others: every chunk of every slab
   * minus the freelists and the magazine rounds.
   */
  allocatedBuffers(ci: CacheInfo): BufRef[] {
    const mags = new Set(this.magazineRounds(ci));
    const out: BufRef[] = [];
    const L = this.L;
    if (ci.flags & KMF_HASH) {
      for (const r of this.hashChains(ci)) if (!mags.has(r.buf)) out.push(r);
      out.sort((a, b) => a.buf - b.buf);
      return out;
    }
    const slabs = this.slabs(ci.addr).sort((a, b) => a - b);
    for (const s of slabs) {
      let base: number;
      let chunks: number;
      try {
        base = rd(this.t, s, L.slab_base);
        chunks = rd(this.t, s, L.slab_chunks);
      } catch {
        this.warn(`failed to read slab ${h(s)} of cache ${h(ci.addr)}`);
        continue;
      }
      if (chunks < 0 || chunks > Math.max(ci.maxchunks, 1) || ci.chunksize <= 0) {
        this.warn(`slab ${h(s)} in cache ${h(ci.addr)} claims ${chunks} chunks (max ${ci.maxchunks})`);
        continue;
      }
      const free = new Uint8Array(chunks);
      for (const r of this.slabFreelist(ci, s)) {
        const d = r.buf - base;
        const idx = Math.floor(d / ci.chunksize);
        if (d < 0 || idx >= chunks || d % ci.chunksize !== 0) {
          this.warn(`buf ${h(r.buf)} is out of range for slab ${h(s)}, cache ${h(ci.addr)}`);
          continue;
        }
        free[idx] = 1;
      }
      for (let i = 0; i < chunks; i++) {
        if (free[i]) continue;
        const buf = base + i * ci.chunksize;
        if (!mags.has(buf)) out.push({ buf, bufctl: 0 });
      }
    }
    return out;
  }

  /* -------------------------------------------------------------- audit */

  readAudit(a: number): BufctlAudit {
    const L = this.L;
    const t = this.t;
    let depth = rd(t, a, L.bc_depth);
    if (depth < 0) depth = 0;
    const max = Math.min(L.bc_stack.count, KMEM_STACK_DEPTH);
    if (depth > max) depth = max;
    const stack: number[] = [];
    for (let i = 0; i < depth; i++) stack.push(rd(t, a, L.bc_stack, i));
    return {
      addr: a,
      next: rd(t, a, L.bc_next),
      bufaddr: rd(t, a, L.bc_addr),
      slab: rd(t, a, L.bc_slab),
      cache: rd(t, a, L.bc_cache),
      timestamp: rd(t, a, L.bc_timestamp),
      thread: rd(t, a, L.bc_thread),
      lastlog: rd(t, a, L.bc_lastlog),
      contents: rd(t, a, L.bc_contents),
      depth,
      stack,
    };
  }

  /** The `kmem_log` walk: all entries of a log header, newest first. */
  logEntries(header: number): number[] {
    const L = this.L;
    const base = rd(this.t, header, L.lh_base);
    const chunksize = rd(this.t, header, L.lh_chunksize);
    const nchunks = rd(this.t, header, L.lh_nchunks);
    if (base === 0 || chunksize <= 0 || nchunks <= 0 || nchunks > 1 << 20 || chunksize > 1 << 30) {
      this.warn(`log header ${h(header)} is corrupt (base ${h(base)}, ${nchunks} chunks of ${chunksize})`);
      return [];
    }
    const per = Math.floor(chunksize / L.auditSize);
    const ents: Array<{ a: number; ts: number }> = [];
    for (let c = 0; c < nchunks; c++) {
      for (let j = 0; j < per; j++) {
        const a = base + c * chunksize + j * L.auditSize;
        let ts: number;
        let addr: number;
        try {
          ts = rd(this.t, a, L.bc_timestamp);
          addr = rd(this.t, a, L.bc_addr);
        } catch {
          this.warn(`failed to read log entry at ${h(a)}`);
          break;
        }
        if (ts === 0 && addr === 0) continue;
        ents.push({ a, ts });
      }
    }
    ents.sort((x, y) => y.ts - x.ts || y.a - x.a);
    return ents.map((e) => e.a);
  }

  /** The log header a global names (kmem_transaction_log, kmem_failure_log, kmem_slab_log). */
  logHeader(globalName: string): number {
    const s = this.t.symbolByName(globalName);
    if (!s) return 0;
    try {
      return this.t.loadPtr(s.value);
    } catch {
      return 0;
    }
  }

  /** For an entry of a log: the CPU whose current chunk holds it, or -1. */
  logCpuOf(header: number, entry: number): number {
    const L = this.L;
    try {
      const base = rd(this.t, header, L.lh_base);
      const chunksize = rd(this.t, header, L.lh_chunksize);
      const n = this.ncpus();
      for (let i = 0; i < n; i++) {
        const clh = header + L.lh_cpu.off + i * L.cpuLogSize;
        const cur = rd(this.t, clh, L.clh_current);
        const chunk = rd(this.t, clh, L.clh_chunk);
        const cb = base + chunk * chunksize;
        if (entry >= cb && entry < cur) return i;
      }
    } catch {
      return -1;
    }
    return -1;
  }

  /** The first stack frame whose function is not named with one of the prefixes. */
  caller(stack: readonly number[], prefixes: readonly string[] = ['kmem_'], skipUnknown = false): number {
    for (const pc of stack) {
      const s = this.t.symbolByAddr(pc);
      if (!s && skipUnknown) continue; // as ::bufctl and ::allocdby: frames without a symbol are passed over
      if (s && prefixes.some((p) => s.name.startsWith(p))) continue;
      return pc;
    }
    return 0;
  }
}

/** The bufctl_history walk: the bufctl, then older log copies through bc_lastlog. */
export function bufctlHistory(kv: KmemView, bcp: number): number[] {
  const out: number[] = [];
  const first = kv.readAudit(bcp);
  let cur = first;
  // start at the lastlog copy when it is identical
  if (first.lastlog !== 0) {
    try {
      const c = kv.readAudit(first.lastlog);
      if (c.bufaddr === first.bufaddr && c.cache === first.cache && c.slab === first.slab && c.timestamp === first.timestamp && c.thread === first.thread) cur = c;
    } catch {
      /* stay on the bufctl */
    }
  }
  out.push(cur.addr);
  let ts = cur.timestamp;
  for (let n = 0; n < 4096 && cur.lastlog !== 0; n++) {
    let nx: BufctlAudit;
    try {
      nx = kv.readAudit(cur.lastlog);
    } catch {
      break;
    }
    if (nx.bufaddr !== first.bufaddr || nx.cache !== first.cache || nx.slab !== first.slab || nx.timestamp >= ts) break;
    out.push(nx.addr);
    ts = nx.timestamp;
    cur = nx;
  }
  return out;
}
