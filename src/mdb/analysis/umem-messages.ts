/*
 * libumem's message buffer: umem_error_buffer, where the allocator of a
 * process writes each error report ("umem allocator: buffer modified after
 * being freed", the buffer, the cache, the stacks) before it aborts.  What
 * ::umem_status prints as "Message buffer:" and what `kmemdb analyze`
 * reports as a program core's allocator error.
 */

import type { Target } from '../../target/target.js';

/** The text of umem_error_buffer (up to its NUL): the last error report, or "" (none, or no such buffer). */
export function umemErrorReport(t: Target): string {
  const sym = t.symbolByName('umem_error_buffer');
  if (!sym || sym.size <= 0) return '';
  let bytes: Uint8Array;
  try {
    bytes = t.read(sym.value, sym.size);
  } catch {
    return '';
  }
  const nul = bytes.indexOf(0);
  return new TextDecoder('latin1').decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}
