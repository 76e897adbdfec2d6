/*
 * genunix: kmem dcmds (::kmastat, ::kmem_cache, ::kmem_slabs, ::kmem_verify,
 * ::kmem_log, ::kmalog, ::bufctl, ::allocdby, ::freedby, ::kmausers,
 * ::kmem_debug) and the kmem walkers.  Printers only: the data comes from
 * ../analysis.  Formats follow spec §6.4-§6.8 and, where they differ, the
 * MDB guide's transcripts (see docs/genunix.md).
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_HDRSPEC,
  DCMD_OK,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  noAddress,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type WalkerDef,
} from '../module.js';
import { KmemView, bufctlHistory, type BufctlAudit, type BufRef, type CacheInfo } from '../analysis/kmem-view.js';
import { KMF_AUDIT, KMF_HASH, KMC_NOTOUCH, KMF_REDZONE } from '../../abi/kmem-impl.js';
import { LayoutError, rd } from '../analysis/fields.js';
import { kmastat } from '../analysis/kmastat.js';
import { kmemVerify } from '../analysis/verify.js';
import { isProcessTarget, type Target } from '../../target/target.js';
import { DIST_WIDTH, arrayCounts, distLinear, distPrintBucket, distPrintHeader } from './dist.js';

/**
 * ::kmem_debug's switch, per target (illumos keeps one mdb_debug_level for
 * the module): while it is on, the kmem walkers say on stderr what they
 * walk (kmemDebug).
 */
const kmemDebugOn = new WeakMap<Target, boolean>();

/** A kmem walker's debugging line (illumos' dprintf), when ::kmem_debug is on. */
function kmemDebug(ctx: DcmdContext, msg: string): void {
  if (kmemDebugOn.get(ctx.target)) ctx.warn(`kmem_debug: ${msg}`);
}

export function kview(ctx: DcmdContext): KmemView {
  try {
    return new KmemView(ctx.target, (m) => ctx.warn(m));
  } catch (e) {
    if (e instanceof LayoutError) throw new DcmdError(`kmem is not present in this target (${e.message})`);
    throw e;
  }
}

/** Why addr is not a kmem_cache_t (checked by identity, see KmemView.checkCache), or undefined. */
function notACache(ctx: DcmdContext, kv: KmemView, addr: number): string | undefined {
  const why = kv.checkCache(addr);
  return why === undefined ? undefined : `${ctx.hex(addr)} is not a valid kmem_cache_t: it ${why}`;
}

/** A cache given by address to a dcmd; a DcmdError if the bytes there are not one. */
function cacheArg(ctx: DcmdContext, kv: KmemView, addr: number): CacheInfo {
  const why = notACache(ctx, kv, addr);
  if (why) throw new DcmdError(why);
  return kv.cache(addr);
}

/** A cache given by address to a walker; a WalkError if the bytes there are not one. */
function walkCacheArg(ctx: DcmdContext, kv: KmemView, addr: number | undefined, walker: string): number {
  if (addr === undefined) throw new WalkError(`${walker} doesn't support global walks`);
  const why = notACache(ctx, kv, addr);
  if (why) throw new WalkError(why);
  return addr;
}

/**
 * The first frame not in the allocator (0 if none): genunix skips kmem_*,
 * libumem its own umem_* functions (a process's audit stacks start in
 * umem_cache_alloc / umem_cache_free, as illumos' libumem module skips
 * libumem`umem_*), so CALLER is process_free, malloc or the program's.
 */
export function callerOf(ctx: DcmdContext, kv: KmemView, stack: readonly number[]): number {
  return kv.caller(stack, isProcessTarget(ctx.target) ? ['umem_'] : ['kmem_'], true);
}

/** Function+offset as Solaris 10 prints callers ("%s+0x%lx"). */
function symOff(ctx: DcmdContext, pc: number): string {
  const s = ctx.target.symbolByAddr(pc);
  if (!s) return ctx.hex(pc);
  return `${s.name}+0x${(pc - s.value).toString(16)}`;
}

/* ------------------------------------------------------------------ ::kmastat */

