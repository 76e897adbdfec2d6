/*
 * unix.N: the namelist of a dump, an ELF executable that mdb, gdb, drgn
 * and the ELF tools all read.
 *
 * Theory
 * ------
 * mdb needs the symbols, our C type table and the identification notes;
 * standard tools need the same facts in standard form.  So unix.N is an
 * ordinary statically linked executable image of the kernel:
 *
 *   - loadable segments: the kernel text (its real bytes: int3 padding and
 *     a frame-pointer prologue at each function, see functionPrologue),
 *     each loaded module's text likewise, and the kernel data and each
 *     module's data as zero-filled (NOBITS) ranges, since their contents
 *     are in vmcore.N;
 *   - `.symtab`/`.strtab` with every function and global, each in the
 *     section that holds its address;
 *   - DWARF (`.debug_info`, `.debug_abbrev`, `.debug_str`, `.debug_aranges`,
 *     `.debug_ranges`), generated from the same TypeTable as `.kmemdb_ctf`
 *     (dwarf.ts), so gdb and drgn know every type, global and function;
 *   - `.note.gnu.build-id` (a SHA-1 of the rest), in a PT_NOTE, as tools
 *     expect of an executable;
 *   - our own `.kmemdb_ctf`, `.note.kmemdb` and `.comment`.
 *
 * The layout in the file follows the ELF rules tools check: each loadable
 * section's file offset is congruent to its address modulo the page size,
 * every allocated section lies in exactly one segment, and no section is
 * both writable and executable.
 */

import { createHash } from 'node:crypto';
import { Kernel, OS_NAME, OS_RELEASE, OS_VERSION, type KSymbol } from '../kernel/kernel.js';
import { p2roundup } from '../machine/addr.js';
import { CtfError, type TypeId } from '../ctf/ctf.js';
import { buildDwarf, DwarfError, type DwarfFunction, type DwarfSections, type DwarfVariable } from './dwarf.js';
import {
  ByteWriter,
  DUMP_VERSION,
  ELF32_SIZES,
  ELF64_SIZES,
  ET_EXEC,
  KMEMDB_NT_SYMMODS,
  KMEMDB_NT_UNIX,
  NOTE_NAME,
  NT_GNU_BUILD_ID,
  PF_R,
  PF_W,
  PF_X,
  PT_GNU_STACK,
  PT_LOAD,
  PT_NOTE,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_MERGE,
  SHF_STRINGS,
  SHF_WRITE,
  SHN_ABS,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_NULL,
  SHT_PROGBITS,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STT_FUNC,
  STT_OBJECT,
  StrTab,
  UNIX_MAGIC,
  writeEhdr,
  writeNote,
  writePhdr,
  writeShdr,
  type Phdr,
} from './dump-format.js';

/** The machine name of a kernel's data model, as utsname says it. */
export function machineName(k: Kernel): string {
  return k.model.ptrSize === 8 ? 'amd64' : 'i386';
}

/** One section of the image: loaded (addr, with bytes or zero-filled) or not. */
interface Section {
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  /** File contents; absent for NOBITS. */
  readonly data?: Uint8Array;
  /** Size in memory (NOBITS) or of data. */
  readonly size: number;
  readonly align: number;
  readonly entsize?: number;
  /** Section names, resolved to indices when headers are written. */
  readonly link?: string;
  readonly info?: number;
}

/* ---------------------------------------------------------------- loaded ranges */

/** A loadable segment: its sections, in address order, bytes first, zero-fill last. */
interface LoadSegment {
  readonly flags: number;
  readonly sections: readonly Section[];
}

/** Bytes of [base, base+size) as a PROGBITS section. */
function bytesSection(k: Kernel, name: string, base: number, size: number, flags: number): Section {
  return { name, type: SHT_PROGBITS, flags, addr: base, data: k.mem.read(base, size), size, align: 16 };
}

/** End of the last symbol of `kind` in [base, base+size), rounded up to a page. */
function usedEnd(k: Kernel, kind: 'func' | 'object', base: number, size: number): number {
  let end = base;
  for (const s of k.symbols()) if (s.kind === kind && s.value >= base && s.value < base + size) end = Math.max(end, s.value + s.size);
  return Math.min(p2roundup(end, k.pageSize), base + size);
}

