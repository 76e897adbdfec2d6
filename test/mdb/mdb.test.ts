import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  runMdb,
  createSession,
  DCMD_OK,
  DCMD_HDRSPEC,
  WHATIS_PRIO_ALLOCATOR,
  WHATIS_PRIO_EARLY,
  WHATIS_PRIO_LATE,
  WHATIS_REG_ID_ONLY,
  WHATIS_REG_NO_ID,
  type MdbModule,
  type WhatisHandler,
} from '../../src/mdb/index.js';
import { hex } from '../../src/machine/addr.js';
import { makeTarget, DATA, HEAP, ILP32 } from './helpers.js';

const run = (cmds: string, t = makeTarget().target, extra: MdbModule[] = []) => runMdb(t, cmds, extra);

test('symbol format: kmem_flags/X prints the sym: line then the value at column 16', () => {
  const r = run('kmem_flags/X');
  assert.equal(r.stdout, 'kmem_flags:\nkmem_flags:     f               \n');
  assert.equal(r.ok, true);
});

test('count and repeat: ,2/KKn indents continuation lines to 16', () => {
  const r = run('big,2/KKn');
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'big:');
  assert.match(lines[1]!, /^big:            500000004       [0-9a-f]+\s*$/);
  assert.match(lines[2]!, /^ {16}\S/);
});

test('expressions: precedence, dereference, variables, dot', () => {
  assert.equal(run('1+2*3=D').stdout.trim(), '7');
  assert.equal(run('(1+2)*3=D').stdout.trim(), '9');
  assert.equal(run('0t17%5=D').stdout.trim(), '3');
  assert.equal(run('0t17#8=D').stdout.trim(), '24');
  assert.equal(run('1|6&3=D').stdout.trim(), '3');
  assert.equal(run('*node_head=K').stdout.trim(), hex(HEAP));
  assert.equal(run('*/i/kmem_flags=D').stdout.trim(), '15');
  assert.equal(run('42>foo\n<foo+1=K').stdout.trim(), '43');
  assert.equal(run('kmem_flags\n.=K').stdout.trim(), hex(DATA));
  assert.equal(run('-1=D').stdout.trim(), '-1');
  assert.equal(run('~0=J').stdout.trim(), 'ffffffffffffffff');
});

test('::status of a dump', () => {
  assert.equal(
    run('::status').stdout,
    'debugging crash dump vmcore.0 (64-bit) from testhost\noperating system: 5.11 kmemdb-1 (i86pc)\npanic message: forced crash dump initiated at user request\n',
  );
});

test('::msgbuf prints the message buffer', () => {
  assert.equal(run('::msgbuf').stdout, 'kmemdb booted\nWARNING: something odd\n');
});

test('::print of a struct with nested values, -a and -t', () => {
  const f = makeTarget();
  const r = runMdb(f.target, `${hex(f.nodes[0]!)}::print struct node`);
  assert.equal(r.stdout, `{\n    n_next = 0x${hex(f.nodes[1]!)}\n    n_value = 0x10\n    n_name = [ "node0" ]\n}\n`);
  const r2 = runMdb(f.target, `${hex(f.nodes[0]!)}::print -a node_t n_value`);
  assert.equal(r2.stdout, `${hex(f.nodes[0]! + 8)} n_value = 0x10\n`);
  const r3 = runMdb(f.target, '::print -at node_t');
  assert.equal(r3.stdout, '0 node_t {\n    0 struct node *n_next \n    8 int n_value \n    c char [8] n_name \n}\n');
});

test('::print bitfields, enums and char pointers', () => {
  const f = makeTarget();
  const r = runMdb(f.target, `${hex(f.threads[0]!.addr)}::print kthread_t`);
  assert.match(r.stdout, /t_name = 0x[0-9a-f]+ "idle"/);
  assert.match(r.stdout, /t_flags = 0x3\n/);
  assert.match(r.stdout, /t_pri = 0x7f\n/);
  assert.match(r.stdout, /t_color = 5 \(GREEN\)\n/);
});

