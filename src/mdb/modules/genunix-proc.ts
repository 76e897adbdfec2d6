/*
 * Processes and threads in genunix: the `proc` and `thread` walkers and
 * ::ps, ::pgrep, ::ptree, ::thread, ::stacks and ::panicinfo, in the
 * formats of illumos' genunix (genunix.c, thread.c, findstack.c) and unix
 * (::panicinfo) modules.
 *
 * Everything comes from the target's memory through its C types: the
 * `practive`/`p0` process tree (p_parent, p_child, p_sibling), each
 * process's circular thread list (p_tlist, t_forw), `allthreads` (t_next),
 * the thread's state, wait channel and synchronization-object type
 * (t_sobj_ops -> sobj_type), the panic globals.  Stacks are the frame
 * chains the core's threadStack() follows.  Loops are bounded (a cycle or
 * a corrupt pointer ends the walk with a message).
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_HDRSPEC,
  DCMD_OK,
  DCMD_PIPE,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type WalkerDef,
} from '../module.js';
import { threadStack } from './core.js';
import type { TargetThread } from '../../target/target.js';
import { toU64 } from '../../machine/addr.js';
import { SOBJ_CV, SOBJ_MUTEX, SOBJ_NONE, SOBJ_RWLOCK, SOBJ_SEMA, SOBJ_SHUTTLE, SOBJ_USER, SOBJ_USER_PI, SIDL, SONPROC, SRUN, SSLEEP, SSTOP, SWAIT, SZOMB, TS_FREE, TS_ONPROC, TS_RUN, TS_SLEEP, TS_STOPPED, TS_WAIT, TS_ZOMB } from '../../abi/kernel-core.js';

/** Most processes or threads a walk follows before it calls the list corrupt. */
const WALK_LIMIT = 1 << 20;

/* ------------------------------------------------------------ reading */

function member(ctx: DcmdContext, a: number, type: string, m: string): number {
  return ctx.readMember(a, type, m);
}

function off(ctx: DcmdContext, type: string, m: string): number {
  return ctx.types.offsetof(type, m);
}

/** Does the target's kernel have processes (proc_t and p0)? */
function hasProcs(ctx: DcmdContext): boolean {
  return ctx.types.find('proc_t') !== undefined && ctx.symbolByName('p0') !== undefined;
}

function mustHaveProcs(ctx: DcmdContext, what: string): void {
  if (!hasProcs(ctx)) throw new DcmdError(`${what}: the target's kernel has no processes (no proc_t, no p0)`);
}

function comm(ctx: DcmdContext, p: number): string {
  return ctx.readString(p + off(ctx, 'proc_t', 'p_user.u_comm'), 17);
}

function psargs(ctx: DcmdContext, p: number): string {
  return ctx.readString(p + off(ctx, 'proc_t', 'p_user.u_psargs'), 80);
}

/** A struct pid's pid_id through a pointer member of proc_t (0 for NULL). */
function pidOf(ctx: DcmdContext, pidp: number): number {
  return pidp === 0 ? 0 : member(ctx, pidp, 'struct pid', 'pid_id') | 0;
}

/** Start time of a process in ns (u_start). */
function startNs(ctx: DcmdContext, p: number): number {
  const u = p + off(ctx, 'proc_t', 'p_user');
  return ctx.readMember(u, 'user_t', 'u_start.tv_sec') * 1e9 + ctx.readMember(u, 'user_t', 'u_start.tv_nsec');
}

/* ------------------------------------------------------------ walkers */

/** Processes depth first from root (p0 by default): a process, then its children youngest first. */
export function* procWalk(ctx: DcmdContext, root: number | undefined): Generator<number> {
  mustHaveProcs(ctx, 'proc');
  const start = root ?? ctx.symbolByName('p0')!.value;
  const seen = new Set<number>();
  const todo: number[] = [start];
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (seen.has(p) || seen.size >= WALK_LIMIT) throw new WalkError(`proc: the process tree loops at ${ctx.hex(p)}`);
    seen.add(p);
    yield p;
    const kids: number[] = [];
    for (let c = member(ctx, p, 'proc_t', 'p_child'); c !== 0 && kids.length < WALK_LIMIT; c = member(ctx, c, 'proc_t', 'p_sibling')) {
      if (kids.includes(c)) throw new WalkError(`proc: the children of ${ctx.hex(p)} loop at ${ctx.hex(c)}`);
      kids.push(c);
    }
    for (let i = kids.length - 1; i >= 0; i--) todo.push(kids[i]!);
  }
}