/**
 * The kernel text (its bytes), the kernel data (the used part's bytes,
 * then the rest zero-filled as .bss), then each loaded module's text and
 * data.  Data bytes are a copy of memory at dump time; vmcore.N has the
 * same bytes and is what debuggers read them from.
 */
function loadSegments(k: Kernel): LoadSegment[] {
  const L = k.layout;
  const text = SHF_ALLOC | SHF_EXECINSTR;
  const data = SHF_ALLOC | SHF_WRITE;
  const textEnd = usedEnd(k, 'func', L.textBase, L.textSize);
  const dataEnd = usedEnd(k, 'object', L.dataBase, L.dataSize);
  const out: LoadSegment[] = [
    { flags: PF_R | PF_X, sections: [bytesSection(k, '.text', L.textBase, textEnd - L.textBase, text)] },
    {
      flags: PF_R | PF_W,
      sections: [
        bytesSection(k, '.data', L.dataBase, dataEnd - L.dataBase, data),
        { name: '.bss', type: SHT_NOBITS, flags: data, addr: dataEnd, size: L.dataBase + L.dataSize - dataEnd, align: 16 },
      ],
    },
  ];
  for (const m of k.moduleHistory) {
    if (m.unloadTime !== undefined || !allMapped(k, m.base, m.size)) continue;
    out.push({ flags: PF_R | PF_X, sections: [bytesSection(k, `.text.${m.name}`, m.base, m.textSize, text)] });
    if (m.size > m.textSize) out.push({ flags: PF_R | PF_W, sections: [bytesSection(k, `.data.${m.name}`, m.base + m.textSize, m.size - m.textSize, data)] });
  }
  return out.map((g) => ({ flags: g.flags, sections: g.sections.filter((sec) => sec.size > 0) })).filter((g) => g.sections.length > 0);
}

function allMapped(k: Kernel, base: number, size: number): boolean {
  for (let a = base; a < base + size; a += k.pageSize) if (!k.mem.isMapped(a)) return false;
  return true;
}

/* ---------------------------------------------------------------- symbols */

/** Kernel symbols first, then each module's symbols together. */
function orderedSymbols(k: Kernel): { syms: KSymbol[]; groups: Array<{ module: string; first: number; count: number }> } {
  const kernel: KSymbol[] = [];
  const byMod = new Map<string, KSymbol[]>();
  for (const s of k.symbols()) {
    if (s.module === undefined) kernel.push(s);
    else {
      let l = byMod.get(s.module);
      if (!l) byMod.set(s.module, (l = []));
      l.push(s);
    }
  }
  const syms = kernel;
  const groups: Array<{ module: string; first: number; count: number }> = [];
  for (const [module, l] of byMod) {
    groups.push({ module, first: syms.length + 1, count: l.length }); // +1: symbol 0 is the null symbol
    for (const s of l) syms.push(s);
  }
  return { syms, groups };
}

function symbolTable(k: Kernel, syms: readonly KSymbol[], homes: readonly Section[], firstHome: number): { symtab: Uint8Array; strtab: Uint8Array } {
  const is64 = k.model.ptrSize === 8;
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  const strtab = new StrTab();
  const shndxOf = (a: number): number => {
    for (let i = 0; i < homes.length; i++) if (a >= homes[i]!.addr && a < homes[i]!.addr + homes[i]!.size) return firstHome + i;
    return SHN_ABS;
  };
  const w = new ByteWriter(Z.sym * (syms.length + 1));
  w.zeros(Z.sym);
  for (const s of syms) {
    const name = strtab.add(s.name);
    const info = (STB_GLOBAL << 4) | (s.kind === 'func' ? STT_FUNC : STT_OBJECT);
    const shndx = shndxOf(s.value);
    if (is64) w.u32(name).u8(info).u8(0).u16(shndx).u64(s.value).u64(s.size);
    else w.u32(name).word(s.value, false).u32(s.size).u8(info).u8(0).u16(shndx);
  }
  return { symtab: w.result(), strtab: strtab.result() };
}

/* ---------------------------------------------------------------- notes and DWARF */

