/*
 * kmem_error: the report of a detected corruption.
 *
 * It reclassifies as illumos does: the buffer's slab is looked up in the
 * given cache, then in every cache from the list's tail (none: BADADDR;
 * another cache: BADCACHE; not a chunk start: BADBASE; a bufctl that does
 * not name the buffer in a HASH cache: BADBUFCTL), fills kmem_panic_info,
 * prints the report with the last transaction's stack when audited, keeps
 * a copy (`errors`) and panics unless kmem_panic <= 0.
 */

import { hex, mod } from '../machine/addr.js';
import { KMEM_ALIGN, KMEM_BUFTAG_FREE, KMEM_FREE_PATTERN32, KMEM_SIZE_DECODE, KMEM_STACK_DEPTH, KMERR_BADADDR, KMERR_BADBASE, KMERR_BADBUFCTL, KMERR_BADBUFTAG, KMERR_BADCACHE, KMERR_BADSIZE, KMERR_DUPFREE, KMERR_MODIFIED, KMERR_NAMES, KMERR_REDZONE, KMF_AUDIT, KMF_BUFTAG, KMF_HASH, KMEM_PANIC_MESSAGE } from '../abi/kmem-impl.js';
import { KmemSlabs } from './slab.js';
import type { KmemErrorReport } from './state.js';

export abstract class KmemErrors extends KmemSlabs {
  protected override errorFrom(pc: number, error: number, cp: number, buf: number): void {
    this.k.enter(pc);
    this.k.args(cp, buf);
    try {
      this.kmem_error(error, cp, buf);
    } finally {
      this.k.leave();
    }
  }

  /** `%p` */
  protected hexp(v: number): string {
    return hex(v);
  }

