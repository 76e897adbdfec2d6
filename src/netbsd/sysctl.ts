/*
 * The sysctl tree and the sysctllog, after NetBSD kern_sysctl.c (rev 1.257).
 *
 * Theory
 * ------
 * A node's children are one contiguous array (sysctl_child, from kmem) of
 * sysctl_csize slots, the first sysctl_clen in use, sorted by number.  Every
 * child, and every spare slot, holds a raw sysctl_parent pointer to its
 * parent's SLOT in the grandparent's array.  The invariants are kept, or
 * not, exactly where NetBSD keeps them:
 *   - sysctl_alloc / sysctl_realloc set sysctl_parent on all csize slots and
 *     re-point every grandchild;
 *   - sysctl_create inserting in the middle memmoves later siblings, sets the
 *     new slot's parent and re-points the grandchildren of each moved node
 *     over its whole csize; APPENDING (at == clen, always the case for
 *     CTL_CREATE numbers, which come from ++sysctl_root.sysctl_num starting
 *     at CREATE_BASE) trusts the parent pre-set in the spare slot;
 *   - sysctl_destroy memmoves later siblings left but re-points the
 *     grandchildren of each moved node only over [0, clen): the spare slots
 *     keep their parent's OLD address.
 * So destroying a kern child numbered below 82 while kern.ipc (82) has
 * spare slots leaves those slots pointing at kern.ipc's old slot, which now
 * holds kern.boottime (83).  The next CTL_CREATE node appended under
 * kern.ipc inherits that parent; sysctl_log_add, which records the numeric
 * path by walking sysctl_parent, logs 1.83.N; sysctl_teardown cannot locate
 * 1.83.N (boottime is a leaf) and skips it silently, and the node outlives
 * its module with sysctl_func pointing into unmapped module text.
 *
 * The sysctllog (struct sysctllog + an int array from kmem) is filled from
 * the end backwards; reading forward from log_left, an entry is
 * [namelen, type, version, path[0] .. path[namelen-1]].  PERMANENT nodes
 * are not logged.
 *
 * Reading a subtree (`sysctl kern`) calls each node's sysctl_func through
 * the pointer (NetBSD.call: instruction fetch first), or reads its data.
 *
 * --fixed re-points [0, csize) in sysctl_destroy and sets the parent when
 * appending; the DEBUG check is the later KASSERTMSG(pnode->sysctl_parent
 * == snode) of sysctl_createv.
 */

import type { NetbsdKern } from './kern.js';
import { DEBUG_SYSCTL_PARENT } from './kern.js';
import { hex } from '../machine/addr.js';
import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import {
  CREATE_BASE, CTL_CREATE, CTLFLAG_IMMEDIATE, CTLFLAG_OWNDATA, CTLFLAG_PERMANENT, CTLFLAG_READWRITE, CTLFLAG_ROOT,
  CTLTYPE_BOOL, CTLTYPE_INT, CTLTYPE_NODE, CTLTYPE_QUAD, CTLTYPE_STRING, CTLTYPE_STRUCT,
  EEXIST, EINVAL, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, SYSCTL_DEFSIZE, SYSCTL_TYPEMASK, SYSCTL_VERSION,
} from '../abi/netbsd-sys.js';

export const SYSCTL_FUNCTIONS = {
  sysctl_init: 0x100,
  sysctl_createv: 0x5e0,
  sysctl_create: 0x8c0,
  sysctl_destroy: 0x3c0,
  sysctl_locate: 0x1a0,
  sysctl_alloc: 0xa0,
  sysctl_realloc: 0x120,
  sysctl_log_add: 0x1c0,
  sysctl_log_realloc: 0xc0,
  sysctl_teardown: 0x1e0,
  sysctl_dispatch: 0x140,
  sysctl_query: 0x200,
  sysctl_lookup: 0x240,
  sys___sysctl: 0xe0,
} as const;

/** A node to create (the fields of `nnode` sysctl_createv fills in). */
export interface NodeSpec {
  flags?: number;
  type: number;
  name: string;
  desc?: string;
  /** sysctl_func: a text address (kernel or module), or 0. */
  func?: number;
  /** CTLFLAG_IMMEDIATE value. */
  qv?: number;
  /** sysctl_data: an address (kernel or module data), or 0. */
  data?: number;
  size?: number;
}

