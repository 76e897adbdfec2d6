/*
 * The module files of the simulated NetBSD/amd64 system.
 *
 * exec_elf64 and exec_script are built in; the other exec/compat modules of
 * exec_autoload's compat list that exist on amd64 are loadable (exec_aout,
 * exec_coff, exec_ecoff, compat_sunos ... do not exist and fail with
 * ENOENT).  mqueue and sysv_ipc follow sys_mqueue.c rev 1.39 and sysv_ipc.c
 * rev 1.28: mqueue creates its "mqmsgpl" pool_cache with IPL_NONE (hence on
 * pool_allocator_nointr) and destroys it last in FINI; sysv_ipc re-creates
 * kern.ipc in each sub-setup, adds kern.ipc.info and the kern.ipc.shm*
 * nodes with fixed numbers and kern.ipc.sem* / msg* with CTL_CREATE, all
 * logged in its sysctllog, and tears the log down in FINI.  ksem owns
 * kern.posix_semaphores (67), a kern child numbered below 82.
 *
 * `culprit` stands for the module the report could not identify: a static
 * struct pool (at data+0xb40, as both of the report's stale addresses end
 * in b40) on pool_allocator_nointr, named "xleakpl", which its FINI forgets
 * to pool_destroy() (--fixed destroys it).  compat_linux requires it and
 * gives each Linux process an item from it.
 */

import type { ModuleCtx, ModuleSpec } from './kern-module.js';
import {
  CTL_CREATE, CTL_KERN, CTLFLAG_IMMEDIATE, CTLFLAG_PERMANENT, CTLFLAG_READWRITE, CTLTYPE_INT, CTLTYPE_NODE, CTLTYPE_QUAD,
  CTLTYPE_STRUCT, EBUSY, IPL_NONE, KERN_POSIX_SEMAPHORES, KERN_SYSVIPC, KERN_SYSVIPC_INFO, KERN_SYSVIPC_SHMMAX,
  KERN_SYSVIPC_SHMMAXPGS, KERN_SYSVIPC_SHMMNI, KERN_SYSVIPC_SHMSEG, KERN_SYSVIPC_SHM_USE_PHYS, MODULE_CLASS_EXEC,
  MODULE_CLASS_MISC, MODULE_CMD_AUTOUNLOAD, MODULE_CMD_FINI, MODULE_CMD_INIT, ENOTTY, PR_WAITOK,
} from '../abi/netbsd-sys.js';

/** An exec-format module: exec_add at INIT, exec_remove (EBUSY when in use) at FINI. */
function execModule(name: string, format: string, required?: string, extra: Partial<ModuleSpec> = {}): ModuleSpec {
  return {
    name,
    cls: MODULE_CLASS_EXEC,
    required,
    textSize: 0x3000,
    dataSize: 0x1000,
    strings: [format],
    functions: { [`${name}_modcmd`]: 0xa0, [`${name}_probe`]: 0x180 },
    modcmd(ctx, cmd) {
      const ex = ctx.os.exec;
      if (cmd === MODULE_CMD_INIT) {
        ex.add(format, ctx.str(format), ctx.str(name));
        return 0;
      }
      if (cmd === MODULE_CMD_FINI) return ex.remove(format);
      return ENOTTY;
    },
    ...extra,
  };
}

const IPC_FUNCS = ['sysctl_kern_sysvipc', 'sysctl_ipc_shmmax', 'sysctl_ipc_shmmni', 'sysctl_ipc_shmseg', 'sysctl_ipc_shmmaxpgs',
  'sysctl_ipc_shm_use_phys', 'sysctl_ipc_semmni', 'sysctl_ipc_semmns', 'sysctl_ipc_semmnu', 'sysctl_ipc_semume', 'sysctl_ipc_msgmni',
  'sysctl_ipc_msgseg', 'sysctl_ipc_msgmnb'];

const SEM_NODES = ['semmni', 'semmns', 'semmnu', 'semume'];
const MSG_NODES = ['msgmni', 'msgseg', 'msgmnb'];
const SHM_NODES: Array<[string, number]> = [
  ['shmmax', KERN_SYSVIPC_SHMMAX], ['shmmni', KERN_SYSVIPC_SHMMNI], ['shmseg', KERN_SYSVIPC_SHMSEG],
  ['shmmaxpgs', KERN_SYSVIPC_SHMMAXPGS], ['shm_use_phys', KERN_SYSVIPC_SHM_USE_PHYS],
];

/** A handler that reads the int its node's sysctl_data points at. */
function intHandler(ctx: ModuleCtx, node: number): number {
  const sy = ctx.os.sysctl;
  const mem = ctx.os.nb.mem;
  return mem.loadI32(mem.loadPtr(node + sy.offset('sysctl_data')));
}

