/*
 * Which mdb command lines name a program core, and its files:
 *
 *   mdb PROG.wasm core.N   the core, with the program's module for names
 *   mdb core.N             the core alone (kmemdb's cores carry their names)
 *   mdb DIR N              DIR/core.N when DIR has no vmcore.N
 *   mdb DIR                the latest (bounds - 1), when it is a core.N
 *
 * Anything else is left to the kernel dump path (undefined).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readBounds } from '../dump/numbering.js';
import { isWasmFile, openWasmCore, type WasmCoreTarget } from './wasm-core-target.js';

export interface ProgramCoreFiles {
  readonly corePath: string;
  readonly modulePath?: string;
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function coreInDir(dir: string, n: number): ProgramCoreFiles | undefined {
  const core = path.join(dir, `core.${n}`);
  return exists(core) && !exists(path.join(dir, `vmcore.${n}`)) ? { corePath: core } : undefined;
}

/** The program core a command line names, or undefined (not a program core). */
export function resolveProgramCore(args: readonly string[]): ProgramCoreFiles | undefined {
  if (args.length === 2) {
    const [a, b] = args as [string, string];
    if (/^\d+$/.test(b) && isDir(a)) return coreInDir(a, Number(b));
    if (isWasmFile(a) && !isDir(b)) return { corePath: b, modulePath: a };
    return undefined;
  }
  if (args.length === 1) {
    const a = args[0]!;
    if (isDir(a)) {
      const n = readBounds(a) - 1;
      return n >= 0 ? coreInDir(a, n) : undefined;
    }
    if (isWasmFile(a)) return { corePath: a };
  }
  return undefined;
}

/** Open the core a command line named. */
export function openProgramCore(f: ProgramCoreFiles): WasmCoreTarget {
  return openWasmCore(f.corePath, f.modulePath !== undefined ? { modulePath: f.modulePath } : {});
}
