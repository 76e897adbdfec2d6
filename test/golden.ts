/*
 * Golden files: compare a text with dir/<name>.txt; UPDATE_GOLDEN=1
 * (re)writes it.  `dir` is relative to the repository's test/ directory
 * (the tests run from dist/test/...).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession } from '../src/mdb/index.js';
import type { Target } from '../src/target/target.js';

// dist/test -> test
const TEST_SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test');

/** A checker for the golden files under test/<dir>. */
export function goldenIn(dir: string): (name: string, text: string) => void {
  const root = join(TEST_SRC, dir);
  const update = process.env.UPDATE_GOLDEN === '1';
  return (name, text) => {
    const file = join(root, `${name}.txt`);
    if (update || !existsSync(file)) {
      if (!update) assert.fail(`missing golden ${file}; run with UPDATE_GOLDEN=1`);
      mkdirSync(root, { recursive: true });
      writeFileSync(file, text);
      return;
    }
    assert.equal(text, readFileSync(file, 'utf8'), `${name} differs from ${file}`);
  };
}

/** Run cmds in one mdb session on t: "> cmd", then what mdb printed (stdout and stderr in order). */
export function transcript(t: Target, cmds: readonly string[]): string {
  let out = '';
  const s = createSession(t, { stdout: (x) => (out += x), stderr: (x) => (out += x) }, [], { shellEscapes: true }); // as the mdb command
  for (const c of cmds) {
    out += `> ${c}\n`;
    s.run(c);
  }
  return out;
}