/** Every thread along allthreads/t_next, or with a proc_t address that process's threads (p_tlist, t_forw). */
export function* threadWalk(ctx: DcmdContext, proc: number | undefined): Generator<number> {
  const all = ctx.symbolByName('allthreads');
  if (proc === undefined && (!all || ctx.types.find('kthread_t') === undefined)) {
    for (const t of ctx.target.threads()) yield t.addr;
    return;
  }
  if (proc !== undefined && !(hasProcs(ctx) && [...procWalk(ctx, undefined)].includes(proc))) throw new WalkError(`${ctx.hex(proc)} is not a proc_t on the process tree`);
  const first = proc === undefined ? ctx.target.loadPtr(all!.value) : member(ctx, proc, 'proc_t', 'p_tlist');
  const link = proc === undefined ? 't_next' : 't_forw';
  let n = 0;
  for (let t = first; t !== 0; ) {
    yield t;
    if (++n >= WALK_LIMIT) throw new WalkError(`thread: the thread list at ${ctx.hex(first)} does not end`);
    t = member(ctx, t, 'kthread_t', link);
    if (t === first) break;
  }
}

export function procWalkers(): WalkerDef[] {
  return [
    { name: 'proc', description: 'list of active proc_t structures', walk: procWalk },
    { name: 'thread', description: 'global or per-process kthread_t structures', walk: threadWalk },
  ];
}

/* ---------------------------------------------------------------- ::ps */

const PS_PRTTHREADS = 0x1;
const PS_PRTLWPS = 0x2;
const PS_PSARGS = 0x4;

const PSTAT_CHARS: Record<number, string> = { [SSLEEP]: 'S', [SRUN]: 'R', [SZOMB]: 'Z', [SIDL]: 'I', [SONPROC]: 'O', [SSTOP]: 'T', [SWAIT]: 'W' };

const TS_BITS: Array<[string, number]> = [
  ['TS_FREE', TS_FREE],
  ['TS_SLEEP', TS_SLEEP],
  ['TS_RUN', TS_RUN],
  ['TS_ONPROC', TS_ONPROC],
  ['TS_ZOMB', TS_ZOMB],
  ['TS_STOPPED', TS_STOPPED],
  ['TS_WAIT', TS_WAIT],
];

/** A thread state as mdb's %b prints it with ps' table: the state's name, or the hex value. */
function tstateBits(state: number): string {
  const hit = TS_BITS.find(([, v]) => v === state);
  return hit ? hit[0] : `0x${state.toString(16)}`;
}

function psHeader(ctx: DcmdContext): void {
  ctx.printf('%<u>%1s %6s %6s %6s %6s %6s %10s %?s %s%</u>\n', 'S', 'PID', 'PPID', 'PGID', 'SID', 'UID', 'FLAGS', 'ADDR', 'NAME');
}

function psRow(ctx: DcmdContext, p: number, prt: number): void {
  const stat = ctx.target.load8(p + off(ctx, 'proc_t', 'p_stat'));
  const sess = member(ctx, p, 'proc_t', 'p_sessp');
  const sid = sess === 0 ? 0 : pidOf(ctx, member(ctx, sess, 'sess_t', 's_sidp'));
  const cred = member(ctx, p, 'proc_t', 'p_cred');
  const uid = cred === 0 ? 0 : member(ctx, cred, 'cred_t', 'cr_uid') | 0;
  ctx.printf(
    '%c %6d %6d %6d %6d %6d 0x%08x %0?p %s\n',
    PSTAT_CHARS[stat] ?? '?',
    pidOf(ctx, member(ctx, p, 'proc_t', 'p_pidp')),
    member(ctx, p, 'proc_t', 'p_ppid') | 0,
    pidOf(ctx, member(ctx, p, 'proc_t', 'p_pgidp')),
    sid,
    uid,
    member(ctx, p, 'proc_t', 'p_flag'),
    p,
    prt & PS_PSARGS ? psargs(ctx, p) : comm(ctx, p),
  );
  if (prt & (PS_PRTTHREADS | PS_PRTLWPS)) {
    for (const t of threadWalk(ctx, p)) {
      if (prt & PS_PRTTHREADS) ctx.printf('\tT  %?a <%s>\n', t, tstateBits(ctx.target.load16(t + off(ctx, 'kthread_t', 't_state'))));
      if (prt & PS_PRTLWPS) ctx.printf('\tL  %?a ID: %u\n', member(ctx, t, 'kthread_t', 't_lwp'), member(ctx, t, 'kthread_t', 't_tid'));
    }
  }
}

function psDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { f: 'bool', l: 'bool', t: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  mustHaveProcs(ctx, 'ps');
  const prt = (g.opts.f ? PS_PSARGS : 0) | (g.opts.l ? PS_PRTLWPS : 0) | (g.opts.t ? PS_PRTTHREADS : 0);
  if (!(flags & DCMD_ADDRSPEC)) {
    psHeader(ctx);
    for (const p of procWalk(ctx, undefined)) psRow(ctx, p, prt);
    return DCMD_OK;
  }
  if (DCMD_HDRSPEC(flags)) psHeader(ctx);
  psRow(ctx, addr, prt);
  return DCMD_OK;
}

/* -------------------------------------------------------------- ::pgrep */

function pgrepDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  const g = ctx.getopts(argv, { n: 'bool', o: 'bool', x: 'bool' });
  if (!g || g.rest.length !== 1 || (g.opts.n && g.opts.o)) return DCMD_USAGE;
  mustHaveProcs(ctx, 'pgrep');
  let re: RegExp;
  try {
    re = new RegExp(g.rest[0]!);
  } catch (e) {
    ctx.warn(`${e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e)}`);
    return DCMD_ERR;
  }
  const matches: number[] = [];
  for (const p of procWalk(ctx, undefined)) {
    const name = comm(ctx, p);
    const m = re.exec(name);
    if (!m || (g.opts.x && (m.index !== 0 || m[0].length !== name.length))) continue;
    matches.push(p);
  }
  let chosen = matches;
  if (g.opts.n || g.opts.o) {
    let best: number | undefined;
    for (const p of matches) {
      if (best === undefined || (g.opts.n ? startNs(ctx, p) > startNs(ctx, best) : startNs(ctx, p) < startNs(ctx, best))) best = p;
    }
    chosen = best === undefined ? [] : [best];
  }
  chosen.forEach((p, i) => {
    if (flags & DCMD_PIPE_OUT) ctx.pipeOut(p);
    else {
      if (i === 0 && DCMD_HDRSPEC(flags)) psHeader(ctx);
      psRow(ctx, p, 0);
    }
  });
  return DCMD_OK;
}

/* -------------------------------------------------------------- ::ptree */

function ptreeLine(ctx: DcmdContext, p: number): void {
  let depth = 0;
  for (let a = member(ctx, p, 'proc_t', 'p_parent'); a !== 0 && depth < WALK_LIMIT; a = member(ctx, a, 'proc_t', 'p_parent')) depth++;
  ctx.printf('%s%0?p  %s\n', ' '.repeat(5 * depth), p, comm(ctx, p));
}

function ptreeDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length) return DCMD_USAGE;
  mustHaveProcs(ctx, 'ptree');
  const root = flags & DCMD_ADDRSPEC ? addr : undefined;
  if (root !== undefined) {
    const ancestors: number[] = [];
    for (let a = member(ctx, root, 'proc_t', 'p_parent'); a !== 0 && ancestors.length < WALK_LIMIT; a = member(ctx, a, 'proc_t', 'p_parent')) ancestors.unshift(a);
    for (const a of ancestors) ptreeLine(ctx, a);
  }
  for (const p of procWalk(ctx, root)) ptreeLine(ctx, p);
  return DCMD_OK;
}

/* ------------------------------------------------------------- ::thread */

const TF_INTR = 0x01;
const TF_PROC = 0x02;
const TF_BLOCK = 0x04;
const TF_DISP = 0x10;
const TF_MERGE = 0x20;

