/*
 * Callouts (src/kernel/callout.ts): the tables in simulated memory that
 * timeout() fills and the clock empties, read back through mdb's
 * walkers and ::callout on a live target in both data models.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem } from '../../src/system.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { liveTarget } from '../../src/target/live-target.js';
import { runMdb } from '../../src/mdb/index.js';
import { CALLOUT_BUCKETS } from '../../src/abi/callout.js';
import '../../src/mdb/modules/genunix.js';

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: callouts run in expiration order on their threads; the tables say what is pending`, () => {
    const { k } = bootSystem({ model, seed: 3, ncpus: 2 });
    const t0 = k.createThread('w0', 0);
    const t1 = k.createThread('w1', 1);
    const ran: string[] = [];
    const f = k.calloutFunc(k.fn('test_callout'), (arg) => ran.push(`${arg}:${k.cur.name}@${k.hrtime - base}`));
    const base = k.hrtime;
    k.timeout(t1, 3000, f, 3);
    k.timeout(t0, 1000, f, 1);
    k.timeout(t0, 3000, f, 4); // same expiration as 3, other table
    k.timeout(t1, 3000, f, 5); // same expiration and table as 3: the same list, after it
    k.timeout(t0, 2000, f, 2);
    const t = liveTarget(k);
    const list = runMdb(t, '::callout -f test_callout').stdout;
    assert.equal(list.trim().split('\n').length, 6, list);
    assert.match(list, /^SEQ T EXP +XHAL XID +FUNC\(ARG\) *\n/);
    assert.match(list, /\n1 +N [0-9a-f]+ +[0-9a-f]+ +test_callout\(3\)\n1 +N [0-9a-f]+ +[0-9a-f]+ +test_callout\(5\)\n/);
    // -L: the list of 3 and 5 holds two callouts on one list; the clock's lists are NANO, heaped
    const lists = runMdb(t, `::callout -L -S 1 -t ${(base + 3000).toString(16)}`).stdout;
    assert.equal(lists.trim().split('\n').length, 2, lists);
    const head = /\n +1 N [0-9a-f]+ +\d+ +([0-9a-f]+)/.exec(lists)![1]!;
    assert.deepEqual(runMdb(t, `${head}::walk callouts_bytime | ::print callout_t c_arg`).stdout.trim().split('\n'), ['c_arg = 3', 'c_arg = 5']);
    k.advance(10_000);
    assert.deepEqual(ran, ['1:w0@1000', '2:w0@2000', '4:w0@3000', '3:w1@3000', '5:w1@3000']);
    assert.equal(runMdb(liveTarget(k), '::callout -f test_callout').stdout, '');
    // freed: on the free lists, marked free, with the IDs they had
    const free = runMdb(liveTarget(k), '::callout -F -f test_callout').stdout;
    assert.equal(free.trim().split('\n').length, 6, free);
    assert.equal(k.pendingCallouts(), 2); // kmem_update and vmem_update
  });

  test(`${model}: a table's heap grows past a page of entries; freed callouts are reused, not reallocated`, () => {
    const { k } = bootSystem({ model, seed: 3, ncpus: 1 });
    const t = k.createThread('w', 0);
    const f = k.calloutFunc(k.fn('test_callout'), () => {});
    const entry = k.types.size('callout_heap_t');
    const chunk = Math.floor(k.pageSize / entry);
    for (let i = 0; i < chunk + 10; i++) k.timeout(t, 1000 + i, f, i);
    const tv = liveTarget(k);
    const table = runMdb(tv, '::callout -T -v -n').stdout;
    assert.match(table, new RegExp(`\\n0 +N .* ${chunk + 12} +${2 * chunk} `), table); // + kmem_update's and vmem_update's lists
    const before = runMdb(tv, '::callout -T -v -n').stdout.trim().split('\n')[1]!.split(/ +/);
    k.advance(1e6);
    for (let i = 0; i < 5; i++) k.timeout(t, 1000, f, i);
    const after = runMdb(liveTarget(k), '::callout -T -v -n').stdout.trim().split('\n')[1]!.split(/ +/);
    // PEND and FREE (allocations - pending): the 5 new callouts came off the free list
    const [pendB, freeB] = [Number(before[11]), Number(before[12])];
    const [pendA, freeA] = [Number(after[11]), Number(after[12])];
    assert.equal(pendB, chunk + 12);
    assert.equal(pendA, 7);
    assert.equal(pendA + freeA, pendB + freeB);
  });

  test(`${model}: a callout that panics stays on the expired list, executing`, () => {
    const { k } = bootSystem({ model, seed: 3 });
    const t = k.createThread('w', 1);
    const f = k.calloutFunc(k.fn('test_panicky'), (arg) => k.panic(`callout ${arg}`));
    k.timeout(t, 5000, f, 0x77);
    assert.throws(() => k.advance(1e4), /callout 119/);
    const tv = liveTarget(k);
    assert.match(runMdb(tv, '::callout -x').stdout, /\n1 +N [0-9a-f]+ +X +[0-9a-f]+ +test_panicky\(77\)\n$/);
    assert.match(runMdb(tv, '::callout -L -n -S 1').stdout, /\n +1 N [0-9a-f]+ +-1 +[0-9a-f]+ \n/);
  });
}

test('timeout() needs a registered function; the host queue keeps arming order among equals', () => {
  const k = new Kernel({ seed: 1 });
  const t = k.createThread('w');
  assert.throws(() => k.timeout(t, 10, k.fn('nobody_registered')), /no callout function registered at nobody_registered/);
  assert.throws(() => k.timeout(t, -1, k.fn('nobody_registered')), /non-negative/);
  const order: number[] = [];
  const f = k.calloutFunc(k.fn('f'), (a) => order.push(a));
  for (const [d, a] of [[20, 1], [10, 2], [20, 3], [10, 4]] as const) k.timeout(t, d, f, a);
  assert.equal(k.pendingCallouts(), 4);
  k.advance(100);
  assert.deepEqual(order, [2, 4, 1, 3]);
});

test('callout_init moves earlier callouts into the tables; same seed, same bytes', () => {
  const image = () => {
    const { k } = bootSystem({ seed: 9 });
    const f = k.calloutFunc(k.fn('test_callout'), () => {});
    for (let i = 0; i < 50; i++) k.timeout(k.threads[i % k.threads.length]!, (i * 7919) % 1000, f, i);
    k.advance(500);
    const ct = k.mem.loadPtr(k.addr('callout_table'));
    return k.mem.read(ct, 4 * k.types.size('callout_table_t') + CALLOUT_BUCKETS);
  };
  assert.deepEqual(image(), image());
  // vmem_update, armed by vmem_init before kmem existed, is in table 0's normal table
  const { k } = bootSystem({ seed: 9 });
  assert.match(runMdb(liveTarget(k), '::callout -f vmem_update').stdout, /\n0 +N [0-9a-f]+ +[0-9a-f]+ +vmem_update\(0\)\n$/);
  assert.match(runMdb(liveTarget(k), '::walk callout_list').stderr, /callout list doesn't support global walk/);
});
