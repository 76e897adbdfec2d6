/*
 * Interactive mdb on a terminal: Ctrl-C that interrupts a running command,
 * illumos mdb's output pager, and tab completion.
 *
 * Theory
 * ------
 * Commands run synchronously on the main thread, so nothing on that thread
 * can see a key until the command ends.  The keyboard therefore belongs to
 * a second thread (keyboard-thread.ts) that reads standard input with
 * blocking reads and shares a few Int32 slots with the main thread
 * (keyboard-state.ts):
 *
 *   - Ctrl-C while a command runs sets INTERRUPT; the session polls it
 *     (Session.interruptProbe) in its command, pipeline and walk loops and
 *     in long dcmds, stops, and mdb returns to the prompt, printing nothing
 *     special, as illumos mdb does;
 *   - the pager, which runs inside the command's output path, blocks in
 *     Atomics.wait until the keyboard thread hands it one key;
 *   - every other byte goes to readline through a stream, in order, so
 *     type-ahead and pasted text are not lost or garbled.
 *
 * The pager is illumos mdb's (mdb_io.c): when a command's output is about
 * to fill the screen it prints `>> More [<space>, <cr>, q, n, c, a] ?` and
 * waits: space shows another page, return or n one more line, c the rest
 * without stopping, q (or Ctrl-C) and a drop the rest of the output and
 * stop the command.  It counts lines per command and is used only when
 * standard output is a terminal.  A page is as long as the terminal is
 * when the pager counts it: the terminal may be resized while a command
 * runs or while the pager waits, and Node learns of it (SIGWINCH, the
 * 'resize' event) only on the event loop, which does not turn until the
 * command ends; terminalRows asks the terminal itself.
 */

import { writeSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Session } from '../mdb/session.js';
import type { TypeTable } from '../ctf/ctf.js';
import { BUSY, INTERRUPT, KEY, NO_KEY, SLOTS, WANT_KEY } from './keyboard-state.js';

/** The terminal's keyboard, read by its own thread. */
export class Keyboard {
  /** What readline reads: every byte not taken by Ctrl-C or the pager. */
  readonly input = new PassThrough();
  private readonly state = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private readonly worker: Worker;

  constructor() {
    this.state[KEY] = NO_KEY;
    process.stdin.setRawMode(true);
    this.worker = new Worker(new URL('./keyboard-thread.js', import.meta.url), { workerData: this.state.buffer });
    this.worker.on('message', (b: Buffer | null) => (b === null ? this.input.end() : this.input.write(b)));
  }

  /** A command starts: Ctrl-C now interrupts it. */
  beginCommand(): void {
    Atomics.store(this.state, INTERRUPT, 0);
    Atomics.store(this.state, BUSY, 1);
  }

  endCommand(): void {
    Atomics.store(this.state, BUSY, 0);
  }

  get interrupted(): boolean {
    return Atomics.load(this.state, INTERRUPT) !== 0;
  }

  /** Wait for one key (a byte); undefined at the end of input. */
  readKey(): number | undefined {
    Atomics.store(this.state, KEY, NO_KEY);
    Atomics.store(this.state, WANT_KEY, 1);
    Atomics.wait(this.state, KEY, NO_KEY);
    const k = Atomics.load(this.state, KEY);
    return k === NO_KEY ? undefined : k;
  }

  /** Give the terminal back as it was. */
  close(): void {
    process.stdin.setRawMode(false);
  }
}

/** What a tty stream's handle offers: the terminal's size now ([columns, rows]; 0 on success). */
interface TtyHandle {
  getWindowSize?(size: number[]): number;
}

/**
 * The terminal's rows now: asked of the tty through the stream's handle
 * (TIOCGWINSZ, as Node's own SIGWINCH handler does, but without emitting
 * 'resize' in the middle of a command, on which readline would redraw its
 * prompt), else the size Node last knew, else 24.
 */
export function terminalRows(out: NodeJS.WriteStream): number {
  const handle = (out as NodeJS.WriteStream & { _handle?: TtyHandle })._handle;
  const size = [0, 0];
  if (handle?.getWindowSize && handle.getWindowSize(size) === 0 && size[1]! > 0) return size[1]!;
  return out.rows || 24;
}

const PROMPT = '>> More [<space>, <cr>, q, n, c, a] ? ';
const CTRL_C = 3;
const CTRL_BACKSLASH = 0x1c;

/** illumos mdb's output pager over a writer that reaches the terminal. */
export class Pager {
  private lines = 0;
  /** `n`/return: prompt again after one line. */
  private single = false;
  /** `c`: no more prompts for this command. */
  private continuous = false;
  /** `q`/`a`: the rest of this command's output is dropped. */
  private quitting = false;

