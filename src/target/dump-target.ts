/*
 * The dump reader: a Target over unix.N + vmcore.N.
 *
 * Theory
 * ------
 * Opening a dump reads and validates only the small parts: unix.N whole
 * (symbols, types, notes; it is small) and, of vmcore.N, the ELF header, the
 * program headers and the notes.  Memory is paged in on demand, in chunks
 * of DUMP_CHUNK_SIZE bytes aligned within their PT_LOAD, through a bounded
 * LRU cache (default 32 MiB), so a 1 GiB dump opens in milliseconds and
 * reading it never holds more than the cache in memory.
 *
 * Validation: nothing in either file is trusted.  Every offset and size is
 * checked against the file size before it is used, every count against the
 * bytes that could hold it, ranges must be page aligned, inside the data
 * model's address space and non-overlapping, and the two files must carry
 * the same dump id.  Any violation throws DumpFormatError naming the file
 * and the field; nothing else escapes from openDump() for a bad file.  A
 * file that shrinks after opening also yields DumpFormatError.
 *
 * Hot path: loads keep the most recently used chunk (its base, length and
 * typed views) in fields, so a load in the same chunk is one subtraction, a
 * bounds test and an array index, as in PagedMemory.
 *
 * Memory: buffers of evicted chunks are recycled, so pointer chasing over a
 * large dump makes no garbage (otherwise V8 lets tens of MiB of dead chunks
 * pile up before collecting them).  Views handed out by bytes() must stay
 * valid, so a cached chunk that has been exposed through a view is never
 * recycled (it is left to the collector).  Sequential scans would flush the
 * cache, so bytes() of a chunk that is not cached reads it into a small
 * *scan ring* instead (SCAN_RING chunks, reused round robin): such a view is
 * valid until SCAN_RING further scan reads, which is what a scan needs (use
 * the bytes, then ask for the next piece); copy it (slice()) to keep it.
 */

import { SymbolIndex } from './symbols.js';
import { FileTarget } from './file-target.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TypeTable, CtfError } from '../ctf/ctf.js';
import { hex0x, TWO32 } from '../machine/addr.js';
import { ILP32, LP64, type DataModel } from '../machine/memory.js';
import {
  TargetReadError,
  type Target,
  type TargetModuleRecord,
  type TargetRange,
  type TargetStatus,
  type TargetSymbol,
  type TargetThread,
} from './target.js';
import {
  ByteCursor,
  DF_PANIC,
  DUMPHDR_MAGIC,
  DUMP_CONTENT_NAMES,
  DUMP_VERSION,
  DumpFormatError,
  ELF32_SIZES,
  ELF64_SIZES,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_386,
  EM_X86_64,
  ET_CORE,
  ET_EXEC,
  KMEMDB_NT_DUMPHDR,
  KMEMDB_NT_MODULES,
  KMEMDB_NT_SYMMODS,
  KMEMDB_NT_THREADS,
  KMEMDB_NT_UNIX,
  MF_UNLOADED,
  NOTE_NAME,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_SYMTAB,
  SK_FUNC,
  SK_OBJECT,
  STT_FUNC,
  STT_OBJECT,
  UNIX_MAGIC,
  parseNotes,
  type ElfSizes,
} from '../dump/dump-format.js';

export { DumpFormatError } from '../dump/dump-format.js';

/** Bytes per cached chunk; scans get views when they read at most this much. */
export const DUMP_CHUNK_SIZE = 256 * 1024;
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
/** Chunks in the scan ring (see the theory statement). */
export const SCAN_RING = 16;
const MAX_FREE = 8;
const MAX_UNIX_BYTES = 512 * 1024 * 1024;
const MAX_NOTE_BYTES = 256 * 1024 * 1024;
const MAX_SECTIONS = 4096;

export interface OpenDumpOptions {
  /** Bound of the page cache in bytes (default 32 MiB). */
  readonly cacheBytes?: number;
}

/* ---------------------------------------------------------------- ELF header */