function kmastatDcmd(ctx: DcmdContext, _addr: number, _flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { k: 'bool', m: 'bool', g: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  // illumos ORs KILOS (10), MEGS (20), GIGS (30) into the shift
  return printKmastat(ctx, (g.opts.k ? 10 : 0) | (g.opts.m ? 20 : 0) | (g.opts.g ? 30 : 0), false);
}

/**
 * The ::kmastat table: caches, totals per arena, vmem arenas, memory
 * shifted right by `shift` (0, or 10/20/30 for -k/-m/-g).  `columnBlank`:
 * every column is followed by a blank, the last too, except on the Total
 * lines (illumos' libumem ::umastat prints each column with a "%... "
 * format and a header or dashes with "%s ").
 */
export function printKmastat(ctx: DcmdContext, shift: number, columnBlank: boolean): DcmdResult {
  const unit = shift === 30 ? 'G' : shift === 20 ? 'M' : shift === 10 ? 'K' : 'B';
  /*
   * With -k/-m/-g, illumos' layout: headers are its literal strings (each
   * followed by a space), memory columns "%10lu%c" (kmem) and "%9llu%c
   * %10llu%c %9llu%c" (vmem) under dashes of 10 / 10, 11, 10.  Without
   * options the guide's (Solaris 10 / ::umastat) layout: no unit, memory
   * "%9lu" under 9 dashes, vmem "%9llu %10llu %9llu".
   */
  const scaled = shift !== 0;
  const end = columnBlank ? ' \n' : '\n';
  const sc = (v: number) => Math.floor(v / 2 ** shift);
  const ks = kmastat(ctx.target, (m) => ctx.warn(m));
  const line = (cols: readonly string[]) => ctx.out(cols.join(' ') + end);
  const dashes = (ws: readonly number[]) => line(ws.map((w) => '-'.repeat(w)));
  const kw = [25, 6, 6, 6, scaled ? 10 : 9, 9, 5];
  line(['cache                    ', '   buf', '   buf', '   buf', '   memory', '    alloc', 'alloc']);
  line(['name                     ', '  size', 'in use', ' total', '   in use', '  succeed', ' fail']);
  dashes(kw);
  const mem = (v: number) => (scaled ? ctx.sprintf('%10lu%c', sc(v), unit) : ctx.sprintf('%9lu', v));
  for (const c of ks.caches) {
    if (ctx.interrupted()) return DCMD_ERR;
    ctx.printf('%-25s %6u %6u %6u %s %9u %5u' + end, c.name, c.bufsize, c.inuse, c.total, mem(c.memory), c.alloc, c.fail);
  }
  dashes(kw);
  for (const t of ks.totals) {
    const len = Math.min(17, t.name.length);
    ctx.printf('Total [%s]%*s %6s %6s %6s %s %9u %5u\n', t.name, 17 - len, '', '', '', '', mem(t.memory), t.alloc, t.fail);
  }
  dashes(kw);
  ctx.out('\n');
  const vw = scaled ? [25, 10, 11, 10, 9, 5] : [25, 9, 10, 9, 9, 5];
  line(['vmem                     ', '   memory', '    memory', '   memory', '    alloc', 'alloc']);
  line(['name                     ', '   in use', '     total', '   import', '  succeed', ' fail']);
  dashes(vw);
  const vm = (v: number, w: number) => (scaled ? ctx.sprintf('%*llu%c', w, sc(v), unit) : ctx.sprintf('%*llu', w, v));
  for (const a of ks.arenas) {
    const ident = 4 * a.depth;
    ctx.printf('%*s%-*s %s %s %s %9llu %5llu' + end, ident, '', Math.max(25 - ident, 0), a.name, vm(a.inuse, 9), vm(a.total, 10), vm(a.imported, 9), a.alloc, a.fail);
  }
  dashes(vw);
  return DCMD_OK;
}

/* --------------------------------------------------------------- ::kmem_cache */

function kmemCacheDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { n: 'string' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const kv = kview(ctx);
  if (flags & DCMD_ADDRSPEC) cacheArg(ctx, kv, addr);
  const list = flags & DCMD_ADDRSPEC ? [addr] : kv.caches();
  if (DCMD_HDRSPEC(flags) && !(flags & DCMD_PIPE_OUT)) {
    ctx.printf('%-?s %-25s %4s %6s %8s %8s\n', 'ADDR', 'NAME', 'FLAG', 'CFLAG', 'BUFSIZE', 'BUFTOTL');
  }
  for (const c of list) {
    let ci: CacheInfo;
    try {
      ci = kv.cache(c);
    } catch {
      ctx.warn(`failed to read kmem_cache at ${ctx.hex(c)}`);
      if (flags & DCMD_ADDRSPEC) return DCMD_ERR;
      continue;
    }
    if (g.opts.n !== undefined && !ci.name.includes(g.opts.n)) continue;
    if (flags & DCMD_PIPE_OUT) {
      ctx.pipeOut(c);
      continue;
    }
    ctx.printf('%0?p %-25s %04x %06x %8ld %8lld\n', c, ci.name, ci.flags, ci.cflags, ci.bufsize, ci.buftotal);
  }
  return DCMD_OK;
}

/* --------------------------------------------------------------- ::kmem_slabs */

/** The -b/-B distribution: completely allocated slabs first, then the other ranges descending. */
function kmemSlabsPrintDist(ctx: DcmdContext, counts: readonly number[], perSlab: number, maxbuckets: number, minbucketsize: number): void {
  let buckets = perSlab;
  let total = 0;
  for (let i = 0; i <= perSlab; i++) total += counts[i] ?? 0;
  if (maxbuckets > 1) buckets = Math.min(buckets, maxbuckets);
  if (minbucketsize > 1) {
    // minbucketsize does not apply to the first bucket (complete slabs)
    buckets = Math.min(buckets, 1 + Math.floor((perSlab - 1) / minbucketsize));
    if (buckets < 2 && perSlab > 1) buckets = 2;
  }
  const complete = [perSlab, perSlab + 1];
  const bounds = distLinear(buckets - 1, 1, perSlab - 1);
  ctx.printf('%*s\n', DIST_WIDTH, 'Allocated');
  distPrintHeader(ctx, 'Buffers', DIST_WIDTH, 'Slabs');
  const count = arrayCounts(counts);
  distPrintBucket(ctx, complete, 0, count, total, DIST_WIDTH);
  for (let i = buckets - 2; i >= 0; i--) distPrintBucket(ctx, bounds, i, count, total, DIST_WIDTH);
  ctx.out('\n');
}

function kmemSlabsHeader(ctx: DcmdContext): void {
  ctx.printf('%-25s %8s %8s %9s %9s %6s\n', '', '', 'Partial', '', 'Unused', '');
  ctx.printf('%-25s %8s %8s %9s %9s %6s\n', 'Cache Name', 'Slabs', 'Slabs', 'Buffers', 'Buffers', 'Waste');
  ctx.printf('%-25s %8s %8s %9s %9s %6s\n', '-'.repeat(25), '-'.repeat(8), '-'.repeat(8), '-'.repeat(9), '-'.repeat(9), '-'.repeat(6));
}

interface SlabsOpts {
  readonly n: string | undefined;
  readonly N: string | undefined;
  readonly v: boolean;
  readonly maxbuckets: number;
  readonly minbucketsize: number;
}

/** One cache as illumos' kmem_slabs prints it (hdr: DCMD_HDRSPEC of this call). */
function kmemSlabsOne(ctx: DcmdContext, kv: KmemView, addr: number, hdr: boolean, o: SlabsOpts): DcmdResult {
  let ci: CacheInfo;
  try {
    ci = kv.cache(addr);
  } catch {
    ctx.warn(`couldn't read kmem_cache at ${ctx.hex(addr)}`);
    return DCMD_ERR;
  }
  const buckets = o.maxbuckets !== 1 || o.minbucketsize !== 0;
  let skip: boolean;
  if (o.N === undefined) skip = o.n !== undefined && !ci.name.includes(o.n);
  else if (o.n === undefined) skip = ci.name !== o.N;
  else skip = ci.name !== o.N && !ci.name.includes(o.n); // either -n or -N
  if (!(o.v || buckets)) {
    if (hdr) kmemSlabsHeader(ctx);
  } else if (!skip) {
    if (hdr) kmemSlabsHeader(ctx);
    else {
      // with -v or a distribution, repeat the header before each cache with (partial) slabs
      let isSlab = false;
      if (o.v) {
        // the first slab of the kmem_slab_partial walk, if it is partially allocated
        const p = kv.partialSlabs(addr)[0];
        if (p !== undefined) {
          try {
            const ref = ctx.readMember(p, 'kmem_slab_t', 'slab_refcnt');
            isSlab = ref > 0 && ref < ctx.readMember(p, 'kmem_slab_t', 'slab_chunks');
          } catch {
            isSlab = false;
          }
        }
      } else isSlab = kv.slabs(addr).length > 0;
      if (isSlab) kmemSlabsHeader(ctx);
    }
  }
  if (skip) return DCMD_OK;
  const u = kv.slabUsage(ci);
  let pct = 0;
  let tenths = 0;
  if (ci.buftotal !== 0) {
    pct = Math.floor((u.unused * 10000) / ci.buftotal);
    tenths = Math.floor(((pct % 100) + 5) / 10); // round to the nearest tenth
    if (tenths === 10) {
      pct += 100;
      tenths = 0;
    }
  }
  ctx.printf('%-25s %8d %8d %9lld %9lld %3d.%1d%%\n', ci.name, u.slabs, u.partial.length, ci.buftotal, u.unused, Math.floor(pct / 100), tenths);
  const perSlab = Math.max(ci.maxchunks, 0);
  const maxbuckets = o.maxbuckets === 0 ? perSlab : o.maxbuckets;
  if ((maxbuckets > 1 || o.minbucketsize > 0) && u.slabs > 0) {
    ctx.out('\n');
    kmemSlabsPrintDist(ctx, u.buckets, perSlab, maxbuckets, o.minbucketsize);
  }
  if (o.v && u.partial.length > 0) {
    ctx.printf('  %d complete (%d), %d partial:', u.slabs - u.partial.length, perSlab, u.partial.length);
    for (const p of u.partial) ctx.printf(' %d%s', p.refcnt, p.nomove ? '*' : '');
    ctx.out('\n\n');
  }
  return DCMD_OK;
}

function kmemSlabsDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { B: 'uint', b: 'uint', n: 'string', N: 'string', v: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const o: SlabsOpts = { n: g.opts.n, N: g.opts.N, v: g.opts.v, maxbuckets: g.opts.b ?? 1, minbucketsize: g.opts.B ?? 0 };
  const kv = kview(ctx);
  if (flags & DCMD_ADDRSPEC) {
    cacheArg(ctx, kv, addr);
    return kmemSlabsOne(ctx, kv, addr, DCMD_HDRSPEC(flags), o);
  }
  let first = true;
  for (const c of kv.caches()) {
    if (ctx.interrupted()) return DCMD_ERR;
    const why = notACache(ctx, kv, c);
    if (why) {
      ctx.warn(`${why}; skipped`);
      continue;
    }
    kmemSlabsOne(ctx, kv, c, first, o);
    first = false;
  }
  return DCMD_OK;
}

/* -------------------------------------------------------------- ::kmem_verify */

function kmemVerifyDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (argv.length) return DCMD_USAGE;
  if (flags & DCMD_ADDRSPEC) {
    const kv = kview(ctx);
    try {
      kv.cache(addr);
    } catch {
      ctx.warn(`couldn't read kmem_cache ${ctx.hex(addr)}`);
      return DCMD_ERR;
    }
    const ci = cacheArg(ctx, kv, addr);
    if (!(ci.flags & KMF_REDZONE)) {
      ctx.warn(`cache ${ctx.hex(addr)} (${ci.name}) does not have redzone checking enabled`);
      return DCMD_ERR;
    }
    const [r] = kmemVerify(ctx.target, addr, (m) => ctx.warn(m));
    ctx.printf("Summary for cache '%s'\n", ci.name);
    if (!r || r.corrupt.length === 0) ctx.out('  clean\n');
    else for (const x of r.corrupt) ctx.printf('  %s\n', x.message);
    return DCMD_OK;
  }
  ctx.printf('%<u>%-*s %-?s %-20s%</u>\n', 31, 'Cache Name', 'Addr', 'Cache Integrity');
  for (const r of kmemVerify(ctx.target, undefined, (m) => ctx.warn(m))) {
    if (!r.checked) continue;
    const n = r.corrupt.length;
    if (n === 0) ctx.printf('%-31s %?p clean\n', r.name, r.cache);
    else ctx.printf('%-31s %?p %d corrupt buffer%s\n', r.name, r.cache, n, n === 1 ? '' : 's');
  }
  return DCMD_OK;
}

