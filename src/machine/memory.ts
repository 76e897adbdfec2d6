/*
 * The simulated machine's memory.
 *
 * Theory
 * ------
 * Memory is a set of *segments*: contiguous virtual ranges, each backed by one
 * ArrayBuffer (allocated zero-filled; the host OS commits pages lazily, so a
 * large reservation costs nothing until touched).  A segment has a protection
 * byte per page: 0 = unmapped, PROT_READ = 1, PROT_READ|PROT_WRITE = 3.  The
 * *paged* backend reserves segments sparsely anywhere in a 64-bit (or 32-bit)
 * address space and maps/unmaps/protects pages inside them; the *flat*
 * backend is one segment at address 0 whose pages are all read-write, over an
 * ArrayBuffer or a WebAssembly.Memory (address = offset), for JS and wasm32
 * heaps.  Both implement `Memory`.
 *
 * An access to an unmapped page, or a store to a read-only page, throws a
 * `PageFault` carrying the faulting virtual address and the access kind.  The
 * kernel's trap handler turns that into a panic ("BAD TRAP: type=e (#pf Page
 * fault) ...", src/kernel/trap.ts).
 *
 * Hot path: a load or store first checks the most recently used segment
 * (`cur`), then the page protection byte, then indexes a typed-array view.
 * Naturally aligned accesses never cross a page; unaligned ones take a slow
 * byte-wise path with a check per byte.  Unmapping a page zero-fills it, so a
 * later mapping of the same page starts clean, as fresh physical memory does.
 *
 * Byte order is little-endian (x86), matching the typed arrays on every host
 * we run on; `init()` asserts that.
 *
 * Addresses are numbers in the signed representation of `addr.ts`.
 */

import { TWO32, hex0x } from './addr.js';

export type ModelName = 'lp64' | 'ilp32';

export interface DataModel {
  readonly name: ModelName;
  /** Pointer and long size in bytes. */
  readonly ptrSize: 4 | 8;
  readonly longSize: 4 | 8;
  /** Alignment of 8-byte integers (long long, hrtime_t) in structs. */
  readonly align8: 4 | 8;
  readonly bits: 32 | 64;
}

export const LP64: DataModel = { name: 'lp64', ptrSize: 8, longSize: 8, align8: 8, bits: 64 };
/* i386 SysV aligns long long to 4 in structs; Solaris/illumos i386 does the same. */
export const ILP32: DataModel = { name: 'ilp32', ptrSize: 4, longSize: 4, align8: 4, bits: 32 };

export function dataModel(name: ModelName): DataModel {
  return name === 'lp64' ? LP64 : ILP32;
}

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_RW = 3;

export type Access = 'read' | 'write';

/** A fault: an access to an unmapped page or a write to a read-only page. */
export class PageFault extends Error {
  readonly addr: number;
  readonly access: Access;
  constructor(addr: number, access: Access, why = 'unmapped') {
    super(`page fault: ${access} of ${why} address ${hex0x(addr)}`);
    this.name = 'PageFault';
    this.addr = addr;
    this.access = access;
  }
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('kmemdb needs a little-endian host');
}

/** Displaced translation runs kept per direction (see SegmentedMemory). */
const VICTIMS = 16;

/** One contiguous reserved range with its backing store. */
export class Segment {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
  i32: Int32Array;
  f64: Float64Array;
  /** Protection per 4 KiB sub-page (whatever the page size). */
  readonly prot: Uint8Array;
  constructor(name: string, base: number, size: number, buffer: ArrayBufferLike, pageShift: number) {
    this.name = name;
    this.base = base;
    this.size = size;
    this.u8 = new Uint8Array(buffer, 0, size);
    this.u16 = new Uint16Array(buffer, 0, size >>> 1);
    this.u32 = new Uint32Array(buffer, 0, size >>> 2);
    this.i32 = new Int32Array(buffer, 0, size >>> 2);
    this.f64 = new Float64Array(buffer, 0, size >>> 3);
    // Protection is kept per 4 KiB sub-page whatever the page size, so that
    // hot paths shift by a constant.
    void pageShift;
    this.prot = new Uint8Array(Math.ceil(size / 4096));
  }
}

