/*
 * Reading vmem arenas from a target.
 *
 * Arenas are on the global `vmem_list`, linked through vm_next in creation
 * order; an arena's parent is its vm_source.  Each arena's segments form a
 * circular doubly-linked list in address order through vs_anext/vs_aprev,
 * anchored at the embedded vm_seg0 (a SPAN-typed marker); the list also holds
 * span markers, the rotor and walker markers.  Allocated segments may carry
 * an audit record (thread, timestamp, stack of VMEM_STACK_DEPTH pcs), valid
 * when vs_depth is non-zero.  As for kmem, loops are bounded and bad
 * pointers end a walk with a warning naming the address.
 */

import type { Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { field, rd, rdString, sizeOf, tryField, LayoutError, type Field } from './fields.js';
import type { WarnFn } from './kmem-view.js';
import { VMEM_ALLOC, VMEM_FREE, VMEM_ROTOR, VMEM_SPAN, VMEM_STACK_DEPTH, VMEM_WALKER } from '../../abi/vmem-impl.js';


export class VmemLayout {
  readonly vm_name: Field;
  readonly vm_id: Field;
  readonly vm_quantum: Field;
  readonly vm_source: Field;
  readonly vm_next: Field;
  readonly vm_seg0: number;
  readonly vm_cflags: Field | undefined;
  readonly vk_mem_inuse: Field | undefined;
  readonly vk_mem_total: Field | undefined;
  readonly vk_mem_import: Field | undefined;
  readonly vk_alloc: Field | undefined;
  readonly vk_free: Field | undefined;
  readonly vk_fail: Field | undefined;
  readonly vs_start: Field;
  readonly vs_end: Field;
  readonly vs_anext: Field;
  readonly vs_type: Field;
  readonly vs_import: Field | undefined;
  readonly vs_depth: Field;
  readonly vs_thread: Field | undefined;
  readonly vs_timestamp: Field | undefined;
  readonly vs_stack: Field | undefined;
  readonly segSize: number;

  constructor(readonly target: Target) {
    const tt = target.types;
    const V = 'vmem_t';
    this.vm_name = field(tt, V, 'vm_name');
    this.vm_id = field(tt, V, 'vm_id');
    this.vm_quantum = field(tt, V, 'vm_quantum');
    this.vm_source = field(tt, V, 'vm_source');
    this.vm_next = field(tt, V, 'vm_next');
    this.vm_seg0 = field(tt, V, 'vm_seg0').off;
    this.vm_cflags = tryField(tt, V, 'vm_cflags');
    const k = (n: string) => tryField(tt, V, `vm_kstat.${n}`);
    this.vk_mem_inuse = k('vk_mem_inuse');
    this.vk_mem_total = k('vk_mem_total');
    this.vk_mem_import = k('vk_mem_import');
    this.vk_alloc = k('vk_alloc');
    this.vk_free = k('vk_free');
    this.vk_fail = k('vk_fail');
    const S = 'vmem_seg_t';
    this.vs_start = field(tt, S, 'vs_start');
    this.vs_end = field(tt, S, 'vs_end');
    this.vs_anext = field(tt, S, 'vs_anext');
    this.vs_type = field(tt, S, 'vs_type');
    this.vs_import = tryField(tt, S, 'vs_import');
    this.vs_depth = field(tt, S, 'vs_depth');
    this.vs_thread = tryField(tt, S, 'vs_thread');
    this.vs_timestamp = tryField(tt, S, 'vs_timestamp');
    this.vs_stack = tryField(tt, S, 'vs_stack');
    this.segSize = sizeOf(tt, S);
  }
}

const layouts = new WeakMap<Target, VmemLayout>();
export function vmemLayout(t: Target): VmemLayout {
  let l = layouts.get(t);
  if (!l) {
    l = new VmemLayout(t);
    layouts.set(t, l);
  }
  return l;
}

export interface ArenaInfo {
  readonly addr: number;
  readonly name: string;
  readonly id: number;
  readonly quantum: number;
  readonly source: number;
  readonly inuse: number;
  readonly total: number;
  readonly imported: number;
  readonly alloc: number;
  readonly free: number;
  readonly fail: number;
}

export interface SegInfo {
  readonly addr: number;
  readonly start: number;
  readonly end: number;
  readonly type: number;
  readonly imported: number;
  readonly depth: number;
  readonly thread: number;
  readonly timestamp: number;
  readonly stack: readonly number[];
}

export function segTypeName(type: number): string {
  switch (type) {
    case VMEM_ALLOC:
      return 'ALLC';
    case VMEM_FREE:
      return 'FREE';
    case VMEM_SPAN:
      return 'SPAN';
    case VMEM_ROTOR:
      return 'ROTR';
    case VMEM_WALKER:
      return 'WLKR';
    default:
      return '????';
  }
}

export class VmemView {
  readonly L: VmemLayout;

  constructor(
    readonly t: Target,
    readonly warn: WarnFn = () => {},
  ) {
    this.L = vmemLayout(t);
  }

  /** Arenas in creation order (vmem_list). */
  arenaList(): number[] {
    const s = this.t.symbolByName('vmem_list');
    if (!s) throw new LayoutError('symbol vmem_list is not in the target');
    const out: number[] = [];
    let vm: number;
    try {
      vm = this.t.loadPtr(s.value);
    } catch {
      this.warn(`failed to read vmem_list at ${hex(s.value)}`);
      return out;
    }
    const seen = new Set<number>();
    while (vm !== 0) {
      if (seen.has(vm) || out.length > 4096) {
        this.warn(`vmem_list is circular at ${hex(vm)}`);
        break;
      }
      seen.add(vm);
      out.push(vm);
      try {
        vm = rd(this.t, vm, this.L.vm_next);
      } catch {
        this.warn(`failed to read vmem_t at ${hex(vm)}`);
        break;
      }
    }
    return out;
  }

  arena(a: number): ArenaInfo {
    const L = this.L;
    const r = (f: Field | undefined) => (f ? rd(this.t, a, f) : 0);
    return {
      addr: a,
      name: rdString(this.t, a + L.vm_name.off, L.vm_name.count),
      id: r(L.vm_id),
      quantum: r(L.vm_quantum),
      source: r(L.vm_source),
      inuse: r(L.vk_mem_inuse),
      total: r(L.vk_mem_total),
      imported: r(L.vk_mem_import),
      alloc: r(L.vk_alloc),
      free: r(L.vk_free),
      fail: r(L.vk_fail),
    };
  }

  /** Arenas in pre-order (parents before children, siblings in creation order) with depth. */
  preorder(): Array<{ addr: number; depth: number }> {
    const list = this.arenaList();
    const src = new Map<number, number>();
    for (const a of list) {
      try {
        src.set(a, rd(this.t, a, this.L.vm_source));
      } catch {
        src.set(a, 0);
      }
    }
    const set = new Set(list);
    const out: Array<{ addr: number; depth: number }> = [];
    const visit = (parent: number, depth: number) => {
      for (const a of list) {
        const s = src.get(a)!;
        const p = set.has(s) ? s : 0;
        if (p === parent && a !== parent) {
          if (depth > 64) return;
          out.push({ addr: a, depth });
          visit(a, depth + 1);
        }
      }
    };
    visit(0, 0);
    return out;
  }

  /** Arenas children first (vmem_postfix). */
  postorder(): number[] {
    const pre = this.preorder();
    const out: number[] = [];
    const rec = (i: number): number => {
      const d = pre[i]!.depth;
      let j = i + 1;
      while (j < pre.length && pre[j]!.depth > d) j = rec(j);
      out.push(pre[i]!.addr);
      return j;
    };
    let i = 0;
    while (i < pre.length) i = rec(i);
    return out;
  }

  arenaByName(name: string): number | undefined {
    for (const a of this.arenaList()) {
      if (rdString(this.t, a + this.L.vm_name.off, this.L.vm_name.count) === name) return a;
    }
    return undefined;
  }

  /** Segment addresses of an arena in address order, starting with vm_seg0. */
  segs(arena: number): number[] {
    const L = this.L;
    const first = arena + L.vm_seg0;
    const out: number[] = [first];
    let s: number;
    try {
      s = rd(this.t, first, L.vs_anext);
    } catch {
      this.warn(`failed to read vm_seg0 of arena ${hex(arena)}`);
      return out;
    }
    const limit = 1 << 23;
    // a cycle that misses vm_seg0 stops at its first repeat (not after `limit` laps of it)
    const seen = new Set<number>(out);
    let prev = first;
    while (s !== first) {
      if (s === 0) {
        this.warn(`vmem_seg list of arena ${hex(arena)} ends with a NULL link`);
        break;
      }
      if (seen.has(s)) {
        this.warn(`vmem_seg list of arena ${hex(arena)} is circular: segment ${hex(prev)} links back to ${hex(s)}; stopped after ${out.length} segments`);
        break;
      }
      if (out.length > limit) {
        this.warn(`vmem_seg list of arena ${hex(arena)} is too long; stopped at ${hex(s)}`);
        break;
      }
      out.push(s);
      seen.add(s);
      prev = s;
      try {
        s = rd(this.t, s, L.vs_anext);
      } catch {
        this.warn(`failed to read vmem_seg at ${hex(s)}`);
        break;
      }
    }
    return out;
  }

  seg(a: number): SegInfo {
    const L = this.L;
    const t = this.t;
    const type = rd(t, a, L.vs_type);
    let depth = rd(t, a, L.vs_depth);
    const stack: number[] = [];
    let thread = 0;
    let timestamp = 0;
    if (depth > VMEM_STACK_DEPTH || depth < 0 || !L.vs_stack) depth = 0;
    if (depth > 0 && L.vs_stack) {
      try {
        thread = L.vs_thread ? rd(t, a, L.vs_thread) : 0;
        timestamp = L.vs_timestamp ? rd(t, a, L.vs_timestamp) : 0;
        for (let i = 0; i < depth; i++) stack.push(rd(t, a, L.vs_stack, i));
      } catch {
        depth = 0;
        stack.length = 0;
      }
    }
    return {
      addr: a,
      start: rd(t, a, L.vs_start),
      end: rd(t, a, L.vs_end),
      type,
      imported: L.vs_import ? rd(t, a, L.vs_import) : 0,
      depth,
      thread,
      timestamp,
      stack,
    };
  }

  /** Segments of given types (mask of VMEM_*), read. */
  segsOfType(arena: number, mask: number): SegInfo[] {
    const out: SegInfo[] = [];
    for (const a of this.segs(arena)) {
      let s: SegInfo;
      try {
        s = this.seg(a);
      } catch {
        this.warn(`failed to read vmem_seg at ${hex(a)}`);
        continue;
      }
      if (s.type & mask) out.push(s);
    }
    return out;
  }
}
