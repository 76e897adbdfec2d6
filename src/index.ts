/*
 * kmemdb's library entry point.  Keep this file additive: each area adds
 * its own exports.
 */

export { Kernel, KernelPanic, KThread, type KernelOptions } from './kernel/kernel.js';
export { PageFault } from './machine/memory.js';
export { bootSystem, type BootOptions, type System } from './system.js';
export {
  Kmem,
  KmemCache,
  type KmemArenas,
  type KmemOptions,
  type KmemErrorReport,
  type CacheCreateOptions,
  type CacheStats,
  type KmemConstructor,
  type KmemDestructor,
  type KmemReclaim,
} from './kmem/kmem.js';
export * as kmemConstants from './kmem/types.js';
