/*
 * An mdb session: the state of the debugger (dot, radix, increment,
 * variables), the loaded modules' dcmds and walkers, and the engine that
 * runs commands: expressions, format verbs, dcmd calls with their flags,
 * count loops, pipelines and shell escapes.
 *
 * Every failure is reported as one line on stderr in mdb's words
 * (`mdb: ...`) and makes the command fail; the session never lets a
 * JavaScript exception escape from run().
 *
 * Pipelines: `a | b` runs a with DCMD_PIPE_OUT; what a emits (pipeOut() or
 * text, one expression per token) becomes an address vector; b runs once per
 * address with DCMD_ADDRSPEC|DCMD_LOOP|DCMD_PIPE, DCMD_LOOPFIRST on the first
 * call only, and never if the vector is empty.  `x ! cmd` feeds x's text
 * output to `$SHELL -c cmd`; `! cmd | b` parses the shell's output as
 * addresses for b; `!< cmd` runs the shell's output as mdb commands.
 * As in illumos' mdb_call(), a stage fed by a pipe runs with a count of 1
 * whatever the length of its input (a count is `addr,count` only).
 *
 * Output bound: one command line (up to the newline or `;`, with the
 * macros and ::eval it runs) may write at most `outputBound` characters,
 * counting its output, its warnings, and the text and addresses passed down
 * its pipes.  Past the bound the command stops, as an interrupt stops it,
 * and one line says so; the next command starts with a fresh budget.
 * Work bound: the same line may scan at most `workBound` bytes of target
 * memory in scans that read all of it (::kgrep, ::ugrep), so that a
 * pipeline with little output (`::walk X | ::kgrep`) cannot run for
 * minutes.  Scripts (-e, standard input, runMdb) and the fuzzers rely on
 * both where a terminal user would press Ctrl-C.
 */

import { spawnSync } from 'node:child_process';
import { fromU64, toU64 } from '../machine/addr.js';
import { TargetReadError, type Target, type TargetSymbol } from '../target/target.js';
import { CtfError, TypeTable } from '../ctf/ctf.js';
import { MessageError } from '../machine/message-error.js';
import type { DataModel } from '../machine/memory.js';
import {
  DCMD_ABORT,
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_LOOP,
  DCMD_LOOPFIRST,
  DCMD_OK,
  DCMD_PIPE,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WALK_DONE,
  WalkError,
  registeredModules,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type MdbModule,
  type OptSpec,
  type OptValues,
  type PrintfArg,
  type WalkerDef,
  type WalkResult,
  type WhatisHandler,
  WHATIS_PRIO_MIN,
  WHATIS_REG_ID_ONLY,
  WHATIS_REG_NO_ID,
} from './module.js';
import { MdbSyntaxError, Parser, isRadixWord, parseExpr, quoteInput, type Arg, type Command, type Expr, type Stage } from './parse.js';
import { Out } from './output.js';
import { mdbSprintf, numToStr } from './printf.js';
import { FormatError, fmtPrint, type FmtReader, type FmtState } from './fmt.js';
import { NoTarget } from './notarget.js';

const M64 = (1n << 64n) - 1n;
/** Longest warning printed (longer ones quote huge input and are cut). */
const WARN_MAX = 400;
/** Most addresses and text one pipeline stage may pass on (memory stays bounded). */
const PIPE_ADDRS_MAX = 1 << 22;
const PIPE_TEXT_MAX = 1 << 26;
/** Default output bound of one command line, characters (createSession option maxOutput). */
export const DEFAULT_OUTPUT_BOUND = 1 << 26;
/** Default work bound of one command line, bytes of target memory scanned (createSession option maxWork). */
export const DEFAULT_WORK_BOUND = 2 ** 34;

export interface MdbIO {
  stdout(s: string): void;
  stderr(s: string): void;
}

export interface DcmdEntry {
  readonly def: DcmdDef;
  readonly module: string;
}
export interface WalkerEntry {
  readonly def: WalkerDef;
  readonly module: string;
}
/** A registered ::whatis handler (illumos whatis_callback_t). */
export interface WhatisEntry {
  readonly module: string;
  readonly h: WhatisHandler;
  /** h.prio clamped to WHATIS_PRIO_MIN. */
  readonly prio: number;
  /** Registration order, across all modules. */
  readonly index: number;
}

/** An error with an mdb message (printed as `mdb: <message>`). */
export class MdbError extends MessageError {}

/** Abort the rest of the current line (DCMD_ABORT, syntax errors). */
class AbortLine extends Error {}

/**
 * Thrown by a write past the output bound, or a scan past the work bound;
 * it unwinds the command (dcmds never see it as their own failure) and the
 * session reports it once.
 */
class LineBoundError extends Error {}

/** Which bound stopped the current command line. */
type LineBound = 'output' | 'work';

/** The input of a pipe-fed stage: the addresses and the next one to run (getPipe() takes the rest). */
interface PipeInput {
  readonly addrs: readonly bigint[];
  next: number;
}

export function hexU(v: bigint): string {
  return (v & M64).toString(16);
}