test('::list follows a circular list; ::walk thread; pipelines', () => {
  const f = makeTarget();
  const r = runMdb(f.target, `*node_head::list node_t n_next`);
  assert.equal(r.stdout, f.nodes.map((n) => hex(n) + '\n').join(''));
  const w = runMdb(f.target, '::walk thread');
  assert.equal(w.stdout, f.threads.map((t) => '0x' + hex(t.addr) + '\n').join(''));
  const p = runMdb(f.target, '*node_head::list node_t n_next | ::print node_t n_value');
  assert.equal(p.stdout, 'n_value = 0x10\nn_value = 0x20\nn_value = 0x30\n');
});

test('pipelines call the consumer with LOOP flags, LOOPFIRST once', () => {
  const calls: number[] = [];
  const m: MdbModule = {
    name: 'testmod',
    walkers: [],
    dcmds: [
      {
        name: 'hdr',
        usage: ':',
        description: 'print a header once',
        fn(ctx, addr, flags) {
          calls.push(flags);
          if (DCMD_HDRSPEC(flags)) ctx.out('HEADER\n');
          ctx.printf('%0?p\n', addr);
          return DCMD_OK;
        },
      },
    ],
  };
  const f = makeTarget();
  const r = runMdb(f.target, '*node_head::list node_t n_next | ::hdr', [m]);
  assert.equal(r.stdout, 'HEADER\n' + f.nodes.map((n) => hex(n).padStart(16, '0') + '\n').join(''));
  assert.deepEqual(calls, [0x0f, 0x0b, 0x0b]);
});

test('$c follows the frame-pointer chain of the panic thread', () => {
  assert.equal(run('$c').stdout, 'kmem_alloc+4()\nworker+0x10()\nmain+0x20()\n');
  const f = makeTarget();
  assert.equal(runMdb(f.target, `${hex(f.threads[0]!.addr)}$c`).stdout, 'main+8()\n');
  assert.equal(runMdb(f.target, '0t10$d\n$c').stdout, 'radix = 10 base ten\nkmem_alloc+4()\nworker+0t16()\nmain+0t32()\n');
});

test('::findstack', () => {
  const f = makeTarget();
  const r = runMdb(f.target, `${hex(f.threads[1]!.addr)}::findstack`);
  assert.match(r.stdout, /^stack pointer for thread [0-9a-f]+: ([0-9a-f]{16})\n\[ \1 kmem_alloc\+4\(\) \]\n {2}[0-9a-f]{16} worker\+0x10\(\)\n/);
});

test('::cpuinfo follows cpu_list along cpu_next', () => {
  const f = makeTarget();
  const r = runMdb(f.target, '::cpuinfo');
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^ ID ADDR\s+FLG NRUN BSPL PRI RNRN KRNRN SWITCH THREAD\s+PROC$/);
  assert.match(lines[1]!, /^  0 [0-9a-f]{16}  1b    0    0  -1   no    no    t-0 [0-9a-f]{16} idle$/);
  assert.match(lines[2]!, /^  1 [0-9a-f]{16}  1b .* 0{16} -$/);
  assert.equal(runMdb(f.target, '::walk cpu').stdout.split('\n').length, 3);
});

test('errors are one mdb: line; -e status follows failures', () => {
  const r = run('0xfffffe0000039000/X');
  assert.equal(r.stderr, 'mdb: failed to read data from target at 0xfffffe0000039000\n');
  assert.equal(r.ok, false);
  assert.equal(run('::nosuchcmd').stderr, "mdb: invalid command '::nosuchcmd': unknown dcmd name\n");
  assert.equal(run('1+').stderr.startsWith('mdb: syntax error'), true);
  assert.equal(run('0x_1=K').ok, false);
  assert.equal(run('::print struct nosuch').stderr, 'mdb: failed to look up type struct nosuch: unknown type\n');
  assert.equal(run(':c').stderr, 'mdb: command is not supported by current target\n');
  const u = run('::list');
  assert.match(u.stderr, /^Usage: addr ::list/);
});

test('walker reading unmapped memory reports the address and stops', () => {
  const m: MdbModule = {
    name: 'badwalk',
    dcmds: [],
    walkers: [
      {
        name: 'bad',
        description: 'follows a bad pointer',
        *walk(ctx) {
          yield 1;
          yield ctx.target.loadPtr(0x1000);
        },
      },
    ],
  };
  const r = run('::walk bad', undefined, [m]);
  assert.equal(r.stdout, '1\n');
  assert.equal(r.stderr, 'mdb: bad: failed to read memory at 0x1000\n');
});