  constructor(
    private readonly rows: () => number,
    private readonly write: (s: string) => void,
    private readonly flush: () => void,
    private readonly readKey: () => number | undefined,
  ) {}

  /** A new command: count lines from zero, prompt again. */
  reset(): void {
    this.lines = 0;
    this.single = false;
    this.continuous = false;
    this.quitting = false;
  }

  /** True once the user quit at the prompt: the command should stop. */
  get quit(): boolean {
    return this.quitting;
  }

  output(s: string): void {
    let from = 0;
    while (!this.quitting && from < s.length) {
      const nl = s.indexOf('\n', from);
      if (nl < 0) {
        this.write(s.slice(from));
        return;
      }
      if (!this.continuous && (this.single || this.lines >= Math.max(this.rows() - 1, 1))) this.ask();
      if (this.quitting) return;
      this.write(s.slice(from, nl + 1));
      this.lines++;
      from = nl + 1;
    }
  }

  private ask(): void {
    this.flush();
    writeSync(1, PROMPT);
    for (;;) {
      const k = this.readKey();
      const c = k === undefined ? 'q' : String.fromCharCode(k).toLowerCase();
      if (c === 'n' || c === '\r' || c === '\n') {
        this.single = true;
        break;
      }
      if (c === ' ' || c === 'c') {
        this.single = false;
        this.continuous = c === 'c';
        break;
      }
      if (c === 'q' || c === 'a' || k === CTRL_C || k === CTRL_BACKSLASH) {
        this.quitting = true;
        break;
      }
    }
    writeSync(1, `\r${' '.repeat(PROMPT.length)}\r`);
    this.lines = 0;
  }
}

/* ---------------------------------------------------------------- completion */

/** Member names at `path.` (dotted, possibly empty) inside a struct or union type. */
function memberNames(T: TypeTable, type: string, path: string): string[] {
  let id = T.find(type);
  if (id === undefined) return [];
  try {
    if (path !== '') id = T.member(id, path.replace(/\.$/, '')).type;
    return T.members(id)
      .map((m) => m.name)
      .filter((n) => n !== '');
  } catch {
    return [];
  }
}

const TYPE_WORD = String.raw`(?:(?:struct|union|enum)\s+)?[A-Za-z_]\w*`;

/**
 * readline's completer for mdb: dcmd names after `::`, walker names after
 * `::walk`, type names after `::print`, `::sizeof`, `::offsetof`, member
 * names after the type of `::print` and `::offsetof`, macros after `$<`,
 * and symbols elsewhere.
 */
export function mdbCompleter(s: Session): (line: string) => [string[], string] {
  return (line) => {
    const pick = (cands: Iterable<string>, word: string): [string[], string] => [
      [...new Set([...cands].filter((c) => c.startsWith(word)))].sort().slice(0, 200),
      word,
    ];
    const types = (): string[] => [...s.target.types.names(), ...s.synth.names()];
    const member = new RegExp(String.raw`::(?:print|offsetof)\s+(?:-\w+\s+)*(${TYPE_WORD})\s+(?:\S+\s+)*?((?:\w+\.)*)(\w*)$`).exec(line);
    if (member && !/^(?:struct|union|enum)$/.test(member[1]!)) {
      const [, type, path, word] = member as unknown as [string, string, string, string];
      const T = s.target.types.find(type) !== undefined ? s.target.types : s.synth;
      return pick(
        memberNames(T, type, path).map((n) => path + n),
        path + word,
      );
    }
    const typeArg = /::(?:print|sizeof|offsetof)\s+(?:-\w+\s+)*((?:(?:struct|union|enum)\s+)?[\w]*)$/.exec(line);
    if (typeArg) return pick(types(), typeArg[1]!);
    const m = /(::|\$<|::walk\s+|::help\s+|[\s(+*%-]|^)([A-Za-z0-9_`$.]*)$/.exec(line);
    if (!m) return [[], line];
    const lead = m[1] ?? '';
    const word = m[2] ?? '';
    if (lead === '::') return pick([...s.dcmds.keys()].filter((n) => !n.startsWith('$') && !n.startsWith(':')), word);
    if (/^::walk/.test(lead)) return pick(s.walkers.keys(), word);
    if (/^::help/.test(lead)) return pick(s.dcmds.keys(), word);
    if (lead === '$<') return pick(s.macros.keys(), word);
    return pick(
      s.target.symbols().map((x) => x.name),
      word,
    );
  };
}