/** The interface shared by both backends. */
export interface Memory {
  readonly model: DataModel;
  readonly pageSize: number;
  load8(a: number): number;
  load16(a: number): number;
  load32(a: number): number;
  loadI32(a: number): number;
  /** 64-bit load as a number (exact only below 2^53 in magnitude). */
  load64n(a: number): number;
  load64(a: number): bigint;
  loadPtr(a: number): number;
  store8(a: number, v: number): void;
  store16(a: number, v: number): void;
  store32(a: number, v: number): void;
  store64n(a: number, v: number): void;
  store64(a: number, v: bigint): void;
  storePtr(a: number, v: number): void;
  read(a: number, len: number): Uint8Array;
  write(a: number, bytes: Uint8Array): void;
  fill8(a: number, len: number, v: number): void;
  fill32(a: number, len: number, v: number): void;
  isMapped(a: number): boolean;
  /** Segments, for dumping and scanning. */
  segments(): readonly Segment[];
}

export interface MemoryStats {
  mappedPages: number;
  reservedBytes: number;
}

/**
 * A memory an allocator can run on: loads and stores plus the page
 * operations its span source needs.  The paged backend maps, unmaps and
 * protects pages; the flat backend has no page protection (map makes the
 * range exist, growing a WebAssembly.Memory; unmap zero-fills; protect does
 * nothing) and says so with `protection === false`.
 */
export interface AddressSpace extends Memory {
  /** Whether unmapped or read-only pages fault (false for the flat backend). */
  readonly protection: boolean;
  segmentOf(a: number): Segment | undefined;
  /** Map [base, base+size); false when the range cannot be backed (a flat memory that cannot grow). */
  map(base: number, size: number, prot?: number): boolean;
  unmap(base: number, size: number): void;
  protect(base: number, size: number, prot: number): void;
  /** Called after the segments' views were re-created (a flat memory grew); empty for the paged backend. */
  readonly remapHooks: Array<() => void>;
}

/**
 * Shared implementation of loads and stores over segments.  Subclasses
 * decide how segments are created.
 */
abstract class SegmentedMemory implements Memory {
  readonly model: DataModel;
  readonly pageSize: number;
  readonly pageShift: number;
  protected segs: Segment[] = [];
  private cur: Segment;
  /* the current segment's fields, cached flat for the hot paths */
  /*
   * Translation caches: the run of contiguous readable sub-pages and the run
   * of contiguous writable sub-pages around the last slow-path access, with
   * a Uint32Array view of exactly that run.  A hit needs no protection
   * lookup.  Unmap and protect invalidate them (map only adds rights).
   */
  private rBase = 0;
  private rLen = 0;
  private rEnd = 0;
  private r32: Uint32Array = new Uint32Array(0);
  private wBase = 0;
  private wLen = 0;
  private wEnd = 0;
  private w32: Uint32Array = new Uint32Array(0);
  /*
   * Victim caches: the last few runs that were displaced from the read
   * (write) run, so code alternating between a handful of distant regions
   * (an allocator's metadata, its buffers, its logs) swaps runs instead of
   * rebuilding a view on every switch.
   */
  private readonly vrBase = new Float64Array(VICTIMS);
  private readonly vrEnd = new Float64Array(VICTIMS);
  private readonly vr32: Uint32Array[] = Array.from({ length: VICTIMS }, () => new Uint32Array(0));
  private vrNext = 0;
  private readonly vwBase = new Float64Array(VICTIMS);
  private readonly vwEnd = new Float64Array(VICTIMS);
  private readonly vw32: Uint32Array[] = Array.from({ length: VICTIMS }, () => new Uint32Array(0));
  private vwNext = 0;
  mappedPages = 0;

  constructor(model: DataModel, pageSize: number) {
    if (pageSize !== 4096 && pageSize !== 8192) throw new RangeError(`unsupported page size ${pageSize}`);
    this.model = model;
    this.pageSize = pageSize;
    this.pageShift = pageSize === 4096 ? 12 : 13;
    this.cur = new Segment('<none>', 0, 0, new ArrayBuffer(0), this.pageShift);
  }

