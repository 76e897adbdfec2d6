/*
 * UmemError: an error report of the process heap, as a typed error.
 *
 * libumem reports two kinds of errors, both through umem_err_recoverable():
 * the allocator's own checks (umem_error: nine classes, the kmem ones) and
 * the malloc layer's tag check (`free(addr): double-free or invalid buffer`,
 * `... invalid or corrupted buffer`).  Either report ends with
 * `umem: heap corruption detected` (for the allocator's) and the stack of
 * the erring call.  `report` holds the whole text as printed; the other
 * fields say what was found, for programs that want more than the text.
 */

import type { KMERR_NAMES } from '../abi/kmem-impl.js';

/** The class of a report: one of kmem's nine, or the malloc tag's two, or a failure of the heap itself. */
export type UmemErrorClass =
  | (typeof KMERR_NAMES)[number]
  /** free/realloc of a pointer whose malloc tag says it was freed (or is not ours). */
  | 'DOUBLEFREE'
  /** free/realloc of a pointer whose malloc tag is not a malloc tag. */
  | 'BADTAG'
  /** The allocator itself failed (an internal panic, an access outside the memory). */
  | 'PANIC';

export class UmemError extends Error {
  /** The class, in kmem's names (MODIFIED, REDZONE, DUPFREE, ...) or the malloc layer's. */
  readonly umemClass: UmemErrorClass;
  /** The whole report, as libumem prints it. */
  readonly report: string;
  /** The buffer the caller passed. */
  readonly buffer: number;
  /** The bufctl, cache and slab found (0 when none). */
  readonly bufctl: number;
  readonly cache: number;
  readonly slab: number;
  constructor(umemClass: UmemErrorClass, report: string, where: { buffer: number; bufctl?: number; cache?: number; slab?: number }) {
    super(report.split('\n', 1)[0]!);
    this.name = 'UmemError';
    this.umemClass = umemClass;
    this.report = report;
    this.buffer = where.buffer;
    this.bufctl = where.bufctl ?? 0;
    this.cache = where.cache ?? 0;
    this.slab = where.slab ?? 0;
  }
}