const sysvIpc: ModuleSpec = {
  name: 'sysv_ipc',
  cls: MODULE_CLASS_MISC,
  textSize: 0x6000,
  dataSize: 0x1000,
  strings: ['ipc', 'sysvipc_info', ...SHM_NODES.map((s) => s[0]), ...SEM_NODES, ...MSG_NODES],
  functions: Object.fromEntries([['sysv_ipc_modcmd', 0xc0], ['sysctl_ipc_setup', 0x120], ['seminit', 0x200], ['msginit', 0x200],
    ['shminit', 0x200], ...IPC_FUNCS.map((f) => [f, 0x90])]),
  objects: [
    { name: 'sysctl_sysvipc_clog', type: 'struct sysctllog *' },
    { name: 'sysvipc_node', type: 'struct sysctlnode *' },
    { name: 'seminfo', type: 'int [4]' },
    { name: 'msginfo', type: 'int [3]' },
    { name: 'shminfo', type: 'uint64_t [5]' },
  ],
  modcmd(ctx, cmd) {
    const sy = ctx.os.sysctl;
    const mem = ctx.os.nb.mem;
    const clog = ctx.sym('sysctl_sysvipc_clog');
    const nodep = ctx.sym('sysvipc_node');
    const k = ctx.os.nb.k;
    if (cmd === MODULE_CMD_INIT) {
      for (let i = 0; i < 4; i++) mem.store32(ctx.sym('seminfo') + 4 * i, [10, 60, 30, 10][i]!);
      for (let i = 0; i < 3; i++) mem.store32(ctx.sym('msginfo') + 4 * i, [40, 2048, 16384][i]!);
      for (let i = 0; i < 5; i++) mem.store64n(ctx.sym('shminfo') + 8 * i, [0x2000000, 128, 128, 8192, 0][i]!);
      const ipc = () => sy.createv(clog, 0, nodep, { flags: CTLFLAG_PERMANENT, type: CTLTYPE_NODE, name: 'ipc' }, [CTL_KERN, KERN_SYSVIPC]);
      // sysctl_ipc_setup: kern.ipc and kern.ipc.sysvipc_info
      k.enter(ctx.sym('sysctl_ipc_setup') + 0x44);
      ipc();
      sy.createv(clog, 0, 0, { flags: CTLFLAG_PERMANENT, type: CTLTYPE_STRUCT, name: 'sysvipc_info', func: ctx.sym('sysctl_kern_sysvipc') },
        [CTL_KERN, KERN_SYSVIPC, KERN_SYSVIPC_INFO]);
      k.leave();
      // shminit: fixed numbers
      k.enter(ctx.sym('shminit') + 0x98);
      ipc();
      SHM_NODES.forEach(([n, num], i) => {
        sy.createv(clog, 0, 0, { flags: CTLFLAG_PERMANENT | CTLFLAG_READWRITE, type: CTLTYPE_QUAD, name: n,
          func: ctx.sym(`sysctl_ipc_${n}`), data: ctx.sym('shminfo') + 8 * i }, [CTL_KERN, KERN_SYSVIPC, num]);
      });
      k.leave();
      // seminit, msginit: dynamic numbers, relative to the returned node
      for (const [fn, nodes, info] of [['seminit', SEM_NODES, 'seminfo'], ['msginit', MSG_NODES, 'msginfo']] as const) {
        k.enter(ctx.sym(fn) + 0xb4);
        ipc();
        nodes.forEach((n, i) => {
          sy.createv(clog, nodep, 0, { flags: CTLFLAG_PERMANENT | CTLFLAG_READWRITE, type: CTLTYPE_INT, name: n,
            func: ctx.sym(`sysctl_ipc_${n}`), data: ctx.sym(info) + 4 * i }, [CTL_CREATE]);
        });
        k.leave();
      }
      return 0;
    }
    if (cmd === MODULE_CMD_FINI) {
      sy.teardown(clog);
      return 0;
    }
    return ENOTTY;
  },
  impls: Object.fromEntries(IPC_FUNCS.map((f) => [f, (ctx: ModuleCtx, node: number) => (f === 'sysctl_kern_sysvipc' ? 0 : intHandler(ctx, node))])),
};