  override kmem_error(errorIn: number, cparg: number, bufarg: number): void {
    const k = this.k;
    const O = this.O;
    const G = this.G;
    let error = errorIn;
    k.enter(this.pc.error);
    k.args(errorIn, cparg, bufarg);
    try {
      this.st32(G.kmem_logging, 0);
      const ts = k.gethrtime();
      const pi = G.kmem_panic_info;
      this.st64(pi + O.kmp_timestamp, ts);
      let cp = cparg;
      let buf = bufarg;
      let btp = 0;
      let bcp = 0;
      let sp = this.kmem_findslab(cp, buf);
      if (sp === 0) {
        for (let c = this.list_prev(G.kmem_caches, 0, O.cache_link); c !== 0; c = this.list_prev(G.kmem_caches, c, O.cache_link)) {
          sp = this.kmem_findslab(c, buf);
          if (sp !== 0) {
            cp = c;
            break;
          }
        }
      }
      if (sp === 0) {
        cp = 0;
        error = KMERR_BADADDR;
      } else {
        if (cp !== cparg) error = KMERR_BADCACHE;
        else buf = bufarg - mod(bufarg - this.ldp(sp + O.slab_base), this.ldp(cp + O.cache_chunksize));
        if (buf !== bufarg) error = KMERR_BADBASE;
        const flags = this.cacheFlags(cp);
        if (flags & KMF_BUFTAG) btp = buf + this.ldp(cp + O.cache_buftag);
        if (flags & KMF_HASH) {
          let n = 0;
          for (bcp = this.ldp(this.hashBucket(cp, buf)); bcp !== 0 && n < 1 << 20; bcp = this.ldp(bcp + O.bc_next), n++) {
            if (this.ldp(bcp + O.bc_addr) === buf) break;
          }
          if (bcp === 0 && btp !== 0) bcp = this.ldp(btp + this.O.bt_bufctl);
          const bcc = this.ldp(cp + O.cache_bufctl_cache);
          let ok = bcp !== 0 && mod(bcp, KMEM_ALIGN) === 0 && this.kmem_findslab(bcc, bcp) !== 0;
          if (ok) {
            try {
              ok = this.ldp(bcp + O.bc_addr) === buf;
            } catch {
              ok = false;
            }
          }
          if (!ok) {
            error = KMERR_BADBUFCTL;
            bcp = 0;
          }
        }
      }
      this.st32(pi + O.kmp_error, error);
      this.stp(pi + O.kmp_buffer, bufarg);
      this.stp(pi + O.kmp_realbuf, buf);
      this.stp(pi + O.kmp_cache, cparg);
      this.stp(pi + O.kmp_realcache, cp);
      this.stp(pi + O.kmp_slab, sp);
      this.stp(pi + O.kmp_bufctl, bcp);

      let text = this.names === 'umem' ? 'umem allocator: ' : 'kernel memory allocator: ';
      switch (error) {
        case KMERR_MODIFIED: {
          text += 'buffer modified after being freed\n';
          const verify = this.ldp(cparg + O.cache_verify);
          let off = this.verify_pattern(KMEM_FREE_PATTERN32, buf, verify);
          if (off < 0) off = 0;
          const w = hex64(this.ld32(buf + off + 4), this.ld32(buf + off));
          text += `modification occurred at offset 0x${off.toString(16)} (0xdeadbeefdeadbeef replaced by 0x${w})\n`;
          break;
        }
        case KMERR_REDZONE:
          text += 'redzone violation: write past end of buffer\n';
          break;
        case KMERR_BADADDR:
          text += 'invalid free: buffer not in cache\n';
          break;
        case KMERR_DUPFREE:
          text += 'duplicate free: buffer freed twice\n';
          break;
        case KMERR_BADBUFTAG: {
          text += 'boundary tag corrupted\n';
          const bxa = btp + this.O.bt_bxstat;
          const bca = btp + this.O.bt_bufctl;
          const lo = (this.ld32(bxa) ^ this.ld32(bca)) >>> 0;
          const hi = this.lp64 ? (this.ld32(bxa + 4) ^ this.ld32(bca + 4)) >>> 0 : 0;
          // libumem prints `%lx`; the kernel's line is the MDB guide's, indented and with 0x
          const bx = hex64(hi, lo);
          text += this.names === 'umem' ? `bcp ^ bxstat = ${bx}` : `    bcp ^ bxstat = 0x${bx}`;
          text += `, should be ${KMEM_BUFTAG_FREE.toString(16)}\n`;
          break;
        }
        case KMERR_BADBUFCTL:
          text += 'bufctl corrupted\n';
          break;
        case KMERR_BADCACHE:
          text += 'buffer freed to wrong cache\n';
          text += `buffer was allocated from ${this.cacheName(cp)},\n`;
          text += `caller attempting free to ${this.cacheName(cparg)}.\n`;
          break;
        case KMERR_BADSIZE:
          text += `bad free: free size (${KMEM_SIZE_DECODE(this.ld32(btp))}) != alloc size (${KMEM_SIZE_DECODE(this.ld32(btp + 4))})\n`;
          break;
        case KMERR_BADBASE:
          text += `bad free: free address (${this.hexp(bufarg)}) != alloc address (${this.hexp(buf)})\n`;
          break;
      }
      text += `buffer=${this.hexp(bufarg)}  bufctl=${this.hexp(bcp)}  cache: ${this.cacheName(cparg)}\n`;
      if (bcp !== 0 && cp !== 0 && this.cacheFlags(cp) & KMF_AUDIT && error !== KMERR_BADBUFCTL) {
        const age = ts - this.ld64(bcp + O.bc_timestamp);
        const sec = Math.floor(age / 1e9);
        const nsec = age - sec * 1e9;
        text += `previous transaction on buffer ${this.hexp(buf)}:\n`;
        text += `thread=${this.hexp(this.ldp(bcp + O.bc_thread))}  time=T-${sec}.${String(nsec).padStart(9, '0')}  slab=${this.hexp(sp)}  cache: ${this.cacheName(cp)}\n`;
        const depth = Math.min(this.ld32(bcp + O.bc_depth) | 0, KMEM_STACK_DEPTH);
        for (let d = 0; d < depth; d++) {
          const pc = this.ldp(bcp + this.O.bc_stack + d * this.P);
          text += (this.names === 'umem' ? k.symbolize(pc) : symOff(k.symbolize(pc), pc)) + '\n';
        }
      }
      k.printf(text);
      const report: KmemErrorReport = {
        error,
        name: KMERR_NAMES[error]!,
        text,
        buffer: bufarg,
        realbuf: buf,
        cache: cparg,
        realcache: cp,
        slab: sp,
        bufctl: bcp,
      };
      this.errors.push(report);
      this.onError?.(report);
      const kp = this.ld32(G.kmem_panic) | 0;
      if (kp > 0) k.panic(KMEM_PANIC_MESSAGE);
      this.st32(G.kmem_logging, 1);
    } finally {
      k.leave();
    }
  }
}

/** 64-bit value from halves as unprefixed hex (`%llx`). */
function hex64(hi: number, lo: number): string {
  if (hi === 0) return (lo >>> 0).toString(16);
  return (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

/** kobj_getsymname + `%s+%lx` (no 0x; `?` when unknown). */
function symOff(sym: string, pc: number): string {
  const m = /^(.*)\+0x([0-9a-f]+)$/.exec(sym);
  if (m) return `${m[1]}+${m[2]}`;
  if (/^[0-9a-f]+$/.test(sym) && sym === hex(pc)) return `?+${hex(pc)}`;
  return `${sym}+0`;
}

