/*
 * libumem's malloc layer in mdb: ::umem_malloc_dist and ::umem_malloc_info,
 * in illumos' formats and options (usr/src/cmd/mdb/common/modules/libumem).
 *
 * Theory
 * ------
 * malloc(n) is umem_alloc(n + 8) from the smallest umem_alloc_N cache that
 * holds it, with libumem's 8-byte malloc tag first (../../abi/umem-malloc.ts):
 *
 *     <------------- malloc_size ----------->
 *     <------------- cache_bufsize ---------------------->
 *     <------------- cache_chunksize ---------------------------------->
 *     +-----+--------------------------------+------------+------------+
 *     | tag | n (what the program asked for) | round-off  | debug info |
 *     +-----+--------------------------------+------------+------------+
 *
 * Everything comes from the target: the umem_alloc_N caches from the
 * cache list, their allocated buffers from the slabs (the `umem` walk),
 * and n from each buffer's tag, counted only where malloc_stat +
 * malloc_size is MALLOC_MAGIC and the size fits the buffer (a buffer
 * umem_alloc'ed directly, or a damaged tag, is not a malloc).  A malloc's
 * overhead is its tag, its round-off and the chunk's debug space, plus its
 * share of the slab's own cost (the slab's unused tail and, for a hashed
 * cache, the external slab and per-chunk bufctls), as if the mallocs were
 * packed densely.
 *
 * The distribution spans the malloc sizes a cache can serve: from the
 * previous umem_alloc size minus the tag, plus one, to this cache's size
 * minus the tag; over every cache, from 0 to the largest (illumos'
 * UMI_MAX_BUCKET, UMEM_MAXBUF less the tag; here the largest umem_alloc_N
 * cache the target holds).  Without -b or -B a bin is one size, as
 * illumos prints it.
 */

import { DCMD_ADDRSPEC, DCMD_ERR, DCMD_HDRSPEC, DCMD_LOOP, DCMD_LOOPFIRST, DCMD_OK, DCMD_USAGE, DcmdError, type DcmdContext, type DcmdDef, type DcmdResult } from '../module.js';
import type { CacheInfo, KmemView } from '../analysis/kmem-view.js';
import { trySize } from '../analysis/fields.js';
import { KMF_AUDIT, KMF_HASH } from '../../abi/kmem-impl.js';
import { MALLOC_MAGIC, MALLOC_TAG } from '../../abi/umem-malloc.js';
import { kview } from './genunix-kmem.js';
import { distGeometric, distLinear, distPrintBucket, distPrintHeader, sparseCounts, type RangeCount } from './dist.js';

const UMEM_ALLOC_PREFIX = 'umem_alloc_';
/** dist_print_header's label and its width in the malloc distributions. */
const DIST_LABEL = 'malloc size';
const DIST_LABEL_WIDTH = 11;

/** What the -d, -g, -b and -B options of both dcmds ask for. */
interface DistOptions {
  readonly dump: boolean;
  readonly geometric: boolean;
  readonly maxbuckets: number;
  readonly minbucketsize: number;
}

/** The outstanding mallocs of one or more caches (illumos' umem_malloc_info_t). */
export interface MallocTally {
  /** Buffers with a valid malloc tag. */
  mallocs: number;
  /** Bytes the program asked for, over those buffers. */
  size: number;
  /** Tags, round-off and debug space (chunksize - malloc_size), over those buffers. */
  overhead: number;
  /** malloc size -> how many outstanding mallocs asked for it. */
  readonly sizes: Map<number, number>;
}

/** An option's value as the size_t illumos keeps it (-1 is the largest), as a number (at most 2^53 - 1). */
function sizeOption(v: bigint | undefined): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return v === undefined ? 0 : Number(v > max ? max : v);
}

function parseDistOptions(ctx: DcmdContext, argv: readonly string[]): DistOptions | undefined {
  const g = ctx.getopts(argv, { d: 'bool', g: 'bool', b: 'u64', B: 'u64' });
  if (!g || g.rest.length) return undefined;
  return { dump: g.opts.d, geometric: g.opts.g, maxbuckets: sizeOption(g.opts.b), minbucketsize: sizeOption(g.opts.B) };
}

