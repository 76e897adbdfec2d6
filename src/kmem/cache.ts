/*
 * The kernel memory allocator: object caches over vmem (Bonwick 1994,
 * Bonwick & Adams 2001), as in illumos usr/src/uts/common/os/kmem.c.
 * This file holds the cache itself (kmem_cache_create / _destroy, kmem_init,
 * kmem_update with the hash rescale, kmem_reap) and the class `Kmem` that
 * the rest of the system uses; each layer below is a file of its own.
 *
 * Theory
 * ------
 * A *cache* hands out objects of one size, constructed.  It has three
 * layers, each a file, each a class that extends the layer below it (one
 * object in the end, one hidden class for V8; a lower layer declares what
 * it calls above it as abstract):
 *
 *  - cpu.ts, the per-CPU layer: each CPU has a kmem_cpu_cache_t holding a
 *    loaded and a previously loaded magazine of constructed objects;
 *    allocation pops a round, free pushes one.
 *  - depot.ts, the depot: full and empty magazines with a working-set
 *    estimate that kmem_update and kmem_reap use to give memory back.
 *  - slab.ts, the slab layer: slabs from the cache's vmem arena cut into
 *    chunks, free chunks on a bufctl list; small slabs find a buffer's
 *    slab by address, large ones through the cache's hash table.
 *
 * Constructors run when an object leaves the slab layer, destructors when
 * it returns there: objects in magazines stay constructed.  kmem_alloc
 * (alloc.ts) is a front end of size-class caches and vmem for larger
 * sizes.
 *
 * Debugging (kmem_flags, per cache in cache_flags, spec §1.4; debug.ts):
 * a buftag after each buffer (redzone, bufctl, bxstat), free-pattern
 * checking, auditing with stacks into the transaction log and contents
 * into the content log (log.ts), firewalls, KMF_LITE.  The CPU layer tests
 * cc_flags once per operation; a debug cache's rounds go through
 * kmem_cache_alloc_debug / kmem_cache_free_debug (debug.ts), and a
 * detected corruption calls kmem_error (error.ts).
 *
 * Two ways through every operation: the checked paths in the files above,
 * whose every load and store goes through the machine's DirectMemory (a
 * fault where the kernel would fault), and the word-index paths
 * (wordpaths.ts), which work on the heap's typed arrays with the LP64
 * layout written in and either leave the same memory image as the checked
 * path or hand over with nothing changed.  `wordPaths: false` turns all of
 * them off.
 *
 * State.  Every structure lives in simulated memory in the C layouts of
 * src/abi/kmem.ts (state.ts); the JavaScript object keeps only offsets,
 * the kernel function addresses, the JS callbacks of each cache (keyed by
 * cache address; the cache struct holds a text address for mdb), handles
 * of the vmem arenas (keyed by vmem_t address), the simulated-contention
 * clock and views of the heap and data segments that remapViews()
 * re-creates.  There is one logical CPU running at a time (k.cur.cpu), so
 * locks are not taken; kmutex_t fields exist for layout only.
 *
 * What kmem uses of the kernel (`k`), and nothing else, so that another
 * host (a wasm program's runtime) can provide the same members:
 *   memory and types: k.mem, k.model, k.types, k.layout (heapBase,
 *     dataBase), k.pageSize, k.heapSize, k.ncpus, k.global, k.fns,
 *     k.readString, k.writeString;
 *   the running thread: k.cur (cpu, addr, stack, depth), k.switchHooks,
 *     k.enter / k.leave / k.site / k.depth (the shadow stack),
 *     k.capturePcs, k.symbolize;
 *   time and threads: k.gethrtime, k.hrtime, k.createThread, k.timeout;
 *   reports: k.printf, k.cmnErr, k.panic, k.panicking, k.deadman.
 */

import { checkKmflag, checkSize } from './args.js';
import { ArgumentError, checkString } from '../machine/argcheck.js';
import { hex, highbit, mod, p2roundup, isPow2 } from '../machine/addr.js';
import { VMC_IDENTIFIER, VM_NOSLEEP, type QcacheHandle, type QcacheProvider, type VmemArena } from '../vmem/api.js';
import { KMC_IDENTIFIER, KMC_KMEM_ALLOC, KMC_NODEBUG, KMC_NOHASH, KMC_NOMAGAZINE, KMC_NOTOUCH, KMC_PREFILL, KMC_QCACHE, KMEM_ALIGN, KMEM_ALLOC_SIZES, KMEM_BIG_ALLOC_SIZES, KMEM_BIG_SHIFT, KMEM_CPU_CACHE_SIZE, KMEM_HASH_INITIAL, KMEM_MAGTYPES, KMEM_VOID_FRACTION, KMF_AUDIT, KMF_BUFTAG, KMF_CONTENTS, KMF_DEADBEEF, KMF_DEBUG, KMF_FIREWALL, KMF_HASH, KMF_LITE, KMF_NOMAGAZINE, KMF_PREFILL, KMF_RANDOM, KMF_RANDOMIZE, KMF_REDZONE, KMF_TOUCH, KM_SLEEP, KM_VMFLAGS } from '../abi/kmem-impl.js';
import { KMEM_MAXBUF_LIMIT, type CacheCreateOptions, type Callbacks, type KmemOffsets, KMEM_REAP_INTERVAL_NS } from './state.js';
import { KmemAlloc } from './alloc.js';

