/*
 * The kernel's arena tree at boot (vmem_init, kernelheap_init, kmem_init's
 * arenas), and the arena summary that `npm start` and tests print.
 *
 *   heap                      [heapBase, +heapSize), VA only, pages mapped on import
 *     vmem_metadata           VA, VMC_NO_QCACHE
 *       vmem_seg              segkmem pages: vmem_seg_t's
 *       vmem_hash             segkmem pages: hash tables (quantum 8)
 *       vmem_vmem             vmem_t's (initial span: the static vmem0[])
 *     static                  segkmem pages
 *       static_alloc          quantum 8
 *     kmem_metadata           VA, VMC_NO_QCACHE
 *       kmem_msb              segkmem pages: metadata slabs
 *       kmem_cache            kmem_cache_t's (quantum 8)
 *       kmem_hash             kmem hash tables (quantum 8)
 *     kmem_log                segkmem pages: transaction/content logs (quantum 8)
 *     kmem_firewall_va        VA: size + one unmapped page, VM_NEXTFIT
 *       kmem_firewall         segkmem pages: firewalled slabs
 *       kmem_oversize         (LP64) segkmem pages: kmem_alloc > kmem_max_cached
 *     kmem_oversize           (ILP32: from heap; the firewall is off there)
 *     kmem_va                 VA, quantum caches up to 8 pages once kmem is ready
 *       kmem_default          segkmem pages: the default slab source
 *   module_map                [moduleBase, +moduleSize); pages mapped by the loader
 */

import type { Kernel } from '../kernel/kernel.js';
import type { VmemArena } from './api.js';
import { KMEM_ALIGN } from '../abi/kmem-impl.js';
import { declareVmemTypes, VM_SLEEP, VMC_NO_QCACHE } from '../abi/vmem-impl.js';
import { vmemInit, type Vmem } from './vmem.js';

export interface KernelArenas {
  vmem: Vmem;
  heap: VmemArena;
  vmem_metadata: VmemArena;
  vmem_seg: VmemArena;
  vmem_hash: VmemArena;
  vmem_vmem: VmemArena;
  static: VmemArena;
  static_alloc: VmemArena;
  kmem_metadata: VmemArena;
  kmem_msb: VmemArena;
  kmem_cache: VmemArena;
  kmem_hash: VmemArena;
  kmem_log: VmemArena;
  kmem_firewall_va: VmemArena;
  kmem_firewall: VmemArena;
  kmem_oversize: VmemArena;
  kmem_va: VmemArena;
  kmem_default: VmemArena;
  module_map: VmemArena;
}

export interface KernelArenaOptions {
  /** KMF_AUDIT at boot (vmem_seg_t's carry stacks). */
  audit?: boolean;
}

