/* Slots of the Int32Array the main thread and the keyboard thread share (keyboard-thread.ts). */

/** 1 while a command runs: Ctrl-C interrupts it. */
export const BUSY = 0;
/** Set to 1 by Ctrl-C during a command; the command loop polls it. */
export const INTERRUPT = 1;
/** 1 while the pager waits for one key. */
export const WANT_KEY = 2;
/** The key the pager waited for, or NO_KEY. */
export const KEY = 3;
export const NO_KEY = -1;
/** Number of slots. */
export const SLOTS = 4;
