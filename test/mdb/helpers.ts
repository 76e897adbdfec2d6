/*
 * A small LP64 target for mdb tests: one kernel segment at
 * 0xfffffe0000000000 with a few globals, two threads with frame-pointer
 * chained stacks, a circular list and a struct cpu array.
 */

import { PagedMemory, LP64, ILP32, PROT_RW, type DataModel } from '../../src/machine/memory.js';
import { TypeTable } from '../../src/ctf/ctf.js';
import { declare } from '../../src/ctf/cparse.js';
import { MemoryTarget } from '../../src/target/memory-target.js';
import type { TargetSymbol, TargetThread } from '../../src/target/target.js';
import { parseAddr } from '../../src/machine/addr.js';

export const BASE = parseAddr('0xfffffe0000000000');
export const TEXT = BASE; // functions
export const DATA = BASE + 0x10000; // globals
export const HEAP = BASE + 0x20000; // objects
export const STACK = BASE + 0x30000; // thread stacks (2 x 0x2000)

const DECLS = `
struct node { struct node *n_next; int n_value; char n_name[8]; };
typedef struct node node_t;
enum color { RED, GREEN = 5, BLUE };
struct cpu { int cpu_id; int cpu_seqid; unsigned int cpu_flags; struct kthread *cpu_thread; struct cpu *cpu_next; };
struct kthread { struct kthread *t_next; char *t_name; unsigned int t_flags:4; unsigned int t_pri:12; enum color t_color; };
typedef struct kthread kthread_t;
`;

export interface Fixture {
  target: MemoryTarget;
  mem: PagedMemory;
  threads: TargetThread[];
  nodes: number[];
}

export function makeTarget(model: DataModel = LP64, writable = false): Fixture {
  const mem = new PagedMemory(model);
  const P = model.ptrSize;
  const base = model === LP64 ? BASE : 0x10000000;
  const text = base;
  const data = base + 0x10000;
  const heap = base + 0x20000;
  const stack = base + 0x30000;
  mem.reserve('kernel', base, 0x40000);
  mem.map(base, 0x38000, PROT_RW); // the last 0x8000 bytes stay unmapped
  const types = new TypeTable(model);
  declare(types, DECLS);
  const syms: TargetSymbol[] = [];
  const fn = (name: string, off: number, size: number) => syms.push({ name, value: text + off, size, kind: 'func' });
  fn('main', 0x100, 0x80);
  fn('worker', 0x200, 0x100);
  fn('kmem_alloc', 0x400, 0x40);
  fn('panicsys', 0x500, 0x40);
  const obj = (name: string, off: number, size: number) => syms.push({ name, value: data + off, size, kind: 'object' });
  obj('kmem_flags', 0, 4);
  mem.store32(data, 0xf);
  obj('msgbuf', 0x100, 256);
  const msg = 'kmemdb booted\nWARNING: something odd\n';
  for (let i = 0; i < msg.length; i++) mem.store8(data + 0x100 + i, msg.charCodeAt(i));
  obj('node_head', 0x300, P);
  obj('cpu_list', 0x400, P);
  obj('big', 0x500, 16);
  mem.store64(data + 0x500, 0x0000000500000004n);

  // a circular list of three nodes
  const nsz = types.size('struct node');
  const nodes = [heap, heap + nsz, heap + 2 * nsz];
  nodes.forEach((a, i) => {
    mem.storePtr(a, nodes[(i + 1) % 3]!);
    mem.store32(a + P, 0x10 * (i + 1));
    const name = `node${i}`;
    for (let j = 0; j < name.length; j++) mem.store8(a + P + 4 + j, name.charCodeAt(j));
  });
  mem.storePtr(data + 0x300, nodes[0]!);

  // threads
  const tsz = types.size('struct kthread');
  const t0 = heap + 0x200;
  const t1 = t0 + tsz;
  const names = [heap + 0x400, heap + 0x420];
  ['idle', 'worker'].forEach((n, i) => {
    for (let j = 0; j < n.length; j++) mem.store8(names[i]! + j, n.charCodeAt(j));
  });
  mem.storePtr(t0, t1);
  mem.storePtr(t0 + P, names[0]!);
  mem.storePtr(t1 + P, names[1]!);
  const flagsOff = types.offsetof('struct kthread', 't_flags');
  mem.store32(t0 + flagsOff, 0x3 | (0x7f << 4));
  mem.store32(t0 + types.offsetof('struct kthread', 't_color'), 5);

  // stack of thread 1: pc in worker, frames: worker <- kmem_alloc? (fp chain)
  const sb = stack;
  const st = stack + 0x2000;
  const f1 = st - 0x100; // innermost frame
  const f2 = st - 0x80;
  mem.storePtr(f1, f2);
  mem.storePtr(f1 + P, text + 0x210); // return into worker+0x10
  mem.storePtr(f2, 0);
  mem.storePtr(f2 + P, text + 0x120); // return into main+0x20
  const threads: TargetThread[] = [
    { addr: t0, name: 'idle', pc: text + 0x108, sp: st + 0x1f00, fp: 0, stackBase: st, stackTop: st + 0x2000, cpu: 0 },
    { addr: t1, name: 'worker', pc: text + 0x404, sp: f1 - 0x10, fp: f1, stackBase: sb, stackTop: st, cpu: -1 },
  ];
  // cpus array
  const cpu0 = heap + 0x600;
  mem.store32(cpu0, 0);
  mem.storePtr(cpu0 + types.offsetof('struct cpu', 'cpu_thread'), t0);
  const cpu1 = cpu0 + types.size('struct cpu');
  mem.store32(cpu0 + types.offsetof('struct cpu', 'cpu_flags'), 0x1b);
  mem.store32(cpu1, 1);
  mem.store32(cpu1 + types.offsetof('struct cpu', 'cpu_flags'), 0x1b);
  mem.storePtr(cpu0 + types.offsetof('struct cpu', 'cpu_next'), cpu1);
  mem.storePtr(cpu1 + types.offsetof('struct cpu', 'cpu_next'), cpu0);
  mem.storePtr(data + 0x400, cpu0);

  const target = new MemoryTarget({
    memory: mem,
    types,
    symbols: syms,
    threads,
    writable,
    status: { kind: 'dump', osName: 'i86pc', osRelease: '5.11', osVersion: 'kmemdb-1', hostname: 'testhost', panicMessage: 'forced crash dump initiated at user request', panicThread: t1, dumpName: 'vmcore.0' },
  });
  return { target, mem, threads, nodes };
}

export { LP64, ILP32 };
