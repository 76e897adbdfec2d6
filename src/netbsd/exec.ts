/*
 * exec: the exec switch and exec_autoload(), after kern_exec.c rev 1.418.
 *
 * Theory
 * ------
 * `execsw` (a kernel array of struct execsw_entry, `nexecs` in use) holds
 * the binary formats the kernel can run; exec modules add and remove
 * entries in their modcmd.  check_exec() tries each entry; when none
 * accepts the image it returns ENOEXEC, and execve_loadvm(), if module_gen
 * has changed since the last attempt, calls exec_autoload() and retries.
 * exec_autoload() loads the native list (exec_elf32, exec_elf64,
 * exec_script) when no exec switch is present, otherwise the compat list,
 * each with module_autoload(name, MODULE_CLASS_EXEC); modules that do not
 * exist on this architecture fail quietly with ENOENT.
 *
 * A running process keeps its format's es_refcnt raised; the module that
 * provides the format refuses FINI (EBUSY) while it is.
 */

import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import type { NetbsdKern } from './kern.js';
import type { Modules } from './kern-module.js';
import { EBUSY, ENOEXEC, MODULE_CLASS_EXEC } from '../abi/netbsd-sys.js';

export const EXEC_FUNCTIONS = {
  sys_execve: 0x40,
  execve1: 0x60,
  execve_loadvm: 0x3a0,
  check_exec: 0x1e0,
  exec_autoload: 0xb0,
  exec_add: 0x120,
  exec_remove: 0x100,
  exit1: 0x2a0,
} as const;

export const EXEC_NATIVE = ['exec_elf32', 'exec_elf64', 'exec_script'];
export const EXEC_COMPAT = [
  'exec_elf32', 'exec_elf64', 'exec_script', 'exec_aout', 'exec_coff', 'exec_ecoff', 'compat_aoutm68k', 'compat_freebsd',
  'compat_ibcs2', 'compat_linux', 'compat_linux32', 'compat_netbsd32', 'compat_sunos', 'compat_sunos32', 'compat_svr4',
  'compat_svr4_32', 'compat_ultrix',
];

const NEXECSW = 32;

/** The fields of struct execsw_entry this file uses. */
const EXECSW_FIELDS = ['es_name', 'es_format', 'es_refcnt', 'es_modname'] as const;

export class Exec {
  readonly FN: Record<keyof typeof EXEC_FUNCTIONS, number>;
  readonly g: { execsw: number; nexecs: number; exec_autoload_gen: number };
  private readonly esize: number;
  private readonly o: Offsets<(typeof EXECSW_FIELDS)[number]>;
  private readonly formats = new Map<string, number>();

  constructor(
    private readonly nb: NetbsdKern,
    private readonly modules: Modules,
  ) {
    const k = nb.k;
    this.FN = k.fns(EXEC_FUNCTIONS);
    this.g = {
      execsw: k.global('execsw', `struct execsw_entry [${NEXECSW}]`),
      nexecs: k.global('nexecs', 'int'),
      exec_autoload_gen: k.global('exec_autoload_gen', 'unsigned int'),
    };
    const T = nb.T;
    this.o = offsetsOf(T, 'struct execsw_entry', EXECSW_FIELDS);
    this.esize = T.size('struct execsw_entry');
  }

  private formatId(name: string): number {
    let id = this.formats.get(name);
    if (id === undefined) this.formats.set(name, (id = this.formats.size + 1));
    return id;
  }

  /** exec_add(): a module registers a format (name string in its data). */
  add(format: string, nameAddr: number, modname: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    nb.k.enter(this.FN.exec_add);
    const n = mem.load32(this.g.nexecs);
    if (n >= NEXECSW) nb.k.panic('exec_add: execsw full');
    const e = this.g.execsw + n * this.esize;
    mem.storePtr(e + o.es_name, nameAddr);
    mem.store32(e + o.es_format, this.formatId(format));
    mem.store32(e + o.es_refcnt, 0);
    mem.storePtr(e + o.es_modname, modname);
    mem.store32(this.g.nexecs, n + 1);
    nb.k.leave();
  }

  /** exec_remove(): EBUSY while a process runs the format. */
  remove(format: string): number {
    const nb = this.nb;
    const mem = nb.mem;
    nb.k.enter(this.FN.exec_remove);
    const i = this.find(format);
    if (i < 0) {
      nb.k.leave();
      return 0;
    }
    const e = this.g.execsw + i * this.esize;
    if (mem.load32(e + this.o.es_refcnt) !== 0) {
      nb.k.leave();
      return EBUSY;
    }
    const n = mem.load32(this.g.nexecs);
    nb.memmove(e, e + this.esize, (n - 1 - i) * this.esize);
    nb.bzero(this.g.execsw + (n - 1) * this.esize, this.esize);
    mem.store32(this.g.nexecs, n - 1);
    nb.k.leave();
    return 0;
  }

  private find(format: string): number {
    const id = this.formats.get(format);
    if (id === undefined) return -1;
    const mem = this.nb.mem;
    const n = mem.load32(this.g.nexecs);
    for (let i = 0; i < n; i++) if (mem.load32(this.g.execsw + i * this.esize + this.o.es_format) === id) return i;
    return -1;
  }

  busy(format: string): boolean {
    const i = this.find(format);
    return i >= 0 && this.nb.mem.load32(this.g.execsw + i * this.esize + this.o.es_refcnt) !== 0;
  }

  /** exec_autoload() */
  autoload(): void {
    const nb = this.nb;
    nb.k.enter(this.FN.exec_autoload);
    const list = nb.mem.load32(this.g.nexecs) === 0 ? EXEC_NATIVE : EXEC_COMPAT;
    for (const name of list) {
      nb.k.site(this.FN.exec_autoload + 0x5e);
      this.modules.autoload(name, MODULE_CLASS_EXEC);
    }
    nb.k.leave();
  }

  /**
   * execve() of an image of the given format.  Returns 0 and the execsw
   * index through `onRun` (the process holds es_refcnt until exit()), or
   * ENOEXEC.
   */
  execve(format: string): { error: number; proc: number } {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    k.enter(this.FN.sys_execve + 0x1a);
    k.enter(this.FN.execve1 + 0x2c);
    k.enter(this.FN.execve_loadvm);
    let i = -1;
    for (let attempt = 0; attempt < 2; attempt++) {
      k.enter(this.FN.check_exec + 0x118);
      i = this.find(format);
      k.leave();
      if (i >= 0) break;
      const gen = this.modules.gen;
      if (attempt === 0 && gen !== mem.load32(this.g.exec_autoload_gen)) {
        mem.store32(this.g.exec_autoload_gen, gen);
        k.site(this.FN.execve_loadvm + 0x1e6);
        this.autoload();
        continue;
      }
      break;
    }
    let r = { error: ENOEXEC, proc: -1 };
    if (i >= 0) {
      const e = this.g.execsw + i * this.esize + this.o.es_refcnt;
      mem.store32(e, mem.load32(e) + 1);
      r = { error: 0, proc: this.formatId(format) };
    }
    k.leave();
    k.leave();
    k.leave();
    return r;
  }

  /** exit1(): the process running `format` exits. */
  exit(format: string): void {
    const i = this.find(format);
    if (i < 0) return;
    const e = this.g.execsw + i * this.esize + this.o.es_refcnt;
    const mem = this.nb.mem;
    if (mem.load32(e) > 0) mem.store32(e, mem.load32(e) - 1);
  }
}
