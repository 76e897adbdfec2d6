/*
 * The wasm32-wasi C toolchain behind `kmemdb cc`: one clang driver
 * invocation at a time, on whichever compiler this machine has.
 *
 * Two kinds.  A native clang (Debian's clang-16 with lld-16, wasi-libc and
 * libclang-rt-16-dev-wasm32) is run as a process on the real file system.
 * Otherwise the npm package @yowasp/clang, Clang/LLD compiled to
 * WebAssembly, runs inside this process on an in-memory file tree: the
 * files an invocation reads are copied into the tree at their absolute
 * paths, path arguments are made absolute, and the outputs are copied back.
 * KMEMDB_CC=native or KMEMDB_CC=yowasp forces one kind; WASI_SYSROOT names
 * another sysroot for the native clang (default /usr, Debian's layout).
 *
 * An invocation is a list of arguments, each marked with what a path in it
 * means to the file tree (read file, read directory, written file), so that
 * the native kind passes them through and the in-memory kind knows what to
 * copy.  The driver (cc.ts) decides the arguments; this file only runs them.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What a path-valued argument does to the file tree. */
export type PathRole = 'read' | 'read-dir' | 'write';

/** One argument of a clang invocation; `path` marks a path (the whole text, or after `prefix`). */
export interface ClangArg {
  readonly text: string;
  readonly path?: PathRole;
  /** For a joined option such as `-Iinclude`: the option part, `-I`. */
  readonly prefix?: string;
}

export type ToolchainKind = 'native' | 'yowasp';

/** A compiler that can run one clang driver invocation. */
export interface Toolchain {
  readonly kind: ToolchainKind;
  /** A short description for messages: the compiler and its version. */
  readonly description: string;
  /** Run clang with these arguments; resolves to its exit status (diagnostics went to stderr). */
  run(args: readonly ClangArg[]): Promise<number>;
}

/** No usable toolchain, or a forced one missing: a one-line message. */
export class ToolchainError extends Error {}

export const DEBIAN_PACKAGES = 'clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32';
const INSTALL_HINT = `install the Debian packages ${DEBIAN_PACKAGES} (apt-get install -y ${DEBIAN_PACKAGES}), or the npm package @yowasp/clang`;