test('writes: /W on a writable target, refused on a read-only one', () => {
  const f = makeTarget(undefined, true);
  const r = runMdb(f.target, 'kmem_flags/W 0t31\nkmem_flags/X');
  assert.equal(r.ok, true);
  assert.match(r.stdout, /kmem_flags:     1f/);
  const ro = run('kmem_flags/W 1');
  assert.equal(ro.ok, false);
  assert.match(ro.stderr, /^mdb: failed to write 0x1 at address 0x/);
});

test('$d, ::formats, ::dcmds, ::help', () => {
  assert.equal(runMdb(undefined, '0t10$d\n10=K').stdout, 'radix = 10 base ten\n                a               \n');
  assert.match(runMdb(undefined, '::formats').stdout, /^X - hexadecimal int \(4 bytes\)$/m);
  const d = runMdb(undefined, '::dcmds').stdout;
  for (const n of ['print', 'typedef', 'walk', 'status', 'help']) assert.match(d, new RegExp(`^${n}\\s+- `, 'm'));
  assert.match(runMdb(undefined, '::help walk').stdout, /NAME\n {2}walk - walk data structure\n\nSYNOPSIS\n {2}\[ addr \] ::walk name \[variable\]/);
});

test('every core dcmd has help text or a description', () => {
  const s = createSession(undefined, { stdout: () => {}, stderr: () => {} });
  for (const [n, e] of s.dcmds) {
    assert.ok(e.def.description.length > 0, n);
    assert.ok((e.def.help ?? '').length > 20, `${n} has no help text`);
  }
});

test('ILP32 target: pointer-width output and 32-bit K', () => {
  const f = makeTarget(ILP32);
  const r = runMdb(f.target, '*node_head=K\n::walk thread');
  assert.match(r.stdout, /^ {16}10020000\s+\n/);
});

test('::typedef, ::sizeof, ::offsetof without a target', () => {
  const r = runMdb(undefined, '::typedef "struct list { struct list *prev; struct list *next; }" list_t\n::sizeof list_t\n::print -at list_t\n::offsetof list_t next\n::typedef -l');
  assert.equal(r.stdout, 'sizeof (list_t) = 0x10\n0 list_t {\n    0 struct list *prev \n    8 struct list *next \n}\noffsetof (list_t, next) = 8\nlist_t\nstruct list\n');
  const v = runMdb(undefined, '::typedef "struct gift { uintptr_t stone[4]; void **white; char owner[0]; }" gift_t\n::sizeof gift_t');
  assert.equal(v.stdout, 'sizeof (gift_t) = 0x28\n');
});

test('shell escapes and pipelines to the shell', () => {
  assert.equal(runMdb(undefined, '::echo a b ! tr a-z A-Z', [], { shellEscapes: true }).stdout, 'A B \n');
  assert.equal(runMdb(undefined, "! 'echo 0t42' | ::map .", [], { shellEscapes: true }).stdout, '2a\n');
  // off by default: a script run through the library cannot reach a shell
  const off = runMdb(undefined, '::echo a b ! tr a-z A-Z');
  assert.equal(off.stdout, '');
  assert.match(off.stderr, /shell escapes are disabled/);
  assert.equal(off.ok, false);
});

