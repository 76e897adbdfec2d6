/*
 * What the targets read from files share: a crash dump (dump-target.ts)
 * and a program core (wasm-core-target.ts) are read-only, and their
 * symbols are looked up through one SymbolIndex.
 */

import { hex0x } from '../machine/addr.js';
import type { SymbolIndex } from './symbols.js';
import { TargetReadError, type TargetSymbol } from './target.js';

/** The read-only, symbol-indexed part of a target over a file. */
export abstract class FileTarget {
  readonly writable = false;
  /** What the file is, in messages ("a crash dump"). */
  protected abstract readonly fileKind: string;
  protected abstract readonly syms: SymbolIndex;

  /** Writes are refused: the file is evidence. */
  write(a: number, bytes: Uint8Array): void {
    throw new TargetReadError(a, `failed to write ${bytes.length} bytes at ${hex0x(a)}: ${this.fileKind} is read-only`);
  }

  symbolByName(name: string): TargetSymbol | undefined {
    return this.syms.named(name);
  }

  symbolByAddr(addr: number): TargetSymbol | undefined {
    return this.syms.containing(addr);
  }

  symbols(): readonly TargetSymbol[] {
    return this.syms.all;
  }
}
