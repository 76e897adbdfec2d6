/*
 * kmem scenarios: small kernel clients that make one allocator mistake
 * each, a leaky workload and a clean one.
 *
 * Each client is a simulated kernel function (k.fn) that enters its own
 * frame before calling kmem, so audit records and the panic stack read
 * `memtest_uaf+0x48` in mdb.  Every pointer a client still owns is kept in
 * simulated memory (a kernel global or a field of another allocated
 * structure), never only in a JavaScript variable, so that ::findleaks
 * sees exactly the buffers that really leaked.
 */

import type { System } from '../system.js';
import type { Kernel, KThread } from '../kernel/kernel.js';
import { KM_SLEEP } from '../abi/kmem-impl.js';
import type { Scenario, Workload } from './types.js';
import { runWorkload } from './workload.js';
import { declare } from '../ctf/cparse.js';

/**
 * Run fn inside a simulated function frame at fn's address + off.  An
 * exception is a panic (or becomes one in k.guard), so the frame is left in
 * place for the panic stack and the dump, as a real kernel does not unwind.
 */
function frame<R>(k: Kernel, name: string, size: number, off: number, fn: () => R): R {
  k.enter(k.fn(name, size) + off);
  const r = fn();
  k.leave();
  return r;
}

/** Move the current frame's pc to another call site. */
function site(k: Kernel, name: string, off: number): void {
  k.site(k.addr(name) + off);
}

const DRIVER = 'memtest_ioctl';

/** The uninitialized scenario's session and the ops vector it calls through. */
const MEMTEST_SESS_TYPES = `
struct memtest_sess;
struct memtest_ops {
	int (*mo_ioctl)(struct memtest_sess *, int);
	int (*mo_close)(struct memtest_sess *);
};
struct memtest_sess {
	uint32_t s_dev;
	uint32_t s_state;
	struct memtest_ops *s_ops;
	void *s_priv;
	uint64_t s_offset;
};
`;

function driver<R>(s: System, fn: () => R): R {
  return frame(s.k, 'memtest_main', 0x200, 0x64, () => frame(s.k, DRIVER, 0x400, 0x11c, fn));
}

