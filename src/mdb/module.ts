/*
 * The mdb module API.
 *
 * An mdb module is a table of dcmds and a table of walkers, as in illumos
 * (mdb_modinfo_t with its mdb_dcmd_t[] and mdb_walker_t[]).  Modules are
 * registered once with `registerModule()` and loaded for a target when the
 * session starts (each module may decline a target with `appliesTo`).
 *
 * A dcmd receives the context `ctx`, the address (dot), the flags and its
 * arguments:
 *
 *   fn(ctx, addr, flags, argv) => DCMD_OK | DCMD_ERR | DCMD_USAGE | ...
 *
 * `flags & DCMD_ADDRSPEC` says whether an address was given explicitly
 * (`addr::dcmd`); without it `addr` is the current dot and should normally be
 * ignored.  In a pipeline (`a | b`) or a count (`addr,n::dcmd`) the dcmd is
 * called once per address with DCMD_LOOP set, and DCMD_LOOPFIRST on the
 * first call only (print headers then).  DCMD_PIPE says the input comes from
 * a pipe; DCMD_PIPE_OUT says the output goes to one, in which case the dcmd
 * should emit addresses with `ctx.pipeOut(addr)` (mdb's `%#lr\n`).
 *
 * Walkers are generators: `walk(ctx, addr)` yields addresses.  `addr` is
 * undefined for a global walk (`::walk name`) and the start address for a
 * local walk (`addr::walk name`).  Memory reads go through `ctx.target`; a
 * read of unmapped memory throws `TargetReadError`, which the framework
 * turns into `mdb: failed to read ... at 0x...` and ends the walk.  A walker
 * that wants to skip damaged data and continue should catch and call
 * `ctx.warn()` itself.
 */

import type { Target, TargetSymbol } from '../target/target.js';
import type { TypeTable } from '../ctf/ctf.js';
import type { DataModel } from '../machine/memory.js';

/* dcmd flags (illumos values) */
export const DCMD_ADDRSPEC = 0x01;
export const DCMD_LOOP = 0x02;
export const DCMD_LOOPFIRST = 0x04;
export const DCMD_PIPE = 0x08;
export const DCMD_PIPE_OUT = 0x10;

/* dcmd results (illumos values) */
export const DCMD_OK = 0;
export const DCMD_ERR = 1;
export const DCMD_USAGE = 2;
export const DCMD_NEXT = 3;
export const DCMD_ABORT = 4;
export type DcmdResult = 0 | 1 | 2 | 3 | 4;

/* walk callback results */
export const WALK_NEXT = 0;
export const WALK_DONE = 1;
export const WALK_ERR = -1;
export type WalkResult = 0 | 1 | -1;

/** Convenience test: should a looping dcmd print its header now? */
export function DCMD_HDRSPEC(flags: number): boolean {
  return (flags & DCMD_LOOPFIRST) !== 0 || (flags & DCMD_LOOP) === 0;
}

export type DcmdFn = (ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) => DcmdResult;

export interface DcmdDef {
  readonly name: string;
  /** Usage string as illumos writes it: ":[-v] [-a addr]" (":" = address required, "?" = optional). */
  readonly usage: string;
  readonly description: string;
  /** Long help text printed by ::help after the usage (plain text). */
  readonly help?: string;
  /**
   * With a ":" usage the session refuses a call without an address before
   * fn runs; true: fn checks DCMD_ADDRSPEC itself (as every illumos dcmd
   * does), e.g. ::whatis, whose hidden -l needs no address.
   */
  readonly checksAddrspec?: boolean;
  readonly fn: DcmdFn;
}

export interface WalkerDef {
  readonly name: string;
  readonly description: string;
  /**
   * Yield the addresses of the walk.  `addr` is undefined for a global walk.
   * Throw `WalkError` (or let TargetReadError escape) to end with an error.
   */
  walk(ctx: DcmdContext, addr: number | undefined): Iterable<number>;
}

/** A failure a walker reports by message (printed as `mdb: <message>`). */
export class WalkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalkError';
  }
}

/**
 * The one rule for an address a walker does not expect: a global-only
 * walker given an explicit address fails (WalkError, non-zero status)
 * instead of ignoring it.
 */
export function noAddress(walker: string, addr: number | undefined): void {
  if (addr !== undefined) throw new WalkError(`${walker} is a global walk and takes no address`);
}

/** Thrown by dcmds to stop with a message (printed as `mdb: <message>`; the dcmd fails). */
export class DcmdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DcmdError';
  }
}