const STATE_NAMES: Array<[number, string]> = [
  [TS_FREE, 'free'],
  [TS_SLEEP, 'sleep'],
  [TS_RUN, 'run'],
  [TS_ONPROC, 'onproc'],
  [TS_ZOMB, 'zomb'],
  [TS_STOPPED, 'stopped'],
  [TS_WAIT, 'wait'],
];

/** illumos thread_state_to_text: the state's name, or inval/XX. */
export function threadStateText(state: number): string {
  return STATE_NAMES.find(([v]) => v === state)?.[1] ?? `inval/${state.toString(16).padStart(2, '0')}`;
}

function threadDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { f: 'bool', i: 'bool', p: 'bool', b: 'bool', d: 'bool', m: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  if (ctx.types.find('kthread_t') === undefined) throw new DcmdError('thread: the target has no kthread_t');
  let of = (g.opts.i ? TF_INTR : 0) | (g.opts.p ? TF_PROC : 0) | (g.opts.b ? TF_BLOCK : 0) | (g.opts.d ? TF_DISP : 0) | (g.opts.m ? TF_MERGE : 0);
  if (!(of & ~TF_MERGE)) of = ctx.ptrSize === 8 ? TF_INTR : TF_INTR | TF_DISP | TF_MERGE;
  const threads = flags & DCMD_ADDRSPEC ? [addr] : [...threadWalk(ctx, undefined)];
  threads.forEach((t, i) => {
    const hdr = flags & DCMD_ADDRSPEC ? DCMD_HDRSPEC(flags) : i === 0;
    if (hdr) printThreadHeader(ctx, of);
    printThreadRow(ctx, t, of, g.opts.f);
  });
  return DCMD_OK;
}

/** Print the sets' parts one after another: on one line with -m, else each set on a line of its own under the ADDR column. */
function spaced(ctx: DcmdContext, of: number, parts: string[], first: string): string {
  let s = first;
  parts.forEach((p, i) => {
    if (i > 0 && !(of & TF_MERGE)) s += '\n' + ctx.sprintf('%?s', '');
    s += p;
  });
  return s + '\n';
}

function printThreadHeader(ctx: DcmdContext, of: number): void {
  const u = (s: string) => ctx.sprintf('%<u>%s%</u>', s);
  const parts: string[] = [];
  if (of & TF_PROC) parts.push(u(ctx.sprintf(' %?s %?s %?s', 'PROC', 'LWP', 'CRED')));
  if (of & TF_INTR) parts.push(u(ctx.sprintf(' %8s %4s %4s %4s %5s %5s %3s %?s', 'STATE', 'FLG', 'PFLG', 'SFLG', 'PRI', 'EPRI', 'PIL', 'INTR')));
  if (of & TF_BLOCK) parts.push(u(ctx.sprintf(' %?s %?s %?s %11s', 'WCHAN', 'TS', 'PITS', 'SOBJ OPS')));
  if (of & TF_DISP) parts.push(u(ctx.sprintf(' %?s %5s %2s', 'DISPTIME', 'BOUND', 'PR')));
  ctx.out(spaced(ctx, of, parts, u(ctx.sprintf('%?s', 'ADDR'))));
}

function printThreadRow(ctx: DcmdContext, t: number, of: number, skipFree: boolean): void {
  const m = (f: string) => member(ctx, t, 'kthread_t', f);
  const state = ctx.target.load16(t + off(ctx, 'kthread_t', 't_state'));
  if (skipFree && state === TS_FREE) return;
  const s16 = (f: string) => (m(f) << 16) >> 16;
  const parts: string[] = [];
  if (of & TF_PROC) parts.push(ctx.sprintf(' %?p %?p %?p', m('t_procp'), m('t_lwp'), m('t_cred')));
  if (of & TF_INTR) {
    const intr = m('t_intr');
    const head = ctx.sprintf(' %-8s %4x %4x %4x %5d %5d %3d ', threadStateText(state), m('t_flag'), m('t_proc_flag'), m('t_schedflag'), s16('t_pri'), s16('t_epri'), s16('t_pil'));
    parts.push(head + (intr === 0 ? ctx.sprintf('%?s', 'n/a') : ctx.sprintf('%?p', intr)));
  }
  if (of & TF_BLOCK) parts.push(ctx.sprintf(' %?p %?p %?p %11s', m('t_wchan'), m('t_ts'), m('t_prioinv'), ctx.sprintf('%a', m('t_sobj_ops')).slice(0, 11)));
  if (of & TF_DISP) parts.push(ctx.sprintf(' %?lx %5d %2d', m('t_disp_time'), m('t_bind_cpu') | 0, (ctx.target.load8(t + off(ctx, 'kthread_t', 't_preempt')) << 24) >> 24));
  ctx.out(spaced(ctx, of, parts, ctx.sprintf('%0?lx', t)));
}

