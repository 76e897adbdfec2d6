/*
 * The timing loop every benchmark uses: optional untimed warm-up passes,
 * then the best of `reps` timed passes, in nanoseconds.  `fn` returns a
 * value that is folded into a sink, so the work cannot be optimised away.
 */
export function bestOf(fn: () => number, reps: number, warmups = 0): number {
  let sink = 0;
  for (let w = 0; w < warmups; w++) sink ^= fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    sink ^= fn();
    const t1 = process.hrtime.bigint();
    best = Math.min(best, Number(t1 - t0));
  }
  if (sink === 0x12345678) console.log('');
  return best;
}
