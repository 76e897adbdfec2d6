/*
 * A process heap: the kernel core, vmem and kmem booted as a *process*
 * inside one flat memory (a wasm32 program's linear memory, or any
 * ArrayBuffer), as libumem runs inside the process it serves.
 *
 * Theory
 * ------
 * The memory from `base` (the program's __heap_base) up belongs to the
 * allocator.  First comes the data area: the globals of the kernel core
 * (one CPU, one thread, the message buffer, which is libumem's error
 * buffer), of vmem (its static segments and arenas) and of kmem; its first
 * object is `umem_anchor`, which makes the memory self-describing: a magic
 * number and the addresses of the roots a debugger needs.  Then the heap: a
 * vmem arena over [heapBase, limit) of address space only; pages come into
 * existence when an arena imports them (segkmem maps, which for a flat
 * memory grows it with memory.grow), so the heap grows from the bottom, as
 * an sbrk heap does.  The arena tree under it has libumem's names:
 *
 *   heap                   [heapBase, limit)
 *     vmem_metadata ...    vmem's own (vmem_seg, vmem_hash, vmem_vmem)
 *     umem_internal        slabs of the metadata caches (kmem_msb's role)
 *     umem_cache           umem_cache_t's
 *     umem_hash            hash tables
 *     umem_log             transaction, content, failure and slab logs
 *     umem_firewall_va     size + one never-used page (firewall=)
 *       umem_firewall
 *     umem_oversize        umem_alloc beyond the largest cache
 *     umem_memalign        memalign beyond malloc's alignment (vmem_xalloc)
 *     umem_va              with quantum caches umem_va_4096 ...
 *       umem_default       slabs of the umem_alloc_N caches
 *
 * Functions (the allocator's and the program's) are not in the memory:
 * the allocator's are symbols in a "host text" range at UMEM_TEXT_BASE;
 * the program's are reached through Kernel.outside.
 */

import { Kernel, processLayout, type OutsideCode, type ProcessSpace } from '../kernel/kernel.js';
import { hex0x } from '../machine/addr.js';
import type { FlatMemory } from '../machine/memory.js';
import { vmemInit, type Vmem } from '../vmem/vmem.js';
import { VM_SLEEP, VMC_NO_QCACHE, type VmemArena } from '../vmem/api.js';
import { Kmem, type KmemArenas, type KmemErrorReport } from '../kmem/index.js';
import { KMF_AUDIT } from '../abi/kmem-impl.js';
import type { UmemLogSizes } from './env.js';

/** Host text: the allocator's functions (top 16 MiB of the 32-bit space). */
export const UMEM_TEXT_BASE = 0xff000000;
/** The heap never reaches the wasm code addresses (WASM_TEXT_BASE and up). */
export const UMEM_HEAP_LIMIT = 0xf0000000;
/** Bytes of the data area: the globals of the kernel core, vmem and kmem. */
export const UMEM_DATA_SIZE = 0x10000;
/** libumem's error buffer (ERR_SIZE). */
export const UMEM_ERROR_BUFFER_SIZE = 8192;
/** 'UMEM' */
export const UMEM_ANCHOR_MAGIC = 0x554d454d;
export const UMEM_ANCHOR_VERSION = 1;

/** The C declaration of the anchor (declared into the process's types). */
export const UMEM_ANCHOR_TYPE = `
struct umem_anchor {
  uint32_t ua_magic;
  uint32_t ua_version;
  uintptr_t ua_data_base;
  uintptr_t ua_data_size;
  uintptr_t ua_heap_base;
  uintptr_t ua_heap_limit;
  void *ua_caches;
  void *ua_vmem_list;
  void *ua_transaction_log;
  void *ua_content_log;
  void *ua_failure_log;
  void *ua_slab_log;
  void *ua_error_buffer;
  void *ua_abort_info;
};
`;

export interface UmemArenas extends KmemArenas {
  heap: VmemArena;
  umem_memalign: VmemArena;
}

export interface ProcessHeapOptions {
  memory: FlatMemory;
  base: number;
  /** End of the heap (default: UMEM_HEAP_LIMIT). */
  limit?: number;
  seed?: number;
  /** kmem_flags (UMF_* bits). */
  flags: number;
  logSizes: UmemLogSizes;
  /** Frames recorded per audited transaction (at most 15). */
  stackDepth?: number;
  outside?: OutsideCode;
  /** Called with each kmem_error report (see KmemOptions.onError). */
  onError?: (r: KmemErrorReport) => void;
  /** kmem's word-index fast paths (default on; see KmemOptions.wordPaths). */
  wordPaths?: boolean;
}

/** The booted allocator of one process. */
export interface ProcessHeap {
  k: Kernel;
  vmem: Vmem;
  arenas: UmemArenas;
  kmem: Kmem;
  /** Address of umem_anchor. */
  anchor: number;
}

