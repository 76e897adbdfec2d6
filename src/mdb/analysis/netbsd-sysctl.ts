/*
 * Reading the NetBSD sysctl tree and sysctllogs from a target: the data
 * behind the netbsd module's ::sysctl and ::sysctllog.
 *
 * Theory
 * ------
 * A node's children are one contiguous array (sysctl_child) of sysctl_csize
 * slots, the first sysctl_clen in use; every slot, spare ones included, has
 * a sysctl_parent pointing at the SLOT of its parent.  Two paths therefore
 * name a node: the containment path (the numbers of the slots followed from
 * sysctl_root down to it) and the parent-pointer path (the numbers met by
 * following sysctl_parent up to the root), which is what sysctl_log_add
 * records.  In a healthy tree they agree; `sysctlTree` checks, for every
 * node it visits:
 *   - each used slot's sysctl_parent equals the node owning the array
 *     (NetBSD's later KASSERTMSG(pnode->sysctl_parent == snode));
 *   - each SPARE slot's sysctl_parent equals that node too: a spare slot
 *     with a stale parent is the latent form of the report's issue #3, since
 *     a CTL_CREATE node appended there inherits it;
 *   - each handler (sysctl_func) lies in kernel text or a loaded module's
 *     text; otherwise calling it faults (or runs whatever was loaded there).
 * A sysctllog entry is resolved against the current tree the way
 * sysctl_teardown does (sysctl_locate by number from the log's root); an
 * entry that does not resolve is one teardown silently skips.
 *
 * The log array is filled from the end backwards; reading forward from
 * log_left, the kernel (src/netbsd/sysctl.ts) stores each entry as
 * [namelen, type, version, path[0] .. path[namelen-1]].  `readSysctlLog`
 * is the one place that knows this order.  Every read is bounded: depth by
 * CTL_MAXNAME, nodes by MAX_NODES, array sizes by MAX_CHILDREN.
 */

