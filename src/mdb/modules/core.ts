/*
 * The core mdb module ("mdb"): built-in dcmds and walkers that every
 * target has, as in illumos mdb_cmds.c.  The type dcmds (::print, ::sizeof,
 * ::typedef ...) live in ../ctfprint.ts.
 *
 * Each dcmd is a named function (`radixDcmd`, `statusDcmd`, ...) and
 * `coreModule(session)` is the table of them, as genunix's dcmd table is.
 * Built-ins that need the session (radix, variables, quitting, nested
 * command execution) take it as their first argument and the table binds
 * it, which is why the module is created per session.
 */

import { fromU64, toU64 } from '../../machine/addr.js';
import type { TargetStatus, TargetThread } from '../../target/target.js';
import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_HDRSPEC,
  DCMD_LOOP,
  DCMD_LOOPFIRST,
  DCMD_OK,
  DCMD_PIPE,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  noAddress,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type MdbModule,
  type WalkerDef,
} from '../module.js';
import type { Session } from '../session.js';
import { formatsTable } from '../fmt.js';
import { makeTypeDcmds } from '../ctfprint.js';
import { whatisDcmd, coreWhatisHandlers, belowSp } from '../whatis-dcmd.js';
import { frameArgs } from '../frames.js';
import { nmDcmdDef } from '../nm-dcmd.js';

/** Frames of a thread: its pc, then the return pcs along the frame-pointer chain, each frame's fp and arguments. */
export function threadStack(ctx: DcmdContext, t: TargetThread, max = 64): { pcs: number[]; fps: number[]; args: number[][]; error?: string } {
  if (t.pc === 0) return { pcs: [], fps: [], args: [] };
  const pcs: number[] = [t.pc];
  const fps: number[] = [t.fp];
  let fp = t.fp;
  const P = ctx.ptrSize;
  let error: string | undefined;
  while (pcs.length < max) {
    if (!(fp >= t.stackBase && fp + 2 * P <= t.stackTop)) break;
    let next: number;
    let pc: number;
    try {
      next = ctx.target.loadPtr(fp);
      pc = ctx.target.loadPtr(fp + P);
    } catch {
      error = `failed to read frame at ${ctx.hex(fp)}`;
      break;
    }
    if (pc === 0) break;
    pcs.push(pc);
    fps.push(next);
    if (next <= fp) break;
    fp = next;
  }
  const args = pcs.map((pc, i) => frameArgs(ctx.target, pc, fps[i]!, pcs[i + 1] ?? 0));
  return error === undefined ? { pcs, fps, args } : { pcs, fps, args, error };
}

/** A frame as mdb prints it: `func+off(arg0, arg1, ...)`, arguments in hex. */
function frameText(ctx: DcmdContext, pc: number, args: readonly number[] | undefined): string {
  return `${ctx.symbolize(pc)}(${(args ?? []).map((a) => ctx.hex(a)).join(', ')})`;
}

function findThread(ctx: DcmdContext, addr: number): TargetThread | undefined {
  return ctx.target.threads().find((t) => t.addr === addr);
}

function defaultThread(ctx: DcmdContext): TargetThread | undefined {
  const st = ctx.target.status();
  const ths = ctx.target.threads();
  if (st.panicThread !== undefined) {
    const t = ths.find((x) => x.addr === st.panicThread);
    if (t) return t;
  }
  return ths[0];
}

function synopsis(d: DcmdDef): string {
  const n = d.name.startsWith('$') || d.name.startsWith(':') ? d.name : '::' + d.name;
  const u = d.usage.replace(/^[:?]/, '').trim();
  const pre = d.usage.startsWith(':') ? 'addr ' : d.usage.startsWith('?') ? '[ addr ] ' : '';
  return `${pre}${n}${u ? ' ' + u : ''}`;
}

/** $<: replace input with macro */
function macroDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length !== 1) return DCMD_USAGE;
  const name = argv[0]!;
  const text = s.macros.get(name);
  if (text !== undefined) {
    if (flags & DCMD_ADDRSPEC) s.dot = toU64(addr);
    return s.run(text) ? DCMD_OK : DCMD_ERR;
  }
  for (const cand of [`struct ${name}`, `union ${name}`, `${name}_t`, `struct ${name}_s`, name]) {
    if (s.lookupType(cand)) return ctx.callDcmd('print', flags & DCMD_ADDRSPEC ? addr : ctx.dot, cand.split(' '));
  }
  throw new DcmdError(`failed to open ${name} (see ::help '$<')`);
}

/** $<<: source macro */
function sourceDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  return ctx.callDcmd('$<', flags & DCMD_ADDRSPEC ? addr : undefined, argv);
}

