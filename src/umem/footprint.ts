/*
 * Memory per buffer: the bytes a live buffer costs the heap, allocator
 * metadata included (the bench key wasm.bytes_per_buf).
 *
 * For a cache: its slabs' bytes per buffer (the chunk: buffer, malloc tag
 * share, buftag; plus the slab's unused tail and, for small slabs, the
 * slab struct inside it), plus, for hashed caches, one bufctl (an audit
 * bufctl under auditing) and the share of the external slab struct.  The
 * kernel's LP64 figure for a 64-byte kmem cache under kmem_flags 0xf is
 * 307 bytes (docs/kmem.md).
 */

import type { Kmem } from '../kmem/index.js';
import { KMF_AUDIT, KMF_HASH } from '../abi/kmem-impl.js';
import { createUmem } from './umem.js';

/** Bytes per live buffer of cache cp, metadata included. */
export function cacheBytesPerBuffer(kmem: Kmem, cp: number): number {
  const st = kmem.cacheStats(cp);
  const slabs = st.slabCreate - st.slabDestroy;
  const bufs = Math.max(st.buftotal, 1);
  let extra = 0;
  if (st.flags & KMF_HASH) {
    const own = (n: string) => (kmem.names === 'umem' ? n.replace(/^kmem_/, 'umem_') : n);
    const bc = kmem.cacheStats(kmem.cacheByName(own(st.flags & KMF_AUDIT ? 'kmem_bufctl_audit_cache' : 'kmem_bufctl_cache'))!.addr);
    const sl = kmem.cacheStats(kmem.cacheByName(own('kmem_slab_cache'))!.addr);
    extra = bc.chunksize + (sl.chunksize * slabs) / bufs;
  }
  return (slabs * st.slabsize) / bufs + extra;
}

/**
 * wasm.bytes_per_buf: malloc(size) n times under UMEM_DEBUG=default on a
 * fresh heap (ILP32), and the bytes per live buffer of the cache serving it.
 */
export function umemBytesPerBuffer(size = 64, n = 4096): number {
  const u = createUmem({ memory: new ArrayBuffer(64 << 20), env: { UMEM_DEBUG: 'default' } });
  let p = 0;
  for (let i = 0; i < n; i++) p = u.malloc(size);
  const { kmem } = u.heap;
  const cp = kmem.caches().find((c) => c.name.startsWith('umem_alloc_') && c.bufsize >= size + 8 && kmem.kmem_findslab(c.addr, p - 8) !== 0);
  if (!cp) throw new Error(`umemBytesPerBuffer: no cache holds the malloc(${size}) buffers`);
  return cacheBytesPerBuffer(kmem, cp.addr);
}