/* ------------------------------------------------------------------ logs */

/** The log header a log pointer variable holds (0: disabled); warns and returns undefined if unreadable. */
function logHeaderVar(ctx: DcmdContext, kv: KmemView, name: string): number | undefined {
  const s = ctx.target.symbolByName(name);
  if (!s) {
    ctx.warn(`failed to read '${name}'`);
    return undefined;
  }
  try {
    return ctx.target.loadPtr(s.value);
  } catch {
    ctx.warn(`failed to read '${name}'`);
    return undefined;
  }
}

function kmemLogDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { b: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const kv = kview(ctx);
  const lh = logHeaderVar(ctx, kv, 'kmem_transaction_log');
  if (lh === undefined) return DCMD_ERR;
  if (lh === 0) {
    ctx.warn('no kmem transaction log');
    return DCMD_ERR;
  }
  const row = (e: number, a: BufctlAudit) => {
    const cpu = kv.logCpuOf(lh, e);
    ctx.printf('%s %0?p %0?p %16llx %0?p\n', cpu >= 0 ? ctx.sprintf('%3d', cpu) : '   ', e, a.bufaddr, a.timestamp, a.thread);
  };
  // illumos prints the header on every call (it does not test DCMD_HDRSPEC)
  if (!(flags & DCMD_PIPE_OUT)) ctx.printf('%3s %-?s %-?s %16s %-?s\n', 'CPU', 'ADDR', 'BUFADDR', 'TIMESTAMP', 'THREAD');
  if (flags & DCMD_ADDRSPEC && !g.opts.b) {
    // addr is a log record (a bufctl): print it
    let a: BufctlAudit;
    try {
      a = kv.readAudit(addr);
    } catch {
      ctx.warn(`failed to read bufctl at ${ctx.hex(addr)}`);
      return DCMD_ERR;
    }
    if (flags & DCMD_PIPE_OUT) ctx.pipeOut(addr);
    else row(addr, a);
    return DCMD_OK;
  }
  const sizes = new Map<number, number>();
  for (const e of kv.logEntries(lh)) {
    if (ctx.interrupted()) return DCMD_ERR;
    const a = kv.readAudit(e);
    if (flags & DCMD_ADDRSPEC) {
      // -b: addr is a buffer address; records whose buffer contains it
      if (a.cache === 0) continue;
      let size = sizes.get(a.cache);
      if (size === undefined) {
        try {
          size = rd(ctx.target, a.cache, kv.L.cache_bufsize);
        } catch {
          ctx.warn(`failed to read cache_bufsize for cache at ${ctx.hex(a.cache)}`);
          return DCMD_ERR;
        }
        sizes.set(a.cache, size);
      }
      if (addr < a.bufaddr || addr >= a.bufaddr + size) continue;
    }
    if (flags & DCMD_PIPE_OUT) ctx.pipeOut(e);
    else row(e, a);
  }
  return DCMD_OK;
}

function kmalogDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  let name = 'kmem_transaction_log';
  if (argv.length > 1) return DCMD_USAGE;
  if (argv.length === 1) {
    if (argv[0] === 'fail') name = 'kmem_failure_log';
    else if (argv[0] === 'slab') name = 'kmem_slab_log';
    else return DCMD_USAGE;
  }
  const kv = kview(ctx);
  const lh = logHeaderVar(ctx, kv, name);
  if (lh === undefined) return DCMD_ERR;
  if (lh === 0) {
    // illumos' kmem_log walk refuses a disabled log
    ctx.warn('log is disabled');
    ctx.warn('failed to walk kmem log');
    return DCMD_ERR;
  }
  let newest = 0;
  const sizes = new Map<number, number>();
  for (const e of kv.logEntries(lh)) {
    if (ctx.interrupted()) return DCMD_ERR;
    const a = kv.readAudit(e);
    if (a.timestamp === 0) break;
    if (newest === 0) newest = a.timestamp;
    if (flags & DCMD_ADDRSPEC) {
      let size = sizes.get(a.cache);
      if (size === undefined) {
        try {
          size = rd(ctx.target, a.cache, kv.L.cache_bufsize);
        } catch {
          ctx.warn(`failed to read cache_bufsize for cache at ${ctx.hex(a.cache)}`);
          ctx.warn('failed to walk kmem log');
          return DCMD_ERR;
        }
        sizes.set(a.cache, size);
      }
      if (addr < a.bufaddr || addr >= a.bufaddr + size) continue;
    }
    let cname: string;
    try {
      cname = kv.cache(a.cache).name;
    } catch {
      cname = '';
    }
    if (cname === '') cname = ctx.sprintf('%a', a.cache);
    const d = newest - a.timestamp;
    ctx.printf('\nT-%lld.%09lld  addr=%p  %s\n', Math.floor(d / 1e9), d % 1e9, a.bufaddr, cname);
    for (const pc of a.stack) ctx.printf('\t %a\n', pc);
  }
  return DCMD_OK;
}

/* ------------------------------------------------------------------ ::bufctl */

/** Does the stack have a frame matching caller (pc in [caller, caller+ptr) or anywhere in the function it starts)? */
function stackMatches(ctx: DcmdContext, stack: readonly number[], caller: number): boolean {
  const s = ctx.target.symbolByAddr(caller);
  let lo = caller;
  let hi = caller + ctx.ptrSize;
  if (s && s.value === caller && s.size > 0) hi = caller + s.size;
  if (s && s.value === caller) lo = caller;
  return stack.some((pc) => pc >= lo && pc < hi);
}

/** The two header lines of `::bufctl -v`. */
export function printBufctlVerboseHeader(ctx: DcmdContext): void {
  ctx.printf('%16s %16s %16s %16s\n', 'ADDR', 'BUFADDR', 'TIMESTAMP', 'THREAD');
  ctx.printf('%<u>%16s %16s %16s %16s%</u>\n', '', 'CACHE', 'LASTLOG', 'CONTENTS');
}

