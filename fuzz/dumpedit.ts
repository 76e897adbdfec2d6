/*
 * Editing a crash dump in place, for robustness tests and the fuzzer.
 *
 * A vmcore is an ELF core file: its PT_LOAD program headers map kernel
 * virtual addresses to file offsets.  DumpImage reads those headers on its
 * own (it is the test's independent view of the format, not the reader's)
 * and lets a test write a pointer or bytes at a kernel virtual address, so
 * that a list can be cut (a link set to NULL), made to loop (a link pointed
 * at its own node) or pointed into nowhere, exactly as memory corruption in
 * a real kernel would leave it.
 */

import { readFileSync, writeFileSync } from 'node:fs';

interface LoadSegment {
  readonly vaddr: number;
  readonly offset: number;
  readonly filesz: number;
}

const PT_LOAD = 1;

/** A vmcore's bytes with its PT_LOAD map. */
export class DumpImage {
  readonly bytes: Uint8Array;
  readonly is64: boolean;
  readonly loads: readonly LoadSegment[];
  private readonly dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new Error('not an ELF file');
    this.is64 = bytes[4] === 2;
    const phoff = this.is64 ? Number(this.dv.getBigUint64(32, true)) : this.dv.getUint32(28, true);
    const phentsize = this.dv.getUint16(this.is64 ? 54 : 42, true);
    const phnum = this.dv.getUint16(this.is64 ? 56 : 44, true);
    const loads: LoadSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      if (this.dv.getUint32(p, true) !== PT_LOAD) continue;
      if (this.is64) {
        loads.push({ offset: Number(this.dv.getBigUint64(p + 8, true)), vaddr: Number(BigInt.asIntN(64, this.dv.getBigUint64(p + 16, true))), filesz: Number(this.dv.getBigUint64(p + 32, true)) });
      } else {
        loads.push({ offset: this.dv.getUint32(p + 4, true), vaddr: this.dv.getUint32(p + 8, true), filesz: this.dv.getUint32(p + 16, true) });
      }
    }
    this.loads = loads;
  }

  static read(path: string): DumpImage {
    return new DumpImage(new Uint8Array(readFileSync(path)));
  }

  /** File offset of a kernel virtual address (throws if no PT_LOAD holds it). */
  offsetOf(va: number, len = 1): number {
    for (const l of this.loads) if (va >= l.vaddr && va + len <= l.vaddr + l.filesz) return l.offset + (va - l.vaddr);
    throw new Error(`address ${va.toString(16)} is not in the dump`);
  }

  has(va: number, len = 1): boolean {
    return this.loads.some((l) => va >= l.vaddr && va + len <= l.vaddr + l.filesz);
  }

  readPtr(va: number): number {
    const o = this.offsetOf(va, this.is64 ? 8 : 4);
    return this.is64 ? Number(BigInt.asIntN(64, this.dv.getBigUint64(o, true))) : this.dv.getUint32(o, true);
  }

  writePtr(va: number, value: number): void {
    const o = this.offsetOf(va, this.is64 ? 8 : 4);
    if (this.is64) this.dv.setBigUint64(o, BigInt.asUintN(64, BigInt(value)), true);
    else this.dv.setUint32(o, value >>> 0, true);
  }

  write32(va: number, value: number): void {
    this.dv.setUint32(this.offsetOf(va, 4), value >>> 0, true);
  }

  /** Fill [va, va+len) with a byte (page blanking). */
  fill(va: number, len: number, byte: number): void {
    const o = this.offsetOf(va, len);
    this.bytes.fill(byte, o, o + len);
  }

  save(path: string): void {
    writeFileSync(path, this.bytes, { flag: 'wx' });
  }
}
