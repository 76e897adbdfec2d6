/*
 * A program built with -g: mdb reads its types and globals from the
 * module's DWARF (src/dump/dwarf-reader.ts).  The program prints the
 * compiler's own sizeof and offsetof values; mdb's ::sizeof and
 * ::offsetof must agree, its globals are symbols with their C types
 * (::nm, ::whatis, SYMBOL::print), and a module built without -g leaves
 * the program's types unknown.  A module whose DWARF is malformed still
 * opens its core, with one warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runMdb } from '../../src/mdb/index.js';
import '../../src/mdb/modules/libumem.js';
import { openWasmCore } from '../../src/target/wasm-core-target.js';
import { build, C_DIR, kmemdb, noToolchain, tmpDir } from './helpers.js';
import { buildTestModule, MEM_PAGES, STACK_TOP, writeForeignCore } from '../wasmcore/helpers.js';

/** Build typed.c (with or without -g), run it to its abort, and return the module, core and what it printed. */
function typedCore(debug: boolean): { wasm: string; core: string; stdout: string } {
  const dir = tmpDir(`dwarf-${debug ? 'g' : 'nog'}`);
  const wasm = path.join(dir, 'typed.wasm');
  build([...(debug ? ['-g'] : []), '-O1', '-o', wasm, path.join(C_DIR, 'typed.c')]);
  const r = kmemdb(['run', '--seed', '1', '--dir', dir, wasm]);
  const core = path.join(dir, 'core.0');
  assert.ok(fs.existsSync(core), r.stderr);
  return { wasm, core, stdout: r.stdout };
}

test('a -g program: mdb\'s sizes, offsets, globals and ::print agree with the compiler', { skip: await noToolchain() }, () => {
  const { wasm, core, stdout } = typedCore(true);
  // "sizeof 48 next 0 ...", then "head 0x69f28 table 0x420": the compiler's answers
  const facts: Record<string, number> = Object.fromEntries([...stdout.matchAll(/(\w+) (0x[0-9a-f]+|\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  const t = openWasmCore(core, { modulePath: wasm });
  try {
    assert.deepEqual(t.warnings, []);
    const offsets = ['next', 'key', 'name', 'weight', 'u', 'color', 'cb'];
    const r = runMdb(t, ['::sizeof struct node', '::sizeof node_t', ...offsets.map((m) => `::offsetof struct node ${m}`)].join('\n'));
    assert.equal(r.stderr, '');
    // mdb's radix is 16: "= 0x30", and "= 4" for a value under 10
    const got = [...r.stdout.matchAll(/= (?:0x)?([0-9a-f]+)$/gm)].map((m) => parseInt(m[1]!, 16));
    assert.deepEqual(got, [facts.sizeof, facts.sizeof, ...offsets.map((m) => facts[m])]);
    // the globals are symbols with their types
    const head = t.symbolByName('head');
    assert.equal(head?.type, 'struct node *');
    assert.equal(t.symbolByName('table')?.type, 'node_t [4]');
    assert.equal(t.symbolByName('table')?.size, 4 * facts.sizeof);
    assert.equal(t.symbolByName('table')?.value, facts.table);
    const p = runMdb(t, 'head/X\n*head::print struct node key name flag other color\ntable+0t' + (facts.sizeof + facts.key) + '::whatis\n::nm -t objt');
    assert.equal(p.stderr, '');
    assert.match(p.stdout, new RegExp(`head:\\s+${facts.head.toString(16)}\\b`));
    assert.match(p.stdout, /key = 0x5\n\s*name = \[ "node" \]\n\s*flag = 0x5\n\s*other = 0x11\n\s*color = 5 \(GREEN\)/);
    assert.match(p.stdout, new RegExp(`is table\\+0x${(facts.sizeof + facts.key).toString(16)}, in typed\\.wasm's data segment`));
    assert.match(p.stdout, /\|OBJT \|GLOB \|0x0  \|\? +\|head\n/);
    // SYMBOL::print takes the symbol's type
    const s = runMdb(t, 'table::print -t');
    assert.match(s.stdout, /^node_t \[4\] \[/);
    assert.match(s.stdout, /int key = 0x2a/);
  } finally {
    t.close();
  }
});

test('without -g the program\'s types are unknown; the allocator\'s remain', { skip: await noToolchain() }, () => {
  const { wasm, core } = typedCore(false);
  const t = openWasmCore(core, { modulePath: wasm });
  try {
    assert.equal(t.symbolByName('head'), undefined);
    const r = runMdb(t, '::sizeof struct node\n::sizeof kmem_cache_t');
    assert.match(r.stderr, /failed to look up type struct node: unknown type/);
    assert.match(r.stdout, /sizeof \(kmem_cache_t\) = 0x/);
  } finally {
    t.close();
  }
});

test('a module with malformed DWARF opens its core with one warning', () => {
  const dir = tmpDir('dwarf-bad');
  const junk = (name: string, payload: number[]): number[] => {
    const n = [...Buffer.from(name)];
    const body = [n.length, ...n, ...payload];
    return [0, body.length, ...body];
  };
  const mod = Buffer.concat([Buffer.from(buildTestModule()), Buffer.from([...junk('.debug_abbrev', [1, 0x11, 0, 0x03, 0x77, 0, 0, 0]), ...junk('.debug_info', [20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 4, 1, 0xff])])]);
  const modPath = path.join(dir, 'test.wasm');
  fs.writeFileSync(modPath, mod);
  const core = path.join(dir, 'other.core');
  writeForeignCore(core, { memory: new Uint8Array(MEM_PAGES * 65536), stackPointer: STACK_TOP - 48, frames: [[2, 1], [1, 7], [0, 1]] });
  const t = openWasmCore(core, { modulePath: modPath });
  try {
    assert.equal(t.warnings.length, 1, t.warnings.join('\n'));
    assert.match(t.warnings[0]!, /^test\.wasm: DWARF not read, the program's types and variables are unknown: \.debug_info\+0x[0-9a-f]+: /);
    assert.match(runMdb(t, '$c').stdout, /crash\+1\(\)/);
  } finally {
    t.close();
  }
});
