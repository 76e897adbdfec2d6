/*
 * The libumem mdb module: the dcmds and walkers of illumos'
 * usr/src/cmd/mdb/common/modules/libumem, for program cores (a wasm32
 * program whose malloc is kmemdb's allocator: kmem and vmem inside its
 * linear memory, ILP32).
 *
 * Theory
 * ------
 * libumem is kmem in a process, and so is this module the genunix module
 * under libumem's names: the same dcmd and walker functions (tables taken
 * from genunixModule, not copied), reading the same kmem and vmem
 * structures through the same analyses, with umem names where illumos
 * gives them (::umastat, ::umem_cache, ::umem_verify, ::umem_log, ::umalog,
 * ::umausers, ::ugrep, walkers umem_cache, umem, umem_slab ...) and
 * illumos' names where they are shared (::bufctl, ::allocdby, ::freedby,
 * ::vmem, ::vmem_seg, ::findleaks, walkers bufctl, freemem, vmem_seg ...).
 * What only a process has is here: ::umem_status (the allocator's status
 * and its message buffer: the last error report), and, from
 * libumem-malloc.ts, the malloc layer's ::umem_malloc_dist and
 * ::umem_malloc_info (libumem's malloc tags).
 *
 * The module loads for process targets (a program core, or a live process
 * heap); genunix loads for kernels only.  On a core whose program did not
 * use kmemdb's allocator (a core of another runtime, no allocator types
 * or globals) every umem dcmd and walker says so in one line.
 */

import {
  DCMD_ADDRSPEC,
  DCMD_OK,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  registerModule,
  type DcmdContext,
  type DcmdDef,
  type DcmdFn,
  type MdbModule,
  type WalkerDef,
  type WhatisHandler,
} from '../module.js';
import { isProcessTarget } from '../../target/target.js';
import { genunixModule, hasKmem } from './genunix.js';
import { kview, printKmastat } from './genunix-kmem.js';
import { MALLOC_DCMDS } from './libumem-malloc.js';
import { umemErrorReport } from '../analysis/umem-messages.js';

/** The malloc tag's size, for callers that step over it (the wasm demo). */
export { MALLOC_TAG } from '../../abi/umem-malloc.js';

/** genunix dcmds under libumem's names: [umem name, genunix name, illumos' description]. */
const DCMD_NAMES: ReadonlyArray<readonly [string, string, string?]> = [
  ['umem_cache', 'kmem_cache', 'print a umem cache'],
  ['umem_verify', 'kmem_verify', 'check integrity of umem-managed memory'],
  ['umem_log', 'kmem_log', 'dump umem transaction log'],
  ['umalog', 'kmalog', 'display umem transaction log and stack traces'],
  ['umausers', 'kmausers', 'display current medium and large users of the umem allocator'],
  ['umem_debug', 'kmem_debug', 'toggle umem dcmd/walk debugging'],
  ['ugrep', 'kgrep', 'search user address space for a pointer'],
  ['bufctl', 'bufctl'],
  ['allocdby', 'allocdby'],
  ['freedby', 'freedby'],
  ['vmem', 'vmem'],
  ['vmem_seg', 'vmem_seg'],
  ['findleaks', 'findleaks', 'search for potential memory leaks'],
  ['genunix_macro', 'genunix_macro'],
];

/** genunix walkers under libumem's names: [umem name, genunix name, description]. */
const WALKER_NAMES: ReadonlyArray<readonly [string, string, string?]> = [
  ['umem_cache', 'kmem_cache', 'walk list of umem caches'],
  ['umem', 'kmem', 'walk a umem cache'],
  ['freemem', 'freemem', 'walk a umem cache\'s free memory'],
  ['freemem_constructed', 'freemem_constructed', 'walk a umem cache\'s constructed free memory'],
  ['bufctl', 'bufctl', 'walk a umem cache\'s bufctls'],
  ['freectl', 'freectl', 'walk a umem cache\'s free bufctls'],
  ['freectl_constructed', 'freectl_constructed', 'walk a umem cache\'s constructed free bufctls'],
  ['umem_hash', 'kmem_hash', 'given a umem cache, walk its allocated hash table'],
  ['bufctl_history', 'bufctl_history'],
  ['umem_cpu_cache', 'kmem_cpu_cache', 'given a umem cache, walk its per-CPU caches'],
  ['umem_log', 'kmem_log', 'walk the umem transaction log'],
  ['umem_slab', 'kmem_slab', 'given a umem cache, walk its slabs'],
  ['umem_slab_partial', 'kmem_slab_partial', 'given a umem cache, walk its partially allocated slabs (min 1)'],
  ['allocdby', 'allocdby'],
  ['freedby', 'freedby'],
  ['vmem', 'vmem'],
  ['vmem_alloc', 'vmem_alloc'],
  ['vmem_free', 'vmem_free'],
  ['vmem_postfix', 'vmem_postfix'],
  ['vmem_seg', 'vmem_seg'],
  ['vmem_span', 'vmem_span'],
  ['leak', 'leak'],
  ['leakbuf', 'leakbuf'],
];