/** $d: get/set default output radix */
function radixDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number): DcmdResult {
  if (flags & DCMD_ADDRSPEC) {
    const r = toU64(addr);
    if (r < 2n || r > 16n) throw new DcmdError(`illegal radix ${r} (must be between 2 and 16)`);
    s.radix = Number(r);
  }
  ctx.out(`radix = ${s.radix} base ten\n`);
  return DCMD_OK;
}

/** $v: print non-zero variables */
function nonzeroVarsDcmd(s: Session, ctx: DcmdContext): DcmdResult {
  const names = [...s.vars.keys()].sort();
  for (const n of names) {
    const v = s.vars.get(n)!;
    if (v !== 0n) ctx.out(`${n} = ${v.toString(s.radix)}\n`);
  }
  return DCMD_OK;
}

/** $c: print stack backtrace */
function backtraceDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  return stackCmd(ctx, addr, flags, argv, false);
}

/** $C: print stack backtrace */
function backtraceFramesDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  return stackCmd(ctx, addr, flags, argv, true);
}

/** $r: print general-purpose registers */
function registersDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number): DcmdResult {
  const t = flags & DCMD_ADDRSPEC ? findThread(ctx, addr) : defaultThread(ctx);
  if (!t) {
    if (s.noTarget) throw new DcmdError('command is not supported by current target');
    throw new DcmdError(flags & DCMD_ADDRSPEC ? `${ctx.hex(addr)} is not a thread` : 'no threads in target');
  }
  const regs: Array<[string, number]> = ctx.ptrSize === 8 ? [['%rip', t.pc], ['%rsp', t.sp], ['%rbp', t.fp]] : [['%eip', t.pc], ['%esp', t.sp], ['%ebp', t.fp]];
  for (const [n, v] of regs) {
    const sym = ctx.sprintf('%A', v);
    ctx.printf('%-4s = 0x%0?p%s\n', n, v, sym ? ' ' + sym : '');
  }
  return DCMD_OK;
}

/** $m: print address space mappings */
function mappingsDcmd(s: Session, ctx: DcmdContext): DcmdResult {
  if (s.noTarget) throw new DcmdError('command is not supported by current target');
  ctx.printf('%<u>%?s %?s %?s%</u>\n', 'BASE', 'LIMIT', 'SIZE');
  for (const r of ctx.target.ranges()) ctx.printf('%?p %?p %?lx\n', r.base, r.base + r.size, r.size);
  return DCMD_OK;
}

/** $?: print status and registers */
function regsDcmd(ctx: DcmdContext, addr: number, flags: number): DcmdResult {
  return ctx.callDcmd('$r', flags & DCMD_ADDRSPEC ? addr : undefined);
}

/** $q, $Q and ::quit: stop reading input. */
function quitDcmd(s: Session): DcmdResult {
  s.quitRequested = true;
  return DCMD_OK;
}

function notSupported(what: string): DcmdError {
  return new DcmdError(`${what} is not supported by this target`);
}

/** ::help: list commands/command help */
function helpDcmd(s: Session, ctx: DcmdContext, _addr: number, _flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length === 0) {
    ctx.out(
      '\nEach debugger command in mdb is structured as follows:\n\n' +
        '      [ address [, count]] verb [ arguments ... ]\n' +
        '             ^       ^      ^      ^\n' +
        ' the start --+       |      |      +-- arguments are strings which can be\n' +
        ' address can be an   |      |          quoted using "" or \'\' or\n' +
        ' expression          |      |          expressions enclosed in $[ ]\n' +
        '                     |      |\n' +
        ' the repeat count ---+      +--------- the verb is a name which begins\n' +
        ' is also an expression                 with either $, :, or ::.  it can also\n' +
        '                                       be a format specifier (/ \\ ? or =)\n\n' +
        'For information on debugger commands (dcmds) and walkers, type:\n\n' +
        '      ::help cmdname ... for more detailed information on a command\n' +
        '      ::dcmds        ... for a list of dcmds and their descriptions\n' +
        '      ::walkers      ... for a list of walkers and their descriptions\n' +
        '      ::formats      ... for a list of format characters for / \\ ? and =\n' +
        '      ::help help    ... for more information on ::help\n\n',
    );
    return DCMD_OK;
  }
  if (argv.length !== 1) return DCMD_USAGE;
  let name = argv[0]!;
  if (name.startsWith('::')) name = name.slice(2);
  const ent = s.dcmds.get(name);
  if (!ent) throw new DcmdError(`unknown command: ${argv[0]}`);
  const d = ent.def;
  // help lines are indented under DESCRIPTION; an all-capitals line is
  // a section heading, at column 0 (illumos help functions print
  // %<b>OPTIONS%</b> after mdb_dec_indent(2))
  let txt = `\nNAME\n  ${d.name} - ${d.description}\n\nSYNOPSIS\n  ${synopsis(d)}\n`;
  if (d.help) txt += `\nDESCRIPTION\n${d.help.replace(/\n*$/, '').split('\n').map((l) => (l && !/^[A-Z][A-Z ]*$/.test(l) ? '  ' + l : l)).join('\n')}\n`;
  txt += `\nATTRIBUTES\n\n  Target: ${s.noTarget ? 'none' : s.target.status().kind === 'dump' ? 'kvm' : s.target.status().kind === 'core' ? 'proc' : 'live'}\n  Module: ${ent.module}\n  Interface Stability: Evolving\n\n`;
  ctx.out(txt);
  return DCMD_OK;
}