test('::whatis: threads, stacks, symbols, unknown; pipes searched together', () => {
  const f = makeTarget();
  const t1 = f.threads[1]!;
  const r = runMdb(f.target, `${hex(t1.addr + 8)}::whatis\n${hex(t1.stackBase + 0x10)}::whatis\nkmem_flags+2::whatis\n1234::whatis`);
  assert.equal(
    r.stdout,
    `${hex(t1.addr + 8)} is ${hex(t1.addr)}+8, allocated as a thread structure\n` +
      `${hex(t1.stackBase + 0x10)} is in thread ${hex(t1.addr)}'s stack (below sp)\n` +
      `${hex(DATA + 2)} is kmem_flags+2, in unix's data segment\n` +
      '1234 is unknown\n',
  );
  const p = runMdb(f.target, '::walk thread | ::whatis -v');
  assert.equal(p.stdout.match(/Searching mdb`threads/g)?.length, 1);
});

test('::whatthread: address required, threads as %#lr, -v hits with (below sp), pipes', () => {
  const f = makeTarget();
  const [t0, t1] = [f.threads[0]!, f.threads[1]!];
  const V = HEAP + 0x5000;
  // twice in t1's stack (listed once without -v), once in t0's below its sp
  f.mem.storePtr(t1.stackTop - 0x40, V);
  f.mem.storePtr(t1.stackTop - 0x38, V);
  f.mem.storePtr(t0.stackBase + 0x100, V);
  const u = runMdb(f.target, '::whatthread');
  assert.equal(u.stdout, '');
  assert.equal(u.stderr, 'Usage: addr ::whatthread [-v]\n');
  assert.equal(runMdb(f.target, `${hex(V)}::whatthread -v extra`).stderr, 'Usage: addr ::whatthread [-v]\n');
  assert.equal(runMdb(f.target, `${hex(V)}::whatthread`).stdout, `0x${hex(t0.addr)}\n0x${hex(t1.addr)}\n`);
  assert.equal(
    runMdb(f.target, `${hex(V)}::whatthread -v`).stdout,
    `${hex(t0.stackBase + 0x100)} in thread ${hex(t0.addr)}'s stack (below sp)\n` +
      `${hex(t1.stackTop - 0x40)} in thread ${hex(t1.addr)}'s stack\n` +
      `${hex(t1.stackTop - 0x38)} in thread ${hex(t1.addr)}'s stack\n`,
  );
  assert.equal(
    runMdb(f.target, `${hex(V)}::whatthread | ::whatis`).stdout,
    `${hex(t0.addr)} is allocated as a thread structure\n${hex(t1.addr)} is allocated as a thread structure\n`,
  );
  assert.equal(runMdb(f.target, '1234::whatthread').stdout, '');
  // an unreadable stack ends the walk, as illumos' WALK_ERR
  f.threads.push({ ...t1, addr: t1.addr + 0x1000, stackBase: 0x1000, stackTop: 0x2000 });
  const e = runMdb(f.target, `${hex(V)}::whatthread`);
  assert.equal(e.stdout, `0x${hex(t0.addr)}\n0x${hex(t1.addr)}\n`);
  assert.equal(e.stderr, `mdb: couldn't read thread ${hex(t1.addr + 0x1000)}'s stack at 1000\nmdb: couldn't walk threads\n`);
});

test('::whatis handlers from a module run in order', () => {
  const m: MdbModule = {
    name: 'fake',
    dcmds: [],
    walkers: [],
    whatis: [
      {
        name: 'heap',
        prio: WHATIS_PRIO_ALLOCATOR,
        search(ctx, w) {
          for (const a of w.match(HEAP, 0x100)) {
            w.reportObject(a, HEAP);
            ctx.out('allocated from fake_cache\n');
          }
        },
      },
    ],
  };
  const r = run(`${hex(HEAP + 0x10)}::whatis`, undefined, [m]);
  assert.equal(r.stdout, `${hex(HEAP + 0x10)} is ${hex(HEAP)}+10, allocated from fake_cache\n`);
});

const searching = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('Searching '))
    .map((l) => l.replace(/^Searching (.*)\.\.\.$/, '$1'));

test('::whatis runs handlers by priority, module name, registration (illumos whatis_cbcmp)', () => {
  const h = (name: string, prio: number, flags = 0): WhatisHandler => ({ name, prio, flags, search() {} });
  // zeta is loaded before alpha; alpha registers a2 before a1
  const zeta: MdbModule = { name: 'zeta', dcmds: [], walkers: [], whatis: [h('late1', WHATIS_PRIO_LATE), h('early1', WHATIS_PRIO_EARLY)] };
  const alpha: MdbModule = { name: 'alpha', dcmds: [], walkers: [], whatis: [h('a2', WHATIS_PRIO_LATE), h('a1', WHATIS_PRIO_LATE), h('big', 500)] };
  const r = run('1234::whatis -v', undefined, [zeta, alpha]);
  assert.deepEqual(searching(r.stdout), [
    'mdb`modules',
    'mdb`threads',
    'zeta`early1',
    'alpha`a2',
    'alpha`a1',
    'zeta`late1',
    'alpha`big', // clamped to WHATIS_PRIO_MIN (99); "alpha" sorts before "mdb"
    'mdb`mappings',
  ]);
  assert.match(r.stdout, /1234 is unknown\n$/);
});

