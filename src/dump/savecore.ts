/*
 * savecore: write a crash dump of a kernel.
 *
 * Theory
 * ------
 * A dump is everything mdb will ever know about the kernel: the bytes of
 * every mapped page, the symbols, the C types, the threads' saved registers,
 * the loaded modules and their history, and the panic.  As on Solaris, a
 * dump N is the pair `unix.N` (the "namelist": symbols and types) and
 * `vmcore.N` (memory and the dump header) in the crash directory, and the
 * file `bounds` holds the next N.  Formats are in dump-format.ts and
 * docs/dump.md.
 *
 * Content: every mapped page of every segment (text, data, module_map,
 * segkp, heap) — "all mapped pages".  Pages are grouped into runs of
 * adjacent mapped pages with the same protection, one PT_LOAD per run, and
 * each run is written straight from the segment's backing store (one
 * write() per run, no copy), which is why a 1 GiB dump is written at disk
 * speed.
 *
 * Safety: a dump is never overwritten.  Both files are written under
 * temporary names and then *linked* to their final names (link(2) fails if
 * the name exists, unlike rename(2)), and only then is `bounds` advanced
 * (written to a temporary file and renamed, since `bounds` is meant to be
 * replaced).  If unix.N or vmcore.N already exists, N is skipped.
 *
 * The kernel calls savecore from panic() through `k.onPanic`, which
 * `installSavecore()` sets: every panic (kmem_error, a trap, an explicit
 * panic, a forced dump) leaves a dump, as dumpsys() does.  A failure to
 * write the dump is recorded (and printed to the msgbuf) but never replaces
 * the panic itself.
 */

import * as fs from 'node:fs';
import { Kernel, OS_NAME, OS_RELEASE, OS_VERSION } from '../kernel/kernel.js';
import { TS_ONPROC } from '../abi/kernel-core.js';
import {
  ByteWriter,
  DF_PANIC,
  DUMPHDR_MAGIC,
  DUMP_CONTENT_ALL,
  DUMP_VERSION,
  ELF32_SIZES,
  ELF64_SIZES,
  ET_CORE,
  KMEMDB_NT_DUMPHDR,
  KMEMDB_NT_MODULES,
  KMEMDB_NT_THREADS,
  MF_UNLOADED,
  NOTE_NAME,
  NT_PRSTATUS,
  PF_R,
  PF_W,
  PF_X,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  SHT_NULL,
  SK_FUNC,
  SK_OBJECT,
  writeEhdr,
  writeNote,
  writePhdr,
  writeShdr,
} from './dump-format.js';
import { buildUnix, machineName } from './namelist.js';
import { ensureDir, writeNumbered } from './numbering.js';

export { readBounds, ensureDir, writeNumbered } from './numbering.js';

export interface DumpInfo {
  readonly dir: string;
  readonly index: number;
  readonly unixPath: string;
  readonly vmcorePath: string;
  readonly panicMessage?: string;
  /** Bytes of memory written (sum of PT_LOAD sizes). */
  readonly memoryBytes: number;
  /** Number of PT_LOAD ranges. */
  readonly ranges: number;
}

export interface SavecoreOptions {
  /** What to dump; only "all" (every mapped page) exists. */
  readonly content?: 'all';
}

/* ---------------------------------------------------------------- ranges */

interface Run {
  /** Backing bytes of the run (a view into the segment). */
  readonly bytes: Uint8Array;
  readonly vaddr: number;
  readonly prot: number;
}

/** Runs of adjacent mapped pages with equal protection, in address order. */
function mappedRuns(k: Kernel): Run[] {
  const out: Run[] = [];
  const ps = k.pageSize;
  for (const seg of k.mem.segments()) {
    const prot = seg.prot;
    const n = prot.length;
    let i = 0;
    while (i < n) {
      const p = prot[i]!;
      if (p === 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < n && prot[j] === p) j++;
      const off = i * ps;
      const end = Math.min(j * ps, seg.size);
      out.push({ bytes: seg.u8.subarray(off, end), vaddr: seg.base + off, prot: p });
      i = j;
    }
  }
  return out;
}

/* ---------------------------------------------------------------- identity */

