/*
 * Callouts in genunix: the `callout_table`, `callout_list`,
 * `callouts_bytime` and `callouts_byid` walkers and the ::callout and
 * ::calloutid dcmds, in the formats and with the options of illumos'
 * genunix module (genunix.c).
 *
 * Everything comes from the target through its symbols and C types:
 * `callout_table` (the array of CALLOUT_NTYPES tables per CPU, sized by
 * `max_ncpus`), `callout_table_bits` (to decode IDs), `nsec_per_tick`
 * (for -k) and `hrtime_last` (now, for -d and -D).  A table is walked
 * through its list hash (callout lists, then each list's callouts, by
 * c_clnext), or with -i through its ID hash (callouts by c_idnext); -F
 * walks the free lists instead.  Loops are bounded.
 */

import { DCMD_ADDRSPEC, DCMD_ERR, DCMD_HDRSPEC, DCMD_OK, DCMD_USAGE, WALK_DONE, WALK_NEXT, WalkError, type DcmdContext, type DcmdDef, type DcmdResult, type WalkResult, type WalkerDef } from '../module.js';
import {
  CALLOUT_BUCKETS,
  CALLOUT_EXECUTING_HI,
  CALLOUT_ID_FREE_HI,
  CALLOUT_LIST_FLAG_ABSOLUTE,
  CALLOUT_LIST_FLAG_FREE,
  CALLOUT_LIST_FLAG_HEAPED,
  CALLOUT_LIST_FLAG_HRESTIME,
  CALLOUT_LIST_FLAG_QUEUED,
  CALLOUT_LONGTERM,
  CALLOUT_NTYPES,
  CALLOUT_REALTIME,
  CALLOUT_NORMAL,
  CALLOUT_TIMEOUTS_PENDING,
  CALLOUT_ALLOCATIONS,
  CALLOUT_TYPE_BITS,
  CALLOUT_TYPE_MASK,
  calloutIdhash,
} from '../../abi/callout.js';

/** Most entries a callout or list chain is followed for before it is called corrupt. */
const CHAIN_LIMIT = 1 << 20;

/* ::callout's options and state (illumos' COF_* flags) */
const COF_REAL = 0x1;
const COF_NORM = 0x2;
const COF_LONG = 0x4;
const COF_SHORT = 0x8;
const COF_EMPTY = 0x10;
const COF_TIME = 0x20;
const COF_BEFORE = 0x40;
const COF_AFTER = 0x80;
const COF_SEQID = 0x100;
const COF_FUNC = 0x200;
const COF_ADDR = 0x400;
const COF_EXEC = 0x800;
const COF_HIRES = 0x1000;
const COF_ABS = 0x2000;
const COF_TABLE = 0x4000;
const COF_BYIDH = 0x8000;
const COF_FREE = 0x10000;
const COF_LIST = 0x20000;
const COF_EXPREL = 0x40000;
const COF_VERBOSE = 0x100000;
const COF_LONGLIST = 0x200000;
const COF_THDR = 0x400000;
const COF_LHDR = 0x800000;
const COF_CHDR = 0x1000000;
const COF_PARAM = 0x2000000;
const COF_DECODE = 0x4000000;
const COF_HEAP = 0x8000000;
const COF_QUEUE = 0x10000000;
const COF_DEFAULT = COF_REAL | COF_NORM | COF_LONG | COF_SHORT;
const COF_LIST_FLAGS = CALLOUT_LIST_FLAG_HRESTIME | CALLOUT_LIST_FLAG_ABSOLUTE;

const TYPE_NAMES = ['R', 'N'];

/** What ::callout and ::calloutid read from the kernel's variables (callout_common_init). */
interface CalloutGlobals {
  /** The table array. */
  table0: number;
  now: bigint;
  ctbits: number;
  nsecPerTick: number;
}

/** The state the walk callbacks share (illumos' callout_data_t). */
interface CalloutWalk extends CalloutGlobals {
  ctx: DcmdContext;
  flags: number;
  seqid: number;
  time: bigint;
  atime: bigint;
  btime: bigint;
  funcaddr: number;
  param: number;
  /** Table index being walked. */
  ndx: number;
  /** Hash bucket being walked (-1: the expired list or the queue). */
  bucket: number;
  /** Expiration and flags of the current callout list. */
  exp: bigint;
  listFlags: number;
  /** Columns of indentation (-V) and whether the output is at a line start. */
  indent: number;
  bol: boolean;
}

