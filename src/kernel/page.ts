/*
 * Physical page accounting: a page_t per physical page, as illumos' vm
 * layer keeps them, in simulated memory (layouts: src/abi/kernel-vm.ts), so
 * that mdb's ::memstat and page walker read what the kernel holds.
 *
 * Theory
 * ------
 * The simulated machine's physical memory is as large as the kernel's
 * virtual segments that pages can back (text, data, module_map, segkp and
 * the heap): `physmem` = `total_pages` = their size in pages, so mapping
 * never runs out of frames.  The page_t array (`pages`, pfn order) and the
 * `page_hash` buckets live in their own reserved range ("pages"), mapped
 * as far as page frames have been used; like illumos' page structures,
 * carved out before physical memory is counted, they are not pages of
 * physmem themselves.
 *
 * Every page the kernel maps is a kernel page: page_create_va gives it a
 * frame (the most recently freed one first, else the next never-used one)
 * whose page_t gets the identity (`kvp`, the virtual address as offset) and
 * goes on the page_hash chain of that identity; unmapping it is
 * page_destroy: off the chain, the identity cleared, P_FREE, the frame back
 * on the free list.  The kernel learns of mappings from the memory itself
 * (PagedMemory's page observer), so segkmem's heap pages, thread stacks in
 * segkp, module chunks and text are all counted, whoever maps them; the
 * pages mapped before the accounting starts (boot: text, data, the first
 * stacks and slabs) get their page_t's then, in address order.  So the
 * kvp pages are exactly the mapped pages of those segments, and those in
 * the heap are the spans the page-backed arenas (segkmem_alloc importers)
 * hold.
 */

import type { Kernel } from './kernel.js';
import { declare } from '../ctf/cparse.js';
import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import { p2roundup } from '../machine/addr.js';
import { PROT_RW, type PagedMemory } from '../machine/memory.js';
import { KERNEL_VM_TYPES, P_FREE, PAGE_HASHAVELEN } from '../abi/kernel-vm.js';

const PAGE_FIELDS = ['p_offset', 'p_vnode', 'p_hash', 'p_pagenum', 'p_state'] as const;

/** The segments whose pages are physical memory (see the theory above). */
const BACKED_SEGMENTS = ['text', 'data', 'module_map', 'segkp', 'heap'] as const;

export class PageAccounting {
  /** Physical pages. */
  readonly physmem: number;
  /** &kvp: the kernel's vnode, identity of every kernel page. */
  readonly kvp: number;
  private readonly hashBase: number;
  private readonly hashMask: number;
  private readonly pagesBase: number;
  private readonly pageTSize: number;
  private readonly o: Offsets<(typeof PAGE_FIELDS)[number]>;
  /** Frames given back, reused last-freed first. */
  private readonly freeFrames: number[] = [];
  /** Frames ever used (pfn 0 .. nextFrame - 1). */
  private nextFrame = 0;
  /** End of the mapped part of the range (the buckets, then the page_t array as frames are used). */
  private mappedEnd: number;
  private readonly rangeEnd: number;
  /** Pages in use (on page_hash). */
  private inUse = 0;