function isMallocCache(ci: CacheInfo): boolean {
  return ci.name.startsWith(UMEM_ALLOC_PREFIX);
}

/** The umem_alloc_N caches on the cache list, each checked to be a cache (a damaged one is warned of and left out). */
function mallocCaches(ctx: DcmdContext, kv: KmemView): CacheInfo[] {
  const out: CacheInfo[] = [];
  for (const c of kv.caches()) {
    const why = kv.checkCache(c);
    if (why !== undefined) {
      ctx.warn(`${ctx.hex(c)} is not a valid umem_cache_t: it ${why}; skipped`);
      continue;
    }
    const ci = kv.cache(c);
    if (isMallocCache(ci)) out.push(ci);
  }
  return out;
}

/** The largest malloc a cache serves: its buffer less the tag. */
function maxMallocOf(ci: CacheInfo): number {
  return ci.bufsize - MALLOC_TAG;
}

/** Add a cache's outstanding mallocs (its allocated buffers whose tags are valid) to a tally. */
function tallyCache(ctx: DcmdContext, kv: KmemView, ci: CacheInfo, tally: MallocTally): void {
  for (const r of kv.allocatedBuffers(ci)) {
    let size: number;
    let stat: number;
    try {
      size = ctx.target.load32(r.buf);
      stat = ctx.target.load32(r.buf + 4);
    } catch {
      ctx.warn(`unable to read malloc header at ${ctx.hex(r.buf)}`);
      continue;
    }
    if (((stat + size) >>> 0) !== MALLOC_MAGIC || size < MALLOC_TAG || size > ci.bufsize) continue;
    const n = size - MALLOC_TAG;
    tally.mallocs++;
    tally.size += n;
    tally.overhead += MALLOC_TAG + ci.chunksize - size;
    tally.sizes.set(n, (tally.sizes.get(n) ?? 0) + 1);
  }
}

function newTally(): MallocTally {
  return { mallocs: 0, size: 0, overhead: 0, sizes: new Map() };
}

/**
 * The slab's own cost spread over the mallocs as if they filled slabs
 * densely: per slab, the bytes no chunk uses and, for a hashed cache, the
 * external slab and a bufctl per chunk; times mallocs, over chunks per slab.
 */
function perSlabOverhead(ctx: DcmdContext, kv: KmemView, ci: CacheInfo, mallocs: number): number {
  const slab = kv.slabs(ci.addr)[0];
  let chunks: number;
  try {
    if (slab === undefined) throw new Error('no slab');
    chunks = ctx.readMember(slab, 'kmem_slab_t', 'slab_chunks');
  } catch {
    ctx.warn(`unable to read slab at ${ctx.hex(slab ?? 0)}`);
    return 0;
  }
  if (chunks === 0 || ci.chunksize === 0 || chunks > Math.floor(ci.slabsize / ci.chunksize)) {
    ctx.warn(`invalid #chunks (${chunks}) in slab ${ctx.hex(slab)}`);
    return 0;
  }
  let perslab = ci.slabsize - ci.chunksize * chunks;
  if (ci.flags & KMF_HASH) {
    const bufctl = ci.flags & KMF_AUDIT ? kv.L.auditSize : (trySize(ctx.types, 'kmem_bufctl_t') ?? 0);
    perslab += kv.L.slabSize + chunks * bufctl;
  }
  return Math.floor((perslab * mallocs) / chunks);
}