/* ------------------------------------------------------------- ::stacks */

const SOBJ_NAMES: Array<[number, string, string]> = [
  [SOBJ_MUTEX, 'mutex', 'mutex_sobj_ops'],
  [SOBJ_RWLOCK, 'rwlock', 'rw_sobj_ops'],
  [SOBJ_CV, 'cv', 'cv_sobj_ops'],
  [SOBJ_SEMA, 'sema', 'sema_sobj_ops'],
  [SOBJ_USER, 'user', 'lwp_sobj_ops'],
  [SOBJ_USER_PI, 'user_pi', 'lwp_sobj_pi_ops'],
  [SOBJ_SHUTTLE, 'shuttle', 'shuttle_sobj_ops'],
];

/** illumos sobj_ops_to_text: <none> for NULL, the type's name, <unk:XX>, or ?? when unreadable. */
function sobjText(ctx: DcmdContext, ops: number): string {
  if (ops === 0) return '<none>';
  let type: number;
  try {
    type = member(ctx, ops, 'sobj_ops_t', 'sobj_type');
  } catch {
    return '??';
  }
  if (type === SOBJ_NONE) return '<none>';
  return SOBJ_NAMES.find(([v]) => v === type)?.[1] ?? `<unk:${type.toString(16).padStart(2, '0')}>`;
}

interface StackEntry {
  thread: number;
  tstate: number;
  sobjOps: number;
  panic: boolean;
  failed: string | undefined;
  stack: number[];
}

interface StackGroup {
  head: StackEntry;
  members: StackEntry[];
}

/** The per-thread facts ::stacks groups by (illumos stacks_entry_t). */
function stackEntry(ctx: DcmdContext, t: number, byAddr: Map<number, TargetThread>, panicThread: number): StackEntry {
  const tstate = ctx.target.load16(t + off(ctx, 'kthread_t', 't_state'));
  const sobjOps = member(ctx, t, 'kthread_t', 't_sobj_ops');
  const th = byAddr.get(t);
  let stack: number[] = [];
  let failed: string | undefined;
  if (!th) failed = 'thread not in memory';
  else {
    const st = threadStack(ctx, th);
    stack = st.pcs;
    if (st.error) failed = 'no consistent stack found';
  }
  return { thread: t, tstate, sobjOps, panic: t === panicThread, failed, stack };
}

function sameStack(a: StackEntry, b: StackEntry): boolean {
  return a.panic === b.panic && a.tstate === b.tstate && a.failed === b.failed && a.sobjOps === b.sobjOps && a.stack.length === b.stack.length && a.stack.every((pc, i) => pc === b.stack[i]);
}

/** illumos stacks_entry_comp: panic stacks last, larger counts first, then state, then the stacks by function name and pc. */
function compareGroups(ctx: DcmdContext, l: StackGroup, r: StackGroup): number {
  const a = l.head;
  const b = r.head;
  if (a.panic !== b.panic) return a.panic ? 1 : -1;
  if (l.members.length !== r.members.length) return r.members.length - l.members.length;
  if (a.tstate !== b.tstate) return a.tstate - b.tstate;
  const depth = Math.min(a.stack.length, b.stack.length);
  for (let i = 0; i < depth; i++) {
    const x = a.stack[i]!;
    const y = b.stack[i]!;
    if (x === y) continue;
    const sx = ctx.target.symbolByAddr(x)?.name;
    const sy = ctx.target.symbolByAddr(y)?.name;
    if (sx !== undefined && sy !== undefined && sx !== sy) return sx < sy ? -1 : 1;
    return toU64(x) < toU64(y) ? -1 : 1;
  }
  if (a.stack.length !== b.stack.length) return a.stack.length - b.stack.length;
  return toU64(a.sobjOps) < toU64(b.sobjOps) ? -1 : toU64(a.sobjOps) > toU64(b.sobjOps) ? 1 : 0;
}