test('::whatis -i skips every WHATIS_REG_NO_ID handler (mdb`mappings too); a plain search skips ID_ONLY', () => {
  const h = (name: string, flags: number): WhatisHandler => ({ name, prio: WHATIS_PRIO_ALLOCATOR, flags, search() {} });
  const m: MdbModule = { name: 'ids', dcmds: [], walkers: [], whatis: [h('noid', WHATIS_REG_NO_ID), h('idonly', WHATIS_REG_ID_ONLY), h('both', 0)] };
  assert.deepEqual(searching(run('1234::whatis -v', undefined, [m]).stdout), ['mdb`modules', 'mdb`threads', 'ids`noid', 'ids`both', 'mdb`mappings']);
  assert.deepEqual(searching(run('1234::whatis -iv', undefined, [m]).stdout), ['ids`idonly', 'ids`both']);
  // a kernel symbol is mdb`mappings' answer, which -i does not ask
  assert.equal(run('kmem_flags+2::whatis').stdout, `${hex(DATA + 2)} is kmem_flags+2, in unix's data segment\n`);
  assert.equal(run('kmem_flags+2::whatis -i').stdout, `${hex(DATA + 2)} is unknown\n`);
});

test('::whatis -l lists the handlers as illumos cmd_whatis, without an address', () => {
  const m: MdbModule = {
    name: 'ids',
    dcmds: [],
    walkers: [],
    whatis: [{ name: 'idonly', prio: WHATIS_PRIO_ALLOCATOR, flags: WHATIS_REG_ID_ONLY, search() {} }, { name: 'plain', prio: WHATIS_PRIO_LATE, search() {} }],
  };
  const r = run('::whatis -l', undefined, [m]);
  assert.equal(r.stderr, '');
  assert.equal(
    r.stdout,
    'NAME             MODULE       PRIO             FUNC              ARG    FLAGS\n' +
      'modules          mdb            10 0                0                   NO_ID\n' +
      'threads          mdb            10 0                0                   NO_ID\n' +
      'idonly           ids            20 0                0                 ID_ONLY\n' +
      'plain            ids            30 0                0                    none\n' +
      'mappings         mdb            99 0                0                   NO_ID\n',
  );
  // %?s and %-?p are 8 wide on an ILP32 target
  assert.equal(
    runMdb(makeTarget(ILP32).target, '::whatis -l').stdout.split('\n')[0],
    'NAME             MODULE       PRIO     FUNC      ARG    FLAGS',
  );
  // without -l the address is still required
  const u = run('::whatis');
  assert.equal(u.stdout, '');
  assert.equal(u.stderr, 'Usage: addr ::whatis [-abikqv]\n');
});

test('::whatis handler registration refuses bad flags as mdb_whatis_register()', () => {
  const m: MdbModule = {
    name: 'bad',
    dcmds: [],
    walkers: [],
    whatis: [
      { name: 'both', prio: WHATIS_PRIO_EARLY, flags: WHATIS_REG_NO_ID | WHATIS_REG_ID_ONLY, search() {} },
      { name: 'odd', prio: WHATIS_PRIO_EARLY, flags: 0x10, search() {} },
    ],
  };
  const r = run('::whatis -l', undefined, [m]);
  assert.equal(r.stderr, 'mdb: mdb_whatis_register(): flags (3) contains both NO_ID and ID_ONLY.\nmdb: mdb_whatis_register(): flags (10) contain unknown flags\n');
  assert.doesNotMatch(r.stdout, /bad/);
});

