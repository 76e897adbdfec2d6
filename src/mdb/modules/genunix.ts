/*
 * The genunix mdb module: the kmem and vmem dcmds and walkers of the MDB
 * guide's chapter "Debugging With the Kernel Memory Allocator", with
 * ::findleaks, ::whatis and ::kgrep, and the $<bufctl_audit, $<kmem_cache
 * and $<vmem_seg macros.
 *
 * Everything is read from the target (bytes, symbols, C types); the
 * analyses are library functions in ../analysis (findLeaks, whatis,
 * kmemVerify, kgrep, kmastat), and the dcmds here only format their data.
 * The module loads for targets whose types declare kmem_cache_t and whose
 * symbols include kmem_caches; at load it adds one walker per cache, named
 * after the cache (`::walk kmem_alloc_24`).
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_OK,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  WHATIS_PRIO_ALLOCATOR,
  WHATIS_PRIO_LATE,
  WHATIS_REG_NO_ID,
  registerModule,
  type DcmdContext,
  type DcmdDef,
  type MdbModule,
  type WalkerDef,
  type WhatisHandler,
  type WhatisState,
} from '../module.js';
import { isProcessTarget, type Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { kmemDcmds, kmemWalkers, perCacheWalkers, kview, printBufctlVerbose, printBufctlVerboseHeader } from './genunix-kmem.js';
import { vmemDcmds, vmemWalkers, printSegVerbose } from './genunix-vmem.js';
import { liveDcmds } from './genunix-live.js';
import { procDcmds, procWalkers } from './genunix-proc.js';
import { modctlDcmds, modctlWalkers } from './genunix-modctl.js';
import { memstatDcmds, memstatWalkers } from './genunix-memstat.js';
import { calloutDcmds, calloutWalkers } from './genunix-callout.js';
import { findLeaksCached, cachedLeaks, TYPE_CACHE, TYPE_KMEM, TYPE_VMEM, type LeakGroup, type LeakMember } from '../analysis/leaks.js';
import { WhatisIndex, segHasStack, type BufLookup, type WhatisMatch } from '../analysis/whatis-index.js';
import { kgrepScan, KgrepError } from '../analysis/kgrep.js';
import { kernelWhatisHandlers } from '../whatis-dcmd.js';
import { VmemView } from '../analysis/vmem-view.js';
import { VMC_IDENTIFIER, VMEM_ALLOC, VMEM_FREE, VMEM_STACK_DEPTH } from '../../abi/vmem-impl.js';
import type { BufctlAudit, CacheInfo } from '../analysis/kmem-view.js';
import { KMC_IDENTIFIER, KMF_AUDIT, KMF_HASH, KMF_LITE } from '../../abi/kmem-impl.js';

/* ---------------------------------------------------------------- ::findleaks */

function plural(n: number, s: string): string {
  return n === 1 ? s : s + 's';
}

/** The caller a leak table row names: for TYPE_CACHE the buftag's first (KMF_LITE) caller, else leaky_subr_caller's. */
function leakCallerPc(g: LeakGroup): number {
  return g.type === TYPE_CACHE ? (g.stack[0] ?? 0) : g.caller;
}

function leakCaller(ctx: DcmdContext, g: LeakGroup): string {
  const pc = leakCallerPc(g);
  return pc ? ctx.sprintf('%a', pc) : '?';
}

/*
 * leaky.c keeps lk_verbose across runs: a cached run after a -v run still
 * says it used the cache.  Kept per target, as the cached results are (one
 * mdb process has one target; this process may hold many sessions).
 */
const lkVerboseOf = new WeakMap<Target, boolean>();

/** leaky's words for oversize leaks: the kernel's, or libumem's in a process. */
function oversizeWords(t: Target): { total: string; detail: string } {
  return isProcessTarget(t) ? { total: 'oversized leak', detail: 'umem_oversize leak' } : { total: 'kmem_oversize leak', detail: 'kmem_oversize leak' };
}

function findleaksDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { d: 'bool', f: 'bool', v: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  if (ctx.target.status().kind === 'none') throw new DcmdError('findleaks: can only be run on a system dump or under kmdb; see dumpadm(1M)');
  kview(ctx); // fails cleanly without kmem
  if (g.opts.v || g.opts.f) lkVerboseOf.set(ctx.target, g.opts.v);
  const lkVerbose = lkVerboseOf.get(ctx.target) ?? false;
  const { report, fromCache } = findLeaksCached(ctx.target, g.opts.f, (m) => ctx.warn(`findleaks: ${m}`));
  if (fromCache && lkVerbose) ctx.out("findleaks: using cached results (use '-f' to force a full run)\n");
  // damage met on the way (a cut or looping list, an unreadable slab) means buffers were not seen
  const incomplete = report.warnings.length > 0 ? `the answer is incomplete: ${report.warnings.length} ${plural(report.warnings.length, 'warning')} about damaged allocator structures above` : '';
  if (!fromCache && report.stats.buffers === 0) {
    ctx.warn(incomplete ? `findleaks: no buffers found, but ${incomplete}` : 'findleaks: no buffers found');
    return DCMD_ERR;
  }
  if (lkVerbose && !fromCache) {
    const st = report.stats;
    const total = st.dismissals + st.misses + st.dups + st.follows;
    const line = (s: string, v: number) => ctx.printf('findleaks: %*s => %lld\n', 30, s, v);
    const perc = (s: string, v: number) =>
      ctx.printf('findleaks: %*s => %-13lld (%2d.%1d%%)\n', 30, s, v, total ? Math.floor((v * 100) / total) : 0, total ? Math.floor((v * 1000) / total) % 10 : 0);
    const secs = (s: string, ms: number) => ctx.printf('findleaks: %*s => %lld.%lld seconds\n', 30, s, Math.floor(ms / 1000), Math.floor((ms % 1000) / 100));
    line('maximum buffers', st.maxBuffers);
    line('actual buffers', st.buffers);
    ctx.out('findleaks: \n');
    line('potential pointers', total);
    perc('dismissals', st.dismissals);
    perc('misses', st.misses);
    perc('dups', st.dups);
    perc('follows', st.follows);
    ctx.out('findleaks: \n');
    ctx.printf('findleaks: %*s => %lu kB\n', 30, 'peak memory usage', Math.floor((st.peakBytes + 1023) / 1024));
    secs('elapsed CPU time', st.cpuMs);
    secs('elapsed wall time', st.elapsedMs);
    ctx.out('findleaks: \n');
  }
  let groups = report.groups;
  if (flags & DCMD_ADDRSPEC) {
    // leaky_filter: a frame equal to addr, or in the function that starts at addr
    groups = groups.filter((x) =>
      x.stack.some((pc) => {
        if (pc === addr) return true;
        const s = ctx.target.symbolByAddr(pc);
        return s !== undefined && s.value === addr;
      }),
    );
  }
  if (groups.length === 0) {
    if (flags & DCMD_ADDRSPEC) ctx.printf('findleaks: no memory leaks matching %a found\n', addr);
    else ctx.out('findleaks: no memory leaks detected\n');
    if (incomplete) {
      ctx.warn(`findleaks: ${incomplete}`);
      return DCMD_ERR;
    }
    return DCMD_OK;
  }
  if (flags & DCMD_PIPE_OUT) {
    for (const x of groups) ctx.pipeOut(x.rep.ctl);
    if (incomplete) ctx.warn(`findleaks: ${incomplete}`);
    return DCMD_OK;
  }
  const words = oversizeWords(ctx.target);
  let firstSection = true;
  for (const type of [TYPE_VMEM, TYPE_CACHE, TYPE_KMEM]) {
    const gs = groups.filter((x) => x.type === type);
    if (!gs.length) continue;
    if (!firstSection) ctx.out('\n');
    firstSection = false;
    if (type === TYPE_VMEM) ctx.printf('%-16s %7s %?s %s\n', 'BYTES', 'LEAKED', 'VMEM_SEG', 'CALLER');
    else ctx.printf('%-?s %7s %?s %s\n', 'CACHE', 'LEAKED', type === TYPE_KMEM ? 'BUFCTL' : 'BUFFER', 'CALLER');
    let count = 0;
    let bytes = 0;
    for (const x of gs) {
      count += x.count;
      bytes += x.bytes;
      if (type === TYPE_VMEM) {
        const sz = x.minSize === x.maxSize ? String(x.minSize) : `${x.minSize}-${x.maxSize}`;
        ctx.printf('%-16s %7d %?p %s\n', sz, x.count, x.rep.ctl, leakCaller(ctx, x));
      } else {
        ctx.printf('%0?p %7d %0?p %s\n', x.cache, x.count, type === TYPE_KMEM ? x.rep.ctl : x.rep.buf, leakCaller(ctx, x));
      }
    }
    ctx.out('-'.repeat(72) + '\n');
    const w = type === TYPE_VMEM ? 16 : 2 * ctx.ptrSize;
    ctx.printf('%*s %7ld %s%s, %ld %s\n', w, 'Total', count, type === TYPE_VMEM ? words.total : 'buffer', count === 1 ? '' : 's', bytes, plural(bytes, 'byte'));
  }
  if (g.opts.d) {
    // leaky_dump: one blank line, then each representative in detail
    const kv = kview(ctx);
    const vv = new VmemView(ctx.target, (m) => ctx.warn(m));
    ctx.out('\n');
    for (const x of groups) {
      if (x.type === TYPE_VMEM) {
        if (x.count === 1) ctx.printf('%s: 1 vmem_seg, %ld bytes\n', words.detail, x.bytes);
        else {
          const each = x.minSize === x.maxSize ? String(x.minSize) : `${x.minSize}-${x.maxSize}`;
          ctx.printf('%s: %d vmem_segs, %s bytes each, %ld bytes total\n', words.detail, x.count, each, x.bytes);
        }
        try {
          printSegVerbose(ctx, vv.seg(x.rep.ctl), true);
        } catch {
          ctx.warn(`'${ctx.hex(x.rep.ctl)}::vmem_seg -v' failed`);
        }
        continue;
      }
      const each = x.count ? x.bytes / x.count : 0;
      const head = x.count === 1 ? `${x.cacheName} leak: 1 buffer, ${x.bytes} bytes` : `${x.cacheName} leak: ${x.count} buffers, ${each} bytes each, ${x.bytes} bytes total`;
      if (x.type === TYPE_KMEM) {
        ctx.printf('%s\n', head);
        try {
          printBufctlVerbose(ctx, kv.readAudit(x.rep.ctl), true);
        } catch {
          ctx.warn(`'${ctx.hex(x.rep.ctl)}::bufctl -v' failed`);
        }
      } else {
        ctx.printf('%s,\n', head);
        const pc = leakCallerPc(x);
        if (pc) ctx.printf('    sample addr %p, caller %a\n', x.rep.buf, pc);
        else ctx.printf('    sample addr %p\n', x.rep.buf);
      }
    }
  }
  if (incomplete) ctx.warn(`findleaks: ${incomplete}`);
  return DCMD_OK;
}

