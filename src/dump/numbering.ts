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
 *
 * Concurrency: several writers (processes) may number files in one
 * directory at once.  Whoever links the first name of N first owns N; a
 * writer that loses the race (a link fails with EEXIST) takes the next free
 * number and writes its files again under it (N may be recorded inside
 * them), as savecore(1M) moves past a number another writer took, so
 * nothing is lost.  `bounds` only moves forward.  A `bounds` that is not a
 * regular file (a directory, a FIFO) is refused before anything is written,
 * and no temporary file is left behind on any path.
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
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Refuse a `bounds` that exists but is not a regular file (before anything is written). */
function checkBounds(dir: string): void {
  const file = path.join(dir, 'bounds');
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return; // absent: the first number is 0
  }
  if (!st.isFile()) throw new Error(`savecore: ${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; remove it to save dumps in ${dir}`);
}

/** Move `bounds` forward to n (never back: a concurrent writer may have moved it further). */
function advanceBounds(dir: string, n: number): void {
  if (readBounds(dir) < n) writeAtomically(path.join(dir, 'bounds'), `${n}\n`);
}

/** link(2) that reports EEXIST as false (another writer owns the name). */
function linkNew(from: string, to: string): boolean {
  try {
    fs.linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Attempts at claiming a number before giving up (each lost race costs one). */
const MAX_CLAIMS = 1000;

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
  checkBounds(dir);
  const free = (n: number): number => {
    while (stems.some((s) => fs.existsSync(path.join(dir, `${s}.${n}`)))) n++;
    return n;
  };
  let n = free(readBounds(dir));
  for (let claims = 1; ; claims++) {
    const done = writeAs(dir, stems, n, write);
    if (done) {
      advanceBounds(dir, n + 1);
      return done;
    }
    if (claims >= MAX_CLAIMS) throw new Error(`savecore: lost the race for a number in ${dir} ${claims} times`);
    n = free(n + 1);
  }
}

/** Write the files of number n and link them to their names; undefined if another writer took n. */
function writeAs<R>(dir: string, stems: readonly string[], n: number, write: (tmpPaths: readonly string[], n: number) => R): { index: number; paths: string[]; result: R } | undefined {
  const paths = stems.map((s) => path.join(dir, `${s}.${n}`));
  const tmps = paths.map((p) => `${p}.tmp.${process.pid}`);
  try {
    const result = write(tmps, n);
    const linked: string[] = [];
    let ours = true;
    try {
      for (let i = 0; i < paths.length && ours; i++) {
        ours = linkNew(tmps[i]!, paths[i]!); // never overwrite
        if (ours) linked.push(paths[i]!);
      }
    } finally {
      if (!ours || linked.length < paths.length) for (const p of linked) fs.unlinkSync(p); // n is not ours
    }
    return ours ? { index: n, paths, result } : undefined;
  } finally {
    for (const t of tmps) fs.rmSync(t, { force: true });
  }
}

