/*
 * Crash dump file formats: ELF constants, the kmemdb note layouts, and the
 * two byte codecs (a growable little-endian writer and a bounds-checked
 * cursor) that savecore and the reader share.
 *
 * Theory
 * ------
 * A dump is two ELF files (see docs/dump.md for the full layout):
 *
 *   unix.N    ET_EXEC: .symtab/.strtab with every kernel function and global
 *             (module symbols grouped at the end, their module names in a
 *             KMEMDB_NT_SYMMODS note), our C types in `.kmemdb_ctf`, the
 *             version string in `.comment`, and a KMEMDB_NT_UNIX note.
 *   vmcore.N  ET_CORE: one PT_NOTE (a "CORE" NT_PRSTATUS per thread, so gdb
 *             sees threads and registers, then the "kmemdb" notes: dump
 *             header, threads, module history) and one PT_LOAD per run of
 *             mapped pages with equal protection.
 *
 * Every multi-byte field is little-endian.  Addresses in kmemdb notes are
 * always 64-bit (two 32-bit halves, low first) whatever the data model; in
 * ELF structures they take the class's natural width.  Strings in notes are
 * a u32 byte length followed by UTF-8 bytes (no NUL, no padding).
 *
 * The cursor never trusts a length: every read checks the bytes remaining
 * and throws DumpFormatError naming the field, and every count is checked
 * against the bytes left before anything is allocated for it, so a corrupt
 * dump costs at most its own size in memory.
 */

import { fromHalves, hi32, lo32 } from '../machine/addr.js';

/** A malformed, truncated or mismatched dump file. */
export class DumpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DumpFormatError';
  }
}

/* ---------------------------------------------------------------- ELF */

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const ET_CORE = 4;
export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PT_GNU_STACK = 0x6474e551;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const PN_XNUM = 0xffff;
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 1;
export const SHF_ALLOC = 2;
export const SHF_EXECINSTR = 4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const STB_GLOBAL = 1;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const NT_GNU_BUILD_ID = 3;
export const NT_PRSTATUS = 1;

/** Sizes of ELF structures per class. */
export interface ElfSizes {
  readonly ehdr: number;
  readonly phdr: number;
  readonly shdr: number;
  readonly sym: number;
  /** NT_PRSTATUS descriptor size (Linux layout). */
  readonly prstatus: number;
}
export const ELF64_SIZES: ElfSizes = { ehdr: 64, phdr: 56, shdr: 64, sym: 24, prstatus: 336 };
export const ELF32_SIZES: ElfSizes = { ehdr: 52, phdr: 32, shdr: 40, sym: 16, prstatus: 144 };

/* ---------------------------------------------------------------- kmemdb notes */

/*
 * Owner name and types of our notes.  The types are chosen outside the
 * values BFD gives meaning to whatever the owner (1 NT_PRSTATUS, 2
 * NT_FPREGSET, ...), so gdb and readelf ignore them instead of misreading.
 */
export const NOTE_NAME = 'kmemdb';
/** vmcore.N: the dump header. */
export const KMEMDB_NT_DUMPHDR = 0x4b4d0001;
/** vmcore.N: saved state of every thread. */
export const KMEMDB_NT_THREADS = 0x4b4d0002;
/** vmcore.N: module load/unload history with each module's symbols. */
export const KMEMDB_NT_MODULES = 0x4b4d0003;
/** unix.N: identification (must match the vmcore's header). */
export const KMEMDB_NT_UNIX = 0x4b4d0010;
/** unix.N: which .symtab entries belong to which module. */
export const KMEMDB_NT_SYMMODS = 0x4b4d0011;

export const DUMPHDR_MAGIC = 0x48444d4b; // "KMDH"
export const UNIX_MAGIC = 0x55444d4b; // "KMDU"
export const DUMP_VERSION = 1;

/** Dump header flags. */
export const DF_PANIC = 1; // dump taken by a panic (else a live dump)

/** Dump content codes. */
export const DUMP_CONTENT_ALL = 1;
export const DUMP_CONTENT_NAMES: Record<number, string> = { [DUMP_CONTENT_ALL]: 'all mapped pages' };

