/*
 * The kernel's module list: one `struct modctl` per module, as illumos'
 * modctl.c and krtld keep it, in simulated memory (layouts:
 * src/abi/kernel-modules.ts).
 *
 * Theory
 * ------
 * `modules` is a kernel global that is itself the first modctl and the
 * head of the circular mod_next/mod_prev list (illumos' kobj_sync copies
 * the first primary module into it).  Two primary modules describe the
 * kernel image: unix (id 0, `modules`) covers the text and data that the
 * kernel core laid out (`new Kernel()`), genunix (id 1) everything linked
 * after it (vmem, kmem, processes, the NetBSD personality); genunix's sizes
 * follow the image as functions and globals are added (Kernel's
 * onImageGrowth).  Both are primary (mod_prim), loaded, installed and
 * MOD_NOAUTOUNLOAD, as krtld's add_primary() makes them.
 *
 * A loadable module (the NetBSD personality's kobj_load) gets its modctl on
 * its first load (kmem_zalloc'd, the next id, linked at the tail), and a
 * krtld object (text, data and their sizes, kmem_zalloc'd) on each load;
 * modinstall marks it installed and records its modlinkage.  Unloading
 * clears mod_installed, mod_loaded and mod_linkage and frees the krtld
 * object (mod_mp = NULL), but the modctl stays on the list with its id, as
 * illumos' modctls persist: a later load of the same name reuses it
 * (mod_loadcnt counts the loads, mod_gencount loads and unloads).  mod_ref
 * counts the loaded modules that require it.  While a module is being
 * loaded or unloaded, mod_busy is set and mod_inprogress_thread names the
 * thread, so a panic in its _init or _fini shows it.
 */

import type { Kernel } from './kernel.js';
import { declare } from '../ctf/cparse.js';
import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import { KERNEL_MODULE_TYPES, MOD_NOAUTOUNLOAD } from '../abi/kernel-modules.js';

/** Where the module list gets its memory (kmem_zalloc / kmem_free). */
export interface ModctlMemory {
  zalloc(size: number): number;
  free(addr: number, size: number): void;
}

/** A loaded module's image: its text and data. */
export interface ModuleImage {
  text: number;
  textSize: number;
  data: number;
  dataSize: number;
}

const MODCTL_FIELDS = [
  'mod_next', 'mod_prev', 'mod_id', 'mod_mp', 'mod_inprogress_thread', 'mod_linkage', 'mod_filename', 'mod_modname',
  'mod_busy', 'mod_prim', 'mod_ref', 'mod_loaded', 'mod_installed', 'mod_loadflags', 'mod_loadcnt', 'mod_text',
  'mod_text_size', 'mod_gencount',
] as const;
const KRTLD_FIELDS = ['total_allocated', 'text', 'data', 'text_size', 'data_size', 'filename'] as const;

/** The directories modules are loaded from, as illumos' paths are laid out for each data model. */
export function modulePath(model: 'lp64' | 'ilp32', dir: 'platform' | 'kernel' | 'misc', name: string): string {
  const isa = model === 'lp64' ? 'amd64/' : '';
  if (dir === 'platform') return `/platform/i86pc/kernel/${isa}${name}`;
  if (dir === 'kernel') return `/kernel/${isa}${name}`;
  return `/kernel/misc/${isa}${name}`;
}

export class ModctlList {
  /** &modules: unix's modctl and the list head. */
  readonly modules: number;
  private readonly mc: Offsets<(typeof MODCTL_FIELDS)[number]>;
  private readonly ko: Offsets<(typeof KRTLD_FIELDS)[number]>;
  private readonly mcSize: number;
  private readonly mpSize: number;
  private lastId = 0;
  /** genunix's modctl and the start of its text and data. */
  private readonly genunix: { mc: number; text: number; data: number };

  constructor(
    private readonly k: Kernel,
    private readonly memory: ModctlMemory,
  ) {
    declare(k.types, KERNEL_MODULE_TYPES);
    const T = k.types;
    this.mc = offsetsOf(T, 'struct modctl', MODCTL_FIELDS);
    this.ko = offsetsOf(T, 'struct krtld_module', KRTLD_FIELDS);
    this.mcSize = T.size('struct modctl');
    this.mpSize = T.size('struct krtld_module');
    this.modules = k.global('modules', 'struct modctl');
    k.mem.storePtr(this.modules + this.mc.mod_next, this.modules);
    k.mem.storePtr(this.modules + this.mc.mod_prev, this.modules);
    const L = k.layout;
    const core = k.coreImageEnd;
    const model = k.model.name;
    this.primary(this.modules, modulePath(model, 'platform', 'unix'), {
      text: L.textBase,
      textSize: core.text - L.textBase,
      data: L.dataBase,
      dataSize: core.data - L.dataBase,
    });
    const gmc = memory.zalloc(this.mcSize);
    this.genunix = { mc: gmc, text: core.text, data: core.data };
    this.link(gmc);
    this.primary(gmc, modulePath(model, 'kernel', 'genunix'), this.genunixImage());
    k.onImageGrowth = () => this.setImage(gmc, this.genunixImage());
  }

  /* ------------------------------------------------------- primaries */

  private genunixImage(): ModuleImage {
    const g = this.genunix;
    return { text: g.text, textSize: this.k.textEnd - g.text, data: g.data, dataSize: this.k.dataEnd - g.data };
  }

  /** krtld's add_primary(): loaded, installed, primary, never auto-unloaded. */
  private primary(mc: number, filename: string, image: ModuleImage): void {
    const mem = this.k.mem;
    const o = this.mc;
    this.name(mc, filename);
    mem.store32(mc + o.mod_id, this.lastId++);
    mem.store8(mc + o.mod_prim, 1);
    mem.store8(mc + o.mod_loadflags, MOD_NOAUTOUNLOAD);
    this.attach(mc, image);
    mem.store8(mc + o.mod_installed, 1);
  }