/** ::dcmds: list available debugger commands */
function dcmdsDcmd(s: Session, ctx: DcmdContext, _addr: number, flags: number): DcmdResult {
  if (flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  for (const n of [...s.dcmds.keys()].sort()) ctx.printf('%-24s - %s\n', n, s.dcmds.get(n)!.def.description);
  return DCMD_OK;
}

/** ::walkers: list available walkers */
function walkersDcmd(s: Session, ctx: DcmdContext, _addr: number, flags: number): DcmdResult {
  if (flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  for (const n of [...s.walkers.keys()].sort()) ctx.printf('%-24s - %s\n', n, s.walkers.get(n)!.def.description);
  return DCMD_OK;
}

/** ::formats: list format specifiers */
function formatsDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (flags & DCMD_ADDRSPEC || argv.length) return DCMD_USAGE;
  ctx.out(formatsTable(ctx.ptrSize));
  return DCMD_OK;
}

/** ::echo: echo arguments */
function echoDcmd(ctx: DcmdContext, _addr: number, _flags: number, argv: readonly string[]): DcmdResult {
  ctx.out(argv.map((a) => a + ' ').join('') + '\n');
  return DCMD_OK;
}

/** ::eval: evaluate the specified command */
function evalDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length === 0) return DCMD_USAGE;
  if (flags & DCMD_ADDRSPEC) s.dot = toU64(addr);
  return s.run(argv.join(' ')) ? DCMD_OK : DCMD_ERR;
}

/** ::map: print dot after evaluating expression */
function mapDcmd(s: Session, ctx: DcmdContext, addr: number, _flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length === 0) return DCMD_USAGE;
  s.dot = toU64(addr);
  const v = s.evalText(argv.join(' '));
  if (ctx.count >= 0) {
    /* keep dot */
  }
  const a = fromU64(v);
  if (_flags & DCMD_PIPE_OUT) ctx.pipeOut(a);
  else ctx.out(v.toString(s.radix) + '\n');
  return DCMD_OK;
}

/** ::grep: print dot if expression is true */
function grepDcmd(s: Session, ctx: DcmdContext, addr: number, _flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length === 0) return DCMD_USAGE;
  s.dot = toU64(addr);
  if (s.evalText(argv.join(' ')) !== 0n) ctx.pipeOut(addr);
  return DCMD_OK;
}

/** ::walk: walk data structure */
function walkDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length < 1 || argv.length > 2) return DCMD_USAGE;
  const name = argv[0]!;
  const v = argv[1];
  const piped = (flags & DCMD_PIPE_OUT) !== 0;
  const ok = ctx.walk(name, flags & DCMD_ADDRSPEC ? addr : undefined, (a) => {
    if (v) s.vars.set(v, toU64(a));
    if (piped) ctx.pipeOut(a);
    else ctx.printf('%#lr\n', a); // as illumos walk_step
  });
  return ok ? DCMD_OK : DCMD_ERR;
}

/** ::status: print summary of current target */
function statusDcmd(ctx: DcmdContext): DcmdResult {
  const st = ctx.target.status();
  const bits = ctx.target.model.bits;
  if (st.kind === 'none') {
    ctx.out('debugging with no target\n');
    return DCMD_OK;
  }
  if (st.kind === 'core') return processStatus(ctx, st);
  // As illumos kt_uname: the kernel's utsname when it has one, else the target's facts.
  const uts = readUtsname(ctx) ?? { nodename: st.hostname, release: st.osRelease, version: st.osVersion, machine: st.osName };
  if (st.kind === 'dump') ctx.out(`debugging crash dump ${st.dumpName ?? 'vmcore'} (${bits}-bit) from ${uts.nodename}\n`);
  else ctx.out(`debugging live kernel (${bits}-bit) on ${uts.nodename}\n`);
  ctx.out(`operating system: ${uts.release} ${uts.version} (${uts.machine})\n`);
  if (st.panicMessage !== undefined) ctx.out(`panic message: ${st.panicMessage}\n`);
  if (st.content) ctx.out(`dump content: ${st.content}\n`);
  return DCMD_OK;
}

