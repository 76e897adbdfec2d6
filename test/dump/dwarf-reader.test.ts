/*
 * The DWARF reader: what the unix.N writer produces reads back as the same
 * layouts and variables (both models); the naming rules across units and
 * against a table that already has names; hostile sections end in
 * DwarfReadError, never another exception or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/kernel/kernel.js';
import { TypeTable, type TypeId } from '../../src/ctf/ctf.js';
import { buildDwarf, type DwarfVariable } from '../../src/dump/dwarf.js';
import { DwarfReadError, readDebugInfo, type DebugSections } from '../../src/dump/dwarf-reader.js';
import { ILP32 } from '../../src/machine/memory.js';
import { Rand } from '../../src/kernel/rand.js';

/** The kernel's globals with a C type, as the namelist writer describes them. */
function kernelVariables(k: Kernel): DwarfVariable[] {
  const out: DwarfVariable[] = [];
  for (const s of k.symbols()) {
    if (s.kind !== 'object' || s.type === undefined) continue;
    const type = k.types.find(s.type) ?? tryTypeId(k, s.type);
    if (type !== undefined) out.push({ name: s.name, addr: s.value, type });
  }
  return out;
}

function tryTypeId(k: Kernel, name: string): TypeId | undefined {
  try {
    return k.typeId(name);
  } catch {
    return undefined;
  }
}

function sectionsOf(types: TypeTable, variables: readonly DwarfVariable[], addrSize: 4 | 8): DebugSections {
  const d = buildDwarf({ types, variables, functions: [], producer: 'test', unitName: 'unit' }, addrSize);
  return { info: d['.debug_info'], abbrev: d['.debug_abbrev'], str: d['.debug_str'] };
}

/** A one-line description of a named type's layout, comparable across tables. */
function layout(tt: TypeTable, id: TypeId): string {
  const r = tt.get(tt.resolve(id));
  const head = `${tt.typeName(id)} size ${tt.sizeof(id)}`;
  if (r.kind !== 'struct' && r.kind !== 'union') return head;
  return `${head} {${r.members.map((m) => `${tt.typeName(m.type)} ${m.name}@${m.bitOffset}${m.bits ? `:${m.bits}` : ''}`).join('; ')}}`;
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`unix.N's DWARF reads back as the kernel's layouts and variables (${model})`, () => {
    const k = new Kernel({ model, seed: 1, heapSize: 4 << 20 });
    const vars = kernelVariables(k);
    assert.ok(vars.length > 10, `${vars.length} typed globals`);
    const read = new TypeTable(k.model);
    const got = readDebugInfo(sectionsOf(k.types, vars, k.model.ptrSize === 8 ? 8 : 4), read);
    let compared = 0;
    for (const name of k.types.names()) {
      const id = k.types.find(name)!;
      const kind = k.types.get(id).kind;
      if (kind !== 'struct' && kind !== 'union' && kind !== 'typedef') continue;
      const back = read.find(name);
      assert.ok(back !== undefined, `${name} is named in the read table`);
      assert.equal(layout(read, back), layout(k.types, id), name);
      compared++;
    }
    assert.ok(compared > 50, `${compared} named types compared`);
    assert.deepEqual(
      got.map((v) => `${v.name}@${v.addr}: ${read.typeName(v.type)}`),
      vars.map((v) => `${v.name}@${v.addr}: ${k.types.typeName(v.type)}`),
    );
  });
}

test('a second unit\'s copy of a type is the first one; a different layout never takes a name the table has', () => {
  const src = new TypeTable(ILP32);
  const node = src.forward('struct', 'node');
  src.defineAggregate('struct', 'node', [
    { name: 'next', type: src.pointerTo(node) },
    { name: 'key', type: src.mustFind('int') },
  ]);
  const v = [{ name: 'head', addr: 0x400, type: src.pointerTo(node) }];
  const a = sectionsOf(src, v, 4);
  // the reader's table already has a different `struct node` (as a core's allocator types could)
  const into = new TypeTable(ILP32);
  const theirs = into.defineAggregate('struct', 'node', [{ name: 'x', type: into.mustFind('long long') }]);
  const got = readDebugInfo(a, into);
  assert.equal(into.find('struct node'), theirs, 'the name keeps its meaning');
  const head = got.find((x) => x.name === 'head')!;
  const target = into.get(into.get(head.type).kind === 'ptr' ? (into.get(head.type) as { ref: number }).ref : head.type);
  assert.equal(target.kind, 'struct');
  assert.deepEqual(
    (target as { members: Array<{ name: string }> }).members.map((m) => m.name),
    ['next', 'key'],
    'the variable keeps its own type',
  );
  // read twice into a fresh table: the second reading adds no second `struct node`
  const fresh = new TypeTable(ILP32);
  readDebugInfo(a, fresh);
  const n1 = fresh.count();
  const first = fresh.find('struct node');
  readDebugInfo(a, fresh);
  assert.equal(fresh.find('struct node'), first);
  assert.ok(fresh.count() - n1 < 10, `${fresh.count() - n1} types added by a second identical unit`);
});

test('hostile DWARF ends in DwarfReadError: truncations and random byte flips', () => {
  const k = new Kernel({ model: 'ilp32', seed: 3, heapSize: 4 << 20 });
  const good = sectionsOf(k.types, kernelVariables(k), 4);
  const rng = new Rand(20261206);
  let errors = 0;
  for (let i = 0; i < 300; i++) {
    const info = good.info.slice();
    const abbrev = good.abbrev.slice();
    const which = i % 3;
    if (which === 0) {
      const cut = rng.below(info.length);
      try {
        readDebugInfo({ ...good, info: info.subarray(0, cut) }, new TypeTable(ILP32));
      } catch (e) {
        assert.ok(e instanceof DwarfReadError, String(e));
        errors++;
      }
      continue;
    }
    const buf = which === 1 ? info : abbrev;
    for (let j = 0; j < 4; j++) buf[rng.below(buf.length)] = rng.below(256);
    try {
      readDebugInfo({ ...good, info, abbrev }, new TypeTable(ILP32));
    } catch (e) {
      assert.ok(e instanceof DwarfReadError, `${String(e)} (mutation ${i})`);
      errors++;
    }
  }
  assert.ok(errors > 50, `${errors} of 300 mutations were rejected`);
});
