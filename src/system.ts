/*
 * Booting the simulated system: the kernel core, vmem's arena tree and kmem,
 * in illumos order (vmem_init and the kernel heap arenas; kmem_init with the
 * metadata caches first, then the kmem_alloc caches and the logs; then
 * kmem_mp_init: the magazine layer, vmem's quantum caches and the 15-second
 * kmem_update).  Between the two, thread_init, cred_init and pid_init
 * create the kmem caches of kernel objects (thread_cache, lwp_cache,
 * turnstile_cache, cred_cache, process_cache: src/kernel/proc.ts); then
 * mod_setup takes over krtld's primary modules (the `modules` list,
 * src/kernel/modctl.ts), the page_t's of physical memory are set up
 * (src/kernel/page.ts) and main() starts init, pageout and fsflush.
 */

import { Kernel, checkKernelOptions, type KernelOptions } from './kernel/kernel.js';
import { ArgumentError, checkInt } from './machine/argcheck.js';
import type { ModelName } from './machine/memory.js';
import { createKernelArenas, type KernelArenas } from './vmem/arenas.js';
import { Kmem } from './kmem/index.js';
import { KMF_AUDIT } from './abi/kmem-impl.js';
import { declareCalloutTypes } from './abi/callout.js';
import { KERNEL_OBJECT_CACHES, type KernelObjectCache } from './kernel/proc.js';
import { ModctlList } from './kernel/modctl.js';
import { PageAccounting } from './kernel/page.js';
import { PagedMemory } from './machine/memory.js';

export interface BootOptions {
  model?: ModelName;
  ncpus?: number;
  /** Bytes of heap VA (default 256 MiB). */
  heapSize?: number;
  /** kmem_flags (default 0; 0xf is the guide's setting). */
  kmemFlags?: number;
  /** kmem_panic (default 1). */
  kmemPanic?: number;
  seed?: number;
  hostname?: string;
  /** Transaction / content log size (default heap/50, at most 4 MiB). */
  kmemLogSize?: number;
  /** kmem's word-index fast paths (default true; false: checked paths only, same memory image). */
  kmemWordPaths?: boolean;
}

export interface System {
  k: Kernel;
  arenas: KernelArenas;
  kmem: Kmem;
}

/** Check BootOptions (the kernel's own, then kmem's numbers): typed errors naming bootSystem and the option. */
function checkBootOptions(opts: BootOptions): void {
  const fn = 'bootSystem';
  if (typeof opts !== 'object' || opts === null) throw new ArgumentError(fn, 'options', 'an object', opts);
  checkKernelOptions({ model: opts.model, ncpus: opts.ncpus, heapSize: opts.heapSize, seed: opts.seed, hostname: opts.hostname }, fn);
  if (opts.kmemFlags !== undefined) checkInt(fn, 'kmemFlags', opts.kmemFlags, 0, 0xffffffff);
  if (opts.kmemPanic !== undefined) checkInt(fn, 'kmemPanic', opts.kmemPanic, -1, 1);
  if (opts.kmemLogSize !== undefined) checkInt(fn, 'kmemLogSize', opts.kmemLogSize, 0, Number.MAX_SAFE_INTEGER);
  if (opts.kmemWordPaths !== undefined && typeof opts.kmemWordPaths !== 'boolean') throw new ArgumentError(fn, 'kmemWordPaths', 'a boolean', opts.kmemWordPaths);
}

export function bootSystem(opts: BootOptions = {}): System {
  checkBootOptions(opts);
  const kopts: KernelOptions = {
    model: opts.model,
    ncpus: opts.ncpus,
    heapSize: opts.heapSize,
    seed: opts.seed,
    hostname: opts.hostname,
  };
  const k = new Kernel(kopts);
  const flags = (opts.kmemFlags ?? 0) >>> 0;
  const arenas = createKernelArenas(k, { audit: (flags & KMF_AUDIT) !== 0 });
  const kmem = new Kmem(k, arenas, {
    flags,
    panic: opts.kmemPanic,
    logSize: opts.kmemLogSize,
    wordPaths: opts.kmemWordPaths,
    installQcaches: (p) => arenas.vmem.setQcacheProvider(p),
  });
  kmem.init();
  installKernelObjectCaches(k, kmem);
  calloutInit(k, kmem);
  kmem.ready();
  k.modctl = new ModctlList(k, { zalloc: (size) => kmem.kmemZalloc(size), free: (a, size) => kmem.kmemFree(a, size) });
  if (k.mem instanceof PagedMemory) k.pages = new PageAccounting(k, k.mem);
  k.procs?.startSystemProcesses();
  return { k, arenas, kmem };
}

/** callout_init: the callout caches (illumos' per-lgroup callout_cache0 and callout_lcache0) and the tables. */
function calloutInit(k: Kernel, kmem: Kmem): void {
  declareCalloutTypes(k.types);
  const callouts = kmem.cacheCreate('callout_cache0', k.types.size('callout_t'), { align: 64 });
  const lists = kmem.cacheCreate('callout_lcache0', k.types.size('callout_list_t'), { align: 64 });
  k.callouts.init({
    allocCallout: () => callouts.alloc(),
    allocList: () => lists.alloc(),
    cache: callouts.addr,
    lcache: lists.addr,
    zalloc: (size) => kmem.kmemZalloc(size),
    free: (addr, size) => kmem.kmemFree(addr, size),
  });
}

/** The C type each kernel object cache holds, and its alignment (illumos: thread_cache is PTR24_ALIGN). */
const OBJECT_CACHE_TYPES: Record<KernelObjectCache, { type: string; align: number }> = {
  thread_cache: { type: 'kthread_t', align: 32 },
  lwp_cache: { type: 'klwp_t', align: 0 },
  turnstile_cache: { type: 'turnstile_t', align: 0 },
  cred_cache: { type: 'cred_t', align: 0 },
  process_cache: { type: 'proc_t', align: 0 },
};

/** thread_init, cred_init, pid_init: the kmem caches of kernel objects, handed to the kernel's process table. */
function installKernelObjectCaches(k: Kernel, kmem: Kmem): void {
  if (!k.procs) return;
  const caches = new Map<KernelObjectCache, ReturnType<Kmem['cacheCreate']>>();
  for (const name of KERNEL_OBJECT_CACHES) {
    const { type, align } = OBJECT_CACHE_TYPES[name];
    caches.set(name, kmem.cacheCreate(name, k.types.size(type), align ? { align } : {}));
  }
  k.procs.attach({
    cacheAlloc: (name) => caches.get(name)!.alloc(),
    zalloc: (size) => kmem.kmemZalloc(size),
  });
}