/** Boot vmem and build the kernel's arena tree. */
export function createKernelArenas(k: Kernel, opts: KernelArenaOptions = {}): KernelArenas {
  const v = vmemInit(k, { audit: opts.audit ?? false });
  const PAGESIZE = k.pageSize;
  const mk = (
    name: string,
    quantum: number,
    afunc: typeof v.vmem_alloc | undefined,
    ffunc: typeof v.vmem_free | undefined,
    source: VmemArena | undefined,
    qcacheMax: number,
    flags: number,
    base = 0,
    size = 0,
  ): VmemArena => {
    const a = v.create(name, base, size, quantum, afunc, ffunc, source, qcacheMax, flags);
    if (!a) throw new Error(`vmem_create('${name}') failed at boot`);
    return a;
  };
  const heap = v.heap;
  const stat = mk('static', PAGESIZE, v.segkmem_alloc, v.segkmem_free, heap, 0, VM_SLEEP);
  const staticAlloc = mk('static_alloc', KMEM_ALIGN, v.vmem_alloc, v.vmem_free, stat, 0, VM_SLEEP);
  const kmemMetadata = mk('kmem_metadata', PAGESIZE, v.vmem_alloc, v.vmem_free, heap, 8 * PAGESIZE, VM_SLEEP | VMC_NO_QCACHE);
  const kmemMsb = mk('kmem_msb', PAGESIZE, v.segkmem_alloc, v.segkmem_free, kmemMetadata, 0, VM_SLEEP);
  const kmemCache = mk('kmem_cache', KMEM_ALIGN, v.segkmem_alloc, v.segkmem_free, kmemMetadata, 0, VM_SLEEP);
  const kmemHash = mk('kmem_hash', KMEM_ALIGN, v.segkmem_alloc, v.segkmem_free, kmemMetadata, 0, VM_SLEEP);
  const kmemLog = mk('kmem_log', KMEM_ALIGN, v.segkmem_alloc, v.segkmem_free, heap, 0, VM_SLEEP);
  const fwVa = mk('kmem_firewall_va', PAGESIZE, v.kmem_firewall_va_alloc, v.kmem_firewall_va_free, heap, 0, VM_SLEEP);
  const fw = mk('kmem_firewall', PAGESIZE, v.segkmem_alloc, v.segkmem_free, fwVa, 0, VM_SLEEP);
  // kmem_minfirewall is ULONG_MAX on ILP32, so oversize allocations are
  // firewalled only on LP64.
  const oversizeSource = k.model.ptrSize === 8 ? fwVa : heap;
  const oversize = mk('kmem_oversize', PAGESIZE, v.segkmem_alloc, v.segkmem_free, oversizeSource, 0, VM_SLEEP);
  const kmemVa = mk('kmem_va', PAGESIZE, v.vmem_alloc, v.vmem_free, heap, 8 * PAGESIZE, VM_SLEEP);
  const kmemDefault = mk('kmem_default', PAGESIZE, v.segkmem_alloc, v.segkmem_free, kmemVa, 0, VM_SLEEP);
  const moduleMap = mk('module_map', PAGESIZE, undefined, undefined, undefined, 0, VM_SLEEP, k.layout.moduleBase, k.layout.moduleSize);

  const mem = k.mem;
  mem.storePtr(k.global('heap_arena', 'vmem_t *'), heap.addr);
  mem.storePtr(k.global('static_arena', 'vmem_t *'), stat.addr);
  mem.storePtr(k.global('static_alloc_arena', 'vmem_t *'), staticAlloc.addr);

  return {
    vmem: v,
    heap,
    vmem_metadata: v.metadataArena!,
    vmem_seg: v.segArena!,
    vmem_hash: v.hashArena!,
    vmem_vmem: v.vmemArena!,
    static: stat,
    static_alloc: staticAlloc,
    kmem_metadata: kmemMetadata,
    kmem_msb: kmemMsb,
    kmem_cache: kmemCache,
    kmem_hash: kmemHash,
    kmem_log: kmemLog,
    kmem_firewall_va: fwVa,
    kmem_firewall: fw,
    kmem_oversize: oversize,
    kmem_va: kmemVa,
    kmem_default: kmemDefault,
    module_map: moduleMap,
  };
}

/** One row of the arena summary. */
export interface ArenaRow {
  addr: number;
  name: string;
  /** Number of ancestors (source arenas) above this one. */
  depth: number;
  quantum: number;
  inuse: number;
  total: number;
  imported: number;
  alloc: number;
  fail: number;
}

/**
 * The arenas on vmem_list, in list order, with numbers read from the
 * vmem_t's and their kstats in memory (not from any JS state).
 */
export function arenaSummary(k: Kernel): ArenaRow[] {
  const T = k.types;
  declareVmemTypes(T);
  const mem = k.mem;
  const off = (m: string) => T.offsetof('vmem_t', m);
  const oNext = off('vm_next');
  const oSource = off('vm_source');
  const oQuantum = off('vm_quantum');
  const oName = off('vm_name');
  const ks = (m: string) => off('vm_kstat.' + m);
  const rows: ArenaRow[] = [];
  let n = 0;
  for (let vmp = mem.loadPtr(k.addr('vmem_list')); vmp !== 0 && n < 10000; vmp = mem.loadPtr(vmp + oNext), n++) {
    let depth = 0;
    for (let s = mem.loadPtr(vmp + oSource); s !== 0 && depth < 64; s = mem.loadPtr(s + oSource)) depth++;
    rows.push({
      addr: vmp,
      name: k.readString(vmp + oName, 30),
      depth,
      quantum: mem.loadPtr(vmp + oQuantum),
      inuse: mem.load64n(vmp + ks('vk_mem_inuse')),
      total: mem.load64n(vmp + ks('vk_mem_total')),
      imported: mem.load64n(vmp + ks('vk_mem_import')),
      alloc: mem.load64n(vmp + ks('vk_alloc')),
      fail: mem.load64n(vmp + ks('vk_fail')),
    });
  }
  return rows;
}

/** The summary as text (name indented by depth, as ::vmem does). */
export function formatArenaSummary(rows: readonly ArenaRow[]): string {
  const lines = [`${'NAME'.padEnd(26)} ${'QUANTUM'.padStart(8)} ${'INUSE'.padStart(12)} ${'TOTAL'.padStart(12)} ${'IMPORTED'.padStart(12)}`];
  for (const r of rows) {
    const name = ('  '.repeat(r.depth) + r.name).slice(0, 26);
    lines.push(
      `${name.padEnd(26)} ${String(r.quantum).padStart(8)} ${String(r.inuse).padStart(12)} ${String(r.total).padStart(12)} ${String(r.imported).padStart(12)}`,
    );
  }
  return lines.join('\n') + '\n';
}
