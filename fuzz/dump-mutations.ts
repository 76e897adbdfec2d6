/*
 * Mutations of a kernel crash dump, and the oracle for the ones that must
 * not go unnoticed.
 *
 * A mutation is a list of byte patches at file offsets of vmcore (and
 * possibly a truncation), so it can be saved as JSON and replayed exactly.
 * The kinds: bit flips anywhere; truncation; random values in ELF header,
 * program header and note fields; pointer writes into kmem structures
 * (caches, slabs); page blanking; and, for every list kmem and pool(9)
 * keep (kmem_caches, a cache's complete slabs, a slab's freelist, the
 * depot's full magazines, pool_head), a link set to NULL (the list is cut),
 * a link pointed at its own node (a cycle), and the count the kernel keeps
 * beside the list changed.  Those three carry an oracle: the mdb command
 * that walks the list must warn, since mdb cannot otherwise know its answer
 * is short (a silent wrong answer is a failure).
 */

import type { Rand } from '../src/kernel/rand.js';
import type { DumpTarget } from '../src/target/dump-target.js';
import { KmemView } from '../src/mdb/analysis/kmem-view.js';
import type { DumpImage } from './dumpedit.js';

export interface Patch {
  readonly off: number;
  readonly bytes: readonly number[];
}

export interface Mutation {
  readonly kind: string;
  readonly note: string;
  readonly patches: readonly Patch[];
  /** New length of vmcore, if truncated. */
  readonly truncate?: number;
  /** A command that must print a warning on the mutated dump. */
  readonly mustWarn?: string;
}

/** A list of the dump: where its link words are (in walk order) and the command that walks it. */
interface ListFact {
  readonly name: string;
  /** Virtual addresses of the link words (the head's first, then each element's next pointer). */
  readonly links: readonly number[];
  /** The node each link word belongs to (for a cycle: the link is pointed back at it); 0 for the head. */
  readonly nodes: readonly number[];
  /** Address of the count the kernel keeps beside the list, and its size in bytes. */
  readonly count?: { readonly addr: number; readonly size: 4 | 8 };
  readonly walk: string;
}

/** What the mutators know about one base dump (computed once). */
export interface DumpFacts {
  readonly lists: readonly ListFact[];
  /** [address, size] of kmem structures pointer writes go into. */
  readonly structs: ReadonlyArray<readonly [number, number]>;
  /** File offsets and sizes of ELF header, program headers and the note segment. */
  readonly elf: { readonly phoff: number; readonly phentsize: number; readonly phnum: number; readonly is64: boolean; readonly note?: readonly [number, number] };
  /** Addresses of real objects (mdb hex), for random commands. */
  readonly addrs: readonly string[];
}

const hx = (a: number): string => '0x' + BigInt.asUintN(64, BigInt(a)).toString(16);

/** A list_t at listAddr: its link words (list_next of the head and of each node). */
function listFact(img: DumpImage, kv: KmemView, name: string, listAddr: number, walk: string, count?: ListFact['count']): ListFact | undefined {
  const L = kv.L;
  const head = listAddr + L.list_head;
  const links = [head + L.list_next.off];
  const nodes = [0];
  let node = img.readPtr(head + L.list_next.off);
  for (let i = 0; i < 64 && node !== head && node !== 0; i++) {
    links.push(node + L.list_next.off);
    nodes.push(node);
    node = img.readPtr(node + L.list_next.off);
  }
  return links.length > 1 ? { name, links, nodes, count, walk } : undefined;
}

/** A NULL-terminated singly linked chain starting at the word `first`, with next at `nextOff`. */
function chainFact(img: DumpImage, name: string, first: number, nextOff: number, walk: string, count?: ListFact['count']): ListFact | undefined {
  const links = [first];
  const nodes = [0];
  let node = img.readPtr(first);
  for (let i = 0; i < 64 && node !== 0 && img.has(node + nextOff, 4); i++) {
    links.push(node + nextOff);
    nodes.push(node);
    node = img.readPtr(node + nextOff);
  }
  return links.length > 1 ? { name, links, nodes, count, walk } : undefined;
}

