/*
 * savecore never loses a dump: concurrent writers (child processes) into
 * one directory each get their own numbers, and a `bounds` that is a
 * directory is refused before anything is written, leaving no temporary
 * files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kernel } from '../../src/kernel/kernel.js';
import { savecore, readBounds } from '../../src/dump/savecore.js';
import { openDump } from '../../src/target/dump-target.js';
import { ROOT, tmpDir } from './helpers.js';

const WRITERS = 4;
const DUMPS_EACH = 4;

/** A child process that boots a small kernel and saves `count` dumps into dir. */
function writer(dir: string, count: number, id: number): Promise<number | null> {
  const mod = path.join(ROOT, 'dist', 'src');
  const code = `
    const { Kernel } = await import(${JSON.stringify(path.join(mod, 'kernel', 'kernel.js'))});
    const { savecore } = await import(${JSON.stringify(path.join(mod, 'dump', 'savecore.js'))});
    const k = new Kernel({ heapSize: 4 << 20, seed: ${id + 1} });
    for (let i = 0; i < ${count}; i++) savecore(k, ${JSON.stringify(dir)});
  `;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (status) => resolve(status));
  });
}

test('concurrent savecores into one directory lose no dump', async () => {
  const dir = tmpDir('rob-race');
  const statuses = await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(dir, DUMPS_EACH, i)));
  assert.deepEqual(statuses, new Array(WRITERS).fill(0));
  const files = fs.readdirSync(dir).sort();
  const unix = files.filter((f) => /^unix\.\d+$/.test(f));
  const vmcore = files.filter((f) => /^vmcore\.\d+$/.test(f));
  assert.equal(unix.length, WRITERS * DUMPS_EACH, files.join(' '));
  assert.equal(vmcore.length, WRITERS * DUMPS_EACH);
  assert.deepEqual(files.filter((f) => f.includes('.tmp')), []);
  for (const u of unix) {
    const n = u.slice(5);
    const t = openDump(path.join(dir, u), path.join(dir, `vmcore.${n}`)); // a matching, readable pair
    assert.equal(t.header().index, Number(n));
    t.close();
  }
  assert.equal(readBounds(dir), WRITERS * DUMPS_EACH);
});

test('a bounds that is a directory: refused before writing, with a clear message and nothing left behind', () => {
  const dir = tmpDir('rob-bounds');
  fs.mkdirSync(path.join(dir, 'bounds'));
  const k = new Kernel({ heapSize: 4 << 20 });
  assert.throws(() => savecore(k, dir), { message: `savecore: ${path.join(dir, 'bounds')} is a directory; remove it to save dumps in ${dir}` });
  assert.deepEqual(fs.readdirSync(dir), ['bounds']);
});
