/*
 * Loadable kernel modules, after NetBSD kern_module.c (rev 1.106, 2015) and
 * subr_kobj.c.
 *
 * Theory
 * ------
 * A module is declared in TypeScript (ModuleSpec): name, class, the
 * requirements string of its MODULE() line, text and data sizes, its
 * functions (laid out in its text) and static objects (placed in its data),
 * and the JavaScript implementation of its modcmd and of any function
 * reachable through a pointer (sysctl handlers).  The available module files
 * form a registry, standing for /stand/amd64/7.0/modules; a name missing
 * there fails with ENOENT, quietly for the exec class as NetBSD does.
 *
 * kobj_load takes ONE chunk of module_map (first fit, so a module loaded
 * again in the same order gets the same address back), maps its pages,
 * writes the image (text filled with int3 and a prologue at each function;
 * data holding the modinfo, the string constants and zeroed statics),
 * write-protects the text and registers the symbols.  kobj_unload unmaps the
 * chunk and frees the VA, so any later access to a stale pointer into it
 * faults at the pointer's own address; the range stays in the load/unload
 * history (k.moduleHistory) for mdb's ::whatis.
 *
 * module_list is a TAILQ in memory of struct module (kmem_zalloc'd), each
 * pointing at its modinfo (in the module's data) and its struct kobj.
 * module_enqueue puts a module that has requirements at the HEAD of the
 * list (and references its requirements), others at the tail, so one pass
 * of the autounload thread unloads dependents before what they require.
 *
 * Autoload sets mod_autotime = time_second + module_autotime (10 s) and
 * MODFLG_AUTO_LOADED and kicks the "modunload" thread.  That thread (a
 * callout every second while something is pending) tries each auto-loaded
 * module once its time has come (or every one under memory pressure,
 * uvmexp.free < uvmexp.freemin): mod_autotime = 0, MODULE_CMD_AUTOUNLOAD
 * (0 or ENOTTY means go ahead), then module_do_unload(), which refuses a
 * module still referenced (EBUSY, "busy"), runs MODULE_CMD_FINI, unlinks,
 * drops the references and unloads the kobj.  A module tried once and found
 * busy keeps mod_autotime == 0: only memory pressure retries it.
 */

import type { NetbsdKern } from './kern.js';
import { DEBUG_KOBJ_POOLS } from './kern.js';
import type { NetbsdOS } from './index.js';
import { hex, p2roundup } from '../machine/addr.js';
import { PROT_READ, PROT_RW } from '../machine/memory.js';
import { VM_FIRSTFIT, VM_SLEEP } from '../abi/vmem-impl.js';
import { functionPrologue, type KSymbol } from '../kernel/kernel.js';
import { offsetsOf, type Offsets } from '../ctf/ctf.js';
import {
  EBUSY, EDEADLK, EEXIST, EINVAL, EMLINK, ENOENT, ENOTTY, EPERM,
  MAXMODDEPS, MODFLG_AUTO_LOADED, MODULE_CLASS_ANY, MODULE_CLASS_DRIVER, MODULE_CLASS_EXEC, MODULE_CLASS_MISC,
  MODULE_CLASS_SECMODEL, MODULE_CLASS_VFS, MODULE_CMD_AUTOUNLOAD, MODULE_CMD_FINI,
  MODULE_CMD_INIT, MODULE_MAX_DEPTH, MODULE_SOURCE_FILESYS, MODULE_SOURCE_KERNEL,
} from '../abi/netbsd-sys.js';
import { MODREV_1 } from '../abi/kernel-modules.js';

/**
 * Per NetBSD module class: the directory of the module's mod_filename on
 * the kernel's module list (illumos' misc/, fs/, drv/, exec/) and the word
 * its linkage description uses.
 */
const MODULE_CLASS_DIRS: Record<number, [string, string]> = {
  [MODULE_CLASS_MISC]: ['misc', 'misc'],
  [MODULE_CLASS_VFS]: ['fs', 'vfs'],
  [MODULE_CLASS_DRIVER]: ['drv', 'driver'],
  [MODULE_CLASS_EXEC]: ['exec', 'exec'],
  [MODULE_CLASS_SECMODEL]: ['misc', 'secmodel'],
};