  private setCur(s: Segment): void {
    this.cur = s;
  }

  /** Drop the translation caches (after rights were removed). */
  protected invalidate(): void {
    this.rLen = 0;
    this.wLen = 0;
    this.rEnd = this.rBase;
    this.wEnd = this.wBase;
    this.vrEnd.set(this.vrBase);
    this.vwEnd.set(this.vwBase);
  }

  /** Swap the victim run holding a (if any) into the read or write run. */
  private victimHit(a: number, write: boolean): boolean {
    const vb = write ? this.vwBase : this.vrBase;
    const ve = write ? this.vwEnd : this.vrEnd;
    for (let i = 0; i < VICTIMS; i++) {
      if (a >= vb[i]! && a < ve[i]!) {
        if (write) {
          const b = this.wBase, e = this.wEnd, v = this.w32;
          this.wBase = vb[i]!;
          this.wEnd = ve[i]!;
          this.wLen = this.wEnd - this.wBase;
          this.w32 = this.vw32[i]!;
          vb[i] = b;
          ve[i] = e;
          this.vw32[i] = v;
        } else {
          const b = this.rBase, e = this.rEnd, v = this.r32;
          this.rBase = vb[i]!;
          this.rEnd = ve[i]!;
          this.rLen = this.rEnd - this.rBase;
          this.r32 = this.vr32[i]!;
          vb[i] = b;
          ve[i] = e;
          this.vr32[i] = v;
        }
        return true;
      }
    }
    return false;
  }

  /** Park the current read (write) run in the victim cache before replacing it. */
  private displace(write: boolean): void {
    if (write) {
      if (this.wEnd <= this.wBase) return;
      const i = this.vwNext;
      this.vwNext = (i + 1) % VICTIMS;
      this.vwBase[i] = this.wBase;
      this.vwEnd[i] = this.wEnd;
      this.vw32[i] = this.w32;
    } else {
      if (this.rEnd <= this.rBase) return;
      const i = this.vrNext;
      this.vrNext = (i + 1) % VICTIMS;
      this.vrBase[i] = this.rBase;
      this.vrEnd[i] = this.rEnd;
      this.vr32[i] = this.r32;
    }
  }

  /** Load the read (or write) run around a; returns false if a faults. */
  private fillRun(a: number, write: boolean): boolean {
    const s = this.segmentOf(a);
    if (!s) return false;
    const need = write ? PROT_RW : PROT_READ;
    const ok = (p: number | undefined) => p !== undefined && (p & need) === need;
    const p = Math.floor((a - s.base) / 4096);
    if (!ok(s.prot[p])) return false;
    let lo = p;
    let hi = p + 1;
    while (lo > 0 && p - lo < 256 && ok(s.prot[lo - 1])) lo--;
    while (hi < s.prot.length && hi - p < 256 && ok(s.prot[hi])) hi++;
    const view = new Uint32Array(s.u32.buffer, s.u32.byteOffset + lo * 4096, ((hi - lo) * 4096) >>> 2);
    this.displace(write);
    if (write) {
      this.wBase = s.base + lo * 4096;
      this.wLen = (hi - lo) * 4096;
      this.wEnd = this.wBase + this.wLen;
      this.w32 = view;
    } else {
      this.rBase = s.base + lo * 4096;
      this.rLen = (hi - lo) * 4096;
      this.rEnd = this.rBase + this.rLen;
      this.r32 = view;
    }
    return true;
  }

  segments(): readonly Segment[] {
    return this.segs;
  }