/** One bufctl as `::bufctl -v` prints it (with its header when asked). */
export function printBufctlVerbose(ctx: DcmdContext, a: BufctlAudit, header: boolean): void {
  if (header) printBufctlVerboseHeader(ctx);
  ctx.printf('%<b>%16p%</b> %16p %16llx %16p\n', a.addr, a.bufaddr, a.timestamp, a.thread);
  ctx.printf('%16s %16p %16p %16p\n', '', a.cache, a.lastlog, a.contents);
  for (const pc of a.stack) ctx.printf('%*s%a\n', 17, '', pc);
  ctx.out('\n');
}

/** An option value where 0 means "not given", as illumos' mdb_getopts defaults. */
function optAddr(ctx: DcmdContext, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = ctx.parseValue(v);
  return n === 0 ? undefined : n;
}

function bufctlDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { v: 'bool', h: 'bool', a: 'string', c: 'string', e: 'string', l: 'string', t: 'string' });
  if (!g || g.rest.length) return DCMD_USAGE;
  if (!(flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
  const kv = kview(ctx);
  const o = g.opts;
  const fa = optAddr(ctx, o.a);
  const fc = optAddr(ctx, o.c);
  const fe = optAddr(ctx, o.e);
  const fl = optAddr(ctx, o.l);
  const ft = optAddr(ctx, o.t);
  const one = (b: number, hdr: boolean): DcmdResult => {
    if (hdr && !(flags & DCMD_PIPE_OUT)) {
      if (o.v) printBufctlVerboseHeader(ctx);
      else ctx.printf('%<u>%-?s %-?s %-12s %-?s %s%</u>\n', 'ADDR', 'BUFADDR', 'TIMESTAMP', 'THREAD', 'CALLER');
    }
    let a: BufctlAudit;
    try {
      a = kv.readAudit(b);
    } catch {
      ctx.warn(`couldn't read bufctl at ${ctx.hex(b)}`);
      return DCMD_ERR;
    }
    if (fc !== undefined && !stackMatches(ctx, a.stack, fc)) return DCMD_OK;
    if (ft !== undefined && a.thread !== ft) return DCMD_OK;
    if (fe !== undefined && a.timestamp < fe) return DCMD_OK;
    if (fl !== undefined && a.timestamp > fl) return DCMD_OK;
    if (fa !== undefined && a.bufaddr !== fa) return DCMD_OK;
    if (flags & DCMD_PIPE_OUT) {
      ctx.pipeOut(b);
      return DCMD_OK;
    }
    if (o.v) {
      printBufctlVerbose(ctx, a, false);
      return DCMD_OK;
    }
    const caller = callerOf(ctx, kv, a.stack);
    ctx.printf('%0?p %0?p %12llx %0?p', b, a.bufaddr, a.timestamp, a.thread);
    if (caller) ctx.printf(' %a\n', caller);
    else ctx.out('\n');
    return DCMD_OK;
  };
  if (!o.h) return one(addr, DCMD_HDRSPEC(flags));
  // -h: the bufctl_history walk; each history is its own header group
  let list: number[];
  try {
    list = bufctlHistory(kv, addr);
  } catch {
    ctx.warn(`unable to read bufctl at ${ctx.hex(addr)}`);
    ctx.warn('unable to walk bufctl_history');
    return DCMD_ERR;
  }
  let ret: DcmdResult = DCMD_OK;
  for (let i = 0; i < list.length && ret === DCMD_OK; i++) ret = one(list[i]!, i === 0);
  if (ret === DCMD_OK && !(flags & DCMD_PIPE_OUT)) ctx.out('\n');
  return ret;
}

/* --------------------------------------------------------- allocdby / freedby */

/** Bufctls of every audited cache, allocated (free=false) or free. */
function allBufctls(kv: KmemView, free: boolean): number[] {
  const out: number[] = [];
  for (const c of kv.caches()) {
    let ci: CacheInfo;
    try {
      ci = kv.cache(c);
    } catch {
      continue;
    }
    if (!(ci.flags & KMF_HASH)) continue;
    const refs = free ? kv.freeBuffers(ci) : kv.allocatedBuffers(ci);
    for (const r of refs) if (r.bufctl) out.push(r.bufctl);
  }
  return out;
}

function byThread(kv: KmemView, thread: number, free: boolean): BufctlAudit[] {
  const out: BufctlAudit[] = [];
  for (const b of allBufctls(kv, free)) {
    try {
      const a = kv.readAudit(b);
      if (a.thread === thread) out.push(a);
    } catch {
      kv.warn(`failed to read bufctl ${b}`);
    }
  }
  out.sort((x, y) => y.timestamp - x.timestamp || y.addr - x.addr);
  return out;
}

function makeBy(free: boolean) {
  return (ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult => {
    if (!(flags & DCMD_ADDRSPEC) || argv.length) return DCMD_USAGE;
    const kv = kview(ctx);
    const list = byThread(kv, addr, free);
    if (flags & DCMD_PIPE_OUT) {
      for (const a of list) ctx.pipeOut(a.addr);
      return DCMD_OK;
    }
    ctx.printf('%-?s %12s %s\n', 'BUFCTL', 'TIMESTAMP', 'CALLER');
    for (const a of list) {
      const c = callerOf(ctx, kv, a.stack);
      ctx.printf('%0?p %12llx %s\n', a.addr, a.timestamp, c ? symOff(ctx, c) : '');
    }
    return DCMD_OK;
  };
}

/* ---------------------------------------------------------------- ::kmausers */

function kmausersDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  // options and cache names may be interleaved, as illumos' getopts loop allows
  let optE = false;
  let optF = false;
  const names: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) {
      for (const ch of a.slice(1)) {
        if (ch === 'e') optE = true;
        else if (ch === 'f') optF = true;
        else {
          ctx.warn(`illegal option -- ${ch}`);
          return DCMD_USAGE;
        }
      }
    } else names.push(a);
  }
  const kv = kview(ctx);
  let caches: number[] = [];
  const all = names.length === 0;
  if (all) caches = kv.caches();
  else {
    for (const n of names) {
      const c = kv.cacheByName(n);
      if (c === undefined) {
        ctx.warn(`unknown kmem cache: ${n}`);
        return DCMD_ERR;
      }
      caches.push(c);
    }
  }
  if (flags & DCMD_ADDRSPEC) optF = true;
  const memThreshold = optE ? 0 : 8192;
  const cntThreshold = optE ? 0 : 100;
  const groups = new Map<string, { size: number; count: number; stack: readonly number[]; total: number }>();
  let audited = 0;
  for (const c of caches) {
    let ci: CacheInfo;
    try {
      ci = kv.cache(c);
    } catch {
      ctx.warn(`failed to read cache at ${ctx.hex(c)}`);
      continue;
    }
    if (!(ci.flags & KMF_AUDIT)) {
      if (!all) ctx.warn(`KMF_AUDIT is not enabled for ${ci.name}`);
      continue;
    }
    audited++;
    if (!(ci.flags & KMF_HASH)) continue; // no bufctls to walk
    for (const r of kv.allocatedBuffers(ci)) {
      if (!r.bufctl) continue;
      if (ctx.interrupted()) return DCMD_ERR;
      if (flags & DCMD_ADDRSPEC && !(addr >= r.buf && addr < r.buf + ci.bufsize)) continue;
      let a: BufctlAudit;
      try {
        a = kv.readAudit(r.bufctl);
      } catch {
        ctx.warn(`couldn't read bufctl at ${ctx.hex(r.bufctl)}`);
        continue;
      }
      if (optF) {
        // illumos prints each allocation as it walks: the bufctl's address
        ctx.printf('size %d, addr %p, thread %p, cache %s\n', ci.bufsize, r.bufctl, a.thread, ci.name);
        for (const pc of a.stack) ctx.printf('\t %a\n', pc);
      }
      const key = `${ci.bufsize}:${a.stack.join(',')}`;
      let gr = groups.get(key);
      if (!gr) {
        gr = { size: ci.bufsize, count: 0, stack: a.stack, total: 0 };
        groups.set(key, gr);
      }
      gr.count++;
      gr.total += ci.bufsize;
    }
  }
  if (audited === 0 && all) {
    ctx.warn('KMF_AUDIT is not enabled for any caches');
    return DCMD_ERR;
  }
  const sorted = [...groups.values()].sort((x, y) => y.total - x.total);
  for (const gr of sorted) {
    if (gr.total < memThreshold && gr.count < cntThreshold) continue;
    ctx.printf('%lu bytes for %u allocations with data size %lu:\n', gr.total, gr.count, gr.size);
    for (const pc of gr.stack) ctx.printf('\t %a\n', pc);
  }
  return DCMD_OK;
}