/** ::msgbuf: print most recent console messages */
function msgbufDcmd(ctx: DcmdContext): DcmdResult {
  const sym = ctx.symbolByName('msgbuf');
  if (!sym) throw new DcmdError('failed to read msgbuf: no symbol msgbuf in this target');
  const text = ctx.readString(sym.value, Math.max(sym.size, 1));
  ctx.out(text.endsWith('\n') || text === '' ? text : text + '\n');
  return DCMD_OK;
}

/** ::threadlist: display threads and associated C stack traces */
function threadlistDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { v: 'bool' });
  if (!g) return DCMD_USAGE;
  let ths = ctx.target.threads();
  if (flags & DCMD_ADDRSPEC) ths = ths.filter((t) => t.addr === addr);
  if (DCMD_HDRSPEC(flags)) ctx.printf('%<u>%?s %-24s %4s %s%</u>\n', 'ADDR', 'NAME', 'CPU', 'PC');
  for (const t of ths) {
    ctx.printf('%0?p %-24s %4s %a\n', t.addr, t.name, t.cpu < 0 ? '-' : String(t.cpu), t.pc);
    if (g.opts.v) {
      const st = threadStack(ctx, t);
      for (const pc of st.pcs) ctx.printf('  %a()\n', pc);
      ctx.out('\n');
    }
  }
  return DCMD_OK;
}

/**
 * ::findstack: find kernel thread stack.  As illumos prints it: the saved
 * stack pointer, the frame the thread stopped in as `[ sp func+off() ]`,
 * then, indented, one `fp func+off()` line per caller ($C); with -v each
 * caller with its arguments (the stopped frame's line never has them).
 */
function findstackDcmd(ctx: DcmdContext, addr: number, _flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { v: 'bool' });
  if (!g) return DCMD_USAGE;
  const t = findThread(ctx, addr);
  if (!t) throw new DcmdError(`${ctx.hex(addr)} is not a thread`);
  ctx.printf('stack pointer for thread %p: %p\n', t.addr, t.sp);
  const st = threadStack(ctx, t);
  const shown = (i: number) => (g.opts.v ? st.args[i] : undefined);
  st.pcs.forEach((pc, i) => {
    if (i === 0) ctx.printf('[ %0?p %s ]\n', t.sp, frameText(ctx, pc, undefined));
    else ctx.printf('  %0?p %s\n', st.fps[i] ?? 0, frameText(ctx, pc, shown(i)));
  });
  if (st.error) ctx.warn(st.error);
  return DCMD_OK;
}

/** ::cpuinfo: print CPU information */
function cpuinfoDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { v: 'bool' });
  if (!g) return DCMD_USAGE;
  let cpus = cpuList(ctx);
  if (!cpus) throw notSupported('::cpuinfo');
  if (flags & DCMD_ADDRSPEC) cpus = cpus.filter((c) => c === addr);
  if (DCMD_HDRSPEC(flags)) ctx.printf('%<u>%3s %-?s %3s %4s %4s %3s %4s %5s %6s %-?s %s%</u>\n', 'ID', 'ADDR', 'FLG', 'NRUN', 'BSPL', 'PRI', 'RNRN', 'KRNRN', 'SWITCH', 'THREAD', 'PROC');
  const tt = ctx.types;
  const has = (m: string) => {
    try {
      tt.member(tt.mustFind('struct cpu'), m);
      return true;
    } catch {
      return false;
    }
  };
  for (const c of cpus) {
    const id = has('cpu_id') ? ctx.readMember(c, 'struct cpu', 'cpu_id') : -1;
    const flg = has('cpu_flags') ? ctx.readMember(c, 'struct cpu', 'cpu_flags') : 0;
    const thr = has('cpu_thread') ? ctx.readMember(c, 'struct cpu', 'cpu_thread') : 0;
    const th = ctx.target.threads().find((t) => t.addr === thr);
    ctx.printf('%3d %0?p %3x %4d %4d %3d %4s %5s %6s %0?p %s\n', id, c, flg, 0, 0, -1, 'no', 'no', 't-0', thr, th ? th.name : thr === 0 ? '-' : '?');
  }
  return DCMD_OK;
}