export const MODULE_FUNCTIONS = {
  module_init: 0x120,
  module_autoload: 0xc0,
  module_load: 0x80,
  module_do_load: 0x6c0,
  module_do_unload: 0x200,
  module_enqueue: 0x80,
  module_lookup: 0x50,
  module_thread: 0x1c0,
  module_thread_kick: 0x30,
  kobj_load: 0x200,
  kobj_unload: 0x120,
} as const;

/** What a module's code sees of itself and of the kernel. */
export interface ModuleCtx {
  readonly os: NetbsdOS;
  readonly name: string;
  /** struct module */
  readonly mod: number;
  /** Address of one of this module's functions or static objects. */
  sym(name: string): number;
  /** Address of a string constant of this module (declared in `strings`). */
  str(s: string): number;
}

export type ModuleImpl = (ctx: ModuleCtx, a: number, b: number, c: number) => number;

export interface ModuleSpec {
  name: string;
  cls: number;
  /** MODULE()'s requirement list, "req1,req2". */
  required?: string;
  /** Built into the kernel image (MODULE_SOURCE_KERNEL). */
  builtin?: boolean;
  textSize?: number;
  dataSize?: number;
  /** Text symbols: name -> size.  `<name>_modcmd` is added if absent. */
  functions?: Record<string, number>;
  /** Static objects in the data segment (C type; offset from the start of data, optional). */
  objects?: Array<{ name: string; type: string; offset?: number }>;
  /** String constants placed in the module's data (pool names, sysctl names...). */
  strings?: string[];
  modcmd(ctx: ModuleCtx, cmd: number): number;
  /** Implementations of functions reached through pointers. */
  impls?: Record<string, ModuleImpl>;
}

interface Loaded {
  spec: ModuleSpec;
  ctx: ModuleCtx;
  syms: Map<string, number>;
  strs: Map<string, number>;
  kobj: number;
  base: number;
  size: number;
  history: number;
  /** Its struct modctl on the kernel's module list (0: built in, or the kernel keeps no list). */
  modctl: number;
  /** Its struct modlinkage (in its data), 0 without a module list. */
  linkage: number;
}

/** The fields of struct module, modinfo and kobj this file uses (their offsets: Modules.o). */
const MODULE_FIELDS = ['mod_refcnt', 'mod_flags', 'mod_list', 'mod_required', 'mod_nrequired', 'mod_source', 'mod_autotime', 'mod_info', 'mod_kobj', 'mod_address', 'mod_size'] as const;
const MODINFO_FIELDS = ['mi_version', 'mi_class', 'mi_modcmd', 'mi_name', 'mi_required'] as const;
const KOBJ_FIELDS = ['ko_name', 'ko_address', 'ko_size', 'ko_text_address', 'ko_text_size', 'ko_data_address', 'ko_data_size', 'ko_loaded'] as const;
type ModuleField = (typeof MODULE_FIELDS)[number] | (typeof MODINFO_FIELDS)[number] | (typeof KOBJ_FIELDS)[number];

export class Modules {
  readonly FN: Record<keyof typeof MODULE_FUNCTIONS, number>;
  readonly g: {
    module_list: number;
    module_builtins: number;
    module_gen: number;
    module_count: number;
    module_autotime: number;
    module_autoload_on: number;
    module_verbose_on: number;
    module_thread_ticks: number;
    module_active: number;
  };
  private readonly registry = new Map<string, ModuleSpec>();
  private readonly loaded = new Map<number, Loaded>();
  private readonly o: Offsets<ModuleField>;
  private readonly modSize: number;
  private readonly kobjSize: number;
  private depth = 0;
  private threadScheduled = false;
  readonly thread;