interface ElfHeader {
  readonly is64: boolean;
  readonly Z: ElfSizes;
  readonly type: number;
  readonly machine: number;
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shoff: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

function parseEhdr(b: Uint8Array, what: string, fileSize: number): ElfHeader {
  const c: ByteCursor = new ByteCursor(b, what);
  if (b.length < 16 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) c.fail('not an ELF file');
  const cls = b[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) c.fail(`bad ELF class ${cls}`);
  if (b[5] !== ELFDATA2LSB) c.fail('not little-endian');
  if (b[6] !== 1) c.fail(`bad ELF version ${b[6]}`);
  const is64 = cls === ELFCLASS64;
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  c.pos = 16;
  c.need(Z.ehdr - 16, 'ELF header');
  const type = c.u16('e_type');
  const machine = c.u16('e_machine');
  if (machine !== (is64 ? EM_X86_64 : EM_386)) c.fail(`unexpected e_machine ${machine} for ELF${is64 ? 64 : 32}`);
  c.u32('e_version');
  c.word('e_entry', is64);
  const phoff = c.size('e_phoff', is64);
  const shoff = c.size('e_shoff', is64);
  c.u32('e_flags');
  const ehsize = c.u16('e_ehsize');
  if (ehsize !== Z.ehdr) c.fail(`bad e_ehsize ${ehsize}`);
  const phentsize = c.u16('e_phentsize');
  const phnum = c.u16('e_phnum');
  const shentsize = c.u16('e_shentsize');
  const shnum = c.u16('e_shnum');
  const shstrndx = c.u16('e_shstrndx');
  if (phnum > 0 && phentsize !== Z.phdr) c.fail(`bad e_phentsize ${phentsize}`);
  if (shnum > 0 && shentsize !== Z.shdr) c.fail(`bad e_shentsize ${shentsize}`);
  if (shnum > 0 && (shoff < Z.ehdr || shoff + shnum * Z.shdr > fileSize)) c.fail(`section headers (e_shoff ${shoff}, ${shnum} entries) outside the file`);
  return { is64, Z, type, machine, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx };
}

interface Section {
  readonly name: string;
  readonly type: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

/** NUL-terminated string at off in a string table (bounded). */
/** .kmemdb_symtypes: the C type of object symbols, by .symtab index ("INDEX<TAB>TYPE" lines); empty when absent. */
function symbolTypes(sec: Section | undefined, data: (s: Section) => Uint8Array): Map<number, string> {
  const out = new Map<number, string>();
  if (!sec || sec.type === SHT_NOBITS) return out;
  for (const line of new TextDecoder().decode(data(sec)).split('\n')) {
    const tab = line.indexOf('\t');
    const index = Number(line.slice(0, tab));
    if (tab > 0 && Number.isInteger(index) && index > 0) out.set(index, line.slice(tab + 1));
  }
  return out;
}

function cstr(tab: Uint8Array, off: number, c: ByteCursor, field: string): string {
  if (!(off >= 0 && off < tab.length)) c.fail(`${field} ${off} outside its string table`);
  let end = tab.indexOf(0, off);
  if (end < 0) c.fail(`${field} is not NUL-terminated`);
  if (end - off > 4096) end = off + 4096;
  let s = '';
  for (let i = off; i < end; i++) s += String.fromCharCode(tab[i]!);
  return s;
}

/* ---------------------------------------------------------------- unix.N */

interface UnixInfo {
  readonly model: DataModel;
  readonly pageSize: number;
  readonly id: number;
  readonly index: number;
  readonly version: string;
  readonly symbols: TargetSymbol[];
  readonly types: TypeTable;
}

function parseUnix(file: string): UnixInfo {
  const what = path.basename(file);
  let b: Uint8Array;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new DumpFormatError(`${what}: not a regular file`);
    if (st.size > MAX_UNIX_BYTES) throw new DumpFormatError(`${what}: implausibly large (${st.size} bytes)`);
    b = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof DumpFormatError) throw e;
    throw new DumpFormatError(`cannot open ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const h = parseEhdr(b, what, b.length);
  const c: ByteCursor = new ByteCursor(b, what);
  if (h.type !== ET_EXEC) c.fail(`not a kernel namelist (e_type ${h.type})`);
  if (h.shnum === 0 || h.shnum > MAX_SECTIONS) c.fail(`bad section count ${h.shnum}`);
  if (h.shstrndx >= h.shnum) c.fail(`e_shstrndx ${h.shstrndx} out of range`);
  const raw: Array<Omit<Section, 'name'> & { nameOff: number }> = [];
  for (let i = 0; i < h.shnum; i++) {
    c.pos = h.shoff + i * h.Z.shdr;
    const nameOff = c.u32('sh_name');
    const type = c.u32('sh_type');
    c.size('sh_flags', h.is64);
    const addr = c.word('sh_addr', h.is64);
    const offset = c.size('sh_offset', h.is64);
    const size = c.size('sh_size', h.is64);
    const link = c.u32('sh_link');
    const info = c.u32('sh_info');
    c.size('sh_addralign', h.is64);
    const entsize = c.size('sh_entsize', h.is64);
    if (type !== SHT_NOBITS && i > 0 && offset + size > b.length) c.fail(`section ${i} (offset ${offset}, size ${size}) extends past the end of the file`);
    raw.push({ nameOff, type, addr, offset, size, link, info, entsize });
  }
  const shstr = raw[h.shstrndx]!;
  const shstrtab = b.subarray(shstr.offset, shstr.offset + shstr.size);
  const secs: Section[] = raw.map((s, i) => ({ ...s, name: i === 0 ? '' : cstr(shstrtab, s.nameOff, c, `section ${i} name`) }));
  const data = (s: Section) => b.subarray(s.offset, s.offset + s.size);
  const byName = (n: string) => secs.find((s) => s.name === n);

  // identification and symbol/module groups
  const noteSec = secs.find((s) => s.type === SHT_NOTE && s.name === '.note.kmemdb');
  if (!noteSec) c.fail('no .note.kmemdb section');
  let ident: { bits: number; pageSize: number; id: number; index: number; version: string } | undefined;
  const groups: Array<{ first: number; count: number; module: string }> = [];
  for (const n of parseNotes(data(noteSec), `${what} .note.kmemdb`)) {
    if (n.name !== NOTE_NAME) continue;
    if (n.type === KMEMDB_NT_UNIX) {
      const d = new ByteCursor(n.desc, `${what} identification note`);
      if (d.u32('magic') !== UNIX_MAGIC) d.fail('bad magic');
      const v = d.u32('version');
      if (v !== DUMP_VERSION) d.fail(`unsupported version ${v}`);
      const bits = d.u32('data model');
      const pageSize = d.u32('page size');
      const id = d.u32('dump id');
      const index = d.u32('dump index');
      const parts = [d.str('os name'), d.str('os release'), d.str('os version')];
      d.str('hostname');
      const machine = d.str('machine');
      ident = { bits, pageSize, id, index, version: `${parts.join(' ')} (${machine})` };
    } else if (n.type === KMEMDB_NT_SYMMODS) {
      const d = new ByteCursor(n.desc, `${what} symbol module note`);
      const cnt = d.count('module count', 12);
      for (let i = 0; i < cnt; i++) groups.push({ first: d.u32('first symbol'), count: d.u32('symbol count'), module: d.str('module name') });
    }
  }
  if (!ident) c.fail('no kmemdb identification note');
  if (ident.bits !== (h.is64 ? 64 : 32)) c.fail(`identification says ${ident.bits}-bit in an ELF${h.is64 ? 64 : 32} file`);
  if (ident.pageSize !== 4096 && ident.pageSize !== 8192) c.fail(`bad page size ${ident.pageSize}`);
  const model = h.is64 ? LP64 : ILP32;

  // symbols
  const symSec = secs.find((s) => s.type === SHT_SYMTAB);
  if (!symSec) c.fail('no symbol table');
  if (symSec.entsize !== h.Z.sym || symSec.size % h.Z.sym !== 0) c.fail(`bad .symtab entry size ${symSec.entsize}`);
  if (symSec.link === 0 || symSec.link >= secs.length) c.fail(`bad .symtab string table link ${symSec.link}`);
  const strtab = data(secs[symSec.link]!);
  const nsym = symSec.size / h.Z.sym;
  const modOf: Array<string | undefined> = new Array<string | undefined>(nsym);
  for (const g of groups) {
    if (g.first < 1 || g.first + g.count > nsym) c.fail(`module ${g.module} symbol range ${g.first}+${g.count} outside .symtab`);
    for (let i = g.first; i < g.first + g.count; i++) modOf[i] = g.module;
  }
  const symTypes = symbolTypes(byName('.kmemdb_symtypes'), data);
  const symbols: TargetSymbol[] = [];
  const sc = new ByteCursor(data(symSec), `${what} .symtab`);
  for (let i = 1; i < nsym; i++) {
    sc.pos = i * h.Z.sym;
    let nameOff: number, value: number, size: number, info: number, other: number, shndx: number;
    if (h.is64) {
      nameOff = sc.u32('st_name');
      info = sc.u8('st_info');
      other = sc.u8('st_other');
      shndx = sc.u16('st_shndx');
      value = sc.word('st_value', true);
      size = sc.u64('st_size');
    } else {
      nameOff = sc.u32('st_name');
      value = sc.u32('st_value');
      size = sc.u32('st_size');
      info = sc.u8('st_info');
      other = sc.u8('st_other');
      shndx = sc.u16('st_shndx');
    }
    const t = info & 0xf;
    if (t !== STT_FUNC && t !== STT_OBJECT) continue;
    const name = cstr(strtab, nameOff, sc, `symbol ${i} name`);
    const m = modOf[i];
    const type = symTypes.get(i);
    const elf = { bind: info >> 4, other, shndx };
    symbols.push({ name, value, size, kind: t === STT_FUNC ? 'func' : 'object', elf, ...(m !== undefined ? { module: m } : {}), ...(type !== undefined ? { type } : {}) });
  }

  // types
  const ctfSec = byName('.kmemdb_ctf');
  if (!ctfSec || ctfSec.type === SHT_NOBITS) c.fail('no .kmemdb_ctf type section');
  let types: TypeTable;
  try {
    types = TypeTable.deserialize(data(ctfSec), model);
    checkTypes(types);
  } catch (e) {
    if (e instanceof CtfError || e instanceof TypeError || e instanceof RangeError) c.fail(`bad type data: ${e.message}`);
    throw e;
  }
  return { model, pageSize: ident.pageSize, id: ident.id, index: ident.index, version: ident.version, symbols, types };
}

/** Check every deserialised type has the fields its kind needs (mdb relies on them). */
export function checkTypes(tt: TypeTable): void {
  const n = tt.count();
  const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  for (let id = 0; id < n; id++) {
    const t = tt.get(id);
    const bad = (why: string): never => {
      throw new CtfError(`type ${id}: ${why}`);
    };
    switch (t.kind) {
      case 'void':
        break;
      case 'int':
      case 'float':
        if (typeof t.name !== 'string' || !isNum(t.size) || t.size > 16) bad('bad base type');
        break;
      case 'ptr':
        break;
      case 'array':
        if (!isNum(t.count)) bad('bad array count');
        break;
      case 'struct':
      case 'union':
        if (typeof t.name !== 'string' || !Array.isArray(t.members) || !isNum(t.size) || !isNum(t.align) || t.align < 1) bad('bad struct');
        for (const m of t.members) {
          if (typeof m !== 'object' || m === null || typeof m.name !== 'string' || !isNum(m.bitOffset) || !isNum(m.bits)) bad('bad member');
        }
        break;
      case 'enum':
        if (typeof t.name !== 'string' || !Array.isArray(t.values)) bad('bad enum');
        for (const v of t.values) if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'number') bad('bad enumerator');
        break;
      case 'typedef':
        if (typeof t.name !== 'string') bad('bad typedef');
        break;
      case 'func':
        if (!Array.isArray(t.args)) bad('bad function type');
        break;
      default:
        bad(`unknown kind ${String((t as { kind: unknown }).kind)}`);
    }
  }
  // Sizes must be computable without running away (cycles through arrays/typedefs).
  for (let id = 0; id < n; id++) {
    let r = id;
    for (let depth = 0; ; depth++) {
      const t = tt.get(r);
      if (t.kind !== 'typedef' && t.kind !== 'array' && t.kind !== 'ptr' && t.kind !== 'func') break;
      if (depth > 64) throw new CtfError(`type ${id}: reference cycle`);
      r = t.kind === 'func' ? t.ret : t.ref;
    }
    const sz = tt.sizeof(id);
    if (!Number.isFinite(sz) || sz < 0) throw new CtfError(`type ${id}: bad size`);
  }
}

/* ---------------------------------------------------------------- vmcore.N */

/** A cached chunk; recycled whole (object, buffer and views) when evicted. */
interface Chunk {
  id: number;
  /** Bytes valid in the buffer (the last chunk of a PT_LOAD may be short). */
  len: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** A view of it has been returned by bytes(): never recycle its buffer. */
  exposed: boolean;
}

function newChunk(): Chunk {
  const buf = new ArrayBuffer(DUMP_CHUNK_SIZE);
  return { id: -1, len: 0, u8: new Uint8Array(buf), u16: new Uint16Array(buf), u32: new Uint32Array(buf), exposed: false };
}

interface Load {
  vaddr: number;
  size: number;
  offset: number;
  chunk0: number;
}

interface Header {
  panicked: boolean;
  id: number;
  index: number;
  ncpus: number;
  time: number;
  hrtime: number;
  pages: number;
  panicThread: number;
  panicCpu: number;
  content: string;
  osName: string;
  osRelease: string;
  osVersion: string;
  hostname: string;
  machine: string;
  panicMessage: string;
}

function readAt(fd: number, buf: Uint8Array, pos: number, what: string, len = buf.length): void {
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, done, len - done, pos + done);
    if (n <= 0) throw new DumpFormatError(`${what}: file is truncated (short read at offset ${pos + done})`);
    done += n;
  }
}

function parseHeaderNote(d: ByteCursor, bits: 32 | 64, pageSize: number): Header {
  if (d.u32('magic') !== DUMPHDR_MAGIC) d.fail('bad magic');
  const v = d.u32('version');
  if (v !== DUMP_VERSION) d.fail(`unsupported version ${v}`);
  if (d.u32('data model') !== bits) d.fail('data model differs from unix');
  if (d.u32('page size') !== pageSize) d.fail('page size differs from unix');
  const flags = d.u32('flags');
  const id = d.u32('dump id');
  const index = d.u32('dump index');
  const ncpus = d.u32('ncpus');
  const time = d.u64('dump time');
  const hrtime = d.u64('hrtime');
  const pages = d.u64('pages');
  const panicThread = d.addr64('panic thread', bits);
  const panicCpu = d.i32('panic cpu');
  const contentCode = d.u32('content');
  const content = DUMP_CONTENT_NAMES[contentCode];
  if (content === undefined) d.fail(`unknown dump content ${contentCode}`);
  return {
    panicked: (flags & DF_PANIC) !== 0,
    id,
    index,
    ncpus,
    time,
    hrtime,
    pages,
    panicThread,
    panicCpu,
    content,
    osName: d.str('os name'),
    osRelease: d.str('os release'),
    osVersion: d.str('os version'),
    hostname: d.str('hostname'),
    machine: d.str('machine'),
    panicMessage: d.str('panic message'),
  };
}

function parseThreadsNote(d: ByteCursor, bits: 32 | 64): TargetThread[] {
  const n = d.count('thread count', 64);
  const out: TargetThread[] = [];
  for (let i = 0; i < n; i++) {
    const addr = d.addr64('thread address', bits);
    const pc = d.addr64('pc', bits);
    const sp = d.addr64('sp', bits);
    const fp = d.addr64('fp', bits);
    const stackBase = d.addr64('stack base', bits);
    const stackTop = d.addr64('stack top', bits);
    const cpu = d.i32('cpu');
    d.u32('tid');
    d.u32('state');
    const name = d.str('thread name');
    out.push({ addr, name, pc, sp, fp, stackBase, stackTop, cpu });
  }
  return out;
}

function parseModulesNote(d: ByteCursor, bits: 32 | 64): TargetModuleRecord[] {
  const n = d.count('module count', 52);
  const out: TargetModuleRecord[] = [];
  for (let i = 0; i < n; i++) {
    const name = d.str('module name');
    const base = d.addr64('module base', bits);
    const size = d.u64('module size');
    const textSize = d.u64('module text size');
    const loadTime = d.u64('load time');
    const unloadTime = d.u64('unload time');
    const flags = d.u32('module flags');
    const ns = d.count('module symbol count', 21);
    const symbols: TargetSymbol[] = [];
    for (let j = 0; j < ns; j++) {
      const value = d.addr64('symbol value', bits);
      const ssize = d.u64('symbol size');
      const kind = d.u8('symbol kind');
      if (kind !== SK_FUNC && kind !== SK_OBJECT) d.fail(`bad symbol kind ${kind}`);
      symbols.push({ name: d.str('symbol name'), value, size: ssize, kind: kind === SK_FUNC ? 'func' : 'object', module: name });
    }
    out.push((flags & MF_UNLOADED) !== 0 ? { name, base, size, textSize, loadTime, unloadTime, symbols } : { name, base, size, textSize, loadTime, symbols });
  }
  return out;
}

/* ---------------------------------------------------------------- target */

export class DumpTarget extends FileTarget implements Target {
  readonly model: DataModel;
  readonly pageSize: number;
  readonly types: TypeTable;
  protected readonly fileKind = 'a crash dump';
  readonly unixPath: string;
  readonly vmcorePath: string;
  /** The kernel's version string (from unix.N). */
  readonly version: string;

  private fd: number;
  private readonly fileSize: number;
  private readonly loads: Load[];
  private readonly loadBase: Float64Array;
  private readonly loadEnd: Float64Array;
  private readonly mergedRanges: TargetRange[];
  private readonly cache = new Map<number, Chunk>();
  private readonly free: Chunk[] = [];
  private readonly ring: Array<{ id: number; u8: Uint8Array }> = [];
  private ringNext = 0;
  private readonly cacheMax: number;
  protected readonly syms: SymbolIndex;
  private readonly hdr: Header;
  private readonly thr: readonly TargetThread[];
  private readonly mods: readonly TargetModuleRecord[];

  /* the current chunk */
  private cBase = 0;
  private cLen = 0;
  private cU8: Uint8Array = new Uint8Array(0);
  private cU16: Uint16Array = new Uint16Array(0);
  private cU32: Uint32Array = new Uint32Array(0);
  private cChunk: Chunk | undefined;

  /** Chunk reads from the file (for tests and benchmarks). */
  chunkReads = 0;

  constructor(unixPath: string, vmcorePath: string, opts: OpenDumpOptions = {}) {
    super();
    this.unixPath = unixPath;
    this.vmcorePath = vmcorePath;
    const unix = parseUnix(unixPath);
    this.model = unix.model;
    this.pageSize = unix.pageSize;
    this.types = unix.types;
    this.version = unix.version;
    this.syms = new SymbolIndex(unix.symbols); // kernel and loaded modules from unix.N
    this.cacheMax = Math.max(2, Math.floor((opts.cacheBytes ?? DEFAULT_CACHE_BYTES) / DUMP_CHUNK_SIZE));

    const what = path.basename(vmcorePath);
    try {
      this.fd = fs.openSync(vmcorePath, 'r');
    } catch (e) {
      throw new DumpFormatError(`cannot open ${vmcorePath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      this.fileSize = fs.fstatSync(this.fd).size;
      const bits = this.model.bits;
      const eh = new Uint8Array(Math.min(64, this.fileSize));
      readAt(this.fd, eh, 0, what);
      const h = parseEhdr(eh, what, this.fileSize);
      const c: ByteCursor = new ByteCursor(eh, what);
      if (h.type !== ET_CORE) c.fail(`not a core file (e_type ${h.type})`);
      if (h.is64 !== (bits === 64)) c.fail(`ELF${h.is64 ? 64 : 32} core with a ${bits}-bit namelist`);
      let phnum = h.phnum;
      if (phnum === PN_XNUM) {
        if (h.shnum < 1) c.fail('e_phnum is PN_XNUM but there is no section header 0');
        const s0 = new Uint8Array(h.Z.shdr);
        readAt(this.fd, s0, h.shoff, what);
        phnum = new ByteCursor(s0, what, h.is64 ? 44 : 28).u32('sh_info');
      }
      if (phnum < 1) c.fail('no program headers');
      if (h.phoff < h.Z.ehdr || h.phoff + phnum * h.Z.phdr > this.fileSize) c.fail(`program headers (e_phoff ${h.phoff}, ${phnum} entries) outside the file`);
      const ph = new Uint8Array(phnum * h.Z.phdr);
      readAt(this.fd, ph, h.phoff, what);
      const pc = new ByteCursor(ph, `${what} program headers`);
      const loads: Load[] = [];
      const noteBufs: Uint8Array[] = [];
      let noteBytes = 0;
      for (let i = 0; i < phnum; i++) {
        pc.pos = i * h.Z.phdr;
        let type: number, offset: number, vaddr: number, filesz: number, memsz: number;
        if (h.is64) {
          type = pc.u32('p_type');
          pc.u32('p_flags');
          offset = pc.u64('p_offset');
          vaddr = pc.addr64(`p_vaddr of program header ${i}`, 64);
          pc.u64('p_paddr');
          filesz = pc.u64('p_filesz');
          memsz = pc.u64('p_memsz');
        } else {
          type = pc.u32('p_type');
          offset = pc.u32('p_offset');
          vaddr = pc.u32('p_vaddr');
          pc.u32('p_paddr');
          filesz = pc.u32('p_filesz');
          memsz = pc.u32('p_memsz');
        }
        if (type !== PT_LOAD && type !== PT_NOTE) continue;
        if (offset + filesz > this.fileSize) pc.fail(`program header ${i} (offset ${offset}, size ${filesz}) extends past the end of the file (${this.fileSize} bytes)`);
        if (type === PT_NOTE) {
          noteBytes += filesz;
          if (noteBytes > MAX_NOTE_BYTES) pc.fail('notes implausibly large');
          const nb = new Uint8Array(filesz);
          readAt(this.fd, nb, offset, what);
          noteBufs.push(nb);
          continue;
        }
        if (memsz !== filesz) pc.fail(`program header ${i}: p_memsz ${memsz} differs from p_filesz ${filesz}`);
        if (filesz === 0 || filesz % this.pageSize !== 0 || vaddr % this.pageSize !== 0) pc.fail(`program header ${i}: range ${hex0x(vaddr)}+${filesz} is not page aligned`);
        const end = vaddr + filesz;
        if (bits === 32 ? end > TWO32 : vaddr < 0 ? end > 0 || vaddr < -0x800000000000 : end > 0x800000000000) {
          pc.fail(`program header ${i}: range ${hex0x(vaddr)}+${filesz} leaves the ${bits}-bit address space`);
        }
        loads.push({ vaddr, size: filesz, offset, chunk0: 0 });
      }
      if (loads.length === 0) c.fail('no memory (PT_LOAD) in the dump');
      loads.sort((x, y) => x.vaddr - y.vaddr);
      let chunk = 0;
      for (let i = 0; i < loads.length; i++) {
        const l = loads[i]!;
        if (i > 0 && l.vaddr < loads[i - 1]!.vaddr + loads[i - 1]!.size) c.fail(`PT_LOAD ranges overlap at ${hex0x(l.vaddr)}`);
        l.chunk0 = chunk;
        chunk += Math.ceil(l.size / DUMP_CHUNK_SIZE);
      }
      this.loads = loads;
      this.loadBase = Float64Array.from(loads, (l) => l.vaddr);
      this.loadEnd = Float64Array.from(loads, (l) => l.vaddr + l.size);
      const merged: TargetRange[] = [];
      for (const l of loads) {
        const last = merged[merged.length - 1];
        if (last && last.base + last.size === l.vaddr) merged[merged.length - 1] = { base: last.base, size: last.size + l.size };
        else merged.push({ base: l.vaddr, size: l.size });
      }
      this.mergedRanges = merged;

      // notes
      let hdr: Header | undefined;
      let thr: TargetThread[] = [];
      let mods: TargetModuleRecord[] = [];
      for (const nb of noteBufs) {
        for (const n of parseNotes(nb, `${what} notes`)) {
          if (n.name !== NOTE_NAME) continue;
          if (n.type === KMEMDB_NT_DUMPHDR) hdr = parseHeaderNote(new ByteCursor(n.desc, `${what} dump header`), bits, this.pageSize);
          else if (n.type === KMEMDB_NT_THREADS) thr = parseThreadsNote(new ByteCursor(n.desc, `${what} thread note`), bits);
          else if (n.type === KMEMDB_NT_MODULES) mods = parseModulesNote(new ByteCursor(n.desc, `${what} module note`), bits);
        }
      }
      if (!hdr) c.fail('no kmemdb dump header note');
      if (hdr.id !== unix.id || hdr.index !== unix.index) {
        throw new DumpFormatError(`${path.basename(unixPath)} does not belong to ${what} (dump ${unix.index} id ${unix.id.toString(16)} vs dump ${hdr.index} id ${hdr.id.toString(16)})`);
      }
      this.hdr = hdr;
      this.thr = thr;
      this.mods = mods;
    } catch (e) {
      fs.closeSync(this.fd);
      this.fd = -1;
      throw e;
    }
  }