/** FNV-1a of a string: a deterministic id binding unix.N to vmcore.N. */
function dumpId(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


/* ---------------------------------------------------------------- vmcore.N */

interface ThreadState {
  addr: number;
  name: string;
  tid: number;
  /** The thread's number in the dump (1, 2, ...): gdb's LWP id, unique where t_tid is not (every one-LWP process's thread is LWP 1). */
  seq: number;
  state: number;
  pc: number;
  sp: number;
  fp: number;
  stackBase: number;
  stackTop: number;
  cpu: number;
}

/** Threads as memory says: saved registers from t_pcb / t_fp. */
function threadStates(k: Kernel): ThreadState[] {
  const T = k.types;
  const m = k.mem;
  const o = (f: string) => T.offsetof('kthread_t', f);
  const oPc = o('t_pcb.val[0]');
  const oSp = o('t_pcb.val[1]');
  const oFp = o('t_fp');
  const oBase = o('t_stkbase');
  const oTop = o('t_stk');
  const oState = o('t_state');
  const oTid = o('t_tid');
  return k.threads.map((t, i) => {
    const state = m.load16(t.addr + oState);
    return {
      addr: t.addr,
      name: t.name,
      tid: m.load32(t.addr + oTid),
      seq: i + 1,
      state,
      pc: m.loadPtr(t.addr + oPc),
      sp: m.loadPtr(t.addr + oSp),
      fp: m.loadPtr(t.addr + oFp),
      stackBase: m.loadPtr(t.addr + oBase),
      stackTop: m.loadPtr(t.addr + oTop),
      cpu: state === TS_ONPROC ? t.cpu : -1,
    };
  });
}

/** Linux-layout NT_PRSTATUS so gdb and readelf see threads and registers. */
function prstatus(is64: boolean, t: ThreadState, panicking: boolean): Uint8Array {
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  const w = new ByteWriter(Z.prstatus);
  w.zeros(Z.prstatus);
  const end = w.pos;
  const at = (off: number) => {
    w.pos = off;
    return w;
  };
  if (panicking) at(0).u32(11); // si_signo, and pr_cursig below: SIGSEGV-like
  if (panicking) at(12).u16(11);
  if (is64) {
    at(32).u32(t.seq);
    at(112 + 4 * 8).u64(t.fp); // rbp
    at(112 + 16 * 8).u64(t.pc); // rip
    at(112 + 19 * 8).u64(t.sp); // rsp
  } else {
    at(24).u32(t.seq);
    at(72 + 5 * 4).word(t.fp, false); // ebp
    at(72 + 12 * 4).word(t.pc, false); // eip
    at(72 + 15 * 4).word(t.sp, false); // esp
  }
  w.pos = end;
  return w.result();
}

function headerNote(k: Kernel, index: number, id: number, pages: number, panicThread: number): Uint8Array {
  const w = new ByteWriter();
  const panicked = k.panicking;
  w.u32(DUMPHDR_MAGIC).u32(DUMP_VERSION).u32(k.model.bits).u32(k.pageSize);
  w.u32(panicked ? DF_PANIC : 0).u32(id).u32(index).u32(k.ncpus);
  w.u64(k.timeSecond).u64(k.hrtime).u64(pages);
  w.u64(panicThread).i32(panicked ? k.mem.load32(k.g.panic_cpu) | 0 : -1).u32(DUMP_CONTENT_ALL);
  w.str(OS_NAME).str(OS_RELEASE).str(OS_VERSION).str(k.hostname).str(machineName(k));
  w.str(panicked ? (k.panicMessage ?? '') : '');
  return w.result();
}

function threadsNote(ts: ThreadState[]): Uint8Array {
  const w = new ByteWriter();
  w.u32(ts.length);
  for (const t of ts) {
    w.u64(t.addr).u64(t.pc).u64(t.sp).u64(t.fp).u64(t.stackBase).u64(t.stackTop);
    w.i32(t.cpu).u32(t.tid).u32(t.state).str(t.name);
  }
  return w.result();
}

function modulesNote(k: Kernel): Uint8Array {
  const w = new ByteWriter();
  w.u32(k.moduleHistory.length);
  for (const m of k.moduleHistory) {
    w.str(m.name).u64(m.base).u64(m.size).u64(m.textSize).u64(m.loadTime);
    w.u64(m.unloadTime ?? 0).u32(m.unloadTime !== undefined ? MF_UNLOADED : 0);
    w.u32(m.symbols.length);
    for (const s of m.symbols) w.u64(s.value).u64(s.size).u8(s.kind === 'func' ? SK_FUNC : SK_OBJECT).str(s.name);
  }
  return w.result();
}

function protFlags(prot: number, vaddr: number, k: Kernel): number {
  let f = PF_R;
  if ((prot & 2) !== 0) f |= PF_W;
  const L = k.layout;
  if ((vaddr >= L.textBase && vaddr < L.textBase + L.textSize) || (vaddr >= L.moduleBase && vaddr < L.moduleBase + L.moduleSize)) f |= PF_X;
  return f;
}

function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) {
    // Large runs go in 16 MiB pieces: one huge write(2) is several times
    // slower (dirty-page throttling) and moves at most ~2 GiB anyway.
    const n = fs.writeSync(fd, b, done, Math.min(b.length - done, 1 << 24));
    if (n <= 0) throw new Error('savecore: short write');
    done += n;
  }
}

