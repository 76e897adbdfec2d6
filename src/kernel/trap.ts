/*
 * Traps: what the kernel does when simulated kernel code touches an address
 * it cannot use, in the words of illumos' i86pc trap handler.
 *
 * Theory
 * ------
 * The simulated machine raises a PageFault for any access to an unmapped
 * or read-only address.  The CPU the kernel models (amd64 or i386) turns
 * that into one of two traps:
 *
 *  - #gp (type 0xd, General protection): on amd64, an address that is not
 *    canonical (bits 63..47 not all equal, as 0xbaddcafebaddcafe, kmem's
 *    uninitialised pattern).  The CPU does not translate such an address,
 *    so there is no page fault and no %cr2: the `addr` illumos' die()
 *    prints is what cmntrap passes, the interrupted %r15.
 *  - #pf (type 0xe, Page fault): any other address, which lands in %cr2;
 *    the error code says write (PF_ERR_WRITE) or instruction fetch
 *    (PF_ERR_EXEC, when the faulting pc is the address).
 *
 * A kernel-mode trap nobody handles ends in die(): the trap's registers
 * (a `struct regs`, as cmntrap pushes it) lie on the thread's stack just
 * below the faulting function's frame, and the panic message is die()'s:
 *
 *   BAD TRAP: type=e (#pf Page fault) rp=<regs> addr=<cr2>
 *       [occurred in module "<module>" due to <a NULL pointer dereference
 *        | an illegal access to a user address>]   (addr below kernelbase)
 *
 * panicsys() then prints the trap (panic_showtrap: showregs and dumpregs)
 * between the panic line and the panic stack.
 *
 * The simulated CPU keeps no general registers of its own.  The trap frame
 * holds what the simulation knows: the faulting pc, stack and frame
 * pointers; on amd64 the argument registers hold the faulting function's
 * arguments (the frame's words, see Kernel.args()); the trap number and
 * error code; the kernel's segment selectors and fixed control registers
 * (cr0, cr3, cr4, cr8, rflags are the constants below: there are no page
 * tables or interrupt levels to read them from).  Every other register
 * reads 0.
 */

import { hex, p2align } from '../machine/addr.js';
import type { PageFault } from '../machine/memory.js';
import type { KThread } from './kernel.js';
import { FRAME_ARGS } from './kernel.js';

/** x86 trap numbers (sys/trap.h). */
export const T_GPFLT = 0xd;
export const T_PGFLT = 0xe;

/** Page-fault error code bits. */
const PF_ERR_WRITE = 0x2;
const PF_ERR_EXEC = 0x10;

/** The mnemonic and name illumos' trap.c gives each trap type the kernel raises. */
const TRAP_NAMES: Readonly<Record<number, readonly [string, string]>> = {
  [T_GPFLT]: ['gp', 'General protection'],
  [T_PGFLT]: ['pf', 'Page fault'],
};

/** The lowest kernel address (KERNELBASE): illumos amd64's 0xfffffd8000000000; 0xc0000000 on i386. */
export function kernelBase(ptrSize: number): number {
  return ptrSize === 8 ? -0x28000000000 : 0xc0000000;
}

/** An amd64 address is canonical when bits 63..47 are copies of bit 47. */
function canonical(a: number): boolean {
  return a >= -0x800000000000 && a < 0x800000000000;
}

/** `struct regs` as cmntrap pushes it (amd64 and i386 privregs.h). */
export const REGS_TYPES = {
  lp64: `
typedef long greg_t;
struct regs {
	greg_t r_savfp;	/* a copy of %rbp, for mdb to follow traps */
	greg_t r_savpc;	/* a copy of %rip */
	greg_t r_rdi;
	greg_t r_rsi;
	greg_t r_rdx;
	greg_t r_rcx;
	greg_t r_r8;
	greg_t r_r9;
	greg_t r_rax;
	greg_t r_rbx;
	greg_t r_rbp;
	greg_t r_r10;
	greg_t r_r11;
	greg_t r_r12;
	greg_t r_r13;
	greg_t r_r14;
	greg_t r_r15;
	greg_t r_fsbase;
	greg_t r_gsbase;
	greg_t r_ds;
	greg_t r_es;
	greg_t r_fs;
	greg_t r_gs;
	greg_t r_trapno;
	greg_t r_err;
	greg_t r_rip;
	greg_t r_cs;
	greg_t r_rfl;
	greg_t r_rsp;
	greg_t r_ss;
};
`,
  ilp32: `
typedef long greg_t;
struct regs {
	greg_t r_savfp;	/* a copy of %ebp, for mdb to follow traps */
	greg_t r_savpc;	/* a copy of %eip */
	greg_t r_gs;
	greg_t r_fs;
	greg_t r_es;
	greg_t r_ds;
	greg_t r_edi;
	greg_t r_esi;
	greg_t r_ebp;
	greg_t r_esp;
	greg_t r_ebx;
	greg_t r_edx;
	greg_t r_ecx;
	greg_t r_eax;
	greg_t r_trapno;
	greg_t r_err;
	greg_t r_eip;
	greg_t r_cs;
	greg_t r_efl;
	greg_t r_uesp;
	greg_t r_ss;
};
`,
} as const;

