import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel, KernelPanic } from '../../src/kernel/kernel.js';
import { PageFault, PROT_RW } from '../../src/machine/memory.js';
import { VM_FIRSTFIT, VM_SLEEP, VMEM_ALLOC } from '../../src/vmem/api.js';
import { arenaSummary, createKernelArenas, formatArenaSummary } from '../../src/vmem/arenas.js';
import { checkArena, kstat } from './helpers.js';

const TREE_LP64 = [
  'heap',
  '  vmem_metadata',
  '    vmem_seg',
  '    vmem_hash',
  '    vmem_vmem',
  '  static',
  '    static_alloc',
  '  kmem_metadata',
  '    kmem_msb',
  '    kmem_cache',
  '    kmem_hash',
  '  kmem_log',
  '  kmem_firewall_va',
  '    kmem_firewall',
  '    kmem_oversize',
  '  kmem_va',
  '    kmem_default',
  'module_map',
];

test('the kernel arena tree (LP64)', () => {
  const k = new Kernel();
  const A = createKernelArenas(k);
  const rows = arenaSummary(k);
  assert.deepEqual(
    rows.map((r) => '  '.repeat(r.depth) + r.name),
    TREE_LP64,
  );
  assert.deepEqual(
    rows.map((r) => r.quantum),
    [4096, 4096, 4096, 8, 1, 4096, 8, 4096, 4096, 8, 8, 8, 4096, 4096, 4096, 4096, 4096, 4096],
  );
  assert.equal(A.kmem_va.source, A.heap);
  assert.equal(A.kmem_oversize.source, A.kmem_firewall_va);
  assert.equal(k.mem.loadPtr(k.addr('heap_arena')), A.heap.addr);
  const mm = rows.find((r) => r.name === 'module_map')!;
  assert.equal(mm.total, k.layout.moduleSize);
  for (const a of A.vmem.arenas()) checkArena(k, a);
  const text = formatArenaSummary(rows);
  assert.match(text, /^ {4}kmem_default +4096 +0 +0 +0$/m);
});

test('the kernel arena tree (ILP32): kmem_oversize imports from the heap', () => {
  const k = new Kernel({ model: 'ilp32' });
  const A = createKernelArenas(k, { audit: true });
  assert.equal(A.kmem_oversize.source, A.heap);
  const rows = arenaSummary(k);
  assert.equal(rows.find((r) => r.name === 'kmem_oversize')!.depth, 1);
  const x = A.kmem_oversize.alloc(100000, VM_SLEEP);
  assert.ok(k.mem.isMapped(x + 99999));
  A.kmem_oversize.free(x, 100000);
  assert.ok(!k.mem.isMapped(x));
});

test('kmem_va -> kmem_default: pages are mapped only when imported through segkmem', () => {
  const k = new Kernel();
  const A = createKernelArenas(k);
  const x = A.kmem_default.alloc(8192, VM_SLEEP);
  assert.ok(k.mem.isMapped(x) && k.mem.isMapped(x + 4096));
  const y = A.kmem_va.alloc(8192, VM_SLEEP); // VA only
  assert.ok(!k.mem.isMapped(y));
  const rows = arenaSummary(k);
  const row = (n: string) => rows.find((r) => r.name === n)!;
  assert.equal(row('kmem_default').inuse, 8192);
  assert.equal(row('kmem_default').imported, 8192);
  assert.equal(row('kmem_va').inuse, 16384);
  assert.equal(row('heap').inuse, kstat(k, A.heap, 'vk_mem_inuse'));
  A.kmem_default.free(x, 8192);
  A.kmem_va.free(y, 8192);
  assert.ok(!k.mem.isMapped(x));
  assert.equal(A.kmem_va.size(VMEM_ALLOC), 0);
  assert.equal(A.kmem_default.size(VMEM_ALLOC | 2), 0, 'the released span left kmem_default');
});

test('firewall: a buffer ends at a page followed by an unmapped page', () => {
  const k = new Kernel();
  const A = createKernelArenas(k);
  const size = 3 * 4096;
  const a = A.kmem_firewall.alloc(size, VM_SLEEP);
  const b = A.kmem_oversize.alloc(2 * 4096, VM_SLEEP);
  k.mem.store32(a + size - 4, 1);
  assert.throws(() => k.mem.store32(a + size, 1), PageFault, 'the page after the buffer is unmapped');
  assert.throws(() => k.mem.load8(b + 2 * 4096), PageFault);
  // The heap holds size + one page for each firewalled import.
  assert.equal(A.kmem_firewall_va.size(VMEM_ALLOC), size + 2 * 4096);
  assert.equal(A.heap.contains(a, size + 4096), true);
  // VM_NEXTFIT: freed firewall VA is not reused at once.
  A.kmem_firewall.free(a, size);
  const c = A.kmem_firewall.alloc(size, VM_SLEEP);
  assert.notEqual(c, a);
  A.kmem_firewall.free(c, size);
  A.kmem_oversize.free(b, 2 * 4096);
  assert.equal(A.kmem_firewall_va.size(VMEM_ALLOC), 0);
  assert.throws(() => k.guard(() => k.mem.load8(c)), KernelPanic, 'freed firewall pages fault');
});

test('module_map: first fit gives a reloaded module the same address; pages are the loader\'s', () => {
  const k = new Kernel();
  const A = createKernelArenas(k);
  const mm = A.module_map;
  const a = mm.alloc(5 * 4096, VM_SLEEP | VM_FIRSTFIT);
  const b = mm.alloc(3 * 4096, VM_SLEEP | VM_FIRSTFIT);
  assert.equal(a, k.layout.moduleBase);
  assert.ok(!k.mem.isMapped(a), 'vmem does not map module pages');
  k.mem.map(a, 5 * 4096, PROT_RW);
  k.mem.unmap(a, 5 * 4096);
  mm.free(a, 5 * 4096);
  assert.equal(mm.alloc(5 * 4096, VM_SLEEP | VM_FIRSTFIT), a);
  assert.equal(mm.xalloc(4096, 0, 0, 0, 0, 0, VM_SLEEP | VM_FIRSTFIT), b + 3 * 4096);
});

test('vmem_update runs every 15 s of simulated time', () => {
  const k = new Kernel();
  const A = createKernelArenas(k);
  const xs: number[] = [];
  for (let i = 0; i < 100; i++) xs.push(A.kmem_va.alloc(4096, VM_SLEEP));
  const mask = () => k.mem.loadPtr(A.kmem_va.addr + k.types.offsetof('vmem_t', 'vm_hash_mask'));
  k.advance(14e9);
  assert.equal(mask(), 15);
  k.advance(2e9);
  assert.equal(mask(), 127);
  for (const x of xs) A.kmem_va.free(x, 4096);
  k.advance(15e9);
  assert.equal(mask(), 15);
});
