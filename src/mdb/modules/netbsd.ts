/*
 * The netbsd mdb module: pool(9), modules and sysctl of the NetBSD
 * personality, for the three failures of the NetBSD report.
 *
 *   ::pool [-v]          every pool on pool_head (a table), or addr::pool in
 *                        the shape of ddb's `show pool` (pool_print1); flags
 *                        link damage and pools left behind by unloaded modules
 *   ::modstat [-h]       modstat(8)'s table of module_list; -h adds the
 *                        load/unload history of the dump
 *   ::sysctl [-p] [node] the sysctl tree, checking parent pointers (spare
 *                        slots included) and handlers
 *   ::sysctllog [addr]   a sysctllog as sysctl_log_print() prints it, each
 *                        entry resolved against the tree as teardown would
 *   pool_head, pa_list   walkers that validate every TAILQ link
 *   ::whatis             addresses in a freed module_map range name the
 *                        unloaded module and its former symbol
 *
 * The data comes from ../analysis/netbsd-view.ts and netbsd-sysctl.ts; the dcmds
 * here only print it.  The module loads for targets whose types declare
 * struct pool or struct sysctlnode and whose symbols include pool_head,
 * module_list or sysctl_root.
 */

import {
  DCMD_ADDRSPEC,
  DCMD_OK,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  WHATIS_PRIO_EARLY,
  WHATIS_REG_NO_ID,
  registerModule,
  type DcmdContext,
  type DcmdDef,
  type MdbModule,
  type WalkerDef,
  type WhatisHandler,
} from '../module.js';
import type { Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import {
  PoolLayout,
  PoolView,
  describeUnmapped,
  fmtTime,
  formerModuleAt,
  formerSymbol,
  modstat,
  poolReport,
  walkTailq,
  type ListProblem,
  type PoolInfo,
} from '../analysis/netbsd-view.js';
import { CTLFLAG_IMMEDIATE } from '../../abi/netbsd-sys.js';
import {
  CTLTYPE_NAMES,
  SysctlLayout,
  SysctlView,
  findSysctlLogs,
  readSysctlLog,
  sysctlLogPrintLine,
  type SysctlNode,
} from '../analysis/netbsd-sysctl.js';

const X = (a: number): string => '0x' + hex(a);

function poolView(ctx: DcmdContext): PoolView {
  if (!PoolLayout.applies(ctx.target)) throw new DcmdError('this target has no pool(9) (struct pool and pool_head are not in its types and symbols)');
  return new PoolView(ctx.target);
}

function sysctlView(ctx: DcmdContext): SysctlView {
  if (!SysctlLayout.applies(ctx.target)) throw new DcmdError('this target has no sysctl tree (struct sysctlnode and sysctl_root are not in its types and symbols)');
  return new SysctlView(ctx.target);
}

/** Run a validating walk, printing each problem as `mdb: <walker>: <message>` when found. */
function* reporting(ctx: DcmdContext, name: string, gen: Iterable<number>, problems: ListProblem[]): Generator<number> {
  let shown = 0;
  const flush = () => {
    while (shown < problems.length) ctx.warn(`${name}: ${problems[shown++]!.message}`);
  };
  for (const a of gen) {
    flush();
    yield a;
  }
  flush();
}

/* ------------------------------------------------------------- ::pool */

/** ddb's pool_print1() (subr_pool.c), with the /p page lists under -v. */
function printPool(ctx: DcmdContext, v: PoolView, p: PoolInfo, pages: boolean): void {
  ctx.printf('POOL%s %s: size %u, align %u, ioff %u, roflags 0x%08x\n', p.cache ? ' CACHE' : '', p.name, p.size, p.align, p.ioff, p.roflags);
  ctx.printf('\talloc %s (%s)\n', X(p.alloc), v.allocatorName(p.alloc));
  ctx.printf('\tminitems %u, minpages %u, maxpages %u, npages %u\n', p.minitems, p.minpages, p.maxpages, p.npages);
  ctx.printf('\titemsperpage %u, nitems %u, nout %u, hardlimit %u\n', p.itemsperpage, p.nitems, p.nout, p.hardlimit);
  ctx.printf('\tnget %lu, nfail %lu, nput %lu\n', p.nget, p.nfail, p.nput);
  ctx.printf('\tnpagealloc %lu, npagefree %lu, hiwat %u, nidle %lu\n', p.npagealloc, p.npagefree, p.hiwat, p.nidle);
  if (pages) {
    const problems: ListProblem[] = [];
    for (const [list, title] of [
      ['pr_emptypages', 'empty page list'],
      ['pr_fullpages', 'full page list'],
      ['pr_partpages', 'partial-page list'],
    ] as const) {
      const ps = v.pages(p.addr, list, problems);
      if (ps.length) ctx.printf('\n\t%s:\n', title);
      for (const ph of ps) ctx.printf('\t\tpage %s, nmissing %d, time %u\n', X(ph.page), ph.nmissing, ph.time);
    }
    const cur = v.curpage(p.addr);
    if (cur === 0) ctx.out('\tno current page\n');
    else ctx.printf('\tcurpage %s\n', X(cur));
    for (const pr of problems) ctx.warn(`pool ${p.name}: ${pr.message}`);
  }
  const c = p.cacheStats;
  if (c) {
    ctx.printf('\tcpu layer hits %lu misses %lu\n', c.cpuHits, c.cpuMisses);
    ctx.printf('\tcache layer hits %lu misses %lu\n', c.hits, c.misses);
    ctx.printf('\tcache layer entry uncontended %lu contended %lu\n', c.hits + c.misses - c.contended, c.contended);
    ctx.printf('\tcache layer empty groups %u full groups %u\n', c.nempty, c.nfull);
  }
}

function formerLine(ctx: DcmdContext, addr: number): string | undefined {
  const f = formerModuleAt(ctx.target, addr);
  if (!f) return undefined;
  return (
    `pool at ${X(addr)} lies in the unloaded module ${f.record.name}'s former range (${formerSymbol(f)}, loaded at ${fmtTime(f.record.loadTime)}, ` +
    `unloaded at ${fmtTime(f.record.unloadTime!)})${ctx.target.isMapped(addr) ? '' : ', unmapped'}`
  );
}

function poolDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { v: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const v = poolView(ctx);
  if (flags & DCMD_ADDRSPEC) {
    const stale = formerLine(ctx, addr);
    if (!ctx.target.isMapped(addr)) {
      if (stale) ctx.out(stale + '\n');
      throw new DcmdError(`pool at ${X(addr)} is unmapped (${describeUnmapped(ctx.target, addr)})`);
    }
    printPool(ctx, v, v.pool(addr), g.opts.v);
    if (stale) ctx.out(stale + ': it was never pool_destroy()ed\n');
    return DCMD_OK;
  }
  const r = poolReport(ctx.target);
  if (flags & DCMD_PIPE_OUT) {
    for (const p of r.pools) ctx.pipeOut(p.addr);
    return DCMD_OK;
  }
  if (g.opts.v) {
    r.pools.forEach((p, i) => {
      if (i) ctx.out('\n');
      printPool(ctx, v, p, true);
    });
  } else {
    ctx.printf('%<u>%-?s %-16s %6s %6s %6s %6s %8s %8s %s%</u>\n', 'ADDR', 'NAME', 'SIZE', 'NPAGES', 'NITEMS', 'NOUT', 'NGET', 'NPUT', 'ALLOCATOR');
    for (const p of r.pools) {
      ctx.printf('%0?p %-16s %6u %6u %6u %6u %8lu %8lu %s\n', p.addr, p.name, p.size, p.npages, p.nitems, p.nout, p.nget, p.nput, v.allocatorName(p.alloc));
    }
  }
  const notes: string[] = [];
  for (const { list, problem } of r.problems) notes.push(`${list}: ${problem.message}`);
  for (const s of r.stale) {
    notes.push(
      `pool at ${X(s.addr)} lies in the unloaded module ${s.former.record.name}'s former range (${formerSymbol(s.former)}, loaded at ` +
        `${fmtTime(s.former.record.loadTime)}, unloaded at ${fmtTime(s.former.record.unloadTime!)})${s.mapped ? '' : ', unmapped'}; ` +
        `still referenced by ${s.refs.join(', ')}`,
    );
  }
  if (r.drainpp !== 0 && !ctx.target.isMapped(r.drainpp) && !r.stale.some((s) => s.addr === r.drainpp)) {
    notes.push(`drainpp is ${X(r.drainpp)}, which is unmapped (${describeUnmapped(ctx.target, r.drainpp)})`);
  }
  if (notes.length) {
    ctx.out('\n');
    for (const n of notes) ctx.out(n + '\n');
  }
  return DCMD_OK;
}

/* ----------------------------------------------------------- walkers */

/** Is addr an element of the TAILQ at head (walked without reporting its problems)? */
function onList(ctx: DcmdContext, head: number, linkOff: number, addr: number): boolean {
  if (addr === 0) return false;
  for (const e of walkTailq(ctx.target, { head, linkOff }, [])) if (e === addr) return true;
  return false;
}

const poolHeadWalker: WalkerDef = {
  name: 'pool_head',
  description: 'walk every pool on pool_head (pr_poollist), validating each link',
  *walk(ctx, addr) {
    const v = poolView(ctx);
    const problems: ListProblem[] = [];
    const head = v.sym('pool_head')!;
    if (addr !== undefined && !onList(ctx, head, v.L.poollist, addr)) throw new WalkError(`${X(addr)} is not a pool on pool_head`);
    const gen = addr === undefined ? walkTailq(ctx.target, { head, linkOff: v.L.poollist }, problems) : walkTailq(ctx.target, { start: addr, linkOff: v.L.poollist }, problems);
    yield* reporting(ctx, 'pool_head', gen, problems);
  },
};

const paListWalker: WalkerDef = {
  name: 'pa_list',
  description: "given a pool_allocator, walk its pools (pr_alloc_list), validating each link; global: every allocator's",
  *walk(ctx, addr) {
    const v = poolView(ctx);
    const allocs = addr === undefined ? v.allocators() : [addr];
    if (addr !== undefined && !ctx.target.isMapped(addr)) throw new WalkError(`pool_allocator at ${X(addr)} is unmapped (${describeUnmapped(ctx.target, addr)})`);
    for (const pa of allocs) {
      const problems: ListProblem[] = [];
      const gen = (function* () {
        for (const pp of walkTailq(ctx.target, { head: pa + v.L.paList, linkOff: v.L.allocList }, problems)) {
          yield pp;
          const back = ctx.target.loadPtr(pp + v.L.f.pr_alloc.off);
          if (back !== pa) problems.push({ kind: 'backlink', elem: pp, found: back, expected: pa, message: `pr_alloc of ${X(pp)} is ${X(back)}, expected ${X(pa)}` });
        }
      })();
      yield* reporting(ctx, 'pa_list', gen, problems);
    }
  },
};

const moduleListWalker: WalkerDef = {
  name: 'module_list',
  description: 'walk the loaded modules (struct module) on module_list, validating each link',
  *walk(ctx, addr) {
    const sym = ctx.target.symbolByName('module_list');
    if (!sym || ctx.types.find('struct module') === undefined) throw new WalkError('this target has no module_list');
    const linkOff = ctx.types.member(ctx.types.find('struct module')!, 'mod_list').bitOffset / 8;
    if (addr !== undefined && !onList(ctx, sym.value, linkOff, addr)) throw new WalkError(`${X(addr)} is not a module on module_list`);
    const problems: ListProblem[] = [];
    const gen = addr === undefined ? walkTailq(ctx.target, { head: sym.value, linkOff }, problems) : walkTailq(ctx.target, { start: addr, linkOff }, problems);
    yield* reporting(ctx, 'module_list', gen, problems);
  },
};

/* ---------------------------------------------------------- ::modstat */

function modstatDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { h: 'bool' });
  if (!g || g.rest.length || flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  if (!ctx.target.symbolByName('module_list')) throw new DcmdError('this target has no module_list');
  const r = modstat(ctx.target);
  if (flags & DCMD_PIPE_OUT) {
    for (const m of r.modules) ctx.pipeOut(m.addr);
    return DCMD_OK;
  }
  ctx.printf('%-16s %-10s %-10s %-5s %-8s %s\n', 'NAME', 'CLASS', 'SOURCE', 'REFS', 'SIZE', 'REQUIRES');
  for (const m of r.modules) {
    ctx.printf('%-16s %-10s %-10s %-5u %-8s %s\n', m.name, m.cls, m.source, m.refcnt, m.size ? String(m.size) : '-', m.required || '-');
  }
  for (const p of r.problems) ctx.warn(`module_list: ${p.message}`);
  if (g.opts.h) {
    ctx.out('\n');
    ctx.printf('%-16s %-?s %8s %12s %12s\n', 'NAME', 'ADDRESS', 'SIZE', 'LOADED', 'UNLOADED');
    for (const h of r.history) {
      ctx.printf('%-16s %0?p %8s %12s %12s\n', h.name, h.base, '0x' + hex(h.size), fmtTime(h.loadTime), h.unloadTime === undefined ? '-' : fmtTime(h.unloadTime));
    }
  }
  return DCMD_OK;
}

