import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph, layerViolations, readLayerTable } from './layer-rule.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const table = (): string => fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');

test('src/ keeps the layer rule of docs/architecture.md', () => {
  const v = layerViolations(importGraph(path.join(root, 'src')), readLayerTable(table()));
  assert.deepEqual(v, [], '\n' + v.join('\n'));
});

test('the layer table lists every folder of src/ in the documented order', () => {
  const layers = readLayerTable(table());
  assert.deepEqual(
    layers.map((l) => l.name),
    ['machine', 'ctf', 'ABI', 'kernel', 'vmem', 'kmem', 'system', 'subsystems', 'dump', 'scenarios', 'target', 'mdb', 'demo', 'programs', 'cli', 'library'],
  );
  assert.deepEqual(layers[12]!.units, ['demo', 'umemcheck']);
  const units = new Set(layers.flatMap((l) => l.units));
  for (const e of fs.readdirSync(path.join(root, 'src'))) assert.ok(units.has(e), `src/${e} has no row`);
});

/** A throwaway src/ tree: the files given, each holding its source text. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-layers-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

test('a wrong import fails the check, with a message that names both files and the layers', () => {
  const dir = tree({
    'kmem/cache.ts': `import { Kernel } from '../kernel/kernel.js';\nexport const x = Kernel;\n`,
    'kernel/kernel.ts': `export class Kernel {}\n`,
    'mdb/analysis/leaks.ts': `import type { Kmem } from '../../kmem/cache.js';\nexport type K = Kmem;\n`,
    'vmem/vmem.ts': `export const later = import('../kmem/cache.js');\n`,
  });
  try {
    const v = layerViolations(importGraph(dir), readLayerTable(table()));
    assert.ok(v.some((l) => l.startsWith('src/vmem/vmem.ts imports src/kmem/cache.ts: vmem (layer 5) may import only machine, ctf, abi, kernel, not kmem (layer 6)')), v.join('\n'));
    assert.ok(v.includes('src/mdb/analysis/leaks.ts imports src/kmem/cache.ts: mdb may not import kmem code (mdb reads the target; it shares only src/abi with the allocator and kernel)'), v.join('\n'));
    assert.ok(!v.some((l) => l.startsWith('src/kmem/cache.ts')), 'kmem may import the kernel');
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('mdb may not reach kernel code through a layer in between', () => {
  const dir = tree({
    'kernel/kernel.ts': `export class Kernel {}\n`,
    'target/live-target.ts': `import { Kernel } from '../kernel/kernel.js';\nexport const k = Kernel;\n`,
    'mdb/session.ts': `import { k } from '../target/live-target.js';\nexport const s = k;\n`,
  });
  try {
    const v = layerViolations(importGraph(dir), readLayerTable(table()));
    assert.deepEqual(v, [
      'src/mdb/session.ts reaches src/target/live-target.ts -> src/kernel/kernel.ts: mdb may not reach kernel code (mdb reads the target; it shares only src/abi with the allocator and kernel)',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('a file outside every layer, and two folders of one layer importing each other, are violations', () => {
  const dir = tree({
    'gadget/x.ts': `export const x = 1;\n`,
    'demo/tour.ts': `import { run } from '../umemcheck/check.js';\nexport const p = run;\n`,
    'umemcheck/check.ts': `export const run = 1;\n`,
  });
  try {
    const v = layerViolations(importGraph(dir), readLayerTable(table()));
    assert.ok(v.includes('src/gadget/x.ts is in no layer: add src/gadget to the layer table of docs/architecture.md'), v.join('\n'));
    assert.ok(v.some((l) => l.startsWith('src/demo/tour.ts imports src/umemcheck/check.ts: demo (layer 13)')), v.join('\n'));
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