/* -------------------------------------------------------------- ::kmem_debug */

function kmemDebugDcmd(ctx: DcmdContext, _addr: number, _flags: number, argv: readonly string[]) {
  if (argv.length) return DCMD_USAGE;
  const on = !kmemDebugOn.get(ctx.target);
  kmemDebugOn.set(ctx.target, on);
  ctx.printf('kmem: debugging is now %s\n', on ? 'on' : 'off');
  return DCMD_OK;
}

/* ------------------------------------------------------------------ walkers */

function cacheList(ctx: DcmdContext, kv: KmemView, addr: number | undefined): CacheInfo[] {
  if (addr !== undefined) {
    walkCacheArg(ctx, kv, addr, 'kmem');
    return [kv.cache(addr)];
  }
  const out: CacheInfo[] = [];
  for (const c of kv.caches()) {
    try {
      const ci = kv.cache(c);
      if (!(ci.cflags & KMC_NOTOUCH)) out.push(ci);
    } catch {
      ctx.warn(`failed to read kmem_cache at ${ctx.hex(c)}`);
    }
  }
  return out;
}

/** Which buffers a kmem walk reports (illumos' KM_ALLOCATED, KM_FREE, KM_FREE | KM_CONSTRUCTED). */
type BufKind = 'allocated' | 'free' | 'constructed';

function kindRefs(kv: KmemView, ci: CacheInfo, kind: BufKind): BufRef[] {
  if (kind === 'allocated') return kv.allocatedBuffers(ci);
  if (kind === 'free') return kv.freeBuffers(ci);
  return kv.constructedBuffers(ci);
}

/**
 * The kmem, freemem, freemem_constructed, bufctl, freectl and
 * freectl_constructed walks (illumos kmem_walk_init_common): of one cache,
 * or without an address of every cache but the KMC_NOTOUCH ones.  A
 * bufctl walk of a cache without KMF_HASH reports nothing (its bufctls
 * live inside the buffers), as does a constructed walk of a cache with no
 * constructor or whose free buffers are filled with 0xdeadbeef.
 */
function* bufWalk(ctx: DcmdContext, addr: number | undefined, kind: BufKind, ctl: boolean): Iterable<number> {
  const kv = kview(ctx);
  for (const ci of cacheList(ctx, kv, addr)) {
    if (ci.buftotal === 0) continue;
    if (ctl && !(ci.flags & KMF_HASH)) {
      kmemDebug(ctx, `bufctl requested, not KMF_HASH (flags: ${ctx.hex(ci.flags)}) for ${ci.name}`);
      continue;
    }
    const refs = kindRefs(kv, ci, kind);
    kmemDebug(ctx, `walking ${ctx.hex(ci.addr)} (${ci.name}): ${refs.length} ${kind} ${ctl ? 'bufctls' : 'buffers'}`);
    for (const r of refs) {
      if (ctl) {
        if (r.bufctl) yield r.bufctl;
      } else yield r.buf;
    }
  }
}

