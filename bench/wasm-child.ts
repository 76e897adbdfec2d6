/*
 * One timed run of a wasm32-wasi program for bench/wasm.ts, in a child
 * process started with --no-turbo-fast-api-calls (src/program/runner.ts
 * says why).  `plain` runs a module linked with wasi-libc's own malloc
 * under node:wasi; `kmem` runs a module built with kmemdb cc under the
 * runner (UMEM_* from the environment).  The program's stdin and stdout are
 * this process's; the last line on stderr is `elapsed_ms=N` (compile,
 * instantiate and run).
 *
 *   node --no-turbo-fast-api-calls wasm-child.js plain|kmem PROG.wasm [ARG...]
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

async function main(): Promise<void> {
  const [mode, wasm, ...args] = process.argv.slice(2);
  if ((mode !== 'plain' && mode !== 'kmem') || !wasm) throw new Error('usage: wasm-child.js plain|kmem PROG.wasm [ARG...]');
  const t0 = process.hrtime.bigint();
  const status =
    mode === 'plain'
      ? await runPlain(wasm, args)
      : (
          await runProgram({
            wasm,
            args,
            env: {},
            umemEnv: { UMEM_DEBUG: process.env.UMEM_DEBUG, UMEM_LOGGING: process.env.UMEM_LOGGING, UMEM_OPTIONS: process.env.UMEM_OPTIONS },
            preopens: {},
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