export class Session {
  target: Target;
  readonly io: MdbIO;
  readonly noTarget: boolean;
  radix = 16;
  dot = 0n;
  lastDot = 0n;
  incr = 0n;
  rvalue = 0n;
  readonly vars = new Map<string, bigint>();
  readonly dcmds = new Map<string, DcmdEntry>();
  readonly walkers = new Map<string, WalkerEntry>();
  readonly macros = new Map<string, string>();
  readonly modules: MdbModule[] = [];
  /**
   * ::whatis handlers, kept sorted as illumos' whatis_cbcmp() (mdb_whatis.c):
   * priority (clamped to WHATIS_PRIO_MIN), module name, registration index.
   */
  readonly whatisHandlers: WhatisEntry[] = [];
  private whatisIndex = 0;
  /** Pipe input for getPipe() (set while a consumer stage runs). */
  pipeIn: PipeInput | null = null;
  /** Synthetic types from ::typedef. */
  synth: TypeTable;
  quitRequested = false;
  /** The last `/`-style format command (for repeating it on an empty line). */
  lastFormat: string | undefined;
  /** Did any command fail since the last reset? */
  failed = false;
  /**
   * Whether `!` runs shell commands.  Off unless the embedder turns it on
   * (the mdb command does), so that a script of untrusted commands cannot
   * reach a shell.
   */
  shellEscapes = false;
  private interruptRequested = false;
  /**
   * An interrupt source outside the session (the terminal's Ctrl-C, read by
   * another thread while a command runs); polled with interruptedFlag.
   */
  interruptProbe: (() => boolean) | undefined;
  /** True once the user interrupted (or a bound was reached): long loops stop and the command returns to the prompt. */
  get interruptedFlag(): boolean {
    return this.interruptRequested || this.stoppedBy !== undefined || (this.interruptProbe !== undefined && this.interruptProbe());
  }
  set interruptedFlag(v: boolean) {
    this.interruptRequested = v;
  }
  /** Largest repeat count accepted (`addr,count`); larger counts are refused. */
  maxRepeat = 1n << 20n;
  /** Most characters one command line may write (0: no bound); see the header comment. */
  outputBound = DEFAULT_OUTPUT_BOUND;
  /** Most bytes of target memory one command line may scan (0: no bound); see the header comment. */
  workBound = DEFAULT_WORK_BOUND;
  /** Characters the current command line has written. */
  private lineOutput = 0;
  /** Bytes of target memory the current command line has scanned. */
  private lineWork = 0;
  /** The bound the current command line went past; it is being stopped. */
  private stoppedBy: LineBound | undefined;
  private depth = 0;
  readonly stdout: Out;
  private curOut: Out;

  constructor(target: Target | undefined, io: MdbIO, modules?: readonly MdbModule[]) {
    this.noTarget = target === undefined;
    this.target = target ?? new NoTarget();
    this.io = io;
    this.stdout = new Out((s) => {
      this.charge(s.length);
      io.stdout(s);
    });
    this.curOut = this.stdout;
    this.synth = new TypeTable(this.target.model);
    for (const m of modules ?? registeredModules()) this.loadModule(m);
  }

  get model(): DataModel {
    return this.target.model;
  }
  get ptrSize(): 4 | 8 {
    return this.target.model.ptrSize;
  }

  loadModule(m: MdbModule): void {
    if (m.appliesTo && !m.appliesTo(this.target)) return;
    this.modules.push(m);
    for (const d of m.dcmds) this.dcmds.set(d.name, { def: d, module: m.name });
    for (const w of m.walkers) this.walkers.set(w.name, { def: w, module: m.name });
    if (m.whatis) for (const h of m.whatis) this.registerWhatis(m.name, h);
    if (m.macros) for (const [k, v] of Object.entries(m.macros)) this.macros.set(k, v);
    if (m.init) {
      const ctx = this.makeCtx(0, 1n, new Out((s) => this.io.stderr(s)), null);
      try {
        m.init({
          target: this.target,
          ctx,
          addWalker: (w) => this.walkers.set(w.name, { def: w, module: m.name }),
          addDcmd: (d) => this.dcmds.set(d.name, { def: d, module: m.name }),
        });
      } catch (e) {
        this.report(e);
      }
    }
  }

  /** illumos mdb_whatis_register(): check the flags, clamp the priority, insert in sorted place. */
  private registerWhatis(module: string, h: WhatisHandler): void {
    const flags = h.flags ?? 0;
    if ((flags & ~(WHATIS_REG_NO_ID | WHATIS_REG_ID_ONLY)) !== 0) {
      this.warn(`mdb_whatis_register(): flags (${flags.toString(16)}) contain unknown flags`);
      return;
    }
    if (flags & WHATIS_REG_NO_ID && flags & WHATIS_REG_ID_ONLY) {
      this.warn(`mdb_whatis_register(): flags (${flags.toString(16)}) contains both NO_ID and ID_ONLY.`);
      return;
    }
    const e: WhatisEntry = { module, h, prio: Math.min(h.prio, WHATIS_PRIO_MIN), index: this.whatisIndex++ };
    const before = (x: WhatisEntry, y: WhatisEntry): boolean =>
      x.prio !== y.prio ? x.prio < y.prio : x.module !== y.module ? x.module < y.module : x.index < y.index;
    let i = this.whatisHandlers.length;
    while (i > 0 && before(e, this.whatisHandlers[i - 1]!)) i--;
    this.whatisHandlers.splice(i, 0, e);
  }

