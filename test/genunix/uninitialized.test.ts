/*
 * Uninitialised data: a driver follows a pointer it never set in a fresh
 * kmem buffer (the uninitialized scenario).  Under kmem_flags 0xf the
 * buffer is full of 0xbaddcafe, so the kernel dies of a BAD TRAP as
 * illumos words it: a #pf at user address 0xbaddcafe on ILP32, a #gp on
 * LP64 (0xbaddcafebaddcafe is not canonical), with the trap's registers on
 * the console.  Then mdb shows whose buffer it was: ::status, $c with the
 * session as memtest_dispatch's argument, ::whatis naming the cache and
 * the buffer, ::print showing the pattern in s_ops, ::bufctl -v naming
 * the allocator, and the trap's struct regs on the stack (rp=).  Goldens
 * under test/genunix/golden/uninitialized-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/genunix.js';

const golden = goldenIn('genunix/golden');

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: a never-set pointer in a fresh kmem buffer faults at kmem's uninitialised pattern, and mdb names the buffer, its cache and its allocator`, () => {
    const text = withCrash('uninitialized', model, (t, console) => {
      const $c = runMdb(t, '$c').stdout;
      const sess = /^memtest_dispatch\+0x1b\(([0-9a-f]+), 4d01\)$/m.exec($c)?.[1];
      assert.ok(sess, `the session is memtest_dispatch's first argument:\n${$c}`);
      const whatis = runMdb(t, `${sess}::whatis`).stdout;
      const bufctl = new RegExp(`^\\s*([0-9a-f]+) +${sess} `, 'm').exec(whatis)?.[1];
      assert.ok(bufctl, whatis);
      const rp = / rp=([0-9a-f]+) /.exec(console)?.[1];
      assert.ok(rp, console);
      const regs = model === 'lp64' ? 'r_trapno r_err r_rip r_rsp r_rdi r_rsi' : 'r_trapno r_err r_eip r_esp';
      const cmds = ['::status', '$c', `${sess}::whatis`, `${sess}::print struct memtest_sess`, `${bufctl}::bufctl -v`, `${rp}::whatis`, `${rp}::print struct regs ${regs}`];
      return `$ kmemdb crash uninitialized --model ${model}\n${console}${transcript(t, cmds)}`;
    });
    golden(`uninitialized-${model}`, text);
    if (model === 'lp64') {
      assert.match(text, /^panic\[cpu0\]\/thread=[0-9a-f]+: BAD TRAP: type=d \(#gp General protection\) rp=[0-9a-f]+ addr=0\n\nsched: #gp General protection\npid=0, pc=0x/m);
      assert.match(text, /^\trdi: ([0-9a-f]{16}) rsi: {13}4d01 /m, 'the argument registers hold memtest_dispatch(sess, MEMTEST_IOC_GET)');
      assert.match(text, /^ {4}s_ops = 0xbaddcafebaddcafe$/m);
      assert.match(text, /is allocated from kmem_alloc_32:/);
    } else {
      assert.match(
        text,
        /^panic\[cpu0\]\/thread=[0-9a-f]+: BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=baddcafe occurred in module "genunix" due to an illegal access to a user address\n\nsched: #pf Page fault\nBad kernel fault at addr=0xbaddcafe\n/m,
      );
      assert.match(text, /^ {4}s_ops = 0xbaddcafe$/m);
      assert.match(text, /is allocated from kmem_alloc_24:/);
    }
    // the stack follows the trap's registers on the console, and ::status has die()'s message
    assert.match(text, /\n\n[0-9a-f]+ genunix:memtest_dispatch\+1b \(\)\n[0-9a-f]+ genunix:memtest_ioctl\+11c \(\)\n/);
    assert.match(text, /^panic message: BAD TRAP: type=/m);
    // ::bufctl -v: the allocation by memtest_open, from memtest_ioctl
    assert.match(text, /::bufctl -v\n[\s\S]*kmem_alloc\+0x[0-9a-f]+\n\s+memtest_open\+0x3c\n\s+memtest_ioctl\+0x11c\n/);
    // the trap's struct regs is on the panicking thread's stack
    assert.match(text, /::whatis\n[0-9a-f]+ is in thread [0-9a-f]+'s stack/);
  });
}