/** Registers in struct regs order, and the lines of dumpregs() (names as printed, padded to 3). */
const AMD64_REGS = ['savfp', 'savpc', 'rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9', 'rax', 'rbx', 'rbp', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'fsbase', 'gsbase', 'ds', 'es', 'fs', 'gs', 'trapno', 'err', 'rip', 'cs', 'rfl', 'rsp', 'ss'] as const;
const AMD64_DUMP: readonly (readonly [string, string][])[] = [
  [['rdi', 'rdi'], ['rsi', 'rsi'], ['rdx', 'rdx']],
  [['rcx', 'rcx'], [' r8', 'r8'], [' r9', 'r9']],
  [['rax', 'rax'], ['rbx', 'rbx'], ['rbp', 'rbp']],
  [['r10', 'r10'], ['r11', 'r11'], ['r12', 'r12']],
  [['r13', 'r13'], ['r14', 'r14'], ['r15', 'r15']],
  [['fsb', 'fsbase'], ['gsb', 'gsbase'], [' ds', 'ds']],
  [[' es', 'es'], [' fs', 'fs'], [' gs', 'gs']],
  [['trp', 'trapno'], ['err', 'err'], ['rip', 'rip']],
  [[' cs', 'cs'], ['rfl', 'rfl'], ['rsp', 'rsp']],
  [[' ss', 'ss']],
];
const I386_REGS = ['savfp', 'savpc', 'gs', 'fs', 'es', 'ds', 'edi', 'esi', 'ebp', 'esp', 'ebx', 'edx', 'ecx', 'eax', 'trapno', 'err', 'eip', 'cs', 'efl', 'uesp', 'ss'] as const;
const I386_DUMP: readonly (readonly [string, string][])[] = [
  [[' gs', 'gs'], [' fs', 'fs'], [' es', 'es'], [' ds', 'ds']],
  [['edi', 'edi'], ['esi', 'esi'], ['ebp', 'ebp'], ['esp', 'esp']],
  [['ebx', 'ebx'], ['edx', 'edx'], ['ecx', 'ecx'], ['eax', 'eax']],
  [['trp', 'trapno'], ['err', 'err'], ['eip', 'eip'], [' cs', 'cs']],
  [['efl', 'efl'], ['usp', 'uesp'], [' ss', 'ss']],
];

/** The kernel's segment selectors (amd64 and i386 segments.h) and the fixed machine state. */
const AMD64_SELECTORS = { cs: 0x30, ss: 0x38, ds: 0x4b, es: 0x4b, fs: 0, gs: 0x1c3 };
const I386_SELECTORS = { cs: 0x158, ss: 0x160, ds: 0x160, es: 0x160, fs: 0x180, gs: 0x1b0 };
/** IF, ZF, PF, RF and the always-one bit: a kernel trapping with interrupts enabled. */
const RFLAGS = 0x10246;
const CR0 = '8005003b<pg,wp,ne,et,ts,mp,pe>';
const CR4 = '6f8<xmme,fxsr,pge,mce,pae,pse,de>';
const CR3 = 0x1c00000;
const CR8 = 0;

/** What the kernel's trap handler needs of the kernel. */
export interface TrapHost {
  readonly ptrSize: number;
  storePtr(a: number, v: number): void;
  /** `module` of the function containing pc, as mod_containing_pc() names it. */
  moduleOf(pc: number): string;
  /** The command name and pid of a thread's process (u_comm, p_pid). */
  procOf(t: KThread): { comm: string; pid: number };
  /** The thread's saved pc, sp and fp (t_pcb, t_fp) once its stack is materialised. */
  savedFrame(t: KThread): { pc: number; sp: number; fp: number };
}

/** A trap that killed the kernel: die()'s panic message and panic_showtrap()'s console lines. */
export interface FatalTrap {
  readonly type: number;
  /** Where the struct regs lies (0 when the thread has no stack in memory). */
  readonly rp: number;
  readonly addr: number;
  readonly message: string;
  /** showregs() and dumpregs(): the lines panicsys prints between the panic line and the stack. */
  readonly showregs: string;
}

/**
 * Take the trap a fault of thread t raises (its stack already materialised):
 * lay its struct regs below the faulting frame and word the panic as die().
 */
