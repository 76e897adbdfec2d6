/*
 * <sys/queue.h> on simulated memory: TAILQ and LIST operations done
 * literally, one load or store per line of the C macros, with `tqe_prev` /
 * `le_prev` holding the *address* of the previous element's next field (or
 * of the head's first field).  A stale link therefore reads or writes the
 * address a real kernel would, and faults there if that page is gone.
 *
 * Heads are two pointers {first, last} (TAILQ) or one {first} (LIST); an
 * entry is {next, prev} at offset `f` in its element.  `P` is the pointer
 * size.  Nothing here allocates.
 */

import type { Memory } from '../machine/memory.js';

export class Queues {
  constructor(
    private readonly mem: Memory,
    private readonly P: number,
  ) {}

  /** TAILQ_INIT(head) */
  tailqInit(head: number): void {
    this.mem.storePtr(head, 0);
    this.mem.storePtr(head + this.P, head);
  }

  /** TAILQ_INSERT_TAIL(head, elm, field) */
  tailqInsertTail(head: number, elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    m.storePtr(elm + f, 0); // (elm)->field.tqe_next = NULL
    const last = m.loadPtr(head + P);
    m.storePtr(elm + f + P, last); // (elm)->field.tqe_prev = (head)->tqh_last
    m.storePtr(last, elm); // *(head)->tqh_last = (elm)
    m.storePtr(head + P, elm + f); // (head)->tqh_last = &(elm)->field.tqe_next
  }

  /** TAILQ_INSERT_HEAD(head, elm, field) */
  tailqInsertHead(head: number, elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    const first = m.loadPtr(head);
    m.storePtr(elm + f, first);
    if (first !== 0) m.storePtr(first + f + P, elm + f);
    else m.storePtr(head + P, elm + f);
    m.storePtr(head, elm);
    m.storePtr(elm + f + P, head);
  }

  /** TAILQ_INSERT_BEFORE(listelm, elm, field) */
  tailqInsertBefore(listelm: number, elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    const prev = m.loadPtr(listelm + f + P);
    m.storePtr(elm + f + P, prev);
    m.storePtr(elm + f, listelm);
    m.storePtr(prev, elm);
    m.storePtr(listelm + f + P, elm + f);
  }

  /** TAILQ_REMOVE(head, elm, field) */
  tailqRemove(head: number, elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    const next = m.loadPtr(elm + f);
    if (next !== 0) m.storePtr(next + f + P, m.loadPtr(elm + f + P));
    else m.storePtr(head + P, m.loadPtr(elm + f + P));
    m.storePtr(m.loadPtr(elm + f + P), m.loadPtr(elm + f));
  }

  /** LIST_INSERT_HEAD(head, elm, field) */
  listInsertHead(head: number, elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    const first = m.loadPtr(head);
    m.storePtr(elm + f, first);
    if (first !== 0) m.storePtr(first + f + P, elm + f);
    m.storePtr(head, elm);
    m.storePtr(elm + f + P, head);
  }

  /** LIST_REMOVE(elm, field) */
  listRemove(elm: number, f: number): void {
    const m = this.mem;
    const P = this.P;
    const next = m.loadPtr(elm + f);
    const prev = m.loadPtr(elm + f + P);
    if (next !== 0) m.storePtr(next + f + P, prev);
    m.storePtr(prev, next);
  }
}