export const KMEM_SCENARIOS: readonly Scenario[] = [
  {
    name: 'modified-after-free',
    description: 'a driver frees a request buffer, then writes its status through the stale pointer',
    run(s) {
      const { k, kmem } = s;
      const req = k.global('memtest_req', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_submit', 0x180, 0x30, () => {
          k.mem.storePtr(req, kmem.kmemAlloc(48, KM_SLEEP));
          site(k, 'memtest_submit', 0x9c);
          kmem.kmemFree(k.mem.loadPtr(req), 48); // completes, but forgets to clear memtest_req
        });
        frame(k, 'memtest_intr', 0x120, 0x48, () => {
          k.mem.store32(k.mem.loadPtr(req) + 0x10, 0x1); // late completion: req->status = DONE
        });
        frame(k, 'memtest_submit', 0x180, 0x30, () => {
          k.mem.storePtr(req, kmem.kmemAlloc(48, KM_SLEEP)); // the next allocation verifies the freed pattern
        });
      });
    },
  },
  {
    name: 'redzone',
    description: 'a driver copies a 20-byte name plus its NUL into a 20-byte kmem_alloc buffer',
    run(s) {
      const { k, kmem } = s;
      const name = k.global('memtest_name', 'uintptr_t');
      driver(s, () =>
        frame(k, 'memtest_setname', 0x140, 0x58, () => {
          const b = kmem.kmemAlloc(20, KM_SLEEP);
          k.mem.storePtr(name, b);
          for (let i = 0; i < 20; i++) k.mem.store8(b + i, 0x61 + (i % 26));
          k.mem.store8(b + 20, 0); // the terminating NUL lands in the redzone
          site(k, 'memtest_setname', 0xd0);
          kmem.kmemFree(b, 20);
        }),
      );
    },
  },
  {
    name: 'duplicate-free',
    description: 'an error path and the normal path both free the same buffer',
    run(s) {
      const { k, kmem } = s;
      const slot = k.global('memtest_buf', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_attach', 0x200, 0x40, () => k.mem.storePtr(slot, kmem.kmemAlloc(100, KM_SLEEP)));
        frame(k, 'memtest_error', 0xc0, 0x2c, () => kmem.kmemFree(k.mem.loadPtr(slot), 100));
        frame(k, 'memtest_detach', 0x180, 0x70, () => kmem.kmemFree(k.mem.loadPtr(slot), 100));
      });
    },
  },
  {
    name: 'bad-free',
    description: 'a driver frees its static buffer to a kmem cache as if it had allocated it',
    run(s) {
      const { k, kmem } = s;
      const cache = kmem.cacheCreate('memtest_cache', 256);
      const stat = k.global('memtest_static_buf', 'char [256]');
      driver(s, () => frame(k, 'memtest_detach', 0x180, 0x88, () => cache.free(stat)));
    },
  },
  {
    name: 'wrong-cache',
    description: 'kmem_free(buf, 40) of a buffer that was kmem_alloc(20)ed (sizes in different caches)',
    run(s) {
      const { k, kmem } = s;
      const slot = k.global('memtest_buf', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_open', 0x100, 0x34, () => k.mem.storePtr(slot, kmem.kmemAlloc(20, KM_SLEEP)));
        frame(k, 'memtest_close', 0x100, 0x5c, () => kmem.kmemFree(k.mem.loadPtr(slot), 40));
      });
    },
  },
  {
    name: 'bad-size',
    description: 'kmem_free(buf, 24) of a buffer that was kmem_alloc(20)ed (same cache, wrong size)',
    run(s) {
      const { k, kmem } = s;
      const slot = k.global('memtest_buf', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_open', 0x100, 0x34, () => k.mem.storePtr(slot, kmem.kmemAlloc(20, KM_SLEEP)));
        frame(k, 'memtest_close', 0x100, 0x5c, () => kmem.kmemFree(k.mem.loadPtr(slot), 24));
      });
    },
  },
  {
    name: 'bad-base',
    description: 'a driver frees a pointer into the middle of its buffer (past a header it skipped)',
    run(s) {
      const { k, kmem } = s;
      const slot = k.global('memtest_payload', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_open', 0x100, 0x34, () => k.mem.storePtr(slot, kmem.kmemAlloc(64, KM_SLEEP) + 16));
        frame(k, 'memtest_close', 0x100, 0x5c, () => kmem.kmemFree(k.mem.loadPtr(slot), 64));
      });
    },
  },
  {
    name: 'buftag',
    description: "a stale pointer's out-of-bounds field store corrupts a freed buffer's boundary tag",
    run(s) {
      const { k, kmem } = s;
      const cache = kmem.cacheCreate('memtest_node_cache', 40);
      const slot = k.global('memtest_node', 'uintptr_t');
      const bx = 40 + kmem.offsets().bt_bxstat!;
      driver(s, () => {
        frame(k, 'memtest_node_get', 0x100, 0x24, () => k.mem.storePtr(slot, cache.alloc(KM_SLEEP)));
        frame(k, 'memtest_node_put', 0x100, 0x3c, () => cache.free(k.mem.loadPtr(slot)));
        frame(k, 'memtest_node_mark', 0x80, 0x18, () => {
          const p = k.mem.loadPtr(slot);
          k.mem.store32(p + bx, (k.mem.load32(p + bx) ^ 0x0b000000) >>> 0); // node->n_flags |= ... past the end
        });
        frame(k, 'memtest_node_get', 0x100, 0x24, () => k.mem.storePtr(slot, cache.alloc(KM_SLEEP)));
      });
    },
  },
  {
    name: 'firewall',
    description: 'a one-word overrun of a 2048-byte buffer hits the unmapped firewall page (or, without one, the redzone at free)',
    kmemFlags: 0x4f, // the guide's 0xf plus KMF_FIREWALL
    /*
     * A firewall page follows the buffer when KMF_FIREWALL is set, or
     * when KMF_BUFTAG is and the size reaches kmem_minfirewall (PAGESIZE/2
     * on LP64; ULONG_MAX on ILP32, whose kernel VA is too scarce, as in
     * illumos).  Without one the overrun lands in the redzone and the
     * driver's kmem_free() finds it.
     */
    run(s) {
      const { k, kmem } = s;
      const slot = k.global('memtest_big', 'uintptr_t');
      driver(s, () => {
        frame(k, 'memtest_fill', 0x100, 0x40, () => {
          k.mem.storePtr(slot, kmem.kmemAlloc(2048, KM_SLEEP));
          const b = k.mem.loadPtr(slot);
          site(k, 'memtest_fill', 0x6c);
          for (let i = 0; i <= 2048; i += 4) k.mem.store32(b + i, 0x5a5a5a5a); // <= : one word too many
        });
        frame(k, 'memtest_drain', 0x100, 0x38, () => kmem.kmemFree(k.mem.loadPtr(slot), 2048));
      });
    },
  },
  {
    name: 'uninitialized',
    description: "a driver's reopen path leaves a new session's ops pointer unset and follows it (0xbaddcafe under kmem_flags 0xf)",
    /*
     * The first open initialises every field and close frees the session;
     * the second open, on its reopen path, sets the device and state but
     * not s_ops, and memtest_dispatch calls through it.  With KMF_DEADBEEF
     * kmem fills every buffer it hands out with 0xbaddcafe, so s_ops reads
     * 0xbaddcafe (ILP32: a #pf at that user address) or 0xbaddcafebaddcafe
     * (LP64: not canonical, a #gp).  Without it the buffer holds what its
     * last user left: the same buffer comes back with the closed session's
     * s_ops still in it, the call works, and nothing panics.
     */
    run(s) {
      const { k, kmem } = s;
      declare(k.types, MEMTEST_SESS_TYPES);
      const T = k.types;
      const size = T.size('struct memtest_sess');
      const sOps = T.offsetof('struct memtest_sess', 's_ops');
      const ops = k.global('memtest_ops', 'struct memtest_ops');
      k.mem.storePtr(ops + T.offsetof('struct memtest_ops', 'mo_ioctl'), k.fn('memtest_sess_ioctl', 0x100));
      const slot = k.global('memtest_sess', 'struct memtest_sess *');
      const open = (reopen: boolean) =>
        frame(k, 'memtest_open', 0x180, 0x3c, () => {
          const sp = kmem.kmemAlloc(size, KM_SLEEP);
          k.mem.storePtr(slot, sp);
          site(k, 'memtest_open', reopen ? 0xe4 : 0x74);
          k.mem.store32(sp + T.offsetof('struct memtest_sess', 's_dev'), 0x2a);
          k.mem.store32(sp + T.offsetof('struct memtest_sess', 's_state'), 1);
          if (!reopen) k.mem.storePtr(sp + sOps, ops); // the reopen path forgets this
        });
      driver(s, () => {
        open(false);
        frame(k, 'memtest_close', 0x100, 0x5c, () => kmem.kmemFree(k.mem.loadPtr(slot), size));
        open(true);
        frame(k, 'memtest_dispatch', 0xc0, 0x1b, () => {
          const sp = k.mem.loadPtr(slot);
          k.args(sp, 0x4d01); // memtest_dispatch(sess, MEMTEST_IOC_GET)
          const fn = k.mem.loadPtr(k.mem.loadPtr(sp + sOps)); // sess->s_ops->mo_ioctl
          frame(k, k.symbolize(fn), 0x100, 0x10, () => k.args(sp, 0x4d01));
        });
      });
    },
  },
  {
    name: 'leak',
    description: 'a workload that leaks buffers from three call paths, then a forced dump',
    run(s) {
      leakWorkload(s);
      s.k.forcedDump();
    },
    workload: (s) => leakActivity(s),
  },
  {
    name: 'clean',
    description: 'a long correct workload (caches, kmem_alloc, reaps), then a forced dump',
    run(s) {
      cleanWorkload(s, 8000);
      s.k.forcedDump();
    },
    workload: (s) => cleanActivity(s, 8000),
  },
];