export function fatalTrap(host: TrapHost, t: KThread, f: PageFault): FatalTrap {
  const amd64 = host.ptrSize === 8;
  const { pc, sp, fp } = host.savedFrame(t);
  const type = amd64 && !canonical(f.addr) ? T_GPFLT : T_PGFLT;
  const cr2 = type === T_PGFLT ? f.addr : 0;
  const err = type === T_GPFLT ? 0 : f.access === 'write' ? PF_ERR_WRITE : pc === f.addr ? PF_ERR_EXEC : 0;
  const regs = amd64 ? amd64Regs(t, pc, sp, fp, type, err) : i386Regs(pc, sp, fp, type, err);
  const addr = type === T_PGFLT ? cr2 : (regs.r15 ?? 0);
  const rp = saveRegs(host, t, sp, regs, amd64 ? AMD64_REGS : I386_REGS);
  const [mnemonic, name] = TRAP_NAMES[type]!;
  let message = `BAD TRAP: type=${type.toString(16)} (#${mnemonic} ${name}) rp=${hex(rp)} addr=${hex(addr)}`;
  if (type === T_PGFLT && userAddress(host.ptrSize, addr)) {
    const why = addr >= 0 && addr < 4096 ? 'a NULL pointer dereference' : 'an illegal access to a user address';
    message += ` occurred in module "${host.moduleOf(pc)}" due to ${why}`;
  }
  return { type, rp, addr, message, showregs: showregs(host, t, type, regs, addr, cr2) };
}

/** Below KERNELBASE (unsigned): a user address. */
function userAddress(ptrSize: number, a: number): boolean {
  return ptrSize === 8 ? a >= 0 : a < kernelBase(4);
}

type Regs = Record<string, number>;

function amd64Regs(t: KThread, pc: number, sp: number, fp: number, type: number, err: number): Regs {
  const r: Regs = { ...AMD64_SELECTORS, savfp: fp, savpc: pc, rbp: fp, rip: pc, rsp: sp, rfl: RFLAGS, trapno: type, err };
  // the argument registers still hold the faulting function's arguments
  const d = t.depth - 1;
  const n = d >= 0 ? t.shape[d]! & 0xf : 0;
  const argRegs = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'];
  for (let i = 0; i < n; i++) r[argRegs[i]!] = t.args[d * FRAME_ARGS + i]!;
  return r;
}

function i386Regs(pc: number, sp: number, fp: number, type: number, err: number): Regs {
  return { ...I386_SELECTORS, savfp: fp, savpc: pc, ebp: fp, eip: pc, esp: sp, efl: RFLAGS, trapno: type, err };
}

/** Write the struct regs below sp, 16-byte aligned, as cmntrap's pushes leave it; its address (0 if it does not fit). */
function saveRegs(host: TrapHost, t: KThread, sp: number, regs: Regs, order: readonly string[]): number {
  const P = host.ptrSize;
  const rp = p2align(sp - order.length * P, 16);
  if (t.stackTop === 0 || rp < t.stackBase) return 0;
  order.forEach((name, i) => host.storePtr(rp + i * P, regs[name] ?? 0));
  return rp;
}

/** showregs(): the trap, the fault address, pid/pc/sp/eflags, control registers, then dumpregs(). */
function showregs(host: TrapHost, t: KThread, type: number, regs: Regs, addr: number, cr2: number): string {
  const amd64 = host.ptrSize === 8;
  const { comm, pid } = host.procOf(t);
  const [mnemonic, name] = TRAP_NAMES[type]!;
  let s = `${comm ? `${comm}: ` : ''}#${mnemonic} ${name}\n`;
  if (type === T_PGFLT) s += `Bad kernel fault at addr=0x${hex(addr)}\n`;
  else if (addr !== 0) s += `addr=0x${hex(addr)}\n`;
  const reg = (n: string) => regs[n] ?? 0;
  s += `pid=${pid}, pc=0x${hex(reg(amd64 ? 'rip' : 'eip'))}, sp=0x${hex(reg(amd64 ? 'rsp' : 'esp'))}, eflags=0x${hex(RFLAGS)}\n`;
  s += `cr0: ${CR0}  cr4: ${CR4}\n`;
  s += amd64 ? `cr2: ${hex(cr2)}  cr3: ${hex(CR3)}  cr8: ${hex(CR8)}\n\n` : `cr2: ${hex(cr2)}  cr3: ${hex(CR3)}  \n`;
  const w = amd64 ? 16 : 8;
  for (const line of amd64 ? AMD64_DUMP : I386_DUMP) {
    s += '\t' + line.map(([label, n]) => `${label}: ${hex(reg(n)).padStart(w)}`).join(' ') + '\n';
  }
  return s;
}
