/*
 * `kmemdb cc`: a C compiler driver for wasm32-wasi programs whose malloc is
 * kmemdb's (src/program/shim/umem_shim.c, served by src/umem on the host).
 *
 *   kmemdb cc [-O2] [-g] -o prog.wasm a.c b.c [clang flags]   compile and link
 *   kmemdb cc -c [flags] a.c [-o a.o]                         compile only (also -S, -E)
 *   kmemdb cc -o prog.wasm a.o b.o [-lfoo]                    link only
 *   kmemdb cc --libc-malloc ...      link wasi-libc's own malloc (dlmalloc) instead,
 *                                    for comparisons (bench/wasm.ts)
 *
 * so that `CC="kmemdb cc"` works with an ordinary Makefile.  Compiling and
 * linking are always two clang runs: clang-16 runs wasm-opt after a link
 * that has -O1 or higher when wasm-opt is installed, and wasm-opt drops the
 * `name` section that turns stack addresses into function names.  So
 * sources are compiled with every flag, and the link gets no -O flag and
 * none of the preprocessor's.  The link adds the shim object (compiled once
 * per toolchain and cached), exports `__heap_base`, `__data_end` and
 * `__stack_pointer` (where the heap, the data and the live stack are), keeps
 * the `name` section, and strips the DWARF of wasi-libc unless -g asks for
 * debugging information.  The shim's header kmemdb.h (kmemdb_dump) is on
 * the include path.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ClangArg, type Toolchain, toolchain } from './toolchain.js';
import { cacheDir, PACKAGE_ROOT } from './cache.js';

/** A mistake in the command line: printed as one line. */
export class CcUsageError extends Error {}

/** The shim's directory: the package's src/program/shim (shipped in the package as source). */
export const SHIM_DIR = path.join(PACKAGE_ROOT, 'src/program/shim');
const SHIM_SOURCE = path.join(SHIM_DIR, 'umem_shim.c');

/** The link flags every program gets. */
const EXPORTS = ['__heap_base', '__data_end', '__stack_pointer'].map((s) => `-Wl,--export=${s}`);

/** Options whose value is the next argument (or joined), and what the value is. */
const VALUE_OPTIONS: Record<string, 'read' | 'read-dir' | 'write' | 'text'> = {
  '-o': 'write',
  '-I': 'read-dir',
  '-isystem': 'read-dir',
  '-iquote': 'read-dir',
  '-idirafter': 'read-dir',
  '-L': 'read-dir',
  '-include': 'read',
  '-MF': 'write',
  '-D': 'text',
  '-U': 'text',
  '-x': 'text',
  '-MT': 'text',
  '-MQ': 'text',
  '-Xlinker': 'text',
  '-Xclang': 'text',
};
/** Of those, the ones whose value may be joined to the option (-Idir, -DX=1). */
const JOINABLE = ['-I', '-L', '-D', '-U', '-o', '-MF', '-MT', '-MQ', '-x'];

/** Which step an argument belongs to. */
type Step = 'compile' | 'link' | 'both';

interface Word {
  /** The argument(s) as clang gets them (an option and its value are two). */
  readonly args: ClangArg[];
  readonly step: Step;
}

/** The command line, parsed enough to split it into a compile and a link. */
export interface CcCommand {
  /** -c, -S or -E: no link; everything goes to one clang run. */
  readonly noLink: boolean;
  readonly output?: string;
  /** Keep DWARF (-g given). */
  readonly debug: boolean;
  /** Link wasi-libc's dlmalloc, not the shim (--libc-malloc). */
  readonly libcMalloc: boolean;
  readonly sources: readonly string[];
  /** In command-line order: sources (to be replaced by their objects), objects, libraries, flags. */
  readonly words: readonly (Word | { readonly source: string })[];
}

const SOURCE = /\.(c|cc|cpp|cxx|C|s|S|i)$/;

function linkOnly(a: string): boolean {
  return a.startsWith('-l') || a.startsWith('-Wl,') || ['-nostdlib', '-nostartfiles', '-static', '-s', '-rdynamic', '-shared', '-mexec-model=reactor'].includes(a);
}

function compileOnly(a: string): boolean {
  return (
    /^-O/.test(a) ||
    /^-std=/.test(a) ||
    (/^-W/.test(a) && !a.startsWith('-Wl,')) ||
    /^-M(D|MD|P|M)?$/.test(a) ||
    a === '-pedantic' ||
    a === '-ansi'
  );
}

function valueStep(opt: string): Step {
  if (opt === '-L' || opt === '-Xlinker') return 'link';
  if (opt === '-o') return 'both';
  return 'compile';
}