/** Collect the lists and structures of a base dump. */
export function dumpFacts(img: DumpImage, t: DumpTarget): DumpFacts {
  const lists: ListFact[] = [];
  const structs: Array<[number, number]> = [];
  const addrs: string[] = [];
  const szOf = (type: string): number => t.types.sizeof(t.types.find(type)!);
  let kv: KmemView | undefined;
  try {
    kv = new KmemView(t);
  } catch {
    kv = undefined;
  }
  if (kv) {
    const L = kv.L;
    const cachesSym = t.symbolByName('kmem_caches');
    if (cachesSym) {
      const f = listFact(img, kv, 'kmem_caches', cachesSym.value, '::walk kmem_cache');
      if (f) lists.push(f);
    }
    const cacheSize = szOf('kmem_cache_t');
    const slabSize = szOf('kmem_slab_t');
    for (const c of kv.caches()) {
      const ci = kv.cache(c);
      structs.push([c, cacheSize]);
      addrs.push(hx(c));
      const complete = kv.completeSlabs(c);
      if (complete.length >= 2) {
        const f = listFact(img, kv, `complete slabs of ${ci.name}`, c + L.cache_complete_slabs, `${hx(c)}::walk kmem_slab`, L.cache_complete_slab_count ? { addr: c + L.cache_complete_slab_count.off, size: L.cache_complete_slab_count.size as 4 | 8 } : undefined);
        if (f) lists.push(f);
      }
      for (const s of [...complete.slice(0, 1), ...kv.partialSlabs(c).slice(0, 1)]) {
        structs.push([s, slabSize]);
        addrs.push(hx(s));
      }
      const partial = kv.partialSlabs(c)[0];
      if (partial !== undefined) {
        const f = chainFact(img, `freelist of slab ${hx(partial)} (${ci.name})`, partial + L.slab_head.off, L.bc_next.off, `${hx(c)}::walk freemem`, { addr: partial + L.slab_refcnt.off, size: L.slab_refcnt.size as 4 | 8 });
        if (f) lists.push(f);
      }
      if (ci.fullList !== 0) {
        const full = c + L.cache_full;
        const f = chainFact(img, `full magazines of ${ci.name}`, full + L.ml_list.off, L.mag_next.off, `${hx(c)}::walk freemem`, { addr: full + L.ml_total.off, size: L.ml_total.size as 4 | 8 });
        if (f) lists.push(f);
      }
    }
  }
  const poolHead = t.symbolByName('pool_head');
  const poolType = t.types.find('struct pool');
  if (poolHead && poolType !== undefined) {
    const linkOff = t.types.member(poolType, 'pr_poollist').bitOffset / 8;
    const f = chainFact(img, 'pool_head', poolHead.value, linkOff, '::walk pool_head');
    if (f) lists.push(f);
  }
  for (const th of t.threads().slice(0, 4)) addrs.push(hx(th.addr));
  const dv = new DataView(img.bytes.buffer, img.bytes.byteOffset, img.bytes.byteLength);
  const phoff = img.is64 ? Number(dv.getBigUint64(32, true)) : dv.getUint32(28, true);
  const phentsize = dv.getUint16(img.is64 ? 54 : 42, true);
  const phnum = dv.getUint16(img.is64 ? 56 : 44, true);
  let note: [number, number] | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== 4) continue; // PT_NOTE
    note = img.is64 ? [Number(dv.getBigUint64(p + 8, true)), Number(dv.getBigUint64(p + 32, true))] : [dv.getUint32(p + 4, true), dv.getUint32(p + 16, true)];
  }
  return { lists, structs, elf: { phoff, phentsize, phnum, is64: img.is64, note }, addrs };
}

/** Little-endian bytes of a value of `size` bytes. */
function le(v: number | bigint, size: number): number[] {
  let x = BigInt.asUintN(size * 8, BigInt(v));
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

const INTERESTING = [0, 1, -1, 0x7fffffff, 0x80000000, 0xffffffff, 0x1000, 0xdeadbeef, 0xbaddcafe, 0x10000000];

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[r.below(xs.length)]!;
}