/**
 * The group a leak walk starts from (illumos leaky_walk_init): the one whose
 * representative is addr, else the first that holds addr among its members.
 */
function leakGroupOf(groups: readonly LeakGroup[], addr: number): LeakGroup | undefined {
  return groups.find((g) => g.rep.ctl === addr) ?? groups.find((g) => g.members.some((m) => m.ctl === addr));
}

/** A group's members, representative first (the head of illumos' dup list). */
function leakMembers(g: LeakGroup): LeakMember[] {
  return [g.rep, ...g.members.filter((m) => m !== g.rep)];
}

/**
 * The leak and leakbuf walkers over ::findleaks' cached result: without an
 * address every leak, with one the leaks of the group holding that ctl
 * (bufctl, vmem_seg, or buffer for a cache without bufctls).  leak yields
 * the ctl addresses, leakbuf the buffers.
 */
function leakWalker(bufs: boolean): WalkerDef {
  const name = bufs ? 'leakbuf' : 'leak';
  return {
    name,
    description: bufs ? 'given a leak ctl, walk the buffers of that leak' : 'given a leaked bufctl or vmem_seg, find leaks w/ same stack',
    *walk(ctx, addr) {
      const r = cachedLeaks(ctx.target);
      if (!r) throw new WalkError('::findleaks must be run before leaks can be walked');
      let groups = r.groups;
      if (addr !== undefined) {
        const g = leakGroupOf(r.groups, addr);
        if (!g) throw new WalkError(`${ctx.hex(addr)} is not a leaked ctl address`);
        groups = [g];
      }
      for (const g of groups) for (const m of leakMembers(g)) yield bufs ? m.buf : m.ctl;
    },
  };
}

/* ------------------------------------------------------------------- ::whatis */

/*
 * The kmem and vmem ::whatis handlers print as illumos' do (kmem.c
 * whatis_print_kmem, whatis_walk_seg): "ADDR is [BASE+OFF, ]" (the core's
 * reportObject), then
 *   kmem: "[bufctl B ]allocated from CACHE" or "freed from CACHE"; for a
 *     KMF_AUDIT cache (unless -q) ":" and the full `::bufctl -v` of the
 *     buffer's bufctl instead of the bufctl prefix; for a KMF_LITE cache
 *     (unless -q) ":" and "recent caller[s]: ..." indented 8;
 *   vmem: "[vmem_seg S ]allocated from the ARENA vmem arena" (or "freed");
 *     a segment with an audit stack (unless -q) gets ":" and its
 *     `::vmem_seg -v`.  Under -q illumos prefixes "vmem_seg S " unless -b
 *     is given and the segment has no stack; without -q a segment without
 *     a stack keeps the guide's one-line shape ("vmem_seg S " with -b).
 * With -v each cache prints "Searching NAME..." (and "Searching NAME for
 * free memory..." before its free buffers), each arena "Searching vmem
 * arena NAME...".
 */