/** The kmem_hash walk: every bufctl on a KMF_HASH cache's hash chains. */
function hashWalk(ctx: DcmdContext, addr: number | undefined): Iterable<number> {
  const kv = kview(ctx);
  const ci = kv.cache(walkCacheArg(ctx, kv, addr, 'kmem_hash'));
  if (!(ci.flags & KMF_HASH)) {
    ctx.warn(`cache ${ctx.hex(ci.addr)} doesn't have a hash table`);
    return [];
  }
  return kv.hashChains(ci).map((r) => r.bufctl);
}

/** The log header pointers kmem keeps (an explicit kmem_log address must be one of their values). */
const KMEM_LOGS = ['kmem_transaction_log', 'kmem_content_log', 'kmem_failure_log', 'kmem_slab_log'];

function* logWalk(ctx: DcmdContext, addr: number | undefined): Iterable<number> {
  const kv = kview(ctx);
  if (addr !== undefined && !KMEM_LOGS.some((g) => kv.logHeader(g) === addr && addr !== 0)) {
    throw new WalkError(`${ctx.hex(addr)} is not a kmem_log_header_t (the value of ${KMEM_LOGS.join(', ')})`);
  }
  const lh = addr ?? kv.logHeader('kmem_transaction_log');
  if (lh === 0) throw new WalkError('log is disabled');
  kmemDebug(ctx, `walking log header ${ctx.hex(lh)}`);
  yield* kv.logEntries(lh);
}

export function kmemWalkers(): WalkerDef[] {
  return [
    {
      name: 'kmem_cache',
      description: 'walk list of kmem caches',
      walk(ctx, addr) {
        noAddress('kmem_cache', addr);
        return kview(ctx).caches();
      },
    },
    {
      name: 'kmem',
      description: 'walk a kmem cache',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'allocated', false),
    },
    {
      name: 'freemem',
      description: 'walk a kmem cache\'s free memory',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'free', false),
    },
    {
      name: 'freemem_constructed',
      description: 'walk a kmem cache\'s constructed free memory',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'constructed', false),
    },
    {
      name: 'bufctl',
      description: 'walk a kmem cache\'s bufctls',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'allocated', true),
    },
    {
      name: 'freectl',
      description: 'walk a kmem cache\'s free bufctls',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'free', true),
    },
    {
      name: 'freectl_constructed',
      description: 'walk a kmem cache\'s constructed free bufctls',
      walk: (ctx, addr) => bufWalk(ctx, addr, 'constructed', true),
    },
    {
      name: 'kmem_hash',
      description: 'given a kmem cache, walk its allocated hash table',
      walk: (ctx, addr) => hashWalk(ctx, addr),
    },
    {
      name: 'kmem_cpu_cache',
      description: 'given a kmem cache, walk its per-CPU caches',
      walk(ctx, addr) {
        const kv = kview(ctx);
        return kv.cpuCaches(walkCacheArg(ctx, kv, addr, 'kmem_cpu_cache')).map((c) => c.addr);
      },
    },
    {
      name: 'kmem_slab',
      description: 'given a kmem cache, walk its slabs',
      walk(ctx, addr) {
        const kv = kview(ctx);
        return kv.slabs(walkCacheArg(ctx, kv, addr, 'kmem_slab'));
      },
    },
    {
      name: 'kmem_slab_partial',
      description: 'given a kmem cache, walk its partially allocated slabs (min 1)',
      walk(ctx, addr) {
        const kv = kview(ctx);
        const c = walkCacheArg(ctx, kv, addr, 'kmem_slab_partial');
        const p = kv.partialSlabs(c);
        if (p.length) return p;
        return kv.completeSlabs(c).slice(0, 1);
      },
    },
    {
      name: 'kmem_log',
      description: 'walk the kmem transaction log',
      walk: (ctx, addr) => logWalk(ctx, addr),
    },
    {
      name: 'allocdby',
      description: 'given a thread, walk its allocated bufctls',
      walk(ctx, addr) {
        if (addr === undefined) throw new WalkError("allocdby walk doesn't support global walks");
        return byThread(kview(ctx), addr, false).map((a) => a.addr);
      },
    },
    {
      name: 'freedby',
      description: 'given a thread, walk its freed bufctls',
      walk(ctx, addr) {
        if (addr === undefined) throw new WalkError("allocdby walk doesn't support global walks");
        return byThread(kview(ctx), addr, true).map((a) => a.addr);
      },
    },
    {
      name: 'bufctl_history',
      description: 'walk the available history of a bufctl',
      walk(ctx, addr) {
        if (addr === undefined) throw new WalkError("bufctl_history walk doesn't support global walks");
        return bufctlHistory(kview(ctx), addr);
      },
    },
  ];
}

/** One walker per cache, named after it. */
export function perCacheWalkers(ctx: DcmdContext): WalkerDef[] {
  let kv: KmemView;
  try {
    kv = new KmemView(ctx.target);
  } catch {
    return [];
  }
  const out: WalkerDef[] = [];
  for (const c of kv.caches()) {
    let name: string;
    try {
      name = kv.cache(c).name;
    } catch {
      continue;
    }
    if (!name) continue;
    out.push({
      name,
      description: `walk the ${name} cache`,
      walk: (cx, addr) => {
        noAddress(name, addr);
        return bufWalk(cx, c, 'allocated', false);
      },
    });
  }
  return out;
}

const BUFCTL_HELP = `Display the contents of kmem_bufctl_audit_t, with optional filtering.

Options:
  -v    Display the full content of the bufctl, including its stack trace
  -h    retrieve the bufctl's transaction history, if available
  -a addr
        filter out bufctls not involving the buffer at addr
  -c caller
        filter out bufctls without the function/PC in their stack trace
  -e earliest
        filter out bufctls timestamped before earliest
  -l latest
        filter out bufctls timestamped after latest
  -t thread
        filter out bufctls not involving thread

In a pipeline the matching bufctl addresses are passed on.  The CALLER
column is the first stack frame outside the allocator (kmem_* functions;
libumem's umem_* on a process).`;