  /** Change the data model (no target only). */
  setModel(model: DataModel): void {
    if (!(this.target instanceof NoTarget)) throw new MdbError('cannot change the data model of an active target');
    this.target.setModel(model);
    this.synth = new TypeTable(model);
  }

  /* ---------- messages ---------- */

  /**
   * `mdb: msg` on stderr; a message longer than WARN_MAX (one quoting huge
   * input) is cut.  Warnings count towards the output bound; once a command
   * is stopped by it, its further warnings are dropped (the bound's own
   * message says the command was cut short).
   */
  warn(msg: string): void {
    const line = msg.endsWith('\n') ? msg.slice(0, -1) : msg;
    const text = 'mdb: ' + (line.length > WARN_MAX ? line.slice(0, WARN_MAX) + '...' : line) + '\n';
    if (this.stoppedBy !== undefined) return;
    if (this.outputBound > 0 && this.lineOutput + text.length > this.outputBound) {
      this.stoppedBy = 'output';
      return;
    }
    this.lineOutput += text.length;
    this.io.stderr(text);
  }

  /**
   * Count n characters of the current command line's output against the
   * bound; past it, stop the command (LineBoundError, and interruptedFlag
   * for loops that catch errors themselves).
   */
  charge(n: number): void {
    if (this.stoppedBy !== undefined) throw new LineBoundError();
    this.lineOutput += n;
    if (this.outputBound > 0 && this.lineOutput > this.outputBound) this.stop('output');
  }

  /**
   * Count n bytes of target memory scanned by the current command line
   * against the work bound (a scan charges each window before it reads
   * it); past it, stop the command as the output bound does.
   */
  chargeWork(n: number): void {
    if (this.stoppedBy !== undefined) throw new LineBoundError();
    this.lineWork += n;
    if (this.workBound > 0 && this.lineWork > this.workBound) this.stop('work');
  }

  private stop(bound: LineBound): never {
    this.stoppedBy = bound;
    throw new LineBoundError();
  }

  /** Start a command line's budgets. */
  private startBudget(): void {
    this.lineOutput = 0;
    this.lineWork = 0;
    this.stoppedBy = undefined;
  }

  /** Say which bound stopped the command line; true if one did. */
  private reportLineBound(): boolean {
    const bound = this.stoppedBy;
    if (bound === undefined) return false;
    this.stoppedBy = undefined;
    this.io.stderr(
      bound === 'output'
        ? `mdb: output limit of ${this.outputBound} characters reached: command stopped, the rest of its output is lost (option maxOutput, mdb --max-output)\n`
        : `mdb: work limit of ${this.workBound} bytes scanned reached: command stopped (option maxWork, mdb --max-work)\n`,
    );
    return true;
  }

  /** Print an exception as an mdb message. */
  report(e: unknown): void {
    if (e instanceof AbortLine || e instanceof LineBoundError) return;
    if (e instanceof TargetReadError) this.warn(e.message.startsWith('failed') ? e.message : `failed to read memory at 0x${hexU(toU64(e.addr))}`);
    else if (e instanceof MessageError || e instanceof DcmdError || e instanceof WalkError || e instanceof FormatError) this.warn(e.message);
    else if (e instanceof CtfError) this.warn(e.message);
    else if (e instanceof RangeError && /call stack/i.test(e.message)) this.warn('recursion too deep');
    else if (e instanceof Error) this.warn(`internal error: ${e.message}`);
    else this.warn(`internal error: ${String(e)}`);
  }

  /* ---------- symbols and numbers ---------- */

  symbolize(u: bigint): string {
    const a = fromU64(u & M64);
    let sym: TargetSymbol | undefined;
    try {
      sym = this.target.symbolByAddr(a);
    } catch {
      sym = undefined;
    }
    if (sym && u !== 0n) {
      const off = a - sym.value;
      return off === 0 ? sym.name : `${sym.name}+${numToStr(BigInt(off), this.radix, true)}`;
    }
    return numToStr(u & M64, 16, true);
  }

  lookupSymbol(name: string): TargetSymbol | undefined {
    let n = name;
    const bt = n.lastIndexOf('`');
    if (bt >= 0) n = n.slice(bt + 1);
    try {
      return this.target.symbolByName(n);
    } catch {
      return undefined;
    }
  }

  /* ---------- expressions ---------- */

