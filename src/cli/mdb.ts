/*
 * The mdb command:
 *
 *   mdb [-e CMDS]... [--max-output N] [--max-work N] [unix.N vmcore.N | vmcore.N | N | DIR [N] | PROG.wasm core.N | core.N]
 *   mdb -k [-w] [--scenario NAME] [--kmem-flags X] [--model M] [--seed N] [--at S] [-e CMDS]...
 *
 * A program core (core.N of a wasm32 program, docs/wasm-core.md) is
 * opened by the program core reader; everything else is a kernel dump.
 * -k opens a live simulated kernel (mdb-live.ts) instead; -w allows
 * writes to it.
 * Without a target, mdb works on expressions, formats and synthetic types
 * (and says so at the prompt).  Commands come from -e (each in order), from
 * standard input when it is not a terminal, or from an interactive prompt
 * with history, completion, Ctrl-C and a pager (terminal.ts).  With -e or
 * standard input the exit status is non-zero if a command failed.
 * --max-output bounds what one command line may print, --max-work the bytes
 * of memory it may scan (the session's bounds, session.ts; 0: no bound).  Options
 * are parsed by node:util parseArgs; one we lack is refused by name.
 */

import { readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { Target } from '../target/target.js';
import { createSession, DEFAULT_OUTPUT_BOUND, DEFAULT_WORK_BOUND, type SessionOptions } from '../mdb/index.js';
import { Keyboard, Pager, mdbCompleter, terminalRows } from './terminal.js';
import { packageVersion } from './version.js';
import { openLiveTarget, takeLiveArgs, type LiveArgs } from './mdb-live.js';
import { OptionError } from './system-options.js';

const USAGE = `Usage: mdb [-e commands]... [--max-output n] [--max-work n] [unix.N vmcore.N | vmcore.N | N | dir [N] | prog.wasm core.N | core.N]
       mdb -k [-w] [--scenario name] [--kmem-flags flags] [--model lp64|ilp32] [--seed n] [--at seconds] [-e commands]...
  -e commands   run the commands and exit (repeatable: run in order)
  -k            a live simulated kernel (-w: writable)
  --max-output n  stop a command line that prints more than n characters
                (default ${DEFAULT_OUTPUT_BOUND}; 0: no limit)
  --max-work n  stop a command line that scans more than n bytes of memory
                (::kgrep, ::ugrep; default ${DEFAULT_WORK_BOUND}; 0: no limit)
  --version     print the version
  --help        print this help
Without -e, commands are read from standard input, or from a prompt when it
is a terminal.  Without a dump, mdb works on expressions, formats and types.
`;

/** A command-line mistake: a one-line message and the usage line, exit status 2. */
function usageError(msg: string): never {
  process.stderr.write(`mdb: ${msg}\n${USAGE.split('\n')[0]}\n`);
  process.exit(2);
}

interface MdbArgs {
  /** The -e command strings, in order. */
  readonly commands: readonly string[];
  readonly files: readonly string[];
  /** --max-output and --max-work: the session's bounds (absent: the defaults). */
  readonly bounds: Pick<SessionOptions, 'maxOutput' | 'maxWork'>;
}

/** Parse the command line (node:util parseArgs); options we lack are refused by name. */
function parseMdbArgs(argv: string[]): MdbArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        e: { type: 'string', short: 'e', multiple: true },
        k: { type: 'boolean', short: 'k' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
        'max-output': { type: 'string' },
        'max-work': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) usageError(`${unknown[1]}: not supported`);
    const bound = /--max-(output|work)/.exec(msg);
    if (/argument missing/.test(msg)) usageError(bound ? `${bound[0]} needs a number` : '-e needs a command string');
    usageError(msg.split('\n')[0]!);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (v.version) {
    process.stdout.write(`mdb (kmemdb) ${packageVersion()}\n`);
    process.exit(0);
  }
  if (parsed.positionals.length > 2) usageError('too many operands (give unix.N vmcore.N, vmcore.N, N, or a directory)');
  const maxOutput = boundArg('--max-output', 'characters', v['max-output']);
  const maxWork = boundArg('--max-work', 'bytes', v['max-work']);
  return {
    commands: v.e ?? [],
    files: parsed.positionals,
    bounds: { ...(maxOutput !== undefined ? { maxOutput } : {}), ...(maxWork !== undefined ? { maxWork } : {}) },
  };
}

/** The number a bound option gives (undefined when absent). */
function boundArg(option: string, unit: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) usageError(`${option} needs a number of ${unit} (0: no limit), not '${text.slice(0, 40)}'`);
  return Number(text);
}