/** Write vmcore.N to `file`; returns bytes of memory and number of ranges. */
export function writeVmcore(k: Kernel, file: string, index: number, id: number): { memoryBytes: number; ranges: number } {
  const is64 = k.model.ptrSize === 8;
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  const runs = mappedRuns(k);
  let memoryBytes = 0;
  for (const r of runs) memoryBytes += r.bytes.length;

  const ts = threadStates(k);
  const panicThread = k.panicking ? k.mem.loadPtr(k.g.panic_thread) : 0;
  // gdb takes the first NT_PRSTATUS as the current thread: the panicking one.
  const order = [...ts].sort((a, b) => (a.addr === panicThread ? -1 : b.addr === panicThread ? 1 : 0));
  const notes = new ByteWriter();
  for (const t of order) writeNote(notes, 'CORE', NT_PRSTATUS, prstatus(is64, t, t.addr === panicThread));
  writeNote(notes, NOTE_NAME, KMEMDB_NT_DUMPHDR, headerNote(k, index, id, memoryBytes / k.pageSize, panicThread));
  writeNote(notes, NOTE_NAME, KMEMDB_NT_THREADS, threadsNote(ts));
  writeNote(notes, NOTE_NAME, KMEMDB_NT_MODULES, modulesNote(k));
  const nb = notes.result();

  const phnum = 1 + runs.length;
  const xnum = phnum >= PN_XNUM;
  const phoff = Z.ehdr;
  const shoff = xnum ? phoff + phnum * Z.phdr : 0;
  const notesOff = phoff + phnum * Z.phdr + (xnum ? Z.shdr : 0);
  const dataOff = Math.ceil((notesOff + nb.length) / k.pageSize) * k.pageSize;

  const w = new ByteWriter(dataOff);
  writeEhdr(w, is64, { type: ET_CORE, entry: 0, phoff, phnum: xnum ? PN_XNUM : phnum, shoff, shnum: xnum ? 1 : 0, shstrndx: 0 });
  writePhdr(w, is64, { type: PT_NOTE, flags: 0, offset: notesOff, vaddr: 0, paddr: 0, filesz: nb.length, memsz: 0, align: 4 });
  let off = dataOff;
  for (const r of runs) {
    const size = r.bytes.length;
    writePhdr(w, is64, { type: PT_LOAD, flags: protFlags(r.prot, r.vaddr, k), offset: off, vaddr: r.vaddr, paddr: 0, filesz: size, memsz: size, align: k.pageSize });
    off += r.bytes.length;
  }
  if (xnum) writeShdr(w, is64, { name: 0, type: SHT_NULL, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: phnum, align: 0, entsize: 0 });
  w.bytes(nb);
  w.zeros(dataOff - w.pos);

  const fd = fs.openSync(file, 'wx');
  try {
    writeAll(fd, w.result());
    for (const r of runs) writeAll(fd, r.bytes);
  } finally {
    fs.closeSync(fd);
  }
  return { memoryBytes, ranges: runs.length };
}

/* ---------------------------------------------------------------- savecore */

/**
 * Write dump N of kernel k into `dir` (created if needed), N from `bounds`.
 * Works on a panicked kernel (the usual case) and on a running one (a live
 * dump, `savecore -L`: the threads' registers are saved first).
 */
export function savecore(k: Kernel, dir: string, _opts: SavecoreOptions = {}): DumpInfo {
  if (!k.panicking) for (const t of k.threads) k.materialize(t);
  const { index: n, paths, result } = writeNumbered(dir, ['unix', 'vmcore'], ([tmpU, tmpV], n) => {
    const id = dumpId(`${k.hostname}|${k.hrtime}|${n}|${k.panicMessage ?? ''}|${k.model.name}`);
    fs.writeFileSync(tmpU!, buildUnix(k, n, id), { flag: 'wx' });
    return writeVmcore(k, tmpV!, n, id);
  });
  const [unixPath, vmcorePath] = paths as [string, string];
  return { dir, index: n, unixPath, vmcorePath, panicMessage: k.panicking ? k.panicMessage : undefined, memoryBytes: result.memoryBytes, ranges: result.ranges };
}

const lastDumps = new WeakMap<Kernel, DumpInfo | Error>();

/**
 * Make every panic of k write a dump into dir (dumpsys); dir is created now
 * (an Error if that is impossible).  The result, a
 * DumpInfo or the Error that prevented the dump, is kept for `lastDump(k)`.
 */
export function installSavecore(k: Kernel, dir: string, opts: SavecoreOptions = {}): void {
  ensureDir(dir); // fail now, as dumpadm does, rather than at the panic
  k.onPanic = (kk) => {
    try {
      lastDumps.set(kk, savecore(kk, dir, opts));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      lastDumps.set(kk, err);
      kk.printf(`dump failed: ${err.message}\n`);
    }
  };
}

/** The dump written by the last panic of k (or why it failed). */
export function lastDump(k: Kernel): DumpInfo | Error | undefined {
  return lastDumps.get(k);
}