  eval(e: Expr): bigint {
    switch (e.k) {
      case 'num':
        return e.v & M64;
      case 'word': {
        const sym = this.lookupSymbol(e.w);
        if (sym) return toU64(sym.value);
        if (isRadixWord(e.w, this.radix)) {
          return parseWordNumber(e.w, this.radix);
        }
        throw new MdbError(`failed to dereference symbol: unknown symbol name '${quoteInput(e.w)}'`);
      }
      case 'dot':
        return this.dot;
      case 'lastdot':
        return this.lastDot;
      case 'plus':
        return (this.dot + this.incr) & M64;
      case 'caret':
        return (this.dot - this.incr) & M64;
      case 'var': {
        const v = this.getVar(e.name);
        if (v === undefined) throw new MdbError(`variable '${e.name}' is not defined`);
        return v;
      }
      case 'un': {
        const v = this.eval(e.e);
        if (e.op === '-') return -v & M64;
        if (e.op === '~') return ~v & M64;
        return v === 0n ? 1n : 0n;
      }
      case 'deref': {
        const a = this.eval(e.e);
        const size = e.size === 0 ? this.ptrSize : e.size;
        try {
          return readLE(this.target, a, size);
        } catch (err) {
          if (err instanceof TargetReadError) throw new MdbError(`failed to dereference 0x${hexU(a)}: no mapping for address`);
          throw err;
        }
      }
      case 'bin': {
        const l = this.eval(e.l);
        const r = this.eval(e.r);
        switch (e.op) {
          case '+':
            return (l + r) & M64;
          case '-':
            return (l - r) & M64;
          case '*':
            return (l * r) & M64;
          case '%':
            if (r === 0n) throw new MdbError('attempted to divide by zero');
            return l / r;
          case '#':
            if (r === 0n) throw new MdbError('attempted to divide by zero');
            return ((l + r - 1n) / r) * r & M64;
          case '<<':
            return r >= 64n ? 0n : (l << r) & M64;
          case '>>':
            return r >= 64n ? 0n : l >> r;
          case '==':
            return l === r ? 1n : 0n;
          case '!=':
            return l !== r ? 1n : 0n;
          case '&':
            return l & r;
          case '^':
            return l ^ r;
          case '|':
            return l | r;
        }
        throw new MdbError(`unknown operator ${e.op}`);
      }
    }
  }

  getVar(name: string): bigint | undefined {
    switch (name) {
      case '.':
        return this.dot;
      case '0':
        return this.rvalue;
      case '9':
        return this.vars.get('9') ?? 1n;
      case 'b':
      case 'd':
      case 'e':
      case 'm':
      case 't':
        return this.vars.get(name) ?? 0n;
    }
    return this.vars.get(name);
  }

  /** Evaluate an expression given as text (dcmd arguments, pipe input). */
  evalText(s: string): bigint {
    return this.eval(parseExpr(s, this.radix));
  }

  /* ---------- running commands ---------- */

  /**
   * Run commands from text (one or more lines).  Returns true if every
   * command succeeded.
   */
  run(text: string): boolean {
    if (++this.depth > 32) {
      this.depth--;
      this.warn('macro nesting too deep');
      this.failed = true;
      return false;
    }
    let ok = true;
    // Nested runs (::eval, $<) write where the calling dcmd writes.
    const outer = this.curOut;
    try {
      const p = new Parser(text, this.radix);
      for (;;) {
        if (this.quitRequested || this.stoppedBy !== undefined) break;
        let cmd: Command | undefined;
        try {
          p.radix = this.radix;
          cmd = p.next();
        } catch (e) {
          this.report(e);
          ok = false;
          this.failed = true;
          p.skipLine();
          continue;
        }
        if (!cmd) break;
        const top = this.depth === 1;
        if (top) this.startBudget();
        let r: boolean;
        try {
          r = this.execCommand(cmd);
        } catch (e) {
          // a nested run (::eval, $<) passes the bound up to the command that ran it
          if (e instanceof LineBoundError && !top) throw e;
          this.report(e);
          r = false;
          if (e instanceof AbortLine) p.skipLine();
        }
        this.curOut = outer;
        outer.indent = 0;
        if (this.stoppedBy === undefined) {
          try {
            outer.endLine();
          } catch (e) {
            if (!(e instanceof LineBoundError) || !top) throw e;
          }
        }
        if (top && this.reportLineBound()) r = false;
        if (!r) {
          ok = false;
          this.failed = true;
        }
      }
    } finally {
      this.depth--;
    }
    return ok;
  }

  private execCommand(cmd: Command): boolean {
    let addrspec = false;
    if (cmd.addr) {
      this.dot = this.eval(cmd.addr);
      addrspec = true;
    }
    let count = 1n;
    if (cmd.count) count = this.eval(cmd.count);
    if (count > this.maxRepeat) throw new MdbError(`repeat count 0x${hexU(count)} is too large`);
    if (cmd.stages.length === 0) return true;
    return this.runPipeline(cmd.stages, addrspec, count, cmd.count !== undefined);
  }

