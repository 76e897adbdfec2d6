/*
 * The output bound of a command line, and the pipeline costs that made
 * fuzzed lines run for minutes: a pipe-fed stage runs with a count of 1
 * (illumos' mdb_call), `addr,count::dump` dumps count bytes once, and a
 * command that writes past the bound (output, warnings, or what its pipes
 * pass on) stops with one line saying so; so does a line whose scans
 * (::kgrep per piped address) read more memory than the work bound.  Work
 * is counted (calls, lines, reads), never timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMdb, DCMD_OK, type MdbModule } from '../../src/mdb/index.js';
import '../../src/mdb/modules/genunix.js';
import { ArgumentError } from '../../src/machine/argcheck.js';
import { openDump } from '../../src/target/dump-target.js';
import { mdb, scenarioDump, type Dump } from './helpers.js';

const WORK_LINE = /^mdb: work limit of (\d+) bytes scanned reached: command stopped/m;
const BOUND_LINE = /^mdb: output limit of (\d+) characters reached: command stopped, the rest of its output is lost/m;

/** A module that emits addresses, records how it is called, and misbehaves on request. */
let pool: Dump | undefined;
/** One pool-unload dump for the tests on a real dump. */
const poolDump = (): Dump => (pool ??= scenarioDump('pool-unload'));

function probeModule() {
  const seen = { counts: [] as number[], taken: [] as number[], stubbornLoops: 0 };
  const mod: MdbModule = {
    name: 'probe',
    walkers: [],
    dcmds: [
      {
        name: 'emit',
        usage: 'n',
        description: 'emit n addresses, 16 bytes apart',
        fn(ctx, _addr, _flags, argv) {
          const n = ctx.parseValue(argv[0] ?? '0');
          for (let i = 0; i < n; i++) ctx.pipeOut(i * 16);
          return DCMD_OK;
        },
      },
      {
        name: 'probe',
        usage: '',
        description: 'record the count of each call',
        fn(ctx) {
          seen.counts.push(ctx.count);
          return DCMD_OK;
        },
      },
      {
        name: 'takeall',
        usage: '',
        description: 'take the whole pipe at once',
        fn(ctx) {
          seen.taken.push(ctx.getPipe().length);
          return DCMD_OK;
        },
      },
      {
        name: 'stubborn',
        usage: '',
        description: 'print until interrupted, swallowing every error',
        fn(ctx) {
          while (!ctx.interrupted() && seen.stubbornLoops < 1e6) {
            seen.stubbornLoops++;
            try {
              ctx.out('x\n');
            } catch {
              /* a careless dcmd */
            }
          }
          return DCMD_OK;
        },
      },
    ],
  };
  return { mod, seen };
}

test('a pipe-fed stage runs once per address with a count of 1 (illumos mdb_call)', () => {
  const { mod, seen } = probeModule();
  const r = runMdb(undefined, '::emit 0t300 | ::probe', [mod]);
  assert.equal(r.ok, true, r.stderr);
  assert.equal(seen.counts.length, 300);
  assert.ok(seen.counts.every((c) => c === 1), `counts seen: ${[...new Set(seen.counts)].join(',')}`);
  // ::dump takes its length from the count: 16 bytes (a header and one row) per piped address, not the pipe's length
  const d = runMdb(undefined, '::emit 0t300 | ::dump', [mod]);
  assert.equal(d.stdout.split('\n').filter(Boolean).length, 300 * 2);
});

test('addr,count::dump dumps count bytes once', () => {
  const r = runMdb(undefined, '0,0t64::dump');
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1 + 64 / 16, r.stdout);
});

test('getPipe() takes the rest of the pipe in one call', () => {
  const { mod, seen } = probeModule();
  const r = runMdb(undefined, '::emit 5 | ::takeall', [mod]);
  assert.equal(r.ok, true, r.stderr);
  assert.deepEqual(seen.taken, [5]);
});

test('output past the bound stops the command with one line; the next command has a fresh budget', () => {
  const { mod } = probeModule();
  const r = runMdb(undefined, '::emit 0t100000\n::echo after', [mod], { maxOutput: 4096 });
  assert.equal(r.ok, false);
  assert.ok(r.stdout.endsWith('after \n'), r.stdout.slice(-40));
  assert.ok(r.stdout.length <= 4096 + 'after \n'.length, String(r.stdout.length));
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.equal(BOUND_LINE.exec(r.stderr)?.[1], '4096');
});

test('addresses passed down a pipe count towards the bound', () => {
  const { mod, seen } = probeModule();
  const r = runMdb(undefined, '::emit 0t100000 | ::probe', [mod], { maxOutput: 4096 });
  assert.match(r.stderr, BOUND_LINE);
  assert.equal(seen.counts.length, 0, 'the consumer of a stopped stage never runs');
});

test('warnings count towards the bound (a pipe of 100000 addresses into an unknown dcmd)', () => {
  const { mod } = probeModule();
  const r = runMdb(undefined, '::emit 0t100000 | ::nosuch', [mod], { maxOutput: 1 << 20 });
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length < 100_000, String(lines.length));
  assert.match(lines.at(-1)!, BOUND_LINE);
  assert.equal(lines.filter((l) => BOUND_LINE.test(l)).length, 1);
});