  /** Release the file descriptor and the cache. */
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.cache.clear();
    this.free.length = 0;
    this.ring.length = 0;
    this.cBase = 0;
    this.cLen = 0;
    this.cChunk = undefined;
  }

  /* ------------------------------------------------------------ paging */

  private findLoad(a: number): number {
    const b = this.loadBase;
    let lo = 0;
    let hi = b.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a < b[mid]!) hi = mid - 1;
      else if (a >= this.loadEnd[mid]!) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Make the chunk holding a current; throws TargetReadError if unmapped. */
  private chunkAt(a: number): void {
    const li = this.findLoad(a);
    if (li < 0) throw new TargetReadError(a);
    const l = this.loads[li]!;
    const k = Math.floor((a - l.vaddr) / DUMP_CHUNK_SIZE);
    const id = l.chunk0 + k;
    let ch = this.cache.get(id);
    if (ch !== undefined) {
      this.cache.delete(id);
      this.cache.set(id, ch);
    } else {
      if (this.cache.size >= this.cacheMax) this.evict();
      const len = Math.min(DUMP_CHUNK_SIZE, l.size - k * DUMP_CHUNK_SIZE);
      ch = this.free.pop() ?? newChunk();
      ch.id = -1;
      this.fill(ch.u8, len, l.offset + k * DUMP_CHUNK_SIZE, a);
      ch.id = id;
      ch.len = len;
      ch.exposed = false;
      this.cache.set(id, ch);
    }
    this.cChunk = ch;
    this.cBase = l.vaddr + k * DUMP_CHUNK_SIZE;
    this.cLen = ch.len;
    this.cU8 = ch.u8;
    this.cU16 = ch.u16;
    this.cU32 = ch.u32;
  }