  private runPipeline(stages: Stage[], addrspec: boolean, count: bigint, hasCount: boolean): boolean {
    let ok = true;
    let addrs: bigint[] | null = null; // input addresses for the next stage
    let text: string | null = null; // input text for a shell stage
    for (let si = 0; si < stages.length; si++) {
      const st = stages[si]!;
      const next = stages[si + 1];
      if (st.k === 'shell') {
        const res = this.runShell(st.cmd, text ?? '');
        if (res === null) return false;
        if (st.source) {
          if (!this.run(res)) ok = false;
          return ok;
        }
        if (next) {
          addrs = [];
          for (const line of res.split('\n')) {
            const t = line.trim();
            if (!t) continue;
            addrs.push(this.evalText(t));
          }
          text = null;
        } else {
          this.curOut.write(res);
        }
        continue;
      }
      const capture = next !== undefined;
      let captured = '';
      const out = capture
        ? new Out((s) => {
            this.charge(s.length);
            captured += s;
            if (captured.length > PIPE_TEXT_MAX) throw new MdbError(`pipeline stage output exceeds ${PIPE_TEXT_MAX} characters`);
          })
        : this.curOut;
      const vec: bigint[] = [];
      const pipeFlag = capture && next!.k !== 'shell' ? DCMD_PIPE_OUT : 0;
      if (addrs === null) {
        // first stage: dot, count loop
        const n = count;
        if (n === 0n) return true;
        for (let i = 0n; i < n; i++) {
          let flags = (addrspec ? DCMD_ADDRSPEC : 0) | pipeFlag;
          if (hasCount && n !== 1n) flags |= DCMD_LOOP | (i === 0n ? DCMD_LOOPFIRST : 0);
          const r = this.callStage(st, this.dot, flags, out, pipeFlag ? vec : null, n);
          if (r === DCMD_ABORT) return false;
          if (r !== DCMD_OK) {
            ok = false;
            break;
          }
          if (st.k === 'fmt' && i + 1n < n) this.dot = (this.dot + this.incr) & M64;
          if (this.interruptedFlag) break;
        }
      } else {
        const input: PipeInput = { addrs, next: 0 };
        while (input.next < addrs.length) {
          const a = addrs[input.next]!;
          const flags = DCMD_ADDRSPEC | DCMD_LOOP | DCMD_PIPE | (input.next === 0 ? DCMD_LOOPFIRST : 0) | pipeFlag;
          this.dot = a;
          this.pipeIn = input;
          let r: DcmdResult;
          try {
            r = this.callStage(st, a, flags, out, pipeFlag ? vec : null, 1n);
          } finally {
            this.pipeIn = null;
          }
          if (input.next < addrs.length) input.next++; // else getPipe() took the rest
          if (r === DCMD_ABORT) return false;
          if (r !== DCMD_OK) ok = false;
          if (this.interruptedFlag) break;
        }
      }
      if (capture) {
        if (next!.k === 'shell') {
          out.endLine();
          text = captured;
          addrs = null;
        } else {
          // text output of a piped stage is parsed as addresses too
          for (const tok of captured.split(/\s+/)) {
            if (!tok) continue;
            try {
              vec.push(this.evalText(tok));
            } catch (e) {
              this.report(e);
              ok = false;
            }
          }
          addrs = vec;
        }
      }
    }
    return ok;
  }

  private runShell(cmd: string, input: string): string | null {
    if (!this.shellEscapes) {
      this.warn('shell escapes are disabled (createSession option shellEscapes)');
      return null;
    }
    const shell = process.env.SHELL || '/bin/sh';
    if (cmd.includes('\0')) {
      this.warn('shell command contains a NUL character');
      return null;
    }
    const r = spawnSync(shell, ['-c', cmd], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (r.error) {
      this.warn(`failed to exec ${shell}: ${r.error.message}`);
      return null;
    }
    return r.stdout ?? '';
  }

  /** Run one stage once; returns the dcmd status. */
  private callStage(st: Stage, addr: bigint, flags: number, out: Out, vec: bigint[] | null, count: bigint): DcmdResult {
    const prevOut = this.curOut;
    this.curOut = out;
    try {
      if (st.k === 'fmt') return this.runFormat(st, addr, flags, out);
      if (st.k === 'assign') {
        let v = addr;
        if (st.mod) {
          const bits = st.mod === 'c' ? 8n : st.mod === 's' ? 16n : st.mod === 'i' ? 32n : st.mod === 'l' ? 64n : 0n;
          if (bits === 0n) throw new MdbError(`${st.mod} is not a valid // modifier`);
          v = BigInt.asUintN(Number(bits), v);
        }
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(st.name)) throw new MdbError(`'${st.name.replace(/^[A-Za-z0-9_]*/, '')[0] ?? st.name}' may not be used in a variable name`);
        this.vars.set(st.name, v);
        return DCMD_OK;
      }
      if (st.k === 'dcmd') {
        const argv = st.args.map((a) => this.argString(a));
        return this.invoke(st.name, addr, flags, argv, out, vec, count);
      }
      return DCMD_ERR;
    } finally {
      this.curOut = prevOut;
    }
  }

  private argString(a: Arg): string {
    if (a.k === 'str') return a.s;
    return '0x' + hexU(this.eval(a.e));
  }

  /** Call a dcmd by name with full error handling. */
  invoke(name: string, addr: bigint, flags: number, argv: readonly string[], out: Out, vec: bigint[] | null, count = 1n): DcmdResult {
    const ent = this.dcmds.get(name);
    if (!ent) {
      const shown = name.startsWith('$') || name.startsWith(':') ? name : '::' + name;
      if (name.startsWith(':') && name.length === 2) throw new MdbError(`command is not supported by current target`);
      this.warn(`invalid command '${quoteInput(shown)}': unknown dcmd name`);
      return DCMD_ERR;
    }
    if ((flags & DCMD_ADDRSPEC) === 0 && ent.def.usage.startsWith(':') && !ent.def.checksAddrspec) {
      this.printUsage(ent.def);
      return DCMD_USAGE;
    }
    const ctx = this.makeCtx(flags, count, out, vec);
    this.lastDot = addr;
    let r: DcmdResult;
    try {
      r = ent.def.fn(ctx, fromU64(addr), flags, argv);
    } catch (e) {
      if (e instanceof LineBoundError) throw e;
      this.report(e);
      // a syntax error in an argument is the same for every pipeline input: stop the line
      return e instanceof MdbSyntaxError ? DCMD_ABORT : DCMD_ERR;
    }
    if (r === DCMD_USAGE) this.printUsage(ent.def);
    return r;
  }