/** Boot the kernel core as a process, vmem with libumem's arenas, and kmem (umem). */
export function bootProcessHeap(o: ProcessHeapOptions): ProcessHeap {
  const limit = Math.min(o.limit ?? UMEM_HEAP_LIMIT, UMEM_HEAP_LIMIT);
  const space: ProcessSpace = {
    memory: o.memory,
    base: o.base,
    dataSize: UMEM_DATA_SIZE,
    limit,
    textBase: UMEM_TEXT_BASE,
    msgbuf: { name: 'umem_error_buffer', size: UMEM_ERROR_BUFFER_SIZE },
    header: { name: 'umem_anchor', decl: UMEM_ANCHOR_TYPE, type: 'struct umem_anchor' },
  };
  // the data area and the heap's first byte must exist (a WebAssembly.Memory grows to hold them)
  const heapBase = processLayout(space).heapBase;
  if (!o.memory.map(0, heapBase + 1)) {
    throw new RangeError(`umem: a memory of ${o.memory.byteLength} bytes cannot hold the allocator's data area and heap (from ${hex0x(o.base)} to beyond ${hex0x(heapBase)})`);
  }
  const k = new Kernel({ seed: o.seed, hostname: 'wasm32', process: space });
  k.outside = o.outside;
  const anchor = k.addr('umem_anchor');
  const vmem = vmemInit(k, { audit: (o.flags & KMF_AUDIT) !== 0 });
  const arenas = createUmemArenas(k, vmem);
  const kmem = new Kmem(k, arenas, {
    flags: o.flags,
    panic: 0,
    names: 'umem',
    logSizes: o.logSizes,
    stackDepth: o.stackDepth,
    onError: o.onError,
    wordPaths: o.wordPaths,
    installQcaches: (p) => vmem.setQcacheProvider(p),
  });
  kmem.init();
  kmem.ready();
  writeAnchor(k, anchor, kmem);
  return { k, vmem, arenas, kmem, anchor };
}

/** libumem's arena tree under vmem's heap (see the theory statement). */
function createUmemArenas(k: Kernel, v: Vmem): UmemArenas {
  const PAGESIZE = k.pageSize;
  const heap = v.heap;
  const mk = (name: string, quantum: number, seg: boolean, source: VmemArena, qcacheMax = 0, flags = VM_SLEEP): VmemArena => {
    const a = v.create(name, 0, 0, quantum, seg ? v.segkmem_alloc : v.vmem_alloc, seg ? v.segkmem_free : v.vmem_free, source, qcacheMax, flags);
    if (!a) throw new Error(`vmem_create('${name}') failed at startup`);
    return a;
  };
  const internal = mk('umem_internal', PAGESIZE, true, heap, 0, VM_SLEEP | VMC_NO_QCACHE);
  const cache = mk('umem_cache', 8, true, heap);
  const hash = mk('umem_hash', 8, true, heap);
  const log = mk('umem_log', 8, true, heap);
  const fwVa = v.create('umem_firewall_va', 0, 0, PAGESIZE, v.kmem_firewall_va_alloc, v.kmem_firewall_va_free, heap, 0, VM_SLEEP);
  if (!fwVa) throw new Error("vmem_create('umem_firewall_va') failed at startup");
  const firewall = mk('umem_firewall', PAGESIZE, true, fwVa);
  const oversize = mk('umem_oversize', PAGESIZE, true, heap);
  const memalign = mk('umem_memalign', 8, true, heap);
  const va = mk('umem_va', PAGESIZE, false, heap, 8 * PAGESIZE);
  const def = mk('umem_default', PAGESIZE, true, va);
  return {
    heap,
    kmem_msb: internal,
    kmem_cache: cache,
    kmem_hash: hash,
    kmem_log: log,
    kmem_oversize: oversize,
    kmem_default: def,
    kmem_firewall: firewall,
    kmem_firewall_va: fwVa,
    kmem_va: va,
    umem_memalign: memalign,
  };
}

/** Fill umem_anchor with the roots of the allocator's state. */
function writeAnchor(k: Kernel, a: number, kmem: Kmem): void {
  const T = k.types;
  const m = k.mem;
  const f = (n: string) => a + T.offsetof('struct umem_anchor', n);
  m.store32(f('ua_magic'), UMEM_ANCHOR_MAGIC);
  m.store32(f('ua_version'), UMEM_ANCHOR_VERSION);
  m.storePtr(f('ua_data_base'), k.layout.dataBase);
  m.storePtr(f('ua_data_size'), k.layout.dataSize);
  m.storePtr(f('ua_heap_base'), k.layout.heapBase);
  m.storePtr(f('ua_heap_limit'), k.layout.heapBase + k.layout.heapMax);
  m.storePtr(f('ua_caches'), kmem.G.kmem_caches);
  m.storePtr(f('ua_vmem_list'), k.addr('vmem_list'));
  m.storePtr(f('ua_transaction_log'), kmem.G.kmem_transaction_log);
  m.storePtr(f('ua_content_log'), kmem.G.kmem_content_log);
  m.storePtr(f('ua_failure_log'), kmem.G.kmem_failure_log);
  m.storePtr(f('ua_slab_log'), kmem.G.kmem_slab_log);
  m.storePtr(f('ua_error_buffer'), k.g.msgbuf);
  m.storePtr(f('ua_abort_info'), kmem.G.kmem_panic_info);
}