  private evict(): void {
    const old = this.cache.values().next().value!;
    this.cache.delete(old.id);
    if (!old.exposed && this.free.length < MAX_FREE) this.free.push(old);
  }

  private fill(u8: Uint8Array, len: number, pos: number, a: number): void {
    if (this.fd < 0) throw new TargetReadError(a, `failed to read memory at ${hex0x(a)}: dump is closed`);
    readAt(this.fd, u8, pos, path.basename(this.vmcorePath), len);
    this.chunkReads++;
  }

  load8(a: number): number {
    const off = a - this.cBase;
    if (off >= 0 && off < this.cLen) return this.cU8[off]!;
    this.chunkAt(a);
    return this.cU8[a - this.cBase]!;
  }

  load16(a: number): number {
    const off = a - this.cBase;
    if ((off & 1) === 0 && off >= 0 && off + 2 <= this.cLen) return this.cU16[off >>> 1]!;
    return this.load8(a) | (this.load8(a + 1) << 8);
  }

  load32(a: number): number {
    const off = a - this.cBase;
    if ((off & 3) === 0 && off >= 0 && off + 4 <= this.cLen) return this.cU32[off >>> 2]!;
    return this.load32slow(a);
  }

  private load32slow(a: number): number {
    this.chunkAt(a);
    const off = a - this.cBase;
    if ((off & 3) === 0 && off + 4 <= this.cLen) return this.cU32[off >>> 2]!;
    return (this.load8(a) | (this.load8(a + 1) << 8) | (this.load8(a + 2) << 16) | (this.load8(a + 3) << 24)) >>> 0;
  }

