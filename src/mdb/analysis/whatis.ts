/*
 * whatis: what is at an address?  (mdb's ::whatis, with the genunix
 * handlers; spec §6.10.)
 *
 * Sources are searched from the most specific to the least: kernel and
 * module symbols and segments, threads (structure and stacks), kmem caches
 * (ordinary caches, then KMC_NOTOUCH ones such as vmem quantum caches;
 * allocated, then freed), then vmem arenas children first (allocated and
 * free segments), then, beyond illumos, the ranges of modules that have been
 * unloaded.  By default only the first answer is returned; `all` returns
 * every one (the guide's `::whatis -a` chain of arenas).
 *
 * A `WhatisIndex` reads the slabs and segments once, so that a pipeline of
 * addresses (`::kgrep | ::whatis`) does not re-read the allocator for each.
 */

import type { Target } from '../../target/target.js';
import { hex } from '../../machine/addr.js';
import { rd } from './fields.js';
import { KmemView, KMC_NOTOUCH, KMF_HASH, KMF_LITE, KMF_BUFTAG, type CacheInfo, type WarnFn } from './kmem.js';
import { VmemView, VMEM_ALLOC, VMEM_FREE, type SegInfo } from './vmem.js';

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

interface SlabEntry {
  readonly base: number;
  readonly end: number;
  readonly slab: number;
  readonly cache: CacheInfo;
}

function hx(a: number): string {
  return hex(a);
}

export class WhatisIndex {
  private kv: KmemView | undefined;
  private vv: VmemView | undefined;
  private slabIdx: SlabEntry[] | undefined;
  private mags = new Map<number, Set<number>>();
  private arenaSegs: Array<{ addr: number; name: string; cflags: number; segs: SegInfo[] }> | undefined;

  constructor(
    readonly t: Target,
    readonly warn: WarnFn = () => {},
  ) {
    try {
      this.kv = new KmemView(t, warn);
    } catch {
      this.kv = undefined;
    }
    try {
      this.vv = new VmemView(t, warn);
    } catch {
      this.vv = undefined;
    }
  }

  private slabs(): SlabEntry[] {
    if (this.slabIdx) return this.slabIdx;
    const out: SlabEntry[] = [];
    const kv = this.kv;
    if (kv) {
      const caches: CacheInfo[] = [];
      for (const c of kv.caches()) {
        try {
          caches.push(kv.cache(c));
        } catch {
          this.warn(`failed to read cache ${hx(c)}`);
        }
      }
      // ordinary caches first, KMC_NOTOUCH (quantum caches) last
      const ordered = [...caches.filter((c) => !(c.cflags & KMC_NOTOUCH)), ...caches.filter((c) => c.cflags & KMC_NOTOUCH)];
      for (const ci of ordered) {
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
    }
    this.slabIdx = out;
    return out;
  }

  private magSet(ci: CacheInfo): Set<number> {
    let m = this.mags.get(ci.addr);
    if (!m) {
      m = new Set(this.kv!.magazineRounds(ci));
      this.mags.set(ci.addr, m);
    }
    return m;
  }

  private arenas(): Array<{ addr: number; name: string; cflags: number; segs: SegInfo[] }> {
    if (this.arenaSegs) return this.arenaSegs;
    const out: Array<{ addr: number; name: string; cflags: number; segs: SegInfo[] }> = [];
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

  kmemMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    const kv = this.kv;
    if (!kv) return;
    opts.verbose?.('Searching genunix`kmem...');
    for (const e of this.slabs()) {
      if (addr < e.base || addr >= e.end) continue;
      const ci = e.cache;
      if (opts.identifiersOnly && !(ci.cflags & 0x400000)) continue;
      const buf = e.base + Math.floor((addr - e.base) / ci.chunksize) * ci.chunksize;
      if (addr >= buf + ci.bufsize) continue;
      let freed = this.magSet(ci).has(buf);
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
      let recent: number[] | undefined;
      if (ci.flags & KMF_LITE && kv.L.bt_history) {
        recent = [];
        for (let i = 0; i < kv.L.bt_history.count; i++) {
          try {
            const pc = rd(this.t, buf + ci.buftagOff, kv.L.bt_history, i);
            if (pc === 0 || pc === 0xbaddcafe || (kv.ptr === 8 && pc === -0x4522350145223502)) break;
            recent.push(pc);
          } catch {
            break;
          }
        }
      }
      const state = freed ? 'freed' : 'allocated';
      const ctlText = opts.showCtl && bufctl ? `bufctl ${hx(bufctl)} ` : '';
      out.push({
        addr,
        kind: 'kmem',
        base: buf,
        offset: addr - buf,
        state,
        owner: ci.name,
        ownerAddr: ci.addr,
        bufctl: bufctl || undefined,
        recentCallers: recent,
        text: `${ctlText}${state} from ${ci.name}`,
      });
      if (!opts.all) return;
    }
  }

  vmemMatches(addr: number, opts: WhatisOptions, out: WhatisMatch[]): void {
    opts.verbose?.('Searching genunix`vmem...');
    for (const a of this.arenas()) {
      if (opts.identifiersOnly && !(a.cflags & 0x40000)) continue;
      for (const s of a.segs) {
        if (addr < s.start || addr >= s.end) continue;
        const freed = s.type === VMEM_FREE;
        const segText = opts.showCtl || (!freed && s.depth > 0) ? `(vmem_seg ${hx(s.addr)}) ` : '';
        let text = `${segText}${freed ? 'freed' : 'allocated'} from the ${a.name} vmem arena`;
        const m: WhatisMatch = {
          addr,
          kind: 'vmem',
          base: s.start,
          offset: addr - s.start,
          state: freed ? 'freed' : 'allocated',
          owner: a.name,
          ownerAddr: a.addr,
          vmemSeg: s.addr,
          formerStack: freed && s.depth > 0 ? s.stack : undefined,
          formerThread: freed && s.depth > 0 ? s.thread : undefined,
          time: freed && s.depth > 0 ? s.timestamp : undefined,
          text,
        };
        if (freed && s.depth > 0) {
          const caller = this.kv ? this.kv.caller(s.stack, ['vmem_', 'kmem_']) : s.stack[0] ?? 0;
          text += ` (last allocated by ${this.sym(caller)}, thread ${hx(s.thread)}, at ${hx(s.timestamp)})`;
          out.push({ ...m, text });
        } else out.push(m);
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
