import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel, KernelPanic } from '../../src/kernel/kernel.js';
import { PageFault } from '../../src/machine/memory.js';

test('symbols, globals and sym+off', () => {
  const k = new Kernel();
  const f = k.fn('pool_destroy', 0x300);
  assert.equal(k.symbolize(f + 0x1b4), 'pool_destroy+0x1b4');
  const g = k.global('kmem_flags', 'int');
  assert.equal(k.symbolize(g), 'kmem_flags');
  assert.equal(k.addr('kmem_flags'), g);
  assert.ok(f < 0 && g < 0, 'LP64 kernel addresses are canonical high addresses');
});

test('stack capture writes innermost-first pcs to memory', () => {
  const k = new Kernel();
  const a = k.fn('module_thread'), b = k.fn('pool_destroy', 0x300);
  const buf = k.global('stk', 'uintptr_t [15]');
  k.enter(a + 0x10);
  k.enter(b + 0x1b4);
  assert.equal(k.capturePcs(buf, 15), 2);
  assert.equal(k.symbolize(k.mem.loadPtr(buf)), 'pool_destroy+0x1b4');
  assert.equal(k.symbolize(k.mem.loadPtr(buf + 8)), 'module_thread+0x10');
  k.leave();
  k.leave();
});

test('a page fault becomes a panic with the address; the stack is in memory', () => {
  const k = new Kernel({ model: 'ilp32' });
  const f = k.fn('pool_destroy');
  k.enter(k.fn('module_thread') + 4);
  k.enter(f + 0x20);
  assert.throws(
    () => k.guard(() => k.mem.store32(0xc0900000, 1)),
    (e: unknown) => e instanceof KernelPanic && /^BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=c0900000$/.test(e.panicMessage),
  );
  assert.match(k.messages(), /^Bad kernel fault at addr=0xc0900000\n/m);
  const t = k.cur;
  const T = k.types;
  const pc = k.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[0]'));
  const fp = k.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_fp'));
  assert.equal(k.symbolize(pc), 'pool_destroy+0x20');
  assert.equal(k.symbolize(k.mem.loadPtr(fp + 4)), 'module_thread+0x4');
  assert.equal(k.readString(k.addr('panicstr')), k.panicMessage);
  assert.ok(!(new PageFault(1, 'read') instanceof KernelPanic));
});

test('callouts run in order in their thread; same seed, same memory', () => {
  const run = (seed: number) => {
    const k = new Kernel({ seed });
    const t = k.createThread('worker');
    const order: string[] = [];
    const fb = k.calloutFunc(k.fn('fb'), (arg) => order.push(`b${arg}@${k.hrtime}:${k.cur.name}`));
    const fa = k.calloutFunc(k.fn('fa'), (arg) => order.push(`a${arg}@${k.hrtime}:${k.cur.name}`));
    k.timeout(t, 2000, fb, 2);
    k.timeout(t, 1000, fa, 1);
    k.advance(5000);
    const g = k.global('r', 'int');
    k.mem.store32(g, k.rand.u32());
    return { order, bytes: k.mem.read(k.layout.dataBase, 0x20000) };
  };
  const x = run(7), y = run(7), z = run(8);
  assert.deepEqual(x.order, ['a1@1000001000:worker', 'b2@1000002000:worker']);
  assert.deepEqual(x.bytes, y.bytes);
  assert.notDeepEqual(x.bytes, z.bytes);
});
