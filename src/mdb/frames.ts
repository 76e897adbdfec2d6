/*
 * Stack-frame arguments, read as illumos mdb's kernel stack walkers read
 * them: from the frame and from the text around it, never from the code
 * that built the frame.
 *
 * amd64.  The kernel is built with -msave-args: a function's prologue,
 * after `push %rbp; mov %rsp,%rbp`, pushes its register arguments in order
 * (%rdi, %rsi, %rdx, %rcx, %r8, %r9), so argument i sits at fp - 8(i + 1)
 * and the number of pushes in the prologue is the number of arguments
 * (illumos' saveargs analysis).
 *
 * i386.  Arguments are pushed by the caller (cdecl): argument i sits at
 * fp + 8 + 4i, and the instruction at the return address pops them,
 * `add $4n,%esp`, which says how many there are (illumos'
 * mdb_ia32_kvm_argcount).  A frame without a return address (a thread's
 * outermost) shows no arguments.
 */

import type { Target } from '../target/target.js';

/** Most arguments a frame shows (amd64's six argument registers). */
const MAX_ARGS = 6;

/** amd64 `push %rbp; mov %rsp,%rbp`. */
const AMD64_PROLOGUE = [0x55, 0x48, 0x89, 0xe5];
/** amd64 argument-register pushes in saveargs order: %rdi, %rsi, %rdx, %rcx, then REX.B %r8, %r9. */
const AMD64_ARG_PUSHES: ReadonlyArray<readonly number[]> = [[0x57], [0x56], [0x52], [0x51], [0x41, 0x50], [0x41, 0x51]];

function bytesAt(t: Target, a: number, n: number): number[] | undefined {
  try {
    return [...t.read(a, n)];
  } catch {
    return undefined;
  }
}

/** How many arguments the amd64 function at `base` saves (0 when its prologue is not the saveargs form). */
function amd64SavedArgs(t: Target, base: number): number {
  const code = bytesAt(t, base, AMD64_PROLOGUE.length + 2 * MAX_ARGS);
  if (!code || AMD64_PROLOGUE.some((b, i) => code[i] !== b)) return 0;
  let at = AMD64_PROLOGUE.length;
  let n = 0;
  for (const push of AMD64_ARG_PUSHES) {
    if (push.some((b, i) => code[at + i] !== b)) break;
    at += push.length;
    n++;
  }
  return n;
}

/** How many argument words the i386 instruction at return address `ret` pops (`add $imm8,%esp`). */
function ia32ArgCount(t: Target, ret: number): number {
  const code = bytesAt(t, ret, 3);
  if (!code || code[0] !== 0x83 || code[1] !== 0xc4) return 0;
  return Math.min(code[2]! >>> 2, MAX_ARGS);
}

/**
 * The arguments of the frame of function `pc` whose frame pointer is `fp`
 * and whose return address is `ret` (0 for a thread's outermost frame).
 * Unreadable words end the list.
 */
export function frameArgs(t: Target, pc: number, fp: number, ret: number): number[] {
  if (fp === 0) return [];
  const P = t.model.ptrSize;
  let n: number;
  let at: (i: number) => number;
  if (P === 8) {
    const sym = t.symbolByAddr(pc);
    n = sym ? amd64SavedArgs(t, sym.value) : 0;
    at = (i) => fp - (i + 1) * P;
  } else {
    n = ret === 0 ? 0 : ia32ArgCount(t, ret);
    at = (i) => fp + 2 * P + i * P;
  }
  const args: number[] = [];
  for (let i = 0; i < n; i++) {
    try {
      args.push(t.loadPtr(at(i)));
    } catch {
      break;
    }
  }
  return args;
}
