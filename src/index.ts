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
} from './kmem/index.js';
export * as kmemConstants from './abi/kmem-impl.js';

/* crash dumps and targets */
export { savecore, installSavecore, type DumpInfo } from './dump/savecore.js';
export { openDump, openDumpArgs, resolveDump, DumpTarget, DumpFormatError } from './target/dump-target.js';
export { liveTarget } from './target/live-target.js';
export type { Target, TargetSymbol, TargetStatus, TargetThread, TargetModuleRecord } from './target/target.js';
export { TargetReadError } from './target/target.js';

/* scenarios (what `kmemdb crash` runs) */
export { runScenario, scenarios, ScenarioError, type RunOptions, type ScenarioResult } from './scenarios/index.js';

/* mdb: sessions, with the genunix (kmem/vmem) and netbsd modules registered */
export { createSession, runMdb, Session, type MdbIO } from './mdb/index.js';
import './mdb/modules/genunix.js';
import './mdb/modules/libumem.js';
import './mdb/modules/netbsd.js';

/* mdb analyses: plain functions over a Target, and their result types */
export { findLeaks, type LeakReport, type LeakGroup, type LeakMember, type LeakStats, type LeakType } from './mdb/analysis/leaks.js';
export { whatis, formatWhatis, type WhatisMatch, type WhatisOptions, type WhatisKind } from './mdb/analysis/whatis-index.js';
export { kmemVerify, type CacheVerify, type Corruption, type CorruptionKind } from './mdb/analysis/verify.js';
export { kgrep } from './mdb/analysis/kgrep.js';
export { kmastat, type Kmastat, type KmastatCache, type KmastatVmem, type KmastatArenaTotal } from './mdb/analysis/kmastat.js';
export { analyzeDump, DUMP_REPORT_SCHEMA, type DumpReport, type ReportStatus, type ReportLeak, type ReportCorruption, type ReportCache } from './mdb/analysis/dump-report.js';
/* the readers under the analyses */
export { KmemView, type CacheInfo, type CpuCacheInfo, type BufctlAudit, type SlabUsage, type BufRef, type WarnFn } from './mdb/analysis/kmem-view.js';
export { VmemView } from './mdb/analysis/vmem-view.js';
export { type SessionOptions } from './mdb/index.js';
/* addresses: 64-bit kernel addresses are signed numbers here; these print and parse them */
export { hex, hex0x, parseAddr } from './machine/addr.js';

/* umem: the same allocator as the malloc of a process heap (libumem for WebAssembly and ArrayBuffers) */
export { createUmem, Umem, type UmemOptions, type UmemLayout, MALLOC_MAGIC, MEMALIGN_MAGIC } from './umem/umem.js';
export { UmemError, type UmemErrorClass } from './umem/errors.js';
export { parseUmemEnv, defaultUmemConfig, type UmemConfig, type UmemEnv, type UmemLogSizes } from './umem/env.js';
export { umemVerify, umemFindLeaks, umemTarget, type UmemRoots, type UmemLeakOptions } from './umemcheck/analysis.js';
export { UMEM_TEXT_BASE, UMEM_HEAP_LIMIT, UMEM_DATA_SIZE, UMEM_ANCHOR_MAGIC } from './umem/process.js';
export { umemBytesPerBuffer, cacheBytesPerBuffer } from './umem/footprint.js';