/** Does the target hold kmemdb's allocator (its types and its cache list)? */
const hasUmem = hasKmem;

function notUmem(ctx: DcmdContext): string {
  const st = ctx.target.status();
  return `${st.program ?? 'the program'} did not use kmemdb's allocator: ${st.dumpName ?? 'the target'} has no umem state (build it with kmemdb cc)`;
}

/** A dcmd that first checks the allocator is there. */
function needsUmem(name: string, fn: DcmdFn): DcmdFn {
  return (ctx, addr, flags, argv) => {
    if (!hasUmem(ctx.target)) throw new DcmdError(`${name}: ${notUmem(ctx)}`);
    return fn(ctx, addr, flags, argv);
  };
}

/** Umem words in a genunix help text. */
function umemWords(s: string | undefined): string | undefined {
  return s?.replace(/kernel memory allocator/g, 'umem allocator').replace(/\bkmem_(?=cache\b|bufctl|log\b|slab)/g, 'umem_').replace(/\bkmem\b/g, 'umem').replace(/\bkernel\b/g, 'process');
}

function genunixDcmd(name: string): DcmdDef {
  const d = genunixModule.dcmds.find((x) => x.name === name);
  if (!d) throw new Error(`libumem: genunix has no dcmd ${name}`);
  return d;
}

function renamedDcmds(): DcmdDef[] {
  return DCMD_NAMES.map(([name, from, description]) => {
    const d = genunixDcmd(from);
    return { ...d, name, description: description ?? d.description, help: umemWords(d.help), fn: needsUmem(name, d.fn) };
  });
}

function renamedWalkers(): WalkerDef[] {
  const byName = new Map(genunixModule.walkers.map((w) => [w.name, w]));
  return WALKER_NAMES.map(([name, from, description]) => {
    const w = byName.get(from);
    if (!w) throw new Error(`libumem: genunix has no walker ${from}`);
    return {
      name,
      description: description ?? w.description,
      walk(ctx: DcmdContext, addr: number | undefined) {
        if (!hasUmem(ctx.target)) throw new WalkError(`${name}: ${notUmem(ctx)}`);
        return w.walk(ctx, addr);
      },
    };
  });
}

/* ---------------------------------------------------------------- ::umem_status */

function logSize(ctx: DcmdContext, global: string): number {
  const kv = kview(ctx);
  const lh = kv.logHeader(global);
  if (!lh) return 0;
  try {
    return ctx.readMember(lh, 'kmem_log_header_t', 'lh_chunksize') * ctx.readMember(lh, 'kmem_log_header_t', 'lh_nchunks');
  } catch {
    return 0;
  }
}

function kbytes(n: number): string {
  return n % 1024 === 0 ? `${n / 1024}k` : `${n}`;
}

function umemStatusDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]) {
  if (argv.length || flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  const msg = umemErrorReport(ctx.target);
  ctx.printf('Status:\t\t%s\n', msg ? 'ready and active (an error has been reported)' : 'ready and active');
  ctx.printf('Concurrency:\t%d\n', kview(ctx).ncpus());
  const logs: string[] = [];
  for (const [name, global] of [
    ['transaction', 'kmem_transaction_log'],
    ['content', 'kmem_content_log'],
    ['fail', 'kmem_failure_log'],
    ['slab', 'kmem_slab_log'],
  ] as const) {
    const n = logSize(ctx, global);
    if (n > 0) logs.push(`${name}=${kbytes(n)}`);
  }
  ctx.printf('Logs:\t\t%s\n', logs.length ? logs.join(' ') : '(inactive)');
  ctx.out('Message buffer:\n');
  ctx.out(msg.endsWith('\n') || msg === '' ? msg : msg + '\n');
  return DCMD_OK;
}

/* ---------------------------------------------------------------- ::umastat, ::bufctl_audit */

/**
 * ::umastat: the per-cache and per-arena table of ::kmastat (the same
 * analysis and column formats) as libumem's dcmd prints it: no options,
 * bytes only, and every column followed by a blank (the Total lines
 * excepted), as illumos' libumem module prints it.
 */
function umastatDcmd(ctx: DcmdContext, _addr: number, _flags: number, argv: readonly string[]) {
  if (argv.length) return DCMD_USAGE;
  return printKmastat(ctx, 0, true);
}

/** ::bufctl_audit: a bufctl printed whole, as ::bufctl -v prints it. */
function bufctlAuditDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (!(flags & DCMD_ADDRSPEC) || argv.length) return DCMD_USAGE;
  return ctx.callDcmd('bufctl', addr, ['-v'], flags);
}

/* ---------------------------------------------------------------- walkers of a process */

/** umem_cpu: the CPU structures whose per-CPU caches every umem cache holds (cache_cpu[0 .. ncpus)). */
function* umemCpuWalk(ctx: DcmdContext, addr: number | undefined): Iterable<number> {
  if (addr !== undefined) throw new WalkError('umem_cpu doesn\'t support local walks');
  if (!hasUmem(ctx.target)) throw new WalkError(`umem_cpu: ${notUmem(ctx)}`);
  const cpus = ctx.walkAll('cpu');
  if (!cpus) throw new WalkError('failed to read \'umem_cpus\'');
  yield* cpus.slice(0, kview(ctx).ncpus());
}

/* ---------------------------------------------------------------- module */

function libumemDcmds(): DcmdDef[] {
  return [
    ...renamedDcmds(),
    {
      name: 'umem_status',
      usage: '',
      description: 'Print umem status and message buffer',
      help: `Print the allocator's status, the logs UMEM_LOGGING created (with their
sizes), and its message buffer: the text of the last error report
("umem allocator: buffer modified after being freed" ...), as libumem
keeps it in umem_error_buffer.`,
      fn: needsUmem('umem_status', umemStatusDcmd),
    },
    {
      name: 'umastat',
      usage: '',
      description: 'umem allocator stats',
      help: `Print, for each umem cache, its buffer size, the buffers in use and in
total, the memory its slabs hold, and its allocations that succeeded
and failed; then a total per arena the caches import from; then each
vmem arena (indented under its source) with the memory in use, in
total and imported, and its allocations.  Sizes are in bytes.`,
      fn: needsUmem('umastat', umastatDcmd),
    },
    {
      name: 'bufctl_audit',
      usage: ':',
      description: 'print a bufctl_audit',
      help: `Print the umem_bufctl_audit_t at addr as ::bufctl -v does: the buffer,
its cache, the time and thread of the last transaction, the log entry
and contents log entry, and the transaction's stack.`,
      fn: needsUmem('bufctl_audit', bufctlAuditDcmd),
    },
    ...MALLOC_DCMDS.map((d) => ({ ...d, fn: needsUmem(d.name, d.fn) })),
  ];
}

const UMEM_WHATIS: WhatisHandler[] = (genunixModule.whatis ?? [])
  .filter((h) => h.name === 'kmem' || h.name === 'vmem')
  .map((h) => ({ ...h, name: h.name === 'kmem' ? 'umem' : h.name }));

export const libumemModule: MdbModule = {
  name: 'libumem',
  dcmds: libumemDcmds(),
  walkers: [...renamedWalkers(), { name: 'umem_cpu', description: 'walk the umem CPU structures', walk: umemCpuWalk }],
  whatis: UMEM_WHATIS,
  macros: genunixModule.macros,
  appliesTo: isProcessTarget,
  init(lc) {
    if (hasUmem(lc.target)) genunixModule.init?.(lc);
  },
};

registerModule(libumemModule);