/* ----------------------------------------------------------- ::sysctl */

function nodeValue(ctx: DcmdContext, n: SysctlNode): string {
  if (n.type === 1) return `${n.clen}/${n.csize} children`;
  if (n.func !== 0) return `func ${ctx.target.isMapped(n.func) ? ctx.symbolize(n.func) : X(n.func)}`;
  if (n.flags & CTLFLAG_IMMEDIATE) return `= ${n.qdata}`;
  if (n.data !== 0) return `data ${ctx.symbolize(n.data)}`;
  return '';
}

function sysctlDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  const g = ctx.getopts(argv, { p: 'bool' });
  if (!g || g.rest.length > 1) return DCMD_USAGE;
  const v = sysctlView(ctx);
  let start = v.root;
  if (g.rest.length === 1) {
    start = v.lookup(g.rest[0]!);
    if (start === 0) throw new DcmdError(`no sysctl node ${g.rest[0]}`);
  } else if (flags & DCMD_ADDRSPEC) start = addr;
  const nodes = v.subtree(start);
  if (!nodes) throw new DcmdError(`${X(start)} is not a node of the sysctl tree`);
  if (flags & DCMD_PIPE_OUT) {
    for (const n of nodes) ctx.pipeOut(n.addr);
    return DCMD_OK;
  }
  if (g.opts.p) ctx.printf('%<u>%-?s %-14s %-14s %-32s %-6s %s%</u>\n', 'ADDR', 'MIB', 'PARENT-PATH', 'NAME', 'TYPE', 'VALUE');
  else ctx.printf('%<u>%-?s %-14s %-32s %-6s %s%</u>\n', 'ADDR', 'MIB', 'NAME', 'TYPE', 'VALUE');
  let bad = 0;
  for (const n of nodes) {
    const type = CTLTYPE_NAMES[n.type] ?? String(n.type);
    if (g.opts.p) ctx.printf('%0?p %-14s %-14s %-32s %-6s %s\n', n.addr, n.mib.join('.'), n.parentMib.join('.'), n.names.join('.'), type, nodeValue(ctx, n));
    else ctx.printf('%0?p %-14s %-32s %-6s %s\n', n.addr, n.mib.join('.'), n.names.join('.'), type, nodeValue(ctx, n));
    for (const p of n.problems) ctx.out(`    !! ${p}\n`);
    if (n.problems.length) bad++;
  }
  if (bad) ctx.printf('%d node%s with problems\n', bad, bad === 1 ? '' : 's');
  return DCMD_OK;
}

function sysctllogDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (argv.length) return DCMD_USAGE;
  const v = sysctlView(ctx);
  const logs = flags & DCMD_ADDRSPEC ? [{ symbol: '', module: undefined as string | undefined, log: addr }] : findSysctlLogs(v);
  if (logs.length === 0) {
    ctx.out('no sysctllog found in named pointers (give a struct sysctllog address: *sym::sysctllog)\n');
    return DCMD_OK;
  }
  logs.forEach((l, i) => {
    if (i) ctx.out('\n');
    if (l.symbol) ctx.printf('%s%s -> %p\n', l.module ? l.module + '`' : '', l.symbol, l.log);
    const log = readSysctlLog(v, l.log);
    ctx.out(sysctlLogPrintLine(log) + '\n');
    if (log.entries.length) ctx.printf('%5s %-14s %s\n', 'INDEX', 'MIB', 'RESOLVES TO');
    for (const e of log.entries) {
      const mib = e.path.join('.');
      if (e.node !== undefined) ctx.printf('%5d %-14s %s (%p)\n', e.index, mib, v.describeNode(e.node), e.node);
      else ctx.printf('%5d %-14s !! does not resolve: %s; sysctl_teardown will skip it\n', e.index, mib, e.error ?? '?');
    }
    for (const p of log.problems) ctx.warn(`sysctllog ${X(l.log)}: ${p}`);
  });
  return DCMD_OK;
}