/** Find an executable on PATH. */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function probe(clang: string, args: string[]): string {
  const r = spawnSync(clang, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** A file path that clang printed exists (a bare name means clang did not find it). */
function printedFileExists(p: string): boolean {
  return p !== '' && path.isAbsolute(p) && fs.existsSync(p);
}

class NativeToolchain implements Toolchain {
  readonly kind = 'native';
  constructor(
    readonly clang: string,
    readonly sysroot: string,
    readonly description: string,
  ) {}

  run(args: readonly ClangArg[]): Promise<number> {
    const argv = ['--target=wasm32-wasi', `--sysroot=${this.sysroot}`, ...args.map((a) => a.text)];
    const r = spawnSync(this.clang, argv, { stdio: 'inherit' });
    if (r.error) throw new ToolchainError(`${this.clang}: ${r.error.message}`);
    return Promise.resolve(r.status ?? 1);
  }
}

/**
 * The native clang, when every part is installed: a clang that knows the
 * wasm32-wasi target, its linker, wasi-libc in the sysroot and the
 * compiler-rt builtins.  Returns the first missing part otherwise.
 */
function findNative(): NativeToolchain | string {
  const sysroot = process.env.WASI_SYSROOT ?? '/usr';
  const clang = which('clang-16') ?? which('clang');
  if (!clang) return 'clang-16 is not installed';
  const target = ['--target=wasm32-wasi', `--sysroot=${sysroot}`];
  if (!fs.existsSync(path.join(sysroot, 'lib/wasm32-wasi/libc.a'))) return `wasi-libc is not installed (no ${sysroot}/lib/wasm32-wasi/libc.a)`;
  if (!printedFileExists(probe(clang, [...target, '-print-libgcc-file-name']))) return 'the wasm32 compiler-rt builtins are not installed';
  /* clang looks for its linker beside itself, then on PATH */
  const ld = probe(clang, [...target, '-print-prog-name=wasm-ld']) || 'wasm-ld';
  if (!printedFileExists(ld) && !fs.existsSync(path.join(path.dirname(fs.realpathSync(clang)), ld)) && !which(ld)) return 'wasm-ld (lld) is not installed';
  const version = probe(clang, ['--version']).split('\n')[0] ?? clang;
  return new NativeToolchain(clang, sysroot, version);
}

/* ---- the in-memory toolchain ---- */

type Tree = { [name: string]: Tree | string | Uint8Array };
interface RunOptions {
  stdout?: ((bytes: Uint8Array | null) => void) | null;
  stderr?: ((bytes: Uint8Array | null) => void) | null;
  fetchProgress?: () => void;
}
type Command = (args?: string[], files?: Tree, options?: RunOptions) => Promise<Tree> | Tree | undefined;
interface YowaspModule {
  runClang: Command;
  runLLVM: Command;
  version: string;
}
interface YowaspExit extends Error {
  code: number;
}

/** What is copied into the tree for a directory argument: sources, headers, archives and objects. */
const TREE_FILE = /\.(h|hh|hpp|hxx|inc|def|c|cc|cpp|cxx|s|S|a|o)$/;
const SOURCE_FILE = /\.(c|cc|cpp|cxx|s|S)$/;
const TREE_SKIP_DIR = new Set(['node_modules', '.git', 'dist']);
const TREE_MAX_FILES = 20000;
const TREE_MAX_DEPTH = 6;

/**
 * Where host paths appear in the compiler's file tree: /host/tmp/x.c is the
 * host's /tmp/x.c (the compiler keeps its own /tmp out of the tree it
 * returns, so host paths cannot sit at its root).
 */
const HOST_MOUNT = '/host';

/** A file tree keyed by absolute host paths, as @yowasp/clang sees it under HOST_MOUNT. */
class MemoryTree {
  readonly root: Tree = {};
  private files = 0;

  private dirOf(parts: readonly string[], create: boolean): Tree | undefined {
    let t: Tree = this.root;
    for (const p of parts) {
      let next = t[p];
      if (next === undefined) {
        if (!create) return undefined;
        next = t[p] = {};
      }
      if (typeof next === 'string' || next instanceof Uint8Array) return undefined;
      t = next;
    }
    return t;
  }

  private static parts(abs: string): string[] {
    return [HOST_MOUNT.slice(1), ...abs.split('/').filter((s) => s !== '')];
  }

  addFile(abs: string): void {
    const parts = MemoryTree.parts(abs);
    const dir = this.dirOf(parts.slice(0, -1), true);
    const name = parts[parts.length - 1];
    if (!dir || name === undefined || dir[name] !== undefined) return;
    if (++this.files > TREE_MAX_FILES) throw new ToolchainError(`@yowasp/clang: more than ${TREE_MAX_FILES} files to copy under ${path.dirname(abs)}`);
    dir[name] = new Uint8Array(fs.readFileSync(abs));
  }

  ensureDir(abs: string): void {
    this.dirOf(MemoryTree.parts(abs), true);
  }

  /** Copy a directory's source-like files, recursively to a small depth. */
  addDir(abs: string, depth = 0): void {
    this.ensureDir(abs);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return; /* clang itself reports a missing include directory, if it matters */
    }
    for (const e of entries) {
      const p = path.join(abs, e.name);
      if (e.isDirectory() && !TREE_SKIP_DIR.has(e.name) && depth < TREE_MAX_DEPTH) this.addDir(p, depth + 1);
      else if (e.isFile() && TREE_FILE.test(e.name)) this.addFile(p);
    }
  }

  /** The bytes at an absolute path, after a run. */
  get(abs: string): Uint8Array | undefined {
    const parts = MemoryTree.parts(abs);
    const dir = this.dirOf(parts.slice(0, -1), false);
    const v = dir?.[parts[parts.length - 1] ?? ''];
    if (v instanceof Uint8Array) return v;
    if (typeof v === 'string') return new TextEncoder().encode(v);
    return undefined;
  }

  replace(root: Tree): void {
    for (const k of Object.keys(this.root)) delete this.root[k];
    Object.assign(this.root, root);
  }
}

class YowaspToolchain implements Toolchain {
  readonly kind = 'yowasp';
  private prefetched = false;
  constructor(
    private readonly mod: YowaspModule,
    readonly description: string,
  ) {}

  /** Load the compiler's resources once, quietly (its first run would print progress on stdout). */
  private async prefetch(): Promise<void> {
    if (this.prefetched) return;
    await this.mod.runLLVM(['clang', '--version'], {}, { stdout: null, stderr: null, fetchProgress: () => {} });
    this.prefetched = true;
  }

  async run(args: readonly ClangArg[]): Promise<number> {
    await this.prefetch();
    const tree = new MemoryTree();
    const writes: string[] = [];
    const argv = ['clang'];
    for (const a of args) {
      if (a.path === undefined) {
        argv.push(a.text);
        continue;
      }
      const prefix = a.prefix ?? '';
      const abs = path.resolve(a.text.slice(prefix.length));
      if (a.path === 'read-dir') tree.addDir(abs);
      else if (a.path === 'write') {
        writes.push(abs);
        tree.ensureDir(path.dirname(abs));
      } else if (SOURCE_FILE.test(abs)) tree.addDir(path.dirname(abs)); /* with the headers it includes "like.this" */
      else tree.addFile(abs);
      argv.push(prefix + HOST_MOUNT + abs);
    }
    /* diagnostics name host paths, not the tree's */
    const out = (s: NodeJS.WriteStream) => (b: Uint8Array | null) => {
      if (b) s.write(new TextDecoder().decode(b).replaceAll(`${HOST_MOUNT}/`, '/'));
    };
    try {
      const result = await this.mod.runClang(argv, tree.root, { stdout: out(process.stdout), stderr: out(process.stderr), fetchProgress: () => {} });
      if (result) tree.replace(result);
    } catch (e) {
      if (e instanceof Error && typeof (e as YowaspExit).code === 'number') return (e as YowaspExit).code || 1;
      throw e;
    }
    for (const w of writes) {
      const bytes = tree.get(w);
      if (bytes) fs.writeFileSync(w, bytes);
    }
    return 0;
  }
}

async function loadYowasp(): Promise<YowaspToolchain | undefined> {
  try {
    const mod = (await import('@yowasp/clang')) as unknown as YowaspModule;
    return new YowaspToolchain(mod, `@yowasp/clang ${mod.version}`);
  } catch {
    return undefined;
  }
}

let chosen: Promise<Toolchain> | undefined;

async function choose(): Promise<Toolchain> {
  const want = process.env.KMEMDB_CC;
  if (want !== undefined && want !== '' && want !== 'native' && want !== 'yowasp') throw new ToolchainError(`KMEMDB_CC must be native or yowasp, not "${want}"`);
  if (want !== 'yowasp') {
    const native = findNative();
    if (typeof native !== 'string') return native;
    if (want === 'native') throw new ToolchainError(`KMEMDB_CC=native: ${native}: install the Debian packages ${DEBIAN_PACKAGES}`);
  }
  const y = await loadYowasp();
  if (y) return y;
  if (want === 'yowasp') throw new ToolchainError('KMEMDB_CC=yowasp: the npm package @yowasp/clang is not installed (npm install @yowasp/clang)');
  throw new ToolchainError(`no wasm32-wasi C compiler: ${INSTALL_HINT}`);
}

/** The toolchain this process uses (chosen once; see the file comment). */
export function toolchain(): Promise<Toolchain> {
  chosen ??= choose();
  return chosen;
}

/** Whether some toolchain is available, for tests and benchmarks that skip without one. */
export async function haveToolchain(): Promise<boolean> {
  try {
    await toolchain();
    return true;
  } catch (e) {
    if (e instanceof ToolchainError) return false;
    throw e;
  }
}