export function kmemDcmds(): DcmdDef[] {
  return [
    {
      name: 'kmastat',
      usage: '[-kmg]',
      description: 'kernel memory allocator stats',
      help: `Print, for every kmem cache, its buffer size, buffers in use and in total,
memory in use (bytes of slabs), allocations that succeeded and failed;
then per-arena totals of those caches, then every vmem arena (indented
under its source) with memory in use, total and imported, and its
allocation counts.

Options:
  -k    display sizes in kilobytes
  -m    display sizes in megabytes
  -g    display sizes in gigabytes`,
      fn: kmastatDcmd,
    },
    {
      name: 'kmem_cache',
      usage: '?[-n name]',
      description: 'print kernel memory caches',
      help: `Print a kmem cache (or all of them): its address, name, debugging flags
(cache_flags: KMF_AUDIT 0x1, DEADBEEF 0x2, REDZONE 0x4, CONTENTS 0x8,
NOMAGAZINE 0x20, FIREWALL 0x40, LITE 0x100, HASH 0x200), creation flags,
buffer size and total buffers.

Options:
  -n name
        name of kmem cache (or matching partial name)`,
      fn: kmemCacheDcmd,
    },
    {
      name: 'kmem_slabs',
      usage: '?[-v] [-n cache] [-N cache] [-b maxbins] [-B minbinsize]',
      description: 'display slab usage per kmem cache',
      help: `Display slab usage per kmem cache.

Options:
  -n name
        name of kmem cache (or matching partial name)
  -N name
        exact name of kmem cache
  -b maxbins
        Print a distribution of allocated buffers per slab using at
        most maxbins bins. The first bin is reserved for completely
        allocated slabs. Setting maxbins to zero (-b 0) has the same
        effect as specifying the maximum allocated buffers per slab
        or setting minbinsize to 1 (-B 1).
  -B minbinsize
        Print a distribution of allocated buffers per slab, making
        all bins (except the first, reserved for completely allocated
        slabs) at least minbinsize buffers apart.
  -v    verbose output: list the allocated buffer count of each partial
        slab, in the order kmem allocates from them (most allocated
        first), e.g.

          10 complete (8), 3 partial: 7 3 1

        thirteen slabs of at most eight buffers, three of them partially
        allocated.  A count marked '*' is a slab kmem marked
        non-reclaimable (KMEM_SLAB_NOMOVE).

Column          Description

Cache Name      name of kmem cache
Slabs           total slab count
Partial Slabs   count of slabs with unused buffers
Buffers         total buffer count
Unused Buffers  count of unallocated buffers across all partial slabs
Waste           (Unused Buffers / Buffers), to the nearest tenth of a
                percent; does not include the space of buftags, slab
                colouring or the magazine layer`,
      fn: kmemSlabsDcmd,
    },
    {
      name: 'kmem_verify',
      usage: '?',
      description: 'check integrity of kmem-managed memory',
      help: `Without an address, check every cache with redzone checking and print
"clean" or the number of corrupt buffers.  With a cache address, list
each corrupt buffer and what is wrong with it: a free buffer no longer
filled with 0xdeadbeef (and the first modified address), a broken redzone
or kmem_alloc size encoding, or a buftag whose bufctl and bxstat no
longer agree.`,
      fn: kmemVerifyDcmd,
    },
    {
      name: 'kmem_log',
      usage: '?[-b]',
      description: 'dump kmem transaction log',
      help: `Print the transaction log, newest first: the CPU whose current log chunk
holds the record, the record (a kmem_bufctl_audit_t copy), the buffer,
the timestamp and the thread.  addr::kmem_log prints the record at addr;
with -b, addr is a buffer address and every record of that buffer is
printed.`,
      fn: kmemLogDcmd,
    },
    {
      name: 'kmalog',
      usage: '?[ fail | slab ]',
      description: 'display kmem transaction log and stack traces',
      help: `Print the transaction log (or the failure or slab log), newest first, each
record with its age relative to the newest, buffer, cache and stack.
With an address, only records of the buffer containing it.`,
      fn: kmalogDcmd,
    },
    {
      name: 'bufctl',
      usage: ':[-vh] [-a addr] [-c caller] [-e earliest] [-l latest] [-t thd]',
      description: 'print or filter a bufctl',
      help: BUFCTL_HELP,
      fn: bufctlDcmd,
    },
    {
      name: 'allocdby',
      usage: ':',
      description: 'given a thread, print its allocated buffers',
      help: `Print the bufctls of the buffers currently allocated by the thread at
addr (audited caches only), newest first, with the allocation's caller.`,
      fn: makeBy(false),
    },
    {
      name: 'freedby',
      usage: ':',
      description: 'given a thread, print its freed buffers',
      help: `Print the bufctls of the free buffers last freed by the thread at addr
(audited caches only), newest first, with the free's caller.`,
      fn: makeBy(true),
    },
    {
      name: 'kmausers',
      usage: '?[-ef] [cache ...]',
      description: 'current medium and large users of the kmem allocator',
      help: `Group the allocated buffers of audited caches by size and allocation
stack, and print the groups holding at least 8192 bytes or 100
allocations, largest first.

Options:
  -e    include all users, not just the large ones
  -f    also print each allocation (implied by an address, which also
        restricts the output to buffers containing it)`,
      fn: kmausersDcmd,
    },
    {
      name: 'kmem_debug',
      usage: '',
      description: 'toggle kmem dcmd/walk debugging',
      help: 'Toggle debugging output of the kmem walkers: while it is on, each walk of a cache\nor a log says on stderr what it walks and how many entries it found.',
      fn: kmemDebugDcmd,
    },
  ];
}

