/*
 * Where kmemdb keeps what it builds and fetches between runs (the malloc
 * shim's objects, the real programs of scripts/): $KMEMDB_CACHE when set,
 * else node_modules/.cache/kmemdb in the package (the convention of npm
 * tools), else a directory under the system's temporary directory.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory (this file is dist/src/program/cache.js there). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function writableDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The cache directory, created if needed. */
export function cacheDir(): string {
  const env = process.env.KMEMDB_CACHE;
  if (env) {
    fs.mkdirSync(env, { recursive: true });
    return env;
  }
  const modules = path.join(PACKAGE_ROOT, 'node_modules');
  const inPackage = path.join(modules, '.cache', 'kmemdb');
  if (fs.existsSync(modules) && writableDir(inPackage)) return inPackage;
  const tmp = path.join(os.tmpdir(), `kmemdb-cache-${os.userInfo().uid}`);
  fs.mkdirSync(tmp, { recursive: true });
  return tmp;
}
