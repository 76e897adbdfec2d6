/* Helpers for the program tests: the C sources, building with `kmemdb cc`, temp dirs. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveToolchain } from '../../src/program/toolchain.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'bin/kmemdb');
/** test/program/c: the C programs of these tests. */
export const C_DIR = path.join(ROOT, 'test/program/c');

import { tmpDir } from '../tmp.js';

export { tmpDir };

/** Run bin/kmemdb with arguments. */
export function kmemdb(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: opts.env ?? process.env, cwd: opts.cwd, input: opts.input ?? '' });
}

/** `kmemdb cc` these arguments; throws with clang's diagnostics when it fails. */
export function build(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): void {
  const r = kmemdb(['cc', ...args], opts);
  if (r.status !== 0) throw new Error(`kmemdb cc ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
}

/** Why the program tests are skipped, or false when a toolchain is there. */
export async function noToolchain(): Promise<string | false> {
  return (await haveToolchain()) ? false : 'no wasm32-wasi toolchain (Debian clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32, or @yowasp/clang)';
}

/** Whether the native Debian toolchain is installed (the tests that force it skip otherwise). */
export function haveNativeClang(): boolean {
  return spawnSync('clang-16', ['--version']).status === 0 && fs.existsSync('/usr/lib/wasm32-wasi/libc.a');
}

/** The `name` custom section's bytes as Latin-1 text, to look for function names in it. */
export function nameSectionText(wasm: Uint8Array): string {
  const m = new WebAssembly.Module(new Uint8Array(wasm));
  const sec = WebAssembly.Module.customSections(m, 'name')[0];
  return sec ? Buffer.from(sec).toString('latin1') : '';
}

export function customSectionNames(wasm: Uint8Array): string[] {
  const names: string[] = [];
  const m = new WebAssembly.Module(new Uint8Array(wasm));
  for (const n of ['name', '.debug_info', '.debug_line', 'producers']) if (WebAssembly.Module.customSections(m, n).length > 0) names.push(n);
  return names;
}