/** ::dump: dump memory from specified address */
function dumpDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { q: 'bool', w: 'uint' });
  if (!g) return DCMD_USAGE;
  // `addr,count::dump` dumps count bytes once (illumos ends the loop after the first call)
  if ((flags & (DCMD_LOOP | DCMD_PIPE | DCMD_LOOPFIRST)) === DCMD_LOOP) return DCMD_OK;
  const len = Math.max(1, ctx.count > 1 ? ctx.count : 16);
  const start = addr - (((addr % 16) + 16) % 16);
  ctx.printf('%?s  0 1 2 3  4 5 6 7 \\/ 9 a b c d e f  01234567v9abcdef\n', '');
  for (let row = start; row < addr + len; row += 16) {
    let hexs = '';
    let asc = '';
    for (let i = 0; i < 16; i++) {
      const a = row + i;
      if (a < addr || a >= addr + len) {
        hexs += '  ';
        asc += ' ';
      } else {
        let b: number;
        try {
          b = ctx.target.load8(a);
        } catch {
          hexs += '??';
          asc += '?';
          continue;
        }
        hexs += b.toString(16).padStart(2, '0');
        asc += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      }
      if (i % 4 === 3 && i !== 15) hexs += ' ';
    }
    ctx.printf('%?p:  %s  %s\n', row, hexs, asc);
  }
  return DCMD_OK;
}

/** Variables ::typeset -t has tagged (illumos MDB_NV_TAGGED), per session. */
const taggedVars = new WeakMap<Session, Set<string>>();
function tagsOf(s: Session): Set<string> {
  let t = taggedVars.get(s);
  if (!t) {
    t = new Set();
    taggedVars.set(s, t);
  }
  return t;
}

/** ::vars: print listing of variables (-n non-zero only, -p as NAME>value assignments, -t tagged only) */
function varsDcmd(s: Session, ctx: DcmdContext, flags: number, argv: readonly string[]): DcmdResult {
  const g = ctx.getopts(argv, { n: 'bool', p: 'bool', t: 'bool' });
  if (!g || g.rest.length || flags & DCMD_ADDRSPEC) return DCMD_USAGE;
  const tags = tagsOf(s);
  for (const n of [...s.vars.keys()].sort()) {
    const v = s.vars.get(n)!;
    if ((g.opts.t && !tags.has(n)) || (g.opts.n && v === 0n)) continue;
    if (g.opts.p) ctx.printf('%#llr>%s\n', v, n);
    else ctx.printf('%s = %llr\n', n, v);
  }
  return DCMD_OK;
}

/**
 * ::typeset [-t|+t] name ...: create variables (0, or addr when one is
 * given; an existing variable keeps its value unless addr is given), and
 * tag (-t) or untag (+t) them; without names, ::vars.
 */
function typesetDcmd(s: Session, ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length === 0) return varsDcmd(s, ctx, 0, []);
  let names = argv;
  let tag: boolean | undefined;
  if (/^[-+]/.test(argv[0]!)) {
    if (argv[0]!.slice(1) !== 't') return DCMD_USAGE;
    tag = argv[0]![0] === '-';
    names = argv.slice(1);
  }
  const tags = tagsOf(s);
  for (const n of names) {
    if (/^[-+]/.test(n)) {
      ctx.warn(`ignored bad option -- ${n}`);
      continue;
    }
    const bad = /[^A-Za-z0-9_.]/.exec(n) ?? (/^[0-9]/.test(n) ? { 0: n[0]! } : null);
    if (bad) throw new DcmdError(`'${bad[0]}' may not be used in a variable name`);
    if (!s.vars.has(n)) s.vars.set(n, flags & DCMD_ADDRSPEC ? toU64(addr) : 0n);
    else if (flags & DCMD_ADDRSPEC) s.vars.set(n, toU64(addr));
    if (tag === true) tags.add(n);
    else if (tag === false) tags.delete(n);
  }
  return DCMD_OK;
}