export interface LogEntry {
  type: number;
  version: number;
  path: number[];
}

/** The fields of struct sysctlnode and struct sysctllog this file uses (their offsets: Sysctl.o, Sysctl.lo). */
const SYSCTLNODE_FIELDS = [
  'sysctl_flags', 'sysctl_num', 'sysctl_name', 'sysctl_ver', 'sysctl_csize', 'sysctl_clen', 'sysctl_child', 'sysctl_data',
  'sysctl_idata', 'sysctl_qdata', 'sysctl_size', 'sysctl_func', 'sysctl_parent', 'sysctl_desc',
] as const;
const SYSCTLLOG_FIELDS = ['log_root', 'log_num', 'log_size', 'log_left'] as const;
export type SysctlnodeField = (typeof SYSCTLNODE_FIELDS)[number];

export class Sysctl {
  readonly FN: Record<keyof typeof SYSCTL_FUNCTIONS, number>;
  readonly g: { sysctl_root: number; sysctl_boot_cnode: number };
  readonly nodeSize: number;
  private readonly o: Offsets<SysctlnodeField>;
  private readonly lo: Offsets<(typeof SYSCTLLOG_FIELDS)[number]>;

  constructor(private readonly nb: NetbsdKern) {
    const k = nb.k;
    this.FN = k.fns(SYSCTL_FUNCTIONS);
    this.g = {
      sysctl_root: k.global('sysctl_root', 'struct sysctlnode'),
      sysctl_boot_cnode: k.global('sysctl_boot_cnode', 'struct sysctlnode *'),
    };
    const T = nb.T;
    this.o = offsetsOf(T, 'struct sysctlnode', SYSCTLNODE_FIELDS);
    this.lo = offsetsOf(T, 'struct sysctllog', SYSCTLLOG_FIELDS);
    this.nodeSize = T.size('struct sysctlnode');
    const root = this.g.sysctl_root;
    const mem = nb.mem;
    mem.store32(root + this.o.sysctl_flags, SYSCTL_VERSION | CTLFLAG_ROOT | CTLFLAG_READWRITE | CTLTYPE_NODE);
    mem.store32(root + this.o.sysctl_num, CREATE_BASE - 1);
    k.writeString(root + this.o.sysctl_name, '(root)', 32);
    mem.storePtr(root + this.o.sysctl_size, this.nodeSize);
  }

  /* -------------------------------------------------------------- fields */

  type(node: number): number {
    return this.nb.mem.load32(node + this.o.sysctl_flags) & SYSCTL_TYPEMASK;
  }
  num(node: number): number {
    return this.nb.mem.loadI32(node + this.o.sysctl_num);
  }
  name(node: number): string {
    return this.nb.str(node + this.o.sysctl_name, 32);
  }
  parent(node: number): number {
    return this.nb.mem.loadPtr(node + this.o.sysctl_parent);
  }
  children(node: number): number[] {
    const mem = this.nb.mem;
    if (this.type(node) !== CTLTYPE_NODE) return [];
    const child = mem.loadPtr(node + this.o.sysctl_child);
    const clen = mem.load32(node + this.o.sysctl_clen);
    const out: number[] = [];
    for (let i = 0; i < clen; i++) out.push(child + i * this.nodeSize);
    return out;
  }
  /** The offset of a struct sysctlnode field. */
  offset(f: SysctlnodeField): number {
    return this.o[f];
  }

  /* ---------------------------------------------------- arrays of children */

  private alloc(pnode: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    nb.k.enter(this.FN.sysctl_alloc);
    nb.k.args(pnode);
    const a = nb.kmemZalloc(SYSCTL_DEFSIZE * this.nodeSize);
    mem.storePtr(pnode + o.sysctl_child, a);
    mem.store32(pnode + o.sysctl_csize, SYSCTL_DEFSIZE);
    mem.store32(pnode + o.sysctl_clen, 0);
    for (let i = 0; i < SYSCTL_DEFSIZE; i++) mem.storePtr(a + i * this.nodeSize + o.sysctl_parent, pnode);
    nb.k.leave();
  }

