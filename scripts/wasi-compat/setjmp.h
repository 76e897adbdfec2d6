/*
 * setjmp for test harnesses on wasm32-wasi, whose libc (Debian 12's
 * wasi-libc) has none: setjmp returns 0 and longjmp, which such harnesses
 * call only when a check has failed, ends the program with status 1 after
 * the harness printed the failure.  Used to build expat's runtests
 * (scripts/real-programs.ts); not for programs that longjmp to recover.
 */
#ifndef KMEMDB_WASI_SETJMP_H
#define KMEMDB_WASI_SETJMP_H
typedef int jmp_buf[1];
#define setjmp(env) ((void)(env), 0)
_Noreturn void longjmp(jmp_buf env, int val);
#endif