function kmemdbNotes(k: Kernel, index: number, id: number, groups: ReadonlyArray<{ module: string; first: number; count: number }>): Uint8Array {
  const notes = new ByteWriter();
  const ident = new ByteWriter();
  ident.u32(UNIX_MAGIC).u32(DUMP_VERSION).u32(k.model.bits).u32(k.pageSize).u32(id).u32(index);
  ident.str(OS_NAME).str(OS_RELEASE).str(OS_VERSION).str(k.hostname).str(machineName(k));
  writeNote(notes, NOTE_NAME, KMEMDB_NT_UNIX, ident.result());
  const sm = new ByteWriter();
  sm.u32(groups.length);
  for (const g of groups) sm.u32(g.first).u32(g.count).str(g.module);
  writeNote(notes, NOTE_NAME, KMEMDB_NT_SYMMODS, sm.result());
  return notes.result();
}

/** The type of a global, or undefined when its declared type is unknown (it gets no DWARF variable). */
function typeOf(k: Kernel, typeName: string): TypeId | undefined {
  try {
    return k.typeId(typeName);
  } catch (e) {
    if (e instanceof CtfError) return undefined;
    throw e;
  }
}

function dwarfSections(k: Kernel, syms: readonly KSymbol[]): Section[] {
  const variables: DwarfVariable[] = [];
  const functions: DwarfFunction[] = [];
  for (const s of syms) {
    if (s.kind === 'func') functions.push({ name: s.name, addr: s.value, size: s.size });
    else if (s.type !== undefined) {
      const type = typeOf(k, s.type);
      if (type !== undefined) variables.push({ name: s.name, addr: s.value, type });
    }
  }
  const producer = `${OS_NAME} ${OS_RELEASE} ${OS_VERSION} savecore`;
  let d: DwarfSections;
  try {
    d = buildDwarf({ types: k.types, variables, functions, producer, unitName: 'unix' }, k.model.ptrSize === 8 ? 8 : 4);
  } catch (e) {
    // A type table DWARF cannot express still leaves a dump mdb can read.
    if (e instanceof DwarfError) return [];
    throw e;
  }
  return Object.entries(d).map(([name, data]) => {
    const strings = name === '.debug_str';
    return { name, type: SHT_PROGBITS, flags: strings ? SHF_MERGE | SHF_STRINGS : 0, addr: 0, data, size: data.length, align: 1, entsize: strings ? 1 : 0 };
  });
}

/** The GNU build-id note: a SHA-1 of everything else in the image. */
function buildIdNote(parts: readonly Section[]): Uint8Array {
  const h = createHash('sha1');
  for (const s of parts) {
    h.update(s.name);
    if (s.data) h.update(s.data);
  }
  const w = new ByteWriter(40);
  writeNote(w, 'GNU', NT_GNU_BUILD_ID, new Uint8Array(h.digest()));
  return w.result();
}

/* ---------------------------------------------------------------- the image */

/**
 * The C types of the object symbols that have one (mdb's `SYMBOL::print`
 * takes the type from the symbol, as illumos' does from CTF's object
 * section): one line per symbol, "INDEX<TAB>TYPE", INDEX its .symtab index.
 */
function symbolTypes(syms: readonly KSymbol[]): Uint8Array {
  const lines = syms.flatMap((s, i) => (s.kind === 'object' && s.type !== undefined ? [`${i + 1}\t${s.type}\n`] : []));
  return new TextEncoder().encode(lines.join(''));
}