  /** Find the segment holding a; throws a PageFault when none does. */
  protected find(a: number, access: Access): Segment {
    const segs = this.segs;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segs[mid]!;
      if (a < s.base) hi = mid - 1;
      else if (a >= s.base + s.size) lo = mid + 1;
      else {
        this.setCur(s);
        return s;
      }
    }
    throw new PageFault(a, access);
  }

  segmentOf(a: number): Segment | undefined {
    try {
      return this.find(a, 'read');
    } catch {
      return undefined;
    }
  }

  isMapped(a: number): boolean {
    const s = this.segmentOf(a);
    return s !== undefined && s.prot[(a - s.base) >>> 12] !== 0;
  }

  private check(a: number, access: Access): Segment {
    let s = this.cur;
    let off = a - s.base;
    if (!(off >= 0 && off < s.size)) {
      s = this.find(a, access);
      off = a - s.base;
    }
    const p = s.prot[off >>> 12]!;
    if (p === 0) throw new PageFault(a, access);
    if (access === 'write' && p !== PROT_RW) throw new PageFault(a, access, 'read-only');
    return s;
  }

  load8(a: number): number {
    const s = this.cur;
    const off = a - s.base;
    if (off >= 0 && off < s.size && s.prot[off >>> 12] !== 0) return s.u8[off]!;
    const t = this.check(a, 'read');
    return t.u8[a - t.base]!;
  }

  load16(a: number): number {
    if ((a & 1) !== 0) return this.load8(a) | (this.load8(a + 1) << 8);
    const s = this.cur;
    const off = a - s.base;
    if (off >= 0 && off < s.size && s.prot[off >>> 12] !== 0) return s.u16[off >>> 1]!;
    const t = this.check(a, 'read');
    return t.u16[(a - t.base) >>> 1]!;
  }

  load32(a: number): number {
    if (a >= this.rBase && a < this.rEnd && (a & 3) === 0) return this.r32[(a - this.rBase) >>> 2]!;
    return this.load32slow(a);
  }

  private load32slow(a: number): number {
    if ((a & 3) !== 0) {
      return (this.load8(a) | (this.load8(a + 1) << 8) | (this.load8(a + 2) << 16) | (this.load8(a + 3) << 24)) >>> 0;
    }
    if (this.victimHit(a, false) || this.fillRun(a, false)) return this.r32[(a - this.rBase) >>> 2]!;
    const t = this.check(a, 'read');
    return t.u32[(a - t.base) >>> 2]!;
  }

  loadI32(a: number): number {
    return this.load32(a) | 0;
  }

  load64n(a: number): number {
    const lo = this.load32(a);
    const hi = this.load32(a + 4) | 0;
    return hi * TWO32 + lo;
  }

  load64(a: number): bigint {
    const lo = this.load32(a);
    const hi = this.load32(a + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  loadPtr(a: number): number {
    if (this.model.ptrSize === 4) return this.load32(a);
    return this.load64n(a);
  }

  store8(a: number, v: number): void {
    const s = this.cur;
    const off = a - s.base;
    if (off >= 0 && off < s.size && s.prot[off >>> 12] === PROT_RW) {
      s.u8[off] = v;
      return;
    }
    const t = this.check(a, 'write');
    t.u8[a - t.base] = v;
  }

  store16(a: number, v: number): void {
    if ((a & 1) !== 0) {
      this.store8(a, v & 0xff);
      this.store8(a + 1, (v >>> 8) & 0xff);
      return;
    }
    const s = this.cur;
    const off = a - s.base;
    if (off >= 0 && off < s.size && s.prot[off >>> 12] === PROT_RW) {
      s.u16[off >>> 1] = v;
      return;
    }
    const t = this.check(a, 'write');
    t.u16[(a - t.base) >>> 1] = v;
  }

  store32(a: number, v: number): void {
    if (a >= this.wBase && a < this.wEnd && (a & 3) === 0) {
      this.w32[(a - this.wBase) >>> 2] = v;
      return;
    }
    this.store32slow(a, v);
  }

  private store32slow(a: number, v: number): void {
    if ((a & 3) !== 0) {
      // Check every byte first so a faulting store writes nothing.
      for (let i = 0; i < 4; i++) this.check(a + i, 'write');
      for (let i = 0; i < 4; i++) this.store8(a + i, (v >>> (8 * i)) & 0xff);
      return;
    }
    if (this.victimHit(a, true) || this.fillRun(a, true)) {
      this.w32[(a - this.wBase) >>> 2] = v;
      return;
    }
    const t = this.check(a, 'write');
    t.u32[(a - t.base) >>> 2] = v;
  }

  store64n(a: number, v: number): void {
    // (No %: on a negative double it is a call to fmod.  This is the same
    // split, exact for every finite v, and NaN/Infinity store 0 as before.)
    const hi = Math.floor(v / TWO32);
    const lo = v - hi * TWO32;
    // An aligned qword lies in one page: the first store faults (at a) or
    // neither does.  An unaligned one may straddle: check the far half first.
    // (a & 7 is exact for integer addresses; non-integers also count as unaligned.)
    if ((a & 7) !== 0 || a - Math.floor(a) !== 0) this.check(a + 7, 'write');
    this.store32(a, lo);
    this.store32(a + 4, hi >>> 0);
  }

  store64(a: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.check(a + 4, 'write');
    this.store32(a, Number(u & 0xffffffffn));
    this.store32(a + 4, Number(u >> 32n));
  }

  storePtr(a: number, v: number): void {
    if (this.model.ptrSize === 4) this.store32(a, v >>> 0);
    else this.store64n(a, v);
  }

  /** Copy bytes out; faults if any byte is unmapped. */
  read(a: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const s = this.check(a + done, 'read');
      const off = a + done - s.base;
      const pageEnd = (Math.floor(off / this.pageSize) + 1) * this.pageSize;
      const n = Math.min(len - done, pageEnd - off);
      out.set(s.u8.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  write(a: number, bytes: Uint8Array): void {
    // Check all pages first so that a faulting write changes nothing.
    for (let p = 0; p < bytes.length; p += this.pageSize) this.check(a + p, 'write');
    if (bytes.length > 0) this.check(a + bytes.length - 1, 'write');
    let done = 0;
    while (done < bytes.length) {
      const s = this.check(a + done, 'write');
      const off = a + done - s.base;
      const n = Math.min(bytes.length - done, s.size - off);
      s.u8.set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  fill8(a: number, len: number, v: number): void {
    let done = 0;
    while (done < len) {
      const s = this.check(a + done, 'write');
      const off = a + done - s.base;
      const pageEnd = (Math.floor(off / this.pageSize) + 1) * this.pageSize;
      const n = Math.min(len - done, pageEnd - off);
      s.u8.fill(v, off, off + n);
      done += n;
    }
  }

  /** Fill with a 32-bit pattern; a and len must be multiples of 4. */
  fill32(a: number, len: number, v: number): void {
    let done = 0;
    while (done < len) {
      const s = this.check(a + done, 'write');
      const off = a + done - s.base;
      const pageEnd = (Math.floor(off / this.pageSize) + 1) * this.pageSize;
      const n = Math.min(len - done, pageEnd - off);
      if ((off & 3) === 0 && (n & 3) === 0) s.u32.fill(v >>> 0, off >>> 2, (off + n) >>> 2);
      else for (let i = 0; i < n; i++) s.u8[off + i] = (v >>> (8 * ((off + i) & 3))) & 0xff;
      done += n;
    }
  }

  stats(): MemoryStats {
    return { mappedPages: this.mappedPages, reservedBytes: this.segs.reduce((n, s) => n + s.size, 0) };
  }
}

/**
 * The paged backend: a sparse virtual address space made of reserved
 * segments whose pages are mapped and unmapped individually.
 */
export class PagedMemory extends SegmentedMemory implements AddressSpace {
  readonly protection = true;
  /** The paged backend's segments never move. */
  readonly remapHooks: Array<() => void> = [];
  constructor(model: DataModel, pageSize = 4096) {
    super(model, pageSize);
  }

  /** Reserve [base, base+size) (page aligned), initially unmapped. */
  reserve(name: string, base: number, size: number): Segment {
    if (base % this.pageSize !== 0 || size % this.pageSize !== 0 || size <= 0) {
      throw new RangeError(`reserve(${name}): misaligned range ${hex0x(base)}+${size}`);
    }
    if (size > 0x80000000) throw new RangeError(`reserve(${name}): segment larger than 2 GiB`);
    for (const s of this.segs) {
      if (base < s.base + s.size && s.base < base + size) {
        throw new RangeError(`reserve(${name}): overlaps segment ${s.name}`);
      }
    }
    const seg = new Segment(name, base, size, new ArrayBuffer(size), this.pageShift);
    this.segs.push(seg);
    this.segs.sort((x, y) => x.base - y.base);
    return seg;
  }

  private subpages = 0;

  /**
   * Reserve a segment filled with given contents (used by the dump reader).
   * `prot` has one byte per 4 KiB sub-page, like Segment.prot.
   */
  adopt(name: string, base: number, bytes: Uint8Array, prot: Uint8Array): Segment {
    const seg = new Segment(name, base, bytes.length, bytes.buffer, this.pageShift);
    if (bytes.byteOffset !== 0) throw new RangeError('adopt: bytes must start their buffer');
    seg.prot.set(prot);
    for (const p of prot) if (p !== 0) this.subpages++;
    this.mappedPages = (this.subpages * 4096) / this.pageSize;
    this.segs.push(seg);
    this.segs.sort((x, y) => x.base - y.base);
    return seg;
  }

  /** 4 KiB sub-page indices of a page-aligned range inside one segment. */
  private pagesOf(base: number, size: number, what: string): { seg: Segment; first: number; n: number } {
    if (base % this.pageSize !== 0 || size % this.pageSize !== 0) {
      throw new RangeError(`${what}: misaligned range ${hex0x(base)}+${size}`);
    }
    const seg = this.segmentOf(base);
    if (!seg || base + size > seg.base + seg.size) throw new RangeError(`${what}: range ${hex0x(base)}+${size} not reserved`);
    return { seg, first: (base - seg.base) / 4096, n: size / 4096 };
  }

  /**
   * Told of each page (pageSize) that becomes mapped or unmapped: the
   * kernel's physical page accounting (src/kernel/page.ts).
   */
  pageObserver: ((page: number, mapped: boolean) => void) | undefined;

  /** Map pages (zero-filled if newly mapped) with the given protection. */
  map(base: number, size: number, prot: number = PROT_RW): boolean {
    const { seg, first, n } = this.pagesOf(base, size, 'map');
    const per = this.pageSize / 4096;
    for (let i = first; i < first + n; i++) {
      if (seg.prot[i] === 0) {
        this.subpages++;
        if (this.pageObserver && (i - first) % per === 0) this.pageObserver(seg.base + i * 4096, true);
      }
      seg.prot[i] = prot;
    }
    this.mappedPages = (this.subpages * 4096) / this.pageSize;
    return true;
  }

  /** Unmap pages: later accesses fault; contents are discarded. */
  unmap(base: number, size: number): void {
    const { seg, first, n } = this.pagesOf(base, size, 'unmap');
    this.invalidate();
    const per = this.pageSize / 4096;
    for (let i = first; i < first + n; i++) {
      if (seg.prot[i] !== 0) {
        this.subpages--;
        seg.prot[i] = 0;
        seg.u8.fill(0, i * 4096, (i + 1) * 4096);
        if (this.pageObserver && (i - first) % per === 0) this.pageObserver(seg.base + i * 4096, false);
      }
    }
    this.mappedPages = (this.subpages * 4096) / this.pageSize;
  }

  protect(base: number, size: number, prot: number): void {
    const { seg, first, n } = this.pagesOf(base, size, 'protect');
    this.invalidate();
    for (let i = first; i < first + n; i++) {
      if (seg.prot[i] === 0) throw new PageFault(seg.base + i * 4096, 'write');
      seg.prot[i] = prot;
    }
  }
}

/** What a flat memory can sit on. */
export type FlatSource = ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory;

/** Bytes per WebAssembly page. */
export const WASM_PAGE = 65536;

/**
 * The flat backend: one ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory,
 * address = offset, every page readable and writable (no page protection).
 *
 * A WebAssembly.Memory grows with `memory.grow`, which detaches the old
 * ArrayBuffer: every typed-array view on it must be re-created.  `map()`
 * grows the memory to cover the range it is asked for, then `refresh()`
 * re-creates the segment's views and calls the `remapHooks` so that users
 * holding views of their own (kmem's, vmem's DirectMemory) rebuild them.  The program
 * that owns the memory may grow it too; `current()` notices that (the buffer
 * is no longer the one the views were made on) and refreshes.
 */
export class FlatMemory extends SegmentedMemory implements AddressSpace {
  readonly protection = false;
  readonly remapHooks: Array<() => void> = [];
  private readonly source: FlatSource;
  /** The source when it can grow (a WebAssembly.Memory). */
  private readonly wasm: WebAssembly.Memory | undefined;
  private buf: ArrayBufferLike;
  constructor(source: FlatSource | number, model: DataModel = ILP32, pageSize = 4096) {
    super(model, pageSize);
    this.source = typeof source === 'number' ? new ArrayBuffer(source) : source;
    this.wasm = this.source instanceof WebAssembly.Memory ? this.source : undefined;
    this.buf = this.bufferOf();
    this.refresh();
  }

  private bufferOf(): ArrayBufferLike {
    return this.wasm ? this.wasm.buffer : (this.source as ArrayBufferLike);
  }

  /** Bytes of memory that exist now. */
  get byteLength(): number {
    return this.buf.byteLength;
  }

  /** Re-create the views (after the memory grew) and tell the remap hooks. */
  refresh(): void {
    const buf = this.bufferOf();
    this.buf = buf;
    const seg = new Segment('flat', 0, buf.byteLength, buf, this.pageShift);
    seg.prot.fill(PROT_RW);
    this.invalidate();
    this.segs = [seg];
    this.mappedPages = Math.ceil(buf.byteLength / this.pageSize);
    this.find(0, 'read');
    for (const h of this.remapHooks) h();
  }

  /** Refresh when the memory was grown behind our back (by the program). */
  current(): void {
    // memory.grow detached the buffer our views are on: they read as empty
    if (this.wasm !== undefined && this.segs[0]!.u8.length === 0) this.refresh();
  }

  /** Make [0, end) exist, growing a WebAssembly.Memory; false if it cannot. */
  ensure(end: number): boolean {
    this.current();
    if (end <= this.buf.byteLength) return true;
    if (!this.wasm) return false;
    const pages = Math.ceil((end - this.buf.byteLength) / WASM_PAGE);
    try {
      this.wasm.grow(pages);
    } catch {
      return false; // RangeError: beyond the memory's maximum or the host's limit
    }
    this.refresh();
    return true;
  }

  map(base: number, size: number): boolean {
    return this.ensure(base + size);
  }

  /** Nothing to unmap without page protection: the pages are zero-filled, as fresh ones read. */
  unmap(base: number, size: number): void {
    const seg = this.segs[0]!;
    const end = Math.min(base + size, seg.size);
    if (base < end) seg.u8.fill(0, base, end);
  }

  /** No page protection in a flat memory. */
  protect(): void {}
}

/**
 * Direct access for allocator hot paths.
 *
 * A DirectMemory wraps a PagedMemory and two of its segments (typically the
 * kernel heap, where allocator metadata lives, and the data segment of the
 * globals).  An access inside one of them checks the range, the natural
 * alignment and the page's protection byte itself, then indexes the
 * segment's typed arrays: no translation run, no victim lookup, no call.
 * Every other access (another segment, a misaligned address, an unmapped or
 * read-only page) is handed to the wrapped memory, so faults, and the
 * addresses they report, are exactly those of PagedMemory's accessors.
 *
 * It holds no state of its own: the views alias the segments' buffers and
 * protection bytes, so map, unmap and protect take effect at once, and a
 * DirectMemory may be mixed freely with the memory it wraps.  When a flat
 * memory grows, its views are replaced: make a new DirectMemory then (from
 * a remap hook).  An old one stays correct, only slower: the bounds are the
 * views' own lengths, which read 0 once memory.grow has detached their
 * buffer, so every access then goes to the memory itself.
 */
export class DirectMemory {
  readonly mem: AddressSpace;
  readonly model: DataModel;
  private readonly lp64: boolean;
  private readonly aBase: number;
  private readonly a8: Uint8Array;
  private readonly a32: Uint32Array;
  private readonly aProt: Uint8Array;
  private readonly bBase: number;
  private readonly b8: Uint8Array;
  private readonly b32: Uint32Array;
  private readonly bProt: Uint8Array;

  /** `primary` and `secondary` are addresses inside the two segments to serve directly. */
  constructor(mem: AddressSpace, primary: number, secondary: number) {
    const a = mem.segmentOf(primary);
    const b = mem.segmentOf(secondary);
    if (!a || !b) throw new RangeError(`DirectMemory: ${hex0x(a ? secondary : primary)} is not in a segment`);
    this.mem = mem;
    this.model = mem.model;
    this.lp64 = mem.model.ptrSize === 8;
    this.aBase = a.base;
    this.a8 = a.u8;
    this.a32 = a.u32;
    this.aProt = a.prot;
    this.bBase = b.base;
    this.b8 = b.u8;
    this.b32 = b.u32;
    this.bProt = b.prot;
  }

  load8(a: number): number {
    let o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && this.aProt[o >>> 12] !== 0) return this.a8[o]!;
    o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && this.bProt[o >>> 12] !== 0) return this.b8[o]!;
    return this.mem.load8(a);
  }

  store8(a: number, v: number): void {
    let o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && this.aProt[o >>> 12] === PROT_RW) {
      this.a8[o] = v;
      return;
    }
    o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && this.bProt[o >>> 12] === PROT_RW) {
      this.b8[o] = v;
      return;
    }
    this.mem.store8(a, v);
  }

  load32(a: number): number {
    const o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && (o & 3) === 0 && this.aProt[o >>> 12] !== 0) return this.a32[o >>> 2]!;
    return this.load32b(a);
  }

  private load32b(a: number): number {
    const o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && (o & 3) === 0 && this.bProt[o >>> 12] !== 0) return this.b32[o >>> 2]!;
    return this.mem.load32(a);
  }

  store32(a: number, v: number): void {
    const o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && (o & 3) === 0 && this.aProt[o >>> 12] === PROT_RW) this.a32[o >>> 2] = v;
    else this.store32b(a, v);
  }

  private store32b(a: number, v: number): void {
    const o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && (o & 3) === 0 && this.bProt[o >>> 12] === PROT_RW) this.b32[o >>> 2] = v;
    else this.mem.store32(a, v);
  }

  /** 64-bit load as a number (the high word signed), as Memory.load64n. */
  load64n(a: number): number {
    const o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && (o & 7) === 0 && this.aProt[o >>> 12] !== 0) {
      const i = o >>> 2;
      return (this.a32[i + 1]! | 0) * TWO32 + this.a32[i]!;
    }
    return this.load64nb(a);
  }

  private load64nb(a: number): number {
    const o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && (o & 7) === 0 && this.bProt[o >>> 12] !== 0) {
      const i = o >>> 2;
      return (this.b32[i + 1]! | 0) * TWO32 + this.b32[i]!;
    }
    return this.mem.load64n(a);
  }

  /** 64-bit store of a number (|v| < 2^53), as Memory.store64n. */
  store64n(a: number, v: number): void {
    const hi = Math.floor(v / TWO32);
    const lo = v - hi * TWO32;
    const o = a - this.aBase;
    if (o >= 0 && o < this.a8.length && (o & 7) === 0 && this.aProt[o >>> 12] === PROT_RW) {
      const i = o >>> 2;
      this.a32[i] = lo;
      this.a32[i + 1] = hi;
    } else {
      this.store64nb(a, v, lo, hi);
    }
  }

  private store64nb(a: number, v: number, lo: number, hi: number): void {
    const o = a - this.bBase;
    if (o >= 0 && o < this.b8.length && (o & 7) === 0 && this.bProt[o >>> 12] === PROT_RW) {
      const i = o >>> 2;
      this.b32[i] = lo;
      this.b32[i + 1] = hi;
    } else {
      this.mem.store64n(a, v);
    }
  }

  loadPtr(a: number): number {
    return this.lp64 ? this.load64n(a) : this.load32(a);
  }

  storePtr(a: number, v: number): void {
    if (this.lp64) this.store64n(a, v);
    else this.store32(a, v >>> 0);
  }

  fill8(a: number, len: number, v: number): void {
    this.mem.fill8(a, len, v);
  }

  fill32(a: number, len: number, v: number): void {
    this.mem.fill32(a, len, v);
  }
}