import type { Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { field, rd, rdString, sizeOf, type Field } from './fields.js';
import { CTL_MAXNAME, CTLFLAG_IMMEDIATE } from '../../abi/netbsd-sys.js';
import { describeUnmapped, formerModuleAt, loadedModuleAt } from './netbsd-view.js';

const MAX_NODES = 100_000;
const MAX_CHILDREN = 1 << 16;
const MAX_LOG = 1 << 20;

export const CTLTYPE_NAMES = ['?', 'node', 'int', 'string', 'quad', 'struct', 'bool'];

const X = (a: number): string => '0x' + hex(a);

export class SysctlLayout {
  readonly flags: Field;
  readonly num: Field;
  readonly name: Field;
  readonly ver: Field;
  readonly csize: Field;
  readonly clen: Field;
  readonly child: Field;
  readonly func: Field;
  readonly parent: Field;
  readonly data: Field;
  readonly qdata: Field;
  readonly nodeSize: number;
  readonly logRoot: Field;
  readonly logNum: Field;
  readonly logSize: Field;
  readonly logLeft: Field;

  constructor(t: Target) {
    const tt = t.types;
    const N = 'struct sysctlnode';
    this.flags = field(tt, N, 'sysctl_flags');
    this.num = field(tt, N, 'sysctl_num');
    this.name = field(tt, N, 'sysctl_name');
    this.ver = field(tt, N, 'sysctl_ver');
    this.csize = field(tt, N, 'sysctl_csize');
    this.clen = field(tt, N, 'sysctl_clen');
    this.child = field(tt, N, 'sysctl_child');
    this.func = field(tt, N, 'sysctl_func');
    this.parent = field(tt, N, 'sysctl_parent');
    this.data = field(tt, N, 'sysctl_data');
    this.qdata = field(tt, N, 'sysctl_qdata');
    this.nodeSize = sizeOf(tt, N);
    const L = 'struct sysctllog';
    this.logRoot = field(tt, L, 'log_root');
    this.logNum = field(tt, L, 'log_num');
    this.logSize = field(tt, L, 'log_size');
    this.logLeft = field(tt, L, 'log_left');
  }

  static applies(t: Target): boolean {
    return t.types.find('struct sysctlnode') !== undefined && t.symbolByName('sysctl_root') !== undefined;
  }
}

export interface SysctlNode {
  readonly addr: number;
  readonly num: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly csize: number;
  readonly clen: number;
  readonly func: number;
  readonly data: number;
  readonly qdata: number;
  readonly parent: number;
  /** Containment path (numbers) and names, from the root. */
  readonly mib: readonly number[];
  readonly names: readonly string[];
  /** The path sysctl_log_add would record (following sysctl_parent). */
  readonly parentMib: readonly number[];
  /** What is wrong with this node (empty when nothing). */
  readonly problems: readonly string[];
}

export class SysctlView {
  readonly L: SysctlLayout;
  readonly root: number;

  constructor(readonly t: Target) {
    this.L = new SysctlLayout(t);
    this.root = t.symbolByName('sysctl_root')!.value;
  }

  typeOf(node: number): number {
    return rd(this.t, node, this.L.flags) & 0xf;
  }

  nameOf(node: number): string {
    return rdString(this.t, node + this.L.name.off, 32);
  }

  /** Numbers met following sysctl_parent up to the root (root excluded), root first. */
  parentPath(node: number): number[] {
    const out: number[] = [];
    let p = node;
    for (let i = 0; i <= CTL_MAXNAME && p !== 0; i++) {
      let up: number;
      try {
        up = rd(this.t, p, this.L.parent);
      } catch {
        out.unshift(NaN);
        break;
      }
      if (up === 0) break;
      out.unshift(rd(this.t, p, this.L.num));
      p = up;
    }
    return out;
  }

  /** The children slots of a node: used ones, then the spare ones. */
  private slots(node: number): { child: number; clen: number; csize: number } {
    if (this.typeOf(node) !== 1) return { child: 0, clen: 0, csize: 0 };
    const child = rd(this.t, node, this.L.child);
    const clen = rd(this.t, node, this.L.clen);
    const csize = rd(this.t, node, this.L.csize);
    if (child === 0 || csize > MAX_CHILDREN || clen > csize) return { child, clen: Math.min(clen, MAX_CHILDREN), csize: Math.min(Math.max(csize, clen), MAX_CHILDREN) };
    return { child, clen, csize };
  }

  /** Is pc in kernel text or a loaded module's text? */
  private textOk(pc: number): boolean {
    const m = loadedModuleAt(this.t, pc);
    if (m) return pc < m.base + m.textSize;
    const s = this.t.symbolByAddr(pc);
    return s !== undefined && s.module === undefined && s.kind === 'func';
  }

  /**
   * The whole tree, pre-order, each node with its checks (see the theory
   * comment).  Spare slots with a stale parent are reported on the node
   * that owns the array, one line per run of slots with the same parent.
   */
  tree(): SysctlNode[] {
    const out: SysctlNode[] = [];
    const t = this.t;
    const L = this.L;
    const rootProblems: string[] = [];
    const visit = (owner: number, ownerNode: SysctlNode | undefined, mib: number[], names: string[], depth: number): void => {
      if (depth > CTL_MAXNAME || out.length >= MAX_NODES) return;
      const problems = ownerNode ? (ownerNode.problems as string[]) : rootProblems;
      let s: { child: number; clen: number; csize: number };
      try {
        s = this.slots(owner);
      } catch {
        return;
      }
      if (s.child === 0) return;
      let run: { first: number; last: number; parent: number } | undefined;
      const endRun = () => {
        if (!run) return;
        const slots = run.first === run.last ? `spare slot ${run.first} at ${X(s.child + run.first * L.nodeSize)} has` : `spare slots ${run.first}-${run.last} at ${X(s.child + run.first * L.nodeSize)}.. have`;
        problems.push(`${slots} sysctl_parent ${X(run.parent)} (${this.describeNode(run.parent)}), expected ${X(owner)}: a node appended there inherits the wrong parent`);
        run = undefined;
      };
      for (let i = 0; i < s.csize; i++) {
        const n = s.child + i * L.nodeSize;
        let parent: number;
        try {
          parent = rd(t, n, L.parent);
        } catch {
          endRun();
          problems.push(`child array slot ${i} at ${X(n)} is unmapped (${describeUnmapped(t, n)})`);
          return;
        }
        if (i >= s.clen) {
          if (parent !== owner) {
            if (run && run.parent === parent && run.last === i - 1) run.last = i;
            else {
              endRun();
              run = { first: i, last: i, parent };
            }
          } else endRun();
          continue;
        }
        const node = this.node(n, [...mib, rd(t, n, L.num)], [...names, this.nameOf(n)], parent, owner);
        out.push(node);
        visit(n, node, node.mib as number[], node.names as string[], depth + 1);
      }
      endRun();
    };
    visit(this.root, undefined, [], [], 0);
    if (rootProblems.length && out.length) (out[0]!.problems as string[]).unshift(...rootProblems.map((m) => `(root) ${m}`));
    return out;
  }

  /** The subtree at `node` (itself first), or undefined if it is not in the tree. */
  subtree(node: number): SysctlNode[] | undefined {
    const all = this.tree();
    if (node === this.root) return all;
    const i = all.findIndex((x) => x.addr === node);
    if (i < 0) return undefined;
    const m = all[i]!.mib;
    const out = [all[i]!];
    for (let j = i + 1; j < all.length && all[j]!.mib.length > m.length && m.every((x, k) => all[j]!.mib[k] === x); j++) out.push(all[j]!);
    return out;
  }

  private node(n: number, mib: number[], names: string[], parent: number, owner: number): SysctlNode {
    const t = this.t;
    const L = this.L;
    const flags = rd(t, n, L.flags);
    const type = flags & 0xf;
    const func = rd(t, n, L.func);
    const problems: string[] = [];
    const parentMib = this.parentPath(n);
    if (parent !== owner) {
      problems.push(
        `sysctl_parent is ${X(parent)} (${this.describeNode(parent)}), but the node sits in the child array of ${X(owner)} (${this.describeNode(owner)}): ` +
          `parent-pointer path ${parentMib.join('.')} (${this.namesOf(parentMib)}) vs containment path ${mib.join('.')}`,
      );
    }
    if (func !== 0 && !this.textOk(func)) {
      problems.push(`handler ${X(func)} is outside loaded text (${t.isMapped(func) ? (formerModuleAt(t, func) ? describeUnmapped(t, func) : 'not a function') : describeUnmapped(t, func)})`);
    }
    let data = 0;
    let qdata = 0;
    if (type !== 1) {
      data = rd(t, n, L.data);
      qdata = flags & CTLFLAG_IMMEDIATE ? Number(BigInt.asIntN(64, t.load64(n + L.qdata.off))) : 0;
    }
    const s = this.slots(n);
    return { addr: n, num: mib[mib.length - 1]!, name: names[names.length - 1]!, type, flags, csize: s.csize, clen: s.clen, func, data, qdata, parent, mib, names, parentMib, problems };
  }

  /** "kern.boottime" for a node address (by its parent-pointer path), or "?". */
  describeNode(node: number): string {
    if (node === this.root) return '(root)';
    try {
      if (!this.t.isMapped(node)) return 'unmapped';
      const names: string[] = [];
      let p = node;
      for (let i = 0; i <= CTL_MAXNAME && p !== 0 && p !== this.root; i++) {
        names.unshift(this.nameOf(p));
        p = rd(this.t, p, this.L.parent);
      }
      if (names[names.length - 1] === '') return `an unused slot of ${names.length > 1 ? names.slice(0, -1).join('.') : '(root)'}'s child array`;
      return names.join('.');
    } catch {
      return '?';
    }
  }

  /** Find a child by number in a node's used slots (sysctl_locate, one level). */
  childByNum(node: number, num: number): number {
    const s = this.slots(node);
    for (let i = 0; i < s.clen; i++) {
      const n = s.child + i * this.L.nodeSize;
      if (rd(this.t, n, this.L.num) === num) return n;
    }
    return 0;
  }

  /** Resolve a numeric path from a root, as sysctl_locate does. */
  resolve(path: readonly number[], from = this.root): { node: number } | { error: string } {
    let n = from;
    const names: string[] = [];
    for (let i = 0; i < path.length; i++) {
      if (this.typeOf(n) !== 1) {
        return { error: `${names.join('.')} (${path.slice(0, i).join('.')}) is a leaf (${CTLTYPE_NAMES[this.typeOf(n)] ?? '?'}), it has no children` };
      }
      const c = this.childByNum(n, path[i]!);
      if (c === 0) return { error: `no node ${path[i]} under ${names.length ? names.join('.') : '(root)'}` };
      names.push(this.nameOf(c));
      n = c;
    }
    return { node: n };
  }

  /** Names for a numeric path, as far as it resolves ("kern.boottime.?"). */
  namesOf(path: readonly number[]): string {
    const out: string[] = [];
    let n = this.root;
    for (const num of path) {
      const c = this.typeOf(n) === 1 ? this.childByNum(n, num) : 0;
      if (c === 0) {
        out.push('?');
        n = 0;
        break;
      }
      out.push(this.nameOf(c));
      n = c;
    }
    while (out.length < path.length) out.push('?');
    return out.join('.');
  }

  /** A node by dotted name ("kern.ipc") or dotted numbers ("1.82"). */
  lookup(spec: string): number {
    let n = this.root;
    for (const part of spec.split('.').filter((x) => x !== '')) {
      const s = this.slots(n);
      let found = 0;
      for (let i = 0; i < s.clen && found === 0; i++) {
        const c = s.child + i * this.L.nodeSize;
        if (this.nameOf(c) === part || String(rd(this.t, c, this.L.num)) === part) found = c;
      }
      if (found === 0) return 0;
      n = found;
    }
    return n;
  }

}

/* ------------------------------------------------------------ sysctllog */

export interface LogEntry {
  /** Index in log_num where the entry starts. */
  readonly index: number;
  readonly version: number;
  readonly type: number;
  readonly path: readonly number[];
  /** Resolution against the current tree: the node, or why it fails. */
  readonly node?: number;
  readonly error?: string;
}

export interface SysctlLog {
  readonly addr: number;
  readonly root: number;
  readonly left: number;
  readonly size: number;
  readonly entries: readonly LogEntry[];
  /** Problems with the log itself (bad sizes, unreadable array). */
  readonly problems: readonly string[];
}

/** Read a struct sysctllog and resolve each entry (see the theory comment for the layout). */
export function readSysctlLog(v: SysctlView, addr: number): SysctlLog {
  const t = v.t;
  const L = v.L;
  const root = rd(t, addr, L.logRoot);
  const arr = rd(t, addr, L.logNum);
  const size = rd(t, addr, L.logSize);
  const left = rd(t, addr, L.logLeft);
  const problems: string[] = [];
  const entries: LogEntry[] = [];
  if (size < 0 || size > MAX_LOG || left < 0 || left > size) {
    problems.push(`log_size ${size} / log_left ${left} are not plausible`);
    return { addr, root, left, size, entries, problems };
  }
  const at = (i: number) => t.load32(arr + i * 4) | 0;
  let i = left;
  try {
    while (i + 3 <= size) {
      const len = at(i);
      const type = at(i + 1);
      const version = at(i + 2) >>> 0;
      if (len < 0 || len > CTL_MAXNAME || i + 3 + len > size) {
        problems.push(`entry at index ${i} has length ${len}: the log is damaged from here`);
        break;
      }
      const path: number[] = [];
      for (let j = 0; j < len; j++) path.push(at(i + 3 + j));
      let r: { node: number } | { error: string };
      try {
        r = v.resolve(path, root);
      } catch {
        r = { error: `log_root ${X(root)} is unreadable` };
      }
      if ('node' in r && v.typeOf(r.node) !== type) r = { error: `it resolves to ${v.describeNode(r.node)}, of type ${CTLTYPE_NAMES[v.typeOf(r.node)]}, not ${CTLTYPE_NAMES[type] ?? type}` };
      entries.push({ index: i, version, type, path, ...('node' in r ? { node: r.node } : { error: r.error }) });
      i += 3 + len;
    }
  } catch {
    problems.push(`log_num array at ${X(arr)} is unreadable at index ${i} (${describeUnmapped(t, arr + i * 4)})`);
  }
  return { addr, root, left, size, entries, problems };
}

/** The line NetBSD's sysctl_log_print() prints for a log. */
export function sysctlLogPrintLine(log: SysctlLog): string {
  let s = `root ${X(log.root)} left ${log.left} size ${log.size} content`;
  for (const e of log.entries) s += ` version ${e.version} type ${e.type} len ${e.path.length}:${e.path.map((n) => ' ' + n).join('')}`;
  return s + ' end';
}

/**
 * The sysctllogs a kernel keeps in named pointers: object symbols of the
 * kernel and of loaded modules whose name contains "log", pointer sized,
 * holding the address of a plausible struct sysctllog (log_root is
 * sysctl_root, 0 <= log_left <= log_size).
 */
export function findSysctlLogs(v: SysctlView): Array<{ symbol: string; module?: string; log: number }> {
  const t = v.t;
  const P = t.model.ptrSize;
  const out: Array<{ symbol: string; module?: string; log: number }> = [];
  for (const s of t.symbols()) {
    if (s.kind !== 'object' || s.size !== P || !/log/.test(s.name)) continue;
    try {
      const log = t.loadPtr(s.value);
      if (log === 0 || !t.isMapped(log)) continue;
      if (rd(t, log, v.L.logRoot) !== v.root) continue;
      const size = rd(t, log, v.L.logSize);
      const left = rd(t, log, v.L.logLeft);
      if (size <= 0 || size > MAX_LOG || left < 0 || left > size) continue;
      out.push({ symbol: s.name, module: s.module, log });
    } catch {
      /* not a log */
    }
  }
  return out.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
}