  load64(a: number): bigint {
    const lo = this.load32(a);
    const hi = this.load32(a + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  loadPtr(a: number): number {
    if (this.model.ptrSize === 4) return this.load32(a);
    const lo = this.load32(a);
    return (this.load32(a + 4) | 0) * TWO32 + lo;
  }

  isMapped(a: number): boolean {
    return this.findLoad(a) >= 0;
  }

  /** Throw unless [a, a+len) is wholly mapped. */
  private checkMapped(a: number, len: number): void {
    if (!(len >= 0) || !Number.isSafeInteger(len)) throw new TargetReadError(a, `bad read length ${len} at ${hex0x(a)}`);
    let p = a;
    const end = a + len;
    while (p < end) {
      const li = this.findLoad(p);
      if (li < 0) throw new TargetReadError(p);
      p = this.loadEnd[li]!;
    }
  }

  read(a: number, len: number): Uint8Array {
    this.checkMapped(a, len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const p = a + done;
      let off = p - this.cBase;
      if (!(off >= 0 && off < this.cLen)) {
        this.chunkAt(p);
        off = p - this.cBase;
      }
      const n = Math.min(len - done, this.cLen - off);
      out.set(this.cU8.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  ranges(): readonly TargetRange[] {
    return this.mergedRanges;
  }

  bytes(base: number, size: number): Uint8Array {
    if (size > 0) {
      const off = base - this.cBase;
      if (off >= 0 && off + size <= this.cLen) {
        this.cChunk!.exposed = true;
        return this.cU8.subarray(off, off + size);
      }
      const li = this.findLoad(base);
      if (li < 0) throw new TargetReadError(base);
      const l = this.loads[li]!;
      const k = Math.floor((base - l.vaddr) / DUMP_CHUNK_SIZE);
      const cbase = l.vaddr + k * DUMP_CHUNK_SIZE;
      const len = Math.min(DUMP_CHUNK_SIZE, l.size - k * DUMP_CHUNK_SIZE);
      const o = base - cbase;
      if (o + size <= len) {
        const id = l.chunk0 + k;
        const ch = this.cache.get(id);
        if (ch !== undefined) {
          ch.exposed = true;
          return ch.u8.subarray(o, o + size);
        }
        for (const r of this.ring) if (r.id === id) return r.u8.subarray(o, o + size);
        // a scan: read the chunk into the ring, not the cache
        let slot = this.ring[this.ringNext];
        if (!slot) this.ring.push((slot = { id: -1, u8: new Uint8Array(DUMP_CHUNK_SIZE) }));
        this.ringNext = (this.ringNext + 1) % SCAN_RING;
        slot.id = -1;
        this.fill(slot.u8, len, l.offset + k * DUMP_CHUNK_SIZE, base);
        slot.id = id;
        return slot.u8.subarray(o, o + size);
      }
    }
    return this.read(base, size);
  }

  /* ------------------------------------------------------------ facts */

  status(): TargetStatus {
    const h = this.hdr;
    return {
      kind: 'dump',
      osName: h.osName,
      osRelease: h.osRelease,
      osVersion: h.osVersion,
      hostname: h.hostname,
      panicMessage: h.panicked ? h.panicMessage : undefined,
      panicThread: h.panicked ? h.panicThread : undefined,
      panicCpu: h.panicked ? h.panicCpu : undefined,
      dumpName: path.basename(this.vmcorePath),
      dumpTime: h.time,
      content: h.content,
    };
  }

  /** Dump header facts beyond TargetStatus. */
  header(): { readonly index: number; readonly ncpus: number; readonly hrtime: number; readonly pages: number; readonly machine: string } {
    return { index: this.hdr.index, ncpus: this.hdr.ncpus, hrtime: this.hdr.hrtime, pages: this.hdr.pages, machine: this.hdr.machine };
  }

  threads(): readonly TargetThread[] {
    return this.thr;
  }

  moduleHistory(): readonly TargetModuleRecord[] {
    return this.mods;
  }
}

/** Open a dump from its two files. */
export function openDump(unixPath: string, vmcorePath: string, opts: OpenDumpOptions = {}): DumpTarget {
  return new DumpTarget(unixPath, vmcorePath, opts);
}

/**
 * Resolve mdb-style dump arguments to the two files:
 *   N              unix.N and vmcore.N in the current directory
 *   DIR            the latest dump in DIR (bounds - 1)
 *   DIR N          unix.N and vmcore.N in DIR
 *   vmcore.N       with unix.N beside it
 *   UNIX VMCORE    the two paths
 */
export function resolveDump(args: readonly string[]): { unixPath: string; vmcorePath: string } {
  const pair = (dir: string, n: string) => ({ unixPath: path.join(dir, `unix.${n}`), vmcorePath: path.join(dir, `vmcore.${n}`) });
  const isDir = (p: string) => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (args.length === 1) {
    const a = args[0]!;
    if (/^\d+$/.test(a) && !isDir(a)) return pair('.', a);
    if (isDir(a)) {
      let s: string;
      try {
        s = fs.readFileSync(path.join(a, 'bounds'), 'utf8').trim();
      } catch {
        throw new DumpFormatError(`${a}: no crash dumps (no bounds file)`);
      }
      if (!/^\d+$/.test(s) || Number(s) < 1) throw new DumpFormatError(`${path.join(a, 'bounds')}: bad contents`);
      return pair(a, String(Number(s) - 1));
    }
    const m = /^(.*?)vmcore\.(\d+)$/.exec(a);
    if (m) return { unixPath: `${m[1]}unix.${m[2]}`, vmcorePath: a };
    throw new DumpFormatError(`${a}: not a dump number, crash directory or vmcore file`);
  }
  if (args.length === 2) {
    const [a, b] = args as [string, string];
    if (/^\d+$/.test(b) && isDir(a)) return pair(a, b);
    return { unixPath: a, vmcorePath: b };
  }
  throw new DumpFormatError(`expected a dump: N, DIR, DIR N, or UNIX VMCORE`);
}

/** Open a dump given mdb-style arguments (see resolveDump). */
export function openDumpArgs(args: readonly string[], opts: OpenDumpOptions = {}): DumpTarget {
  const { unixPath, vmcorePath } = resolveDump(args);
  return openDump(unixPath, vmcorePath, opts);
}