/* One index per ::whatis run (the handlers of a run share its WhatisState). */
const whatisIndexes = new WeakMap<WhatisState, WhatisIndex>();
function whatisIndexFor(ctx: DcmdContext, w: WhatisState): WhatisIndex {
  let idx = whatisIndexes.get(w);
  if (!idx) {
    idx = new WhatisIndex(ctx.target, (m) => ctx.warn(m));
    whatisIndexes.set(w, idx);
  }
  return idx;
}

interface KmemHit {
  readonly addr: number;
  readonly r: BufLookup;
}

function printKmemHit(ctx: DcmdContext, w: WhatisState, idx: WhatisIndex, ci: CacheInfo, doBufctl: boolean, h: KmemHit): void {
  const quiet = w.flags.quiet;
  const bufctl = doBufctl ? h.r.bufctl : 0;
  const callPrinter = !quiet && (ci.flags & KMF_AUDIT) !== 0;
  w.reportObject(h.addr, h.r.buf);
  if (bufctl !== 0 && !callPrinter) ctx.printf('bufctl %p ', bufctl);
  ctx.printf('%s from %s', h.r.freed ? 'freed' : 'allocated', ci.name);
  if (bufctl !== 0 && callPrinter) {
    ctx.out(':\n');
    let a: BufctlAudit;
    try {
      a = idx.kv!.readAudit(bufctl);
    } catch {
      printBufctlVerboseHeader(ctx);
      ctx.warn(`couldn't read bufctl at ${ctx.hex(bufctl)}`);
      return;
    }
    printBufctlVerbose(ctx, a, true);
    return;
  }
  if (!quiet && ci.flags & KMF_LITE) {
    const callers = idx.liteCallers(ci, h.r.buf);
    if (callers.length) {
      ctx.out(':\n');
      ctx.out(`${' '.repeat(8)}recent caller${callers.length > 1 ? 's' : ''}: ${callers.map((pc) => ctx.sprintf('%a', pc)).join(', ')}`);
    }
  }
  ctx.out('\n');
}

function kmemWhatis(ctx: DcmdContext, w: WhatisState): void {
  if (!hasKmem(ctx.target)) return;
  const idx = whatisIndexFor(ctx, w);
  if (!idx.kv) return;
  const idspace = w.flags.identifiersOnly;
  for (const ci of idx.whatisCaches()) {
    if (w.done()) return;
    if (((ci.cflags & KMC_IDENTIFIER) !== 0) !== idspace) continue;
    // illumos walks bufctls (and so knows them) for KMF_HASH caches that audit, or with -b
    const doBufctl = ci.flags & KMF_HASH ? (ci.flags & KMF_AUDIT ? true : w.flags.bufctls) : false;
    if (w.flags.verbose) ctx.printf('Searching %s...\n', ci.name);
    const slabs = idx.cacheSlabs(ci);
    const span = idx.slabSpan(ci);
    if (Math.floor(span / ci.chunksize) > 2 && !slabs.some((e) => w.match(e.base, span).length > 0)) continue;
    const alloc: KmemHit[] = [];
    const freed: KmemHit[] = [];
    for (let i = 0; i < slabs.length; i++) {
      const e = slabs[i]!;
      for (const a of w.match(e.base, e.end - e.base)) {
        const r = idx.lookupBuf(e, a, i);
        if (r) (r.freed ? freed : alloc).push({ addr: a, r });
      }
    }
    const byWalk = (x: KmemHit, y: KmemHit) => x.r.order - y.r.order || x.addr - y.addr;
    alloc.sort(byWalk);
    freed.sort(byWalk);
    for (const h of alloc) printKmemHit(ctx, w, idx, ci, doBufctl, h);
    if (w.done()) return;
    if (w.flags.verbose) ctx.printf('Searching %s for free memory...\n', ci.name);
    for (const h of freed) printKmemHit(ctx, w, idx, ci, doBufctl, h);
  }
}