test('a dcmd that swallows the bound error is stopped through ctx.interrupted()', () => {
  const { mod, seen } = probeModule();
  const r = runMdb(undefined, '::stubborn', [mod], { maxOutput: 1000 });
  assert.ok(seen.stubbornLoops <= 501, String(seen.stubbornLoops));
  assert.equal(r.stderr.match(new RegExp(BOUND_LINE.source, 'gm'))?.length, 1, r.stderr);
});

test('::eval and macros run inside the budget of the command that runs them', () => {
  const { mod } = probeModule();
  const r = runMdb(undefined, '::eval "::emit 0t100000"; ::echo next', [mod], { maxOutput: 4096 });
  assert.equal(r.stderr.match(new RegExp(BOUND_LINE.source, 'gm'))?.length, 1, r.stderr);
  assert.ok(r.stdout.endsWith('next \n'));
});

test('maxOutput 0 means no bound; a bad maxOutput is an ArgumentError', () => {
  const { mod } = probeModule();
  const r = runMdb(undefined, '::emit 0t20000', [mod], { maxOutput: 0 });
  assert.equal(r.ok, true, r.stderr);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 20000);
  for (const bad of [-1, 1.5, Number.NaN, '100']) {
    assert.throws(() => runMdb(undefined, '::echo', [], { maxOutput: bad as number }), ArgumentError);
  }
});

test('mdb --max-output: one line when reached, usage error when malformed', () => {
  const r = mdb(['--max-output', '64', '-e', '::dcmds']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, BOUND_LINE);
  assert.ok(r.stdout.length <= 64, String(r.stdout.length));
  const bad = mdb(['--max-output', 'lots', '-e', '::dcmds']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^mdb: --max-output needs a number of characters/);
});

test('the fuzzer\'s slow lines: bounded work on real dumps', () => {
  const pool = poolDump();
  const t = openDump(pool.unix, pool.vmcore);
  try {
    // module_init's bit diagram (=j) piped into ::dump: 16 bytes per address, not the pipe's length each
    let loads = 0;
    const load8 = t.load8.bind(t);
    t.load8 = (a: number) => {
      loads++;
      return load8(a);
    };
    const dumpLine = runMdb(t, 'module_init=13j4db | ::dump "\x1bx" "`x" 0t16');
    const rows = dumpLine.stdout.split('\n').filter((l) => /:\s/.test(l) && !/\\\//.test(l)).length;
    assert.ok(rows > 100, `${rows} rows dumped`);
    assert.ok(loads <= rows * 16, `${loads} byte loads for ${rows} rows`);
    // ::kgrep of 0 matches every zero word: the bound cuts it off
    const kgrep = runMdb(t, '*kmem_reaping::kgrep', [], { maxOutput: 1 << 20 });
    assert.ok(kgrep.stdout.length <= 1 << 20);
    assert.match(kgrep.stderr, BOUND_LINE);
  } finally {
    t.close();
  }
});

test('the work bound stops a pipeline of whole-memory scans with little output', () => {
  const pool = poolDump();
  const t = openDump(pool.unix, pool.vmcore);
  try {
    let scanned = 0;
    const bytes = t.bytes.bind(t);
    t.bytes = (base: number, size: number) => {
      scanned += size;
      return bytes(base, size);
    };
    const once = runMdb(t, 'kmem_caches::kgrep');
    assert.equal(once.ok, true, once.stderr);
    const perScan = scanned;
    assert.ok(perScan > 0);
    // every cache's address, each searched over all of memory: bounded to about three scans
    scanned = 0;
    const bound = 3 * perScan;
    const r = runMdb(t, '::walk kmem_cache | ::kgrep\n::echo after', [], { maxWork: bound });
    assert.equal(r.ok, false);
    assert.equal(WORK_LINE.exec(r.stderr)?.[1], String(bound), r.stderr);
    assert.equal(r.stderr.match(new RegExp(WORK_LINE.source, 'gm'))?.length, 1, r.stderr);
    assert.ok(scanned <= bound + perScan, `${scanned} bytes read for a bound of ${bound}`);
    assert.ok(r.stdout.endsWith('after \n'), 'the next command has a fresh budget');
    // without a bound the same line runs to its end
    const all = runMdb(t, '::walk kmem_cache | ::kgrep', [], { maxWork: 0 });
    assert.equal(all.ok, true, all.stderr);
    assert.ok(all.stdout.split('\n').filter(Boolean).length > 0);
    for (const bad of [-1, 0.5, Number.NaN]) {
      assert.throws(() => runMdb(t, '::echo', [], { maxWork: bad }), ArgumentError);
    }
  } finally {
    t.close();
  }
});

test('mdb --max-work: one line when reached, usage error when malformed', () => {
  const pool = poolDump();
  const r = mdb(['--max-work', '4096', '-e', 'kmem_caches::kgrep', pool.unix, pool.vmcore]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, WORK_LINE);
  const bad = mdb(['--max-work', 'lots', '-e', '::dcmds']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^mdb: --max-work needs a number of bytes/);
});
