/*
 * whatis: what is at an address?  (mdb's ::whatis, with the genunix
 * handlers; spec §6.10.)
 *
 * Sources are searched from the most specific to the least, in illumos'
 * order: kernel and module symbols and segments, threads (structure and
 * stacks), kmem caches (ordinary caches, then metadata caches whose arena is
 * kmem_msb_arena, then KMC_NOTOUCH ones such as vmem quantum caches; in each
 * cache allocated buffers, then free ones), then vmem arenas children first
 * (allocated and free segments), then, beyond illumos, the ranges of modules
 * that have been unloaded.  Identifier caches and arenas (KMC_IDENTIFIER,
 * VMC_IDENTIFIER) are searched only for identifiers (`-i`), the others only
 * for addresses.  By default only the first answer is returned; `all`
 * returns every one (the guide's `::whatis -a` chain of arenas).
 *
 * A `WhatisIndex` reads the slabs and segments once, so that a pipeline of
 * addresses (`::kgrep | ::whatis`) does not re-read the allocator for each.
 * The ::whatis handlers of the genunix module (modules/genunix.ts) drive it
 * cache by cache (`whatisCaches`, `cacheSlabs`, `lookupBuf`) so that they
 * print in illumos' order; `whatis()` is the one-shot library form.
 */

import { checkAddress } from '../../machine/argcheck.js';
import type { Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { rd } from './fields.js';
import { KmemView, type CacheInfo, type WarnFn } from './kmem-view.js';
import { KMC_IDENTIFIER, KMC_NOTOUCH, KMF_AUDIT, KMF_HASH, KMF_LITE, KMF_BUFTAG, KMEM_BUFTAG_ALLOC, KMEM_BUFTAG_FREE } from '../../abi/kmem-impl.js';
import { VmemView, type SegInfo } from './vmem-view.js';
import { VMC_IDENTIFIER, VMEM_ALLOC, VMEM_FREE, VMEM_STACK_DEPTH } from '../../abi/vmem-impl.js';
import { bxstatOk } from './verify.js';

/** Most callers a KMF_LITE buftag can hold that illumos will print (KMEM_LITE_MAX). */
const KMEM_LITE_MAX = 16;

export type WhatisKind = 'symbol' | 'module' | 'unloaded-module' | 'thread' | 'stack' | 'kmem' | 'vmem';

export interface WhatisMatch {
  readonly addr: number;
  readonly kind: WhatisKind;
  readonly base: number;
  readonly offset: number;
  /** kmem: 'allocated' | 'freed'; vmem: same. */
  readonly state?: 'allocated' | 'freed';
  /** Cache, arena, thread or module name. */
  readonly owner: string;
  readonly ownerAddr?: number;
  readonly bufctl?: number;
  readonly vmemSeg?: number;
  /** The vmem segment (vmem matches). */
  readonly seg?: SegInfo;
  /** LITE caches: recent callers. */
  readonly recentCallers?: readonly number[];
  /** Allocation stack kept by a freed vmem segment (beyond illumos). */
  readonly formerStack?: readonly number[];
  readonly formerThread?: number;
  readonly time?: number;
  /** What follows "<addr> is <base>+<off>, " (see formatWhatis). */
  readonly text: string;
}

export interface WhatisOptions {
  all?: boolean;
  /** Only identifier arenas and caches (skip symbols, threads, modules). */
  identifiersOnly?: boolean;
  /** Show bufctl / vmem_seg addresses. */
  showCtl?: boolean;
  /** Called with "Searching <what>..." as each source is searched. */
  verbose?: (msg: string) => void;
}

export interface SlabEntry {
  readonly base: number;
  /** End of the chunks (base + chunks * chunksize). */
  readonly end: number;
  readonly slab: number;
  readonly cache: CacheInfo;
}

/** A buffer found for an address. */
export interface BufLookup {
  readonly buf: number;
  readonly freed: boolean;
  /** Its bufctl (KMF_HASH caches), else 0. */
  readonly bufctl: number;
  /** Walk order within its state: magazine round index, then slab order (illumos' walk order). */
  readonly order: number;
}

export interface WhatisArena {
  readonly addr: number;
  readonly name: string;
  readonly cflags: number;
  readonly segs: readonly SegInfo[];
}

function hx(a: number): string {
  return hex(a);
}

/** Does the segment carry debugging information (vmem_seg -v prints its stack)? */
export function segHasStack(s: SegInfo): boolean {
  return s.type === VMEM_ALLOC && s.depth > 0 && s.depth <= VMEM_STACK_DEPTH;
}

export class WhatisIndex {
  readonly kv: KmemView | undefined;
  readonly vv: VmemView | undefined;
  private cacheOrder: CacheInfo[] | undefined;
  private slabsOf = new Map<number, SlabEntry[]>();
  private mags = new Map<number, Map<number, number>>();
  private arenaSegs: WhatisArena[] | undefined;
  private liteCount = -1;

  constructor(
    readonly t: Target,
    readonly warn: WarnFn = () => {},
  ) {
    let kv: KmemView | undefined;
    let vv: VmemView | undefined;
    try {
      kv = new KmemView(t, warn);
    } catch {
      kv = undefined;
    }
    try {
      vv = new VmemView(t, warn);
    } catch {
      vv = undefined;
    }
    this.kv = kv;
    this.vv = vv;
  }

  private readVar(name: string, ptr: boolean): number | undefined {
    const s = this.t.symbolByName(name);
    if (!s) return undefined;
    try {
      return ptr ? this.t.loadPtr(s.value) : this.t.load32(s.value) | 0;
    } catch {
      return undefined;
    }
  }

  /**
   * Caches in the order illumos' kmem handler searches them: ordinary
   * caches, metadata caches (arena kmem_msb_arena), then KMC_NOTOUCH caches.
   */
  whatisCaches(): CacheInfo[] {
    if (this.cacheOrder) return this.cacheOrder;
    const kv = this.kv;
    const caches: CacheInfo[] = [];
    if (kv) {
      for (const c of kv.caches()) {
        try {
          caches.push(kv.cache(c));
        } catch {
          this.warn(`failed to read cache ${hx(c)}`);
        }
      }
    }
    const msb = this.readVar('kmem_msb_arena', true) ?? 0;
    const meta = (c: CacheInfo) => msb !== 0 && c.arena === msb;
    this.cacheOrder = [
      ...caches.filter((c) => !meta(c) && !(c.cflags & KMC_NOTOUCH)),
      ...caches.filter((c) => meta(c)),
      ...caches.filter((c) => !meta(c) && c.cflags & KMC_NOTOUCH),
    ];
    return this.cacheOrder;
  }

  /** The cache's slabs in kmem_slab walk order (complete, then partial). */
  cacheSlabs(ci: CacheInfo): SlabEntry[] {
    let out = this.slabsOf.get(ci.addr);
    if (out) return out;
    out = [];
    const kv = this.kv;
    if (kv) {
      for (const s of kv.slabs(ci.addr)) {
        try {
          const base = rd(this.t, s, kv.L.slab_base);
          const chunks = rd(this.t, s, kv.L.slab_chunks);
          if (chunks > 0 && chunks <= Math.max(ci.maxchunks, 1)) out.push({ base, end: base + chunks * ci.chunksize, slab: s, cache: ci });
        } catch {
          this.warn(`failed to read slab ${hx(s)}`);
        }
      }
    }
    this.slabsOf.set(ci.addr, out);
    return out;
  }

  /**
   * Bytes of a slab illumos tests for addresses of interest before walking
   * a cache (slabsize - maxcolor, less the slab structure of small slabs);
   * it walks every cache holding two buffers or fewer per slab.
   */
  slabSpan(ci: CacheInfo): number {
    const kv = this.kv!;
    let maxcolor = 0;
    if (kv.L.cache_maxcolor) {
      try {
        maxcolor = rd(this.t, ci.addr, kv.L.cache_maxcolor);
      } catch {
        maxcolor = 0;
      }
    }
    let span = ci.slabsize - maxcolor;
    if (!(ci.flags & KMF_HASH)) span -= kv.L.slabSize;
    return span;
  }

  /** Magazine rounds of a cache, each with its position. */
  private magMap(ci: CacheInfo): Map<number, number> {
    let m = this.mags.get(ci.addr);
    if (!m) {
      m = new Map();
      for (const b of this.kv!.magazineRounds(ci)) if (!m.has(b)) m.set(b, m.size);
      this.mags.set(ci.addr, m);
    }
    return m;
  }

  /** The hash-table bufctl of an allocated buffer (HASH caches), or 0. */
  private allocatedBufctl(ci: CacheInfo, buf: number): number {
    const kv = this.kv!;
    if (ci.flags & KMF_BUFTAG) {
      try {
        const b = rd(this.t, buf + ci.buftagOff, kv.L.bt_bufctl);
        if (b !== 0 && rd(this.t, b, kv.L.bc_addr) === buf) return b;
      } catch {
        /* fall back to the hash */
      }
    }
    const nb = ci.hashMask + 1;
    if (ci.hashTable === 0 || nb <= 0 || nb > 1 << 24) return 0;
    let n = 0;
    for (let i = 0; i < nb; i++) {
      let b = this.t.loadPtr(ci.hashTable + i * kv.ptr);
      while (b !== 0 && n++ < ci.buftotal + 64) {
        if (rd(this.t, b, kv.L.bc_addr) === buf) return b;
        b = rd(this.t, b, kv.L.bc_next);
      }
    }
    return 0;
  }

  /**
   * The buffer of slab `e` holding addr ([buf, buf + bufsize)), whether it
   * is free (in a magazine or on the slab's freelist) and its bufctl.
   */
  lookupBuf(e: SlabEntry, addr: number, slabIndex = 0): BufLookup | undefined {
    const kv = this.kv;
    if (!kv || addr < e.base || addr >= e.end) return undefined;
    const ci = e.cache;
    const buf = e.base + Math.floor((addr - e.base) / ci.chunksize) * ci.chunksize;
    if (addr >= buf + ci.bufsize) return undefined;
    const mags = this.magMap(ci);
    const mi = mags.get(buf);
    let freed = mi !== undefined;
    let bufctl = 0;
    if (!freed) {
      for (const r of kv.slabFreelist(ci, e.slab)) {
        if (r.buf === buf) {
          freed = true;
          bufctl = r.bufctl;
          break;
        }
      }
    }
    if (ci.flags & KMF_HASH && bufctl === 0) {
      try {
        bufctl = freed ? rd(this.t, buf + ci.buftagOff, kv.L.bt_bufctl) : this.allocatedBufctl(ci, buf);
      } catch {
        bufctl = 0;
      }
    }
    const order = mi !== undefined ? mi : mags.size + slabIndex * Math.max(ci.maxchunks, 1) + (buf - e.base) / ci.chunksize;
    return { buf, freed, bufctl, order };
  }

  /**
   * The recent callers a KMF_LITE buftag holds (kmem_lite_count of them at
   * most), as illumos prints them: none unless the buftag is intact (bxstat
   * says allocated or free) and the first caller was written.
   */
  liteCallers(ci: CacheInfo, buf: number): number[] {
    const kv = this.kv;
    if (!kv || !(ci.flags & KMF_LITE) || !kv.L.bt_history) return [];
    if (this.liteCount < 0) {
      const n = this.readVar('kmem_lite_count', false);
      this.liteCount = n === undefined || n < 0 || n > KMEM_LITE_MAX ? 0 : n;
    }
    const count = Math.min(this.liteCount, kv.L.bt_history.count);
    if (count === 0) return [];
    const btp = buf + ci.buftagOff;
    const out: number[] = [];
    try {
      if (!bxstatOk(this.t, btp, kv, KMEM_BUFTAG_ALLOC) && !bxstatOk(this.t, btp, kv, KMEM_BUFTAG_FREE)) return [];
      for (let i = 0; i < count; i++) {
        const pc = rd(this.t, btp, kv.L.bt_history, i);
        if (isUninit(pc, kv.ptr)) break;
        out.push(pc);
      }
    } catch {
      return [];
    }
    return out;
  }

  /** Arenas in vmem_postfix order with their allocated and free segments. */
  arenas(): WhatisArena[] {
    if (this.arenaSegs) return this.arenaSegs;
    const out: WhatisArena[] = [];
    const vv = this.vv;
    if (vv) {
      for (const a of vv.postorder()) {
        let name = '?';
        let cflags = 0;
        try {
          name = vv.arena(a).name;
          cflags = vv.L.vm_cflags ? rd(this.t, a, vv.L.vm_cflags) : 0;
        } catch {
          /* keep going */
        }
        out.push({ addr: a, name, cflags, segs: vv.segsOfType(a, VMEM_ALLOC | VMEM_FREE) });
      }
    }
    this.arenaSegs = out;
    return out;
  }

  /** The one-line text of a kmem match ("[bufctl B ]allocated from C"). */
  private kmemMatch(addr: number, ci: CacheInfo, r: BufLookup, opts: WhatisOptions): WhatisMatch {
    const state = r.freed ? 'freed' : 'allocated';
    const doBufctl = ci.flags & KMF_HASH ? (ci.flags & KMF_AUDIT ? true : !!opts.showCtl) : false;
    const ctlText = opts.showCtl && doBufctl && r.bufctl ? `bufctl ${hx(r.bufctl)} ` : '';
    const recent = ci.flags & KMF_LITE ? this.liteCallers(ci, r.buf) : undefined;
    return {
      addr,
      kind: 'kmem',
      base: r.buf,
      offset: addr - r.buf,
      state,
      owner: ci.name,
      ownerAddr: ci.addr,
      bufctl: doBufctl && r.bufctl ? r.bufctl : undefined,
      recentCallers: recent && recent.length ? recent : undefined,
      text: `${ctlText}${state} from ${ci.name}`,
    };
  }

  kmemMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    if (!this.kv) return;
    opts.verbose?.('Searching genunix`kmem...');
    const idspace = !!opts.identifiersOnly;
    for (const ci of this.whatisCaches()) {
      if (((ci.cflags & KMC_IDENTIFIER) !== 0) !== idspace) continue;
      const slabs = this.cacheSlabs(ci);
      for (let i = 0; i < slabs.length; i++) {
        const r = this.lookupBuf(slabs[i]!, addr, i);
        if (!r) continue;
        out.push(this.kmemMatch(addr, ci, r, opts));
        if (!opts.all) return;
      }
    }
  }

  /** A vmem match; the text is the one-line form ("allocated from the A vmem arena"). */
  vmemMatch(addr: number, a: WhatisArena, s: SegInfo, opts: WhatisOptions): WhatisMatch {
    const freed = s.type === VMEM_FREE;
    const segText = opts.showCtl ? `vmem_seg ${hx(s.addr)} ` : '';
    let text = `${segText}${freed ? 'freed' : 'allocated'} from the ${a.name} vmem arena`;
    const former = freed && s.depth > 0 && s.depth <= VMEM_STACK_DEPTH;
    if (former) text += this.formerAllocation(s);
    return {
      addr,
      kind: 'vmem',
      base: s.start,
      offset: addr - s.start,
      state: freed ? 'freed' : 'allocated',
      owner: a.name,
      ownerAddr: a.addr,
      vmemSeg: s.addr,
      seg: s,
      formerStack: former ? s.stack : undefined,
      formerThread: former ? s.thread : undefined,
      time: former ? s.timestamp : undefined,
      text,
    };
  }

  /** Beyond illumos: " (last allocated by CALLER, thread T, at TIME)" for a freed segment that kept its audit record. */
  formerAllocation(s: SegInfo): string {
    const caller = this.kv ? this.kv.caller(s.stack, ['vmem_', 'kmem_']) : s.stack[0] ?? 0;
    return ` (last allocated by ${this.sym(caller)}, thread ${hx(s.thread)}, at ${hx(s.timestamp)})`;
  }

  vmemMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    opts.verbose?.('Searching genunix`vmem...');
    const idspace = !!opts.identifiersOnly;
    for (const a of this.arenas()) {
      if (((a.cflags & VMC_IDENTIFIER) !== 0) !== idspace) continue;
      for (const s of a.segs) {
        if (addr < s.start || addr >= s.end) continue;
        out.push(this.vmemMatch(addr, a, s, opts));
        if (!opts.all) return;
      }
    }
  }

  private sym(pc: number): string {
    const s = this.t.symbolByAddr(pc);
    if (!s) return hx(pc);
    return pc === s.value ? s.name : `${s.name}+0x${hx(pc - s.value)}`;
  }
  private symbolMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    opts.verbose?.('Searching mdb`modules...');
    const s = this.t.symbolByAddr(addr);
    const mods = this.t.moduleHistory();
    if (s) {
      const mod = s.module ?? 'unix';
      const rec = s.module ? [...mods].reverse().find((m) => m.name === s.module && m.unloadTime === undefined) : undefined;
      let seg = s.kind === 'func' ? 'text segment' : 'data segment';
      if (rec) seg = addr < rec.base + rec.textSize ? 'text segment' : 'data segment';
      out.push({
        addr,
        kind: 'symbol',
        base: addr,
        offset: 0,
        owner: mod,
        text: `${this.sym(addr)}, in ${mod}'s ${seg}`,
      });
      if (!opts.all) return;
    }
    for (const m of mods) {
      if (m.unloadTime !== undefined || addr < m.base || addr >= m.base + m.size) continue;
      if (s && s.module === m.name) continue;
      const seg = addr < m.base + m.textSize ? 'text segment' : 'data segment';
      out.push({ addr, kind: 'module', base: m.base, offset: addr - m.base, owner: m.name, text: `in ${m.name}'s ${seg}` });
      if (!opts.all) return;
    }
  }

  unloadedMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    const mods = this.t.moduleHistory();
    for (let i = mods.length - 1; i >= 0; i--) {
      const m = mods[i]!;
      if (m.unloadTime === undefined || addr < m.base || addr >= m.base + m.size) continue;
      const seg = addr < m.base + m.textSize ? 'text segment' : 'data segment';
      const s = m.symbols.find((x) => addr >= x.value && addr < x.value + Math.max(x.size, 1));
      const symText = s ? ` (${s.name}${addr === s.value ? '' : `+0x${hx(addr - s.value)}`})` : '';
      out.push({
        addr,
        kind: 'unloaded-module',
        base: m.base,
        offset: addr - m.base,
        owner: m.name,
        time: m.unloadTime,
        text: `in unloaded module ${m.name}'s former ${seg}${symText}; loaded at ${hx(m.loadTime)}, unloaded at ${hx(m.unloadTime)}`,
      });
      if (!opts.all) return;
    }
  }

  private threadMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    opts.verbose?.('Searching genunix`threads...');
    let tsize = 0;
    const id = this.t.types.find('kthread_t');
    if (id !== undefined) tsize = this.t.types.sizeof(id);
    for (const th of this.t.threads()) {
      if (tsize > 0 && addr >= th.addr && addr < th.addr + tsize) {
        out.push({ addr, kind: 'thread', base: th.addr, offset: addr - th.addr, owner: th.name, ownerAddr: th.addr, text: 'allocated as a thread structure' });
        if (!opts.all) return;
      }
      if (addr >= th.stackBase && addr < th.stackTop) {
        const below = th.sp !== 0 && addr < th.sp ? ' (below sp)' : '';
        out.push({ addr, kind: 'stack', base: addr, offset: 0, owner: th.name, ownerAddr: th.addr, text: `in thread ${hx(th.addr)}'s stack${below}` });
        if (!opts.all) return;
      }
    }
  }

  /** Everything known about addr (the first answer only unless opts.all). */
  whatis(addr: number, opts: WhatisOptions = {}): WhatisMatch[] {
    checkAddress('whatis', 'addr', addr);
    const out: WhatisMatch[] = [];
    const steps: Array<(a: number, o: WhatisOptions, r: WhatisMatch[]) => void> = opts.identifiersOnly
      ? [this.kmemMatches.bind(this), this.vmemMatches.bind(this)]
      : [
          this.symbolMatches.bind(this),
          this.threadMatches.bind(this),
          this.kmemMatches.bind(this),
          this.vmemMatches.bind(this),
          this.unloadedMatches.bind(this),
        ];
    for (const st of steps) {
      st(addr, opts, out);
      if (out.length > 0 && !opts.all) break;
    }
    return out;
  }
}

/** One-shot whatis. */
export function whatis(t: Target, addr: number, opts: WhatisOptions = {}, warn?: WarnFn): WhatisMatch[] {
  return new WhatisIndex(t, warn).whatis(addr, opts);
}

/** The line ::whatis prints for a match. */
export function formatWhatis(m: WhatisMatch): string {
  const pre = m.addr === m.base ? `${hx(m.addr)} is ` : `${hx(m.addr)} is ${hx(m.base)}+${hx(m.addr - m.base)}, `;
  return pre + m.text;
}

/** KMEM_UNINITIALIZED_PATTERN (0xbaddcafe, repeated on LP64) or a zero pc. */
function isUninit(pc: number, ptr: number): boolean {
  if (pc === 0) return true;
  if (ptr === 4) return pc >>> 0 === 0xbaddcafe;
  return pc === -0x4522350145223502;
}