function vmemWhatis(ctx: DcmdContext, w: WhatisState): void {
  if (!hasKmem(ctx.target)) return;
  const idx = whatisIndexFor(ctx, w);
  const quiet = w.flags.quiet;
  const idspace = w.flags.identifiersOnly;
  for (const a of idx.arenas()) {
    if (w.done()) return;
    if (((a.cflags & VMC_IDENTIFIER) !== 0) !== idspace) continue;
    if (w.flags.verbose) ctx.printf('Searching vmem arena %s...\n', a.name);
    for (const s of a.segs) {
      for (const addr of w.match(s.start, s.end - s.start)) {
        const stack = segHasStack(s);
        w.reportObject(addr, s.start);
        if (quiet ? !w.flags.bufctls || stack : !stack && w.flags.bufctls) ctx.printf('vmem_seg %p ', s.addr);
        ctx.printf('%s from the %s vmem arena', s.type === VMEM_ALLOC ? 'allocated' : 'freed', a.name);
        if (!quiet && stack) {
          ctx.out(':\n');
          printSegVerbose(ctx, s, true);
          continue;
        }
        if (s.type === VMEM_FREE && s.depth > 0 && s.depth <= VMEM_STACK_DEPTH) ctx.out(idx.formerAllocation(s));
        ctx.out('\n');
      }
    }
  }
}

const ALL: [number, number] = [-Number.MAX_SAFE_INTEGER, 2 * Number.MAX_SAFE_INTEGER];

/** Beyond illumos: addresses in the former range of an unloaded module (newest record first). */
function unloadedWhatis(ctx: DcmdContext, w: WhatisState): void {
  const wanted = w.match(ALL[0], ALL[1]);
  if (wanted.length === 0) return;
  const idx = whatisIndexFor(ctx, w);
  for (const a of wanted) {
    const out: WhatisMatch[] = [];
    idx.unloadedMatches(a, { all: w.flags.all }, out);
    for (const m of out) {
      if (!w.flags.all && w.match(a, 1).length === 0) break;
      w.reportObject(a, m.base);
      ctx.out(m.text + '\n');
    }
  }
}

/*
 * Registered as illumos' kmem.c kmem_init() does: modules and threads
 * (WHATIS_PRIO_EARLY, WHATIS_REG_NO_ID; the core's implementations, now
 * labelled genunix`...), then kmem and vmem (WHATIS_PRIO_ALLOCATOR, no
 * flags: they answer -i for identifier caches and arenas).  illumos also
 * registers "pages" (EARLY, NO_ID), for page_t structures, which this
 * kernel does not have.  unloaded_modules is kmemdb's own: late, and an
 * address search (NO_ID).
 */
export const genunixWhatisHandlers: WhatisHandler[] = [
  ...kernelWhatisHandlers,
  { name: 'kmem', prio: WHATIS_PRIO_ALLOCATOR, flags: 0, search: kmemWhatis },
  { name: 'vmem', prio: WHATIS_PRIO_ALLOCATOR, flags: 0, search: vmemWhatis },
  { name: 'unloaded_modules', prio: WHATIS_PRIO_LATE, flags: WHATIS_REG_NO_ID, search: unloadedWhatis },
];

/* -------------------------------------------------------------------- ::kgrep */

function kgrepDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { v: 'bool', d: 'string', m: 'string', M: 'string', a: 'string', A: 'string', s: 'string' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const o = g.opts;
  const FULL = (1n << 64n) - 1n;
  const big = (s: string) => BigInt.asUintN(64, BigInt(ctx.parseValue(s)));
  const dist = o.d !== undefined ? big(o.d) : 0n;
  const maskOpt = o.m !== undefined ? big(o.m) : FULL;
  const invmask = o.M !== undefined ? big(o.M) : 0n;
  // as illumos: an option counts when its value differs from the default
  const nsel = (invmask !== 0n ? 1 : 0) + (maskOpt !== FULL ? 1 : 0) + (dist !== 0n ? 1 : 0);
  if (nsel > 1) {
    ctx.warn('only one of -d, -m and -M may be specified');
    return DCMD_USAGE;
  }
  if (!(flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
  const maskFull = invmask !== 0n ? BigInt.asUintN(64, ~invmask) : maskOpt;
  const pattern = BigInt.asUintN(64, BigInt(addr));
  if (pattern & ~maskFull & FULL) ctx.warn('warning: pattern does not match mask');
  const size = o.s !== undefined ? ctx.parseValue(o.s) : ctx.ptrSize;
  if (size > 8) {
    ctx.warn('sizes greater than 8 not supported');
    return DCMD_ERR;
  }
  if (size <= 0 || (size & (size - 1)) !== 0) {
    ctx.warn('size must be a power of 2');
    return DCMD_ERR;
  }
  const sizeMask = size === 8 ? FULL : (1n << BigInt(size * 8)) - 1n;
  if (pattern & ~sizeMask & FULL) ctx.warn(`warning: pattern ${pattern.toString(16)} overflows requested size ${size} (max: ${sizeMask.toString(16)})`);
  if (dist > 0n && (dist & ~sizeMask & FULL || sizeMask + 1n - dist < pattern)) {
    ctx.warn(`pattern ${pattern.toString(16)} + distance ${dist.toString(16)} overflows size\n${size} (max: ${sizeMask.toString(16)})`);
    return DCMD_ERR;
  }
  let mask: bigint | undefined;
  if (maskFull !== FULL) mask = maskFull;
  const value = BigInt.asUintN(64, BigInt(addr));
  let searched: number;
  try {
    searched = kgrepScan(
      ctx.target,
      mask !== undefined ? value & mask : value,
      {
        size,
        dist: dist !== 0n ? Number(dist) : undefined,
        mask,
        minAddr: o.a !== undefined ? ctx.parseValue(o.a) : undefined,
        maxAddr: o.A !== undefined ? ctx.parseValue(o.A) : undefined,
        charge: (bytes) => ctx.chargeWork(bytes),
      },
      (a, v) => {
        if (flags & DCMD_PIPE_OUT) ctx.pipeOut(a);
        else if (o.v) ctx.printf('%p:\t%llx\n', a, v);
        else ctx.printf('%p\n', a);
      },
    );
  } catch (e) {
    if (e instanceof KgrepError) throw new DcmdError(e.message);
    throw e;
  }
  if (searched === 0) ctx.warn('warning: nothing searched');
  return DCMD_OK;
}

/* ------------------------------------------------------------------- macros */

/** Names the adb macros print for fields (the guide's $<bufctl_audit / $<kmem_cache). */
const ALIASES: Record<string, string> = { depth: 'stackdepth' };

/**
 * The adb macros' value formats (Solaris' kmem_cache.adb and the guide's
 * transcripts): pointers in hex ("X"), function pointers symbolically
 * ("p"), sizes, counts, offsets and shifts in decimal ("D", signed), and in
 * hex the integers that are bit sets or addresses: flags, masks, and
 * uintptr_t / hrtime_t values (vs_start, bc_timestamp).
 */
type MacroFormat = 'X' | 'D' | 'p';
const HEX_INT_FIELDS = /^(flags|cflags|hash_mask|mask)$/;
const HEX_INT_TYPEDEFS = new Set(['uintptr_t', 'hrtime_t', 'pc_t']);

/** Does the member's type name (through its typedefs) say it holds an address or a time? */
function hexTypedef(tt: DcmdContext['types'], id: number): boolean {
  for (let cur = id, n = 0; n < 16; n++) {
    const t = tt.get(cur);
    if (t.kind !== 'typedef') return false;
    if (HEX_INT_TYPEDEFS.has(t.name)) return true;
    cur = t.ref;
  }
  return false;
}

function macroFormat(tt: DcmdContext['types'], short: string, type: number): MacroFormat {
  const t = tt.get(tt.resolve(type));
  if (t.kind === 'ptr') return tt.get(tt.resolve(t.ref)).kind === 'func' ? 'p' : 'X';
  return HEX_INT_FIELDS.test(short) || hexTypedef(tt, type) ? 'X' : 'D';
}

/** An integer member's value as the macro prints it. */
function macroValue(ctx: DcmdContext, a: number, size: number, signed: boolean, f: MacroFormat): string {
  let v: bigint;
  if (size === 8) v = BigInt.asUintN(64, ctx.target.load64(a));
  else if (size === 4) v = BigInt(ctx.target.load32(a));
  else if (size === 2) v = BigInt(ctx.target.load16(a));
  else v = BigInt(ctx.target.load8(a));
  if (f === 'p') return v === 0n ? '0' : ctx.symbolize(Number(BigInt.asIntN(64, v)));
  if (f === 'X') return v.toString(16);
  return (signed ? BigInt.asIntN(size * 8, v) : v).toString(10);
}

/**
 * Values a macro shows that the structure holds one pointer away: the
 * guide's `magazine_size` is the cache's magazine type's mt_magsize (as
 * illumos' kmem_get_magsize reads it), printed after `magtype`.
 */
const DERIVED: Record<string, { after: string; name: string; read: (ctx: DcmdContext, member: number) => number | undefined }> = {
  kmem_cache_t: {
    after: 'magtype',
    name: 'magazine_size',
    read(ctx, member) {
      const mt = ctx.target.loadPtr(member);
      if (mt === 0 || ctx.types.find('kmem_magtype_t') === undefined) return undefined;
      try {
        return ctx.readMember(mt, 'kmem_magtype_t', 'mt_magsize');
      } catch {
        return undefined;
      }
    },
  },
};

interface MacroRow {
  off: number;
  names: string[];
  values: string[];
}

/**
 * Print a structure the way an adb macro does: fields three to a row, a
 * line of names prefixed by the address of the first, then a line of
 * values in the field's format (macroFormat); strings on a line of their
 * own; aggregates as a name alone; pc stacks one symbolic frame per line
 * (up to the depth field).
 */
function printMacro(ctx: DcmdContext, addr: number, type: string, prefix: string): void {
  const tt = ctx.types;
  const id = tt.find(type);
  if (id === undefined) throw new DcmdError(`type ${type} is not in the target`);
  const rows: MacroRow[] = [];
  let cur: MacroRow | undefined;
  const flush = () => {
    if (cur) rows.push(cur);
    cur = undefined;
  };
  const addValue = (off: number, nm: string, v: string) => {
    if (!cur || cur.names.length === 3) {
      flush();
      cur = { off, names: [], values: [] };
    }
    cur.names.push(nm);
    cur.values.push(v);
  };
  let depth = -1;
  const pad = (s: string) => s.padEnd(Math.max(16, s.length + 1));
  const derived = Object.hasOwn(DERIVED, type) ? DERIVED[type] : undefined;
  for (const m of tt.members(id)) {
    const off = Math.floor(m.bitOffset / 8);
    const short = m.name.startsWith(prefix) ? m.name.slice(prefix.length) : m.name;
    const nm = Object.hasOwn(ALIASES, short) ? ALIASES[short]! : short;
    const t = tt.get(tt.resolve(m.type));
    const a = addr + off;
    if (t.kind === 'array') {
      const el = tt.get(tt.resolve(t.ref));
      if (el.kind === 'int' && el.size === 1) {
        flush();
        rows.push({ off, names: [`${nm}    ${ctx.readString(a, t.count)}`], values: [] });
        continue;
      }
      if ((el.kind === 'int' || el.kind === 'ptr') && /stack|history/.test(short)) {
        flush();
        const es = tt.sizeof(t.ref);
        const n = depth >= 0 ? Math.min(depth, t.count) : t.count;
        const frames: string[] = [];
        for (let i = 0; i < n; i++) frames.push(ctx.symbolize(ctx.target.loadPtr(a + i * es)));
        rows.push({ off, names: frames.length ? [frames[0]!] : [], values: [] });
        for (const f of frames.slice(1)) rows.push({ off: -1, names: [f], values: [] });
        continue;
      }
      flush();
      rows.push({ off, names: [nm], values: [] });
      continue;
    }
    if (t.kind === 'struct' || t.kind === 'union') {
      flush();
      rows.push({ off, names: [nm], values: [] });
      continue;
    }
    if (t.kind !== 'int' && t.kind !== 'ptr' && t.kind !== 'enum') continue;
    const f = macroFormat(tt, short, m.type);
    const v = macroValue(ctx, a, tt.sizeof(m.type), t.kind === 'int' && t.signed, f);
    if (short === 'depth') depth = Number(v);
    addValue(off, nm, v);
    if (derived && short === derived.after) {
      const dv = derived.read(ctx, a);
      if (dv !== undefined) addValue(off, derived.name, String(dv));
    }
  }
  flush();
  for (const r of rows) {
    const lead = r.off >= 0 ? `0x${hex(addr + r.off)}:` : '';
    const names = r.values.length ? r.names.map(pad).join('').trimEnd() : r.names.join('');
    ctx.out(`${lead.padEnd(Math.max(16, lead.length + 1))}${names}\n`);
    if (r.values.length) ctx.out(`${' '.repeat(16)}${r.values.map(pad).join('').trimEnd()}\n`);
  }
}

const MACROS: Record<string, { type: string; prefix: string }> = {
  bufctl_audit: { type: 'kmem_bufctl_audit_t', prefix: 'bc_' },
  bufctl: { type: 'kmem_bufctl_t', prefix: 'bc_' },
  kmem_cache: { type: 'kmem_cache_t', prefix: 'cache_' },
  vmem_seg: { type: 'vmem_seg_t', prefix: 'vs_' },
  vmem: { type: 'vmem_t', prefix: 'vm_' },
  kmem_slab: { type: 'kmem_slab_t', prefix: 'slab_' },
};

function macroDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (argv.length !== 1) return DCMD_USAGE;
  const m = MACROS[argv[0]!];
  if (!m) throw new DcmdError(`no genunix macro ${argv[0]}`);
  try {
    printMacro(ctx, flags & DCMD_ADDRSPEC ? addr : ctx.dot, m.type, m.prefix);
  } catch (e) {
    if (e instanceof DcmdError) throw e;
    ctx.warn(`failed to read ${m.type} at ${ctx.hex(addr)}: ${e instanceof Error ? e.message : String(e)}`);
    return DCMD_ERR;
  }
  return DCMD_OK;
}

/* ------------------------------------------------------------------- module */

function genunixDcmds(): DcmdDef[] {
  return [
    ...kmemDcmds(),
    ...vmemDcmds(),
    ...liveDcmds(),
    ...procDcmds(),
    ...modctlDcmds(),
    ...memstatDcmds(),
    ...calloutDcmds(),
    {
      name: 'findleaks',
      usage: '?[-dfv]',
      description: 'search for potential kernel memory leaks',
      help: `Does a conservative garbage collection of the heap in order to find
potentially leaked buffers.  Similar leaks are coalesced by stack
trace, with the oldest leak picked as representative.  The leak
table is cached between invocations.

addr, if provided, should be a function or PC location.  Reported
leaks will then be limited to those with that function or PC in
their stack trace.

The 'leak' and 'leakbuf' walkers can be used to retrieve coalesced
leaks.

Options:
  -d    detail each representative leak (long)
  -f    throw away cached state, and do a full run
  -v    report verbose information about the findleaks run`,
      fn: findleaksDcmd,
    },
    {
      name: 'kgrep',
      usage: ':[-v] [-d dist|-m mask|-M invmask] [-a minad] [-A maxad] [-s sz]',
      description: 'search kernel as for a pointer',
      help: `Search every mapped page of the kernel for size-aligned words equal to
addr and print their addresses.

Options:
  -v    also print the value found
  -d dist
        match values in [addr, addr + dist)
  -m mask
        match values whose bits under mask equal addr's
  -M invmask
        the same with mask = ~invmask
  -a minad
        search from minad
  -A maxad
        search below maxad
  -s sz
        word size: 1, 2, 4 or 8 (default: the pointer size)`,
      fn: kgrepDcmd,
    },
    {
      name: 'genunix_macro',
      usage: ':name',
      description: 'print a structure as its adb macro does ($<bufctl_audit, $<kmem_cache, $<vmem_seg)',
      help: `The genunix macros $<bufctl_audit, $<bufctl, $<kmem_cache, $<kmem_slab,
$<vmem_seg and $<vmem run this dcmd.  It prints the structure at addr
from the target's types: fields three to a row (names, then values in the
macro's formats: sizes and counts in decimal, pointers and flags in hex,
function pointers symbolically), strings and aggregates on lines of their
own, and stacks as one symbolic frame per line.`,
      fn: macroDcmd,
    },
  ];
}

/** Does the target hold kmem (its types and its cache list)?  A kernel's, or a process's heap. */
export function hasKmem(t: Target): boolean {
  return t.types.find('kmem_cache_t') !== undefined && t.symbolByName('kmem_caches') !== undefined;
}

/** Kernels with kmem (a process's heap is libumem's: libumem.ts). */
function appliesTo(t: Target): boolean {
  return !isProcessTarget(t) && hasKmem(t);
}

export const genunixModule: MdbModule = {
  name: 'genunix',
  dcmds: genunixDcmds(),
  walkers: [...kmemWalkers(), ...vmemWalkers(), ...procWalkers(), ...modctlWalkers(), ...memstatWalkers(), ...calloutWalkers(), leakWalker(false), leakWalker(true)],
  whatis: genunixWhatisHandlers,
  macros: Object.fromEntries(Object.keys(MACROS).map((k) => [k, `.::genunix_macro ${k}`])),
  appliesTo,
  init(lc) {
    for (const w of perCacheWalkers(lc.ctx)) {
      if (!lc.ctx.hasWalker(w.name)) lc.addWalker(w);
    }
  },
};

registerModule(genunixModule);
