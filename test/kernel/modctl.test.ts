/*
 * The kernel's module list (src/kernel/modctl.ts), checked on the bytes of
 * a booted system in both data models: the primary modules, genunix's size
 * following the image, and a NetBSD module's modctl across load, unload
 * and reload (illumos' modctls persist; the krtld object does not).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSystem } from '../../src/system.js';
import { bootNetbsd } from '../../src/netbsd/index.js';
import type { Kernel } from '../../src/kernel/kernel.js';

function field(k: Kernel, type: string, a: number, m: string): number {
  const T = k.types;
  const size = T.sizeof(T.member(T.mustFind(type), m).type);
  const at = a + T.offsetof(type, m);
  return size === 1 ? k.mem.load8(at) : size === 4 ? k.mem.load32(at) : k.mem.loadPtr(at);
}

const mc = (k: Kernel, a: number, m: string) => field(k, 'struct modctl', a, m);
const ko = (k: Kernel, a: number, m: string) => field(k, 'struct krtld_module', a, m);

/** The modctls on the list from `modules`, with their names. */
function modctls(k: Kernel): Array<{ addr: number; name: string }> {
  const head = k.addr('modules');
  const out: Array<{ addr: number; name: string }> = [];
  let a = head;
  do {
    out.push({ addr: a, name: k.readString(mc(k, a, 'mod_modname')) });
    a = mc(k, a, 'mod_next');
  } while (a !== head && out.length < 100);
  return out;
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: unix is \`modules\` (id 0), genunix follows it and grows with the image`, () => {
    const { k } = bootSystem({ model, seed: 1, heapSize: 32 << 20 });
    const list = modctls(k);
    assert.deepEqual(list.map((m) => m.name), ['unix', 'genunix']);
    const [unix, genunix] = list.map((m) => m.addr) as [number, number];
    assert.equal(unix, k.addr('modules'));
    assert.deepEqual([mc(k, unix, 'mod_id'), mc(k, genunix, 'mod_id')], [0, 1]);
    assert.equal(mc(k, genunix, 'mod_prev'), unix);
    assert.equal(mc(k, unix, 'mod_prev'), genunix, 'the list is circular through modules');
    for (const a of [unix, genunix]) {
      assert.deepEqual(['mod_prim', 'mod_loaded', 'mod_installed', 'mod_loadflags'].map((m) => mc(k, a, m)), [1, 1, 1, 1]);
    }
    assert.equal(k.readString(mc(k, genunix, 'mod_filename')), model === 'lp64' ? '/kernel/amd64/genunix' : '/kernel/genunix');
    // unix's text and data end where genunix's begin
    const u = mc(k, unix, 'mod_mp');
    const g = mc(k, genunix, 'mod_mp');
    assert.equal(ko(k, u, 'text'), k.layout.textBase);
    assert.equal(ko(k, u, 'text') + ko(k, u, 'text_size'), ko(k, g, 'text'));
    assert.equal(ko(k, u, 'data') + ko(k, u, 'data_size'), ko(k, g, 'data'));
    assert.equal(ko(k, g, 'text') + ko(k, g, 'text_size'), k.textEnd);
    // a function or a global added later is genunix's
    const text = ko(k, g, 'text_size');
    const data = ko(k, g, 'data_size');
    k.fn('t_late_function', 0x100);
    k.global('t_late_global', 'uint64_t [4]');
    assert.ok(ko(k, g, 'text_size') >= text + 0x100);
    assert.ok(ko(k, g, 'data_size') >= data + 32);
    assert.equal(mc(k, genunix, 'mod_text_size'), ko(k, g, 'text_size'));
    assert.equal(ko(k, g, 'data') + ko(k, g, 'data_size'), k.dataEnd);
  });

  test(`${model}: a NetBSD module's modctl: created at its first load, kept across unload, reused at reload`, () => {
    const sys = bootSystem({ model, seed: 1, heapSize: 32 << 20 });
    const k = sys.k;
    const os = bootNetbsd(sys);
    assert.equal(os.modules.load('compat_freebsd'), 0);
    const byName = () => new Map(modctls(k).map((m) => [m.name, m.addr]));
    const list = byName();
    // the dependent's modctl exists before its requisite is loaded (illumos: mod_hold_by_name, then mod_load_requisite)
    assert.deepEqual([...list.keys()], ['unix', 'genunix', 'compat_freebsd', 'compat']);
    const compat = list.get('compat')!;
    const fb = list.get('compat_freebsd')!;
    assert.equal(mc(k, compat, 'mod_ref'), 1, 'compat_freebsd holds compat');
    assert.equal(k.readString(mc(k, fb, 'mod_filename')), 'exec/compat_freebsd');
    assert.deepEqual(['mod_loaded', 'mod_installed', 'mod_busy', 'mod_prim', 'mod_loadcnt'].map((m) => mc(k, fb, m)), [1, 1, 0, 0, 1]);
    const mp = mc(k, fb, 'mod_mp');
    const kobj = k.mem.loadPtr(os.modules.lookup('compat_freebsd') + k.types.offsetof('struct module', 'mod_kobj'));
    assert.equal(ko(k, mp, 'text'), k.mem.loadPtr(kobj + k.types.offsetof('struct kobj', 'ko_text_address')));
    assert.equal(ko(k, mp, 'text_size') + ko(k, mp, 'data_size'), k.mem.loadPtr(kobj + k.types.offsetof('struct kobj', 'ko_size')));
    assert.equal(mc(k, fb, 'mod_text'), ko(k, mp, 'text'));
    // loading it again (EEXIST: the loader reads the file, then finds the module loaded) leaves its modctl alone
    assert.equal(os.modules.load('compat_freebsd'), 17);
    assert.equal(mc(k, fb, 'mod_mp'), mp);
    assert.deepEqual(['mod_loaded', 'mod_installed', 'mod_busy', 'mod_loadcnt'].map((m) => mc(k, fb, m)), [1, 1, 0, 1]);
    // the linkage lives in the module's data: MODREV_1 and a description
    const ml = mc(k, fb, 'mod_linkage');
    assert.equal(ml, k.addr('compat_freebsd_modlinkage'));
    assert.equal(field(k, 'struct modlinkage', ml, 'ml_rev'), 1);
    const misc = k.mem.loadPtr(ml + k.types.offsetof('struct modlinkage', 'ml_linkage'));
    assert.equal(k.readString(field(k, 'struct modlmisc', misc, 'misc_linkinfo')), 'NetBSD exec module');

    assert.equal(os.modules.unload('compat_freebsd'), 0);
    assert.equal(byName().get('compat_freebsd'), fb, 'the modctl stays on the list');
    assert.deepEqual(['mod_mp', 'mod_loaded', 'mod_installed', 'mod_linkage', 'mod_text'].map((m) => mc(k, fb, m)), [0, 0, 0, 0, 0]);
    assert.equal(mc(k, compat, 'mod_ref'), 0);
    assert.equal(k.readString(mc(k, fb, 'mod_modname')), 'compat_freebsd');

    assert.equal(os.modules.load('compat_freebsd'), 0);
    assert.equal(byName().get('compat_freebsd'), fb, 'reloading reuses the modctl');
    assert.equal(mc(k, fb, 'mod_id'), 2);
    assert.deepEqual(['mod_loaded', 'mod_installed', 'mod_loadcnt', 'mod_gencount'].map((m) => mc(k, fb, m)), [1, 1, 2, 3]);
    assert.notEqual(mc(k, fb, 'mod_mp'), 0);
    assert.equal(modctls(k).length, 4);
  });
}
