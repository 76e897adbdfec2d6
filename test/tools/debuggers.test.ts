/*
 * gdb, drgn and eu-elflint on fresh dumps of each data model, compared
 * with what mdb prints from the same files: backtraces frame for frame,
 * global values, struct prints, and every struct layout (DWARF, read by
 * drgn, against .kmemdb_ctf, read by our reader).  A missing tool skips
 * its tests with a message; CI installs all three (.ci/run).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runScenario } from '../../src/scenarios/index.js';
import { openDump, type DumpTarget } from '../../src/target/dump-target.js';
import { runMdb } from '../../src/index.js';
import { hex, parseAddr } from '../../src/machine/addr.js';
import type { ModelName } from '../../src/machine/memory.js';
import { tmpDir } from '../dump/helpers.js';

function have(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}
const GDB = have('gdb') ? false : 'gdb is not installed (apt-get install gdb)';
const DRGN = have('drgn') ? false : 'drgn is not installed (apt-get install python3-drgn)';
const ELFLINT = have('eu-elflint') ? false : 'eu-elflint is not installed (apt-get install elfutils)';

interface Dump {
  readonly unix: string;
  readonly vmcore: string;
  readonly t: DumpTarget;
}

const dirs: string[] = [];
const dumps = new Map<ModelName, Dump>();
after(() => {
  for (const d of dumps.values()) d.t.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh dump with a deep panic stack, module text and audited caches. */
function dumpOf(model: ModelName): Dump {
  let d = dumps.get(model);
  if (!d) {
    const dir = tmpDir(`dbg-${model}`);
    dirs.push(dir);
    const r = runScenario('pool-unload', { dir, model });
    d = { unix: r.dump.unixPath, vmcore: r.dump.vmcorePath, t: openDump(r.dump.unixPath, r.dump.vmcorePath) };
    dumps.set(model, d);
  }
  return d;
}

function mdb(d: Dump, cmds: string): string {
  const r = runMdb(d.t, cmds);
  assert.equal(r.stderr, '', `mdb ${cmds}`);
  return r.stdout;
}