  private realloc(pnode: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    const ns = this.nodeSize;
    nb.k.enter(this.FN.sysctl_realloc);
    nb.k.args(pnode);
    const old = mem.loadPtr(pnode + o.sysctl_child);
    const ocsize = mem.load32(pnode + o.sysctl_csize);
    const clen = mem.load32(pnode + o.sysctl_clen);
    const csize = ocsize * 2;
    const a = nb.kmemZalloc(csize * ns);
    nb.memmove(a, old, clen * ns);
    nb.kmemFree(old, ocsize * ns);
    mem.storePtr(pnode + o.sysctl_child, a);
    mem.store32(pnode + o.sysctl_csize, csize);
    for (let i = 0; i < csize; i++) mem.storePtr(a + i * ns + o.sysctl_parent, pnode);
    for (let i = 0; i < clen; i++) this.reparentAll(a + i * ns);
    nb.k.leave();
  }

  /** Re-point every slot [0, csize) of node's child array at node. */
  private reparentAll(node: number): void {
    const mem = this.nb.mem;
    const o = this.o;
    if (this.type(node) !== CTLTYPE_NODE) return;
    const child = mem.loadPtr(node + o.sysctl_child);
    if (child === 0) return;
    const csize = mem.load32(node + o.sysctl_csize);
    for (let t = 0; t < csize; t++) mem.storePtr(child + t * this.nodeSize + o.sysctl_parent, node);
  }

  /* -------------------------------------------------------------- locate */

  /** sysctl_locate(): follow mib from rnode; returns [error, node]. */
  locate(rnode: number, mib: readonly number[]): [number, number] {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    nb.k.enter(this.FN.sysctl_locate);
    nb.k.args(rnode);
    let node = rnode;
    for (const n of mib) {
      if (this.type(node) !== CTLTYPE_NODE) {
        nb.k.leave();
        return [ENOTDIR, node];
      }
      const child = mem.loadPtr(node + o.sysctl_child);
      const clen = mem.load32(node + o.sysctl_clen);
      let found = 0;
      for (let i = 0; i < clen; i++) {
        const c = child + i * this.nodeSize;
        if (mem.loadI32(c + o.sysctl_num) === n) {
          found = c;
          break;
        }
      }
      if (found === 0) {
        nb.k.leave();
        return [ENOENT, node];
      }
      node = found;
    }
    nb.k.leave();
    return [0, node];
  }

  /* -------------------------------------------------------------- create */

