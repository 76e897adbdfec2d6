/*
 * The genunix adb macros ($<kmem_cache, $<bufctl_audit, $<vmem_seg,
 * $<kmem_slab, $<vmem) in both data models: each field in the macro's
 * format (sizes and counts in decimal, pointers and flags in hex, function
 * pointers symbolic), and $<kmem_cache's magazine_size.  Goldens in
 * test/genunix/golden/macros-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture } from './fixture.js';
import { goldenIn, transcript } from '../golden.js';
import { hex } from '../../src/machine/addr.js';
import { KmemView } from '../../src/mdb/analysis/kmem-view.js';
import { VmemView } from '../../src/mdb/analysis/vmem-view.js';
import { VMEM_ALLOC } from '../../src/abi/vmem-impl.js';

const golden = goldenIn('genunix/golden');
const X = (a: number) => '0x' + hex(a);

/** The value under a field name in a macro's output (the row of names, then the row of values). */
function field(text: string, name: string): string {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.replace(/^0x[0-9a-f]+:\s*/, '').split(/\s+/);
    const k = names.indexOf(name);
    if (k >= 0 && /^0x[0-9a-f]+:/.test(lines[i]!)) return lines[i + 1]!.trim().split(/\s+/)[k]!;
  }
  throw new Error(`no field ${name}`);
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`golden (${model}): $<kmem_cache, $<bufctl_audit, $<kmem_slab, $<vmem_seg, $<vmem in the macros' formats`, () => {
    const f = makeFixture({ model });
    const kv = new KmemView(f.t);
    const c = kv.cacheByName('kmem_alloc_24')!;
    const ci = kv.cache(c);
    const r = kv.allocatedBuffers(ci).find((x) => x.buf === f.leaked.a[0])!;
    const slab = kv.slabs(c)[0]!;
    const vv = new VmemView(f.t);
    const ov = vv.arenaByName('kmem_oversize')!;
    const seg = vv.segs(ov).find((s) => vv.seg(s).type === VMEM_ALLOC)!;
    const cacheText = transcript(f.t, [`${X(c)}$<kmem_cache`]);
    golden(`macros-${model}`, cacheText + transcript(f.t, [`${X(r.bufctl)}$<bufctl_audit`, `${X(slab)}$<kmem_slab`, `${X(seg)}$<vmem_seg`, `${X(ov)}$<vmem`]));
    // the guide's: bufsize 24, slabsize 8192 (ours: the slab size of the cache), buftotal, flags in hex
    assert.equal(field(cacheText, 'bufsize'), '24');
    assert.equal(field(cacheText, 'slabsize'), String(ci.slabsize));
    assert.equal(field(cacheText, 'buftotal'), String(ci.buftotal));
    assert.equal(field(cacheText, 'chunksize'), String(ci.chunksize));
    assert.equal(field(cacheText, 'flags'), ci.flags.toString(16));
    assert.equal(field(cacheText, 'arena'), hex(ci.arena));
    assert.equal(field(cacheText, 'magazine_size'), String(ci.magsize));
    assert.equal(field(cacheText, 'constructor'), '0');
  });
}