/* ------------------------------------------------------------ reading */

function m(ctx: DcmdContext, a: number, type: string, member: string): number {
  return ctx.readMember(a, type, member);
}

function off(ctx: DcmdContext, type: string, member: string): number {
  return ctx.types.offsetof(type, member);
}

/** A 64-bit member as a bigint. */
function m64(ctx: DcmdContext, a: number, type: string, member: string): bigint {
  return ctx.target.load64(a + off(ctx, type, member));
}

/** c_xid's two words: the ID (low) and the generation and flags (high). */
function xidOf(ctx: DcmdContext, cp: number): { lo: number; hi: number } {
  const a = cp + off(ctx, 'callout_t', 'c_xid');
  return { lo: ctx.target.load32(a), hi: ctx.target.load32(a + 4) };
}

function readVar(ctx: DcmdContext, name: string, size: 4 | 'ptr' | 8): number | bigint | undefined {
  const s = ctx.symbolByName(name);
  if (!s) return undefined;
  if (size === 4) return ctx.target.load32(s.value);
  if (size === 8) return ctx.target.load64(s.value);
  return ctx.target.loadPtr(s.value);
}

/** callout_common_init: the table array, now, the table bits and the tick length; undefined (warned) if missing. */
function commonInit(ctx: DcmdContext): CalloutGlobals | undefined {
  const table0 = readVar(ctx, 'callout_table', 'ptr');
  if (table0 === undefined || ctx.types.find('callout_table_t') === undefined) {
    ctx.warn("failed to read 'callout_table'");
    return undefined;
  }
  const now = readVar(ctx, 'hrtime_last', 8) ?? readVar(ctx, 'hrtime_base', 8);
  if (now === undefined) {
    ctx.warn('Could not determine current system time');
    return undefined;
  }
  const ctbits = readVar(ctx, 'callout_table_bits', 4);
  if (ctbits === undefined) {
    ctx.warn("failed to read 'callout_table_bits'");
    return undefined;
  }
  const nsecPerTick = readVar(ctx, 'nsec_per_tick', 4);
  if (nsecPerTick === undefined) {
    ctx.warn("failed to read 'nsec_per_tick'");
    return undefined;
  }
  return { table0: Number(table0), now: BigInt.asIntN(64, BigInt(now)), ctbits: Number(ctbits), nsecPerTick: Number(nsecPerTick) };
}

/* ------------------------------------------------------------ walkers */

/** The tables: all of them (CALLOUT_NTYPES per max_ncpus) from callout_table, or the one at addr. */
function* calloutTableWalk(ctx: DcmdContext, addr: number | undefined): Generator<number> {
  if (addr !== undefined) {
    yield addr;
    return;
  }
  const t0 = readVar(ctx, 'callout_table', 'ptr');
  if (t0 === undefined) throw new WalkError("failed to read 'callout_table'");
  const maxNcpus = readVar(ctx, 'max_ncpus', 4);
  if (maxNcpus === undefined) throw new WalkError('failed to get callout_table array size');
  const size = ctx.types.size('callout_table_t');
  for (let i = 0; i < CALLOUT_NTYPES * Number(maxNcpus); i++) yield Number(t0) + i * size;
}

/** A chain of structures from addr by the pointer member `next` of `type`. */
function* chainWalk(ctx: DcmdContext, addr: number, type: string, next: string): Generator<number> {
  for (let a = addr, n = 0; a !== 0; a = m(ctx, a, type, next)) {
    if (++n > CHAIN_LIMIT) throw new WalkError(`${type} chain at ${ctx.hex(addr)} does not end`);
    yield a;
  }
}

function localOnly(what: string, addr: number | undefined): number {
  if (addr === undefined || addr === 0) throw new WalkError(`${what} doesn't support global walk`);
  return addr;
}