  /** sysctl_create() under pnode; returns [error, node]. */
  private create(pnode: number, num: number, spec: NodeSpec): [number, number] {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const ns = this.nodeSize;
    k.enter(this.FN.sysctl_create);
    k.args(pnode, num);
    const leave = (e: number, n: number): [number, number] => {
      k.leave();
      return [e, n];
    };
    if (this.type(pnode) !== CTLTYPE_NODE) return leave(ENOTDIR, 0);
    // Collisions by number or by name; find the insertion point.
    let at = 0;
    let child = mem.loadPtr(pnode + o.sysctl_child);
    let clen = mem.load32(pnode + o.sysctl_clen);
    for (let ni = 0; ni < clen; ni++) {
      const c = child + ni * ns;
      const cn = mem.loadI32(c + o.sysctl_num);
      if ((num !== CTL_CREATE && cn === num) || nb.strcmpJs(c + o.sysctl_name, spec.name) === 0) return leave(EEXIST, c);
      if (num > cn) at = ni + 1;
    }
    if (child === 0) {
      this.alloc(pnode);
      child = mem.loadPtr(pnode + o.sysctl_child);
    }
    let nm = num;
    if (nm === CTL_CREATE) {
      const root = this.g.sysctl_root;
      nm = mem.loadI32(root + o.sysctl_num) + 1;
      mem.store32(root + o.sysctl_num, nm);
      for (let ni = 0; ni < clen; ni++) {
        const cn = mem.loadI32(child + ni * ns + o.sysctl_num);
        if (nm === cn) {
          nm++;
          ni = -1;
        } else if (nm > cn) at = ni + 1;
      }
    }
    k.site(this.FN.sysctl_create + 0x5a0);
    if (clen === mem.load32(pnode + o.sysctl_csize)) {
      this.realloc(pnode);
      child = mem.loadPtr(pnode + o.sysctl_child);
    }
    k.site(this.FN.sysctl_create + 0x640);
    if (at < clen) {
      // Move the nodes that come after the new one, then reparent the
      // children of every moved node (over csize).
      nb.memmove(child + (at + 1) * ns, child + at * ns, (clen - at) * ns);
      nb.bzero(child + at * ns, ns);
      mem.storePtr(child + at * ns + o.sysctl_parent, pnode);
      for (let ni = at; ni <= clen; ni++) this.reparentAll(child + ni * ns);
    } else if (nb.fixed) {
      mem.storePtr(child + at * ns + o.sysctl_parent, pnode);
    }
    const node = child + at * ns;
    clen++;
    mem.store32(pnode + o.sysctl_clen, clen);
    k.writeString(node + o.sysctl_name, spec.name, 32);
    mem.store32(node + o.sysctl_num, nm);
    const type = spec.type;
    let size = spec.size ?? 0;
    if (type === CTLTYPE_INT) size = 4;
    else if (type === CTLTYPE_QUAD) size = 8;
    else if (type === CTLTYPE_BOOL) size = 1;
    else if (type === CTLTYPE_NODE) size = ns;
    mem.storePtr(node + o.sysctl_size, size);
    const flags = spec.flags ?? 0;
    mem.store32(node + o.sysctl_flags, SYSCTL_VERSION | type | flags);
    mem.store32(node + o.sysctl_csize, 0);
    mem.store32(node + o.sysctl_clen, 0);
    if (type !== CTLTYPE_NODE) {
      if (flags & CTLFLAG_IMMEDIATE) mem.store64n(node + o.sysctl_qdata, spec.qv ?? 0);
      else mem.storePtr(node + o.sysctl_data, spec.data ?? 0);
    }
    mem.storePtr(node + o.sysctl_func, spec.func ?? 0);
    if (type === CTLTYPE_NODE) mem.storePtr(node + o.sysctl_child, 0);
    // node->sysctl_parent should already be done
    // Update "version" on the path to root.
    const rootVer = mem.load32(this.g.sysctl_root + o.sysctl_ver) + 1;
    for (let p = node, guard = 0; p !== 0 && guard < 64; p = mem.loadPtr(p + o.sysctl_parent), guard++) {
      mem.store32(p + o.sysctl_ver, rootVer);
    }
    return leave(0, node);
  }

