/*
 * The target used when mdb runs with no target at all: no memory, no
 * symbols.  Its type table holds the C base types of the selected data model
 * (LP64 by default, as illumos mdb; `::typedef -c` switches it).
 */

import { TargetReadError, type Target, type TargetRange, type TargetStatus, type TargetSymbol, type TargetThread, type TargetModuleRecord } from '../target/target.js';
import { TypeTable } from '../ctf/ctf.js';
import { LP64, type DataModel } from '../machine/memory.js';

export class NoTarget implements Target {
  model: DataModel;
  types: TypeTable;
  readonly pageSize = 4096;
  readonly writable = false;
  constructor(model: DataModel = LP64) {
    this.model = model;
    this.types = new TypeTable(model);
  }
  setModel(model: DataModel): void {
    this.model = model;
    this.types = new TypeTable(model);
  }
  private fail(a: number): never {
    throw new TargetReadError(a, `failed to read memory at 0x${a < 0 ? (BigInt(a) + (1n << 64n)).toString(16) : a.toString(16)}: no target`);
  }
  load8(a: number): number {
    return this.fail(a);
  }
  load16(a: number): number {
    return this.fail(a);
  }
  load32(a: number): number {
    return this.fail(a);
  }
  load64(a: number): bigint {
    return this.fail(a);
  }
  loadPtr(a: number): number {
    return this.fail(a);
  }
  read(a: number): Uint8Array {
    return this.fail(a);
  }
  isMapped(): boolean {
    return false;
  }
  ranges(): readonly TargetRange[] {
    return [];
  }
  bytes(base: number): Uint8Array {
    return this.fail(base);
  }
  write(a: number): void {
    this.fail(a);
  }
  symbolByName(): TargetSymbol | undefined {
    return undefined;
  }
  symbolByAddr(): TargetSymbol | undefined {
    return undefined;
  }
  symbols(): readonly TargetSymbol[] {
    return [];
  }
  status(): TargetStatus {
    return { kind: 'none', osName: '', osRelease: '', osVersion: '', hostname: '' };
  }
  threads(): readonly TargetThread[] {
    return [];
  }
  moduleHistory(): readonly TargetModuleRecord[] {
    return [];
  }
}
