/*
 * Distributions as mdb prints them (illumos' genunix dist.c, shared by
 * ::kmem_slabs -b/-B and libumem's ::umem_malloc_dist / ::umem_malloc_info).
 *
 * Theory
 * ------
 * A distribution is a set of counts indexed by a small integer (buffers
 * per slab, bytes asked of malloc) cut into bins.  A binning is an
 * ascending array of bin starts plus one past the end: bin i holds the
 * values [bounds[i], bounds[i + 1]).  Linear binning divides the range
 * evenly; geometric binning makes the bin starts grow by a constant ratio
 * (never closer than a minimum bin size), so small values get fine bins
 * and large ones coarse bins.  Each bin prints as its range, a bar of up
 * to 50 '@' in proportion to the whole, and its count.
 */

import type { DcmdContext } from '../module.js';

/** Width of a bin's label column when the caller gives none. */
export const DIST_WIDTH = 11;
/** Characters of a full bar. */
const DIST_NCHARS = 50;

/** The count of the values from lo to hi inclusive. */
export type RangeCount = (lo: number, hi: number) => number;

/** A RangeCount over an array indexed by value (missing entries count 0). */
export function arrayCounts(counts: readonly number[]): RangeCount {
  return (lo, hi) => {
    let n = 0;
    for (let v = lo; v <= hi; v++) n += counts[v] ?? 0;
    return n;
  };
}

/** dist_linear: `buckets` bin starts dividing [beg, end] evenly, then end + 1. */
export function distLinear(buckets: number, beg: number, end: number): number[] {
  const out: number[] = [];
  const width = end - beg + 1;
  for (let pos = 0; pos < buckets; pos++) out.push(beg + Math.floor((pos * width) / buckets));
  out.push(end + 1);
  return out;
}

/**
 * dist_geometric: `buckets` bin starts from beg whose ratio is constant,
 * r = ((end + 1) / beg) ^ (1 / buckets) (beg 0 computed as 1, the first
 * bin still starting at 0), each bin at least minbucketsize wide (the
 * early, small bins grow by minbucketsize until the curve catches up),
 * then end + 1.
 */
export function distGeometric(buckets: number, beg: number, end: number, minbucketsize: number): number[] {
  if (buckets === 1) return [beg, end + 1];
  const minSize = minbucketsize === 0 ? 1 : minbucketsize;
  const from = beg === 0 ? 1 : beg;
  const r = Math.exp(Math.log((end + 1) / from) / buckets);
  const out: number[] = [];
  let b = from;
  let last = beg === 0 ? 0 : from;
  for (let idx = 0; idx < buckets; idx++) {
    out.push(last);
    b *= r;
    const next = Math.trunc(b);
    last = next > last + minSize - 1 ? next : last + minSize;
  }
  out.push(end + 1);
  return out;
}

/** The header line: the label right-aligned in `width`, the dashed "Distribution" title, the count's name. */
export function distPrintHeader(ctx: DcmdContext, label: string, width: number, count: string): void {
  const dashes = '-'.repeat(Math.floor((DIST_NCHARS - ' Distribution '.length) / 2));
  ctx.printf('%*s  %s%s%s %s\n', width, label, dashes, ' Distribution ', dashes, count);
}

/** Bin i ([bounds[i], bounds[i+1])) as "first-last" (or "first"), its bar of '@' against total, and its count. */
export function distPrintBucket(ctx: DcmdContext, bounds: readonly number[], i: number, count: RangeCount, total: number, width: number): void {
  const bb = bounds[i]!;
  const be = bounds[i + 1]! - 1;
  const n = count(bb, be);
  const nats = Math.min(DIST_NCHARS, Math.floor((DIST_NCHARS * n) / (total === 0 ? 1 : total)));
  const range = bb === be ? String(bb) : `${bb}-${be}`;
  ctx.printf('%*s |%s%s %lld\n', width, range, '@'.repeat(nats), ' '.repeat(DIST_NCHARS - nats), n);
}

/** A RangeCount over sparse counts (value -> count), for wide ranges with few values. */
export function sparseCounts(counts: ReadonlyMap<number, number>): RangeCount {
  const values = [...counts.keys()].sort((a, b) => a - b);
  const prefix = [0];
  for (const v of values) prefix.push(prefix[prefix.length - 1]! + counts.get(v)!);
  /** How many values are below x. */
  const below = (x: number): number => {
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (lo, hi) => (hi < lo ? 0 : prefix[below(hi + 1)]! - prefix[below(lo)]!);
}