/** umem_malloc_print_dist: the counts of [minmalloc, maxmalloc] in bins, under dist's header, then a blank line. */
function printMallocDist(ctx: DcmdContext, counts: RangeCount, minmalloc: number, maxmalloc: number, o: DistOptions): void {
  const nbucks = maxmalloc - minmalloc + 1;
  let buckets = nbucks;
  let minbucketsize = o.minbucketsize;
  if (o.maxbuckets !== 0) buckets = Math.min(buckets, o.maxbuckets);
  if (minbucketsize > 1) {
    buckets = Math.min(buckets, Math.floor(nbucks / minbucketsize));
    if (buckets === 0) {
      buckets = 1;
      minbucketsize = nbucks;
    }
  }
  const bounds = o.geometric ? distGeometric(buckets, minmalloc, maxmalloc, minbucketsize) : distLinear(buckets, minmalloc, maxmalloc);
  const total = counts(minmalloc, maxmalloc);
  distPrintHeader(ctx, DIST_LABEL, DIST_LABEL_WIDTH, 'count');
  for (let i = 0; i < buckets; i++) distPrintBucket(ctx, bounds, i, counts, total, DIST_LABEL_WIDTH);
  ctx.out('\n');
}

/** -d: one "size<TAB>count" line per size of [from, to]. */
function dumpCounts(ctx: DcmdContext, counts: RangeCount, from: number, to: number): void {
  for (let s = from; s <= to; s++) {
    if (ctx.interrupted()) return;
    ctx.printf('%d\t%d\n', s, counts(s, s));
  }
}

/* ---------------------------------------------------------------- ::umem_malloc_dist */

function umemMallocDistDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  const o = parseDistOptions(ctx, argv);
  if (!o) return DCMD_USAGE;
  const kv = kview(ctx);
  const caches = mallocCaches(ctx, kv);
  if (caches.length === 0) throw new DcmdError('unable to walk \'umem_cache\': no umem_alloc caches');
  const tally = newTally();
  for (const ci of caches) tallyCache(ctx, kv, ci, tally);
  const maxalloc = caches.reduce((m, c) => Math.max(m, maxMallocOf(c)), 0);
  const counts = sparseCounts(tally.sizes);
  if (o.dump) dumpCounts(ctx, counts, 0, maxalloc);
  else printMallocDist(ctx, counts, 0, maxalloc, o);
  return DCMD_OK;
}

/* ---------------------------------------------------------------- ::umem_malloc_info */

/** The smallest malloc a cache serves: one past the next smaller umem_alloc cache's largest (0 for the smallest cache). */
function minMallocOf(ci: CacheInfo, caches: readonly CacheInfo[]): number {
  const smaller = caches.filter((c) => c.bufsize < ci.bufsize);
  return smaller.length ? smaller.reduce((m, c) => Math.max(m, maxMallocOf(c)), 0) + 1 : 0;
}

/**
 * One cache's line (and with -d/-g/-b/-B its distribution), as illumos
 * prints it for each cache of the walk; `caches` gives the umem_alloc
 * caches (read only for a distribution, for its smallest size).
 */
function mallocInfoOne(ctx: DcmdContext, kv: KmemView, ci: CacheInfo, flags: number, o: DistOptions, caches: () => readonly CacheInfo[]): DcmdResult {
  const verbose = o.dump || o.geometric || o.maxbuckets !== 0 || o.minbucketsize !== 0;
  const skip = !isMallocCache(ci);
  if (skip && !(flags & DCMD_LOOP)) ctx.warn(`umem_malloc_info: cache "${ci.name}" is not used by malloc()`);
  if ((!verbose && DCMD_HDRSPEC(flags)) || (verbose && !skip)) {
    ctx.printf('%<ul>%-?s %6s %6s %8s %8s %10s %10s %6s%</ul>\n', 'CACHE', 'BUFSZ', 'MAXMAL', 'BUFMALLC', 'AVG_MAL', 'MALLOCED', 'OVERHEAD', '%OVER');
  }
  if (skip) return DCMD_OK;
  const maxmalloc = maxMallocOf(ci);
  const tally = newTally();
  tallyCache(ctx, kv, ci, tally);
  const n = tally.mallocs;
  const avg = n === 0 ? 0 : Math.floor((tally.size + Math.floor((n - 1) / 2)) / n);
  const overhead = tally.overhead + (n === 0 ? 0 : perSlabOverhead(ctx, kv, ci, n));
  const pct = tally.size === 0 ? 0 : Math.floor((1000 * overhead) / tally.size);
  ctx.printf('%0?p %6ld %6ld %8ld %8ld %10ld %10ld %3ld.%01ld%%\n', ci.addr, ci.bufsize, maxmalloc, n, avg, tally.size, overhead, Math.floor(pct / 10), pct % 10);
  if (!verbose) return DCMD_OK;
  const minmalloc = minMallocOf(ci, caches());
  const counts = sparseCounts(tally.sizes);
  if (o.dump) {
    dumpCounts(ctx, counts, minmalloc, maxmalloc);
    ctx.out('\n');
  } else {
    ctx.out('\n');
    printMallocDist(ctx, counts, minmalloc, maxmalloc, o);
  }
  return DCMD_OK;
}

function umemMallocInfoDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const o = parseDistOptions(ctx, argv);
  if (!o) return DCMD_USAGE;
  const kv = kview(ctx);
  let list: CacheInfo[] | undefined;
  const caches = () => (list ??= mallocCaches(ctx, kv));
  if (flags & DCMD_ADDRSPEC) {
    let ci: CacheInfo;
    try {
      ci = kv.cache(addr);
    } catch {
      throw new DcmdError(`unable to read cache at ${ctx.hex(addr)}`);
    }
    const why = kv.checkCache(addr);
    if (why !== undefined) throw new DcmdError(`${ctx.hex(addr)} is not a valid umem_cache_t: it ${why}`);
    return mallocInfoOne(ctx, kv, ci, flags, o, caches);
  }
  // every cache of the umem_cache walk, as mdb_walk_dcmd calls the dcmd for each
  caches(); // warns of the damaged ones, which the walk skips
  let first = true;
  for (const c of kv.caches()) {
    if (ctx.interrupted()) return DCMD_ERR;
    if (kv.checkCache(c) !== undefined) continue; // warned of by mallocCaches
    const loopFlags = DCMD_ADDRSPEC | DCMD_LOOP | (first ? DCMD_LOOPFIRST : 0);
    first = false;
    mallocInfoOne(ctx, kv, kv.cache(c), loopFlags, o, caches);
  }
  return DCMD_OK;
}

/* ---------------------------------------------------------------- definitions */

const DIST_OPTIONS_HELP = `  -b maxbins
        Use at most maxbins bins for the data
  -B minbinsize
        Make the bins at least minbinsize bytes apart
  -d    dump the raw distribution data without binning
  -g    use geometric binning instead of linear binning`;

/** The two dcmds, each wrapped by the caller (libumem.ts checks that the allocator is there). */
export const MALLOC_DCMDS: readonly DcmdDef[] = [
  {
    name: 'umem_malloc_dist',
    usage: '[-dg] [-b maxbins] [-B minbinsize]',
    description: 'report distribution of outstanding malloc()s',
    help: `report distribution of outstanding malloc()s

Read the malloc tag of every allocated buffer of the umem_alloc_N caches
and print how many outstanding malloc()s asked for each size, from 0 to
the largest malloc the largest umem_alloc cache serves (its buffer size
less the 8-byte tag).  Without options a bin is one size.

Options:
${DIST_OPTIONS_HELP}

Numbers take mdb's default radix (16): -b 0t10 for ten bins.`,
    fn: umemMallocDistDcmd,
  },
  {
    name: 'umem_malloc_info',
    usage: '?[-dg] [-b maxbins] [-B minbinsize]',
    description: 'report information about malloc()s by cache',
    help: `report information about malloc()s by cache.

For each umem_alloc_N cache (or the cache at addr): its buffer size
(BUFSZ), the largest malloc() it serves (MAXMAL, BUFSZ less the malloc
tag), the outstanding malloc()s it holds (BUFMALLC), their average and
total size (AVG_MAL, MALLOCED), and the bytes they cost beyond that
(OVERHEAD: tags, round-off to the buffer size, debug space, and their
share of the slabs' own cost), also as a percentage of MALLOCED.  With
-d, -g, -b or -B, each cache's line is followed by the distribution of
its malloc sizes (the sizes it serves: one past the next smaller cache's
MAXMAL to its own MAXMAL), under a header of its own.

Options:
${DIST_OPTIONS_HELP}`,
    fn: umemMallocInfoDcmd,
  },
];