test('hidden ::whatis -D prints the addresses first as illumos cmd_whatis: "    %p" each, no newline after the last', () => {
  const k = hex(DATA + 2);
  assert.deepEqual(run('kmem_flags+2::whatis -D'), {
    stdout: `Searching for:\n    ${k}${k} is kmem_flags+2, in unix's data segment\n`,
    stderr: '',
    ok: true,
  });
  assert.equal(run('1234::whatis -D').stdout, 'Searching for:\n    12341234 is unknown\n');
  // -v: the first "Searching ..." continues the list's line
  assert.equal(
    run('1234::whatis -Dv').stdout,
    'Searching for:\n    1234Searching mdb`modules...\nSearching mdb`threads...\nSearching mdb`mappings...\n1234 is unknown\n',
  );
  // a pipeline: sorted, then wrapped as mdb's autowrap does: a piece ("    "
  // or the address) that would pass column 80 starts a new line, so four
  // 64-bit addresses a line
  const A = [HEAP + 0x50, HEAP + 0x10, DATA + 2, HEAP + 0x40, HEAP + 0x20, HEAP + 0x30];
  const walkOf = (xs: number[]): MdbModule => ({ name: 'list', dcmds: [], walkers: [{ name: 'addrs', description: 'test addresses', walk: () => xs }], whatis: [] });
  const p = run('::walk addrs | ::whatis -D', undefined, [walkOf(A)]);
  const unknown = (xs: number[]) => xs.map((x) => `${hex(x)} is unknown\n`).join('');
  assert.equal(
    p.stdout,
    'Searching for:\n' +
      `    ${k}    ${hex(HEAP + 0x10)}    ${hex(HEAP + 0x20)}    ${hex(HEAP + 0x30)}\n` +
      `    ${hex(HEAP + 0x40)}    ${hex(HEAP + 0x50)}` +
      `${k} is kmem_flags+2, in unix's data segment\n` +
      unknown([HEAP + 0x10, HEAP + 0x20, HEAP + 0x30, HEAP + 0x40, HEAP + 0x50]),
  );
  // -k: no slurping (illumos cmd_whatis), one address a call in the
  // pipeline's order, each with its own list and reports
  assert.equal(
    run('::walk addrs | ::whatis -Dk', undefined, [walkOf(A.slice(0, 3))]).stdout,
    `Searching for:\n    ${hex(HEAP + 0x50)}${hex(HEAP + 0x50)} is unknown\n` +
      `Searching for:\n    ${hex(HEAP + 0x10)}${hex(HEAP + 0x10)} is unknown\n` +
      `Searching for:\n    ${k}${k} is kmem_flags+2, in unix's data segment\n`,
  );
  assert.equal(
    run('::walk addrs | ::whatis -k', undefined, [walkOf(A.slice(0, 3))]).stdout,
    `${hex(HEAP + 0x50)} is unknown\n${hex(HEAP + 0x10)} is unknown\n${k} is kmem_flags+2, in unix's data segment\n`,
  );
  // sorted as uintptr_t (illumos uintptr_cmp: small addresses before kernel
  // ones, which are negative numbers here), and each piece wraps on its own:
  // after "    10    30" and three addresses (col 72) a "    " still fits
  // (col 76), its address does not
  const B = [HEAP + 0x20, 0x30, DATA + 2, 0x10, HEAP + 0x10, HEAP + 0x30];
  const q = run('::walk addrs | ::whatis -D', undefined, [walkOf(B)]);
  assert.equal(
    q.stdout,
    'Searching for:\n' +
      `    10    30    ${k}    ${hex(HEAP + 0x10)}    ${hex(HEAP + 0x20)}    \n` +
      `${hex(HEAP + 0x30)}` +
      `${k} is kmem_flags+2, in unix's data segment\n` +
      unknown([0x10, 0x30, HEAP + 0x10, HEAP + 0x20, HEAP + 0x30]),
  );
  // without -D: the same reports, unknowns in the same order
  assert.equal(run('::walk addrs | ::whatis', undefined, [walkOf(B)]).stdout, q.stdout.slice(q.stdout.indexOf(`${k} is`)));
  // 32-bit addresses are shorter: the line takes six (6 * 12 = 72, a seventh "    " fits, its %p does not)
  const f32 = makeTarget(ILP32);
  const C = [0x10000100, 0x10000200, 0x10000300, 0x10000400, 0x10000500, 0x10000600, 0x10000700];
  assert.equal(
    runMdb(f32.target, '::walk addrs | ::whatis -D', [walkOf(C)]).stdout.split('\n').slice(0, 3).join('\n'),
    'Searching for:\n    10000100    10000200    10000300    10000400    10000500    10000600    \n10000700' + '10000100 is main, in unix\'s text segment',
  );
});