/** Module record flags. */
export const MF_UNLOADED = 1;

/** Symbol kinds in module notes. */
export const SK_FUNC = 1;
export const SK_OBJECT = 2;

/** Largest string we accept in a note (a corrupt length must not allocate). */
export const MAX_NOTE_STRING = 1 << 16;

/* ---------------------------------------------------------------- writer */

/** A growable little-endian byte buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private dv: DataView;
  pos = 0;
  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
  }

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
  }

  u8(v: number): this {
    this.need(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.need(2);
    this.dv.setUint16(this.pos, v & 0xffff, true);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.need(4);
    this.dv.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    return this.u32(v | 0);
  }
  /** A 64-bit field from a number (signed address representation, or a count). */
  u64(v: number): this {
    this.u32(lo32(v));
    return this.u32(hi32(v) >>> 0);
  }
  /** An address-sized field: 8 bytes for ELF64, 4 for ELF32. */
  word(v: number, is64: boolean): this {
    return is64 ? this.u64(v) : this.u32(lo32(v));
  }
  bytes(b: Uint8Array): this {
    this.need(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  zeros(n: number): this {
    this.need(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }
  align(a: number): this {
    const r = this.pos % a;
    return r === 0 ? this : this.zeros(a - r);
  }
  /** Length-prefixed UTF-8 string (note encoding). */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    return this.bytes(b);
  }
  /** Overwrite a u32 already written. */
  patch32(at: number, v: number): void {
    this.dv.setUint32(at, v >>> 0, true);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Append one ELF note (namesz, descsz, type, name, desc; 4-byte padding). */
export function writeNote(w: ByteWriter, name: string, type: number, desc: Uint8Array): void {
  const nb = new TextEncoder().encode(name + '\0');
  w.u32(nb.length).u32(desc.length).u32(type);
  w.bytes(nb).align(4);
  w.bytes(desc).align(4);
}

/* ---------------------------------------------------------------- ELF writing */

/** The fields of an ELF header that differ between our files. */
export interface Ehdr {
  readonly type: number;
  readonly entry: number;
  readonly phoff: number;
  readonly phnum: number;
  readonly shoff: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

/** An ELF header: x86-64 for ELF64, i386 for ELF32, little-endian. */
export function writeEhdr(w: ByteWriter, is64: boolean, h: Ehdr): void {
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  w.bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, is64 ? ELFCLASS64 : ELFCLASS32, ELFDATA2LSB, EV_CURRENT, 0]));
  w.zeros(8);
  w.u16(h.type).u16(is64 ? EM_X86_64 : EM_386).u32(EV_CURRENT);
  w.word(h.entry, is64).word(h.phoff, is64).word(h.shoff, is64);
  w.u32(0).u16(Z.ehdr).u16(h.phnum ? Z.phdr : 0).u16(h.phnum).u16(h.shnum ? Z.shdr : 0).u16(h.shnum).u16(h.shstrndx);
}

/** A section header. */
export interface Shdr {
  readonly name: number;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly align: number;
  readonly entsize: number;
}

export function writeShdr(w: ByteWriter, is64: boolean, s: Shdr): void {
  w.u32(s.name).u32(s.type).word(s.flags, is64).word(s.addr, is64).word(s.offset, is64).word(s.size, is64);
  w.u32(s.link).u32(s.info).word(s.align, is64).word(s.entsize, is64);
}

/** A program header. */
export interface Phdr {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  /** Physical address: 0 in a core (unknown), the vaddr in an executable. */
  readonly paddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

export function writePhdr(w: ByteWriter, is64: boolean, p: Phdr): void {
  if (is64) {
    w.u32(p.type).u32(p.flags).u64(p.offset).u64(p.vaddr).u64(p.paddr).u64(p.filesz).u64(p.memsz).u64(p.align);
  } else {
    w.u32(p.type).u32(p.offset).word(p.vaddr, false).word(p.paddr, false).u32(p.filesz).u32(p.memsz).u32(p.flags).u32(p.align);
  }
}

/** A string table under construction (.strtab, .shstrtab). */
export class StrTab {
  private readonly w = new ByteWriter(1024);
  private readonly seen = new Map<string, number>();
  constructor() {
    this.w.u8(0);
  }
  add(s: string): number {
    const have = this.seen.get(s);
    if (have !== undefined) return have;
    const at = this.w.pos;
    this.w.bytes(new TextEncoder().encode(s)).u8(0);
    this.seen.set(s, at);
    return at;
  }
  result(): Uint8Array {
    return this.w.result();
  }
}

/* ---------------------------------------------------------------- cursor */

/** A bounds-checked little-endian reader over a byte array. */
export class ByteCursor {
  private readonly dv: DataView;
  pos: number;
  constructor(
    readonly b: Uint8Array,
    /** What is being read, for error messages ("vmcore.3 dump header"). */
    readonly what: string,
    start = 0,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.b.length - this.pos;
  }

  fail(msg: string): never {
    throw new DumpFormatError(`${this.what}: ${msg}`);
  }

  need(n: number, field: string): void {
    if (!(n >= 0) || this.pos + n > this.b.length) this.fail(`truncated at ${field} (offset ${this.pos}, need ${n} bytes, have ${this.remaining})`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.b[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(field: string): number {
    return this.u32(field) | 0;
  }
  /** An unsigned 64-bit count or size; must be < 2^53. */
  u64(field: string): number {
    const lo = this.u32(field);
    const hi = this.u32(field);
    if (hi >= 0x200000) this.fail(`${field} out of range`);
    return hi * 4294967296 + lo;
  }
  /**
   * A 64-bit address in our signed representation.  For ILP32 the high half
   * must be zero; for LP64 the value must fit in 53 bits signed (canonical
   * 48-bit addresses always do).
   */
  addr64(field: string, bits: 32 | 64): number {
    const lo = this.u32(field);
    const hi = this.u32(field) | 0;
    if (bits === 32) {
      if (hi !== 0) this.fail(`${field} is not a 32-bit address`);
      return lo;
    }
    if (hi < -0x200000 || hi >= 0x200000) this.fail(`${field} is not a canonical address`);
    return fromHalves(hi, lo);
  }
  /** Address-sized ELF field (8 bytes for ELF64, 4 for ELF32), as an address. */
  word(field: string, is64: boolean): number {
    return is64 ? this.addr64(field, 64) : this.u32(field);
  }
  /** Address-sized ELF field as an unsigned size/offset (< 2^53). */
  size(field: string, is64: boolean): number {
    return is64 ? this.u64(field) : this.u32(field);
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(field: string): string {
    const n = this.u32(field);
    if (n > MAX_NOTE_STRING) this.fail(`${field} too long (${n} bytes)`);
    const b = this.bytes(n, field);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }
  /** A record count, checked against the bytes left (each record >= minSize). */
  count(field: string, minSize: number): number {
    const n = this.u32(field);
    if (n * minSize > this.remaining) this.fail(`${field} ${n} exceeds the data present`);
    return n;
  }
  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }
}

/** A parsed ELF note. */
export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

/** Parse a note area; every size is validated. */
export function parseNotes(b: Uint8Array, what: string): ElfNote[] {
  const c = new ByteCursor(b, what);
  const out: ElfNote[] = [];
  while (c.remaining > 0) {
    if (c.remaining < 12) c.fail('trailing bytes after the last note');
    const namesz = c.u32('note namesz');
    const descsz = c.u32('note descsz');
    const type = c.u32('note type');
    const nameb = c.bytes(namesz, 'note name');
    c.skip((4 - (namesz % 4)) % 4, 'note name padding');
    const desc = c.bytes(descsz, 'note descriptor');
    if (c.remaining > 0) c.skip(Math.min((4 - (descsz % 4)) % 4, c.remaining), 'note padding');
    let end = nameb.indexOf(0);
    if (end < 0) end = nameb.length;
    out.push({ name: String.fromCharCode(...nameb.subarray(0, Math.min(end, 64))), type, desc });
  }
  return out;
}
