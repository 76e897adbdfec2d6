/*
 * Thread stacks hold real frames: the words simulated functions keep
 * (arguments and pointer locals) are in their stack frames in simulated
 * memory, where mdb finds them.  In both data models: `::findstack -v` and
 * `$c` show arguments, `::kgrep` finds a heap pointer on a stack,
 * `::whatis` names the stack ("is in thread T's stack"), `::findleaks`
 * counts a buffer held only by a sleeping thread's stack as in use, and
 * gdb still unwinds the frames mdb shows.  Golden transcripts under
 * test/genunix/golden/stacks-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bootSystem } from '../../src/system.js';
import { memtestWaiter } from '../../src/scenarios/kmem-clients.js';
import { runScenario } from '../../src/scenarios/index.js';
import { liveTarget } from '../../src/target/live-target.js';
import { openDump } from '../../src/target/dump-target.js';
import { findLeaks } from '../../src/mdb/analysis/leaks.js';
import { runMdb } from '../../src/mdb/index.js';
import { hex, parseAddr } from '../../src/machine/addr.js';
import { goldenIn, transcript } from '../golden.js';
import '../../src/mdb/modules/genunix.js';

const golden = goldenIn('genunix/golden');
const X = (a: number) => '0x' + hex(a);

/** Buffers ::findleaks reports, by address. */
function leakedBuffers(t: Parameters<typeof findLeaks>[0]): Set<number> {
  const out = new Set<number>();
  for (const g of findLeaks(t).groups) for (const m of g.members) out.add(m.buf);
  return out;
}

for (const model of ['lp64', 'ilp32'] as const) {
  const W = model === 'lp64' ? 16 : 8;

  test(`${model}: a sleeping thread's frames hold its arguments and locals: ::findstack -v, $c, ::kgrep, ::whatis, ::findleaks`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-stacks-'));
    try {
      const r = runScenario('leak', { dir, model, seed: 4 });
      const t = openDump(r.dump.unixPath, r.dump.vmcorePath);
      try {
        const waiter = t.threads().find((th) => th.name === 'memtest_waiter')!;
        const fs1 = runMdb(t, `${X(waiter.addr)}::findstack -v`).stdout;
        const io = /memtest_wait_io\+0xe8\([0-9a-f]+, ([0-9a-f]+)\)/.exec(fs1);
        assert.ok(io, fs1);
        const reqAddr = parseAddr(io[1]!); // memtest_wait_io(dev, req)
        const text = transcript(t, [
          `${X(waiter.addr)}::findstack -v`,
          `${X(waiter.addr)}::findstack`,
          `${X(waiter.addr)}$C`,
          `${X(reqAddr)}::whatis`,
          `${X(reqAddr)}::kgrep | ::whatis`,
          `${X(reqAddr)}::whatthread`,
          '::findleaks',
        ]);
        golden(`stacks-${model}`, text);
        // The shape illumos prints: the frame it stopped in, then its callers with their arguments.
        assert.match(text, new RegExp(`^stack pointer for thread ${hex(waiter.addr)}: ([0-9a-f]+)\n\\[ \\1 swtch\\+0x141\\(\\) \\]\n {2}[0-9a-f]{${W}} cv_timedwait\\+0xea\\(\\)\n {2}[0-9a-f]{${W}} memtest_wait_io\\+0xe8\\([0-9a-f]+, ${hex(reqAddr)}\\)\n {2}0{${W}} memtest_waiter\\+0x58\\(\\)\n`, 'm'));
        assert.match(text, /^ {2}[0-9a-f]+ memtest_wait_io\+0xe8\(\)\n/m, 'without -v, no arguments');
        assert.match(text, new RegExp(`^${hex(reqAddr)} is (${hex(reqAddr)}\\+0, )?allocated from kmem_alloc_128`, 'm'));
        // The request is on the waiter's stack (memtest_wait_io's local) and nowhere else but the allocator's own records.
        assert.match(text, new RegExp(`^[0-9a-f]+ is in thread ${hex(waiter.addr)}'s stack$`, 'm'));
        assert.match(text, new RegExp(`^> ${X(reqAddr)}::whatthread\n0x${hex(waiter.addr)}\n`, 'm'));
        assert.ok(!leakedBuffers(t).has(reqAddr), 'a buffer held by a sleeping thread is not a leak');
      } finally {
        t.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${model}: the stack is what keeps the waiter's request from being a leak`, () => {
    const sys = bootSystem({ model, seed: 9, kmemFlags: 0xf });
    const { thread, req } = memtestWaiter(sys);
    const t = liveTarget(sys.k);
    assert.ok(!leakedBuffers(t).has(req), 'held by the sleeping thread');
    assert.match(runMdb(t, `${X(req)}::kgrep | ::whatis`).stdout, new RegExp(`is in thread ${hex(thread.addr)}'s stack`));
    // Wipe the thread's stack: nothing else refers to the request.
    sys.k.mem.fill8(thread.stackBase, thread.stackTop - thread.stackBase, 0);
    assert.ok(leakedBuffers(liveTarget(sys.k)).has(req), 'with the stack gone, the request is a leak');
  });
}

const GDB = spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'gdb is not installed (apt-get install gdb)';

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: gdb unwinds the frames that hold arguments as mdb does`, { skip: GDB }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-stacks-gdb-'));
    try {
      const r = runScenario('leak', { dir, model, seed: 4 });
      const out = spawnSync('gdb', ['-batch', '-nx', '-ex', 'thread apply all bt', r.dump.unixPath, r.dump.vmcorePath], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      assert.match(out.stdout, /#0\s+0x[0-9a-f]+ in swtch \(\)\n#1\s+0x[0-9a-f]+ in cv_timedwait \(\)\n#2\s+0x[0-9a-f]+ in memtest_wait_io \(\)\n#3\s+0x[0-9a-f]+ in memtest_waiter \(\)\n/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