/**
 * Three leaks, each from its own call path:
 *  - memtest_ioctl -> memtest_req_alloc: kmem_alloc(96) requests dropped on an error path;
 *  - memtest_attach -> memtest_node_create: memtest_node_cache objects unlinked by
 *    memtest_node_remove without being freed;
 *  - memtest_timer (a callout on another thread) -> memtest_stats_update: kmem_zalloc(200)
 *    snapshots whose pointer is overwritten by the next one.
 * Everything still owned is reachable from kernel globals.
 */
export function leakWorkload(s: System): { leaked: number } {
  return runWorkload(s.k, leakActivity(s));
}

/** leakWorkload, resumable: it yields where the timer callouts get their time. */
export function* leakActivity(s: System): Workload<{ leaked: number }> {
  const { k, kmem } = s;
  const r = k.rand;
  const T = 64;
  const P = k.model.ptrSize;
  const table = k.global('memtest_reqs', `uintptr_t [${T}]`);
  const head = k.global('memtest_nodes', 'uintptr_t'); // singly linked: node->next at offset 0
  const stats = k.global('memtest_stats', 'uintptr_t');
  const nodes = kmem.cacheCreate('memtest_node_cache', 56);
  const fns = k.fns({ memtest_main: 0x200, memtest_ioctl: 0x400, memtest_req_alloc: 0x120, memtest_attach: 0x200, memtest_node_create: 0x100, memtest_node_remove: 0xc0, memtest_timer: 0x100, memtest_stats_update: 0x140 });
  let leaked = 0;
  const timerThread = k.createThread('memtest_timer', undefined, { start: 'memtest_timer' });
  k.calloutFunc(fns.memtest_timer, () => {
    k.enter(fns.memtest_timer + 0x40);
    k.enter(fns.memtest_stats_update + 0x58);
    const b = kmem.kmemZalloc(200, KM_SLEEP);
    if (k.mem.loadPtr(stats) !== 0) leaked++; // the previous snapshot is lost
    k.mem.storePtr(stats, b);
    k.leave();
    k.leave();
  });
  memtestWaiter(s);
  k.enter(fns.memtest_main + 0x64);
  for (let i = 0; i < 400; i++) {
    const what = r.below(3);
    if (what === 0) {
      k.enter(fns.memtest_ioctl + 0x11c);
      k.enter(fns.memtest_req_alloc + 0x2c);
      const b = kmem.kmemAlloc(96, KM_SLEEP);
      k.leave();
      k.leave();
      if (r.below(8) === 0) {
        leaked++; // EINVAL path: returns without freeing or recording the request
      } else {
        const slot = table + r.below(T) * P;
        const old = k.mem.loadPtr(slot);
        if (old !== 0) {
          k.enter(fns.memtest_ioctl + 0x1a8);
          kmem.kmemFree(old, 96);
          k.leave();
        }
        k.mem.storePtr(slot, b);
      }
    } else if (what === 1) {
      k.enter(fns.memtest_attach + 0x80);
      k.enter(fns.memtest_node_create + 0x1c);
      const n = nodes.alloc(KM_SLEEP);
      k.leave();
      k.mem.storePtr(n, k.mem.loadPtr(head));
      k.mem.storePtr(head, n);
      k.leave();
      if (r.below(6) === 0) {
        // memtest_node_remove unlinks the head node and forgets to free it
        k.enter(fns.memtest_node_remove + 0x30);
        const h = k.mem.loadPtr(head);
        k.mem.storePtr(head, k.mem.loadPtr(h));
        k.mem.storePtr(h, 0);
        k.leave();
        leaked++;
      }
    } else {
      k.timeout(timerThread, 1_000_000, fns.memtest_timer);
      yield 2_000_000;
    }
  }
  k.leave();
  return { leaked };
}

