/*
 * Address-to-symbol lookup shared by the targets: symbols sorted by
 * address (larger first at equal addresses), binary search for the last
 * symbol starting at or below the address, then a short walk back over
 * lower symbols that may still contain it (nested or overlapping objects).
 */

import type { TargetSymbol } from './target.js';

/** Sort symbols for `findContaining`. */
export function sortSymbols(syms: readonly TargetSymbol[]): TargetSymbol[] {
  return [...syms].sort((x, y) => x.value - y.value || y.size - x.size);
}

/** The symbol of `sorted` containing addr (value <= addr < value + max(size, 1)). */
export function findContaining(sorted: readonly TargetSymbol[], addr: number): TargetSymbol | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.value <= addr) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  for (let i = best; i >= 0 && i > best - 64; i--) {
    const sym = sorted[i]!;
    if (addr < sym.value + Math.max(sym.size, 1)) return sym;
  }
  return undefined;
}

/** A symbol list indexed by name (first wins) and by address. */
export class SymbolIndex {
  private readonly sorted: TargetSymbol[];
  private readonly byName = new Map<string, TargetSymbol>();
  constructor(readonly all: readonly TargetSymbol[]) {
    for (const s of all) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
    this.sorted = sortSymbols(all);
  }
  named(name: string): TargetSymbol | undefined {
    return this.byName.get(name);
  }
  containing(addr: number): TargetSymbol | undefined {
    return findContaining(this.sorted, addr);
  }
}