  /**
   * sysctl_createv(log, cflags, rnode, cnode, flags, type, name, descr,
   * func, qv, newp, newlen, mib..., CTL_EOL).  `logp` is the address of a
   * `struct sysctllog *` (or 0); `rnodep` the address of a `const struct
   * sysctlnode *` to start from (or 0); `cnodep` where to store the node.
   */
  createv(logp: number, rnodep: number, cnodep: number, spec: NodeSpec, mib: readonly number[]): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.sysctl_createv);
    k.args(logp, 0, rnodep, cnodep, spec.flags ?? 0, spec.type);
    let flags = spec.flags ?? 0;
    if (logp !== 0) flags &= ~CTLFLAG_PERMANENT;
    const s: NodeSpec = { ...spec, flags };
    const root = rnodep !== 0 ? mem.loadPtr(rnodep) : this.g.sysctl_root;
    const ppath = mib.slice(0, -1);
    const last = mib[mib.length - 1]!;
    k.site(this.FN.sysctl_createv + 0x1f0);
    const [lerr, pnode] = this.locate(root, ppath);
    if (lerr !== 0) {
      k.leave();
      return lerr;
    }
    k.site(this.FN.sysctl_createv + 0x2a8);
    const created = this.create(pnode, last, s);
    let error = created[0];
    const node = created[1];
    if (error === EEXIST) {
      // The node may already be there: same name and type, and a node or
      // the same function: that is success.
      const same =
        this.name(node) === spec.name &&
        this.type(node) === spec.type &&
        (spec.type === CTLTYPE_NODE || mem.loadPtr(node + o.sysctl_func) === (spec.func ?? 0));
      if (same) error = 0;
    }
    if (error === 0 && node !== 0) {
      // Re-find the node: path to the parent, then a manual scan.
      k.site(this.FN.sysctl_createv + 0x3d0);
      const [e2, snode] = this.locate(root, ppath);
      let found = 0;
      if (e2 === 0) {
        for (const c of this.children(snode)) if (this.num(c) === this.num(node)) found = c;
      }
      if (found !== 0) {
        if ((nb.debug & DEBUG_SYSCTL_PARENT) !== 0 && this.parent(found) !== snode) {
          k.panic(
            `sysctl parent mis-match: node ${this.name(found)} (${this.num(found)}) sysctl_parent 0x${hex(this.parent(found))} (${this.name(this.parent(found))}) vs 0x${hex(snode)} (${this.name(snode)})`,
          );
        }
        k.site(this.FN.sysctl_createv + 0x450);
        if (logp !== 0) this.logAdd(logp, found);
        if (cnodep !== 0) mem.storePtr(cnodep, found);
      }
    }
    k.leave();
    return error;
  }

  /* ------------------------------------------------------------- destroy */

  /** sysctl_destroy(): remove child `num` of rnode. */
  destroy(rnode: number, num: number, version = 0): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const ns = this.nodeSize;
    k.enter(this.FN.sysctl_destroy);
    k.args(rnode, num);
    const child = mem.loadPtr(rnode + o.sysctl_child);
    const clen0 = mem.load32(rnode + o.sysctl_clen);
    let ni = 0;
    for (; ni < clen0; ni++) {
      const c = child + ni * ns;
      if (mem.loadI32(c + o.sysctl_num) === num && (version === 0 || mem.load32(c + o.sysctl_ver) === version)) break;
    }
    if (ni === clen0 || this.type(rnode) !== CTLTYPE_NODE) {
      k.leave();
      return ENOENT;
    }
    let node = child + ni * ns;
    const pnode = mem.loadPtr(node + o.sysctl_parent);
    const flags = mem.load32(node + o.sysctl_flags);
    if (flags & CTLFLAG_PERMANENT) {
      k.leave();
      return EPERM;
    }
    if ((flags & SYSCTL_TYPEMASK) === CTLTYPE_NODE && mem.load32(node + o.sysctl_clen) !== 0) {
      k.leave();
      return ENOTEMPTY;
    }
    if (flags & CTLFLAG_OWNDATA) {
      const d = mem.loadPtr(node + o.sysctl_data);
      if (d !== 0) nb.kmemFree(d, mem.loadPtr(node + o.sysctl_size));
      mem.storePtr(node + o.sysctl_data, 0);
    }
    const pchild = mem.loadPtr(pnode + o.sysctl_child);
    const pclen = mem.load32(pnode + o.sysctl_clen);
    k.site(this.FN.sysctl_destroy + 0x244);
    if (ni < pclen - 1) {
      nb.memmove(pchild + ni * ns, pchild + (ni + 1) * ns, (pclen - ni - 1) * ns);
      for (; ni < pclen - 1; ni++) {
        const moved = pchild + ni * ns;
        if (this.type(moved) !== CTLTYPE_NODE) continue;
        const gc = mem.loadPtr(moved + o.sysctl_child);
        if (gc === 0) continue;
        // NetBSD re-points [0, clen) only; --fixed does [0, csize).
        const n = nb.fixed ? mem.load32(moved + o.sysctl_csize) : mem.load32(moved + o.sysctl_clen);
        for (let t = 0; t < n; t++) mem.storePtr(gc + t * ns + o.sysctl_parent, moved);
      }
      ni = pclen - 1;
      node = pchild + ni * ns;
    }
    nb.bzero(node, ns);
    mem.storePtr(node + o.sysctl_parent, pnode);
    mem.store32(pnode + o.sysctl_clen, pclen - 1);
    if (pclen - 1 === 0) {
      nb.kmemFree(pchild, mem.load32(pnode + o.sysctl_csize) * ns);
      mem.store32(pnode + o.sysctl_csize, 0);
      mem.storePtr(pnode + o.sysctl_child, 0);
    }
    const rootVer = mem.load32(this.g.sysctl_root + o.sysctl_ver) + 1;
    for (let p = pnode, guard = 0; p !== 0 && guard < 64; p = mem.loadPtr(p + o.sysctl_parent), guard++) {
      mem.store32(p + o.sysctl_ver, rootVer);
    }
    k.leave();
    return 0;
  }

  /* ------------------------------------------------------------ the log */

  private logAdd(logp: number, node: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const lo = this.lo;
    if (mem.load32(node + o.sysctl_flags) & CTLFLAG_PERMANENT) return;
    k.enter(this.FN.sysctl_log_add);
    k.args(logp, node);
    let log = mem.loadPtr(logp);
    if (log === 0) {
      log = nb.kmemZalloc(nb.size('struct sysctllog'));
      const arr = nb.kmemZalloc(16 * 4);
      let r = node;
      for (let guard = 0; mem.loadPtr(r + o.sysctl_parent) !== 0 && guard < 64; guard++) r = mem.loadPtr(r + o.sysctl_parent);
      mem.storePtr(log + lo.log_root, r);
      mem.storePtr(log + lo.log_num, arr);
      mem.store32(log + lo.log_size, 16);
      mem.store32(log + lo.log_left, 16);
      mem.storePtr(logp, log);
    }
    // Count the names by walking sysctl_parent.
    let namelen = 0;
    for (let p = node; mem.loadPtr(p + o.sysctl_parent) !== 0 && namelen < 64; p = mem.loadPtr(p + o.sysctl_parent)) namelen++;
    let left = mem.loadI32(log + lo.log_left);
    if (left < namelen + 3) {
      k.enter(this.FN.sysctl_log_realloc);
      const size = mem.loadI32(log + lo.log_size);
      let nsize = size * 2;
      while (nsize - size + left < namelen + 3) nsize *= 2;
      const old = mem.loadPtr(log + lo.log_num);
      const arr = nb.kmemZalloc(nsize * 4);
      nb.memmove(arr + (nsize - size) * 4, old, size * 4);
      nb.kmemFree(old, size * 4);
      mem.storePtr(log + lo.log_num, arr);
      mem.store32(log + lo.log_size, nsize);
      left += nsize - size;
      k.leave();
    }
    const arr = mem.loadPtr(log + lo.log_num);
    for (let p = node; mem.loadPtr(p + o.sysctl_parent) !== 0 && left > 3; p = mem.loadPtr(p + o.sysctl_parent)) {
      mem.store32(arr + --left * 4, mem.loadI32(p + o.sysctl_num) >>> 0);
    }
    mem.store32(arr + --left * 4, mem.load32(node + o.sysctl_ver));
    mem.store32(arr + --left * 4, this.type(node));
    mem.store32(arr + --left * 4, namelen);
    mem.store32(log + lo.log_left, left);
    k.leave();
  }

  /** The entries of a log, newest first. */
  logEntries(log: number): LogEntry[] {
    const mem = this.nb.mem;
    const lo = this.lo;
    if (log === 0) return [];
    const arr = mem.loadPtr(log + lo.log_num);
    const size = mem.loadI32(log + lo.log_size);
    const out: LogEntry[] = [];
    let i = mem.loadI32(log + lo.log_left);
    while (i + 3 <= size) {
      const namelen = mem.loadI32(arr + i * 4);
      const type = mem.loadI32(arr + (i + 1) * 4);
      const version = mem.load32(arr + (i + 2) * 4);
      const path: number[] = [];
      for (let j = 0; j < namelen; j++) path.push(mem.loadI32(arr + (i + 3 + j) * 4));
      out.push({ type, version, path });
      i += 3 + namelen;
    }
    return out;
  }

  /** sysctl_teardown(&log): destroy what the log recorded, newest first. */
  teardown(logp: number): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const lo = this.lo;
    const log = mem.loadPtr(logp);
    if (log === 0) return;
    k.enter(this.FN.sysctl_teardown);
    k.args(logp);
    const root = mem.loadPtr(log + lo.log_root);
    for (const e of this.logEntries(log)) {
      k.site(this.FN.sysctl_teardown + 0xa8);
      const [err, node] = this.locate(root, e.path);
      if (err !== 0) continue; // not found: skipped silently
      if (this.type(node) !== e.type) continue;
      const pnode = this.parent(node);
      k.site(this.FN.sysctl_teardown + 0x124);
      this.destroy(pnode, e.path[e.path.length - 1]!, e.version); // ENOTEMPTY, ENOENT ignored
    }
    const size = mem.loadI32(log + lo.log_size);
    nb.kmemFree(mem.loadPtr(log + lo.log_num), size * 4);
    nb.kmemFree(log, nb.size('struct sysctllog'));
    mem.storePtr(logp, 0);
    k.leave();
  }

  /* ------------------------------------------------------------- reading */

  /** Read one leaf: its handler through the pointer, or its data. */
  private lookup(node: number): string {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    const func = mem.loadPtr(node + o.sysctl_func);
    const flags = mem.load32(node + o.sysctl_flags);
    const type = flags & SYSCTL_TYPEMASK;
    if (func !== 0) {
      nb.k.site(this.FN.sysctl_dispatch + 0xb6);
      const v = nb.call(func, node);
      return String(v);
    }
    nb.k.enter(this.FN.sysctl_lookup + 0x11c);
    let s: string;
    if (flags & CTLFLAG_IMMEDIATE) s = String(mem.load64n(node + o.sysctl_qdata));
    else {
      const d = mem.loadPtr(node + o.sysctl_data);
      if (type === CTLTYPE_INT) s = String(mem.loadI32(d));
      else if (type === CTLTYPE_QUAD) s = String(mem.load64n(d));
      else if (type === CTLTYPE_BOOL) s = String(mem.load8(d));
      else if (type === CTLTYPE_STRING) s = nb.str(d, 256);
      else if (type === CTLTYPE_STRUCT) {
        mem.load8(d);
        s = `<struct, ${mem.loadPtr(node + o.sysctl_size)} bytes>`;
      }
      else s = '?';
    }
    nb.k.leave();
    return s;
  }

  /** `sysctl <name>`: read a subtree, calling handlers; returns "a.b = v" lines. */
  read(path: string): string[] {
    const nb = this.nb;
    const k = nb.k;
    k.enter(this.FN.sys___sysctl + 0x5d);
    let node = this.g.sysctl_root;
    const names: string[] = [];
    for (const part of path.split('.').filter((p) => p !== '')) {
      const c = this.children(node).find((x) => this.name(x) === part);
      if (c === undefined) {
        k.leave();
        return [];
      }
      node = c;
      names.push(part);
    }
    const out: string[] = [];
    k.enter(this.FN.sysctl_dispatch);
    const walk = (n: number, prefix: string) => {
      if (this.type(n) === CTLTYPE_NODE) {
        for (const c of this.children(n)) walk(c, `${prefix}.${this.name(c)}`);
        return;
      }
      out.push(`${prefix} = ${this.lookup(n)}`);
    };
    walk(node, names.join('.'));
    k.leave();
    k.leave();
    return out;
  }

  /** A kernel NODE or leaf created at boot (PERMANENT, no log). */
  kernelNode(mib: readonly number[], spec: NodeSpec): number {
    const slot = this.g.sysctl_boot_cnode;
    const e = this.createv(0, 0, slot, { ...spec, flags: (spec.flags ?? 0) | CTLFLAG_PERMANENT }, mib);
    if (e !== 0) throw new Error(`sysctl boot node ${spec.name}: error ${e}`);
    return this.nb.mem.loadPtr(slot);
  }

  /** Number of the node at a dotted name, or undefined. */
  mibOf(path: string): number[] | undefined {
    let node = this.g.sysctl_root;
    const mib: number[] = [];
    for (const part of path.split('.')) {
      const c = this.children(node).find((x) => this.name(x) === part);
      if (c === undefined) return undefined;
      mib.push(this.num(c));
      node = c;
    }
    return mib;
  }

  static readonly EINVAL = EINVAL;
  static readonly CTLTYPE_STRUCT = CTLTYPE_STRUCT;
}
