/* Targeted corruptions: each names what is wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Kernel } from '../../src/kernel/kernel.js';
import type { CType } from '../../src/ctf/ctf.js';
import { savecore } from '../../src/dump/savecore.js';
import { openDump, DumpFormatError } from '../../src/target/dump-target.js';
import { tmpDir } from './helpers.js';

function expectError(unix: string, vmcore: string, re: RegExp): void {
  assert.throws(() => openDump(unix, vmcore), (e: unknown) => e instanceof DumpFormatError && re.test(e.message), `expected ${re}`);
}

test('self-referencing and malformed types are rejected', () => {
  for (const bad of [
    (id: number): CType => ({ kind: 'typedef', name: 'loop_t', ref: id }),
    (id: number): CType => ({ kind: 'ptr', ref: id }),
    (): CType => ({ kind: 'struct', name: 'bad', members: 5, size: 8, align: 8, complete: true }) as unknown as CType,
    (): CType => ({ kind: 'struct', name: 'bad2', members: [{ name: 'x', type: 1, bitOffset: 'zero', bits: 0 }], size: 8, align: 8, complete: true }) as unknown as CType,
  ]) {
    const dir = tmpDir('val');
    try {
      const k = new Kernel();
      k.types.add(bad(k.types.count()));
      const d = savecore(k, dir);
      expectError(d.unixPath, d.vmcorePath, /unix\.0: bad type data/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('truncation and bad ranges name the problem', () => {
  const dir = tmpDir('val');
  try {
    const k = new Kernel({ model: 'ilp32' });
    const d = savecore(k, dir);
    const V = fs.readFileSync(d.vmcorePath);
    fs.writeFileSync(d.vmcorePath, V.subarray(0, V.length - 4096));
    expectError(d.unixPath, d.vmcorePath, /vmcore\.0 program headers: program header \d+ .* extends past the end of the file/);
    fs.writeFileSync(d.vmcorePath, V.subarray(0, 40));
    expectError(d.unixPath, d.vmcorePath, /vmcore\.0: truncated at ELF header/);
    // first PT_LOAD (program header 1): unaligned p_vaddr (ELF32: offset 52 + 32 + 8)
    const m = Buffer.from(V);
    m.writeUInt32LE(m.readUInt32LE(52 + 32 + 8) + 4, 52 + 32 + 8);
    fs.writeFileSync(d.vmcorePath, m);
    expectError(d.unixPath, d.vmcorePath, /not page aligned/);
    // overlapping ranges: second PT_LOAD gets the first one's address
    const o = Buffer.from(V);
    o.writeUInt32LE(o.readUInt32LE(52 + 32 + 8), 52 + 64 + 8);
    fs.writeFileSync(d.vmcorePath, o);
    expectError(d.unixPath, d.vmcorePath, /overlap/);
    // ELF class swapped
    const c = Buffer.from(V);
    c[4] = 2;
    fs.writeFileSync(d.vmcorePath, c);
    expectError(d.unixPath, d.vmcorePath, /vmcore\.0/);
    // not ELF at all
    fs.writeFileSync(d.unixPath, 'hello');
    expectError(d.unixPath, d.vmcorePath, /unix\.0: not an ELF file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