/** Build the bytes of unix.N. */
export function buildUnix(k: Kernel, index: number, id: number): Uint8Array {
  const is64 = k.model.ptrSize === 8;
  const Z = is64 ? ELF64_SIZES : ELF32_SIZES;
  const ps = k.pageSize;

  const segments = loadSegments(k);
  const loaded = segments.flatMap((g) => g.sections);
  const { syms, groups } = orderedSymbols(k);
  // Section 0 is null and section 1 the build-id note; loaded sections follow.
  const { symtab, strtab } = symbolTable(k, syms, loaded, 2);
  const comment = new TextEncoder().encode(`${OS_NAME} ${OS_RELEASE} ${OS_VERSION} (${machineName(k)})\0`);
  const rest: Section[] = [
    { name: '.symtab', type: SHT_SYMTAB, flags: 0, addr: 0, data: symtab, size: symtab.length, align: 8, entsize: Z.sym, link: '.strtab', info: 1 },
    { name: '.strtab', type: SHT_STRTAB, flags: 0, addr: 0, data: strtab, size: strtab.length, align: 1 },
    ...dwarfSections(k, syms),
    { name: '.kmemdb_ctf', type: SHT_PROGBITS, flags: 0, addr: 0, data: k.types.serialize(), size: 0, align: 8 },
    { name: '.kmemdb_symtypes', type: SHT_PROGBITS, flags: 0, addr: 0, data: symbolTypes(syms), size: 0, align: 1 },
    { name: '.comment', type: SHT_PROGBITS, flags: SHF_MERGE | SHF_STRINGS, addr: 0, data: comment, size: comment.length, align: 1, entsize: 1 },
    { name: '.note.kmemdb', type: SHT_NOTE, flags: 0, addr: 0, data: kmemdbNotes(k, index, id, groups), size: 0, align: 4 },
  ];
  const buildId = buildIdNote([...loaded, ...rest]);
  const note: Section = { name: '.note.gnu.build-id', type: SHT_NOTE, flags: 0, addr: 0, data: buildId, size: buildId.length, align: 4 };
  const secs: Section[] = [note, ...loaded, ...rest];
  const shstr = new StrTab();
  for (const s of secs) shstr.add(s.name);
  shstr.add('.shstrtab');
  secs.push({ name: '.shstrtab', type: SHT_STRTAB, flags: 0, addr: 0, data: shstr.result(), size: 0, align: 1 });

  // File contents: headers, the note, then each segment page-aligned (so
  // offsets are congruent to addresses), then the unloaded sections.
  const phnum = segments.length + 2;
  const w = new ByteWriter(Z.ehdr + phnum * Z.phdr + 256 * 1024);
  w.zeros(Z.ehdr + phnum * Z.phdr);
  const offsets = new Map<Section, number>();
  const put = (s: Section): void => {
    w.align(s.align);
    offsets.set(s, w.pos);
    w.bytes(s.data!);
  };
  put(note);
  const phdrs: Phdr[] = [];
  for (const g of segments) {
    w.align(ps);
    const base = g.sections[0]!.addr;
    const offset = w.pos;
    let filesz = 0;
    for (const s of g.sections) {
      offsets.set(s, offset + (s.addr - base));
      if (s.data) {
        w.bytes(s.data);
        filesz = s.addr - base + s.data.length;
      }
    }
    const last = g.sections[g.sections.length - 1]!;
    phdrs.push({ type: PT_LOAD, flags: g.flags, offset, vaddr: base, paddr: base, filesz, memsz: last.addr + last.size - base, align: ps });
  }
  phdrs.push({ type: PT_NOTE, flags: PF_R, offset: offsets.get(note)!, vaddr: 0, paddr: 0, filesz: buildId.length, memsz: 0, align: 4 });
  phdrs.push({ type: PT_GNU_STACK, flags: PF_R | PF_W, offset: 0, vaddr: 0, paddr: 0, filesz: 0, memsz: 0, align: 16 });
  for (const s of [...rest, secs[secs.length - 1]!]) put(s);

  w.align(8);
  const shoff = w.pos;
  const indexOf = (name: string): number => secs.findIndex((s) => s.name === name) + 1;
  writeShdr(w, is64, { name: 0, type: SHT_NULL, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 });
  for (const s of secs) {
    writeShdr(w, is64, {
      name: shstr.add(s.name),
      type: s.type,
      flags: s.flags,
      addr: s.addr,
      offset: offsets.get(s)!,
      size: s.data ? s.data.length : s.size,
      link: s.link ? indexOf(s.link) : 0,
      info: s.info ?? 0,
      align: s.align,
      entsize: s.entsize ?? 0,
    });
  }
  const end = w.pos;
  w.pos = 0;
  const start = k.sym('_start');
  writeEhdr(w, is64, { type: ET_EXEC, entry: start ? start.value : 0, phoff: Z.ehdr, phnum, shoff, shnum: secs.length + 1, shstrndx: secs.length });
  for (const p of phdrs) writePhdr(w, is64, p);
  w.pos = end;
  return w.result();
}