/* ----------------------------------------------------------- ::whatis */

const ALL: [number, number] = [-Number.MAX_SAFE_INTEGER, 2 * Number.MAX_SAFE_INTEGER];

/**
 * Addresses in a freed module_map range: searched early, before kmem and
 * vmem (which would only say "freed from the module_map vmem arena"), so
 * the first answer names the module and the object that lived there.
 */
const moduleMapWhatis: WhatisHandler = {
  name: 'module_map',
  prio: WHATIS_PRIO_EARLY,
  flags: WHATIS_REG_NO_ID,
  search(ctx, w) {
    if (ctx.target.moduleHistory().every((m) => m.unloadTime === undefined)) return;
    for (const a of w.match(ALL[0], ALL[1])) {
      const f = formerModuleAt(ctx.target, a);
      if (!f) continue;
      w.reportObject(a, a);
      ctx.out(
        `in freed module_map range formerly belonging to module ${f.record.name} (loaded at ${fmtTime(f.record.loadTime)}, ` +
          `unloaded at ${fmtTime(f.record.unloadTime!)}): ${formerSymbol(f)}\n`,
      );
    }
  },
};

/* ------------------------------------------------------------- module */

function netbsdDcmds(): DcmdDef[] {
  return [
    {
      name: 'pool',
      usage: '?[-v]',
      description: 'print pool(9) pools (ddb show pool), flagging damaged lists and stale module pools',
      help: `Without an address, list every pool on pool_head, one line each (name,
item size, pages, free items, items out, gets, puts, allocator), then
report what is wrong: any link of pool_head or of an allocator's pa_list
that is unmapped or does not point back (see ::walk pa_list), and every
pool still referenced from pool_head, a pa_list or drainpp whose address
lies in the module_map range of a module that has been unloaded, i.e. a
module whose MODULE_CMD_FINI forgot pool_destroy():

  pool at 0x... lies in the unloaded module X's former range (X_pool, ...)

With an address, print that pool as ddb's "show pool" does (pool_print1):
geometry, limits and counters, and for a pool_cache the cpu and cache
layer statistics.

Options:
  -v    with an address, add the empty, full and partial page lists and
        the current page (ddb's /p); without one, print every pool that way`,
      fn: poolDcmd,
    },
    {
      name: 'modstat',
      usage: '[-h]',
      description: 'print the loaded modules (modstat(8)) and, with -h, the load/unload history',
      help: `Print the modules on module_list in the columns of NetBSD's modstat(8),
sorted by name: NAME CLASS SOURCE REFS SIZE REQUIRES.  SOURCE is builtin,
boot or filesys; SIZE is the module_map chunk (text, data and bss in one
chunk); REQUIRES is the MODULE() requirement string.  A damaged
module_list link is reported by address.

Options:
  -h    add the load/unload history the dump carries: every load with its
        module_map address and size, the uptime it was loaded at and the
        uptime it was unloaded at ("-" while loaded).  A stale pointer into
        module_map can be matched against these ranges (::whatis does it).`,
      fn: modstatDcmd,
    },
    {
      name: 'sysctl',
      usage: '?[-p] [node]',
      description: 'print the sysctl tree, checking parent pointers and handlers',
      help: `Print the sysctl tree below node (a dotted name such as kern.ipc, dotted
numbers such as 1.82, or a struct sysctlnode address), or the whole tree:
address, MIB (the containment path: the numbers of the child-array slots
followed from sysctl_root), name, type, and the handler, immediate value,
data pointer or child count.  Below a node, lines starting with "!!" say
what is wrong with it:
  - its sysctl_parent is not the node whose child array holds it (the
    check NetBSD later added as KASSERTMSG(pnode->sysctl_parent == snode));
  - a spare slot of its child array has a stale sysctl_parent, so a
    CTL_CREATE node appended there will inherit it and sysctl_log_add will
    log a wrong path (the report's 1.83.x instead of 1.82.x);
  - its handler lies outside kernel and loaded-module text (calling it
    faults, or runs whatever module was loaded there since).

Options:
  -p    add the parent-pointer path: the numbers met following
        sysctl_parent up to the root, which is what sysctl_log_add records`,
      fn: sysctlDcmd,
    },
    {
      name: 'sysctllog',
      usage: '?',
      description: "print a sysctllog as sysctl_log_print() does, resolving each entry",
      help: `Print the struct sysctllog at addr as NetBSD's sysctl_log_print() does:

  root 0x... left L size S content version V type T len N: p0 p1 ... end

then one line per entry: its index in log_num, its MIB path, and the node
it resolves to in the current tree when located from log_root by number,
as sysctl_teardown() does.  An entry that does not resolve is flagged: the
teardown will skip it silently and the node it was meant to remove
survives the module's unload.

Without an address, print every log held in a named pointer of the kernel
or of a loaded module (sysctl_sysvipc_clog, mqsysctl_log ...).  The usual
form with an address is *sysctl_sysvipc_clog::sysctllog.`,
      fn: sysctllogDcmd,
    },
  ];
}

function appliesTo(t: Target): boolean {
  const tt = t.types;
  return (
    (tt.find('struct pool') !== undefined || tt.find('struct sysctlnode') !== undefined || tt.find('struct module') !== undefined) &&
    (t.symbolByName('pool_head') !== undefined || t.symbolByName('module_list') !== undefined || t.symbolByName('sysctl_root') !== undefined)
  );
}

export const netbsdModule: MdbModule = {
  name: 'netbsd',
  dcmds: netbsdDcmds(),
  walkers: [poolHeadWalker, paListWalker, moduleListWalker],
  whatis: [moduleMapWhatis],
  appliesTo,
};

registerModule(netbsdModule);
