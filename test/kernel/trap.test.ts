/*
 * The kernel's trap handler (src/kernel/trap.ts): which trap a bad access
 * raises and how die() words it, as illumos' i86pc trap.c does; the
 * struct regs it leaves on the stack; showregs() on the console.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel, KernelPanic } from '../../src/kernel/kernel.js';
import { hex } from '../../src/machine/addr.js';
import type { ModelName } from '../../src/machine/memory.js';

/** Fault in fn+0x20(args) by running access; the panic message and the console. */
function fault(model: ModelName, access: (k: Kernel) => void, args: number[] = []): { k: Kernel; msg: string } {
  const k = new Kernel({ model });
  k.enter(k.fn('memtest_main') + 0x10);
  k.enter(k.fn('memtest_poke') + 0x20);
  if (args.length) k.args(args[0]!, ...args.slice(1));
  let msg = '';
  assert.throws(
    () => k.guard(() => access(k)),
    (e: unknown) => e instanceof KernelPanic && (msg = e.panicMessage) !== '',
  );
  return { k, msg };
}

const RP = 'rp=([0-9a-f]+)';

test('a read of a user address: #pf, and die() says which module and why', () => {
  for (const model of ['lp64', 'ilp32'] as const) {
    const { k, msg } = fault(model, (k) => k.mem.load32(0xbaddcafe));
    assert.match(msg, new RegExp(`^BAD TRAP: type=e \\(#pf Page fault\\) ${RP} addr=baddcafe occurred in module "genunix" due to an illegal access to a user address$`), model);
    assert.match(k.panicText, /\n\nsched: #pf Page fault\nBad kernel fault at addr=0xbaddcafe\npid=0, pc=0x[0-9a-f]+, sp=0x[0-9a-f]+, eflags=0x10246\n/);
    assert.match(k.panicText, /^cr2: baddcafe {2}cr3: /m);
  }
});

test('an access below PAGESIZE is a NULL pointer dereference; a kernel address gets no module clause', () => {
  assert.match(fault('lp64', (k) => k.mem.load8(0x18)).msg, /addr=18 occurred in module "genunix" due to a NULL pointer dereference$/);
  assert.match(fault('ilp32', (k) => k.mem.store32(0xc0900000, 1)).msg, /^BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=c0900000$/);
});

test('amd64: a non-canonical address is a #gp, with no page-fault address', () => {
  const sess = -0x17ffff77000; // a heap-looking kernel address
  const { k, msg } = fault('lp64', (k) => k.mem.load32(-0x4522350145223800), [sess, 0x4d01]);
  assert.match(msg, /^BAD TRAP: type=d \(#gp General protection\) rp=[0-9a-f]+ addr=0$/);
  assert.match(k.panicText, /\n\nsched: #gp General protection\npid=0, pc=/, 'no "Bad kernel fault" line for a #gp');
  assert.match(k.panicText, /^cr2: 0 {2}cr3: [0-9a-f]+ {2}cr8: 0\n\n/m);
  // the argument registers hold the faulting function's arguments
  assert.match(k.panicText, new RegExp(`^\\trdi: ${hex(sess)} rsi: {13}4d01 rdx: {16}0\\n`, 'm'));
  assert.match(k.panicText, /^\ttrp: {16}d err: {16}0 rip: /m);
});

test('the struct regs lies on the faulting thread\'s stack, below its frame, with the trap\'s registers', () => {
  for (const model of ['lp64', 'ilp32'] as const) {
    const { k, msg } = fault(model, (k) => k.mem.store8(0x1000, 0));
    const rp = Number((k.model.bits === 64 ? BigInt.asIntN : BigInt.asUintN)(k.model.bits, BigInt(`0x${new RegExp(RP).exec(msg)![1]!}`)));
    const T = k.types;
    const t = k.cur;
    const sp = k.mem.loadPtr(t.addr + T.offsetof('kthread_t', 't_pcb.val[1]'));
    assert.ok(rp >= t.stackBase && rp + T.size('struct regs') <= sp, `${model}: rp ${hex(rp)} below sp ${hex(sp)}`);
    const reg = (r: string) => k.mem.loadPtr(rp + T.offsetof('struct regs', r));
    const [ip, ssp] = model === 'lp64' ? ['r_rip', 'r_rsp'] : ['r_eip', 'r_esp'];
    assert.equal(k.symbolize(reg(ip)), 'memtest_poke+0x20');
    assert.equal(reg(ssp), sp);
    assert.equal(reg('r_trapno'), 0xe);
    assert.equal(reg('r_err'), 2, 'a write: PF_ERR_WRITE');
    assert.equal(reg('r_savpc'), reg(ip));
  }
});

test('an instruction fetch from unmapped text: err has PF_ERR_EXEC', () => {
  const k = new Kernel({ model: 'lp64' });
  const gone = k.layout.moduleBase + 0x1000;
  k.enter(k.fn('caller') + 0x8);
  k.enter(gone);
  assert.throws(() => k.guard(() => k.mem.load8(gone)), KernelPanic);
  assert.match(k.panicText, new RegExp(`^\\ttrp: {16}e err: {15}10 rip: ${hex(gone)}\\n`, 'm'));
  assert.match(k.panicMessage!, new RegExp(`addr=${hex(gone)}$`));
});
