/*
 * segkmem: the page-backed import functions of the kernel heap.
 *
 * Theory
 * ------
 * The `heap` arena hands out kernel virtual address space only; nothing in
 * it is mapped until an arena *imports* a piece through segkmem_alloc(),
 * which takes the VA from its source arena with vmem_alloc() and then maps
 * the pages read-write (fresh pages read as zero).  segkmem_free() unmaps
 * first, so a stale pointer into freed heap faults at its own address, and
 * then gives the VA back.  Arenas that import with plain vmem_alloc (for
 * example kmem_va, vmem_metadata, kmem_metadata) hold VA only; the arenas
 * below them that import with segkmem_alloc own the pages.
 *
 * The firewall: kmem_firewall_va imports `size + quantum` bytes of VA from
 * the heap with VM_NEXTFIT (so freed VA is reused as late as possible) but
 * keeps only `size` bytes as its span.  The extra page stays allocated in
 * the heap and is never mapped, so an overrun off the end of a firewalled
 * buffer faults at once.
 *
 * Over a flat memory (a process, see kernel.ts) mapping grows the memory
 * and can fail, in which case segkmem_alloc fails as an allocation would;
 * unmapping zero-fills, and the firewall's page is only never reused.
 *
 * These functions take the source arena as their first argument, exactly
 * as vmem calls an arena's vm_source_alloc.
 */

import type { Kernel } from '../kernel/kernel.js';
import { PROT_RW } from '../machine/memory.js';
import { p2roundup } from '../machine/addr.js';
import type { VmemArena } from './api.js';
import { VM_NEXTFIT } from '../abi/vmem-impl.js';

/** Kernel functions registered by segkmem (name -> text size). */
export const SEGKMEM_FUNCTIONS = {
  segkmem_alloc: 0x40,
  segkmem_xalloc: 0x1c0,
  segkmem_free: 0x40,
  segkmem_xfree: 0x120,
  kmem_firewall_va_alloc: 0x60,
  kmem_firewall_va_free: 0x40,
} as const;

export interface Segkmem {
  segkmem_alloc(vmp: VmemArena, size: number, vmflag: number): number;
  segkmem_free(vmp: VmemArena, addr: number, size: number): void;
  kmem_firewall_va_alloc(vmp: VmemArena, size: number, vmflag: number): number;
  kmem_firewall_va_free(vmp: VmemArena, addr: number, size: number): void;
}

export function makeSegkmem(k: Kernel): Segkmem {
  const FN = k.fns(SEGKMEM_FUNCTIONS);
  const mem = k.mem;
  const pagesize = k.pageSize;
  return {
    segkmem_alloc(vmp, size, vmflag) {
      k.enter(FN.segkmem_alloc + 0x1d);
      k.enter(FN.segkmem_xalloc + 0x79);
      let addr = vmp.alloc(size, vmflag);
      // A flat memory that cannot grow any more backs nothing: give the VA back and fail.
      if (addr !== 0 && !mem.map(addr, p2roundup(size, pagesize), PROT_RW)) {
        vmp.free(addr, size);
        addr = 0;
      }
      k.leave();
      k.leave();
      return addr;
    },
    segkmem_free(vmp, addr, size) {
      k.enter(FN.segkmem_free + 0x1a);
      k.enter(FN.segkmem_xfree + 0xd4);
      mem.unmap(addr, p2roundup(size, pagesize));
      vmp.free(addr, size);
      k.leave();
      k.leave();
    },
    kmem_firewall_va_alloc(vmp, size, vmflag) {
      k.enter(FN.kmem_firewall_va_alloc + 0x31);
      let realsize = size + vmp.quantum;
      if (realsize < size) realsize = size;
      const addr = vmp.alloc(realsize, vmflag | VM_NEXTFIT);
      k.leave();
      return addr;
    },
    kmem_firewall_va_free(vmp, addr, size) {
      k.enter(FN.kmem_firewall_va_free + 0x22);
      vmp.free(addr, size + vmp.quantum);
      k.leave();
    },
  };
}
