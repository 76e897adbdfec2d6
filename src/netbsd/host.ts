/*
 * What the NetBSD-flavoured subsystems need from the machine below them:
 * the kernel core, kmem_alloc/kmem_free, the module_map arena (first fit,
 * so a reloaded module gets its old address back) and page-sized,
 * page-aligned mapped memory for pool pages (NetBSD's kmem_va_arena).
 *
 * `hostFromSystem()` adapts what bootSystem() returns; tests may supply
 * their own host.
 */

import type { Kernel } from '../kernel/kernel.js';
import type { VmemArena } from '../vmem/api.js';
import { VM_NOSLEEP } from '../abi/vmem-impl.js';

export interface KmemLike {
  kmemAlloc(size: number, kmflag: number): number;
  kmemZalloc(size: number, kmflag: number): number;
  kmemFree(buf: number, size: number): void;
}

export interface NetbsdHost {
  readonly k: Kernel;
  readonly kmem: KmemLike;
  /** module_map: kobj chunks (VA only; the module code maps the pages). */
  readonly moduleMap: VmemArena;
  /** Mapped, page-aligned memory for pool pages; 0 on failure. */
  pageAlloc(size: number): number;
  pageFree(addr: number, size: number): void;
}

/** The shape of bootSystem()'s result that we use. */
export interface SystemLike {
  readonly k: Kernel;
  readonly kmem: KmemLike;
  readonly arenas: object;
}

function arenaNamed(arenas: object, name: string): VmemArena | undefined {
  const a = (arenas as Record<string, unknown>)[name];
  if (a && typeof a === 'object' && 'alloc' in a && 'addr' in a) return a as VmemArena;
  return undefined;
}

/**
 * Adapt bootSystem(): module_map for kobj chunks; kmem_default (pages
 * mapped by segkmem as it imports from kmem_va) for pool pages, as NetBSD's
 * pool_page_alloc takes pages from kmem_va_arena.
 */
export function hostFromSystem(sys: SystemLike): NetbsdHost {
  const k = sys.k;
  const moduleMap = arenaNamed(sys.arenas, 'module_map');
  if (!moduleMap) throw new Error('bootSystem() did not provide arenas.module_map');
  const pages = arenaNamed(sys.arenas, 'kmem_default');
  if (!pages) throw new Error('bootSystem() did not provide arenas.kmem_default');
  return {
    k,
    kmem: sys.kmem,
    moduleMap,
    pageAlloc(size) {
      return pages.alloc(size, VM_NOSLEEP);
    },
    pageFree(addr, size) {
      pages.free(addr, size);
    },
  };
}
