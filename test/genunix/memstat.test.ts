/*
 * ::memstat and the page walker (src/mdb/modules/genunix-memstat.ts): golden
 * transcripts on a scenario's dump in both data models, and the cross-check
 * that keeps the page accounting honest: ::memstat's Kernel pages are the
 * pages the page-backed vmem arenas (those importing with segkmem_alloc)
 * hold in the heap, plus the mapped pages of text, data, module_map and
 * segkp, read through the target alone.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import { runMdb } from '../../src/mdb/index.js';
import { makeFixture } from './fixture.js';
import { VMEM_SPAN } from '../../src/abi/vmem-impl.js';
import type { Target } from '../../src/target/target.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import '../../src/mdb/modules/genunix.js';

const golden = goldenIn('genunix/golden');

const CMDS = ['::memstat', '::memstat -v', '0::memstat', '0::walk page', 'physmem::print', 'page_hashsz::print'];

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: ::memstat on a dump`, () => {
    const text = withCrash('leak', model, (t) => transcript(t, CMDS));
    golden(`memstat-${model}`, text);
    const rows = text.split('> ::memstat\n')[1]!.split('\n> ')[0]! + '\n';
    assert.match(rows, /^Page Summary {16}Pages {16}MB  %Tot\n-{12} {5}-{16}  -{16}  ----\nKernel +\d+ +\d+ +\d+%\nAnon +0 +0 +0%\nExec and libs +0 +0 +0%\nPage cache +0 +0 +0%\nFree \(cachelist\) +0 +0 +0%\nFree \(freelist\) +\d+ +\d+ +\d+%\n\nTotal +\d+ +\d+\n$/);
    const n = (label: string) => Number(new RegExp(`^${label.replace(/[()]/g, '\\$&')} +(\\d+)`, 'm').exec(rows)![1]);
    assert.equal(n('Kernel') + n('Free (freelist)'), n('Total'));
    assert.match(text, /> ::memstat -v\nUsage: ::memstat\n/);
  });
}

/**
 * The heap pages the spans of every vmem arena whose source allocator is
 * segkmem_alloc cover (segkmem maps them whole), from the target.  Spans
 * outside the heap are static memory in the data segment (vmem's boot
 * segments), counted with it.
 */
function segkmemHeapPages(t: Target, k: Kernel): number {
  const pagesize = k.pageSize;
  const heapEnd = k.layout.heapBase + k.heapSize;
  const T = t.types;
  const o = (m: string) => T.offsetof('vmem_t', m);
  const seg = (m: string) => T.offsetof('vmem_seg_t', m);
  const segkmem = t.symbolByName('segkmem_alloc')!.value;
  const pages = new Set<number>();
  for (let vmp = t.loadPtr(t.symbolByName('vmem_list')!.value); vmp !== 0; vmp = t.loadPtr(vmp + o('vm_next'))) {
    if (t.loadPtr(vmp + o('vm_source_alloc')) !== segkmem) continue;
    const head = vmp + o('vm_seg0');
    for (let vsp = t.loadPtr(head + seg('vs_anext')); vsp !== head; vsp = t.loadPtr(vsp + seg('vs_anext'))) {
      if (t.read(vsp + seg('vs_type'), 1)[0] === VMEM_SPAN) {
        const end = t.loadPtr(vsp + seg('vs_end'));
        for (let a = Math.floor(t.loadPtr(vsp + seg('vs_start')) / pagesize) * pagesize; a < end; a += pagesize) {
          if (a >= k.layout.heapBase && a < heapEnd) pages.add(a);
        }
      }
    }
  }
  return pages.size;
}

/** Mapped pages of the target in [base, base + size). */
function mappedPages(t: Target, k: Kernel, base: number, size: number): number {
  let n = 0;
  for (let a = base; a < base + size; a += k.pageSize) if (t.isMapped(a)) n++;
  return n;
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: ::memstat's Kernel pages are the segkmem arenas' spans plus the mapped image, stacks and modules`, () => {
    const f = makeFixture({ model, leaks: true });
    const k = f.sys.k;
    const L = k.layout;
    const out = runMdb(f.t, '::memstat').stdout;
    const kernel = Number(/^Kernel +(\d+)/m.exec(out)![1]);
    const heapPages = segkmemHeapPages(f.t, k);
    const other = [
      [L.textBase, L.textSize],
      [L.dataBase, L.dataSize],
      [L.moduleBase, L.moduleSize],
      [L.segkpBase, L.segkpSize],
    ].reduce((sum, [b, s]) => sum + mappedPages(f.t, k, b!, s!), 0);
    assert.equal(kernel, heapPages + other);
    assert.equal(kernel, k.pages!.pagesInUse);
  });
}

test('::memstat needs page accounting; the page walker takes no address', () => {
  const f = makeFixture({ leaks: false });
  assert.match(runMdb(f.t, '0::walk page').stderr, /page is a global walk and takes no address/);
});
