/*
 * list_t and the partial-slab tree.
 *
 * kmem_caches and each cache's cache_complete_slabs are list_t's: circular
 * doubly linked lists through a list_node_t in each object.
 * cache_partial_slabs is an avl_tree_t in illumos' order (most allocated
 * first, binned by cache_partial_binshift, NOMOVE slabs first, ties by
 * address: kmem_partial_slab_cmp), which allocation takes from the front.
 * Substitution: the tree is kept as a *right spine* (avl_child[0] always
 * NULL, avl_child[1] = successor, avl_pcb = predecessor | child index 1 |
 * balance 0), i.e. a sorted doubly linked list that an in-order AVL walk
 * (mdb's) reads correctly; inserts are linear.
 */

import { p2align } from '../machine/addr.js';
import { KMEM_SLAB_NOMOVE } from '../abi/kmem-impl.js';
import { KmemState } from './state.js';

export abstract class KmemLists extends KmemState {
  protected list_create(list: number, size: number, offset: number): void {
    const O = this.O;
    this.stp(list + O.list_size, size);
    this.stp(list + O.list_offset, offset);
    const head = list + O.list_head;
    this.stp(head, head);
    this.stp(head + this.P, head);
  }

  protected list_insert_after(node: number, after: number): void {
    const P = this.P;
    const next = this.ldp(after);
    this.stp(node, next);
    this.stp(node + P, after);
    this.stp(next + P, node);
    this.stp(after, node);
  }

  protected list_insert_tail(list: number, obj: number, offset: number): void {
    const head = list + this.O.list_head;
    this.list_insert_after(obj + offset, this.ldp(head + this.P));
  }

  protected list_insert_head(list: number, obj: number, offset: number): void {
    this.list_insert_after(obj + offset, list + this.O.list_head);
  }

  protected list_remove(obj: number, offset: number): void {
    const P = this.P;
    const node = obj + offset;
    const next = this.ldp(node);
    const prev = this.ldp(node + P);
    this.stp(prev, next);
    this.stp(next + P, prev);
    this.stp(node, 0);
    this.stp(node + P, 0);
  }

  /** Next object after obj (or the first when obj is 0); 0 at the end. */
  protected list_next(list: number, obj: number, offset: number): number {
    const head = list + this.O.list_head;
    const n = this.ldp(obj === 0 ? head : obj + offset);
    return n === head ? 0 : n - offset;
  }

  protected list_prev(list: number, obj: number, offset: number): number {
    const head = list + this.O.list_head;
    const n = this.ldp((obj === 0 ? head : obj + offset) + this.P);
    return n === head ? 0 : n - offset;
  }

  /** illumos KMEM_PARTIAL_SLAB_WEIGHT, NOMOVE slabs first. */
  protected slabWeight(sp: number, binshift: number, maxchunks: number): number {
    const O = this.O;
    const refcnt = this.ldl(sp + O.slab_refcnt);
    const chunks = this.ldl(sp + O.slab_chunks);
    let w = refcnt <= binshift || chunks - refcnt <= binshift ? -refcnt : -(binshift + Math.floor(refcnt / 2 ** binshift));
    if (this.mem.load16(sp + O.slab_flags) & KMEM_SLAB_NOMOVE) w -= maxchunks;
    return w;
  }

  /** kmem_partial_slab_cmp: <0 if s0 sorts before s1. */
  protected kmem_partial_slab_cmp(cp: number, s0: number, s1: number): number {
    const bs = this.ldp(cp + this.O.cache_partial_binshift);
    const mc = this.ldp(cp + this.O.cache_maxchunks);
    const w0 = this.slabWeight(s0, bs, mc);
    const w1 = this.slabWeight(s1, bs, mc);
    if (w0 !== w1) return w0 < w1 ? -1 : 1;
    return s0 < s1 ? -1 : s0 > s1 ? 1 : 0;
  }

  /* The partial-slab "AVL tree", kept as a right spine (see theory). */

  protected avl_first(tree: number): number {
    const root = this.ldp(tree + this.O.avl_root);
    return root === 0 ? 0 : root - this.ldp(tree + this.O.avl_offset);
  }

  protected avlNextNode(node: number): number {
    return this.ldp(node + this.P);
  }

  protected avlPrevNode(node: number): number {
    return p2align(this.ldp(node + 2 * this.P), 8);
  }

  protected avlLink(tree: number, node: number, prev: number, next: number): void {
    const P = this.P;
    this.stp(node, 0);
    this.stp(node + P, next);
    this.stp(node + 2 * P, prev === 0 ? 1 : prev + 5);
    if (prev === 0) this.stp(tree + this.O.avl_root, node);
    else this.stp(prev + P, node);
    if (next !== 0) this.stp(next + 2 * P, node + 5);
  }

  protected avl_add(cp: number, tree: number, sp: number, from = 0): void {
    const off = this.ldp(tree + this.O.avl_offset);
    let prev = from === 0 ? 0 : this.avlPrevNode(from);
    let cur = from === 0 ? this.ldp(tree + this.O.avl_root) : from;
    for (let n = 0; cur !== 0 && this.kmem_partial_slab_cmp(cp, cur - off, sp) < 0; n++) {
      if (n >= this.slabWalkMax) this.k.deadman();
      prev = cur;
      cur = this.avlNextNode(cur);
    }
    this.avlLink(tree, sp + off, prev, cur);
    this.stp(tree + this.O.avl_numnodes, this.ldp(tree + this.O.avl_numnodes) + 1);
  }

  protected avl_remove(tree: number, sp: number): void {
    const P = this.P;
    const node = sp + this.ldp(tree + this.O.avl_offset);
    const prev = this.avlPrevNode(node);
    const next = this.avlNextNode(node);
    if (prev === 0) this.stp(tree + this.O.avl_root, next);
    else this.stp(prev + P, next);
    if (next !== 0) this.stp(next + 2 * P, prev === 0 ? 1 : prev + 5);
    this.stp(node, 0);
    this.stp(node + P, 0);
    this.stp(node + 2 * P, 0);
    this.stp(tree + this.O.avl_numnodes, this.ldp(tree + this.O.avl_numnodes) - 1);
  }

  /** avl_update_gt: the slab's weight went up; move it right if needed. */
  protected avl_update_gt(cp: number, tree: number, sp: number): void {
    const off = this.ldp(tree + this.O.avl_offset);
    const next = this.avlNextNode(sp + off);
    if (next === 0 || this.kmem_partial_slab_cmp(cp, sp, next - off) <= 0) return;
    this.avl_remove(tree, sp);
    this.avl_add(cp, tree, sp, next);
  }
}