  printUsage(d: DcmdDef): void {
    const n = d.name.startsWith('$') || d.name.startsWith(':') ? d.name : '::' + d.name;
    const u = d.usage.replace(/^[:?]/, '');
    const pre = d.usage.startsWith(':') ? 'addr ' : d.usage.startsWith('?') ? '[addr] ' : '';
    this.io.stderr(`Usage: ${pre}${n}${u ? ' ' + u.trimStart() : ''}\n`);
  }

  /* ---------- format verbs ---------- */

  private reader(verb: string): FmtReader {
    const t = this.target;
    return {
      ptrSize: this.ptrSize,
      radix: this.radix,
      symbolize: (a) => this.symbolize(a),
      read: (addr: bigint, n: number) => {
        if (verb === '=') {
          const b = new Uint8Array(n);
          let v = this.dot;
          for (let i = 0; i < n; i++) {
            b[i] = Number(v & 0xffn);
            v >>= 8n;
          }
          return b;
        }
        try {
          return t.read(fromU64(addr), n);
        } catch (e) {
          if (e instanceof TargetReadError || e instanceof RangeError) throw new MdbError(`failed to read data from target at 0x${hexU(addr)}`);
          throw e;
        }
      },
    };
  }

  /**
   * An empty input line repeats the last format verb at the next address
   * (dot plus the increment), as in adb and mdb.  Returns false if there is
   * nothing to repeat.
   */
  repeatLast(): boolean {
    if (this.lastFormat === undefined) return false;
    this.run('+' + this.lastFormat);
    return true;
  }

  private runFormat(st: Extract<Stage, { k: 'fmt' }>, addr: bigint, flags: number, out: Out): DcmdResult {
    const verb = st.verb;
    if (verb !== '=') this.lastFormat = verb + st.raw;
    let items = st.items;
    const first = items[0];
    // write and match verbs
    if (verb !== '=' && first && first.k === 'char' && 'vwWZ'.includes(first.c)) return this.writeFormat(first.c, addr, st.args.map((a) => this.argValue(a)));
    if (verb !== '=' && first && first.k === 'char' && 'lLM'.includes(first.c)) return this.matchFormat(first.c, addr, st.args.map((a) => this.argValue(a)), out, flags);
    if (verb === '=' && items.length === 0) throw new MdbError("expected one or more format characters following '='");
    if (st.args.length > 0) throw new MdbError(`syntax error: unexpected argument '${st.args[0]!.k === 'str' ? st.args[0]!.s : '$[...]'}'`);
    if (items.length === 0) items = [{ k: 'char', c: 'X', n: 1n }];
    const fs: FmtState = { out, incr: this.incr, rvalue: this.rvalue };
    const r = this.reader(verb);
    if (verb === '=') {
      out.indent = 16;
      let dot = addr;
      for (const it of items) {
        if (it.k === 'str') out.write(it.s);
        else {
          const nd = fmtPrint(r, fs, dot, it.n, it.c);
          if (it.c === '+' || it.c === '-') dot = nd;
        }
      }
      out.indent = 0;
      this.rvalue = fs.rvalue;
      this.dot = dot;
      this.incr = 0n;
      return DCMD_OK;
    }
    const hdr = (flags & DCMD_LOOPFIRST) !== 0 || (flags & DCMD_LOOP) === 0;
    if (hdr && (flags & DCMD_PIPE_OUT) === 0) {
      const a = fromU64(addr);
      let sym: TargetSymbol | undefined;
      try {
        sym = this.target.symbolByAddr(a);
      } catch {
        sym = undefined;
      }
      if (sym && sym.value === a) out.write(`${sym.name}:\n`);
      const label = this.symbolize(addr) + ':';
      out.write(label.padEnd(16));
      const rem = out.col % 16;
      if (rem) out.write(' '.repeat(16 - rem));
    }
    out.indent = 16;
    const oaddr = addr;
    try {
      for (const it of items) {
        if (it.k === 'str') out.write(it.s);
        else {
          const na = fmtPrint(r, fs, addr, it.n, it.c);
          fs.incr = (na - addr) & M64;
          addr = na;
        }
      }
    } finally {
      out.indent = 0;
      this.rvalue = fs.rvalue;
      this.incr = (addr - oaddr) & M64;
    }
    return DCMD_OK;
  }

  private argValue(a: Arg): bigint {
    if (a.k === 'imm') return this.eval(a.e);
    return this.evalText(a.s);
  }

