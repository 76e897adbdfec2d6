/*
 * Numbered files in a crash directory, as savecore numbers them.
 *
 * The file `bounds` holds the next number N; a dump N is written under
 * temporary names and *linked* to its final names (link(2) fails if the
 * name exists, unlike rename(2)), so nothing is ever overwritten, and only
 * then does `bounds` advance (written to a temporary file and renamed:
 * `bounds` is meant to be replaced).  An N for which any name exists is
 * skipped.  Kernel dumps (unix.N + vmcore.N) and program cores (core.N)
 * share this code.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

/** Read `bounds` (the next dump number); 0 when absent or unreadable. */
export function readBounds(dir: string): number {
  try {
    const s = fs.readFileSync(path.join(dir, 'bounds'), 'utf8').trim();
    return /^\d{1,9}$/.test(s) ? Number(s) : 0;
  } catch {
    return 0;
  }
}

function writeAtomically(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * mkdir -p, without fs.mkdirSync's recursive mode (which loops forever on
 * some paths, e.g. under /proc).  Errors say which directory failed.
 */
export function ensureDir(dir: string, depth = 0): void {
  try {
    fs.mkdirSync(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (fs.statSync(dir).isDirectory()) return;
      throw new Error(`savecore: ${dir} exists and is not a directory`);
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir || depth > 64) throw new Error(`savecore: cannot create ${dir}: ${code ?? String(e)}`);
  }
  ensureDir(path.dirname(dir), depth + 1);
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new Error(`savecore: cannot create ${dir}: ${code ?? String(e)}`);
  }
}

/**
 * Write the files `STEM.N` (one per stem) into dir, created if needed, for
 * the next N: from `bounds`, skipping any N for which one of the names
 * exists.  `write` fills temporary files (one per stem, in order); they
 * are then linked to their final names (link(2) fails rather than
 * overwrite) and `bounds` advances to N+1.  savecore writes unix.N and
 * vmcore.N with it, the program runner core.N.
 */
export function writeNumbered<R>(dir: string, stems: readonly string[], write: (tmpPaths: readonly string[], n: number) => R): { index: number; paths: string[]; result: R } {
  ensureDir(dir);
  let n = readBounds(dir);
  while (stems.some((s) => fs.existsSync(path.join(dir, `${s}.${n}`)))) n++;
  const paths = stems.map((s) => path.join(dir, `${s}.${n}`));
  const tmps = paths.map((p) => `${p}.tmp.${process.pid}`);
  try {
    const result = write(tmps, n);
    const linked: string[] = [];
    try {
      for (let i = 0; i < paths.length; i++) {
        fs.linkSync(tmps[i]!, paths[i]!); // fails rather than overwrite
        linked.push(paths[i]!);
      }
    } catch (e) {
      for (const p of linked) fs.unlinkSync(p);
      throw e;
    }
    writeAtomically(path.join(dir, 'bounds'), `${n + 1}\n`);
    return { index: n, paths, result };
  } finally {
    for (const t of tmps) fs.rmSync(t, { force: true });
  }
}