/** ::whatthread: print threads whose stack contains the given address */
function whatthreadDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (!(flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
  const g = ctx.getopts(argv, { v: 'bool' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const P = ctx.ptrSize;
  const piped = (flags & DCMD_PIPE_OUT) !== 0;
  for (const t of ctx.target.threads()) {
    if (t.stackBase === 0) continue;
    for (let a = t.stackBase; a + P <= t.stackTop; a += P) {
      let w: number;
      try {
        w = ctx.target.loadPtr(a);
      } catch {
        ctx.warn(`couldn't read thread ${ctx.hex(t.addr)}'s stack at ${ctx.hex(a)}`);
        ctx.warn("couldn't walk threads");
        return DCMD_ERR;
      }
      if (w !== addr) continue;
      if (g.opts.v) {
        ctx.printf("%p in thread %p's stack%s\n", a, t.addr, belowSp(t, a) ? ' (below sp)' : '');
      } else {
        if (piped) ctx.pipeOut(t.addr);
        else ctx.printf('%#lr\n', t.addr);
        break;
      }
    }
  }
  return DCMD_OK;
}

export function coreModule(s: Session): MdbModule {
  const dcmds: DcmdDef[] = [
    {
      name: '$<',
      usage: 'macro-name',
      description: 'replace input with macro',
      help: 'Run the named macro with dot set to addr.  Macros come from modules; a\nname that is not a macro but names a type (name, struct name, name_t) is\nprinted with ::print.',
      fn: (ctx, addr, flags, argv) => macroDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: '$<<',
      usage: 'macro-name',
      description: 'source macro',
      help: 'Like $< (macros here never replace the input).',
      fn: sourceDcmd,
    },
    {
      name: '$q',
      usage: '',
      description: 'quit debugger',
      help: 'Quit the debugger (the rest of the input is not read).',
      fn: () => quitDcmd(s),
    },
    {
      name: '$Q',
      usage: '',
      description: 'quit debugger',
      help: 'Quit the debugger (same as $q).',
      fn: () => quitDcmd(s),
    },
    {
      name: 'quit',
      usage: '',
      description: 'quit debugger',
      help: 'Quit the debugger (same as $q).',
      fn: () => quitDcmd(s),
    },
    {
      name: '$d',
      usage: '',
      description: 'get/set default output radix',
      help: 'With an address, set the default input and output radix to it (2 to 36);\nthen print the radix.',
      fn: (ctx, addr, flags) => radixDcmd(s, ctx, addr, flags),
    },
    {
      name: '$v',
      usage: '',
      description: 'print non-zero variables',
      help: 'Print the name and value (in the current radix) of every variable whose\nvalue is not zero.  Variables are set with value>name and read with <name.',
      fn: (ctx) => nonzeroVarsDcmd(s, ctx),
    },
    {
      name: '$c',
      usage: '?[cnt]',
      description: 'print stack backtrace',
      help: 'Print the stack of the thread at addr (default: the panic thread, or\nthe first thread), one frame per line as sym+off(arg0, arg1, ...), following\nthe frame pointer chain within the thread\'s stack.  Arguments are read as\nillumos reads them: on amd64 the ones the function\'s prologue saves below\nits frame pointer (-msave-args), on i386 the ones its caller pushed, counted\nfrom the `add $n,%esp` at the return address.',
      fn: backtraceDcmd,
    },
    {
      name: '$C',
      usage: '?[cnt]',
      description: 'print stack backtrace',
      help: 'Like $c, but each frame line starts with the frame pointer of that frame.',
      fn: backtraceFramesDcmd,
    },
    {
      name: 'stack',
      usage: '?[cnt]',
      description: 'print stack backtrace',
      help: 'Print the stack backtrace of the thread at addr (the panic thread by\ndefault); the same as $c.',
      fn: backtraceDcmd,
    },
    {
      name: '$r',
      usage: '',
      description: 'print general-purpose registers',
      help: 'Print the saved registers (pc, sp, fp) of the thread at addr or of the\nrepresentative thread.',
      fn: (ctx, addr, flags) => registersDcmd(s, ctx, addr, flags),
    },
    {
      name: '$m',
      usage: '',
      description: 'print address space mappings',
      help: 'Print the mapped address ranges of the target (base, limit and size of each\nrun of mapped pages).',
      fn: (ctx) => mappingsDcmd(s, ctx),
    },
    {
      name: '$?',
      usage: '',
      description: 'print status and registers',
      help: 'Print the general-purpose registers of the representative thread (as $r;\nuse ::status for the target status).',
      fn: regsDcmd,
    },
    {
      name: 'regs',
      usage: '',
      description: 'print general-purpose registers',
      help: 'Print the saved registers (pc, sp, fp) of the thread at addr or of the\nrepresentative thread (same as $r).',
      fn: regsDcmd,
    },
    {
      name: 'help',
      usage: '[command]',
      description: 'list commands/command help',
      help: 'Without an argument, describe how to get help; with a dcmd name, print its\nusage, description and help text.',
      fn: (ctx, addr, flags, argv) => helpDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'dcmds',
      usage: '',
      description: 'list available debugger commands',
      help: 'List every dcmd with its description.',
      fn: (ctx, addr, flags) => dcmdsDcmd(s, ctx, addr, flags),
    },
    {
      name: 'walkers',
      usage: '',
      description: 'list available walkers',
      help: 'List every walker with its description.',
      fn: (ctx, addr, flags) => walkersDcmd(s, ctx, addr, flags),
    },
    {
      name: 'formats',
      usage: '',
      description: 'list format specifiers',
      help: 'List the format characters of the / \\ ? and = verbs with their sizes.',
      fn: formatsDcmd,
    },
    {
      name: 'echo',
      usage: '[args ...]',
      description: 'echo arguments',
      help: 'Print the arguments, each followed by a space, then a newline.',
      fn: echoDcmd,
    },
    {
      name: 'eval',
      usage: 'command',
      description: 'evaluate the specified command',
      help: 'Run the argument as an mdb command with dot set to addr.',
      fn: (ctx, addr, flags, argv) => evalDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'map',
      usage: 'expr',
      description: 'print dot after evaluating expression',
      help: 'Evaluate the expression with dot set to addr and print the result in\nthe current radix (in a pipeline, pass it on).',
      fn: (ctx, addr, flags, argv) => mapDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'grep',
      usage: 'expr',
      description: 'print dot if expression is true',
      help: 'Evaluate the expression with dot set to addr; if it is non-zero, print\n(or pass on) addr.',
      fn: (ctx, addr, flags, argv) => grepDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'walk',
      usage: '?name [variable]',
      description: 'walk data structure',
      help: 'Walk the named data structure from addr (or from its global start) and\nprint (or pass on) each address.  With a variable name, the variable is\nset to each address.',
      fn: (ctx, addr, flags, argv) => walkDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'status',
      usage: '',
      description: 'print summary of current target',
      help: 'Describe the target: a crash dump or a live kernel, its data model, host,\noperating system and panic message.',
      fn: statusDcmd,
    },
    {
      name: 'msgbuf',
      usage: '',
      description: 'print most recent console messages',
      help: 'Print the kernel message buffer: the NUL-terminated text of the global\nchar array msgbuf.',
      fn: msgbufDcmd,
    },
    nmDcmdDef,
    {
      name: 'threadlist',
      usage: '?[-v]',
      description: 'display threads and associated C stack traces',
      help: 'List the kernel threads: address, name, CPU and current function.\n  -v  also print each thread\'s stack',
      fn: threadlistDcmd,
    },
    {
      name: 'findstack',
      usage: ':[-v]',
      description: 'find kernel thread stack',
      help: 'Print the stack of the thread at addr: its saved stack pointer, the frame\nthe thread stopped in as [ sp func+off() ], then one line per caller\n(frame pointer, func+off()).\n  -v  show each caller\'s arguments, func+off(arg0, arg1, ...)',
      fn: findstackDcmd,
    },
    {
      name: 'cpuinfo',
      usage: '?[-v]',
      description: 'print CPU information',
      help: 'List the CPUs: the kernel global cpus is an array of pointers to struct\ncpu (members cpu_id and cpu_thread are used when present).',
      fn: cpuinfoDcmd,
    },
    {
      name: 'dump',
      usage: ':[-q] [-w width]',
      description: 'dump memory from specified address',
      help: 'Print a hexadecimal and ASCII dump of count bytes (default 16) at addr.',
      fn: dumpDcmd,
    },
    {
      name: 'typeset',
      usage: '[+/-t] var ...',
      description: 'set variable attributes',
      help: 'Create the named variables (set to 0, or to addr when one is given; an\nexisting variable keeps its value unless addr is given).  -t tags them,\n+t removes the tag (::vars -t lists the tagged ones).  Without names,\nlist the variables as ::vars does.',
      fn: (ctx, addr, flags, argv) => typesetDcmd(s, ctx, addr, flags, argv),
    },
    {
      name: 'vars',
      usage: '[-npt]',
      description: 'print listing of variables',
      help: 'Print every variable and its value in the output radix.\n  -n  only variables whose value is not zero\n  -p  print them as assignments (value>name)\n  -t  only tagged variables (::typeset -t)',
      fn: (ctx, _addr, flags, argv) => varsDcmd(s, ctx, flags, argv),
    },
    {
      name: 'whatthread',
      usage: ':[-v]',
      description: 'print threads whose stack contains the given address',
      help: 'Scan every thread stack for a word equal to addr; print each such\nthread (with -v, every hit as "addr in thread t\'s stack").',
      // As illumos kmem.c whatthread()/whatthread_walk_thread(): an address
      // is required; each matching thread once as %#lr, or with -v every
      // matching word as "%p in thread %p's stack%s".
      fn: whatthreadDcmd,
    },
    ...makeTypeDcmds(s),
    whatisDcmd(s),
  ];

  // ':' execution-control commands exist in mdb but not for dumps/live kernels here.
  for (const c of ['b', 'c', 'd', 'e', 'k', 'r', 's', 'u', 'w', 'z', 'a', 'p', 'i', 't', 'A', 'R']) {
    dcmds.push({
      name: ':' + c,
      usage: '',
      description: 'execution control (not available for kernel targets)',
      help: `The :${c} command controls a running process (breakpoints, stepping,\ncontinuing).  Crash dumps and the simulated kernel cannot be run or\nstepped, so it always fails with "command is not supported by current target".`,
      fn() {
        throw new DcmdError('command is not supported by current target');
      },
    });
  }

  const walkers: WalkerDef[] = [
    {
      name: 'thread',
      description: 'global or per-process kthread_t structures',
      *walk(ctx, addr) {
        noAddress('thread', addr);
        for (const t of ctx.target.threads()) yield t.addr;
      },
    },
    {
      name: 'cpu',
      description: 'walk cpu structures',
      *walk(ctx, addr) {
        noAddress('cpu', addr);
        const l = cpuList(ctx);
        if (!l) throw new DcmdError('::walk cpu is not supported by this target');
        yield* l;
      },
    },
    {
      name: 'symbols',
      description: 'walk the symbol table (object symbols)',
      *walk(ctx, addr) {
        noAddress('symbols', addr);
        for (const sy of ctx.target.symbols()) yield sy.value;
      },
    },
  ];

  return { name: 'mdb', dcmds, walkers, whatis: coreWhatisHandlers };
}

/** The kernel's struct utsname (global `utsname`), if the target has it. */
function readUtsname(ctx: DcmdContext): { nodename: string; release: string; version: string; machine: string } | undefined {
  const sym = ctx.symbolByName('utsname');
  const tid = ctx.types.find('struct utsname');
  if (!sym || tid === undefined) return undefined;
  try {
    const f = (m: string) => ctx.readString(sym.value + ctx.types.offsetof(tid, m), 257);
    const u = { nodename: f('nodename'), release: f('release'), version: f('version'), machine: f('machine') };
    return u.release || u.nodename ? u : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CPUs: the ring from `cpu_list` along cpu_next (illumos), or the
 * global `cpus` (an array of struct cpu, or of pointers to them).
 */
function cpuList(ctx: DcmdContext): number[] | undefined {
  const tt = ctx.types;
  const cid = tt.find('struct cpu');
  if (cid === undefined) return undefined;
  const csz = tt.sizeof(cid);
  let nextOff = -1;
  try {
    nextOff = tt.offsetof(cid, 'cpu_next');
  } catch {
    nextOff = -1;
  }
  const lsym = ctx.symbolByName('cpu_list');
  if (lsym && nextOff >= 0) {
    const start = ctx.target.loadPtr(lsym.value);
    const out: number[] = [];
    let c = start;
    while (c !== 0 && out.length < 4096) {
      out.push(c);
      c = ctx.target.loadPtr(c + nextOff);
      if (c === start) break;
    }
    return out;
  }
  const sym = ctx.symbolByName('cpus');
  if (!sym || csz === 0) return undefined;
  const out: number[] = [];
  if (sym.size >= csz && sym.size % csz === 0) {
    for (let i = 0; i < sym.size / csz; i++) out.push(sym.value + i * csz);
    return out;
  }
  const n = Math.max(1, Math.floor(sym.size / ctx.ptrSize));
  for (let i = 0; i < n; i++) {
    const p = ctx.target.loadPtr(sym.value + i * ctx.ptrSize);
    if (p !== 0) out.push(p);
  }
  return out;
}

/** ::status of a process core, as illumos' pt_status_dcmd prints one. */
function processStatus(ctx: DcmdContext, st: TargetStatus): DcmdResult {
  ctx.out(`debugging core file of ${st.program ?? st.dumpName ?? 'core'} (${ctx.target.model.bits}-bit) from ${st.hostname}\n`);
  if (st.dumpName) ctx.out(`core file: ${st.dumpName}\n`);
  if (st.argv) ctx.out(`initial argv: ${st.argv.join(' ')}\n`);
  ctx.out('threading model: native threads\n');
  if (st.processStatus) ctx.out(`status: ${st.processStatus}\n`);
  return DCMD_OK;
}

function stackCmd(ctx: DcmdContext, addr: number, flags: number, _argv: readonly string[], withFp: boolean): DcmdResult {
  const t = flags & DCMD_ADDRSPEC ? findThread(ctx, addr) : defaultThread(ctx);
  if (!t) {
    if (ctx.target.status().kind === 'none') throw new DcmdError('no process active');
    throw new DcmdError(flags & DCMD_ADDRSPEC ? `${ctx.hex(addr)} is not a known thread` : 'no threads in target');
  }
  const recorded = ctx.target.threadFrames?.(t);
  const st = recorded ? { pcs: [...recorded], fps: recorded.map(() => 0), args: [], error: undefined } : threadStack(ctx, t);
  st.pcs.forEach((pc, i) => {
    if (withFp) ctx.printf('%0?p %s\n', st.fps[i] ?? 0, frameText(ctx, pc, st.args[i]));
    else ctx.printf('%s\n', frameText(ctx, pc, st.args[i]));
  });
  if (st.error) ctx.warn(st.error);
  return DCMD_OK;
}