class Writer {
  private buf: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
  }
  flush(): void {
    if (this.size === 0) return;
    const data = this.buf.join('');
    this.buf = [];
    this.size = 0;
    try {
      writeSync(this.fd, data);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        // non-blocking pipe: retry in small pieces
        let off = 0;
        while (off < data.length) {
          try {
            off += writeSync(this.fd, data.slice(off, off + 4096));
          } catch (e2) {
            if ((e2 as NodeJS.ErrnoException).code !== 'EAGAIN') throw e2;
          }
        }
        return;
      }
      throw e;
    }
  }
}

/** Resolve the dump files named on the command line. */
function dumpFiles(args: readonly string[]): { unix: string; vmcore: string } {
  if (args.length === 2) {
    // `mdb DIR N`: dump N in crash directory DIR (what `kmemdb demo` prints)
    if (/^\d+$/.test(args[1]!) && safeIsDir(args[0]!)) return { unix: join(args[0]!, `unix.${args[1]}`), vmcore: join(args[0]!, `vmcore.${args[1]}`) };
    return { unix: args[0]!, vmcore: args[1]! };
  }
  const a = args[0]!;
  if (/^\d+$/.test(a)) return { unix: `unix.${a}`, vmcore: `vmcore.${a}` };
  // `mdb DIR/vmcore.N`: its namelist is DIR/unix.N
  const core = /^(.*?)vmcore\.(\d+)$/.exec(a);
  if (core) return { unix: `${core[1]}unix.${core[2]}`, vmcore: a };
  let st;
  try {
    st = statSync(a);
  } catch {
    throw new Error(`failed to open ${a}: No such file or directory`);
  }
  if (st.isDirectory()) {
    let n = -1;
    try {
      const b = readFileSync(join(a, 'bounds'), 'utf8').trim();
      if (/^\d+$/.test(b)) n = Number(b) - 1;
    } catch {
      /* no bounds file */
    }
    if (n < 0 || !safeExists(join(a, `vmcore.${n}`))) {
      for (const f of readdirSync(a)) {
        const m = /^vmcore\.(\d+)$/.exec(f);
        if (m && Number(m[1]) > n) n = Number(m[1]);
      }
    }
    if (n < 0) throw new Error(`no crash dump found in ${a}`);
    return { unix: join(a, `unix.${n}`), vmcore: join(a, `vmcore.${n}`) };
  }
  throw new Error(`${a}: specify both unix.N and vmcore.N, a dump number, or a directory`);
}

/**
 * Refuse a dump file that is not a regular file before opening it: opening a
 * FIFO blocks until a writer comes, and a directory or device is no dump.
 */
function requireRegularFile(p: string): void {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`failed to open ${p}: ${code === 'ENOENT' ? 'No such file or directory' : code ?? String(e)}`);
  }
  if (st.isFile()) return;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file';
  throw new Error(`failed to open ${p}: is ${kind}, not a regular file`);
}

function safeIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function safeExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

type DumpOpener = (unix: string, vmcore: string) => Target | Promise<Target>;

/** Open a dump through the dump reader (loaded lazily: mdb itself does not depend on it). */
async function openDumpTarget(unix: string, vmcore: string): Promise<Target> {
  const here = fileURLToPath(import.meta.url);
  const readerPath = resolve(here, '..', '..', 'target', 'dump-target.js');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(readerPath).href)) as Record<string, unknown>;
  } catch {
    throw new Error('cannot open crash dumps: the dump reader (dist/src/target/dump-target.js) is not available');
  }
  const open = (mod.openDump ?? mod.openDumpTarget ?? mod.readDump) as DumpOpener | undefined;
  if (typeof open !== 'function') throw new Error('cannot open crash dumps: the dump reader exports no openDump()');
  return await open(unix, vmcore);
}

/**
 * Load the optional mdb modules (genunix, netbsd): each registers itself with
 * registerModule() when imported.  A missing module file is not an error.
 */