export interface MdbModule {
  readonly name: string;
  readonly dcmds: readonly DcmdDef[];
  readonly walkers: readonly WalkerDef[];
  /**
   * Macros for `addr$<name`: mdb command text run with dot = addr
   * (e.g. `bufctl_audit: "./\"next\"16t\"addr\"16t\"slab\"n3K"`).
   */
  readonly macros?: Readonly<Record<string, string>>;
  /** ::whatis handlers (see WhatisHandler). */
  readonly whatis?: readonly WhatisHandler[];
  /** Decide whether this module loads for a target (default: yes). */
  appliesTo?(target: Target): boolean;
  /**
   * Called once when the module is loaded for a target; may add walkers
   * or dcmds that depend on the target (e.g. one walker per kmem cache).
   */
  init?(ctx: ModuleLoadContext): void;
}

export interface ModuleLoadContext {
  readonly target: Target;
  addWalker(w: WalkerDef): void;
  addDcmd(d: DcmdDef): void;
  /** A context usable for reading during init (output goes to stderr). */
  readonly ctx: DcmdContext;
}

/*
 * ::whatis (mdb core) asks every handler about a sorted set of addresses.
 * A handler looks at the objects it knows and, for each object, asks
 * `w.match(base, size)` which of the addresses still being searched for lie
 * inside it; for each it calls `w.reportObject(addr, base)` (which prints
 * "ADDR is BASE+OFF, " or "ADDR is ", marks the address found) and then
 * prints the rest of the line itself, e.g. `ctx.printf("allocated from %s\n",
 * name)`.  Handlers run as illumos' mdb_whatis.c whatis_cbcmp() sorts them:
 * by priority, then module name (strcmp), then registration order.
 */

/** Priorities (illumos mdb_whatis.h; WHATIS_PRIO_MIN, mdb_whatis_impl.h, is the lowest). */
export const WHATIS_PRIO_EARLY = 10; /* before the allocators (modules, threads) */
export const WHATIS_PRIO_ALLOCATOR = 20; /* kmem, vmem */
export const WHATIS_PRIO_LATE = 30; /* after the allocators */
export const WHATIS_PRIO_MIN = 99; /* the core's mdb`mappings; larger priorities are clamped to it */

/** Registration flags (illumos mdb_whatis.h). */
export const WHATIS_REG_ID_ONLY = 0x1; /* run only for `::whatis -i` */
export const WHATIS_REG_NO_ID = 0x2; /* never run for `::whatis -i` */

export interface WhatisFlags {
  /** -a: report every source, not only the first (most specific). */
  readonly all: boolean;
  /** -i: identifiers only (WHATIS_REG_NO_ID handlers are not run). */
  readonly identifiersOnly: boolean;
  /** -q: quiet, no multi-line reports. */
  readonly quiet: boolean;
  /** -v: verbose (the framework prints "Searching module`handler..."). */
  readonly verbose: boolean;
  /** -b: report bufctls (hidden option, kmem). */
  readonly bufctls: boolean;
}

export interface WhatisState {
  readonly flags: WhatisFlags;
  /** Addresses (sorted) inside [base, base+size) that should be reported now. */
  match(base: number, size: number): number[];
  /** Print the "ADDR is BASE+OFF, " (or "ADDR is ") prefix and mark addr found. */
  reportObject(addr: number, base: number): void;
  /** True when nothing is left to search for (all found, and not -a). */
  done(): boolean;
}

export interface WhatisHandler {
  readonly name: string;
  /** WHATIS_PRIO_*: lower runs first; above WHATIS_PRIO_MIN counts as WHATIS_PRIO_MIN. */
  readonly prio: number;
  /** 0, WHATIS_REG_NO_ID or WHATIS_REG_ID_ONLY (default 0). */
  readonly flags?: number;
  /**
   * A stand-in the mdb core registers for targets without a kernel
   * module: ::whatis skips it when another module registers a handler of
   * the same name.  (genunix registers `modules` and `threads` itself, as
   * illumos' kmem_init() does, so `::whatis -v` says ``genunix`threads``.)
   */
  readonly fallback?: boolean;
  search(ctx: DcmdContext, w: WhatisState): void;
}

/* getopts */
export type OptKind = 'bool' | 'string' | 'uint' | 'u64' | 'count';
export type OptSpec = Readonly<Record<string, OptKind>>;
export type OptValue<K extends OptKind> = K extends 'bool'
  ? boolean
  : K extends 'string'
    ? string | undefined
    : K extends 'uint'
      ? number | undefined
      : K extends 'u64'
        ? bigint | undefined
        : number;
