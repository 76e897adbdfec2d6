/*
 * What a newcomer gets: the files npm would publish (the compiled library,
 * its declaration maps and the sources they point to, the malloc shim, the
 * binaries, the licence), and a test command that passes on a fresh clone
 * without the illumos conformance suite beside it, saying it skipped it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

test('npm pack publishes the library, its declaration maps with their sources, the shim, the binaries and LICENSE', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  for (const f of ['LICENSE', 'README.md', 'bin/kmemdb', 'bin/mdb', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.d.ts.map', 'src/program/shim/umem_shim.c']) {
    assert.ok(files.has(f), `${f} is not in the package`);
  }
  for (const f of files) {
    if (!f.endsWith('.d.ts.map')) continue;
    const map = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as { sources: string[] };
    for (const s of map.sources) {
      const src = path.normalize(path.join(path.dirname(f), s));
      assert.ok(files.has(src), `${f} points to ${src}, which is not in the package`);
    }
  }
});

test('without the conformance suite beside the checkout, the conformance step says it skipped and passes; CI can require it', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-fresh-'));
  try {
    fs.mkdirSync(path.join(tmp, 'repo/scripts'), { recursive: true });
    fs.copyFileSync(path.join(root, 'scripts/conformance.sh'), path.join(tmp, 'repo/scripts/conformance.sh'));
    const script = path.join(tmp, 'repo/scripts/conformance.sh');
    const env = { ...process.env };
    delete env.KMEMDB_REQUIRE_CONFORMANCE;
    const skipped = spawnSync('bash', [script], { encoding: 'utf8', env });
    assert.equal(skipped.status, 0);
    assert.match(skipped.stdout, /^conformance: SKIPPED: the illumos mdb suite is not at /);
    const required = spawnSync('bash', [script], { encoding: 'utf8', env: { ...env, KMEMDB_REQUIRE_CONFORMANCE: '1' } });
    assert.equal(required.status, 1);
    assert.match(required.stderr, /^conformance: suite not found at /);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
