import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem, type System } from '../../src/system.js';
import { KernelPanic, type ModuleRecord } from '../../src/kernel/kernel.js';
import { hex, mod, parseAddr } from '../../src/machine/addr.js';
import type { ModelName } from '../../src/machine/memory.js';
import { runPoolDrain, runPoolUnload, runSysctlLog, type NetbsdScenarioOptions } from '../../src/scenarios/netbsd-report.js';
import { bootNetbsd, DEBUG_POOL_INIT, type NetbsdOS } from '../../src/netbsd/index.js';
import { PR_WAITOK } from '../../src/abi/netbsd-sys.js';

type Runner = (s: System, o: NetbsdScenarioOptions) => NetbsdOS;

function crash(run: Runner, opts: NetbsdScenarioOptions = {}, model: ModelName = 'lp64'): { sys: System; panic: string; stack: string[] } {
  const sys = bootSystem({ heapSize: 128 << 20, seed: 1, kmemFlags: 0xf, model });
  let panic = '';
  try {
    sys.k.guard(() => run(sys, opts));
  } catch (e) {
    if (!(e instanceof KernelPanic)) throw e;
    panic = e.panicMessage;
  }
  const stack = sys.k.stackPcs().map((pc) => sys.k.symbolize(pc).replace(/\+0x[0-9a-f]+$/, ''));
  return { sys, panic, stack };
}

/**
 * The fatal trap on the console (showregs): a #pf at addr by pc, with its
 * error code (PF_ERR_WRITE 2 for a store, PF_ERR_EXEC 0x10 for a fetch).
 */
function assertPageFault(sys: System, panic: string, addr: number, pc: number, err: number): void {
  assert.match(panic, new RegExp(`^BAD TRAP: type=e \\(#pf Page fault\\) rp=[0-9a-f]+ addr=${hex(addr)}$`));
  const text = sys.k.panicText;
  assert.match(text, new RegExp(`\nBad kernel fault at addr=0x${hex(addr)}\npid=\\d+, pc=0x${hex(pc)}, `));
  assert.match(text, new RegExp(`^\\ttrp: +e err: +${err.toString(16)} [er]ip: +${hex(pc)}[ \n]`, 'm'));
}

function unloadedRange(sys: System, name: string, a: number): ModuleRecord | undefined {
  return sys.k.moduleHistory.find((m) => m.name === name && m.unloadTime !== undefined && a >= m.base && a < m.base + m.size);
}

