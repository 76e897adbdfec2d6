/*
 * Processes and threads in genunix (src/mdb/modules/genunix-proc.ts):
 * ::ps, ::pgrep, ::ptree, ::thread, ::stacks, ::panicinfo (and the core's
 * ::threadlist) on the dump of
 * a NetBSD scenario (the kernel's p0 threads, init/pageout/fsflush, the
 * workload's make process, the panicking module thread), in both data
 * models.  Goldens under test/genunix/golden/proc-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import { runMdb } from '../../src/mdb/index.js';
import { makeFixture } from './fixture.js';
import '../../src/mdb/modules/genunix.js';
import '../../src/mdb/modules/netbsd.js';

const golden = goldenIn('genunix/golden');


const CMDS = [
  '::ps',
  '::ps -ft',
  '::ptree',
  '::pgrep make | ::ptree',
  '::pgrep -x init | ::ps -l',
  '::thread',
  '::thread -pb',
  '::walk thread_cache | ::thread -p',
  '::stacks',
  '::stacks -a -i',
  '::stacks -t panic',
  '::stacks -s cv -c cv_timedwait | ::thread -b',
  '::panicinfo',
  '::threadlist',
  '::walk thread | ::threadlist -v ! grep -A7 modunload',
  '::stacks -t bogus',
  '::stacks -m nosuchmodule',
  '::pgrep "("',
];

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: ::ps, ::ptree, ::pgrep, ::thread, ::stacks and ::panicinfo on a NetBSD scenario's dump`, () => {
    const text = withCrash('pool-unload', model, (t) => transcript(t, CMDS));
    golden(`proc-${model}`, text);
    // p0 first, then its children youngest first; make (pid 4) is init's child
    assert.match(text, /^> ::ps\nS +PID +PPID +PGID +SID +UID +FLAGS +ADDR NAME\nR +0 +0 +0 +0 +0 0x00000001 [0-9a-f]+ sched\nR +3 +0 +0 +0 +0 0x00020001 [0-9a-f]+ fsflush\n/m);
    assert.match(text, /\n. +4 +1 +4 +0 +1000 0x42004000 [0-9a-f]+ make\n/);
    // the panicking module thread is ::stacks' last group, in state PANIC
    const stacks = text.split('> ::stacks\n')[1]!.split('\n> ')[0]!;
    const groups = stacks.replace(/^THREAD .*\n/, '').trim().split('\n\n');
    assert.match(groups[groups.length - 1]!, /^[0-9a-f]+ +PANIC +<NONE> +1\n +pool_destroy\+0x[0-9a-f]+\n/);
    // six threads sleep on their condition variables; thread0, which ran the workload's callouts, is runnable with no frames
    assert.equal(groups.filter((g) => /^[0-9a-f]+ +SLEEP +CV +1\n +swtch\+0x141\n +cv_timedwait\+0xea\n/.test(g)).length, 6);
    assert.match(groups[groups.length - 2]!, /^[0-9a-f]+ +RUN +<NONE> +1$/);
    assert.match(text, /^> ::stacks -t bogus\nmdb: tstate "bogus" not recognized\n/m);
    assert.match(text, /^> ::stacks -m nosuchmodule\nmdb: stacks: module "nosuchmodule" is unknown\n/m);
    assert.match(text, /^ +message BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=[0-9a-f]+$/m);
    // ::threadlist: every thread of the thread walker; -v adds each stack (the panicking module thread's here)
    const tl = text.split('> ::threadlist\n')[1]!.split('\n> ')[0]!.trim().split('\n');
    assert.equal(tl.length - 1, text.split('> ::thread\n')[1]!.split('\n> ')[0]!.trim().split('\n').length - 1);
    assert.match(text, /^> ::walk thread \| ::threadlist -v ! grep -A7 modunload\n[0-9a-f]+ modunload +0 pool_destroy\+0xb1\n  pool_destroy\+0xb1\(\)\n(  .*\n){4}  module_thread\+0x[0-9a-f]+\(\)\n/m);
  });
}

test('::panicinfo needs a dump; ::ps on a live kernel; ::stacks groups by state', () => {
  const f = makeFixture({ leaks: false });
  assert.match(runMdb(f.t, '::panicinfo').stderr, /panicinfo can only be run on a system dump; see dumpadm\(1M\)/);
  const ps = runMdb(f.t, '::ps').stdout;
  assert.deepEqual(
    ps.trim().split('\n').slice(1).map((l) => l.split(/ +/).pop()),
    ['sched', 'fsflush', 'pageout', 'init'],
  );
  // thread0 (running the workload) and kmem_taskq (asleep) are two groups, not one
  const st = runMdb(f.t, '::stacks').stdout;
  assert.match(st, /ONPROC +<NONE> +1\n/);
  assert.match(st, /SLEEP +CV +\d+\n +swtch\+0x141\n +cv_timedwait\+0xea\n +taskq_thread\+0x6e\n +thread_start\+8\n/);
});
