/*
 * Real programs under kmem (scripts/real-programs.ts builds them from npm
 * package tarballs): the SQLite shell runs the workload of
 * sqlite-workload.ts with the right answers under every debugging setting
 * and with a database file in a preopened directory; expat's own test
 * suite passes with UMEM_DEBUG=default.  Skipped, saying why, without a
 * toolchain or the npm registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { realProgram, RegistryUnavailable, type ProgramName } from '../../scripts/real-programs.js';
import { kmemdb, noToolchain, tmpDir } from './helpers.js';
import { workloadAnswer, workloadScript } from '../../scripts/sqlite-workload.js';

async function built(name: ProgramName): Promise<string | { skip: string }> {
  const skip = await noToolchain();
  if (skip) return { skip };
  try {
    return await realProgram(name);
  } catch (e) {
    if (e instanceof RegistryUnavailable) return { skip: e.message };
    throw e;
  }
}

const BASE_ENV = { ...process.env, HOME: '/home/tester', UMEM_DEBUG: '', UMEM_LOGGING: '', UMEM_OPTIONS: '' };

for (const [label, umem] of [
  ['UMEM_DEBUG unset', {}],
  ['UMEM_DEBUG=guards', { UMEM_DEBUG: 'guards' }],
  ['UMEM_DEBUG=default', { UMEM_DEBUG: 'default' }],
  ['UMEM_DEBUG=default UMEM_LOGGING=transaction,contents,fail', { UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction,contents,fail' }],
] as const) {
  test(`the SQLite shell runs the workload with ${label}`, async (t) => {
    const wasm = await built('sqlite');
    if (typeof wasm !== 'string') return t.skip(wasm.skip);
    const r = kmemdb(['run', '--seed', '1', wasm], { env: { ...BASE_ENV, ...umem }, input: workloadScript() });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, workloadAnswer());
    assert.equal(r.status, 0);
  });
}

test('the SQLite shell keeps a database file in a preopened directory', async (t) => {
  const wasm = await built('sqlite');
  if (typeof wasm !== 'string') return t.skip(wasm.skip);
  const dir = tmpDir('sqlite-db');
  const env = { ...BASE_ENV, UMEM_DEBUG: 'default' };
  const create = kmemdb(['run', '--mapdir', `/db::${dir}`, wasm, '/db/test.db'], { env, input: workloadScript(2000) });
  assert.equal(create.stdout, workloadAnswer(2000));
  assert.ok(fs.statSync(path.join(dir, 'test.db')).size > 4096);
  const reopen = kmemdb(['run', '--mapdir', `/db::${dir}`, wasm, '/db/test.db'], { env, input: 'SELECT count(*) FROM t;\nPRAGMA integrity_check;\n' });
  assert.equal(reopen.stdout, '1800\nok\n');
  assert.equal(reopen.status, 0);
});

test("expat's test suite passes with UMEM_DEBUG=default", async (t) => {
  const wasm = await built('expat');
  if (typeof wasm !== 'string') return t.skip(wasm.skip);
  const r = kmemdb(['run', wasm], { env: { ...BASE_ENV, UMEM_DEBUG: 'default' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Expat version: expat_2\.2\.1\n100%: Checks: \d+, Failed: 0\n$/);
});