/** Parse the arguments of `kmemdb cc`. */
export function parseCc(argv: readonly string[]): CcCommand {
  const words: (Word | { source: string })[] = [];
  const sources: string[] = [];
  let noLink = false;
  let output: string | undefined;
  let debug = false;
  let libcMalloc = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--libc-malloc') {
      libcMalloc = true;
      continue;
    }
    const joined = JOINABLE.find((o) => a.startsWith(o) && a.length > o.length);
    if (VALUE_OPTIONS[a] !== undefined || joined) {
      const opt = joined ?? a;
      const value = joined ? a.slice(opt.length) : argv[++i];
      if (value === undefined) throw new CcUsageError(`${opt} needs a value`);
      const role = VALUE_OPTIONS[opt]!;
      if (opt === '-o') output = value;
      const valueArg: ClangArg = role === 'text' ? { text: value } : { text: value, path: role };
      const args: ClangArg[] = joined ? [role === 'text' ? { text: a } : { text: a, path: role, prefix: opt }] : [{ text: opt }, valueArg];
      if (opt !== '-o') words.push({ args, step: valueStep(opt) });
      continue;
    }
    if (a === '-c' || a === '-S' || a === '-E') noLink = true;
    if (/^-g/.test(a) && a !== '-g0') debug = true;
    if (!a.startsWith('-') && SOURCE.test(a)) {
      sources.push(a);
      words.push({ source: a });
    } else if (!a.startsWith('-')) words.push({ args: [{ text: a, path: 'read' }], step: 'link' });
    else words.push({ args: [{ text: a }], step: linkOnly(a) ? 'link' : compileOnly(a) ? 'compile' : 'both' });
  }
  const inputs = words.filter((w) => 'source' in w || (w.step === 'link' && w.args.length === 1 && w.args[0]!.path === 'read'));
  if (inputs.length === 0) throw new CcUsageError('no input files');
  return { noLink, output, debug, libcMalloc, sources, words };
}

function outputArgs(output: string): ClangArg[] {
  return [{ text: '-o' }, { text: output, path: 'write' }];
}

const SHIM_INCLUDE: ClangArg[] = [{ text: '-I' }, { text: SHIM_DIR, path: 'read-dir' }];

function argsFor(cmd: CcCommand, step: 'compile' | 'link', objectOf: (source: string) => string): ClangArg[] {
  const out: ClangArg[] = [];
  for (const w of cmd.words) {
    if ('source' in w) {
      if (step === 'link') out.push({ text: objectOf(w.source), path: 'read' });
      continue;
    }
    if (w.step === 'both' || w.step === step) out.push(...w.args);
  }
  return out;
}

/** Run clang; throws with clang's status when it fails (clang printed why). */
async function runOrFail(tc: Toolchain, args: ClangArg[]): Promise<void> {
  const status = await tc.run(args);
  if (status !== 0) throw new CcFailed(status);
}

/** An input file that is not there: one line, before any compiler runs. */
export class CcInputError extends Error {}

function checkInputs(cmd: CcCommand): void {
  for (const w of cmd.words) {
    const file = 'source' in w ? w.source : w.step === 'link' && w.args.length === 1 && w.args[0]!.path === 'read' ? w.args[0]!.text : undefined;
    if (file !== undefined && !fs.existsSync(file)) throw new CcInputError(`${file}: No such file or directory`);
  }
}

/** A compile or link failed; clang printed its diagnostics. */
export class CcFailed extends Error {
  constructor(readonly status: number) {
    super(`clang exited with status ${status}`);
  }
}

/** The shim object for this toolchain: compiled with -O2 once, cached by the shim's and compiler's identity. */
async function shimObject(tc: Toolchain): Promise<string> {
  const key = createHash('sha256').update(fs.readFileSync(SHIM_SOURCE)).update(tc.kind).update(tc.description).digest('hex').slice(0, 16);
  const obj = path.join(cacheDir(), `umem_shim-${tc.kind}-${key}.o`);
  if (fs.existsSync(obj)) return obj;
  const tmp = `${obj}.${process.pid}.tmp`;
  await runOrFail(tc, [{ text: '-O2' }, { text: '-c' }, { text: SHIM_SOURCE, path: 'read' }, ...outputArgs(tmp)]);
  fs.renameSync(tmp, obj);
  return obj;
}

/** Compile and link (or only compile) as the command says; resolves when the output is written. */
export async function cc(cmd: CcCommand): Promise<void> {
  checkInputs(cmd);
  const tc = await toolchain();
  if (cmd.noLink) {
    const out = cmd.output !== undefined ? outputArgs(cmd.output) : [];
    const sources: ClangArg[] = cmd.sources.map((s) => ({ text: s, path: 'read' }));
    await runOrFail(tc, [...SHIM_INCLUDE, ...argsFor(cmd, 'compile', () => ''), ...sources, ...out]);
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-cc-'));
  try {
    const objects = new Map<string, string>();
    for (const [i, s] of cmd.sources.entries()) {
      const obj = path.join(tmp, `${i}-${path.basename(s).replace(SOURCE, '')}.o`);
      objects.set(s, obj);
      await runOrFail(tc, [...SHIM_INCLUDE, ...argsFor(cmd, 'compile', () => ''), { text: '-c' }, { text: s, path: 'read' }, ...outputArgs(obj)]);
    }
    const link: ClangArg[] = [...argsFor(cmd, 'link', (s) => objects.get(s)!), ...EXPORTS.map((text) => ({ text }))];
    if (!cmd.libcMalloc) link.push({ text: await shimObject(tc), path: 'read' });
    if (!cmd.debug) link.push({ text: '-Wl,--strip-debug' });
    await runOrFail(tc, [...link, ...outputArgs(cmd.output ?? 'a.out')]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