/** A random mutation of the base dump described by facts (vmcore of `size` bytes). */
export function mutate(r: Rand, img: DumpImage, facts: DumpFacts, size: number): Mutation {
  const P = img.is64 ? 8 : 4;
  const at = (va: number, bytes: number[]): Patch => ({ off: img.offsetOf(va, bytes.length), bytes });
  const k = r.below(12);
  if (k < 4 && facts.lists.length) {
    const l = pick(r, facts.lists);
    const how = l.count ? r.below(3) : r.below(2);
    if (how === 0) {
      const live = l.links.map((_, i) => i).filter((i) => img.readPtr(l.links[i]!) !== 0);
      const i = pick(r, live);
      return { kind: 'cut', note: `${l.name}: link ${i} set to NULL`, patches: [at(l.links[i]!, le(0, P))], mustWarn: l.walk };
    }
    if (how === 1) {
      const i = 1 + r.below(l.links.length - 1); // an element's link
      const j = r.below(2) ? i : 1 + r.below(i); // to its own node or an earlier one
      return { kind: 'cycle', note: `${l.name}: the link of node ${hx(l.nodes[i]!)} points back to ${hx(l.nodes[j]!)}`, patches: [at(l.links[i]!, le(l.nodes[j]!, P))], mustWarn: l.walk };
    }
    const c = l.count!;
    const cur = c.size === 8 ? Number(BigInt.asIntN(64, BigInt(img.readPtr(c.addr)))) : new DataView(img.bytes.buffer, img.bytes.byteOffset).getInt32(img.offsetOf(c.addr, 4), true);
    const delta = pick(r, [1, -1, 2, 7, -3]);
    return { kind: 'count', note: `${l.name}: its count ${cur} changed by ${delta}`, patches: [at(c.addr, le(cur + delta, c.size))], mustWarn: l.walk };
  }
  if (k < 6 && facts.structs.length) {
    const [base, sz] = pick(r, facts.structs);
    const off = r.below(Math.max(1, Math.floor(sz / P))) * P;
    const v = r.below(3) === 0 ? base + off : r.below(2) ? pick(r, INTERESTING) : r.u32() * (r.below(2) ? 65536 : 1);
    return { kind: 'pointer', note: `word ${off} of the structure at ${hx(base)} set to ${hx(v)}`, patches: [at(base + off, le(v, P))] };
  }
  if (k < 8) {
    const n = 1 + r.below(8);
    const patches: Patch[] = [];
    for (let i = 0; i < n; i++) {
      const off = r.below(size);
      patches.push({ off, bytes: [img.bytes[off]! ^ (1 << r.below(8))] });
    }
    return { kind: 'bitflip', note: `${n} bit flips`, patches };
  }
  if (k < 9) {
    const len = r.below(3) === 0 ? r.below(4096) : r.below(size);
    return { kind: 'truncate', note: `truncated to ${len} bytes`, patches: [], truncate: len };
  }
  if (k < 10) {
    const e = facts.elf;
    const fields = r.below(2) === 0 ? (e.is64 ? [16, 18, 20, 24, 32, 40, 48, 52, 54, 56, 58, 60, 62] : [16, 18, 20, 24, 28, 32, 40, 42, 44, 46, 48, 50]) : [];
    if (fields.length) {
      const f = pick(r, fields);
      return { kind: 'elf-header', note: `ELF header byte ${f} changed`, patches: [{ off: f, bytes: le(pick(r, INTERESTING), 2) }] };
    }
    const ph = e.phoff + r.below(Math.max(1, e.phnum)) * e.phentsize;
    const f = r.below(Math.max(1, e.phentsize / 4)) * 4;
    return { kind: 'program-header', note: `program header word at ${ph + f} changed`, patches: [{ off: ph + f, bytes: le(pick(r, INTERESTING), 4) }] };
  }
  if (k < 11 && facts.elf.note) {
    const [off, len] = facts.elf.note;
    const n = 1 + r.below(4);
    const patches: Patch[] = [];
    for (let i = 0; i < n; i++) patches.push({ off: off + r.below(Math.max(1, len)), bytes: le(pick(r, INTERESTING), 4) });
    return { kind: 'note', note: `${n} words of the note segment changed`, patches };
  }
  const load = pick(r, img.loads);
  const pages = Math.max(1, Math.floor(load.filesz / 4096));
  const page = load.offset + r.below(pages) * 4096;
  const fill = r.below(2) ? 0 : 0xff;
  return { kind: 'blank-page', note: `page at file offset ${page} filled with ${fill}`, patches: [{ off: page, bytes: new Array<number>(Math.min(4096, load.filesz)).fill(fill) }] };
}

/** Apply a mutation to a copy of the vmcore bytes. */
export function applyMutation(base: Uint8Array, m: Mutation): Uint8Array {
  const out = m.truncate !== undefined ? base.slice(0, Math.min(m.truncate, base.length)) : base.slice();
  for (const p of m.patches) for (let i = 0; i < p.bytes.length && p.off + i < out.length; i++) out[p.off + i] = p.bytes[i]!;
  return out;
}
