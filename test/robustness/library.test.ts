/*
 * The library's entry points outside kmem check their arguments: a typed
 * ArgumentError naming the function and the argument, never a silent
 * default, a deep JavaScript error or a wrong answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem } from '../../src/system.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { runScenario } from '../../src/scenarios/index.js';
import { whatis } from '../../src/mdb/analysis/whatis-index.js';
import { openDump } from '../../src/target/dump-target.js';
import { ArgumentError } from '../../src/machine/argcheck.js';
import { scenarioDump, tmpDir } from './helpers.js';

function throwsArg(f: () => unknown, fn: string, arg: string): void {
  assert.throws(f, (e: unknown) => e instanceof ArgumentError && e.fn === fn && e.arg === arg && e.message.startsWith(`${fn}: ${arg} must be`), `${fn} ${arg}`);
}

test('bootSystem rejects an unknown model, ncpus 0, NaN sizes and bad kmem options', () => {
  throwsArg(() => bootSystem({ model: 'sparc' as 'lp64' }), 'bootSystem', 'model');
  throwsArg(() => bootSystem({ ncpus: 0 }), 'bootSystem', 'ncpus');
  throwsArg(() => bootSystem({ ncpus: 1.5 }), 'bootSystem', 'ncpus');
  throwsArg(() => bootSystem({ heapSize: NaN }), 'bootSystem', 'heapSize');
  throwsArg(() => bootSystem({ heapSize: 2n as unknown as number }), 'bootSystem', 'heapSize');
  throwsArg(() => bootSystem({ seed: -1 }), 'bootSystem', 'seed');
  throwsArg(() => bootSystem({ kmemFlags: NaN }), 'bootSystem', 'kmemFlags');
  throwsArg(() => bootSystem({ kmemPanic: 7 }), 'bootSystem', 'kmemPanic');
  throwsArg(() => new Kernel({ pageSize: 3000 }), 'new Kernel', 'pageSize');
});

test('Kernel.advance rejects NaN, infinite and negative times', () => {
  const k = new Kernel({ heapSize: 8 << 20 });
  const before = k.hrtime;
  for (const v of [NaN, Infinity, -1]) throwsArg(() => k.advance(v), 'Kernel.advance', 'ns');
  assert.equal(k.hrtime, before);
  k.advance(10);
  assert.ok(k.hrtime >= before + 10);
});

test('runScenario rejects a negative seed, an unknown model and a missing dir', () => {
  const dir = tmpDir('rob-lib');
  throwsArg(() => runScenario('leak', { dir, seed: -1 }), 'runScenario', 'opts.seed');
  throwsArg(() => runScenario('leak', { dir, model: 'x' as 'lp64' }), 'runScenario', 'opts.model');
  throwsArg(() => runScenario('leak', { dir: 7 as unknown as string }), 'runScenario', 'opts.dir');
  throwsArg(() => runScenario(3 as unknown as string, { dir }), 'runScenario', 'name');
});

test('whatis with NaN or a fractional address is an ArgumentError, not a match', () => {
  const d = scenarioDump('leak');
  const t = openDump(d.unix, d.vmcore);
  throwsArg(() => whatis(t, NaN), 'whatis', 'addr');
  throwsArg(() => whatis(t, 1.5), 'whatis', 'addr');
  t.close();
});