export function calloutWalkers(): WalkerDef[] {
  return [
    { name: 'callout_table', description: 'walk callout table array', walk: calloutTableWalk },
    { name: 'callout_list', description: 'walk a callout list', walk: (ctx, addr) => chainWalk(ctx, localOnly('callout list', addr), 'callout_list_t', 'cl_next') },
    { name: 'callouts_bytime', description: 'walk callouts by list chain (expiration time)', walk: (ctx, addr) => chainWalk(ctx, localOnly('callout', addr), 'callout_t', 'c_clnext') },
    { name: 'callouts_byid', description: 'walk callouts by id hash chain', walk: (ctx, addr) => chainWalk(ctx, localOnly('callout', addr), 'callout_t', 'c_idnext') },
  ];
}

/* ------------------------------------------------------------ printing */

/** Print with the walk's indentation at every line start (mdb_inc_indent). */
function put(w: CalloutWalk, fmt: string, ...args: (number | bigint | string)[]): void {
  const s = w.ctx.sprintf(fmt, ...args);
  if (w.indent === 0) {
    w.ctx.out(s);
    return;
  }
  const pad = ' '.repeat(w.indent);
  let out = '';
  for (const ch of s) {
    if (w.bol && ch !== '\n') out += pad;
    out += ch;
    w.bol = ch === '\n';
  }
  w.ctx.out(out);
}

function expShown(w: CalloutWalk): bigint {
  return w.flags & COF_EXPREL ? w.exp - w.now : w.exp;
}

/** Does the time filter (-t, -a, -b) reject an expiration? */
function timeRejects(w: CalloutWalk, exp: bigint): boolean {
  return (w.flags & COF_TIME && exp !== w.time) || (w.flags & COF_BEFORE && exp > w.btime) || (w.flags & COF_AFTER && exp < w.atime) ? true : false;
}

/** Do the list-flag filters (-h, -B, -H, -Q) reject a list's flags? */
function listFlagsReject(w: CalloutWalk, lf: number): boolean {
  if (w.flags & COF_HIRES && w.flags & COF_ABS) {
    if (!(lf & COF_LIST_FLAGS)) return true;
  } else {
    if (w.flags & COF_HIRES && !(lf & CALLOUT_LIST_FLAG_HRESTIME)) return true;
    if (w.flags & COF_ABS && !(lf & CALLOUT_LIST_FLAG_ABSOLUTE)) return true;
  }
  if (w.flags & COF_HEAP && !(lf & CALLOUT_LIST_FLAG_HEAPED)) return true;
  return (w.flags & COF_QUEUE) !== 0 && !(lf & CALLOUT_LIST_FLAG_QUEUED);
}