test('time_t is 64-bit in both data models, as on every NetBSD port (i386 included)', () => {
  for (const model of ['lp64', 'ilp32'] as const) {
    const T = bootNetbsd(bootSystem({ heapSize: 32 << 20, seed: 1, model })).k.types;
    assert.equal(T.size('time_t'), 8, model);
    // mod_autotime is stored as 64 bits: it must not reach into mod_info
    assert.ok(T.offsetof('struct module', 'mod_autotime') + 8 <= T.offsetof('struct module', 'mod_info'), model);
  }
});

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: pool-unload: fault in pool_destroy at the second autounload of mqueue, tqh_last == tqe_prev in culprit's old range`, () => {
    const { sys, panic, stack } = crash(runPoolUnload, {}, model);
    const k = sys.k;
    const mem = k.mem;
    assert.deepEqual(stack, ['pool_destroy', 'pool_cache_bootstrap_destroy', 'pool_cache_destroy', 'mqueue_modcmd', 'module_do_unload', 'module_thread']);
    // pp: the pool embedded in mqueue's cache (mqueue is still loaded).
    const pc = mem.loadPtr(k.addr('mqmsg_cache'));
    const T = k.types;
    const pp = pc + T.offsetof('struct pool_cache', 'pc_pool');
    assert.equal(k.readString(mem.loadPtr(pp + T.offsetof('struct pool', 'pr_wchan'))), 'mqmsgpl');
    const tqePrev = mem.loadPtr(pp + T.offsetof('struct pool', 'pr_alloc_list.tqe_prev'));
    const nointr = k.addr('pool_allocator_nointr');
    const tqhLast = mem.loadPtr(nointr + T.offsetof('struct pool_allocator', 'pa_list.tqh_last'));
    assert.equal(mem.loadPtr(pp + T.offsetof('struct pool', 'pr_alloc')), nointr);
    assert.equal(tqhLast, tqePrev);
    assertPageFault(sys, panic, tqePrev, k.addr('pool_destroy') + 0xb1, 2); // a store through tqe_prev
    assert.equal(mem.isMapped(tqePrev), false);
    const rec = unloadedRange(sys, 'culprit', tqePrev);
    assert.ok(rec, 'tqe_prev lies in an unloaded culprit range');
    // &culprit_pool.pr_alloc_list.tqe_next, the pool at data+0xb40
    assert.equal(mod(tqePrev, 0x1000), 0xb40 + T.offsetof('struct pool', 'pr_alloc_list'));
    // the second autounload of mqueue
    assert.equal(k.moduleHistory.filter((m) => m.name === 'mqueue').length, 2);
    assert.equal(k.messages().match(/unloaded module `mqueue'/g)?.length, 1);
  });

  test(`${model}: pool-drain: pgdaemon faults in pool_drain on the dangling drainpp`, () => {
    const { sys, panic, stack } = crash(runPoolDrain, {}, model);
    const k = sys.k;
    const drainpp = k.mem.loadPtr(k.addr('drainpp'));
    assertPageFault(sys, panic, drainpp, k.addr('pool_drain') + 0x3b, 0);
    assert.deepEqual(stack, ['pool_drain', 'uvm_pageout']);
    assert.equal(k.cur.name, 'pgdaemon');
    assert.ok(unloadedRange(sys, 'culprit', drainpp), 'drainpp points into culprit\'s unloaded data');
    assert.equal(k.mem.isMapped(drainpp), false);
    // no module activity during the hours before the crash
    const tail = k.messages().slice(k.messages().lastIndexOf('===> Building for pkg-0'));
    assert.doesNotMatch(tail, /module `/);
  });

  test(`${model}: sysctl-log: sem*/msg* logged as 1.83.N, skipped by teardown, \`sysctl kern\` calls unloaded text`, () => {
    const logs: string[][] = [];
    const { sys, panic, stack } = crash(runSysctlLog, {
      hooks: {
        afterStep(_pkg, step, os) {
          if (step.op !== 'semget') return;
          const log = os.nb.mem.loadPtr(os.k.addr('sysctl_sysvipc_clog'));
          logs.push(os.sysctl.logEntries(log).map((e) => e.path.join('.')));
        },
      },
    }, model);
    assert.equal(logs.length, 2);
    assert.ok(logs[0]!.every((p) => p.startsWith('1.82.')), 'first load logs 1.82.x only');
    const second = logs[1]!;
    const dyn = second.filter((p) => Number(p.split('.')[2]) >= 1024);
    const fixedNums = second.filter((p) => Number(p.split('.')[2]) < 1024);
    assert.equal(dyn.length, 7);
    assert.ok(dyn.every((p) => /^1\.83\.\d+$/.test(p)), `dynamic entries: ${dyn.join(' ')}`);
    assert.deepEqual(fixedNums.sort(), ['1.82.1', '1.82.10', '1.82.11', '1.82.7', '1.82.8', '1.82.9']);
    const m = /^BAD TRAP: type=e \(#pf Page fault\) rp=[0-9a-f]+ addr=([0-9a-f]+)$/.exec(panic);
    assert.ok(m, panic);
    const fn = parseAddr(m[1]!);
    assertPageFault(sys, panic, fn, fn, 0x10); // instruction fetch: rip == cr2
    assert.ok(unloadedRange(sys, 'sysv_ipc', fn), 'the handler lies in sysv_ipc\'s unloaded text');
    assert.deepEqual(stack.slice(1, 3), ['sysctl_dispatch', 'sys___sysctl']);
  });

  test(`${model}: --debug-checks stop each failure at its origin`, () => {
    const a = crash(runPoolUnload, { debugChecks: true }, model);
    assert.match(a.panic, /^kobj_unload: module `culprit' still has pool `xleakpl' at 0x[0-9a-f]+b40/);
    assert.deepEqual(a.stack, ['kobj_unload', 'module_do_unload', 'module_thread']);
    const b = crash(runPoolUnload, { debugChecks: DEBUG_POOL_INIT }, model);
    assert.equal(b.panic, 'pool_init: pool xleakpl already initialised');
    assert.equal(b.stack[0], 'pool_init');
    assert.ok(b.stack.includes('culprit_modcmd'));
    const c = crash(runPoolDrain, { debugChecks: true }, model);
    assert.match(c.panic, /^kobj_unload: module `culprit' still has pool/);
    const d = crash(runSysctlLog, { debugChecks: true }, model);
    assert.match(d.panic, /^sysctl parent mis-match: node semmni \(\d+\) sysctl_parent 0x[0-9a-f]+ \(boottime\) vs 0x[0-9a-f]+ \(ipc\)$/);
    assert.deepEqual(d.stack.slice(0, 3), ['sysctl_createv', 'seminit', 'sysv_ipc_modcmd']);
  });

  // --fixed's 1000 load/unload cycles, examined by mdb on the dump they end with: test/netbsd-mdb/golden.test.ts.

  test(`${model}: --fixed variants of each scenario run clean`, () => {
    for (const run of [runPoolUnload, runPoolDrain, runSysctlLog]) {
      const sys = bootSystem({ heapSize: 64 << 20, seed: 2, model });
      run(sys, { fixed: true, cycles: 30 });
      assert.equal(sys.k.panicking, false);
    }
  });
}

test('pool(9): get/put over PHINPAGE and off-page headers, drain reclaims idle pages', () => {
  const sys = bootSystem({ heapSize: 64 << 20 });
  const os = bootNetbsd(sys);
  const P = os.pools;
  const k = sys.k;
  const T = k.types;
  const o = (f: string) => T.offsetof('struct pool', f);
  const small = k.global('t_small', 'struct pool');
  const big = k.global('t_big', 'struct pool');
  P.init(small, 64, 0, 0, 0, P.kstr('t_small'), 0, 0);
  P.init(big, 1024, 64, 0, 0, P.kstr('t_big'), 0, 0);
  assert.ok((k.mem.load32(small + o('pr_roflags')) & 0x40) !== 0, 'small items: header in page');
  assert.equal(k.mem.load32(big + o('pr_roflags')) & 0x40, 0, 'big items: off-page header');
  assert.equal(k.mem.load32(big + o('pr_itemsperpage')), 4);
  for (const pp of [small, big]) {
    const items: number[] = [];
    for (let i = 0; i < 40; i++) items.push(P.get(pp, PR_WAITOK));
    assert.equal(new Set(items).size, 40);
    assert.equal(k.mem.load32(pp + o('pr_nout')), 40);
    for (const v of items.reverse()) P.put(pp, v);
    assert.equal(k.mem.load32(pp + o('pr_nout')), 0);
    assert.ok(k.mem.load32(pp + o('pr_npages')) > 0);
  }
  // pool_head is sorted by name
  const names = P.pools().map((p) => P.wchan(p));
  assert.deepEqual(names, [...names].sort());
  // idle pages go after pool_inactive_time
  k.advance(11e9);
  for (let i = 0; i < 200 && k.mem.load32(big + o('pr_npages')) > 0; i++) P.drain();
  assert.equal(k.mem.load32(big + o('pr_npages')), 0);
  P.destroy(big);
  assert.ok(!P.pools().includes(big));
});