/** Bytes of a memtest I/O request. */
const MEMTEST_REQ_SIZE = 128;

/**
 * A thread that allocates an I/O request and waits for its completion,
 * which never comes: the request is referenced from nowhere but its stack
 * (memtest_waiter's local, and memtest_wait_io's argument).  A debugger
 * must see it as in use: ::findleaks scans thread stacks, ::whatis names
 * the stack, ::findstack -v shows it as memtest_wait_io's argument.
 */
export function memtestWaiter(s: System): { thread: KThread; req: number } {
  const { k, kmem } = s;
  const fns = k.fns({ memtest_waiter: 0x100, memtest_wait_io: 0x180 });
  const dev = k.global('memtest_dev', 'uintptr_t [4]');
  const thread = k.createThread('memtest_waiter');
  const req = k.runAs(thread, () => {
    k.enter(fns.memtest_waiter + 0x3c);
    k.args(dev);
    const r = kmem.kmemAlloc(MEMTEST_REQ_SIZE, KM_SLEEP);
    k.local(0, r);
    k.site(fns.memtest_waiter + 0x58);
    k.enter(fns.memtest_wait_io + 0xe8);
    k.args(dev, r);
    return r; // it waits: its frames stay while it is off its CPU
  });
  return { thread, req };
}

/** A long correct workload: every buffer it keeps is in memtest_live[]. */
export function cleanWorkload(s: System, ops: number): void {
  runWorkload(s.k, cleanActivity(s, ops));
}