  constructor(
    private readonly k: Kernel,
    private readonly mem: PagedMemory,
  ) {
    declare(k.types, KERNEL_VM_TYPES);
    const T = k.types;
    const L = k.layout;
    const ps = k.pageSize;
    this.o = offsetsOf(T, 'page_t', PAGE_FIELDS);
    this.pageTSize = T.size('page_t');
    this.physmem = (L.textSize + L.dataSize + L.moduleSize + L.segkpSize + k.heapSize) / ps;
    let buckets = 1;
    while (buckets * PAGE_HASHAVELEN < this.physmem) buckets *= 2;
    this.hashMask = buckets - 1;
    const P = k.model.ptrSize;
    this.hashBase = L.pagesBase;
    this.pagesBase = p2roundup(L.pagesBase + buckets * P, 64);
    this.rangeEnd = p2roundup(this.pagesBase + this.physmem * this.pageTSize, ps);
    mem.reserve('pages', L.pagesBase, this.rangeEnd - L.pagesBase);
    this.mappedEnd = p2roundup(this.hashBase + buckets * P, ps);
    mem.map(this.hashBase, this.mappedEnd - this.hashBase, PROT_RW);

    this.kvp = k.global('kvp', 'struct vnode');
    k.mem.store32(this.kvp + T.offsetof('struct vnode', 'v_count'), 1);
    const g = (name: string, type: string, v: number) => k.mem.storePtr(k.global(name, type), v);
    g('_pagesize', 'unsigned long', ps);
    g('physmem', 'pgcnt_t', this.physmem);
    g('total_pages', 'pgcnt_t', this.physmem);
    g('page_hashsz', 'unsigned long', buckets);
    g('page_hash', 'page_t **', this.hashBase);
    g('pages', 'page_t *', this.pagesBase);
    g('epages', 'page_t *', this.pagesBase + this.physmem * this.pageTSize);

    for (const name of BACKED_SEGMENTS) this.adoptMapped(name);
    mem.pageObserver = (va, mapped) => {
      if (va >= this.hashBase && va < this.rangeEnd) return; // the accounting's own pages
      if (mapped) this.create(va);
      else this.destroy(va);
    };
  }

  /** Pages on page_hash (the kernel's pages). */
  get pagesInUse(): number {
    return this.inUse;
  }

  /** The page_t of a frame. */
  pageOf(pfn: number): number {
    return this.pagesBase + pfn * this.pageTSize;
  }

  /** page_create_va for the pages already mapped in a segment, in address order. */
  private adoptMapped(name: string): void {
    const seg = this.mem.segments().find((s) => s.name === name);
    if (!seg) return;
    const ps = this.k.pageSize;
    for (let va = seg.base; va < seg.base + seg.size; va += ps) if (seg.prot[(va - seg.base) / 4096] !== 0) this.create(va);
  }

  private bucket(va: number): number {
    return this.hashBase + ((Math.floor(va / this.k.pageSize) + Math.floor(this.kvp / 64)) & this.hashMask) * this.k.model.ptrSize;
  }

  /** page_create_va(&kvp, va): a frame for the kernel page at va, hashed by its identity. */
  private create(va: number): void {
    const mem = this.k.mem;
    const o = this.o;
    const pfn = this.freeFrames.pop() ?? this.nextFrame++;
    const pp = this.pageOf(pfn);
    this.mapRangeTo(pp + this.pageTSize);
    const b = this.bucket(va);
    mem.store64n(pp + o.p_offset, va);
    mem.storePtr(pp + o.p_vnode, this.kvp);
    mem.storePtr(pp + o.p_pagenum, pfn);
    mem.store8(pp + o.p_state, 0);
    mem.storePtr(pp + o.p_hash, mem.loadPtr(b));
    mem.storePtr(b, pp);
    this.inUse++;
  }

  /** page_destroy: the kernel page at va leaves page_hash and its frame is free. */
  private destroy(va: number): void {
    const mem = this.k.mem;
    const o = this.o;
    let link = this.bucket(va);
    for (let pp = mem.loadPtr(link); pp !== 0; link = pp + o.p_hash, pp = mem.loadPtr(link)) {
      if (mem.load64n(pp + o.p_offset) !== va || mem.loadPtr(pp + o.p_vnode) !== this.kvp) continue;
      mem.storePtr(link, mem.loadPtr(pp + o.p_hash));
      mem.storePtr(pp + o.p_hash, 0);
      mem.storePtr(pp + o.p_vnode, 0);
      mem.store64n(pp + o.p_offset, 0);
      mem.store8(pp + o.p_state, P_FREE);
      this.freeFrames.push(mem.loadPtr(pp + o.p_pagenum));
      this.inUse--;
      return;
    }
    throw new Error(`page_destroy: no page_t for kernel page 0x${va.toString(16)}`);
  }

  /** Map the range up to (not including) byte end. */
  private mapRangeTo(end: number): void {
    const need = p2roundup(end, this.k.pageSize);
    if (need <= this.mappedEnd) return;
    this.mem.map(this.mappedEnd, need - this.mappedEnd, PROT_RW);
    this.mappedEnd = need;
  }
}
