/*
 * Fuzzing the command language: thousands of random and mutated command
 * lines must never throw out of the session and must finish quickly.
 * Shell escapes ('!') are removed so that no random text reaches a shell.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createSession } from '../../src/mdb/index.js';
import { makeTarget } from './helpers.js';

const SEEDS = [
  'kmem_flags/X',
  'big,4/KKn',
  '::walk thread | ::print kthread_t t_name',
  '*node_head::list node_t n_next | ::print node_t',
  '$c',
  '::stacks -a',
  '::print -at struct node',
  '::typedef "struct foo { int a[3]; char *b; }" foo_t',
  '::sizeof foo_t',
  '1<<0t63,10=P',
  '-1=JRjnn',
  '0t10$d',
  '0o775=K',
  '42>x; <x+1=E',
  '::status',
  '::cpuinfo',
  '::help print',
  '::formats',
  'node_head/p',
  '*/i/kmem_flags=D',
  'msgbuf/s',
  '::eval "kmem_flags/X"',
  '$<node',
  '::offsetof node_t n_name',
  'fffffe0000020000::dump',
];

const ALPHABET = [...'0123456789abcdefxtoi_.,:;$/\\?=<>+-*%#&|^~()[]"\' \tKXJDEGRjnNpPsSvwWZlLM-@`{}'];

function noShell(s: string): string {
  return s.replace(/!/g, '');
}

test('fuzz: random and mutated command lines never escape as exceptions', () => {
  const f = makeTarget(undefined, true);
  let internal = '';
  const sink = {
    stdout: () => {},
    stderr: (x: string) => {
      if (x.includes('internal error')) internal += x;
    },
  };
  const s = createSession(f.target, sink);
  s.maxRepeat = 64n;
  const charArb = fc.constantFrom(...ALPHABET);
  const randomLine = fc.array(charArb, { maxLength: 60 }).map((a) => a.join(''));
  const mutated = fc
    .tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(80), fc.constantFrom(...ALPHABET), fc.boolean()), { maxLength: 6 }))
    .map(([seed, muts]) => {
      let t = seed;
      for (const [pos, ch, del] of muts) {
        const p = pos % (t.length + 1);
        t = del ? t.slice(0, p) + t.slice(p + 1) : t.slice(0, p) + ch + t.slice(p);
      }
      return t;
    });
  const start = Date.now();
  fc.assert(
    fc.property(fc.oneof(randomLine, mutated, fc.string({ maxLength: 40 })), (line) => {
      const t0 = Date.now();
      s.quitRequested = false;
      let threw: unknown;
      try {
        s.run(noShell(line));
      } catch (e) {
        threw = e;
      }
      assert.equal(threw, undefined, `exception for ${JSON.stringify(line)}`);
      assert.equal(internal, '', `internal error for ${JSON.stringify(line)}`);
      assert.ok(Date.now() - t0 < 5000, `slow command ${JSON.stringify(line)}`);
    }),
    { numRuns: 4000, seed: 20240601 },
  );
  assert.ok(Date.now() - start < 60000);
});

test('fuzz: no-target session survives random input too', () => {
  const sink = { stdout: () => {}, stderr: () => {} };
  const s = createSession(undefined, sink);
  s.maxRepeat = 64n;
  fc.assert(
    fc.property(fc.string({ maxLength: 50 }), (line) => {
      s.quitRequested = false;
      s.run(noShell(line));
    }),
    { numRuns: 2000, seed: 7 },
  );
});
