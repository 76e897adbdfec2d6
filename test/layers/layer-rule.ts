/*
 * The layer rule of docs/architecture.md, checked on the import graph of
 * src/.
 *
 * The layer table is read from docs/architecture.md itself (the rows of the
 * table under "## Layers": a number, a name, and the folders or files of
 * src/ in backquotes), so the document and the check cannot drift apart.
 * A file may import from its own folder and from the folders of earlier
 * layers; two folders of the same layer may not import each other.  Beyond
 * that, mdb must not reach allocator or kernel code even through a layer in
 * between (src/target holds the live target, which wraps the kernel): the
 * transitive imports of src/mdb are checked against MDB_FORBIDDEN.
 *
 * Imports are found with TypeScript's own pre-processor (static imports,
 * re-exports, `import type`, dynamic `import('...')` with a literal), so a
 * type-only import counts as much as any other.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export interface Layer {
  readonly rank: number;
  readonly name: string;
  /** Units of src/: a folder name (`kmem`) or a top-level file (`system.ts`). */
  readonly units: readonly string[];
}

/** Units of src/ whose code mdb may not reach, directly or transitively. */
export const MDB_FORBIDDEN = ['kernel', 'vmem', 'kmem', 'system.ts', 'umem', 'netbsd', 'program', 'scenarios'];

/** The layer table of docs/architecture.md. */
export function readLayerTable(markdown: string): Layer[] {
  const start = markdown.indexOf('\n## Layers');
  if (start < 0) throw new Error('docs/architecture.md has no "## Layers" section');
  const layers: Layer[] = [];
  for (const line of markdown.slice(start + 1).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = line.split('|').map((c) => c.trim());
    const rank = Number(cells[1]);
    if (!line.startsWith('|') || !Number.isInteger(rank) || rank <= 0) continue;
    const units = [...(cells[3] ?? '').matchAll(/`src\/([^`/]+)\/?`/g)].map((m) => m[1]!);
    if (units.length === 0) throw new Error(`docs/architecture.md: layer ${rank} (${cells[2]}) names no src/ folder`);
    layers.push({ rank, name: cells[2]!, units });
  }
  if (layers.length === 0) throw new Error('docs/architecture.md: the layer table is empty');
  return layers;
}

/** `src/kmem/cache.ts` -> `kmem`; `src/system.ts` -> `system.ts`. */
export function unitOf(srcRel: string): string {
  return srcRel.split('/')[0]!;
}

/** Every .ts file under `srcDir`, relative to it, with the src/ files it imports (relative to srcDir too). */
export function importGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const from = path.relative(srcDir, p).split(path.sep).join('/');
        const info = ts.preProcessFile(fs.readFileSync(p, 'utf8'), true, true);
        const to: string[] = [];
        for (const f of info.importedFiles) {
          if (!f.fileName.startsWith('.')) continue; // node: and packages
          const abs = path.resolve(path.dirname(p), f.fileName.replace(/\.js$/, '.ts'));
          to.push(path.relative(srcDir, abs).split(path.sep).join('/'));
        }
        graph.set(from, to);
      }
    }
  };
  walk(srcDir);
  return graph;
}

/** The violations of the layer rule, one readable line each (empty when the graph keeps it). */
export function layerViolations(graph: ReadonlyMap<string, readonly string[]>, layers: readonly Layer[]): string[] {
  const rankOf = new Map<string, Layer>();
  for (const l of layers) for (const u of l.units) rankOf.set(u, l);
  const allowed = (l: Layer): string =>
    layers
      .filter((x) => x.rank < l.rank)
      .flatMap((x) => x.units)
      .join(', ') || 'nothing outside itself';
  const out: string[] = [];
  for (const [from, tos] of graph) {
    const lf = rankOf.get(unitOf(from));
    if (!lf) {
      out.push(`src/${from} is in no layer: add src/${unitOf(from)} to the layer table of docs/architecture.md`);
      continue;
    }
    for (const to of tos) {
      if (to.startsWith('..')) {
        out.push(`src/${from} imports ${to.replace(/^\.\.\//, '')}, outside src/`);
        continue;
      }
      const ut = unitOf(to);
      if (ut === unitOf(from)) continue;
      const lt = rankOf.get(ut);
      if (lt && lt.rank < lf.rank) continue;
      out.push(
        `src/${from} imports src/${to}: ${lf.name} (layer ${lf.rank}) may import only ${allowed(lf)}` +
          (lt ? `, not ${lt.name} (layer ${lt.rank})` : ''),
      );
    }
  }
  for (const [start] of graph) {
    if (unitOf(start) !== 'mdb') continue;
    const bad = forbiddenReach(graph, start);
    if (!bad) continue;
    const what = `${unitOf(bad.via.at(-1)!)} code (mdb reads the target; it shares only src/abi with the allocator and kernel)`;
    if (bad.via.length === 1) out.push(`src/${start} imports src/${bad.via[0]}: mdb may not import ${what}`);
    else out.push(`src/${start} reaches ${bad.via.map((f) => 'src/' + f).join(' -> ')}: mdb may not reach ${what}`);
  }
  return out;
}

/** The first import path from `start` into an MDB_FORBIDDEN unit, if any. */
function forbiddenReach(graph: ReadonlyMap<string, readonly string[]>, start: string): { via: string[] } | undefined {
  const seen = new Set<string>([start]);
  const queue: string[][] = [[start]];
  while (queue.length > 0) {
    const chain = queue.shift()!;
    for (const next of graph.get(chain.at(-1)!) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      if (MDB_FORBIDDEN.includes(unitOf(next))) return { via: [...chain.slice(1), next] };
      queue.push([...chain, next]);
    }
  }
  return undefined;
}
