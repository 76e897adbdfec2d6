/*
 * Processes, LWPs and the kmem caches of kernel objects (src/kernel/proc.ts),
 * checked on the bytes of a booted system in both data models.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem } from '../../src/system.js';
import { TS_SLEEP } from '../../src/abi/kernel-core.js';
import type { Kernel } from '../../src/kernel/kernel.js';

function member(k: Kernel, a: number, type: string, m: string): number {
  return k.mem.loadPtr(a + k.types.offsetof(type, m));
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: boot starts init, pageout and fsflush from process_cache, children of p0 on practive`, () => {
    const { k } = bootSystem({ model, seed: 3 });
    const procs = k.procs!;
    const names: string[] = [];
    for (let p = k.mem.loadPtr(k.addr('practive')); p !== 0; p = member(k, p, 'proc_t', 'p_next')) {
      names.push(k.readString(p + k.types.offsetof('proc_t', 'p_user.u_comm')));
    }
    assert.deepEqual(names, ['fsflush', 'pageout', 'init', 'sched'], 'practive: newest first, p0 last');
    assert.equal(procs.p0.addr, k.addr('p0'));
    // p0's youngest child is fsflush; the sibling chain goes to older ones
    const kids: number[] = [];
    for (let c = member(k, procs.p0.addr, 'proc_t', 'p_child'); c !== 0; c = member(k, c, 'proc_t', 'p_sibling')) kids.push(c);
    assert.deepEqual(kids, procs.procs.slice(1).map((p) => p.addr).reverse());
    // each process's LWP thread comes from thread_cache, its klwp_t from lwp_cache
    for (const p of procs.procs.slice(1)) {
      const t = member(k, p.addr, 'proc_t', 'p_tlist');
      assert.notEqual(t, 0);
      assert.equal(member(k, t, 'kthread_t', 't_procp'), p.addr);
      const lwp = member(k, t, 'kthread_t', 't_lwp');
      assert.equal(member(k, lwp, 'klwp_t', 'lwp_thread'), t);
      assert.equal(k.mem.load16(t + k.types.offsetof('kthread_t', 't_state')), TS_SLEEP, `${p.name} sleeps`);
      assert.notEqual(member(k, t, 'kthread_t', 't_ts'), 0, 'it has a turnstile');
      assert.equal(member(k, t, 'kthread_t', 't_cred'), member(k, p.addr, 'proc_t', 'p_cred'));
    }
    // thread0 (a kernel thread of p0, kthread_t in segkp) is not asleep
    const t0 = k.threads[0]!;
    assert.equal(member(k, t0.addr, 'kthread_t', 't_procp'), procs.p0.addr);
    assert.equal(member(k, t0.addr, 'kthread_t', 't_lwp'), 0);
    assert.notEqual(k.mem.load16(t0.addr + k.types.offsetof('kthread_t', 't_state')), TS_SLEEP);
  });

  test(`${model}: kcred is shared and counted; a process with its own uid gets a credential of its own`, () => {
    const { k } = bootSystem({ model, seed: 3 });
    const procs = k.procs!;
    const kcred = member(k, procs.p0.addr, 'proc_t', 'p_cred');
    const refsBefore = k.mem.load32(kcred + k.types.offsetof('cred_t', 'cr_ref'));
    const make = procs.newproc('make', { uid: 1000, psargs: 'make package' });
    const cr = member(k, make.addr, 'proc_t', 'p_cred');
    assert.notEqual(cr, kcred);
    assert.equal(k.mem.load32(cr + k.types.offsetof('cred_t', 'cr_uid')), 1000);
    assert.equal(k.mem.load32(kcred + k.types.offsetof('cred_t', 'cr_ref')), refsBefore);
    assert.equal(make.pid, 4);
    assert.equal(k.mem.load32(make.addr + k.types.offsetof('proc_t', 'p_ppid')), 1, 'a child of init');
  });
}