async function loadModules(): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  for (const name of ['genunix', 'netbsd', 'libumem']) {
    const file = resolve(here, '..', '..', 'mdb', 'modules', `${name}.js`);
    if (!safeExists(file)) continue;
    try {
      await import(pathToFileURL(file).href);
    } catch (e) {
      process.stderr.write(`mdb: failed to load module ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  let live: LiveArgs = {};
  // -kw is -k -w
  argv = argv.flatMap((a) => (/^-[kwfS]{2,}$/.test(a) ? [...a.slice(1)].map((c) => `-${c}`) : [a]));
  const kernel = argv.includes('-k');
  if (kernel) {
    try {
      ({ live, rest: argv } = takeLiveArgs(argv));
    } catch (e) {
      if (!(e instanceof OptionError)) throw e;
      usageError(e.message);
    }
  }
  const args = parseMdbArgs(argv);
  const rest = args.files;
  const cmds = args.commands.length > 0 ? args.commands.join('\n') : undefined;

  const out = new Writer(1);
  const err = new Writer(2);
  let pagedOutput: ((x: string) => void) | undefined;
  const io = {
    stdout: (x: string) => (pagedOutput ? pagedOutput(x) : out.write(x)),
    stderr: (x: string) => {
      out.flush();
      err.write(x);
      err.flush();
    },
  };

  let target: Target | undefined;
  if (kernel) {
    if (rest.length > 0) usageError('-k takes no dump');
    try {
      const r = await openLiveTarget(live);
      target = r.target;
      out.write(r.notice);
    } catch (e) {
      process.stderr.write(`mdb: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  } else if (rest.length > 0) {
    try {
      const { resolveProgramCore, openProgramCore } = await import('../target/wasm-core-args.js');
      const core = resolveProgramCore(rest);
      if (core) {
        const t = openProgramCore(core);
        for (const w of t.warnings) io.stderr(`mdb: warning: ${w}\n`);
        target = t;
      }
      else {
        const { unix, vmcore } = dumpFiles(rest);
        requireRegularFile(unix);
        requireRegularFile(vmcore);
        target = await openDumpTarget(unix, vmcore);
      }
    } catch (e) {
      process.stderr.write(`mdb: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }

  await loadModules();
  const s = createSession(target, io, [], { shellEscapes: true, ...args.bounds });
  process.on('SIGINT', () => {
    s.interruptedFlag = true;
  });

  if (cmds !== undefined) {
    s.run(cmds);
    out.flush();
    process.exitCode = s.failed ? 1 : 0;
    return;
  }

  if (!process.stdin.isTTY) {
    // Read stdin asynchronously: readFileSync(0) can fail with EAGAIN on a
    // non-blocking pipe.
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    const text = Buffer.concat(chunks).toString('utf8');
    s.run(text);
    out.flush();
    process.exitCode = s.failed ? 1 : 0;
    return;
  }

  if (!target) process.stderr.write('mdb: no dump given: expressions, formats and types only (mdb unix.N vmcore.N, mdb vmcore.N, mdb N or mdb DIR)\n');
  if (target) {
    const names = [...new Set(s.modules.map((m) => m.name))].filter((n) => n !== 'mdb');
    if (names.length > 0) out.write(`Loading modules: [ ${names.join(' ')} ]\n`);
    out.flush();
  }
  const histFile = process.env.MDB_HISTFILE ?? join(homedir(), '.kmemdb_mdb_history');
  let history: string[] = [];
  try {
    history = readFileSync(histFile, 'utf8').split('\n').filter((l) => l.length > 0).reverse().slice(0, 1000);
  } catch {
    history = [];
  }
  // The keyboard thread sees Ctrl-C while a command runs; the pager stops
  // long output when standard output is a terminal too (terminal.ts).
  const keyboard = new Keyboard();
  const pager = process.stdout.isTTY
    ? new Pager(
        () => terminalRows(process.stdout),
        (x) => out.write(x),
        () => out.flush(),
        () => keyboard.readKey(),
      )
    : undefined;
  if (pager) pagedOutput = (x) => pager.output(x);
  s.interruptProbe = () => keyboard.interrupted || (pager?.quit ?? false);
  const rl = readline.createInterface({
    input: keyboard.input,
    output: process.stdout,
    terminal: true,
    prompt: '> ',
    completer: mdbCompleter(s),
    historySize: 1000,
    history,
  });
  rl.on('history', (h: string[]) => {
    history = h;
  });
  process.removeAllListeners('SIGINT');
  rl.on('SIGINT', () => {
    // Ctrl-C at the prompt: drop the line, as illumos mdb does
    process.stdout.write('\n');
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
    rl.prompt();
  });
  rl.prompt();
  rl.on('line', (line) => {
    s.interruptedFlag = false;
    pager?.reset();
    keyboard.beginCommand();
    try {
      if (line.trim() === '') s.repeatLast();
      else s.run(line);
    } finally {
      keyboard.endCommand();
    }
    out.flush();
    if (s.quitRequested) {
      rl.close();
      return;
    }
    rl.prompt();
  });
  await new Promise<void>((res) => rl.on('close', () => res()));
  out.flush();
  keyboard.close();
  try {
    writeFileSync(histFile, [...history].reverse().join('\n') + '\n');
  } catch {
    /* history is a convenience */
  }
  // The keyboard thread is blocked reading the terminal: leave without it.
  process.exit(0);
}
