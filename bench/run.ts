/*
 * `npm run bench [-- --json] [-- --only prefix]`: runs every benchmark of
 * bench/ and prints one line per figure; with --json the last line is one
 * JSON object with flat keys.  Figures are ratios against an anchor measured
 * in the same run wherever a goal is stated as a ratio.
 */
import { benchMachine } from './machine.js';

type Bench = () => Promise<Record<string, number>>;

async function optional(path: string, name: string): Promise<Bench | undefined> {
  try {
    const mod = (await import(path)) as Record<string, unknown>;
    const f = mod[name];
    return typeof f === 'function' ? (f as Bench) : undefined;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const onlyIdx = process.argv.indexOf('--only');
  const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : undefined;
  const benches: Array<[string, () => Promise<Bench | undefined>]> = [
    ['machine', async () => benchMachine],
    ['vmem', () => optional('./vmem.js', 'benchVmem')],
    ['kmem', () => optional('./kmem.js', 'benchKmem')],
    ['dump', () => optional('./dump.js', 'benchDump')],
    ['mdb', () => optional('./mdb.js', 'benchMdb')],
    ['scan', () => optional('./scan.js', 'benchScan')],
    ['wasm', () => optional('./wasm.js', 'benchWasm')],
    ['wasmcore', () => optional('./wasmcore.js', 'benchWasmcore')],
  ];
  const all: Record<string, number> = {};
  for (const [name, load] of benches) {
    if (only && !name.startsWith(only)) continue;
    const b = await load();
    if (!b) {
      process.stderr.write(`bench: ${name}: not available\n`);
      continue;
    }
    const r = await b();
    for (const [k, v] of Object.entries(r)) {
      all[k] = Number(v.toFixed(4));
      if (!json) console.log(`${k.padEnd(36)} ${all[k]}`);
      else process.stderr.write(`${k.padEnd(36)} ${all[k]}\n`);
    }
  }
  if (json) console.log(JSON.stringify(all));
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