const ksem: ModuleSpec = {
  name: 'ksem',
  cls: MODULE_CLASS_MISC,
  textSize: 0x3000,
  dataSize: 0x1000,
  strings: ['posix_semaphores'],
  functions: { ksem_modcmd: 0xa0, ksem_sysinit: 0x140, ksem_sysfini: 0xc0 },
  objects: [{ name: 'ksem_sysctl_log', type: 'struct sysctllog *' }],
  modcmd(ctx, cmd) {
    const sy = ctx.os.sysctl;
    if (cmd === MODULE_CMD_INIT) {
      sy.createv(ctx.sym('ksem_sysctl_log'), 0, 0, { flags: CTLFLAG_PERMANENT | CTLFLAG_IMMEDIATE, type: CTLTYPE_INT,
        name: 'posix_semaphores', qv: 200112 }, [CTL_KERN, KERN_POSIX_SEMAPHORES]);
      return 0;
    }
    if (cmd === MODULE_CMD_FINI) {
      sy.teardown(ctx.sym('ksem_sysctl_log'));
      return 0;
    }
    return ENOTTY;
  },
};

const MQ_NODES = ['mq_open_max', 'mq_prio_max', 'mq_max_msgsize', 'mq_def_maxmsg', 'mq_max_maxmsg'];

const mqueue: ModuleSpec = {
  name: 'mqueue',
  cls: MODULE_CLASS_MISC,
  textSize: 0x5000,
  dataSize: 0x1000,
  strings: ['mqmsgpl', 'mqueue', ...MQ_NODES],
  functions: { mqueue_modcmd: 0x2c0, mqueue_sysinit: 0x180, mqueue_sysfini: 0x100, mq_send1: 0x300, mq_recv1: 0x300 },
  objects: [
    { name: 'mqmsg_cache', type: 'struct pool_cache *' },
    { name: 'mqsysctl_log', type: 'struct sysctllog *' },
    { name: 'mq_node', type: 'struct sysctlnode *' },
    { name: 'mq_limits', type: 'int [5]' },
    { name: 'mq_nmsgs', type: 'unsigned int' },
  ],
  modcmd(ctx, cmd) {
    const os = ctx.os;
    const mem = os.nb.mem;
    const k = os.nb.k;
    if (cmd === MODULE_CMD_INIT) {
      k.enter(ctx.sym('mqueue_sysinit') + 0x33);
      const pc = os.pools.cacheInit(1024, 64, 0, 0, ctx.str('mqmsgpl'), 0, IPL_NONE);
      mem.storePtr(ctx.sym('mqmsg_cache'), pc);
      const log = ctx.sym('mqsysctl_log');
      const node = ctx.sym('mq_node');
      os.sysctl.createv(log, 0, node, { flags: CTLFLAG_PERMANENT, type: CTLTYPE_NODE, name: 'mqueue' }, [CTL_KERN, CTL_CREATE]);
      MQ_NODES.forEach((n, i) => {
        mem.store32(ctx.sym('mq_limits') + 4 * i, [512, 32, 16384, 32, 16 * 32][i]!);
        os.sysctl.createv(log, node, 0, { flags: CTLFLAG_PERMANENT | CTLFLAG_READWRITE, type: CTLTYPE_INT, name: n,
          data: ctx.sym('mq_limits') + 4 * i }, [CTL_CREATE]);
      });
      k.leave();
      return 0;
    }
    if (cmd === MODULE_CMD_FINI) {
      if (mem.load32(ctx.sym('mq_nmsgs')) !== 0) return EBUSY; // queues exist
      // mqueue_sysfini, inlined into mqueue_modcmd as in the report's frame #11
      k.site(ctx.sym('mqueue_modcmd') + 0x1bd);
      os.sysctl.teardown(ctx.sym('mqsysctl_log'));
      k.site(ctx.sym('mqueue_modcmd') + 0x235);
      os.pools.cacheDestroy(mem.loadPtr(ctx.sym('mqmsg_cache')));
      mem.storePtr(ctx.sym('mqmsg_cache'), 0);
      return 0;
    }
    return ENOTTY;
  },
  impls: {
    // mq_send1(n): allocate n messages from the cache and queue them (counted).
    mq_send1(ctx, n) {
      const os = ctx.os;
      const mem = os.nb.mem;
      const pc = mem.loadPtr(ctx.sym('mqmsg_cache'));
      let sent = 0;
      for (let i = 0; i < n; i++) {
        const m = os.pools.cacheGet(pc, PR_WAITOK);
        if (m === 0) break;
        os.mqPush(m);
        sent++;
      }
      mem.store32(ctx.sym('mq_nmsgs'), mem.load32(ctx.sym('mq_nmsgs')) + sent);
      return sent;
    },
    // mq_recv1(n): dequeue n messages and give them back.
    mq_recv1(ctx, n) {
      const os = ctx.os;
      const mem = os.nb.mem;
      const pc = mem.loadPtr(ctx.sym('mqmsg_cache'));
      let got = 0;
      for (let i = 0; i < n; i++) {
        const m = os.mqPop();
        if (m === 0) break;
        os.pools.cachePut(pc, m);
        got++;
      }
      mem.store32(ctx.sym('mq_nmsgs'), mem.load32(ctx.sym('mq_nmsgs')) - got);
      return got;
    },
  },
};

