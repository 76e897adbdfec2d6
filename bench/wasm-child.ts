/*
 * One timed run of a wasm32-wasi program for bench/wasm.ts, in a child
 * process started with --no-turbo-fast-api-calls (src/program/runner.ts
 * says why).  `plain` runs a module linked with wasi-libc's own malloc
 * under node:wasi; `kmem` runs a module built with kmemdb cc under the
 * runner (UMEM_* from the environment); `floor` runs a module built with
 * kmemdb cc with the shim's imports served by the least a JavaScript malloc
 * can do (floorHeap): the cost of the calls between wasm and JavaScript,
 * under any allocator the host provides; `watch` runs it as `kmem` does,
 * with --watch-freed (the rewritten module that checks every store).  The program's stdin and stdout
 * are this process's; the last line on stderr is `elapsed_ms=N` (compile,
 * instantiate and run).
 *
 *   node --no-turbo-fast-api-calls wasm-child.js plain|kmem|floor|watch PROG.wasm [ARG...]
 */
import * as fs from 'node:fs';
import { WASI } from 'node:wasi';
import { runProgram } from '../src/program/runner.js';

async function runPlain(wasm: string, args: string[]): Promise<number> {
  const wasi = new WASI({ version: 'preview1', args: ['prog', ...args], env: {}, returnOnExit: true });
  const module = await WebAssembly.compile(fs.readFileSync(wasm));
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
  return wasi.start(instance);
}

/** Bytes of a floor block: every size bench/wasm/alloc.c asks for fits. */
const FLOOR_BLOCK = 512;

/**
 * The floor allocator: fixed 512-byte blocks above __heap_base, a stack of
 * freed ones (an Int32Array), the memory grown as the blocks run out.  It
 * serves malloc and free only (what bench/wasm/alloc.c calls after
 * wasi-libc's start-up, whose few calls it serves too).
 */
function floorHeap(memory: () => WebAssembly.Memory, heapBase: () => number): WebAssembly.ModuleImports {
  let freed = new Int32Array(1024);
  let nfreed = 0;
  let next = 0;
  const malloc = (size: number): number => {
    if (size >>> 0 > FLOOR_BLOCK) throw new Error(`floor allocator: malloc(${size >>> 0}): blocks are ${FLOOR_BLOCK} bytes`);
    if (nfreed > 0) return freed[--nfreed]!;
    if (next === 0) next = (heapBase() + 15) & ~15;
    const p = next;
    next += FLOOR_BLOCK;
    const m = memory();
    if (next > m.buffer.byteLength) m.grow(Math.ceil((next - m.buffer.byteLength) / 65536));
    return p;
  };
  const free = (p: number): void => {
    if (p === 0) return;
    if (nfreed === freed.length) {
      const f = new Int32Array(freed.length * 2);
      f.set(freed);
      freed = f;
    }
    freed[nfreed++] = p;
  };
  const unsupported = (name: string) => (): never => {
    throw new Error(`floor allocator: ${name} is not served`);
  };
  const calloc = (n: number, size: number): number => {
    const p = malloc((n >>> 0) * (size >>> 0));
    new Uint8Array(memory().buffer, p, FLOOR_BLOCK).fill(0);
    return p;
  };
  return { malloc, free, calloc, realloc: unsupported('realloc'), aligned_alloc: unsupported('aligned_alloc'), posix_memalign: unsupported('posix_memalign'), malloc_usable_size: unsupported('malloc_usable_size'), dump: unsupported('dump') };
}

async function runFloor(wasm: string, args: string[]): Promise<number> {
  const wasi = new WASI({ version: 'preview1', args: ['prog', ...args], env: {}, returnOnExit: true });
  const module = await WebAssembly.compile(fs.readFileSync(wasm));
  // (the imports are called once the instance exists)
  const memory = (): WebAssembly.Memory => instance.exports.memory as WebAssembly.Memory;
  const heapBase = (): number => (instance.exports.__heap_base as WebAssembly.Global).value as number;
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport, kmemdb: floorHeap(memory, heapBase) });
  return wasi.start(instance);
}

async function main(): Promise<void> {
  const [mode, wasm, ...args] = process.argv.slice(2);
  if ((mode !== 'plain' && mode !== 'kmem' && mode !== 'floor' && mode !== 'watch') || !wasm) throw new Error('usage: wasm-child.js plain|kmem|floor|watch PROG.wasm [ARG...]');
  const t0 = process.hrtime.bigint();
  const status =
    mode === 'plain'
      ? await runPlain(wasm, args)
      : mode === 'floor'
        ? await runFloor(wasm, args)
        : (
          await runProgram({
            wasm,
            args,
            env: {},
            umemEnv: { UMEM_DEBUG: process.env.UMEM_DEBUG, UMEM_LOGGING: process.env.UMEM_LOGGING, UMEM_OPTIONS: process.env.UMEM_OPTIONS },
            preopens: {},
            watchFreed: mode === 'watch',
            stderr: (s) => fs.writeSync(2, s),
          })
        ).status;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.writeSync(2, `elapsed_ms=${ms.toFixed(3)}\n`);
  process.exitCode = status;
}

main().catch((e: unknown) => {
  fs.writeSync(2, `wasm-child: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