  private writeFormat(c: string, addr: bigint, values: bigint[]): DcmdResult {
    if (values.length === 0) throw new MdbError(`expected value to write following ${c}`);
    const size = c === 'v' ? 1 : c === 'w' ? 2 : c === 'W' ? 4 : 8;
    for (const v of values) {
      const b = new Uint8Array(size);
      let x = v;
      for (let i = 0; i < size; i++) {
        b[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      if (!this.target.writable) {
        this.warn(`failed to write 0x${hexU(v)} at address 0x${hexU(addr)}: ${this.noTarget ? 'no target' : 'target is not open for writing'}`);
        this.incr = 0n;
        return DCMD_ERR;
      }
      try {
        this.target.write(fromU64(addr), b);
      } catch {
        this.warn(`failed to write 0x${hexU(v)} at address 0x${hexU(addr)}`);
        this.incr = 0n;
        return DCMD_ERR;
      }
      addr = (addr + BigInt(size)) & M64;
    }
    this.incr = BigInt(size);
    return DCMD_OK;
  }

  private matchFormat(c: string, addr: bigint, values: bigint[], out: Out, flags: number): DcmdResult {
    if (values.length < 1) throw new MdbError(`expected value following ${c}`);
    if (values.length > 2) throw new MdbError(`only value and mask may follow ${c}`);
    const size = c === 'l' ? 2 : c === 'L' ? 4 : 8;
    const mask = (values[1] ?? M64) & ((1n << BigInt(size * 8)) - 1n);
    const val = values[0]! & mask;
    const r = this.reader('/');
    for (let n = 0; n < 1 << 24; n++) {
      let x: bigint;
      try {
        x = readBytesLE(r.read(addr, size));
      } catch {
        break;
      }
      if ((x & mask) === val) {
        out.write(this.symbolize(addr) + '\n');
        break;
      }
      addr = (addr + BigInt(size)) & M64;
    }
    this.dot = addr;
    void flags;
    return DCMD_OK;
  }

  /* ---------- dcmd context ---------- */

  makeCtx(flags: number, count: bigint, out: Out, vec: bigint[] | null): DcmdContext {
    return new Ctx(this, flags, Number(count), out, vec);
  }

  /**
   * Run a walker; returns false on failure (error printed in illumos'
   * words: an unknown name is "failed to perform walk: unknown walk name";
   * a walker that fails says why, and if it failed before reporting
   * anything (illumos' walk_init) mdb adds "failed to perform walk: failed
   * to initialize walk").
   */
  walk(name: string, addr: number | undefined, ctx: DcmdContext, cb: (a: number) => WalkResult | void): boolean {
    const w = this.walkers.get(name);
    if (!w) {
      this.warn('failed to perform walk: unknown walk name');
      return false;
    }
    let n = 0;
    try {
      for (const a of w.def.walk(ctx, addr)) {
        n++;
        if (cb(a) === WALK_DONE) break;
        if ((n & 0xfff) === 0 && this.interruptedFlag) break;
      }
    } catch (e) {
      if (e instanceof TargetReadError) this.warn(`${name}: failed to read memory at 0x${hexU(toU64(e.addr))}`);
      else if (e instanceof WalkError) this.warn(e.message);
      else throw e;
      if (n === 0) this.warn('failed to perform walk: failed to initialize walk');
      return false;
    }
    return true;
  }

  /** Look up a type by name: the target's types, then ::typedef's. */
  lookupType(name: string): { tt: TypeTable; id: number } | undefined {
    const n = name.trim().replace(/\s+/g, ' ');
    for (const tt of [this.target.types, this.synth]) {
      const id = tt.find(n);
      if (id !== undefined) return { tt, id };
    }
    return undefined;
  }

  get out(): Out {
    return this.curOut;
  }
}

function parseWordNumber(w: string, radix: number): bigint {
  let v = 0n;
  const B = BigInt(radix);
  for (const ch of w) {
    if (ch === '_') continue;
    v = v * B + BigInt(parseInt(ch, 36));
    if (v > M64) throw new MdbSyntaxError(`number exceeds 64 bits: ${w}`);
  }
  return v;
}

function readBytesLE(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export function readLE(t: Target, a: bigint, size: number): bigint {
  return readBytesLE(t.read(fromU64(a), size));
}

class Ctx implements DcmdContext {
  constructor(
    private readonly s: Session,
    readonly flags: number,
    readonly count: number,
    private readonly o: Out,
    private readonly vec: bigint[] | null,
  ) {}
  get target(): Target {
    return this.s.target;
  }
  get model(): DataModel {
    return this.s.target.model;
  }
  get types(): TypeTable {
    return this.s.target.types;
  }
  get ptrSize(): 4 | 8 {
    return this.s.ptrSize;
  }
  get ptrWidth(): 16 | 8 {
    return this.s.ptrSize === 8 ? 16 : 8;
  }
  get dot(): number {
    return fromU64(this.s.dot);
  }
  out(str: string): void {
    this.o.write(str);
  }
  printf(fmt: string, ...args: PrintfArg[]): void {
    this.o.write(this.sprintf(fmt, ...args));
  }
  sprintf(fmt: string, ...args: PrintfArg[]): string {
    return mdbSprintf(fmt, args, { ptrSize: this.s.ptrSize, radix: this.s.radix, symbolize: (a) => this.s.symbolize(a), col: this.o.col });
  }
  warn(msg: string): void {
    this.s.warn(msg);
  }
  pipeOut(addr: number): void {
    if (this.vec && (this.flags & DCMD_PIPE_OUT)) {
      if (this.vec.length >= PIPE_ADDRS_MAX) throw new MdbError(`pipeline holds more than ${PIPE_ADDRS_MAX} addresses`);
      const a = toU64(addr);
      this.s.charge(hexU(a).length + 1); // what the address would print as (mdb's %#lr\n)
      this.vec.push(a);
    }
    else this.o.write(hexU(toU64(addr)) + '\n');
  }
  getopts<S extends OptSpec>(argv: readonly string[], spec: S): { opts: OptValues<S>; rest: string[] } | undefined {
    const opts: Record<string, unknown> = {};
    for (const [k, kind] of Object.entries(spec)) opts[k] = kind === 'bool' ? false : kind === 'count' ? 0 : undefined;
    const rest: string[] = [];
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (!a.startsWith('-') || a === '-' || /^-[0-9]/.test(a) && !(a[1]! in spec)) break;
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        const kind = spec[ch];
        if (!kind) {
          this.s.warn(`illegal option -- ${ch}`);
          return undefined;
        }
        if (kind === 'bool') opts[ch] = true;
        else if (kind === 'count') opts[ch] = (opts[ch] as number) + 1;
        else {
          let val = a.slice(j + 1);
          if (val === '') {
            if (i + 1 >= argv.length) {
              this.s.warn(`option requires an argument -- ${ch}`);
              return undefined;
            }
            val = argv[++i]!;
          }
          if (kind === 'string') opts[ch] = val;
          else {
            const v = this.s.evalText(val);
            opts[ch] = kind === 'u64' ? v : fromU64(v);
          }
          break;
        }
      }
    }
    for (; i < argv.length; i++) rest.push(argv[i]!);
    return { opts: opts as OptValues<S>, rest };
  }
  parseValue(str: string): number {
    return fromU64(this.s.evalText(str));
  }
  parseCount(str: string, what: string): number {
    const v = this.s.evalText(str);
    if (v > this.s.maxRepeat) throw new DcmdError(`${what} 0x${hexU(v)} is too large (at most 0x${hexU(this.s.maxRepeat)})`);
    return Number(v);
  }
  symbolize(addr: number): string {
    return this.s.symbolize(toU64(addr));
  }
  symbolByName(name: string): TargetSymbol | undefined {
    return this.s.lookupSymbol(name);
  }
  hexPtr(addr: number): string {
    const h = toU64(addr) & ((1n << BigInt(this.s.ptrSize * 8)) - 1n);
    return h.toString(16).padStart(this.ptrWidth, '0');
  }
  hex(addr: number): string {
    return hexU(toU64(addr));
  }
  callDcmd(name: string, addr: number | undefined, argv: readonly string[] = [], flags?: number): DcmdResult {
    const f = flags ?? (addr !== undefined ? DCMD_ADDRSPEC : 0);
    const a = addr !== undefined ? toU64(addr) : this.s.dot;
    const saved = this.s.dot;
    this.s.dot = a;
    try {
      return this.s.invoke(name, a, f, argv, this.o, this.vec);
    } finally {
      this.s.dot = saved;
    }
  }
  walk(name: string, addr: number | undefined, cb: (addr: number) => WalkResult | void): boolean {
    return this.s.walk(name, addr, this, cb);
  }
  walkAll(name: string, addr?: number): number[] | null {
    const out: number[] = [];
    return this.walk(name, addr, (a) => {
      out.push(a);
    })
      ? out
      : null;
  }
  hasWalker(name: string): boolean {
    return this.s.walkers.has(name);
  }
  readString(addr: number, max = 1024): string {
    const bytes: number[] = [];
    for (let i = 0; i < max; i++) {
      let b: number;
      try {
        b = this.s.target.load8(addr + i);
      } catch {
        break;
      }
      if (b === 0) break;
      bytes.push(b);
    }
    return String.fromCharCode(...bytes);
  }
  readMember(addr: number, type: string, member: string): number {
    const t = this.s.lookupType(type);
    if (!t) throw new DcmdError(`failed to look up type ${type}`);
    const m = t.tt.member(t.id, member);
    const size = t.tt.sizeof(m.type);
    const a = addr + Math.floor(m.bitOffset / 8);
    const rt = t.tt.get(t.tt.resolve(m.type));
    if (rt.kind === 'ptr') return this.s.target.loadPtr(a);
    let v = readBytesLE(this.s.target.read(a, Math.max(1, Math.min(size, 8))));
    if (m.bits) v = (v >> BigInt(m.bitOffset % 8)) & ((1n << BigInt(m.bits)) - 1n);
    if (rt.kind === 'int' && rt.signed && !m.bits) v = BigInt.asIntN(size * 8, v);
    return fromU64(v);
  }
  interrupted(): boolean {
    return this.s.interruptedFlag;
  }
  chargeWork(bytes: number): void {
    this.s.chargeWork(bytes);
  }
  getPipe(): number[] {
    const p = this.s.pipeIn;
    if (!p) return [];
    const out = p.addrs.slice(p.next).map((x) => fromU64(x));
    p.next = p.addrs.length;
    return out;
  }
}

export { DCMD_ERR, DCMD_OK, DCMD_USAGE, DCMD_ABORT, AbortLine };
