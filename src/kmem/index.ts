/*
 * kmem's public surface: the allocator (Kmem, in cache.ts), its cache
 * handles and the types of its options and results.
 */
export { Kmem, KmemCache, type CacheStats } from './cache.js';
export {
  KMEM_REAP_INTERVAL_NS,
  type CacheCreateOptions,
  type KmemArenas,
  type KmemConstructor,
  type KmemDestructor,
  type KmemErrorReport,
  type KmemOffsets,
  type KmemOptions,
  type KmemReclaim,
} from './state.js';