/** The thread state a -t/-T argument names ("panic" too); undefined (with a warning) if none. */
function parseTstate(ctx: DcmdContext, s: string): number | 'panic' | undefined {
  if (s.toLowerCase() === 'panic') return 'panic';
  const hit = STATE_NAMES.find(([, n]) => n === s.toLowerCase());
  if (!hit) ctx.warn(`tstate "${s}" not recognized`);
  return hit?.[0];
}

/** The sobj_ops address a -s/-S argument names ("all" = any); undefined (with a warning) if none. */
function parseSobj(ctx: DcmdContext, s: string): number | 'all' | undefined {
  if (s.toLowerCase() === 'all') return 'all';
  const hit = SOBJ_NAMES.find(([, n]) => n === s.toLowerCase());
  if (!hit) {
    ctx.warn(`sobj type "${s}" unknown`);
    return undefined;
  }
  const sym = ctx.symbolByName(hit[2]);
  if (!sym) ctx.warn(`unable to find symbol "${hit[2]}"`);
  return sym?.value;
}

/** A caller for -c/-C: a function's whole text when the value is its start, else that one pc. */
function callerRange(ctx: DcmdContext, s: string): [number, number] {
  let v: number;
  try {
    v = ctx.parseValue(s);
  } catch {
    throw new DcmdError(`stacks: evaluation of "${s}" failed`);
  }
  const sym = ctx.target.symbolByAddr(v);
  return sym && sym.value === v ? [v, v + Math.max(sym.size, 1)] : [v, v + 1];
}

/** A module's text for -m/-M: a loaded module's range, or the kernel image's functions ("unix", "genunix"). */
function moduleTest(ctx: DcmdContext, name: string): (pc: number) => boolean {
  const mod = ctx.target.moduleHistory().find((m) => m.name === name && m.unloadTime === undefined);
  if (mod) return (pc) => pc >= mod.base && pc < mod.base + mod.textSize;
  if (name === 'unix' || name === 'genunix') {
    return (pc) => {
      const s = ctx.target.symbolByAddr(pc);
      return s !== undefined && s.kind === 'func' && s.module === undefined;
    };
  }
  throw new DcmdError(`stacks: module "${name}" is unknown`);
}

function stacksDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { a: 'bool', f: 'bool', i: 'bool', v: 'bool', c: 'string', C: 'string', m: 'string', M: 'string', s: 'string', S: 'string', t: 'string', T: 'string' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const o = g.opts;
  if (o.i && (o.s !== undefined || o.S !== undefined || o.t !== undefined || o.T !== undefined)) {
    ctx.warn('stacks: -i is incompatible with -[sStT]');
    return DCMD_USAGE;
  }
  const exclSobjArg = o.i ? 'CV' : o.S;
  const exclStateArg = o.i ? undefined : o.T;
  const caller = o.c !== undefined ? callerRange(ctx, o.c) : undefined;
  const exclCaller = o.C !== undefined ? callerRange(ctx, o.C) : undefined;
  const inMod = o.m !== undefined ? moduleTest(ctx, o.m) : undefined;
  const exclMod = o.M !== undefined ? moduleTest(ctx, o.M) : undefined;
  const sobj = o.s !== undefined ? parseSobj(ctx, o.s) : undefined;
  const exclSobj = exclSobjArg !== undefined ? parseSobj(ctx, exclSobjArg) : undefined;
  if ((o.s !== undefined && sobj === undefined) || (exclSobjArg !== undefined && exclSobj === undefined)) return DCMD_USAGE;
  if (sobj !== undefined && exclSobj !== undefined && !o.i) {
    ctx.warn('stacks: only one of -s and -S can be specified');
    return DCMD_USAGE;
  }
  const tstate = o.t !== undefined ? parseTstate(ctx, o.t) : undefined;
  const exclTstate = exclStateArg !== undefined ? parseTstate(ctx, exclStateArg) : undefined;
  if ((o.t !== undefined && tstate === undefined) || (exclStateArg !== undefined && exclTstate === undefined)) return DCMD_USAGE;
  if (tstate !== undefined && exclTstate !== undefined) {
    ctx.warn('stacks: only one of -t and -T can be specified');
    return DCMD_USAGE;
  }
  if (ctx.types.find('kthread_t') === undefined) throw new DcmdError('stacks: the target has no kthread_t');

  // the threads, grouped
  const byAddr = new Map(ctx.target.threads().map((t) => [t.addr, t]));
  const panicSym = ctx.symbolByName('panic_thread');
  const panicThread = panicSym && ctx.target.status().panicMessage ? ctx.target.loadPtr(panicSym.value) : 0;
  const onlyMatching = (flags & DCMD_ADDRSPEC) !== 0 && (flags & DCMD_PIPE) !== 0;
  const wanted = flags & DCMD_ADDRSPEC ? [...new Set(onlyMatching ? ctx.getPipe() : [addr])] : [];
  const threads = onlyMatching ? wanted : [...threadWalk(ctx, undefined)];
  if (o.v) ctx.warn('stacks: processing kernel threads');
  const groups: StackGroup[] = [];
  for (const t of threads) {
    const e = stackEntry(ctx, t, byAddr, panicThread);
    const gr = groups.find((x) => sameStack(x.head, e));
    if (gr) gr.members.push(e);
    else groups.push({ head: e, members: [e] });
  }
  if (o.v) ctx.warn(`stacks: ${groups.length} unique stacks / ${threads.length} threads`);
  groups.sort((l, r) => compareGroups(ctx, l, r));
  if (o.v) ctx.warn('stacks: done');

  const seen = new Set<number>();
  let printed = false;
  for (const gr of groups) {
    let members = gr.members;
    if (flags & DCMD_ADDRSPEC) {
      const mine = members.filter((e) => wanted.includes(e.thread));
      if (mine.length === 0) continue;
      for (const e of mine) seen.add(e.thread);
      if (onlyMatching) members = mine;
    }
    const e = gr.head;
    const has = (r: [number, number]) => e.stack.some((pc) => pc >= r[0] && pc < r[1]);
    if (caller && !has(caller)) continue;
    if (exclCaller && has(exclCaller)) continue;
    if (inMod && !e.stack.some(inMod)) continue;
    if (exclMod && e.stack.some(exclMod)) continue;
    if (tstate !== undefined && (tstate === 'panic' ? !e.panic : e.panic || e.tstate !== tstate)) continue;
    if (exclTstate !== undefined && (exclTstate === 'panic' ? e.panic : !e.panic && e.tstate === exclTstate)) continue;
    if (sobj !== undefined && (sobj === 'all' ? e.sobjOps === 0 : e.sobjOps !== sobj)) continue;
    if (!(o.i && e.panic) && exclSobj !== undefined && (exclSobj === 'all' ? e.sobjOps !== 0 : e.sobjOps === exclSobj)) continue;
    if (flags & DCMD_PIPE_OUT) {
      for (const m of members) ctx.pipeOut(m.thread);
      continue;
    }
    if (o.a || !printed) {
      ctx.printf('%<u>%-?s %-8s %-?s %8s%</u>\n', 'THREAD', 'STATE', 'SOBJ', 'COUNT');
      printed = true;
    }
    const list = o.a ? members : [members[0]!];
    list.forEach((m, i) => {
      const state = (m.panic ? 'panic' : threadStateText(m.tstate)).toUpperCase();
      const sob = sobjText(ctx, m.sobjOps).toUpperCase();
      if (i === 0) ctx.printf('%-?p %-8s %-?s %8d\n', m.thread, state, sob, members.length);
      else ctx.printf('%-?p %-8s %-?s %8s\n', m.thread, state, sob, '-');
    });
    if (e.failed) ctx.printf('%?s <%s>\n', '', e.failed);
    for (const pc of e.stack) ctx.printf('%?s %a\n', '', pc);
    ctx.out('\n');
  }
  if (flags & DCMD_ADDRSPEC) for (const t of wanted) if (!seen.has(t)) ctx.warn(`stacks: ${ctx.hex(t)} not in thread list`);
  return DCMD_OK;
}

/* ---------------------------------------------------------- ::panicinfo */

function panicinfoDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (flags & DCMD_ADDRSPEC || argv.length) return DCMD_USAGE;
  const st = ctx.target.status();
  if (st.kind !== 'dump' || !st.panicMessage) throw new DcmdError('panicinfo can only be run on a system dump; see dumpadm(1M)');
  const cpuSym = ctx.symbolByName('panic_cpu');
  if (cpuSym) ctx.printf('%16s %?d\n', 'cpu', ctx.target.load32(cpuSym.value) | 0);
  else ctx.warn("failed to read 'panic_cpu'");
  const thrSym = ctx.symbolByName('panic_thread');
  const thread = thrSym ? ctx.target.loadPtr(thrSym.value) : 0;
  if (thrSym) ctx.printf('%16s %?p\n', 'thread', thread);
  else ctx.warn("failed to read 'panic_thread'");
  ctx.printf('%16s %s\n', 'message', st.panicMessage);
  // the registers the panicking thread saved (t_pcb and t_fp)
  const t = ctx.target.threads().find((x) => x.addr === thread);
  if (t) {
    const names = ctx.ptrSize === 8 ? ['rbp', 'rsp', 'rip'] : ['ebp', 'esp', 'eip'];
    [t.fp, t.sp, t.pc].forEach((v, i) => ctx.printf('%16s %?p\n', names[i]!, v));
  }
  return DCMD_OK;
}

/* --------------------------------------------------------------- table */

export function procDcmds(): DcmdDef[] {
  return [
    {
      name: 'ps',
      usage: '[-flt]',
      description: 'list processes (and associated thr,lwp)',
      help: `List the processes, depth first from p0 (its children youngest first):
state, pid, parent, process group and session ids, uid, p_flag, the
proc_t and the command name.
  -f  print the arguments (u_psargs) instead of the command name
  -l  list each process's LWPs (klwp_t and LWP id)
  -t  list each process's threads and their states`,
      fn: psDcmd,
    },
    {
      name: 'pgrep',
      usage: '[-x] [-n | -o] pattern',
      description: 'pattern match against all processes',
      help: `Print (as ::ps does) the processes whose command name matches the
regular expression pattern; in a pipeline, their proc_t addresses.
  -x  the whole name must match
  -n  only the newest matching process
  -o  only the oldest matching process`,
      fn: pgrepDcmd,
    },
    {
      name: 'ptree',
      usage: '?',
      description: 'print process tree',
      help: 'Print the process tree, each process indented five columns under its\nparent; with an address, that process\'s ancestors and its subtree.',
      fn: ptreeDcmd,
    },
    {
      name: 'thread',
      usage: '?[-bdfimp]',
      description: 'display a summarized kthread_t',
      help: `The flags -ipbd control which information is displayed.  When
combined, the fields are displayed on separate lines unless the
-m option is given.

	-b	print blocked thread state
	-d	print dispatcher state
	-f	ignore freed threads
	-i	print basic thread state (default)
	-m	display results on a single line
	-p	print process and lwp state`,
      fn: threadDcmd,
    },
    {
      name: 'stacks',
      usage: '?[-afiv] [-c func] [-C func] [-m module] [-M module] [-s sobj | -S sobj] [-t tstate | -T tstate]',
      description: 'print unique kernel thread stacks',
      help: `Group the kernel threads by state, synchronization object and stack,
and print each group once with its count: larger groups first, the
panicking thread's last (state PANIC).  With an address, the groups
holding that thread; piped threads: those threads only.
  -a    print every thread of each group
  -f    recompute (the groups are not cached)
  -i    only interesting threads: not asleep on a condition variable
  -v    say what is being done (on stderr)
  -c func / -C func      only stacks with / without func
  -m module / -M module  only stacks with / without a frame in module
  -s sobj / -S sobj      only / not threads blocked on sobj
                         (mutex, rwlock, cv, sema, user, user_pi, shuttle, all)
  -t tstate / -T tstate  only / not threads in tstate
                         (free, sleep, run, onproc, zomb, stopped, wait, panic)`,
      fn: stacksDcmd,
    },
    {
      name: 'panicinfo',
      usage: '',
      description: 'print panic information',
      help: 'Print the panic CPU, thread and message of a system dump, then the\nregisters the panicking thread saved (frame pointer, stack pointer, pc).',
      fn: panicinfoDcmd,
    },
  ];
}