  constructor(
    private readonly nb: NetbsdKern,
    private readonly os: NetbsdOS,
  ) {
    const k = nb.k;
    this.FN = k.fns(MODULE_FUNCTIONS);
    this.g = {
      module_list: k.global('module_list', 'struct module_tqh'),
      module_builtins: k.global('module_builtins', 'struct module_tqh'),
      module_gen: k.global('module_gen', 'unsigned int'),
      module_count: k.global('module_count', 'int'),
      module_autotime: k.global('module_autotime', 'int'),
      module_autoload_on: k.global('module_autoload_on', 'bool'),
      module_verbose_on: k.global('module_verbose_on', 'int'),
      module_thread_ticks: k.global('module_thread_ticks', 'int'),
      module_active: k.global('module_active', 'module_t *'),
    };
    const T = nb.T;
    this.o = {
      ...offsetsOf(T, 'struct module', MODULE_FIELDS),
      ...offsetsOf(T, 'struct modinfo', MODINFO_FIELDS),
      ...offsetsOf(T, 'struct kobj', KOBJ_FIELDS),
    };
    this.modSize = T.size('struct module');
    this.kobjSize = T.size('struct kobj');
    nb.q.tailqInit(this.g.module_list);
    nb.q.tailqInit(this.g.module_builtins);
    nb.mem.store32(this.g.module_autotime, 10);
    nb.mem.store8(this.g.module_autoload_on, 1);
    this.thread = k.createThread('modunload', undefined, { start: 'module_thread' });
    k.calloutFunc(this.FN.module_thread, () => this.threadPass());
  }

  /* --------------------------------------------------------- the registry */

  /** Make a module file available (or, with builtin, link it into the kernel). */
  provide(spec: ModuleSpec): void {
    this.registry.set(spec.name, spec);
  }

  spec(name: string): ModuleSpec | undefined {
    return this.registry.get(name);
  }

  /** module_init(): initialise the built-in modules, as at boot. */
  initBuiltins(): void {
    for (const spec of this.registry.values()) if (spec.builtin) this.initBuiltin(spec);
  }

