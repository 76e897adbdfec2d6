/*
 * The console of a crash, in both data models, as `kmemdb crash` prints
 * it: for a kmem error, what the allocator found (kmem_error's report,
 * the MDB guide's lines) before the panic; for a forced dump (reboot -d),
 * the panic from uadmin's path with its panic stack; and what mdb shows
 * of it in the dump (::status, $c, ::msgbuf); the firewall scenario under
 * kmem_flags 0xf in each model.  Goldens under
 * test/genunix/golden/console-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import '../../src/mdb/modules/genunix.js';

const golden = goldenIn('genunix/golden');

/** `kmemdb crash NAME` into a fresh directory: its console (the directory elided) and the dump, read by mdb. */
function crash(name: string, model: 'lp64' | 'ilp32', cmds: readonly string[], args: readonly string[] = []): string {
  const line = ['kmemdb crash', name, '--model', model, ...args].join(' ');
  return withCrash(name, model, (t, console) => `$ ${line}\n${console}${transcript(t, cmds)}`, args);
}

for (const model of ['lp64', 'ilp32'] as const) {
  const P = model === 'lp64' ? 16 : 8;

  test(`${model}: a forced dump comes from uadmin's path, with its panic stack on the console, in ::msgbuf and in $c`, () => {
    const text = crash('leak', model, ['::status', '$c', '::msgbuf']);
    golden(`console-forced-${model}`, text);
    const stack = `\n[0-9a-f]{${P}} genunix:kadmin\\+517 \\(\\)\n[0-9a-f]{${P}} genunix:uadmin\\+55c \\(\\)\n[0-9a-f]{${P}} genunix:sys_syscall\\+227 \\(\\)\n`;
    assert.match(text, new RegExp(`^panic\\[cpu\\d\\]/thread=[0-9a-f]+: forced crash dump initiated at user request\n${stack}`, 'm'));
    assert.match(text, /^panic message: forced crash dump initiated at user request$/m);
    assert.match(text, /^> \$c\nkadmin\+0x517\(\)\nuadmin\+0x55c\(\)\nsys_syscall\+0x227\(\)\n/m);
    assert.equal(text.match(new RegExp(stack, 'g'))?.length, 2, 'the console and ::msgbuf both hold the panic stack');
  });

  test(`${model}: the console says what the allocator found: modified after free, and a corrupt boundary tag in the guide's words`, () => {
    const maf = crash('modified-after-free', model, ['::status']);
    golden(`console-modified-${model}`, maf);
    assert.match(maf, /^kernel memory allocator: buffer modified after being freed\nmodification occurred at offset 0x[0-9a-f]+ \(0xdeadbeefdeadbeef replaced by 0x[0-9a-f]+\)\nbuffer=/m);
    assert.match(maf, /\npanic\[cpu\d\]\/thread=[0-9a-f]+: kernel heap corruption detected\n\n[0-9a-f]+ genunix:kmem_error\+[0-9a-f]+ \(\)\n/);
    const bt = crash('buftag', model, ['::status', '$c']);
    golden(`console-buftag-${model}`, bt);
    assert.match(bt, /^kernel memory allocator: boundary tag corrupted\n {4}bcp \^ bxstat = 0xffeef4ee, should be f4eef4ee\n/m);
  });

  test(`${model}: the firewall scenario under --kmem-flags 0xf: a fault on the firewall page (LP64), the redzone at kmem_free (ILP32, no firewall)`, () => {
    const text = crash('firewall', model, ['::status', '$c'], ['--kmem-flags', '0xf']);
    golden(`console-firewall-${model}`, text);
    if (model === 'lp64') {
      // a write (err 2, PF_ERR_WRITE) at the page boundary right after the buffer, by memtest_fill+0x6c
      const m = /^panic\[cpu\d\]\/thread=[0-9a-f]+: BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=([0-9a-f]+000)$/m.exec(text);
      assert.ok(m, text);
      assert.match(text, new RegExp(`\n\nsched: #pf Page fault\nBad kernel fault at addr=0x${m[1]}\npid=0, pc=0x[0-9a-f]+, `));
      assert.match(text, /^\ttrp: {16}e err: {16}2 rip: /m);
      assert.match(text, /^> \$c\nmemtest_fill\+0x6c\(\)\n/m);
    } else {
      // kmem_minfirewall is ULONG_MAX on ILP32 (as in illumos): the overrun lands in the redzone, found when the driver frees
      assert.match(text, /^kernel memory allocator: redzone violation: write past end of buffer\n/m);
      assert.match(text, /^panic message: kernel heap corruption detected$/m);
      assert.match(text, /^memtest_drain\+0x38\(\)$/m);
    }
  });
}
