/*
 * MemoryTarget: a Target over a machine Memory (usually PagedMemory), a
 * TypeTable, a symbol list and a few facts.  The live kernel wraps its own
 * memory with it; tests build small targets with it.
 *
 * Reads of unmapped memory throw TargetReadError (never PageFault), so mdb
 * sees one kind of error whatever the target.
 */

import { findContaining, sortSymbols } from './symbols.js';
import { PageFault, type DataModel, type Memory } from '../machine/memory.js';
import type { TypeTable } from '../ctf/ctf.js';
import {
  TargetReadError,
  type Target,
  type TargetModuleRecord,
  type TargetRange,
  type TargetStatus,
  type TargetSymbol,
  type TargetThread,
} from './target.js';

export interface MemoryTargetOptions {
  readonly memory: Memory;
  readonly types: TypeTable;
  readonly symbols?: readonly TargetSymbol[];
  readonly status?: TargetStatus;
  /** Threads, or a function giving the current threads (live kernels change). */
  readonly threads?: readonly TargetThread[] | (() => readonly TargetThread[]);
  readonly modules?: readonly TargetModuleRecord[] | (() => readonly TargetModuleRecord[]);
  readonly writable?: boolean;
}

export class MemoryTarget implements Target {
  readonly model: DataModel;
  readonly pageSize: number;
  readonly types: TypeTable;
  readonly writable: boolean;
  private readonly mem: Memory;
  private syms: TargetSymbol[] = [];
  private sorted: TargetSymbol[] = [];
  private readonly byName = new Map<string, TargetSymbol>();
  private readonly st: TargetStatus;
  private readonly thr: readonly TargetThread[] | (() => readonly TargetThread[]);
  private readonly mods: readonly TargetModuleRecord[] | (() => readonly TargetModuleRecord[]);

  constructor(o: MemoryTargetOptions) {
    this.mem = o.memory;
    this.model = o.memory.model;
    this.pageSize = o.memory.pageSize;
    this.types = o.types;
    this.writable = o.writable ?? false;
    this.st = o.status ?? { kind: 'live', osName: 'kmemdb', osRelease: '5.11', osVersion: 'kmemdb', hostname: 'localhost' };
    this.thr = o.threads ?? [];
    this.mods = o.modules ?? [];
    for (const s of o.symbols ?? []) this.addSymbol(s);
  }

  /** Add a symbol (live kernels add symbols as modules load). */
  addSymbol(s: TargetSymbol): void {
    this.syms.push(s);
    if (!this.byName.has(s.name)) this.byName.set(s.name, s);
    this.sorted = [];
  }

  /** Remove all symbols of a module (at unload). */
  removeModuleSymbols(module: string): void {
    this.syms = this.syms.filter((s) => s.module !== module);
    this.byName.clear();
    for (const s of this.syms) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
    this.sorted = [];
  }

  private wrap<T>(a: number, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof PageFault) throw new TargetReadError(e.addr);
      if (e instanceof RangeError) throw new TargetReadError(a);
      throw e;
    }
  }

  load8(a: number): number {
    return this.wrap(a, () => this.mem.load8(a));
  }
  load16(a: number): number {
    return this.wrap(a, () => this.mem.load16(a));
  }
  load32(a: number): number {
    return this.wrap(a, () => this.mem.load32(a));
  }
  load64(a: number): bigint {
    return this.wrap(a, () => this.mem.load64(a));
  }
  loadPtr(a: number): number {
    return this.wrap(a, () => this.mem.loadPtr(a));
  }
  read(a: number, len: number): Uint8Array {
    return this.wrap(a, () => this.mem.read(a, len));
  }
  isMapped(a: number): boolean {
    try {
      return this.mem.isMapped(a);
    } catch {
      return false;
    }
  }

  ranges(): readonly TargetRange[] {
    const out: TargetRange[] = [];
    for (const seg of this.mem.segments()) {
      const n = seg.prot.length;
      let i = 0;
      while (i < n) {
        if (seg.prot[i] === 0) {
          i++;
          continue;
        }
        let j = i;
        while (j < n && seg.prot[j] !== 0) j++;
        const base = seg.base + i * this.pageSize;
        const end = Math.min(seg.base + j * this.pageSize, seg.base + seg.size);
        out.push({ base, size: end - base });
        i = j;
      }
    }
    return out;
  }

  bytes(base: number, size: number): Uint8Array {
    for (const seg of this.mem.segments()) {
      if (base >= seg.base && base + size <= seg.base + seg.size) {
        const first = Math.floor((base - seg.base) / this.pageSize);
        const last = Math.floor((base + size - 1 - seg.base) / this.pageSize);
        for (let p = first; p <= last; p++) if (seg.prot[p] === 0) throw new TargetReadError(seg.base + p * this.pageSize);
        return seg.u8.subarray(base - seg.base, base - seg.base + size);
      }
    }
    return this.read(base, size);
  }

  write(a: number, bytes: Uint8Array): void {
    if (!this.writable) throw new TargetReadError(a, `failed to write ${bytes.length} bytes at ${a}: target is read-only`);
    this.wrap(a, () => this.mem.write(a, bytes));
  }

  symbolByName(name: string): TargetSymbol | undefined {
    return this.byName.get(name);
  }

  private sortedSyms(): TargetSymbol[] {
    if (this.sorted.length !== this.syms.length) {
      this.sorted = sortSymbols(this.syms);
    }
    return this.sorted;
  }

  symbolByAddr(addr: number): TargetSymbol | undefined {
    return findContaining(this.sortedSyms(), addr);
  }

  symbols(): readonly TargetSymbol[] {
    return this.syms;
  }

  status(): TargetStatus {
    return this.st;
  }

  threads(): readonly TargetThread[] {
    return typeof this.thr === 'function' ? this.thr() : this.thr;
  }

  moduleHistory(): readonly TargetModuleRecord[] {
    return typeof this.mods === 'function' ? this.mods() : this.mods;
  }
}