/** One callout (callouts_cb). */
function calloutCb(w: CalloutWalk, addr: number): WalkResult {
  const ctx = w.ctx;
  const xid = xidOf(ctx, addr);
  const free = (xid.hi & CALLOUT_ID_FREE_HI) !== 0;
  // the other kind than asked for: reallocated or freed, the chain ends
  if ((w.flags & COF_FREE) !== 0 !== free) return WALK_DONE;
  const func = m(ctx, addr, 'callout_t', 'c_func');
  const arg = m(ctx, addr, 'callout_t', 'c_arg');
  if (w.flags & COF_FUNC && w.funcaddr !== func) return WALK_NEXT;
  if (w.flags & COF_PARAM && w.param !== arg) return WALK_NEXT;
  const long = (xid.lo & CALLOUT_LONGTERM) !== 0;
  if (!(w.flags & COF_LONG) && long) return WALK_NEXT;
  if (!(w.flags & COF_SHORT) && !long) return WALK_NEXT;
  const executing = (xid.hi & CALLOUT_EXECUTING_HI) !== 0;
  if (w.flags & COF_EXEC && !executing) return WALK_NEXT;
  if (w.flags & COF_BYIDH) {
    // by ID the list was not seen: its expiration and flags come from c_list
    const cl = m(ctx, addr, 'callout_t', 'c_list');
    w.exp = 0n;
    w.listFlags = 0;
    if (!free && cl !== 0) {
      w.exp = m64(ctx, cl, 'callout_list_t', 'cl_expiration');
      w.listFlags = m(ctx, cl, 'callout_list_t', 'cl_flags');
    }
    if (w.exp !== 0n && timeRejects(w, w.exp)) return WALK_NEXT;
    if (listFlagsReject(w, w.listFlags)) return WALK_NEXT;
  }
  const tableid = xid.lo & ((1 << w.ctbits) - 1);
  const coid = (BigInt(xid.hi & ~(CALLOUT_ID_FREE_HI | CALLOUT_EXECUTING_HI)) << 32n) | BigInt(xid.lo);
  if (w.flags & COF_CHDR && !(w.flags & COF_ADDR)) {
    if (!(w.flags & COF_VERBOSE)) put(w, '%<u>%3s %-1s %-14s %</u>', 'SEQ', 'T', 'EXP');
    else if (w.flags & COF_BYIDH) put(w, '%<u>%-14s %</u>', 'EXP');
    put(w, '%<u>%-4s %-?s %-20s%</u>', 'XHAL', 'XID', 'FUNC(ARG)');
    if (w.flags & COF_LONGLIST) {
      put(w, '%<u> %-?s %-?s %-?s %-?s%</u>', 'PREVID', 'NEXTID', 'PREVL', 'NEXTL');
      put(w, '%<u> %-?s %-4s %-?s%</u>', 'DONE', 'UTOS', 'THREAD');
    }
    put(w, '\n');
    w.flags = (w.flags & ~COF_CHDR) | COF_THDR | COF_LHDR;
  }
  if (w.flags & COF_ADDR) {
    put(w, '%-0p\n', addr);
    return WALK_NEXT;
  }
  if (!(w.flags & COF_VERBOSE)) put(w, '%-3d %1s %-14llx ', tableid >> CALLOUT_TYPE_BITS, TYPE_NAMES[tableid & CALLOUT_TYPE_MASK]!, expShown(w));
  else if (w.flags & COF_BYIDH) put(w, '%-14llx ', expShown(w));
  const lf = w.listFlags;
  put(
    w,
    '%1s%1s%1s%1s %-?llx %a(%p)',
    executing ? 'X' : ' ',
    lf & CALLOUT_LIST_FLAG_HRESTIME ? 'H' : ' ',
    lf & CALLOUT_LIST_FLAG_ABSOLUTE ? 'A' : ' ',
    long ? 'L' : ' ',
    coid,
    func,
    arg,
  );
  if (w.flags & COF_LONGLIST) {
    const link = (name: string) => m(ctx, addr, 'callout_t', name);
    put(w, ' %-?p %-?p %-?p %-?p', link('c_idprev'), link('c_idnext'), link('c_clprev'), link('c_clnext'));
    put(w, ' %-?p %-4d %-0?p', m(ctx, addr, 'callout_t', 'c_done'), m(ctx, addr, 'callout_t', 'c_waiting'), m(ctx, addr, 'callout_t', 'c_executor'));
  }
  put(w, '\n');
  return WALK_NEXT;
}

/** One callout list (callout_list_cb): the list itself with -L or -V, then its callouts. */
function listCb(w: CalloutWalk, addr: number): WalkResult {
  const ctx = w.ctx;
  w.exp = m64(ctx, addr, 'callout_list_t', 'cl_expiration');
  w.listFlags = m(ctx, addr, 'callout_list_t', 'cl_flags');
  const free = (w.listFlags & CALLOUT_LIST_FLAG_FREE) !== 0;
  if ((w.flags & COF_FREE) !== 0 !== free) return WALK_DONE;
  if (timeRejects(w, w.exp)) return WALK_NEXT;
  const head = m(ctx, addr, 'callout_list_t', 'cl_callouts.ch_head');
  if (!(w.flags & COF_EMPTY) && head === 0) return WALK_NEXT;
  if (listFlagsReject(w, w.listFlags)) return WALK_NEXT;
  if (w.flags & COF_LHDR && !(w.flags & COF_ADDR) && w.flags & (COF_LIST | COF_VERBOSE)) {
    if (!(w.flags & COF_VERBOSE)) put(w, '%<u>SEQ T %</u>');
    put(w, '%<u>EXP            HA BUCKET CALLOUTS         %</u>');
    if (w.flags & COF_LONGLIST) put(w, '%<u> %-?s %-?s%</u>', 'PREV', 'NEXT');
    put(w, '\n');
    w.flags = (w.flags & ~COF_LHDR) | COF_THDR | COF_CHDR;
  }
  if (w.flags & (COF_LIST | COF_VERBOSE)) {
    if (w.flags & COF_ADDR) {
      put(w, '%-0p', addr);
    } else {
      if (!(w.flags & COF_VERBOSE)) put(w, '%3d %1s ', w.ndx >> CALLOUT_TYPE_BITS, TYPE_NAMES[w.ndx & CALLOUT_TYPE_MASK]!);
      const lf = w.listFlags;
      put(w, '%-14llx %1s%1s %-6d %-0?p ', expShown(w), lf & CALLOUT_LIST_FLAG_HRESTIME ? 'H' : ' ', lf & CALLOUT_LIST_FLAG_ABSOLUTE ? 'A' : ' ', w.bucket, head);
      if (w.flags & COF_LONGLIST) put(w, ' %-?p %-?p', m(ctx, addr, 'callout_list_t', 'cl_prev'), m(ctx, addr, 'callout_list_t', 'cl_next'));
    }
    put(w, '\n');
    if (w.flags & COF_LIST) return WALK_NEXT;
  }
  // free lists have no valid callouts
  if (head === 0 || w.flags & COF_FREE) return WALK_NEXT;
  nested(w, () => walkWith(w, 'callouts_bytime', head, calloutCb));
  return WALK_NEXT;
}

