/* Real tools agree with our files: readelf and gdb read unix.N and vmcore.N. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { KernelPanic } from '../../src/kernel/kernel.js';
import { installSavecore, lastDump, type DumpInfo } from '../../src/dump/savecore.js';
import { openDump } from '../../src/target/dump-target.js';
import { hex } from '../../src/machine/addr.js';
import { busyKernel, tmpDir } from './helpers.js';

function have(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}
const READELF = have('readelf');
const GDB = have('gdb');

for (const model of ['lp64', 'ilp32'] as const) {
  const setup = (): { dir: string; d: DumpInfo; flags: number; flagsAddr: number } => {
    const dir = tmpDir('tools');
    const k = busyKernel(model, 3);
    const flagsAddr = k.addr('kmem_flags');
    k.mem.store32(flagsAddr, 0x1234abcd);
    installSavecore(k, dir);
    assert.throws(() => k.panic('tools test'), KernelPanic);
    const d = lastDump(k) as DumpInfo;
    return { dir, d, flags: 0x1234abcd, flagsAddr };
  };

  test(`readelf accepts vmcore.N and unix.N (${model})`, { skip: READELF ? false : 'readelf not installed' }, () => {
    const { dir, d } = setup();
    try {
      const out = execFileSync('readelf', ['-W', '-h', '-l', '-n', d.vmcorePath], { encoding: 'utf8' });
      assert.match(out, /Type:\s+CORE \(Core file\)/);
      assert.match(out, model === 'lp64' ? /Class:\s+ELF64/ : /Class:\s+ELF32/);
      assert.match(out, model === 'lp64' ? /Machine:\s+Advanced Micro Devices X86-64/ : /Machine:\s+Intel 80386/);
      assert.ok((out.match(/^\s+LOAD\s/gm) ?? []).length === d.ranges, 'one LOAD per range');
      assert.match(out, /^\s+NOTE\s/m);
      assert.match(out, /CORE\s+0x[0-9a-f]+\s+NT_PRSTATUS/);
      assert.match(out, /kmemdb\s+0x[0-9a-f]+\s+Unknown note type: \(0x4b4d0001\)/);
      const syms = execFileSync('readelf', ['-W', '-s', d.unixPath], { encoding: 'utf8' });
      assert.match(syms, /FUNC\s+GLOBAL\s+DEFAULT\s+\d+ kmem_cache_alloc$/m);
      assert.match(syms, /OBJECT\s+GLOBAL\s+DEFAULT\s+\d+ kmem_flags$/m);
      assert.match(syms, /FUNC\s+GLOBAL\s+DEFAULT\s+\d+ zfs_init$/m);
      const sec = execFileSync('readelf', ['-W', '-S', '-p', '.comment', d.unixPath], { encoding: 'utf8' });
      assert.match(sec, /\.kmemdb_ctf/);
      assert.match(sec, /kmemdb 5\.11/);
      // readelf's own complaints go to stderr
      const r = spawnSync('readelf', ['-a', d.vmcorePath, d.unixPath], { encoding: 'utf8' });
      assert.equal(r.stderr.trim(), '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`gdb reads the same memory as our reader (${model})`, { skip: GDB ? false : 'gdb not installed' }, () => {
    const { dir, d, flags, flagsAddr } = setup();
    try {
      const t = openDump(d.unixPath, d.vmcorePath);
      const ours = t.load32(flagsAddr);
      // a nonzero word in the heap (random contents from busyKernel)
      const heap = t.ranges().find((r) => t.symbolByAddr(r.base) === undefined && r.size > 4096 && t.load32(r.base + 4096 + 12) !== 0)!;
      const heapAddr = heap.base + 4096 + 12;
      const heapWord = t.load32(heapAddr);
      assert.notEqual(heapWord, 0);
      t.close();
      assert.equal(ours, flags);
      const out = execFileSync('gdb', ['-batch', '-nx', '-ex', 'x/wx &kmem_flags', '-ex', `x/wx 0x${hex(heapAddr)}`, '-ex', 'bt 1', d.unixPath, d.vmcorePath], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.match(out, new RegExp(`<kmem_flags>:\\s+0x${flags.toString(16).padStart(8, '0')}`));
      assert.match(out, new RegExp(`0x${hex(heapAddr)}[^:]*:\\s+0x${heapWord.toString(16).padStart(8, '0')}`));
      assert.match(out, /#0 .* in kmem_cache_alloc \(\)/, 'gdb finds the panicking thread and its pc');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
