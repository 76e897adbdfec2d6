/*
 * libumem's module is complete: every dcmd and walker spec §6 lists (wasm32.md,
 * illumos' libumem module) is there and runs, on a program core and on a live
 * createUmem heap; ::umastat takes no options, as illumos'; ::bufctl_audit is
 * ::bufctl -v; umem_cpu walks the CPUs whose per-CPU caches every cache holds;
 * an oversize leak (a malloc past the largest umem_alloc cache, a segment of
 * umem_oversize) is found on a core, where vmem's static boundary-tag pools
 * hold real sizes and must not be scanned as roots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUmem, type Umem } from '../../src/umem/umem.js';
import { writeWasmCore } from '../../src/dump/wasm/core-writer.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import { parseWasmModule } from '../../src/dump/wasm/module.js';
import { umemTarget } from '../../src/umemcheck/analysis.js';
import { runMdb } from '../../src/mdb/index.js';
import type { Target } from '../../src/target/target.js';
import '../../src/mdb/modules/libumem.js';
import '../../src/mdb/modules/genunix.js';
import { goldenIn } from '../golden.js';
import { buildTestModule, tmpDir, CALL_OFFSETS, HEAP_BASE, STACK_TOP } from './helpers.js';

const MOD = buildTestModule();
const INFO = parseWasmModule(MOD, 'test.wasm');
const pc = (fn: 'main' | 'helper' | 'crash') => INFO.functions.find((f) => f.name === fn)!.addr + CALL_OFFSETS[fn];
const golden = goldenIn('wasmcore/golden');

const DCMDS = ['umastat', 'umem_status', 'umem_cache', 'umem_verify', 'umem_log', 'umalog', 'umausers', 'umem_malloc_dist', 'umem_malloc_info', 'bufctl', 'bufctl_audit', 'allocdby', 'freedby', 'vmem', 'vmem_seg', 'ugrep', 'findleaks', 'umem_debug', 'whatis'];
const WALKERS = ['umem_cache', 'umem', 'freemem', 'bufctl', 'freectl', 'bufctl_history', 'umem_cpu', 'umem_cpu_cache', 'umem_hash', 'umem_log', 'umem_slab', 'umem_slab_partial', 'vmem', 'vmem_alloc', 'vmem_free', 'vmem_postfix', 'vmem_seg', 'vmem_span', 'allocdby', 'freedby', 'leak', 'leakbuf'];

const OVERSIZE = 100_000;

interface Heap {
  u: Umem;
  memory: WebAssembly.Memory;
  kept: number;
  lost: number;
  big: number;
}

/** A heap with a block kept from .bss, a lost small block and a lost oversize block. */
function makeHeap(): Heap {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 256 });
  const u = createUmem({ memory, base: HEAP_BASE, env: { UMEM_DEBUG: 'default', UMEM_LOGGING: 'transaction' }, seed: 11, captureStack: () => [pc('helper'), pc('main')] });
  const kept = u.malloc(24);
  const lost = u.malloc(40);
  const big = u.malloc(OVERSIZE);
  new DataView(memory.buffer).setUint32(1100, kept, true); // a global in .bss
  return { u, memory, kept, lost, big };
}

function coreOf(h: Heap): string {
  return writeWasmCore(tmpDir('umemall'), {
    module: MOD,
    programName: 'test.wasm',
    argv: ['test.wasm'],
    memory: new Uint8Array(h.memory.buffer),
    globals: { __stack_pointer: STACK_TOP - 32 },
    frames: [{ funcIndex: 0, codeOffset: CALL_OFFSETS.main }],
    reason: { kind: 'exit', message: 'exited', exitStatus: 0 },
    types: h.u.types,
    symbols: h.u.symbols().map((s) => ({ name: s.name, value: s.value, size: s.size, kind: s.kind })),
  }).path;
}

function mdb(t: Target, cmds: string): string {
  const r = runMdb(t, cmds, [], { shellEscapes: true });
  assert.equal(r.stderr, '', `${cmds}: ${r.stderr}`);
  return r.stdout;
}