test('::whatis -D checks reports as illumos whatis_debug: an address not searched for is warned about', () => {
  const stray: MdbModule = {
    name: 'stray',
    dcmds: [],
    walkers: [],
    whatis: [
      {
        name: 'stray',
        prio: WHATIS_PRIO_ALLOCATOR,
        search(ctx, w) {
          for (const a of w.match(HEAP, 0x100)) {
            w.reportObject(a + 8, HEAP);
            ctx.out('a stray report\n');
          }
        },
      },
    ],
  };
  const cmd = `${hex(HEAP + 0x10)}::whatis`;
  const plain = run(cmd, undefined, [stray]);
  assert.equal(plain.stderr, '');
  const d = run(cmd + ' -D', undefined, [stray]);
  assert.equal(d.stderr, `mdb: mdb_whatis_report_object(): addr ${hex(HEAP + 0x18)} is not a pointer of interest.\n`);
  assert.equal(d.stdout, `Searching for:\n    ${hex(HEAP + 0x10)}` + plain.stdout);
});

test('::help whatis is illumos whatis_help(): its text, then the handlers ::whatis runs as SOURCES, in order', () => {
  const h = (name: string, prio: number, flags = 0): WhatisHandler => ({ name, prio, flags, search() {} });
  const zeta: MdbModule = { name: 'zeta', dcmds: [], walkers: [], whatis: [h('late1', WHATIS_PRIO_LATE), h('early1', WHATIS_PRIO_EARLY)] };
  const alpha: MdbModule = { name: 'alpha', dcmds: [], walkers: [], whatis: [h('a2', WHATIS_PRIO_LATE), h('idonly', WHATIS_PRIO_ALLOCATOR, WHATIS_REG_ID_ONLY)] };
  const r = run('::help whatis', undefined, [zeta, alpha]);
  assert.equal(r.stderr, '');
  assert.equal(
    r.stdout,
    '\n' +
      'NAME\n' +
      '  whatis - given an address, return information\n' +
      '\n' +
      'SYNOPSIS\n' +
      '  addr ::whatis [-abikqv]\n' +
      '\n' +
      'DESCRIPTION\n' +
      '  Given a virtual address (with -i, an identifier), report where it came\n' +
      '  from.\n' +
      '\n' +
      '  When fed from a pipeline, ::whatis will not maintain the order the input\n' +
      '  comes in; addresses will be reported as it finds them. (-k prevents this;\n' +
      '  the output will be in the same order as the input)\n' +
      '\n' +
      'OPTIONS\n' +
      '    -a  Report all information about each address/identifier.  The default\n' +
      '        behavior is to report only the first (most specific) source for each\n' +
      '        address/identifier.\n' +
      '    -i  addr is an identifier, not a virtual address.\n' +
      '    -k  Do not re-order the input. (may be slower)\n' +
      "    -q  Quiet; don't print multi-line reports. (stack traces, etc.)\n" +
      '    -v  Verbose output; display information about the progress of the search\n' +
      '\n' +
      'SOURCES\n' +
      '\n' +
      '  The following information sources will be used:\n' +
      '\n' +
      '    mdb`modules\n' +
      '    mdb`threads\n' +
      '    zeta`early1\n' +
      '    alpha`idonly\n' +
      '    alpha`a2\n' +
      '    zeta`late1\n' +
      '    mdb`mappings\n' +
      '\n' +
      'ATTRIBUTES\n' +
      '\n' +
      '  Target: kvm\n' +
      '  Module: mdb\n' +
      '  Interface Stability: Evolving\n' +
      '\n',
  );
  // SOURCES is the -l list, in the same order
  const names = run('::whatis -l', undefined, [zeta, alpha])
    .stdout.split('\n')
    .slice(1, -1)
    .map((l) => l.split(/ +/));
  assert.deepEqual(
    r.stdout.split('\n').filter((l) => l.startsWith('    ') && l.includes('`')).map((l) => l.trim()),
    names.map(([name, mod]) => `${mod}\`${name}`),
  );
});

test('nested commands (::eval) inside a pipeline write to the pipe', () => {
  const f = makeTarget();
  const r = runMdb(f.target, "*node_head::list node_t n_next | ::eval '*.=K' | ::eval '.=K'");
  assert.equal(r.stdout, [f.nodes[1], f.nodes[2], f.nodes[0]].map((n) => ' '.repeat(16) + hex(n!).padEnd(17) + '\n').join(''));
});