function gdb(d: Dump, ...cmds: string[]): string {
  const args = ['-batch', '-nx', '-ex', 'set print repeats unlimited', '-ex', 'set print elements unlimited', ...cmds.flatMap((c) => ['-ex', c]), d.unix, d.vmcore];
  const r = spawnSync('gdb', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Run a drgn script on the dump; its last stdout line is JSON. */
function drgn(d: Dump, script: string): unknown {
  const file = path.join(path.dirname(d.unix), 'script.py');
  fs.writeFileSync(file, script);
  const r = spawnSync('drgn', ['-q', '-c', d.vmcore, '-s', d.unix, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** A frame as `name@pc` (pc in hex), the form every side is reduced to. */
type Frame = string;

/** mdb's `func+0xoff(args)` lines (from $c or ::findstack) as frames (an offset below 10 prints without 0x: `thread_start+8()`). */
function mdbFrames(d: Dump, out: string): Frame[] {
  const frames: Frame[] = [];
  for (const m of out.matchAll(/([A-Za-z_][\w.]*)(?:\+(?:0x)?([0-9a-f]+))?\([0-9a-f, ]*\)/g)) {
    const sym = d.t.symbolByName(m[1]!);
    assert.ok(sym, `mdb frame ${m[0]} names a symbol`);
    frames.push(`${m[1]}@${hex(sym.value + parseInt(m[2] ?? '0', 16))}`);
  }
  return frames;
}

/** gdb's `#N  0xPC in func ()` lines as frames; pc-0 frames (threads with no stack) dropped. */
function gdbFrames(out: string): Frame[] {
  const frames: Frame[] = [];
  for (const m of out.matchAll(/^#\d+\s+(0x[0-9a-f]+) in (\S+) \(\)/gm)) {
    const pc = parseAddr(m[1]!);
    if (pc !== 0) frames.push(`${m[2]}@${hex(pc)}`);
  }
  return frames;
}

/** Every thread's stack as mdb's ::findstack sees it (threads with frames only). */
function mdbThreadStacks(d: Dump): string[] {
  return d.t
    .threads()
    .map((th) => mdbFrames(d, mdb(d, `${hex(th.addr)}::findstack`)).join(' '))
    .filter((s) => s !== '')
    .sort();
}

for (const model of ['lp64', 'ilp32'] as const) {
  test(`gdb's bt and thread apply all bt equal mdb's $c and ::findstack (${model})`, { skip: GDB }, () => {
    const d = dumpOf(model);
    const ours = mdbFrames(d, mdb(d, '$c'));
    assert.ok(ours.length >= 6, `a deep panic stack: ${ours.join(' ')}`);
    // (gdb first shows frame #0 as it opens the core, then the backtrace)
    assert.deepEqual(gdbFrames(gdb(d, 'bt').split(/^\[Current thread .*$/m)[1]!), ours);

    const all = gdb(d, 'thread apply all bt');
    const theirs = all
      .split(/^Thread \d+ /m)
      .slice(1)
      .map((s) => gdbFrames(s).join(' '))
      .filter((s) => s !== '')
      .sort();
    assert.deepEqual(theirs, mdbThreadStacks(d));
  });

  test(`gdb prints the types and values mdb prints (${model})`, { skip: GDB }, () => {
    const d = dumpOf(model);
    const flags = /kmem_flags:\s+(\d+)/.exec(mdb(d, 'kmem_flags/D'))![1]!;
    const cache = mdb(d, '::walk kmem_cache').trim().split('\n')[0]!;
    const fields = ['cache_bufsize', 'cache_flags', 'cache_cflags', 'cache_buftotal', 'cache_chunksize', 'cache_slabsize'];
    const mine = mdb(d, `${cache}::print kmem_cache_t cache_name ${fields.join(' ')}`);
    const bufctl = firstAuditedBufctl(d);
    const stack = mdb(d, `${bufctl}::print kmem_bufctl_audit_t bc_stack`);

    const out = gdb(
      d,
      'ptype struct kmem_cache',
      'p kmem_flags',
      `p *(kmem_cache_t *)${cache}`,
      ...fields.map((f) => `p/x ((kmem_cache_t *)${cache})->${f}`),
      `p/x ((kmem_bufctl_audit_t *)${bufctl})->bc_stack`,
    );
    assert.match(out, /^type = struct kmem_cache \{$/m);
    assert.match(out, /^\s+char cache_name\[32\];$/m);
    assert.match(out, /^\s+kmem_cpu_cache_t cache_cpu\[\d+\];$/m);
    const values = [...out.matchAll(/^\$(\d+) = (.*)$/gm)].map((m) => m[2]!);
    assert.equal(values[0], flags, 'p kmem_flags');
    assert.equal(/cache_name = "([^"\\]*)/.exec(values[1]!)![1], /cache_name = \[ "([^"]*)" \]/.exec(mine)![1], 'cache_name');
    fields.forEach((f, i) => {
      const m = new RegExp(`${f} = (0x[0-9a-f]+|\\d+)`).exec(mine)!;
      assert.equal(BigInt(values[2 + i]!), BigInt(m[1]!), f);
    });
    const nums = (s: string) => [...s.matchAll(/\b0x[0-9a-f]+\b|\b\d+\b/g)].map((m) => BigInt(m[0]));
    const ourStack = nums(stack.slice(stack.indexOf('[')));
    assert.ok(ourStack.some((v) => v !== 0n), 'a recorded stack');
    assert.deepEqual(nums(values[2 + fields.length]!), ourStack, 'bc_stack');
  });

  test(`drgn finds mdb's symbols, types and stacks (${model})`, { skip: DRGN }, () => {
    const d = dumpOf(model);
    const r = drgn(
      d,
      `import json
out = {"flags": prog["kmem_flags"].value_(), "type": str(prog.type("kmem_cache_t")), "threads": []}
try:
    frames = []
    for f in prog.crashed_thread().stack_trace():
        frames.append("%s@%x" % (f.symbol().name, f.pc))
    out["crashed"] = frames
    for t in prog.threads():
        fr = []
        for f in t.stack_trace():
            if f.pc != 0:
                fr.append("%s@%x" % (f.symbol().name, f.pc))
        out["threads"].append(" ".join(fr))
except ValueError as e:
    out["unwind_error"] = str(e)
print(json.dumps(out))
`,
    ) as { flags: number; type: string; crashed?: string[]; threads: string[]; unwind_error?: string };
    assert.equal(String(r.flags), /kmem_flags:\s+(\d+)/.exec(mdb(d, 'kmem_flags/D'))![1]);
    assert.equal(r.type, 'typedef struct kmem_cache kmem_cache_t');
    if (model === 'ilp32') {
      // drgn unwinds no i386 core (docs/dump.md); symbols and types work.
      assert.match(r.unwind_error ?? '', /not supported for i386/);
      return;
    }
    assert.deepEqual(r.crashed, mdbFrames(d, mdb(d, '$c')));
    assert.deepEqual(r.threads.filter((s) => s !== '').sort(), mdbThreadStacks(d));
  });

  test(`DWARF (read by drgn) and .kmemdb_ctf (read by mdb) describe every struct alike (${model})`, { skip: DRGN }, () => {
    const d = dumpOf(model);
    const T = d.t.types;
    const ours: Record<string, unknown> = {};
    for (const name of T.names()) {
      const id = T.find(name)!;
      const t = T.get(id);
      if ((t.kind !== 'struct' && t.kind !== 'union') || !t.complete || T.typeName(id) !== name) continue;
      ours[name] = { size: t.size, members: t.members.map((m) => [m.name, m.bitOffset, m.bits > 0 ? m.bits : T.sizeof(m.type) * 8]) };
    }
    assert.ok(Object.keys(ours).length > 50, 'the kernel declares many structs');
    const names = path.join(path.dirname(d.unix), 'names.json');
    fs.writeFileSync(names, JSON.stringify(Object.keys(ours)));
    const theirs = drgn(
      d,
      `import json
from drgn import sizeof
out = {}
for n in json.load(open(${JSON.stringify(names)})):
    t = prog.type(n)
    out[n] = {"size": t.size, "members": [[m.name or "", m.bit_offset, m.bit_field_size or sizeof(m.type) * 8] for m in t.members]}
print(json.dumps(out))
`,
    );
    assert.deepEqual(theirs, ours);
  });

  test(`eu-elflint accepts unix.N and vmcore.N except for our own note types (${model})`, { skip: ELFLINT }, () => {
    const d = dumpOf(model);
    for (const f of [d.unix, d.vmcore]) {
      const r = spawnSync('eu-elflint', [f], { encoding: 'utf8' });
      const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('No errors'));
      for (const c of complaints) {
        // types 0x4b4d00xx: the kmemdb notes (docs/dump.md), which elfutils cannot know
        const m = /unknown (?:object|core) file note type (\d+)(?: with owner name 'kmemdb')? at offset/.exec(c);
        assert.ok(m && Number(m[1]) >>> 8 === 0x4b4d00, `${path.basename(f)}: ${c}`);
      }
    }
  });
}

/** The first kmem_bufctl_audit_t with a recorded stack. */
function firstAuditedBufctl(d: Dump): string {
  const all = mdb(d, '::walk kmem_bufctl_audit_cache').trim().split('\n');
  for (const a of all.slice(0, 200)) {
    if (/bc_depth = 0x[1-9a-f]/.test(mdb(d, `${a}::print kmem_bufctl_audit_t bc_depth`))) return a;
  }
  throw new Error('no audited bufctl with a stack');
}