/** Run body with the indentation one level deeper under -V. */
function nested(w: CalloutWalk, body: () => void): void {
  const d = w.flags & COF_VERBOSE ? 4 : 0;
  w.indent += d;
  try {
    body();
  } finally {
    w.indent -= d;
  }
}

/** Walk `walker` from addr, calling cb; a failed walk says so. */
function walkWith(w: CalloutWalk, walker: string, addr: number, cb: (w: CalloutWalk, a: number) => WalkResult): void {
  if (!w.ctx.walk(walker, addr, (a) => cb(w, a))) w.ctx.warn(`cannot walk ${walker === 'callout_list' ? 'callout_list' : 'callouts'} at ${w.ctx.hex(addr)}`);
}

/** The head of callout_hash_t bucket i of the hash array at h. */
function bucketHead(ctx: DcmdContext, h: number, i: number): number {
  return ctx.target.loadPtr(h + i * ctx.types.size('callout_hash_t'));
}

/** One table (callout_t_cb): the table with -T or -V, then its lists or callouts. */
function tableCb(w: CalloutWalk, addr: number): WalkResult {
  const ctx = w.ctx;
  const ct = (name: string) => m(ctx, addr, 'callout_table_t', name);
  const index = Math.floor((addr - w.table0) / ctx.types.size('callout_table_t'));
  const cotype = index & CALLOUT_TYPE_MASK;
  const seqid = index >> CALLOUT_TYPE_BITS;
  if (w.flags & COF_SEQID && w.seqid !== seqid) return WALK_NEXT;
  if (!(w.flags & COF_REAL) && cotype === CALLOUT_REALTIME) return WALK_NEXT;
  if (!(w.flags & COF_NORM) && cotype === CALLOUT_NORMAL) return WALK_NEXT;
  if (!(w.flags & COF_EMPTY) && (ct('ct_heap') === 0 || ct('ct_cyclic') === 0)) return WALK_NEXT;
  if (w.flags & COF_THDR && !(w.flags & COF_ADDR) && w.flags & (COF_TABLE | COF_VERBOSE)) {
    put(w, '%<u>%-3s %-1s %-?s %-?s %-?s %-?s%</u>', 'SEQ', 'T', 'FREE', 'LFREE', 'CYCLIC', 'HEAP');
    w.flags = (w.flags & ~COF_THDR) | COF_LHDR | COF_CHDR;
    if (w.flags & COF_LONGLIST) put(w, '%<u> %-T%-7s %-7s %-?s %-?s %-?s %-?s %-?s %-?s%</u>', 'HEAPNUM', 'HEAPMAX', 'TASKQ', 'EXPQ', 'QUE', 'PEND', 'FREE', 'LOCK');
    put(w, '\n');
  }
  if (w.flags & (COF_TABLE | COF_VERBOSE)) {
    if (w.flags & COF_ADDR) {
      put(w, '%-0?p', addr);
    } else {
      put(w, '%-3d %-1s %-0?p %-0?p %-0?p %-?p', seqid, TYPE_NAMES[cotype]!, ct('ct_free'), ct('ct_lfree'), ct('ct_cyclic'), ct('ct_heap'));
      if (w.flags & COF_LONGLIST) {
        const ks = ct('ct_kstat_data');
        const stat = (s: number) => (ks === 0 ? 0n : ctx.target.load64(ks + s * ctx.types.size('kstat_named_t') + off(ctx, 'kstat_named_t', 'value')));
        const pending = stat(CALLOUT_TIMEOUTS_PENDING);
        put(
          w,
          ' %-7d %-7d %-?p %-?p %-?p %-?lld %-?lld %-?p',
          ct('ct_heap_num'),
          ct('ct_heap_max'),
          ct('ct_taskq'),
          ct('ct_expired.ch_head'),
          ct('ct_queue.ch_head'),
          pending,
          stat(CALLOUT_ALLOCATIONS) - pending,
          ctx.target.loadPtr(addr + off(ctx, 'callout_table_t', 'ct_mutex')),
        );
      }
    }
    put(w, '\n');
    if (w.flags & COF_TABLE) return WALK_NEXT;
  }
  w.ndx = index;
  nested(w, () => walkTable(w, addr));
  return WALK_NEXT;
}

