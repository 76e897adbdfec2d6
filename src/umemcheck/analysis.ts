/*
 * The process heap seen as mdb sees it: umem_verify and findleaks.
 *
 * Theory
 * ------
 * Checking a heap and finding its leaks are analyses over bytes, symbols
 * and types (mdb's analyses, src/mdb/analysis): they never ask the
 * allocator.  So the library API runs the very same analyses over a
 * MemoryTarget of the live process memory, whose symbols are the
 * allocator's (its globals in the data area: the allocator's own
 * references, as illumos' leaky scans libumem's data) plus the roots the
 * caller names (a program's data segment, as object symbols) and whose one
 * thread's stack is the program's live stack.  What `::umem_verify` and
 * `::findleaks` would say of a core of this memory, these functions say of
 * the running heap.  (This layer sits above mdb's analyses; the allocator
 * below it knows nothing of them.)
 */

import { MemoryTarget } from '../target/memory-target.js';
import type { TargetSymbol, TargetThread } from '../target/target.js';
import { findLeaks, type LeakReport } from '../mdb/analysis/leaks.js';
import { kmemVerify, type CacheVerify } from '../mdb/analysis/verify.js';
import type { Umem } from '../umem/umem.js';

/** Where a program keeps pointers: ranges of its data, and its live stack. */
export interface UmemRoots {
  /** Ranges scanned as roots (a program's data and bss: [0 or __global_base, __data_end)). */
  ranges?: ReadonlyArray<{ base: number; size: number; name?: string }>;
  /** The live stack: [sp, top) (a wasm32 program: __stack_pointer up to the stack's top). */
  stack?: { sp: number; top: number };
  /** The program's functions, so that stacks and callers have names (pcs as the audit records hold them). */
  functions?: ReadonlyArray<{ name: string; value: number; size: number }>;
}

export interface UmemLeakOptions {
  /**
   * Leave out groups whose allocation stack this returns true for, given
   * the stack's symbols innermost first (e.g. wasi-libc's startup blocks:
   * `__main_void`, `internal_register_preopened_fd`).
   */
  ignore?: (frames: readonly string[]) => boolean;
}

/** A MemoryTarget over the process heap, with the given roots. */
export function umemTarget(u: Umem, roots: UmemRoots = {}): MemoryTarget {
  u.memory.current();
  const k = u.heap.k;
  const symbols: TargetSymbol[] = k.symbols().map((s) => ({ name: s.name, value: s.value, size: s.size, kind: s.kind }));
  (roots.ranges ?? []).forEach((r, i) => {
    if (r.size > 0) symbols.push({ name: r.name ?? `root${i}`, value: r.base, size: r.size, kind: 'object', module: 'a.out' });
  });
  for (const f of roots.functions ?? []) symbols.push({ name: f.name, value: f.value, size: f.size, kind: 'func', module: 'a.out' });
  const threads: TargetThread[] = [];
  if (roots.stack && roots.stack.top > roots.stack.sp) {
    const t = k.threads[0]!;
    threads.push({ addr: t.addr, name: 'main', pc: 0, sp: roots.stack.sp, fp: 0, stackBase: roots.stack.sp, stackTop: roots.stack.top, cpu: 0 });
  }
  return new MemoryTarget({
    memory: u.memory,
    types: k.types,
    symbols,
    threads,
    status: { kind: 'live', osName: 'wasm32-wasi', osRelease: '', osVersion: 'kmemdb umem', hostname: k.hostname },
  });
}

/** umem_verify: every cache with redzones checked, in cache order. */
export function umemVerify(u: Umem): CacheVerify[] {
  return kmemVerify(umemTarget(u));
}

/** findleaks over the heap from the given roots (conservative, grouped by allocation stack). */
export function umemFindLeaks(u: Umem, roots: UmemRoots = {}, opts: UmemLeakOptions = {}): LeakReport {
  const t = umemTarget(u, roots);
  const r = findLeaks(t);
  const { ignore } = opts;
  if (!ignore) return r;
  const name = (pc: number) => t.symbolByAddr(pc)?.name ?? '';
  return { ...r, groups: r.groups.filter((g) => !ignore(g.stack.map(name))) };
}
