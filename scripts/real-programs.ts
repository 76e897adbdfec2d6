/*
 * Real C programs for the program tests and benchmarks, built from the C
 * sources inside npm package tarballs (never committed here):
 *
 *   sqlite   the SQLite 3.52 shell: sqlite3.c + shell.c from the sqlite3
 *            package's deps/sqlite-autoconf-*.tar.gz
 *   expat    expat 2.2's own test suite, tests/runtests.c with the library,
 *            from the node-expat package's deps/libexpat
 *
 * `npm pack` fetches a pinned version (npm keeps its own cache), the
 * tarball is unpacked and the program built with `kmemdb cc`, with kmemdb's
 * malloc ('kmem') or wasi-libc's dlmalloc ('libc', for comparisons).  Builds
 * are cached under the cache directory (src/program/cache.ts), keyed by
 * everything that goes into them: package, flags, our compatibility
 * sources, the shim and the compiler.  When the registry cannot be reached,
 * RegistryUnavailable says so (tests skip with its message).
 *
 *   node dist/scripts/real-programs.js [sqlite|expat] [kmem|libc]   builds, prints the .wasm path
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cc, parseCc, SHIM_DIR } from '../src/program/cc.js';
import { cacheDir, PACKAGE_ROOT } from '../src/program/cache.js';
import { toolchain } from '../src/program/toolchain.js';

/** The npm registry could not be reached: the message says so, for tests to skip with. */
export class RegistryUnavailable extends Error {}

export type ProgramName = 'sqlite' | 'expat';
/** Whose malloc the program is linked with. */
export type MallocKind = 'kmem' | 'libc';

/** Our compatibility sources for Debian 12's wasi-libc (scripts/wasi-compat). */
const COMPAT = path.join(PACKAGE_ROOT, 'scripts/wasi-compat');

const WASI_EMULATED = ['signal', 'process-clocks', 'mman', 'getpid'];

interface Recipe {
  /** npm package@version holding the sources. */
  readonly pkg: string;
  /** The source directory, given the unpacked package's root. */
  sourceDir(packageRoot: string): string;
  /** kmemdb cc arguments (without -o), given the source directory. */
  args(src: string): string[];
}

const RECIPES: Record<ProgramName, Recipe> = {
  sqlite: {
    pkg: 'sqlite3@6.0.1',
    sourceDir: (root) => {
      const deps = path.join(root, 'deps');
      const tgz = fs.readdirSync(deps).find((f) => /^sqlite-autoconf-\d+\.tar\.gz$/.test(f));
      if (!tgz) throw new Error(`${deps}: no sqlite-autoconf tarball`);
      const out = path.join(root, 'sqlite');
      if (!fs.existsSync(out)) {
        fs.mkdirSync(out);
        untar(path.join(deps, tgz), out, 1);
      }
      return out;
    },
    args: (src) => [
      '-O2',
      '-DSQLITE_OMIT_LOAD_EXTENSION',
      '-DSQLITE_THREADSAFE=0',
      '-DSQLITE_OMIT_WAL',
      '-DSQLITE_OMIT_POPEN',
      ...WASI_EMULATED.map((e) => `-D_WASI_EMULATED_${e.toUpperCase().replace('-', '_')}`),
      '-include',
      path.join(COMPAT, 'missing.h'),
      path.join(src, 'sqlite3.c'),
      path.join(src, 'shell.c'),
      path.join(COMPAT, 'missing.c'),
      ...WASI_EMULATED.map((e) => `-lwasi-emulated-${e}`),
    ],
  },
  expat: {
    pkg: 'node-expat@2.4.1',
    sourceDir: (root) => path.join(root, 'deps/libexpat'),
    args: (src) => [
      '-O2',
      '-DHAVE_EXPAT_CONFIG_H',
      '-D_WASI_EMULATED_GETPID',
      `-I${COMPAT}`,
      `-I${src}`,
      `-I${path.join(src, 'lib')}`,
      ...['lib/xmlparse.c', 'lib/xmlrole.c', 'lib/xmltok.c', 'tests/runtests.c', 'tests/minicheck.c', 'tests/chardata.c', 'tests/memcheck.c'].map((f) => path.join(src, f)),
      path.join(COMPAT, 'setjmp.c'),
      '-lwasi-emulated-getpid',
    ],
  },
};

function untar(tgz: string, dir: string, strip: number): void {
  const r = spawnSync('tar', ['xzf', tgz, '-C', dir, `--strip-components=${strip}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar xzf ${tgz}: ${r.stderr.trim()}`);
}

/** `npm pack` a package into the cache and unpack it; returns its root (the tarball's package/). */
export function fetchPackage(spec: string): string {
  const root = path.join(cacheDir(), 'packages', spec.replace(/[/@]/g, '_'));
  if (fs.existsSync(path.join(root, 'package.json'))) return root;
  const tmp = `${root}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const r = spawnSync('npm', ['pack', spec, '--pack-destination', tmp, '--silent', '--fetch-retries=1'], { encoding: 'utf8', timeout: 180_000 });
  const tgz = r.status === 0 ? fs.readdirSync(tmp).find((f) => f.endsWith('.tgz')) : undefined;
  if (!tgz) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const why = (r.stderr || r.error?.message || '').split('\n').find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network|offline/i.test(l));
    if (why !== undefined || r.error) throw new RegistryUnavailable(`npm pack ${spec}: the npm registry is unreachable (${(why ?? r.error?.message ?? '').trim()})`);
    throw new Error(`npm pack ${spec} failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  untar(path.join(tmp, tgz), tmp, 1);
  fs.rmSync(path.join(tmp, tgz));
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(tmp, root);
  return root;
}

/** The identity of a build: everything that goes into it. */
async function buildKey(recipe: Recipe, malloc: MallocKind): Promise<string> {
  const h = createHash('sha256').update(recipe.pkg).update(malloc).update(recipe.args('').join('\0'));
  for (const f of fs.readdirSync(COMPAT).sort()) h.update(f).update(fs.readFileSync(path.join(COMPAT, f)));
  h.update(fs.readFileSync(path.join(SHIM_DIR, 'umem_shim.c')));
  h.update((await toolchain()).description);
  return h.digest('hex').slice(0, 16);
}

/** Build (or find cached) a real program; returns its .wasm path. */
export async function realProgram(name: ProgramName, malloc: MallocKind = 'kmem'): Promise<string> {
  const recipe = RECIPES[name];
  const out = path.join(cacheDir(), 'programs', `${name}-${malloc}-${await buildKey(recipe, malloc)}.wasm`);
  if (fs.existsSync(out)) return out;
  const src = recipe.sourceDir(fetchPackage(recipe.pkg));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await cc(parseCc([...(malloc === 'libc' ? ['--libc-malloc'] : []), ...recipe.args(src), '-o', tmp]));
  fs.renameSync(tmp, out);
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const names = argv[0] ? [argv[0] as ProgramName] : (Object.keys(RECIPES) as ProgramName[]);
  const malloc = (argv[1] ?? 'kmem') as MallocKind;
  for (const n of names) {
    if (!(n in RECIPES) || (malloc !== 'kmem' && malloc !== 'libc')) throw new Error('usage: real-programs.js [sqlite|expat] [kmem|libc]');
    console.log(await realProgram(n, malloc));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`real-programs: ${(e as Error).message}`);
    process.exit(1);
  });
}
