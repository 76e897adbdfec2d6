/*
 * The symbol table and variables in mdb's words, in both data models:
 * ::nm with illumos' columns and options, SYMBOL::print taking the type
 * from the symbol, ::typeset and ::vars.  Golden transcripts on a crash
 * dump (its unix.N carries the ELF symbol fields and the object types) in
 * test/mdb/golden/symbols-*.txt, and on a live kernel (no ELF sections).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import { makeFixture, mdb } from '../genunix/fixture.js';

const golden = goldenIn('mdb/golden');

/** The mdb transcript of cmds on the dump of `kmemdb crash leak`. */
function onDump(model: 'lp64' | 'ilp32', cmds: readonly string[]): string {
  return withCrash('leak', model, (t) => transcript(t, cmds));
}

const CMDS = [
  'kmem_flags::nm',
  'kmem_cache_alloc+4::nm',
  'kmem_caches::nm -d',
  'kmem_caches::nm -h -f ndx,obj,val,sz,type,bind,oth,shndx,ctype,name',
  'kmem_flags::nm -o',
  '::nm -d -x',
  '::nm -f nosuch',
  '::nm -n -t func ! head -4',
  '::nm -D',
  '0::nm',
  'kmem_flags::print',
  'kmem_flags::print -d',
  'kmem_caches::print',
  'kmem_caches::print list_head',
  'kmem_caches::print -a list_t list_size',
  'kmem_cache_alloc::print',
  '0x10::print',
  '::print',
  '::typeset -t mine other',
  '0x1234::typeset mine',
  '::vars -t',
  '::vars -t -p',
  '::typeset +t other',
  '::vars -t',
  '::typeset -x mine',
  '::typeset 9lives',
];

for (const model of ['lp64', 'ilp32'] as const) {
  test(`golden (${model}): ::nm columns and options, SYMBOL::print, ::typeset and ::vars on a dump`, () => {
    const text = onDump(model, CMDS);
    golden(`symbols-${model}`, text);
    const P = model === 'lp64' ? 16 : 8;
    // Value Size Type Bind Other Shndx Name, a section number from unix.N
    assert.match(text, new RegExp(`^0x[0-9a-f]{${P}}\\|0x[0-9a-f]{${P}}\\|OBJT \\|GLOB \\|0x0  \\|[0-9]+ +\\|kmem_flags$`, 'm'));
    assert.match(text, /^> kmem_flags::print\n0xf\n/m);
    assert.match(text, /^mdb: no type data available for kmem_cache_alloc \[\d+\]$/m);
    assert.match(text, /^mdb: -d\/-o\/-x options are mutually exclusive$/m);
  });
}

test('::nm on a live kernel: its symbols have no ELF section (Shndx "?")', () => {
  const f = makeFixture();
  const r = mdb(f.t, 'kmem_flags::nm\ngenunix_test_roots::print -t');
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Value {14}Size {15}Type  Bind  Other Shndx    Name\n0x[0-9a-f]{16}\|0x0000000000000004\|OBJT \|GLOB \|0x0  \|\? {7}\|kmem_flags\n/);
  assert.match(r.stdout, /\nvoid \* \[64\] \[ 0x[0-9a-f]+, /);
});