export type OptValues<S extends OptSpec> = { [P in keyof S]: OptValue<S[P]> };

/** A value printf accepts. */
export type PrintfArg = number | bigint | string | boolean;

export interface DcmdContext {
  readonly target: Target;
  readonly model: DataModel;
  readonly types: TypeTable;
  /** Pointer size in bytes of the target (8 when there is no target). */
  readonly ptrSize: 4 | 8;
  /** Hex digits of a pointer: 16 or 8 (mdb's `?` width). */
  readonly ptrWidth: 16 | 8;
  /** The repeat count of the current command (`addr,count::dcmd`), 1 by default. */
  readonly count: number;
  /** The current dot. */
  readonly dot: number;

  /** Write text to the dcmd's output (stdout or the pipe). */
  out(s: string): void;
  /**
   * mdb_printf: %d %i %u %x %X %o %c %s %p %a %A %r %R %b %%, flags - 0 # +,
   * widths (digits, *, ?), lengths h hh l ll; %<u> %</u> %<b> %</b> are
   * accepted (ignored on non-terminals).  `%?p` is a pointer-wide field,
   * `%0?p` zero padded, `%a` symbolic (sym+off or hex), `%#lr` 0x-prefixed
   * in the current radix.
   */
  printf(fmt: string, ...args: PrintfArg[]): void;
  /** Format like printf and return the string. */
  sprintf(fmt: string, ...args: PrintfArg[]): string;
  /** `mdb: <msg>` on stderr (a newline is added if msg has none). */
  warn(msg: string): void;
  /** Emit an address for the next pipeline stage (or `%#lr\n` to output). */
  pipeOut(addr: number): void;

  /** mdb_getopts: returns the options and remaining arguments, or undefined on a bad option. */
  getopts<S extends OptSpec>(argv: readonly string[], spec: S): { opts: OptValues<S>; rest: string[] } | undefined;
  /** Parse a number the way mdb does (current radix, 0x/0t/0o/0i, symbols and expressions allowed). */
  parseValue(s: string): number;
  /**
   * Parse a count or length (as parseValue) that the dcmd will loop over or
   * allocate for; a value above the session's repeat-count cap is refused
   * with a DcmdError naming `what`.
   */
  parseCount(s: string, what: string): number;

  /** `sym+0xoff` or the address in hex (mdb's %a). */
  symbolize(addr: number): string;
  symbolByName(name: string): TargetSymbol | undefined;
  /** Zero-padded pointer-width hex (`%0?p`). */
  hexPtr(addr: number): string;
  /** Unpadded hex (`%p`). */
  hex(addr: number): string;

  /** Run another dcmd; its output goes where this dcmd's goes. */
  callDcmd(name: string, addr: number | undefined, argv?: readonly string[], flags?: number): DcmdResult;
  /**
   * Run a walker, calling cb for each address.  Returns false if the walk
   * failed (an error has been printed).  cb may return WALK_DONE to stop.
   */
  walk(name: string, addr: number | undefined, cb: (addr: number) => WalkResult | void): boolean;
  /** The addresses of a walk as an array (null on failure). */
  walkAll(name: string, addr?: number): number[] | null;
  /** Is there a walker by that name? */
  hasWalker(name: string): boolean;

  /** Read a NUL-terminated string of at most max bytes (stops at unmapped memory). */
  readString(addr: number, max?: number): string;
  /** Read a member of a struct given a type name and member path (integers/pointers), as a number. */
  readMember(addr: number, type: string, member: string): number;
  /** True once the user interrupted (Ctrl-C); long loops should stop. */
  interrupted(): boolean;
  /**
   * Count bytes of target memory a scan is about to read against the
   * command line's work bound; past the bound the command is stopped (the
   * call does not return).  Scans whose cost grows with memory size
   * (::kgrep, ::ugrep) charge each window.
   */
  chargeWork(bytes: number): void;
  /**
   * mdb_get_pipe: in a pipeline, all the input addresses (this call's and the
   * remaining ones); the dcmd is then not called again for them.  Outside a
   * pipeline, [] .
   */
  getPipe(): number[];
}

const registry = new Map<string, MdbModule>();

/** Register a module (idempotent by name: a later registration replaces an earlier one). */
export function registerModule(m: MdbModule): void {
  registry.set(m.name, m);
}

/** All registered modules, in registration order. */
export function registeredModules(): MdbModule[] {
  return [...registry.values()];
}