/** A handle on a kmem cache (the kmem_cache_t is at `addr`). */
export class KmemCache {
  constructor(
    readonly kmem: Kmem,
    readonly addr: number,
    readonly name: string,
  ) {}
  alloc(kmflag: number = KM_SLEEP): number {
    checkKmflag('kmem_cache_alloc', kmflag);
    return this.kmem.kmem_cache_alloc(this.addr, kmflag);
  }
  free(buf: number): void {
    this.kmem.kmem_cache_free(this.addr, buf);
  }
  destroy(): void {
    this.kmem.kmem_cache_destroy(this.addr);
  }
  get bufsize(): number {
    return this.kmem.cacheBufsize(this.addr);
  }
}


export class Kmem extends KmemAlloc {
  /** kmem_init: magazine and metadata caches first, then kmem_alloc caches and logs. */
  init(): void {
    const k = this.k;
    const mem = this.mem;
    const G = this.G;
    const d0 = k.depth;
    k.enter(this.pc.init);
    try {
      this.list_create(G.kmem_caches, this.cacheSize, this.O.cache_link);
      const flags = this.ld32(G.kmem_flags);
      // magazine types
      for (let i = 0; i < KMEM_MAGTYPES.length; i++) {
        const [m, al, minb, maxb] = KMEM_MAGTYPES[i]!;
        const mtp = G.kmem_magtype + i * this.O.mt_size;
        mem.store16(mtp + this.O.mt_magsize, m);
        this.st32(mtp + this.O.mt_align, al);
        this.stp(mtp + this.O.mt_minbuf, minb);
        this.stp(mtp + this.O.mt_maxbuf, maxb);
      }
      const msb = this.arenas.kmem_msb;
      for (let i = 0; i < KMEM_MAGTYPES.length; i++) {
        const [m, al] = KMEM_MAGTYPES[i]!;
        const cp = this.kmem_cache_create(this.ownName(`kmem_magazine_${m}`), (m + 1) * this.P, { align: al, arena: msb, cflags: KMC_NOHASH }).addr;
        this.stp(G.kmem_magtype + i * this.O.mt_size + this.O.mt_cache, cp);
        this.magCaches.push(cp);
      }
      this.slabCache = this.kmem_cache_create(this.ownName('kmem_slab_cache'), this.slabSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.bufctlCache = this.kmem_cache_create(this.ownName('kmem_bufctl_cache'), this.bcSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.bufctlAuditCache = this.kmem_cache_create(this.ownName('kmem_bufctl_audit_cache'), this.bcaSize, { arena: msb, cflags: KMC_NOHASH }).addr;
      this.stp(G.kmem_slab_cache, this.slabCache);
      this.stp(G.kmem_bufctl_cache, this.bufctlCache);
      this.stp(G.kmem_bufctl_audit_cache, this.bufctlAuditCache);
      // vmem's quantum caches (kmem_va_4096 ...), then the kmem_alloc caches
      this.installQcaches?.(this.qcacheProvider());
      this.kmem_alloc_caches_create(KMEM_ALLOC_SIZES, G.kmem_alloc_table, KMEM_MAXBUF_LIMIT, 3);
      this.kmem_alloc_caches_create(KMEM_BIG_ALLOC_SIZES, G.kmem_big_alloc_table, this.maxCached, KMEM_BIG_SHIFT);
      // logs
      const ls = this.logSizes;
      if (ls) {
        // libumem: each log exists when UMEM_LOGGING gave it a size; no console
        if (ls.transaction > 0) this.stp(G.kmem_transaction_log, this.kmem_log_init(ls.transaction));
        if (ls.content > 0) this.stp(G.kmem_content_log, this.kmem_log_init(ls.content));
        if (ls.failure > 0) this.stp(G.kmem_failure_log, this.kmem_log_init(ls.failure));
        if (ls.slab > 0) this.stp(G.kmem_slab_log, this.kmem_log_init(ls.slab));
        return;
      }
      const lsz = this.logSize;
      if (flags & (KMF_AUDIT | KMF_RANDOMIZE)) this.stp(G.kmem_transaction_log, this.kmem_log_init(lsz));
      if (flags & (KMF_CONTENTS | KMF_RANDOMIZE)) this.stp(G.kmem_content_log, this.kmem_log_init(lsz));
      this.stp(G.kmem_failure_log, this.kmem_log_init(0));
      this.stp(G.kmem_slab_log, this.kmem_log_init(0));
      this.stp(G.kmem_zerosized_log, this.kmem_log_init(0));
      // boot messages
      const supported = KMF_AUDIT | KMF_DEADBEEF | KMF_REDZONE | KMF_CONTENTS | KMF_LITE;
      if (flags & ~supported || ((flags & KMF_LITE) && flags !== KMF_LITE)) {
        k.cmnErr('warn', `kmem_flags set to unsupported value 0x${(flags >>> 0).toString(16)}. See the Solaris Tunable Parameters Reference Manual.`);
      } else if ((flags & (KMF_AUDIT | KMF_DEADBEEF)) && !(flags & KMF_LITE)) {
        k.cmnErr(
          'warn',
          `High-overhead kmem debugging features enabled (kmem_flags = 0x${(flags >>> 0).toString(16)}).  Performance degradation and large memory overhead possible. See the Solaris Tunable Parameters Reference Manual.`,
        );
      }
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_mp_init: enable magazines everywhere, start kmem_update. */
  ready(): void {
    const k = this.k;
    this.st32(this.G.kmem_ready, 1);
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) this.kmem_cache_magazine_enable(cp);
    this.taskThread = k.createThread('kmem_taskq', undefined, { start: 'taskq_thread' });
    k.calloutFunc(this.FN.kmem_update, () => {
      this.kmem_update();
      this.scheduleUpdate();
    });
    this.scheduleUpdate();
  }

  /** kmem_update_timeout: kmem_update runs again in kmem_reap_interval. */
  protected scheduleUpdate(): void {
    this.k.timeout(this.taskThread!, KMEM_REAP_INTERVAL_NS, this.FN.kmem_update);
  }

  /** The QcacheProvider vmem uses for quantum caches. */
  qcacheProvider(): QcacheProvider {
    return {
      create: (arena: VmemArena, name: string, size: number, align: number, slabSize: number): QcacheHandle => {
        this.arenaByAddr.set(arena.addr, arena);
        const c = this.kmem_cache_create(name, size, { align, arena, cflags: KMC_QCACHE | KMC_NOTOUCH, qcacheSlabSize: slabSize });
        const cp = c.addr;
        return {
          addr: cp,
          alloc: (vmflag: number) => this.kmem_cache_alloc(cp, vmflag & KM_VMFLAGS),
          free: (addr: number) => this.kmem_cache_free(cp, addr),
          destroy: () => this.kmem_cache_destroy(cp),
        };
      },
      reap: (identifier: boolean) => this.kmem_reap(false, identifier),
    };
  }

  protected kmem_alloc_caches_create(sizes: readonly number[], table: number, maxbuf: number, shift: number): void {
    const unit = 1 << shift;
    let size = unit;
    for (const csize of sizes) {
      if (size > maxbuf) break;
      let align = KMEM_ALIGN;
      if (csize % 64 === 0) align = 64;
      if (csize % this.pageSize === 0) align = this.pageSize;
      const cp = this.kmem_cache_create(this.ownName(`kmem_alloc_${csize}`), csize, { align, cflags: KMC_KMEM_ALLOC }).addr;
      while (size <= csize) {
        this.stp(table + ((size - 1) >> shift) * this.P, cp);
        size += unit;
      }
    }
  }

  cacheFirst(): number {
    return this.list_next(this.G.kmem_caches, 0, this.O.cache_link);
  }

  cacheNext(cp: number): number {
    return this.list_next(this.G.kmem_caches, cp, this.O.cache_link);
  }

  /** All caches, in creation order. */
  caches(): KmemCache[] {
    const out: KmemCache[] = [];
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) out.push(new KmemCache(this, cp, this.cacheName(cp)));
    return out;
  }

  cacheByName(name: string): KmemCache | undefined {
    for (let cp = this.cacheFirst(); cp !== 0; cp = this.cacheNext(cp)) if (this.cacheName(cp) === name) return new KmemCache(this, cp, name);
    return undefined;
  }

  kmem_cache_create(name: string, size: number, opts: CacheCreateOptions = {}): KmemCache {
    const k = this.k;
    const mem = this.mem;
    const O = this.O;
    const P = this.P;
    this.checkCacheCreate(name, size, opts);
    const d0 = k.depth;
    k.enter(this.pc.cache_create);
    try {
      let vmp = opts.arena ?? this.arenas.kmem_default;
      this.arenaByAddr.set(vmp.addr, vmp);
      let cflags = opts.cflags ?? 0;
      if (this.arenaCflags(vmp) & VMC_IDENTIFIER) cflags |= KMC_IDENTIFIER;
      let align = opts.align ?? 0;
      if (align === 0) align = KMEM_ALIGN;
      if (align < KMEM_ALIGN) cflags |= KMC_NOTOUCH;

      // flags (spec §1.4)
      let kf = this.ld32(this.G.kmem_flags);
      if (kf & KMF_RANDOMIZE) {
        kf = ((((kf | ~KMF_RANDOM) + 1) & KMF_RANDOM) | KMF_RANDOMIZE) >>> 0;
        this.st32(this.G.kmem_flags, kf);
      }
      let flags = (kf | cflags) & KMF_DEBUG;
      if (flags & KMF_LITE) {
        if (size >= this.ldp(this.G.kmem_lite_minsize) && align <= this.ldp(this.G.kmem_lite_maxalign) && size % this.ldp(this.G.kmem_lite_maxalign) !== 0) {
          flags |= KMF_BUFTAG;
          flags &= ~(KMF_AUDIT | KMF_FIREWALL);
        } else {
          flags &= ~KMF_DEBUG;
        }
      }
      if (flags & KMF_DEADBEEF) flags |= KMF_REDZONE;
      if ((cflags & KMC_QCACHE) && (flags & KMF_AUDIT)) flags |= KMF_NOMAGAZINE;
      if (cflags & KMC_NODEBUG) flags &= ~KMF_DEBUG;
      if (cflags & KMC_NOTOUCH) flags &= ~KMF_TOUCH;
      if (cflags & KMC_PREFILL) flags |= KMF_PREFILL;
      if (cflags & KMC_NOHASH) flags &= ~(KMF_AUDIT | KMF_FIREWALL);
      if (cflags & KMC_NOMAGAZINE) flags |= KMF_NOMAGAZINE;
      if ((flags & KMF_AUDIT) && !(cflags & KMC_NOTOUCH)) flags |= KMF_REDZONE;
      if (!(flags & KMF_AUDIT)) flags &= ~KMF_CONTENTS;
      const minfw = this.ldp(this.G.kmem_minfirewall);
      if ((flags & KMF_BUFTAG) && size >= minfw && !(flags & KMF_LITE) && !(cflags & KMC_NOHASH)) flags |= KMF_FIREWALL;
      if (vmp !== this.arenas.kmem_default || !this.arenas.kmem_firewall) flags &= ~KMF_FIREWALL;
      if (flags & KMF_FIREWALL) {
        flags &= ~KMF_BUFTAG;
        flags |= KMF_NOMAGAZINE;
        vmp = this.arenas.kmem_firewall!;
        this.arenaByAddr.set(vmp.addr, vmp);
      }

      // the cache struct, with cache_cpu 64-byte aligned
      const csize = this.cacheSize;
      const phase = mod(-(this.O.cache_cpu % KMEM_CPU_CACHE_SIZE), KMEM_CPU_CACHE_SIZE);
      const cp = this.arenas.kmem_cache.xalloc(p2roundup(csize, 8), KMEM_CPU_CACHE_SIZE, phase, 0, 0, 0, 0);
      if (cp === 0) k.panic('kmem_cache_create: no memory for the cache structure');
      mem.fill32(cp, p2roundup(csize, 8), 0);

      k.writeString(cp + O.cache_name, canonName(name), 32);
      this.stp(cp + O.cache_bufsize, size);
      this.stp(cp + O.cache_align, align);
      const cb: Callbacks = { ctor: opts.ctor, dtor: opts.dtor, reclaim: opts.reclaim };
      if (cb.ctor) this.stp(cp + O.cache_constructor, this.FN.kmem_ctor_stub);
      if (cb.dtor) this.stp(cp + O.cache_destructor, this.FN.kmem_dtor_stub);
      if (cb.reclaim) this.stp(cp + O.cache_reclaim, this.FN.kmem_reclaim_stub);
      if (cb.ctor || cb.dtor || cb.reclaim) this.callbacks.set(cp, cb);
      this.stp(cp + O.cache_private, opts.private ?? 0);
      this.stp(cp + O.cache_arena, vmp.addr);
      this.st32(cp + O.cache_cflags, cflags);
      if (cb.ctor && (flags & KMF_PREFILL)) flags &= ~KMF_PREFILL;
      this.st32(cp + O.cache_flags, flags);
      this.stp(cp + O.cache_bufctl_cache, flags & KMF_AUDIT ? this.bufctlAuditCache : this.bufctlCache);

      // chunk size (spec §2.1)
      let chunksize = size;
      let bufctl = 0;
      let buftag = 0;
      if (align >= KMEM_ALIGN) {
        chunksize = p2roundup(chunksize, KMEM_ALIGN);
        bufctl = chunksize - KMEM_ALIGN;
      }
      const liteCount = this.ld32(this.G.kmem_lite_count);
      if (flags & KMF_BUFTAG) {
        bufctl = chunksize;
        buftag = chunksize;
        chunksize += flags & KMF_LITE ? this.O.bt_history + liteCount * P : this.btSize;
      }
      let verify = 0;
      if (flags & KMF_DEADBEEF) {
        verify = Math.min(buftag, this.ldp(this.G.kmem_maxverify));
        if (flags & KMF_LITE) verify = 8;
      }
      const contents = Math.min(bufctl, this.ldp(this.G.kmem_content_maxsave));
      chunksize = p2roundup(chunksize, align);
      this.stp(cp + O.cache_bufctl, bufctl);
      this.stp(cp + O.cache_buftag, buftag);
      this.stp(cp + O.cache_verify, verify);
      this.stp(cp + O.cache_contents, contents);
      this.stp(cp + O.cache_chunksize, chunksize);

      // slab size (spec §3.8)
      const q = vmp.quantum;
      let slabsize: number;
      let mincolor = 0;
      let maxcolor: number;
      if (vmp === this.arenas.kmem_firewall) {
        slabsize = p2roundup(chunksize, q);
        mincolor = slabsize - chunksize;
        maxcolor = mincolor;
        flags |= KMF_HASH;
      } else if ((cflags & KMC_NOHASH) || (!(cflags & KMC_NOTOUCH) && !(flags & KMF_AUDIT) && chunksize < q / KMEM_VOID_FRACTION)) {
        slabsize = q;
        maxcolor = (slabsize - this.slabSize) % chunksize;
      } else {
        let bestfit = 0;
        let minwaste = Infinity;
        for (let chunks = 1; chunks <= KMEM_VOID_FRACTION; chunks++) {
          const ss = p2roundup(chunksize * chunks, q);
          const n = Math.floor(ss / chunksize);
          const waste = Math.floor((ss % chunksize) / n);
          if (waste < minwaste) {
            minwaste = waste;
            bestfit = ss;
          }
        }
        if (cflags & KMC_QCACHE && opts.qcacheSlabSize) bestfit = opts.qcacheSlabSize;
        slabsize = bestfit;
        maxcolor = bestfit % chunksize;
        flags |= KMF_HASH;
      }
      this.st32(cp + O.cache_flags, flags);
      const maxchunks = Math.floor(slabsize / chunksize);
      this.stp(cp + O.cache_slabsize, slabsize);
      this.stp(cp + O.cache_maxchunks, maxchunks);
      this.stp(cp + O.cache_partial_binshift, highbit(Math.floor(maxchunks / 16)) + 1);
      if (maxcolor >= q) maxcolor = q - 1;
      this.stp(cp + O.cache_mincolor, mincolor);
      this.stp(cp + O.cache_maxcolor, maxcolor);
      this.stp(cp + O.cache_color, mincolor);

      // slab lists
      this.list_create(cp + O.cache_complete_slabs, this.slabSize, O.slab_link);
      const tree = cp + O.cache_partial_slabs;
      this.stp(tree + O.avl_compar, this.FN.kmem_partial_slab_cmp);
      this.stp(tree + O.avl_offset, O.slab_link);
      this.stp(tree + O.avl_size, this.slabSize);

      if (flags & KMF_HASH) {
        const ht = this.arenas.kmem_hash.alloc(KMEM_HASH_INITIAL * P, 0);
        if (ht === 0) k.panic('kmem_cache_create: no memory for the hash table');
        mem.fill32(ht, KMEM_HASH_INITIAL * P, 0);
        this.stp(cp + O.cache_hash_table, ht);
        this.stp(cp + O.cache_hash_mask, KMEM_HASH_INITIAL - 1);
        this.st32(cp + O.cache_hash_shift, highbit(chunksize) - 1);
      }

      // depot: first magazine type whose minbuf is below the chunk size
      let mt = 0;
      while (chunksize <= KMEM_MAGTYPES[mt]![2]) mt++;
      this.stp(cp + O.cache_magtype, this.G.kmem_magtype + mt * O.mt_size);

      // CPU layer
      for (let c = 0; c < k.ncpus; c++) {
        const ccp = cp + this.O.cache_cpu + c * KMEM_CPU_CACHE_SIZE;
        this.st32(ccp + this.O.cc_flags, flags);
        this.st32(ccp + this.O.cc_rounds, 0xffffffff); // rounds = prounds = -1
      }

      this.list_insert_tail(this.G.kmem_caches, cp, O.cache_link);
      if (this.ld32(this.G.kmem_ready)) this.kmem_cache_magazine_enable(cp);
      return new KmemCache(this, cp, this.cacheName(cp));
    } finally {
      k.depth = d0;
    }
  }

  /**
   * kmem_cache_create's arguments (args.ts): a name, a buffer size from 1
   * to the kernel heap's size, an alignment of 0 (the default, 8) or a
   * power of two up to the arena's quantum.
   */
  protected checkCacheCreate(name: unknown, size: unknown, opts: CacheCreateOptions): void {
    const fn = 'kmem_cache_create';
    checkString(fn, 'name', name);
    checkSize(fn, 'size', size, 1, this.k.heapSize);
    const quantum = (opts.arena ?? this.arenas.kmem_default).quantum;
    const align: unknown = opts.align ?? 0;
    if (typeof align !== 'number' || !Number.isInteger(align) || align < 0 || align > quantum || (align !== 0 && !isPow2(align))) {
      throw new ArgumentError(fn, 'align', `0 or a power of two up to ${quantum}`, align);
    }
  }

  protected arenaCflags(vmp: VmemArena): number {
    const T = this.k.types;
    if (T.find('vmem_t') === undefined) return 0;
    try {
      return this.ld32(vmp.addr + T.offsetof('vmem_t', 'vm_cflags'));
    } catch {
      return 0;
    }
  }

  kmem_cache_destroy(cp: number): void {
    const k = this.k;
    const O = this.O;
    const d0 = k.depth;
    k.enter(this.pc.cache_destroy);
    try {
      this.list_remove(cp, O.cache_link);
      this.kmem_cache_magazine_purge(cp);
      if (this.ld64(cp + O.cache_buftotal) !== 0) {
        k.cmnErr('warn', `kmem_cache_destroy: '${this.cacheName(cp)}' (${hex0xp(cp)}) not empty`);
      }
      // land mines
      this.stp(cp + O.cache_constructor, 1);
      this.stp(cp + O.cache_destructor, 2);
      this.stp(cp + O.cache_reclaim, 3);
      this.stp(cp + O.cache_move, 4);
      this.callbacks.delete(cp);
      this.depotLast.delete(cp - this.hBase);
      if (this.depotLastCp === cp - this.hBase) this.depotLastRec = undefined;
      const ht = this.ldp(cp + O.cache_hash_table);
      if (ht !== 0) this.arenas.kmem_hash.free(ht, (this.ldp(cp + O.cache_hash_mask) + 1) * this.P);
      this.arenas.kmem_cache.xfree(cp, p2roundup(this.cacheSize, 8));
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_update: per-cache hash rescale, working set, magazine resize. */
  kmem_update(): void {
    const k = this.k;
    const d0 = k.depth;
    k.enter(this.pc.update);
    try {
      for (let cp = this.cacheFirst(); cp !== 0; ) {
        const next = this.cacheNext(cp);
        this.kmem_cache_update(cp);
        cp = next;
      }
      this.st32(this.G.kmem_reaping, 0);
    } finally {
      k.depth = d0;
    }
  }

  protected kmem_cache_update(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.cache_update);
    try {
      const flags = this.cacheFlags(cp);
      const total = this.ld64(cp + O.cache_buftotal);
      const mask = this.ldp(cp + O.cache_hash_mask);
      const rescale = (flags & KMF_HASH) !== 0 && (total > mask * 2 || (total < Math.floor(mask / 2) && mask > KMEM_HASH_INITIAL));
      this.kmem_depot_ws_update(cp);
      const mtp = this.ldp(cp + O.cache_magtype);
      const cont = this.ld64(cp + O.cache_depot_contention);
      const resize =
        this.ldp(cp + O.cache_chunksize) < this.ldp(mtp + O.mt_maxbuf) &&
        cont - this.ld64(cp + O.cache_depot_contention_prev) > this.ld32(this.G.kmem_depot_contention);
      this.st64(cp + O.cache_depot_contention_prev, cont);
      if (rescale) this.kmem_hash_rescale(cp);
      if (resize) this.kmem_cache_magazine_resize(cp);
    } finally {
      k.leave();
    }
  }

  protected kmem_hash_rescale(cp: number): void {
    const O = this.O;
    const P = this.P;
    const mem = this.mem;
    const total = this.ld64(cp + O.cache_buftotal);
    const newSize = Math.max(KMEM_HASH_INITIAL, 2 ** (highbit(3 * total + 4) - 2));
    const oldSize = this.ldp(cp + O.cache_hash_mask) + 1;
    if (oldSize / 2 <= newSize && newSize <= oldSize * 2) return;
    this.k.enter(this.pc.hash_rescale);
    try {
      const nt = this.arenas.kmem_hash.alloc(newSize * P, VM_NOSLEEP);
      if (nt === 0) return;
      mem.fill32(nt, newSize * P, 0);
      const ot = this.ldp(cp + O.cache_hash_table);
      this.stp(cp + O.cache_hash_mask, newSize - 1);
      this.stp(cp + O.cache_hash_table, nt);
      this.inc64(cp + O.cache_rescale);
      for (let h = 0; h < oldSize; h++) {
        let bcp = this.ldp(ot + h * P);
        for (let n = 0; bcp !== 0; n++) {
          if (n >= this.walkMax) this.k.deadman();
          const next = this.ldp(bcp + O.bc_next);
          const hb = this.hashBucket(cp, this.ldp(bcp + O.bc_addr));
          this.stp(bcp + O.bc_next, this.ldp(hb));
          this.stp(hb, bcp);
          bcp = next;
        }
      }
      this.arenas.kmem_hash.free(ot, oldSize * P);
    } finally {
      this.k.leave();
    }
  }

  /** kmem_cache_reap: reclaim callback, then depot working-set reap. */
  kmem_cache_reap(cp: number): void {
    const O = this.O;
    const k = this.k;
    k.enter(this.pc.cache_reap);
    try {
      this.inc64(cp + O.cache_reap);
      if (this.ldp(cp + O.cache_reclaim) !== 0) {
        const full = cp + O.cache_full;
        const before = this.ldl(full + O.ml_total);
        this.callbacks.get(cp)?.reclaim?.(this.ldp(cp + O.cache_private));
        const delta = this.ldl(full + O.ml_total) - before;
        if (delta > 0) {
          this.stp(full + O.ml_reaplimit, this.ldl(full + O.ml_reaplimit) + delta);
          this.stp(full + O.ml_min, this.ldl(full + O.ml_min) + delta);
        }
      }
      this.kmem_depot_ws_reap(cp);
    } finally {
      k.leave();
    }
  }

  /**
   * kmem_reap: reap every cache (identifier caches only when `idspace`).
   * Throttled to one run per update interval unless `force`.
   */
  kmem_reap(force = true, idspace = false): void {
    const k = this.k;
    if (!force) {
      if (this.ld32(this.G.kmem_reaping) !== 0) return;
      this.st32(this.G.kmem_reaping, 1);
    }
    const d0 = k.depth;
    k.enter(this.pc.reap);
    try {
      for (let cp = this.cacheFirst(); cp !== 0; ) {
        const next = this.cacheNext(cp);
        if (!idspace || this.ld32(cp + this.O.cache_cflags) & KMC_IDENTIFIER) this.kmem_cache_reap(cp);
        cp = next;
      }
    } finally {
      k.depth = d0;
    }
  }

  /** kmem_cache_create(name, size, align, ctor, dtor, reclaim, private, arena, cflags). */
  cacheCreate(name: string, size: number, opts: CacheCreateOptions = {}): KmemCache {
    return this.kmem_cache_create(name, size, opts);
  }

  kmemAlloc(size: number, kmflag: number = KM_SLEEP): number {
    checkKmflag('kmem_alloc', kmflag);
    return this.kmem_alloc(size, kmflag);
  }

  kmemZalloc(size: number, kmflag: number = KM_SLEEP): number {
    checkKmflag('kmem_zalloc', kmflag);
    return this.kmem_zalloc(size, kmflag);
  }

  kmemFree(buf: number, size: number): void {
    this.kmem_free(buf, size);
  }

  /** kmem_reap() now (not throttled). */
  reap(): void {
    this.kmem_reap(true, false);
  }

  /** kmem_update() now (it also runs every 15 s of simulated time). */
  update(): void {
    this.kmem_update();
  }

  cacheStats(cp: number): CacheStats {
    const O = this.O;
    // as illumos' kstats: alloc = slab_alloc + sum(cc_alloc), free = slab_free + sum(cc_free)
    let alloc = this.ld64(cp + O.cache_slab_alloc);
    let free = this.ld64(cp + O.cache_slab_free);
    const magsize = this.mem.load16(this.ldp(cp + O.cache_magtype) + O.mt_magsize);
    let constructed = this.ldl(cp + O.cache_full + O.ml_total) * magsize;
    for (let c = 0; c < this.k.ncpus; c++) {
      const ccp = cp + this.O.cache_cpu + c * KMEM_CPU_CACHE_SIZE;
      alloc += this.ld64(ccp + this.O.cc_alloc);
      free += this.ld64(ccp + this.O.cc_free);
      constructed += Math.max(this.getRounds(ccp), 0) + Math.max(this.getProunds(ccp), 0);
    }
    const buftotal = this.ld64(cp + O.cache_buftotal);
    const bufslab = this.ld64(cp + O.cache_bufslab);
    return {
      name: this.cacheName(cp),
      bufsize: this.ldp(cp + O.cache_bufsize),
      chunksize: this.ldp(cp + O.cache_chunksize),
      slabsize: this.ldp(cp + O.cache_slabsize),
      flags: this.cacheFlags(cp),
      cflags: this.ld32(cp + O.cache_cflags),
      alloc,
      free,
      allocFail: this.ld64(cp + O.cache_alloc_fail),
      slabCreate: this.ld64(cp + O.cache_slab_create),
      slabDestroy: this.ld64(cp + O.cache_slab_destroy),
      slabAlloc: this.ld64(cp + O.cache_slab_alloc),
      slabFree: this.ld64(cp + O.cache_slab_free),
      buftotal,
      bufmax: this.ld64(cp + O.cache_bufmax),
      bufslab,
      bufConstructed: constructed,
      bufInuse: buftotal - constructed - bufslab,
      fullMagazines: this.ldl(cp + O.cache_full + O.ml_total),
      emptyMagazines: this.ldl(cp + O.cache_empty + O.ml_total),
      magazineSize: this.cacheFlags(cp) & KMF_NOMAGAZINE ? 0 : magsize,
      hashSize: this.cacheFlags(cp) & KMF_HASH ? this.ldp(cp + O.cache_hash_mask) + 1 : 0,
      rescale: this.ld64(cp + O.cache_rescale),
      reap: this.ld64(cp + O.cache_reap),
      depotContention: this.ld64(cp + O.cache_depot_contention),
      completeSlabs: this.ldp(cp + O.cache_complete_slab_count),
      partialSlabs: this.ldp(cp + O.cache_partial_slabs + O.avl_numnodes),
      partialBinshift: this.ldp(cp + O.cache_partial_binshift),
      maxchunks: this.ldp(cp + O.cache_maxchunks),
    };
  }

  /** Slabs of a cache: complete, then partial in tree order. */
  slabsOf(cp: number): Array<{ slab: number; base: number; chunks: number; refcnt: number }> {
    const O = this.O;
    const out: Array<{ slab: number; base: number; chunks: number; refcnt: number }> = [];
    const push = (sp: number) =>
      out.push({ slab: sp, base: this.ldp(sp + O.slab_base), chunks: this.ldl(sp + O.slab_chunks), refcnt: this.ldl(sp + O.slab_refcnt) });
    const list = cp + O.cache_complete_slabs;
    for (let sp = this.list_next(list, 0, O.slab_link); sp !== 0; sp = this.list_next(list, sp, O.slab_link)) push(sp);
    const tree = cp + O.cache_partial_slabs;
    const off = this.ldp(tree + O.avl_offset);
    for (let n = this.ldp(tree + O.avl_root); n !== 0; n = this.avlNextNode(n)) push(n - off);
    return out;
  }

  /** Offsets kmem uses, for tests and tools that build on kmem. */
  offsets(): KmemOffsets {
    return this.O;
  }

  /** Set kmem_panic (>0 panic, <=0 report and continue). */
  setPanic(v: number): void {
    this.st32(this.G.kmem_panic, v | 0);
  }

  /** Set a cache's mtbf (cache_mtbf) or the global kmem_mtbf (cp = 0). */
  setMtbf(cp: number, mtbf: number): void {
    this.st32(cp === 0 ? this.G.kmem_mtbf : cp + this.O.cache_mtbf, mtbf >>> 0);
  }
}

export interface CacheStats {
  name: string;
  bufsize: number;
  chunksize: number;
  slabsize: number;
  flags: number;
  cflags: number;
  alloc: number;
  free: number;
  allocFail: number;
  slabCreate: number;
  slabDestroy: number;
  slabAlloc: number;
  slabFree: number;
  buftotal: number;
  bufmax: number;
  bufslab: number;
  bufConstructed: number;
  bufInuse: number;
  fullMagazines: number;
  emptyMagazines: number;
  magazineSize: number;
  hashSize: number;
  rescale: number;
  reap: number;
  depotContention: number;
  completeSlabs: number;
  partialSlabs: number;
  partialBinshift: number;
  maxchunks: number;
}

/** strident_canon: non-identifier characters become '_'. */
function canonName(name: string): string {
  let s = name.slice(0, 31).replace(/[^A-Za-z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = '_' + s.slice(1);
  return s;
}

function hex0xp(a: number): string {
  return hex(a);
}

