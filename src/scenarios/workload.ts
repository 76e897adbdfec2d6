/*
 * Running a Workload (types.ts) to its end: each yielded span of simulated
 * time passes with k.advance(), which runs the callouts that fall due.
 */

import type { Kernel } from '../kernel/kernel.js';
import type { Workload } from './types.js';

export function runWorkload<R>(k: Kernel, w: Workload<R>): R {
  for (;;) {
    const r = w.next();
    if (r.done) return r.value;
    k.advance(r.value);
  }
}