  /* ------------------------------------------------- loadable modules */

  /**
   * The modctl of module `name` (created, with the next id, on its first
   * load), now loaded from `filename` at `image` and busy in the current
   * thread until installed() or unload().  0 when a module of that name
   * is already loaded: the second copy (which the NetBSD loader reads
   * before it finds the first and gives up) gets no modctl.
   */
  load(name: string, filename: string, image: ModuleImage): number {
    let mc = this.find(name);
    if (mc !== 0 && this.k.mem.load8(mc + this.mc.mod_loaded) !== 0) return 0;
    if (mc === 0) {
      mc = this.memory.zalloc(this.mcSize);
      this.k.mem.store32(mc + this.mc.mod_id, this.lastId++);
      this.name(mc, filename);
      this.link(mc);
    }
    this.busy(mc, true);
    this.attach(mc, image);
    return mc;
  }

  /** modinstall(): _init succeeded; the module's linkage is recorded. */
  installed(mc: number, linkage: number): void {
    const mem = this.k.mem;
    mem.store8(mc + this.mc.mod_installed, 1);
    mem.storePtr(mc + this.mc.mod_linkage, linkage);
    this.busy(mc, false);
  }

  /** mod_unload(): the module leaves memory; its modctl stays on the list. */
  unload(mc: number): void {
    const mem = this.k.mem;
    const o = this.mc;
    mem.store8(mc + o.mod_installed, 0);
    mem.store8(mc + o.mod_loaded, 0);
    mem.storePtr(mc + o.mod_linkage, 0);
    const mp = mem.loadPtr(mc + o.mod_mp);
    if (mp !== 0) {
      mem.storePtr(mc + o.mod_mp, 0);
      this.memory.free(mp, this.mpSize);
    }
    mem.storePtr(mc + o.mod_text, 0);
    mem.storePtr(mc + o.mod_text_size, 0);
    this.bumpGen(mc);
    this.busy(mc, false);
  }

  /** A dependent holds (+1) or releases (-1) module mc. */
  reference(mc: number, delta: 1 | -1): void {
    const a = mc + this.mc.mod_ref;
    this.k.mem.store32(a, this.k.mem.loadI32(a) + delta);
  }

  /** mod_hold_by_modctl / mod_release_mod: the current thread works on mc. */
  busy(mc: number, on: boolean): void {
    const mem = this.k.mem;
    mem.store8(mc + this.mc.mod_busy, on ? 1 : 0);
    mem.storePtr(mc + this.mc.mod_inprogress_thread, on ? this.k.cur.addr : 0);
  }

  /** The modctl whose mod_modname is name, or 0. */
  find(name: string): number {
    const mem = this.k.mem;
    let mc = this.modules;
    do {
      if (this.k.readString(mem.loadPtr(mc + this.mc.mod_modname), 64) === name) return mc;
      mc = mem.loadPtr(mc + this.mc.mod_next);
    } while (mc !== this.modules);
    return 0;
  }

  /* ---------------------------------------------------------- helpers */

  /** Link mc at the tail of the list (before `modules`). */
  private link(mc: number): void {
    const mem = this.k.mem;
    const o = this.mc;
    const last = mem.loadPtr(this.modules + o.mod_prev);
    mem.storePtr(mc + o.mod_next, this.modules);
    mem.storePtr(mc + o.mod_prev, last);
    mem.storePtr(last + o.mod_next, mc);
    mem.storePtr(this.modules + o.mod_prev, mc);
  }

  /** mod_filename (allocated) and mod_modname, its basename. */
  private name(mc: number, filename: string): void {
    const s = this.memory.zalloc(filename.length + 1);
    this.k.writeString(s, filename, filename.length + 1);
    this.k.mem.storePtr(mc + this.mc.mod_filename, s);
    this.k.mem.storePtr(mc + this.mc.mod_modname, s + filename.lastIndexOf('/') + 1);
  }

  /** kobj_load's result: a krtld object for the image, mod_mp, loaded. */
  private attach(mc: number, image: ModuleImage): void {
    const mem = this.k.mem;
    const o = this.mc;
    const mp = this.memory.zalloc(this.mpSize);
    mem.storePtr(mp + this.ko.filename, mem.loadPtr(mc + o.mod_filename));
    mem.storePtr(mc + o.mod_mp, mp);
    this.setImage(mc, image);
    mem.store8(mc + o.mod_loaded, 1);
    mem.store32(mc + o.mod_loadcnt, mem.load32(mc + o.mod_loadcnt) + 1);
    this.bumpGen(mc);
  }

  /** The krtld object's text and data, and the modctl's copy of the text. */
  private setImage(mc: number, image: ModuleImage): void {
    const mem = this.k.mem;
    const mp = mem.loadPtr(mc + this.mc.mod_mp);
    const ko = this.ko;
    mem.storePtr(mp + ko.text, image.text);
    mem.storePtr(mp + ko.text_size, image.textSize);
    mem.storePtr(mp + ko.data, image.data);
    mem.storePtr(mp + ko.data_size, image.dataSize);
    mem.store32(mp + ko.total_allocated, image.textSize + image.dataSize);
    mem.storePtr(mc + this.mc.mod_text, image.text);
    mem.storePtr(mc + this.mc.mod_text_size, image.textSize);
  }

  private bumpGen(mc: number): void {
    const a = mc + this.mc.mod_gencount;
    this.k.mem.store32(a, this.k.mem.load32(a) + 1);
  }
}
