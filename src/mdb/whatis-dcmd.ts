/*
 * ::whatis, the mdb core half: collect the addresses (one, or all of a
 * pipeline's), run the registered handlers in illumos' order (mdb_whatis.c
 * whatis_cbcmp(): priority, module name, registration; see
 * Session.registerWhatis) and report what is left as "ADDR is unknown".
 * `-i` skips the WHATIS_REG_NO_ID handlers, a plain search the
 * WHATIS_REG_ID_ONLY ones; `-v` prints "Searching MODULE`HANDLER..." with
 * the name of the module that registered the handler; hidden `-l` lists the
 * handlers and hidden `-D` prints the addresses before searching
 * (cmd_whatis); ::help whatis ends with the handlers as SOURCES
 * (whatis_help).  The core module registers mdb`mappings (kernel
 * symbols, WHATIS_PRIO_MIN: last) and fallbacks for modules and threads;
 * genunix registers modules, threads (WHATIS_PRIO_EARLY), kmem and vmem
 * (WHATIS_PRIO_ALLOCATOR), as illumos' kmem_init() does.
 */

import { toU64 } from '../machine/addr.js';
import type { TargetThread } from '../target/target.js';
import {
  DCMD_OK,
  DCMD_USAGE,
  DCMD_ADDRSPEC,
  WHATIS_PRIO_EARLY,
  WHATIS_PRIO_MIN,
  WHATIS_REG_ID_ONLY,
  WHATIS_REG_NO_ID,
  type DcmdDef,
  type WhatisHandler,
  type WhatisState,
} from './module.js';
import { MDB_COLS } from './output.js';
import type { Session, WhatisEntry } from './session.js';

/**
 * The handlers ::whatis runs, in order: the session's registrations minus
 * the core fallbacks that a module's handler of the same name replaces.
 */
export function whatisSources(s: Session): WhatisEntry[] {
  return s.whatisHandlers.filter(
    (x) => !x.h.fallback || !s.whatisHandlers.some((y) => y !== x && !y.h.fallback && y.h.name === x.h.name),
  );
}

function hx(a: number): string {
  return toU64(a).toString(16);
}

/**
 * True when stack word `a` lies below the thread's saved sp (illumos
 * stack_active(): " (below sp)"); compared unsigned, as uintptr_t.
 */
export function belowSp(t: TargetThread, a: number): boolean {
  return toU64(a) < toU64(t.sp);
}

/**
 * The DESCRIPTION of ::help whatis, as illumos whatis_help() (mdb_whatis.c)
 * prints it: its text (the hidden -b, -D and -l are not listed), then
 * SOURCES, the handlers ::whatis runs, in their order, as MODULE`NAME.
 * ::help indents the lines by two columns, the OPTIONS and SOURCES headings
 * excepted (column 0, as illumos' mdb_dec_indent(2) puts them).
 */
export function whatisHelp(s: Session): string {
  const sources = whatisSources(s).map(({ module, h }) => `  ${module}\`${h.name}\n`);
  return (
    'Given a virtual address (with -i, an identifier), report where it came\n' +
    'from.\n\n' +
    'When fed from a pipeline, ::whatis will not maintain the order the input\n' +
    'comes in; addresses will be reported as it finds them. (-k prevents this;\n' +
    'the output will be in the same order as the input)\n\n' +
    'OPTIONS\n' +
    '  -a  Report all information about each address/identifier.  The default\n' +
    '      behavior is to report only the first (most specific) source for each\n' +
    '      address/identifier.\n' +
    '  -i  addr is an identifier, not a virtual address.\n' +
    '  -k  Do not re-order the input. (may be slower)\n' +
    "  -q  Quiet; don't print multi-line reports. (stack traces, etc.)\n" +
    '  -v  Verbose output; display information about the progress of the search\n\n' +
    'SOURCES\n\n' +
    'The following information sources will be used:\n\n' +
    sources.join('')
  );
}

