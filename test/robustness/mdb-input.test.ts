/*
 * Hostile command lines: whitespace is space and tab only (as illumos'
 * lexer), every other character is ordinary or a syntax error, never a
 * hang; counts from input are capped before they loop; a syntax error in a
 * pipeline stops the line once; messages quote a bounded part of the input;
 * the library entry checks its argument.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMdb, type MdbModule } from '../../src/mdb/index.js';
import { LayoutError } from '../../src/mdb/analysis/fields.js';
import '../../src/mdb/modules/genunix.js';
import { ArgumentError } from '../../src/machine/argcheck.js';
import { Rand } from '../../src/kernel/rand.js';
import { mdb, mdbOn, noInternals, scenarioDump } from './helpers.js';

const ODD = ['\v', '\f', '\r', '\0', '\x1b', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u{1f600}'];

test('characters that are not space or tab are ordinary in an argument (no hang)', () => {
  for (const c of ODD) {
    const r = runMdb(undefined, `::echo a${c}b`);
    assert.equal(r.ok, true, JSON.stringify(c));
    assert.equal(r.stdout, `a${c}b \n`, JSON.stringify(c));
  }
});

test('odd characters in a shell word, a variable name or an expression end in a one-line error', () => {
  for (const c of ODD) {
    for (const cmd of [`::echo x ! echo 'a'${c}b`, `1>a${c}b`, `1+${c}2=X`, `${c}::echo`, `::typedef${c}x`]) {
      const r = runMdb(undefined, cmd);
      assert.ok(!/internal error/.test(r.stderr), `${JSON.stringify(cmd)}: ${r.stderr}`);
      assert.ok(r.stderr.split('\n').length <= 3, `${JSON.stringify(cmd)}: ${r.stderr}`);
    }
  }
});

test('200 KB of random bytes on stdin end promptly with mdb messages only', () => {
  const r = new Rand(18);
  const bytes = Buffer.alloc(200_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = r.below(256);
  const out = mdb([], bytes.toString('latin1'), 60_000);
  assert.notEqual(out.status, null, 'mdb finished');
  assert.ok(noInternals(out), out.stderr.slice(0, 2000));
});

test('::array refuses a count above the repeat-count cap instead of looping', () => {
  const r = runMdb(undefined, '0::array uint64_t ffffffff');
  assert.equal(r.ok, false);
  assert.equal(r.stderr, 'mdb: array count 0xffffffff is too large (at most 0x100000)\n');
  const ok = runMdb(undefined, '0::array uint64_t 3');
  assert.equal(ok.stdout, '0\n8\n10\n');
});

test('a syntax error in a pipeline stage is reported once and stops the line', () => {
  const d = scenarioDump('leak');
  const r = mdbOn(d, '::walk kmem_cache | ::grep .>0');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'mdb: syntax error in expression ".>0"\n');
});

test('error messages quote a bounded part of a huge input', () => {
  for (const cmd of ['::' + 'a'.repeat(100_000), 'x'.repeat(100_000) + '=X', '0x' + '1'.repeat(100_000) + '=X', '::eval ' + '('.repeat(50_000)]) {
    const r = runMdb(undefined, cmd);
    assert.equal(r.ok, false);
    assert.ok(r.stderr.length < 600, `${cmd.slice(0, 12)}: ${r.stderr.length} characters`);
  }
});

test('runMdb checks its arguments', () => {
  assert.throws(() => runMdb(undefined, 42 as unknown as string), (e: unknown) => e instanceof ArgumentError && e.message === 'runMdb: commands must be a string, got 42');
});

test('a type an analysis needs missing from a damaged core is one mdb line, not an internal error', () => {
  // a fuzzed program core whose kmemdb.ctf lost kmem_buftag_t made ::umem_verify print "internal error: ..."
  const mod: MdbModule = {
    name: 'layout',
    walkers: [],
    dcmds: [
      {
        name: 'needs_buftag',
        usage: '',
        description: 'an analysis whose layout is incomplete',
        fn() {
          throw new LayoutError("type kmem_buftag_t is not in the target's types");
        },
      },
    ],
  };
  const r = runMdb(undefined, '::needs_buftag', [mod]);
  assert.equal(r.ok, false);
  assert.equal(r.stderr, "mdb: type kmem_buftag_t is not in the target's types\n");
});