const culprit: ModuleSpec = {
  name: 'culprit',
  cls: MODULE_CLASS_MISC,
  textSize: 0x2000,
  dataSize: 0x1000,
  strings: ['xleakpl'],
  functions: { culprit_modcmd: 0xe0, culprit_proc_init: 0x60, culprit_proc_fini: 0x50 },
  objects: [{ name: 'culprit_pool', type: 'struct pool', offset: 0xb40 }],
  modcmd(ctx, cmd) {
    const os = ctx.os;
    if (cmd === MODULE_CMD_INIT) {
      os.pools.init(ctx.sym('culprit_pool'), 192, 0, 0, 0, ctx.str('xleakpl'), os.pools.g.pool_allocator_nointr, IPL_NONE);
      return 0;
    }
    if (cmd === MODULE_CMD_FINI) {
      // The bug: nothing here pool_destroy()s culprit_pool.
      if (os.nb.fixed) os.pools.destroy(ctx.sym('culprit_pool'));
      return 0;
    }
    if (cmd === MODULE_CMD_AUTOUNLOAD) return 0;
    return ENOTTY;
  },
  impls: {
    culprit_proc_init(ctx) {
      return ctx.os.pools.get(ctx.sym('culprit_pool'), PR_WAITOK);
    },
    culprit_proc_fini(ctx, item) {
      ctx.os.pools.put(ctx.sym('culprit_pool'), item);
      return 0;
    },
  },
};

/** compat_linux: the Linux exec format; each process gets per-process state from culprit. */
const compatLinux = execModule('compat_linux', 'linux', 'compat,compat_ossaudio,sysv_ipc,culprit', {
  functions: { compat_linux_modcmd: 0x120, linux_e_proc_exec: 0x80, linux_e_proc_exit: 0x80, linux_sendsig: 0x400 },
  impls: {
    linux_e_proc_exec(ctx) {
      const os = ctx.os;
      return os.nb.call(os.nb.k.addr('culprit_proc_init'));
    },
    linux_e_proc_exit(ctx, item) {
      const os = ctx.os;
      return os.nb.call(os.nb.k.addr('culprit_proc_fini'), item);
    },
  },
});
{
  const base = compatLinux.modcmd;
  compatLinux.modcmd = (ctx, cmd) => {
    const os = ctx.os;
    if (cmd === MODULE_CMD_INIT) os.setEmulHooks(ctx.sym('linux_e_proc_exec'), ctx.sym('linux_e_proc_exit'));
    const r = base(ctx, cmd);
    if (cmd === MODULE_CMD_FINI && r === 0) os.setEmulHooks(0, 0);
    return r;
  };
}

export const NETBSD_MODULES: ModuleSpec[] = [
  execModule('exec_elf64', 'elf64', undefined, { builtin: true }),
  execModule('exec_script', 'script', undefined, {
    builtin: true,
    modcmd(ctx, cmd) {
      const ex = ctx.os.exec;
      if (cmd === MODULE_CMD_INIT) {
        ex.add('script', ctx.str('script'), ctx.str('exec_script'));
        return 0;
      }
      if (cmd === MODULE_CMD_AUTOUNLOAD) return EBUSY; // avoid ping-ponging in and out
      if (cmd === MODULE_CMD_FINI) return ex.remove('script');
      return ENOTTY;
    },
  }),
  execModule('exec_elf32', 'elf32'),
  {
    name: 'compat',
    cls: MODULE_CLASS_MISC,
    textSize: 0xa000,
    dataSize: 0x2000,
    functions: { compat_modcmd: 0x80, compat_50_sys_mq_timedsend: 0x120, compat_50_sys_mq_timedreceive: 0x120 },
    modcmd: (_ctx, cmd) => (cmd === MODULE_CMD_INIT || cmd === MODULE_CMD_FINI ? 0 : ENOTTY),
  },
  execModule('compat_freebsd', 'freebsd', 'compat'),
  {
    name: 'compat_ossaudio',
    cls: MODULE_CLASS_MISC,
    textSize: 0x2000,
    dataSize: 0x1000,
    modcmd: (_ctx, cmd) => (cmd === MODULE_CMD_INIT || cmd === MODULE_CMD_FINI ? 0 : ENOTTY),
  },
  sysvIpc,
  culprit,
  compatLinux,
  ksem,
  mqueue,
  execModule('compat_netbsd32', 'netbsd32', 'compat,ksem,mqueue'),
  execModule('compat_linux32', 'linux32', 'compat_linux,compat_netbsd32'),
];