/** A table's lists (by the list hash, after the expired list and the queue) or, with -i, its callouts by ID. */
function walkTable(w: CalloutWalk, addr: number): void {
  const ctx = w.ctx;
  const ct = (name: string) => m(ctx, addr, 'callout_table_t', name);
  const byId = (w.flags & COF_BYIDH) !== 0;
  if (w.flags & COF_FREE) {
    const head = ct(byId ? 'ct_free' : 'ct_lfree');
    w.bucket = 0;
    if (head !== 0) walkWith(w, byId ? 'callouts_byid' : 'callout_list', head, byId ? calloutCb : listCb);
    return;
  }
  if (!byId) {
    for (const q of ['ct_expired.ch_head', 'ct_queue.ch_head']) {
      const head = ct(q);
      w.bucket = -1;
      if (head !== 0) walkWith(w, 'callout_list', head, listCb);
    }
  }
  const hash = ct(byId ? 'ct_idhash' : 'ct_clhash');
  if (hash === 0) return;
  for (let i = 0; i < CALLOUT_BUCKETS; i++) {
    const head = bucketHead(ctx, hash, i);
    if (head === 0) continue;
    w.bucket = i;
    walkWith(w, byId ? 'callouts_byid' : 'callout_list', head, byId ? calloutCb : listCb);
  }
}

/* ------------------------------------------------------------ dcmds */

/** A function or parameter given by name or number (-f, -p). */
function symbolOrValue(ctx: DcmdContext, s: string): number {
  return ctx.symbolByName(s)?.value ?? ctx.parseValue(s);
}

function newWalk(ctx: DcmdContext, g: CalloutGlobals, flags: number): CalloutWalk {
  return { ...g, ctx, flags, seqid: -1, time: 0n, atime: 0n, btime: 0n, funcaddr: 0, param: 0, ndx: 0, bucket: 0, exp: 0n, listFlags: 0, indent: 0, bol: true };
}

const CALLOUT_OPTS = {
  r: 'bool',
  n: 'bool',
  l: 'bool',
  s: 'bool',
  x: 'bool',
  h: 'bool',
  B: 'bool',
  E: 'bool',
  d: 'bool',
  C: 'uint',
  S: 'uint',
  t: 'u64',
  a: 'u64',
  b: 'u64',
  k: 'bool',
  f: 'string',
  p: 'string',
  T: 'bool',
  D: 'bool',
  L: 'bool',
  V: 'bool',
  v: 'bool',
  i: 'bool',
  F: 'bool',
  H: 'bool',
  Q: 'bool',
  A: 'bool',
} as const;

/** The COF_* bits of ::callout's switches. */
function optionFlags(o: { [K in keyof typeof CALLOUT_OPTS]: unknown }): number {
  let f = COF_DEFAULT;
  if (o.r) f &= ~COF_NORM;
  if (o.n) f &= ~COF_REAL;
  if (o.l) f &= ~COF_SHORT;
  if (o.s) f &= ~COF_LONG;
  const sets: Array<[unknown, number]> = [
    [o.x, COF_EXEC],
    [o.h, COF_HIRES],
    [o.B, COF_ABS],
    [o.E, COF_EMPTY],
    [o.T, COF_TABLE],
    [o.D, COF_EXPREL],
    [o.L, COF_LIST],
    [o.V, COF_VERBOSE],
    [o.v, COF_LONGLIST],
    [o.i, COF_BYIDH],
    [o.F, COF_FREE],
    [o.H, COF_HEAP],
    [o.Q, COF_QUEUE],
    [o.A, COF_ADDR],
  ];
  for (const [on, bit] of sets) if (on) f |= bit;
  // avoid null output
  if (!(f & (COF_REAL | COF_NORM))) f |= COF_REAL | COF_NORM;
  if (!(f & (COF_LONG | COF_SHORT))) f |= COF_LONG | COF_SHORT;
  return f;
}

function calloutDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, CALLOUT_OPTS);
  if (!g || g.rest.length > 0) return DCMD_USAGE;
  const o = g.opts;
  const globals = commonInit(ctx);
  if (!globals) return DCMD_ERR;
  const w = newWalk(ctx, globals, optionFlags(o));
  const scale = (v: bigint | undefined) => {
    let x = v ?? 0n;
    if (o.k) x *= BigInt(w.nsecPerTick);
    if (o.d) x += w.now;
    return x;
  };
  w.time = scale(o.t);
  w.atime = scale(o.a);
  w.btime = scale(o.b);
  const addrspec = (flags & DCMD_ADDRSPEC) !== 0;
  if (o.S !== undefined) {
    if (addrspec) return usage(ctx, '-S option conflicts with explicit address');
    w.flags |= COF_SEQID;
    w.seqid = o.S;
  }
  if (o.C !== undefined) {
    if (addrspec) return usage(ctx, '-C option conflicts with explicit address');
    if (w.flags & COF_SEQID) return usage(ctx, '-C and -S are mutually exclusive');
    try {
      w.seqid = ctx.target.load32(o.C + off(ctx, 'struct cpu', 'cpu_seqid')) | 0;
    } catch {
      ctx.warn(`failed to read cpu_t at ${ctx.hex(o.C)}`);
      return DCMD_ERR;
    }
    w.flags |= COF_SEQID;
  }
  if (o.t !== undefined) {
    if (o.a !== undefined || o.b !== undefined) return usage(ctx, '-t and -a|b are mutually exclusive');
    w.flags |= COF_TIME;
  }
  if (o.a !== undefined) w.flags |= COF_AFTER;
  if (o.b !== undefined) w.flags |= COF_BEFORE;
  if (o.a !== undefined && o.b !== undefined && w.btime <= w.atime) return usage(ctx, 'value for -a must be earlier than the value for -b.');
  if (w.flags & COF_HEAP && w.flags & COF_QUEUE) return usage(ctx, '-H and -Q are mutually exclusive');
  if (o.f !== undefined) {
    w.funcaddr = symbolOrValue(ctx, o.f);
    w.flags |= COF_FUNC;
  }
  if (o.p !== undefined) {
    w.param = symbolOrValue(ctx, o.p);
    w.flags |= COF_PARAM;
  }
  // a table given: -r and -n do not apply
  if (addrspec) w.flags |= COF_REAL | COF_NORM;
  if (DCMD_HDRSPEC(flags) || w.flags & COF_VERBOSE) w.flags |= COF_THDR | COF_LHDR | COF_CHDR;
  if (w.flags & COF_FREE) {
    w.flags |= COF_EMPTY;
    // -F: free callouts (by ID); -FL: free lists
    if (!(w.flags & COF_LIST)) w.flags |= COF_BYIDH;
  }
  if (!ctx.walk('callout_table', addrspec ? addr : undefined, (a) => tableCb(w, a))) {
    ctx.warn('cannot walk callout_table');
    return DCMD_ERR;
  }
  return DCMD_OK;
}

/** illumos prints these usage complaints with mdb_printf, then returns DCMD_USAGE. */
function usage(ctx: DcmdContext, msg: string): DcmdResult {
  ctx.out(msg + '\n');
  return DCMD_USAGE;
}

function calloutidDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { d: 'bool', v: 'bool' });
  if (!g || g.rest.length !== 1) return DCMD_USAGE;
  const xid = BigInt.asUintN(64, BigInt(ctx.parseValue(g.rest[0]!)));
  const globals = commonInit(ctx);
  if (!globals) return DCMD_ERR;
  const w = newWalk(ctx, globals, COF_DEFAULT | COF_BYIDH | (g.opts.d ? COF_DECODE : 0) | (g.opts.v ? COF_LONGLIST : 0));
  if (DCMD_HDRSPEC(flags)) w.flags |= COF_CHDR;
  const lo = Number(xid & 0xffffffffn);
  const hi = Number(xid >> 32n);
  const tableid = lo & ((1 << w.ctbits) - 1);
  const idhash = calloutIdhash(lo, w.ctbits);
  if (flags & DCMD_ADDRSPEC) return usage(ctx, 'calloutid does not accept explicit address.');
  if (w.flags & COF_DECODE) {
    if (DCMD_HDRSPEC(flags)) ctx.printf('%<u>%3s %1s %2s %-?s %-6s %</u>\n', 'SEQ', 'T', 'XL', 'XID', 'IDHASH');
    const coid = (BigInt(hi & ~(CALLOUT_ID_FREE_HI | CALLOUT_EXECUTING_HI)) << 32n) | BigInt(lo);
    ctx.printf(
      '%-3d %1s %1s%1s %-?llx %-6d\n',
      tableid >> CALLOUT_TYPE_BITS,
      TYPE_NAMES[tableid & CALLOUT_TYPE_MASK]!,
      hi & CALLOUT_EXECUTING_HI ? 'X' : ' ',
      lo & CALLOUT_LONGTERM ? 'L' : ' ',
      coid,
      idhash,
    );
    return DCMD_OK;
  }
  const ct = w.table0 + tableid * ctx.types.size('callout_table_t');
  const hash = m(ctx, ct, 'callout_table_t', 'ct_idhash');
  const head = hash === 0 ? 0 : bucketHead(ctx, hash, idhash);
  if (head === 0) {
    ctx.out('id hash chain for this xid is empty\n');
    return DCMD_ERR;
  }
  w.ndx = tableid;
  w.bucket = idhash;
  walkWith(w, 'callouts_byid', head, calloutCb);
  return DCMD_OK;
}

export function calloutDcmds(): DcmdDef[] {
  return [
    {
      name: 'callout',
      usage: '?[-r|n] [-s|l] [-xhBEdkTDLVviFHQA] [-t|a|b nsec [-d]] [-C addr | -S seqid] [-f name|addr] [-p name|addr]',
      description: 'display callouts',
      help: `Given a callout table address, display callouts from table.
Without an address, display callouts from all tables.
options:
 -r|n : limit display to (r)ealtime or (n)ormal type callouts
 -s|l : limit display to (s)hort-term ids or (l)ong-term ids
 -x : limit display to callouts which are executing
 -h : limit display to callouts based on hrestime
 -B : limit display to callouts based on absolute time
 -t|a|b nsec: limit display to callouts that expire a(t) time, (a)fter time,
     or (b)efore time. Use -a and -b together to specify a range.
     For "now", use -d[t|a|b] 0.
 -d : interpret time option to -t|a|b as delta from current time
 -k : use ticks instead of nanoseconds as arguments to -t|a|b. Note that
     ticks are less accurate and may not match other tick times (ie: lbolt).
 -D : display expiration time as delta from current time
 -S seqid : limit display to callouts for this cpu sequence id
 -C addr :  limit display to callouts for this cpu pointer
 -f name|addr : limit display to callouts with this function
 -p name|addr : limit display to callouts functions with this parameter
 -T : display the callout table itself, instead of callouts
 -L : display callout lists instead of callouts
 -E : with -T or L, display empty data structures.
 -i : traverse callouts by id hash instead of list hash
 -F : walk free callout list (free list with -i) instead
 -v : display more info for each item
 -V : show details of each level of info as it is traversed
 -H : limit display to callouts in the callout heap
 -Q : limit display to callouts in the callout queue
 -A : show only addresses. Useful for pipelines.`,
      checksAddrspec: true,
      fn: calloutDcmd,
    },
    {
      name: 'calloutid',
      usage: '[-dv] xid',
      description: 'print callout by extended id',
      help: `Given an extended callout id, display the callout information
(the callouts on the ID hash chain that holds it).
options:
 -d : do not dereference callout, just decode the id.
 -v : verbose display more info about the callout`,
      fn: calloutidDcmd,
    },
  ];
}