/** cleanWorkload, resumable: 1000 operations, then 5 s pass, and so on. */
export function* cleanActivity(s: System, ops: number): Workload {
  const { k, kmem } = s;
  const r = k.rand;
  const N = 512;
  const P = k.model.ptrSize;
  const live = k.global('memtest_live', `uintptr_t [${N}]`);
  const sizes = k.global('memtest_live_size', `uint32_t [${N}]`);
  const caches = [kmem.cacheCreate('memtest_small', 24), kmem.cacheCreate('memtest_obj', 200), kmem.cacheCreate('memtest_page', 4096)];
  const fns = k.fns({ memtest_main: 0x200, memtest_work: 0x300, memtest_get: 0x100, memtest_put: 0x100 });
  const worker = k.createThread('memtest_worker', undefined, { start: 'memtest_work' });
  k.enter(fns.memtest_main + 0x64);
  const step = () => {
    k.enter(fns.memtest_work + 0x90);
    const i = r.below(N);
    const slot = live + i * P;
    const cur = k.mem.loadPtr(slot);
    const sz = k.mem.load32(sizes + i * 4);
    if (cur !== 0) {
      k.enter(fns.memtest_put + 0x20);
      if (sz >= 0x10000000) caches[sz - 0x10000000]!.free(cur);
      else kmem.kmemFree(cur, sz);
      k.leave();
      k.mem.storePtr(slot, 0);
      k.mem.store32(sizes + i * 4, 0);
    } else {
      k.enter(fns.memtest_get + 0x28);
      let b: number;
      let tag: number;
      if (r.below(3) === 0) {
        const c = r.below(caches.length);
        b = caches[c]!.alloc(KM_SLEEP);
        tag = 0x10000000 + c;
      } else {
        tag = 1 + r.below(r.below(4) === 0 ? 16384 : 512);
        b = kmem.kmemAlloc(tag, KM_SLEEP);
        k.mem.store8(b + tag - 1, 0x11); // use all of it, and no more
      }
      k.leave();
      k.mem.storePtr(slot, b);
      k.mem.store32(sizes + i * 4, tag);
    }
    k.leave();
  };
  for (let n = 0; n < ops; n++) {
    if (n % 8 === 7) k.runAs(worker, step);
    else step();
    if (n % 1000 === 999) yield 5e9; // kmem_update / reap every 15 s
  }
  k.leave();
}