/** Every dcmd and walker of spec §6 is there and runs without error. */
function checkComplete(t: Target, h: Heap): void {
  const dcmds = mdb(t, '::dcmds\n');
  for (const d of DCMDS) assert.match(dcmds, new RegExp(`^${d} +- `, 'm'), `dcmd ${d}`);
  const walkers = mdb(t, '::walkers\n');
  for (const w of WALKERS) assert.match(walkers, new RegExp(`^${w} +- `, 'm'), `walker ${w}`);
  assert.match(walkers, /^umem_alloc_48 +- walk the umem_alloc_48 cache$/m, 'a walker per cache');
  const cache = Number.parseInt(mdb(t, '::walk umem_cache ! head -1\n'), 16);
  const c48 = mdb(t, '::umem_cache ! grep umem_alloc_48\n').split(' ')[0]!;
  const heap = mdb(t, '::walk vmem ! head -1\n').trim();
  const buf = (h.lost - 8).toString(16);
  const ctl = new RegExp(`^ +([0-9a-f]+) +${buf} +[0-9a-f]+ +([0-9a-f]+)$`, 'm').exec(mdb(t, `${buf}::whatis\n`));
  assert.ok(ctl, 'whatis gives the bufctl and thread of an audited buffer');
  const [, bufctl, thread] = ctl as unknown as [string, string, string];
  const runs = [
    '::umastat',
    '::umem_status',
    '::umem_cache',
    '::umem_verify',
    '::umem_log ! head -3',
    '::umalog ! head -3',
    '::umausers -e',
    '::umem_malloc_dist',
    '::umem_malloc_info',
    `${bufctl}::bufctl`,
    `${bufctl}::bufctl_audit`,
    `${thread}::allocdby`,
    `${thread}::freedby`,
    '::vmem',
    `${heap}::walk vmem_seg ! head -1`,
    `${h.lost.toString(16)}::ugrep`,
    '::findleaks',
    `${h.lost.toString(16)}::whatis`,
  ];
  for (const r of runs) mdb(t, `${r}\n`);
  for (const w of ['umem_cache', 'umem_cpu', 'vmem', 'vmem_postfix']) assert.notEqual(mdb(t, `::walk ${w}\n`), '', w);
  for (const w of ['umem', 'freemem', 'bufctl', 'freectl', 'umem_cpu_cache', 'umem_hash', 'umem_slab', 'umem_slab_partial']) assert.notEqual(mdb(t, `${c48}::walk ${w}\n`), '', `${c48}::walk ${w}`);
  for (const w of ['vmem_alloc', 'vmem_free', 'vmem_seg', 'vmem_span']) assert.notEqual(mdb(t, `${heap}::walk ${w}\n`), '', w);
  for (const w of ['allocdby', 'freedby']) mdb(t, `${thread}::walk ${w}\n`);
  assert.notEqual(mdb(t, `${bufctl}::walk bufctl_history\n`), '');
  assert.notEqual(mdb(t, '::walk umem_log ! head -1\n'), '');
  assert.ok(Number.isFinite(cache));
  mdb(t, '::findleaks\n');
  assert.notEqual(mdb(t, '::walk leak\n'), '');
  assert.notEqual(mdb(t, '::walk leakbuf\n'), '');
}

test('every libumem dcmd and walker of spec §6, on a program core', () => {
  const h = makeHeap();
  const t = openWasmCore(coreOf(h));
  try {
    checkComplete(t, h);
  } finally {
    t.close();
  }
});

test('every libumem dcmd and walker of spec §6, on a live createUmem heap', () => {
  const h = makeHeap();
  const t = umemTarget(h.u, { ranges: [{ base: 1024, size: 1024, name: 'data' }] });
  checkComplete(t, h);
});

test('::findleaks on a program core finds an oversize leak (vmem\'s static segment pools are not roots)', () => {
  const h = makeHeap();
  const t = openWasmCore(coreOf(h));
  try {
    const leaks = mdb(t, '::findleaks\n');
    assert.match(leaks, /^[0-9a-f]+ +1 [0-9a-f]+ helper\+7$/m, 'the lost small block');
    assert.match(leaks, new RegExp(`^${OVERSIZE + 8} +1 +[0-9a-f]+ helper\\+7\n-+\n +Total +1 oversized leak, ${OVERSIZE + 8} bytes$`, 'm'), leaks);
    assert.match(leaks, /^ +Total +1 buffer, 48 bytes$/m);
    const segs = mdb(t, '::walk leakbuf\n');
    assert.ok(segs.includes(`0x${(h.big - 8).toString(16)}`), `the oversize block leaked: ${segs}`);
    assert.ok(!segs.includes(`0x${(h.kept - 8).toString(16)}`), 'the block .bss points to is not a leak');
    golden('umem-complete', mdb(t, '::findleaks -d\n::umem_status\n::walk umem_cpu\n::umastat\n') + mdb(t, `${(h.lost - 8).toString(16)}::whatis ! head -3\n`));
  } finally {
    t.close();
  }
});