export function whatisDcmd(s: Session): DcmdDef {
  return {
    name: 'whatis',
    usage: ':[-abikqv]',
    description: 'given an address, return information',
    // a getter: the sources are the handlers registered when ::help runs
    get help(): string {
      return whatisHelp(s);
    },
    checksAddrspec: true,
    fn(ctx, addr, flags, argv) {
      const g = ctx.getopts(argv, { a: 'bool', b: 'bool', i: 'bool', k: 'bool', q: 'bool', v: 'bool', D: 'bool', l: 'bool' });
      if (!g || g.rest.length) return DCMD_USAGE;
      const handlers = whatisSources(s);
      if (g.opts.l) {
        // illumos cmd_whatis: FUNC and ARG are addresses in mdb's own
        // memory there; kmemdb's handlers are functions without an
        // argument, so both print as 0.
        ctx.printf('%<u>%-16s %-12s %4s %?s %?s %8s%</u>\n', 'NAME', 'MODULE', 'PRIO', 'FUNC', 'ARG', 'FLAGS');
        for (const { module, h, prio } of handlers) {
          const fl = h.flags ?? 0;
          const curfl = fl & WHATIS_REG_NO_ID ? 'NO_ID' : fl & WHATIS_REG_ID_ONLY ? 'ID_ONLY' : 'none';
          ctx.printf('%-16s %-12s %4d %-?p %-?p %8s\n', h.name, module, prio, 0, 0, curfl);
        }
        return DCMD_OK;
      }
      if (!(flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
      // illumos cmd_whatis: without -k, take the whole pipeline at once and
      // sort it as uintptr_t (uintptr_cmp: kernel addresses, negative here,
      // after user ones); with -k, one address a call, so that everything
      // comes out in the pipeline's order
      const addrs = g.opts.k
        ? [addr]
        : [...new Set([addr, ...ctx.getPipe().slice(1)])].sort((x, y) => (x < 0 !== y < 0 ? (x < 0 ? 1 : -1) : x - y));
      // match()'s binary search order (signed, as the ranges it is asked about)
      const sorted = [...new Set(addrs)].sort((x, y) => x - y);
      const found = new Set<number>();
      const debug = g.opts.D;
      if (debug) {
        // illumos cmd_whatis, whatis_debug: "Searching for:\n", then
        // "    %p" for each address and no newline after the last, so the
        // first report (or "Searching ...") continues that line.  mdb's
        // autowrap starts a new line before a piece that would pass column
        // 80: four 64-bit addresses a line.
        ctx.out('Searching for:\n');
        let col = 0;
        const put = (piece: string): void => {
          if (col !== 0 && col + piece.length > MDB_COLS) {
            ctx.out('\n');
            col = 0;
          }
          ctx.out(piece);
          col += piece.length;
        };
        for (const a of addrs) {
          put('    ');
          put(hx(a));
        }
      }
      const wanted = new Set(sorted);
      const wflags = { all: g.opts.a, identifiersOnly: g.opts.i, quiet: g.opts.q, verbose: g.opts.v, bufctls: g.opts.b };
      const w: WhatisState = {
        flags: wflags,
        match(base: number, size: number): number[] {
          const out: number[] = [];
          let lo = 0;
          let hi = sorted.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (sorted[mid]! < base) lo = mid + 1;
            else hi = mid;
          }
          for (let i = lo; i < sorted.length && sorted[i]! < base + Math.max(size, 1); i++) {
            const a = sorted[i]!;
            if (wflags.all || !found.has(a)) out.push(a);
          }
          return out;
        },
        reportObject(a: number, base: number): void {
          // illumos mdb_whatis_report_object(): checked under -D only
          if (debug && !wanted.has(a)) ctx.warn(`mdb_whatis_report_object(): addr ${hx(a)} is not a pointer of interest.`);
          found.add(a);
          ctx.out(a === base ? `${hx(a)} is ` : `${hx(a)} is ${hx(base)}+${(a - base).toString(16)}, `);
        },
        done(): boolean {
          return !wflags.all && sorted.every((a) => found.has(a));
        },
      };
      for (const { module, h } of handlers) {
        if (w.done()) break;
        // honour the ident flags (illumos cmd_whatis)
        if ((h.flags ?? 0) & (wflags.identifiersOnly ? WHATIS_REG_NO_ID : WHATIS_REG_ID_ONLY)) continue;
        if (wflags.verbose) ctx.out(`Searching ${module}\`${h.name}...\n`);
        try {
          h.search(ctx, w);
        } catch (e) {
          ctx.warn(`whatis: ${module}\`${h.name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      for (const a of addrs) if (!found.has(a)) ctx.out(`${hx(a)} is unknown\n`);
      return DCMD_OK;
    },
  };
}

/*
 * The kernel's module text/data and thread handlers.  In illumos they are
 * genunix's (kmem.c kmem_init(): mdb_whatis_register("modules", ...) and
 * ("threads", ...), WHATIS_PRIO_EARLY, WHATIS_REG_NO_ID), so genunix
 * registers these; the core keeps copies as fallbacks for targets genunix
 * does not load for.
 */
const modulesWhatis: WhatisHandler = {
  name: 'modules',
  prio: WHATIS_PRIO_EARLY,
  flags: WHATIS_REG_NO_ID,
  search(ctx, w) {
    for (const m of ctx.target.moduleHistory()) {
      if (m.unloadTime !== undefined) continue;
      for (const [base, size, what] of [
        [m.base, m.textSize, 'text segment'],
        [m.base + m.textSize, m.size - m.textSize, 'data segment'],
      ] as const) {
        for (const a of w.match(base, size)) {
          w.reportObject(a, a);
          const sym = ctx.target.symbolByAddr(a);
          ctx.out(`${sym ? ctx.symbolize(a) + ', ' : ''}in ${m.name}'s ${what}\n`);
        }
      }
    }
  },
};

const threadsWhatis: WhatisHandler = {
  name: 'threads',
  prio: WHATIS_PRIO_EARLY,
  flags: WHATIS_REG_NO_ID,
  search(ctx, w) {
    const tid = ctx.types.find('kthread_t') ?? ctx.types.find('struct kthread');
    const tsize = tid !== undefined ? ctx.types.sizeof(tid) : 0;
    for (const t of ctx.target.threads()) {
      if (tsize > 0) {
        for (const a of w.match(t.addr, tsize)) {
          w.reportObject(a, t.addr);
          ctx.out('allocated as a thread structure\n');
        }
      }
      if (t.stackTop > t.stackBase) {
        for (const a of w.match(t.stackBase, t.stackTop - t.stackBase)) {
          w.reportObject(a, a);
          ctx.out(`in thread ${hx(t.addr)}'s stack${belowSp(t, a) ? ' (below sp)' : ''}\n`);
        }
      }
    }
  },
};

/** The handlers genunix registers (illumos genunix`modules, genunix`threads). */
export const kernelWhatisHandlers: readonly WhatisHandler[] = [modulesWhatis, threadsWhatis];

/**
 * The core's handlers: fallback modules and threads, and kernel symbols
 * (illumos' one builtin, mdb`mappings).
 */
export const coreWhatisHandlers: WhatisHandler[] = [
  { ...modulesWhatis, fallback: true },
  { ...threadsWhatis, fallback: true },
  {
    name: 'mappings',
    // illumos' builtin_whatis[]: WHATIS_PRIO_MIN, WHATIS_REG_NO_ID
    prio: WHATIS_PRIO_MIN,
    flags: WHATIS_REG_NO_ID,
    search(ctx, w) {
      const seen = new Set<string>();
      // a program core's image is the program's, a kernel's is unix
      const st = ctx.target.status();
      const image = st.kind === 'core' ? (st.program ?? 'a.out') : 'unix';
      for (const sym of ctx.target.symbols()) {
        if (sym.module !== undefined || sym.size === 0 || seen.has(sym.name)) continue;
        seen.add(sym.name);
        for (const a of w.match(sym.value, sym.size)) {
          w.reportObject(a, a);
          ctx.out(`${ctx.symbolize(a)}, in ${image}'s ${sym.kind === 'func' ? 'text' : 'data'} segment\n`);
        }
      }
    },
  },
];
