/*
 * The keyboard thread of interactive mdb (see terminal.ts): it owns the
 * terminal's input while mdb runs.  It reads standard input with blocking
 * reads, so it sees keys even while the main thread is busy running a
 * command, and:
 *
 *   - while a command runs (BUSY set), Ctrl-C sets INTERRUPT, which the
 *     command loop polls, and is not passed on;
 *   - while the pager waits for a key (WANT_KEY set), the next byte goes
 *     to KEY and the main thread, blocked in Atomics.wait, wakes up;
 *   - every other byte is posted to the main thread, where readline reads
 *     it (so type-ahead and pasted text arrive whole and in order).
 */

import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BUSY, INTERRUPT, KEY, WANT_KEY } from './keyboard-state.js';

const state = new Int32Array(workerData as SharedArrayBuffer);
const buf = Buffer.alloc(4096);
const CTRL_C = 3;

function readSome(): number {
  for (;;) {
    try {
      return readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EINTR') return 0;
      Atomics.wait(state, KEY, Atomics.load(state, KEY), 10);
    }
  }
}

for (;;) {
  const n = readSome();
  if (n <= 0) {
    // end of input: wake a waiting pager (KEY stays NO_KEY) and tell readline
    Atomics.store(state, WANT_KEY, 0);
    Atomics.notify(state, KEY);
    parentPort!.postMessage(null);
    break;
  }
  let bytes = Array.from(buf.subarray(0, n));
  if (Atomics.load(state, WANT_KEY) === 1) {
    Atomics.store(state, WANT_KEY, 0);
    Atomics.store(state, KEY, bytes[0]!);
    Atomics.notify(state, KEY);
    bytes = bytes.slice(1);
  } else if (Atomics.load(state, BUSY) === 1 && bytes.includes(CTRL_C)) {
    Atomics.store(state, INTERRUPT, 1);
    bytes = bytes.filter((b) => b !== CTRL_C);
  }
  if (bytes.length > 0) parentPort!.postMessage(Buffer.from(bytes));
}