  private initBuiltin(spec: ModuleSpec): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    k.enter(this.FN.module_init);
    const syms = new Map<string, number>();
    const fns = { ...(spec.functions ?? {}) };
    if (!(`${spec.name}_modcmd` in fns)) fns[`${spec.name}_modcmd`] = 0x40;
    for (const [n, sz] of Object.entries(fns)) syms.set(n, k.fn(n, sz));
    for (const ob of spec.objects ?? []) syms.set(ob.name, k.global(ob.name, ob.type));
    const strs = new Map<string, number>();
    for (const s of [spec.name, ...(spec.strings ?? []), spec.required ?? '']) {
      if (!strs.has(s)) strs.set(s, this.os.pools.kstr(s));
    }
    const mi = k.global(`${spec.name}_modinfo`, 'modinfo_t');
    this.writeModinfo(mi, spec, syms, strs);
    const mod = nb.kmemZalloc(this.modSize);
    mem.storePtr(mod + o.mod_info, mi);
    mem.store32(mod + o.mod_source, MODULE_SOURCE_KERNEL);
    const ctx = this.makeCtx(spec, mod, syms, strs);
    this.loaded.set(mod, { spec, ctx, syms, strs, kobj: 0, base: 0, size: 0, history: -1, modctl: 0, linkage: 0 });
    this.registerImpls(spec, ctx, syms);
    const err = nb.call(mem.loadPtr(mi + o.mi_modcmd), MODULE_CMD_INIT);
    if (err !== 0) k.panic(`builtin module \`${spec.name}' failed to init, error ${err}`);
    this.enqueue(mod);
    k.leave();
  }

  private writeModinfo(mi: number, spec: ModuleSpec, syms: Map<string, number>, strs: Map<string, number>): void {
    const mem = this.nb.mem;
    const o = this.o;
    mem.store32(mi + o.mi_version, 799002200);
    mem.store32(mi + o.mi_class, spec.cls);
    mem.storePtr(mi + o.mi_modcmd, syms.get(`${spec.name}_modcmd`)!);
    mem.storePtr(mi + o.mi_name, strs.get(spec.name)!);
    mem.storePtr(mi + o.mi_required, spec.required ? strs.get(spec.required)! : 0);
  }

  private makeCtx(spec: ModuleSpec, mod: number, syms: Map<string, number>, strs: Map<string, number>): ModuleCtx {
    return {
      os: this.os,
      name: spec.name,
      mod,
      sym(n: string): number {
        const a = syms.get(n);
        if (a === undefined) throw new Error(`module ${spec.name} has no symbol ${n}`);
        return a;
      },
      str(s: string): number {
        const a = strs.get(s);
        if (a === undefined) throw new Error(`module ${spec.name} has no string "${s}"`);
        return a;
      },
    };
  }

  private registerImpls(spec: ModuleSpec, ctx: ModuleCtx, syms: Map<string, number>): void {
    this.nb.registerImpl(syms.get(`${spec.name}_modcmd`)!, (cmd) => spec.modcmd(ctx, cmd));
    for (const [n, impl] of Object.entries(spec.impls ?? {})) {
      const a = syms.get(n);
      if (a === undefined) throw new Error(`module ${spec.name}: impl ${n} is not one of its functions`);
      this.nb.registerImpl(a, (x, y, z) => impl(ctx, x, y, z));
    }
  }

  /* -------------------------------------------------------------- kobj */

  /** kobj_load(): one module_map chunk holding text, data and bss. */
  private kobjLoad(spec: ModuleSpec, mod: number): Loaded | undefined {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const ps = k.pageSize;
    k.enter(this.FN.kobj_load);
    const fns = { ...(spec.functions ?? {}) };
    if (!(`${spec.name}_modcmd` in fns)) fns[`${spec.name}_modcmd`] = 0x80;
    // Text layout.
    const textOffs: Array<[string, number, number]> = [];
    let t = 0;
    for (const [n, sz] of Object.entries(fns)) {
      t = p2roundup(t, 16);
      textOffs.push([n, t, sz]);
      t += sz;
    }
    const textSize = p2roundup(Math.max(t, spec.textSize ?? 0), ps);
    // Data layout: modinfo, strings, objects.
    const T = nb.T;
    let d = T.size('modinfo_t');
    const strOffs = new Map<string, number>();
    for (const s of [spec.name, ...(spec.strings ?? []), spec.required ?? '']) {
      if (strOffs.has(s)) continue;
      strOffs.set(s, d);
      d += s.length + 1;
    }
    const objOffs: Array<[string, number, string]> = [];
    for (const ob of spec.objects ?? []) {
      const id = nb.typeId(ob.type);
      const al = Math.max(T.alignof(id), 8);
      const at = ob.offset ?? p2roundup(d, al);
      if (at < d) throw new Error(`module ${spec.name}: object ${ob.name} overlaps at data+0x${at.toString(16)}`);
      objOffs.push([ob.name, at, ob.type]);
      d = at + T.sizeof(id);
    }
    // The linkage the kernel's module list records (modlinkage, modlmisc, its description), last.
    const linkinfo = `NetBSD ${MODULE_CLASS_DIRS[spec.cls]?.[1] ?? 'misc'} module`;
    let linkAt = 0;
    if (k.modctl) {
      linkAt = p2roundup(d, 8);
      d = linkAt + T.size('struct modlinkage') + T.size('struct modlmisc') + linkinfo.length + 1;
    }
    const dataSize = p2roundup(Math.max(d, spec.dataSize ?? 0), ps);
    const size = textSize + dataSize;
    const base = this.nb.host.moduleMap.alloc(size, VM_SLEEP | VM_FIRSTFIT);
    if (base === 0) {
      k.leave();
      return undefined;
    }
    mem.map(base, size, PROT_RW);
    mem.fill8(base, textSize, 0xcc);
    const syms = new Map<string, number>();
    const ksyms: Array<Omit<KSymbol, 'module'>> = [];
    const prologue = functionPrologue(k.model);
    for (const [n, off, sz] of textOffs) {
      mem.write(base + off, prologue);
      syms.set(n, base + off);
      ksyms.push({ name: n, value: base + off, size: sz, kind: 'func' });
    }
    mem.protect(base, textSize, PROT_READ);
    const data = base + textSize;
    const strs = new Map<string, number>();
    for (const [s, off] of strOffs) {
      k.writeString(data + off, s, s.length + 1);
      strs.set(s, data + off);
    }
    for (const [n, off, type] of objOffs) {
      syms.set(n, data + off);
      ksyms.push({ name: n, value: data + off, size: nb.size(type), kind: 'object', type });
    }
    ksyms.push({ name: `${spec.name}_modinfo`, value: data, size: T.size('modinfo_t'), kind: 'object', type: 'modinfo_t' });
    this.writeModinfo(data, spec, syms, strs);
    if (linkAt !== 0) ksyms.push(...this.writeLinkage(spec.name, data + linkAt, linkinfo));
    k.addModuleSymbols(spec.name, ksyms);
    const kobj = nb.kmemZalloc(this.kobjSize);
    k.writeString(kobj + o.ko_name, spec.name, 32);
    mem.storePtr(kobj + o.ko_address, base);
    mem.storePtr(kobj + o.ko_size, size);
    mem.storePtr(kobj + o.ko_text_address, base);
    mem.storePtr(kobj + o.ko_text_size, textSize);
    mem.storePtr(kobj + o.ko_data_address, data);
    mem.storePtr(kobj + o.ko_data_size, dataSize);
    mem.store32(kobj + o.ko_loaded, 1);
    mem.storePtr(mod + o.mod_kobj, kobj);
    mem.storePtr(mod + o.mod_info, data);
    mem.storePtr(mod + o.mod_address, base);
    mem.storePtr(mod + o.mod_size, size);
    k.moduleHistory.push({ name: spec.name, base, size, textSize, loadTime: k.hrtime, symbols: ksyms.map((s) => ({ ...s, module: spec.name })) });
    const dir = MODULE_CLASS_DIRS[spec.cls]?.[0] ?? 'misc';
    const modctl = k.modctl?.load(spec.name, `${dir}/${spec.name}`, { text: base, textSize, data, dataSize }) ?? 0;
    const ctx = this.makeCtx(spec, mod, syms, strs);
    const l: Loaded = { spec, ctx, syms, strs, kobj, base, size, history: k.moduleHistory.length - 1, modctl, linkage: linkAt === 0 ? 0 : data + linkAt };
    this.loaded.set(mod, l);
    this.registerImpls(spec, ctx, syms);
    k.leave();
    return l;
  }

  /** kobj_unload(): unmap the chunk and give the VA back. */
  private kobjUnload(mod: number): void {
    const nb = this.nb;
    const k = nb.k;
    const l = this.loaded.get(mod);
    if (!l) return;
    k.enter(this.FN.kobj_unload);
    if (l.kobj !== 0) {
      if ((nb.debug & DEBUG_KOBJ_POOLS) !== 0) this.checkNoPools(l);
      for (const a of l.syms.values()) nb.unregisterImpl(a);
      nb.mem.unmap(l.base, l.size);
      nb.host.moduleMap.free(l.base, l.size);
      k.removeModuleSymbols(l.spec.name, l.base, l.size);
      const rec = k.moduleHistory[l.history];
      if (rec) rec.unloadTime = k.hrtime;
      nb.kmemFree(l.kobj, this.kobjSize);
      nb.mem.storePtr(mod + this.o.mod_kobj, 0);
      if (l.modctl !== 0) k.modctl?.unload(l.modctl);
    }
    this.loaded.delete(mod);
    k.leave();
  }

  /** DEBUG: a pool must not live inside a module being unloaded. */
  private checkNoPools(l: Loaded): void {
    const pools = this.os.pools;
    for (const pp of pools.pools()) {
      if (pp >= l.base && pp < l.base + l.size) {
        this.nb.k.panic(
          `kobj_unload: module \`${l.spec.name}' still has pool \`${pools.wchan(pp)}' at 0x${hex(pp)} (not pool_destroy()ed in MODULE_CMD_FINI)`,
        );
      }
    }
  }

  /**
   * The module's illumos linkage in its data: a modlinkage (MODREV_1)
   * whose first linkage is a modlmisc carrying the description, as a
   * module's _info hands mod_install.  Returns their symbols.
   */
  private writeLinkage(name: string, at: number, linkinfo: string): Array<Omit<KSymbol, 'module'>> {
    const k = this.nb.k;
    const mem = this.nb.mem;
    const T = this.nb.T;
    const ml = at;
    const misc = ml + T.size('struct modlinkage');
    const str = misc + T.size('struct modlmisc');
    mem.store32(ml + T.offsetof('struct modlinkage', 'ml_rev'), MODREV_1);
    mem.storePtr(ml + T.offsetof('struct modlinkage', 'ml_linkage'), misc);
    mem.storePtr(misc + T.offsetof('struct modlmisc', 'misc_linkinfo'), str);
    k.writeString(str, linkinfo, linkinfo.length + 1);
    return [
      { name: `${name}_modlinkage`, value: ml, size: T.size('struct modlinkage'), kind: 'object', type: 'struct modlinkage' },
      { name: `${name}_modlmisc`, value: misc, size: T.size('struct modlmisc'), kind: 'object', type: 'struct modlmisc' },
    ];
  }

  /** The modctl of a module on module_list (0 for a built-in one). */
  private modctlOf(mod: number): number {
    return this.loaded.get(mod)?.modctl ?? 0;
  }

  /* --------------------------------------------------------- the list */

  private enqueue(mod: number): void {
    const nb = this.nb;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    nb.k.enter(this.FN.module_enqueue);
    const nreq = mem.load32(mod + o.mod_nrequired);
    if (nreq !== 0) {
      nb.q.tailqInsertHead(this.g.module_list, mod, o.mod_list);
      for (let i = 0; i < nreq; i++) {
        const r = mem.loadPtr(mod + o.mod_required + i * P);
        mem.store32(r + o.mod_refcnt, mem.load32(r + o.mod_refcnt) + 1);
        const rc = this.modctlOf(r);
        if (rc !== 0) nb.k.modctl?.reference(rc, 1);
      }
    } else {
      nb.q.tailqInsertTail(this.g.module_list, mod, o.mod_list);
    }
    mem.store32(this.g.module_count, mem.load32(this.g.module_count) + 1);
    mem.store32(this.g.module_gen, (mem.load32(this.g.module_gen) + 1) >>> 0);
    nb.k.leave();
  }

  /** module_lookup(name): walk module_list comparing mi_name. */
  lookup(name: string): number {
    const mem = this.nb.mem;
    const o = this.o;
    let mod = mem.loadPtr(this.g.module_list);
    while (mod !== 0) {
      const mi = mem.loadPtr(mod + o.mod_info);
      if (this.nb.strcmpJs(mem.loadPtr(mi + o.mi_name), name) === 0) return mod;
      mod = mem.loadPtr(mod + o.mod_list);
    }
    return 0;
  }

  /** Names on module_list, head first. */
  list(): string[] {
    const mem = this.nb.mem;
    const o = this.o;
    const out: string[] = [];
    let mod = mem.loadPtr(this.g.module_list);
    while (mod !== 0 && out.length < 1000) {
      out.push(this.nb.str(mem.loadPtr(mem.loadPtr(mod + o.mod_info) + o.mi_name)));
      mod = mem.loadPtr(mod + o.mod_list);
    }
    return out;
  }

  get gen(): number {
    return this.nb.mem.load32(this.g.module_gen);
  }

  /* ------------------------------------------------------- messages */

  private print(msg: string): void {
    if (this.nb.mem.load32(this.g.module_verbose_on) !== 0) this.nb.k.printf(`DEBUG: module: ${msg}\n`);
  }

  private error(msg: string): void {
    this.nb.k.printf(`WARNING: module error: ${msg}\n`);
  }

  /* ------------------------------------------------------ load, unload */

  /** module_autoload(name, class) */
  autoload(name: string, modclass: number): number {
    const nb = this.nb;
    const k = nb.k;
    k.enter(this.FN.module_autoload + 0x5a);
    if (nb.mem.load8(this.g.module_autoload_on) === 0 || /[/@.]/.test(name)) {
      k.leave();
      return EPERM;
    }
    const r = this.doLoad(name, false, true, modclass);
    k.leave();
    return r.error;
  }

  /** modload(8): an explicit, non-autoloaded load. */
  load(name: string): number {
    this.nb.k.enter(this.FN.module_load + 0x2a);
    const r = this.doLoad(name, false, false, MODULE_CLASS_ANY);
    this.nb.k.leave();
    return r.error;
  }

  private doLoad(name: string, isdep: boolean, autoload: boolean, modclass: number): { error: number; mod: number } {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const FN = this.FN;
    k.enter(FN.module_do_load);
    const done = (error: number, mod: number) => {
      this.depth--;
      k.leave();
      return { error, mod };
    };
    if (++this.depth > MODULE_MAX_DEPTH) {
      this.error(`recursion too deep for \`${name}' ${this.depth} > ${MODULE_MAX_DEPTH}`);
      return done(EMLINK, 0);
    }
    if (isdep) {
      const m = this.lookup(name);
      if (m !== 0) return done(0, m);
    }
    const spec = this.registry.get(name);
    if (!spec || spec.builtin) {
      // module_load_vfs: no such file.  Quiet for the exec class.
      if (modclass !== MODULE_CLASS_EXEC && !spec) this.print(`vfs load failed for \`${name}', error ${ENOENT}`);
      if (spec?.builtin) {
        const m = this.lookup(name);
        return done(m !== 0 ? EEXIST : ENOENT, m);
      }
      return done(ENOENT, 0);
    }
    k.site(FN.module_do_load + 0x1a8);
    const mod = nb.kmemZalloc(this.modSize);
    k.local(0, mod);
    mem.store32(mod + o.mod_source, MODULE_SOURCE_FILESYS);
    const l = this.kobjLoad(spec, mod);
    if (!l) {
      nb.kmemFree(mod, this.modSize);
      this.error(`unable to load \`${name}': out of module_map`);
      return done(12, 0);
    }
    const mi = mem.loadPtr(mod + o.mod_info);
    const fail = (error: number) => {
      k.site(FN.module_do_load + 0x640);
      this.kobjUnload(mod);
      nb.kmemFree(mod, this.modSize);
      return done(error, 0);
    };
    if (modclass !== MODULE_CLASS_ANY && mem.load32(mi + o.mi_class) !== modclass) {
      this.error(`incompatible module class for \`${name}' (${modclass} != ${mem.load32(mi + o.mi_class)})`);
      return fail(ENOENT);
    }
    const other = this.lookup(name);
    if (other !== 0) {
      this.print(`module \`${name}' already loaded`);
      const r = fail(EEXIST);
      return { error: r.error, mod: other };
    }
    // Requisite modules, from the mi_required string in the module's data.
    const req = mem.loadPtr(mi + o.mi_required);
    if (req !== 0) {
      const list = nb.str(req, 256).split(',').filter((s) => s !== '');
      for (const r of list) {
        if (mem.load32(mod + o.mod_nrequired) === MAXMODDEPS - 1) {
          this.error(`too many required modules ${MAXMODDEPS - 1} >= ${MAXMODDEPS - 1}`);
          return fail(EINVAL);
        }
        if (r === name) {
          this.error(`self-dependency detected for \`${name}'`);
          return fail(EDEADLK);
        }
        k.site(FN.module_do_load + 0x3c4);
        const sub = this.doLoad(r, true, true, MODULE_CLASS_ANY);
        if (sub.error !== 0) {
          this.error(`recursive load failed for \`${name}' (\`${r}' required), error ${sub.error}`);
          return fail(sub.error);
        }
        const n = mem.load32(mod + o.mod_nrequired);
        mem.storePtr(mod + o.mod_required + n * nb.P, sub.mod);
        mem.store32(mod + o.mod_nrequired, n + 1);
      }
    }
    k.site(FN.module_do_load + 0x4d2);
    const prev = mem.loadPtr(this.g.module_active);
    mem.storePtr(this.g.module_active, mod);
    const err = nb.call(mem.loadPtr(mi + o.mi_modcmd), MODULE_CMD_INIT);
    mem.storePtr(this.g.module_active, prev);
    if (err !== 0) {
      this.error(`modcmd function failed for \`${name}', error ${err}`);
      return fail(err);
    }
    if (l.modctl !== 0) k.modctl?.installed(l.modctl, l.linkage);
    this.enqueue(mod);
    if (autoload && mem.loadI32(this.g.module_autotime) > 0) {
      mem.store64n(mod + o.mod_autotime, nb.timeSecond + mem.loadI32(this.g.module_autotime));
      mem.store32(mod + o.mod_flags, mem.load32(mod + o.mod_flags) | MODFLG_AUTO_LOADED);
      this.kick();
    }
    this.print(`loaded module \`${name}' at 0x${hex(l.base)}`);
    return done(0, mod);
  }

  /** modunload(8) */
  unload(name: string): number {
    return this.doUnload(name);
  }

  private doUnload(name: string): number {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    const P = nb.P;
    k.enter(this.FN.module_do_unload);
    const mod = this.lookup(name);
    k.local(0, mod);
    if (mod === 0) {
      this.error(`module \`${name}' not found`);
      k.leave();
      return ENOENT;
    }
    if (mem.load32(mod + o.mod_refcnt) !== 0) {
      this.print(`module \`${name}' busy`);
      k.leave();
      return EBUSY;
    }
    const mi = mem.loadPtr(mod + o.mod_info);
    const prev = mem.loadPtr(this.g.module_active);
    mem.storePtr(this.g.module_active, mod);
    const mc = this.modctlOf(mod);
    if (mc !== 0) k.modctl?.busy(mc, true);
    k.site(this.FN.module_do_unload + 0x9b);
    const err = nb.call(mem.loadPtr(mi + o.mi_modcmd), MODULE_CMD_FINI);
    mem.storePtr(this.g.module_active, prev);
    if (err !== 0) {
      if (mc !== 0) k.modctl?.busy(mc, false);
      this.print(`cannot unload module \`${name}' error=${err}`);
      k.leave();
      return err;
    }
    k.site(this.FN.module_do_unload + 0xd0);
    mem.store32(this.g.module_count, mem.load32(this.g.module_count) - 1);
    nb.q.tailqRemove(this.g.module_list, mod, o.mod_list);
    const nreq = mem.load32(mod + o.mod_nrequired);
    for (let i = 0; i < nreq; i++) {
      const r = mem.loadPtr(mod + o.mod_required + i * P);
      mem.store32(r + o.mod_refcnt, mem.load32(r + o.mod_refcnt) - 1);
      const rc = this.modctlOf(r);
      if (rc !== 0) k.modctl?.reference(rc, -1);
    }
    this.print(`unloaded module \`${name}'`);
    k.site(this.FN.module_do_unload + 0x148);
    if (mem.load32(mod + o.mod_source) === MODULE_SOURCE_KERNEL) {
      mem.store32(mod + o.mod_nrequired, 0);
      nb.q.tailqInsertTail(this.g.module_builtins, mod, o.mod_list);
    } else {
      this.kobjUnload(mod);
      nb.kmemFree(mod, this.modSize);
    }
    mem.store32(this.g.module_gen, (mem.load32(this.g.module_gen) + 1) >>> 0);
    k.leave();
    return 0;
  }

  /* --------------------------------------------------- the modunload thread */

  /** module_thread_kick(): wake the thread (it runs a pass a second later). */
  kick(): void {
    if (this.threadScheduled) return;
    this.threadScheduled = true;
    this.nb.k.timeout(this.thread, 1e9, this.FN.module_thread);
  }

  private threadPass(): void {
    const nb = this.nb;
    const k = nb.k;
    const mem = nb.mem;
    const o = this.o;
    this.threadScheduled = false;
    k.guard(() => {
      k.enter(this.FN.module_thread);
      mem.store32(this.g.module_thread_ticks, 0);
      const hz = mem.load32(k.g.hz);
      let mod = mem.loadPtr(this.g.module_list);
      while (mod !== 0) {
        const next = mem.loadPtr(mod + o.mod_list);
        k.local(0, mod);
        const skip =
          mem.load32(mod + o.mod_source) === MODULE_SOURCE_KERNEL || (mem.load32(mod + o.mod_flags) & MODFLG_AUTO_LOADED) === 0;
        if (!skip) {
          const autotime = mem.load64n(mod + o.mod_autotime);
          let go = true;
          if (this.os.uvm.underPressure()) {
            mem.store32(this.g.module_thread_ticks, hz);
          } else if (mem.loadI32(this.g.module_autotime) === 0 || autotime === 0) {
            go = false;
          } else if (nb.timeSecond < autotime) {
            mem.store32(this.g.module_thread_ticks, hz);
            go = false;
          } else {
            mem.store64n(mod + o.mod_autotime, 0);
          }
          if (go) {
            const mi = mem.loadPtr(mod + o.mod_info);
            k.site(this.FN.module_thread + 0xe4);
            const err = nb.call(mem.loadPtr(mi + o.mi_modcmd), MODULE_CMD_AUTOUNLOAD);
            const name = nb.str(mem.loadPtr(mi + o.mi_name));
            if (err === 0 || err === ENOTTY) {
              k.site(this.FN.module_thread + 0x10a);
              this.doUnload(name);
            } else {
              this.print(`module \`${name}' declined to be auto-unloaded error=${err}`);
            }
          }
        }
        mod = next;
      }
      k.leave();
    });
    if (mem.load32(this.g.module_thread_ticks) !== 0) this.kick();
  }
}
