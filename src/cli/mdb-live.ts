/*
 * `mdb -k`: the options that choose the live kernel, and opening it.
 *
 *   mdb -k [-w] [--scenario NAME] [--kmem-flags X] [--model lp64|ilp32]
 *          [--seed N] [--at SECONDS] [--fixed] [--debug-checks]
 *
 * The kernel (src/scenarios/live.ts) is loaded only when -k is given, as
 * the dump reader is only for dumps: mdb itself depends on neither.
 */

import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Target } from '../target/target.js';
import type * as Live from '../scenarios/live.js';
import type * as LiveTarget from '../target/live-target.js';
import { OptionError, splitOption, takeSystemOption, type SystemOptions } from './system-options.js';

export interface LiveArgs extends SystemOptions {
  scenario?: string;
  at?: number;
  writable?: boolean;
}

/**
 * Take the live-kernel options out of argv (they may come in any order
 * among mdb's own); returns the options and what is left.  A bad option
 * throws OptionError.
 */
export function takeLiveArgs(argv: readonly string[]): { live: LiveArgs; rest: string[] } {
  const live: LiveArgs = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [opt, inline] = splitOption(arg);
    const value = () => inline ?? argv[++i];
    if (takeSystemOption(opt, value, live)) continue;
    switch (opt) {
      case '--scenario': {
        const v = value();
        if (!v) throw new OptionError('--scenario needs a name (kmemdb crash --list lists them)');
        live.scenario = v;
        break;
      }
      case '--at': {
        const v = value() ?? '';
        if (!/^\d+(\.\d+)?$/.test(v)) throw new OptionError(`--at: bad number of seconds "${v}"`);
        live.at = Number(v);
        break;
      }
      case '-w':
        live.writable = true;
        break;
      default:
        rest.push(arg);
    }
  }
  return { live, rest };
}

/** Boot the live kernel; a start that panicked says so (the console of that run is returned). */
export async function openLiveTarget(a: LiveArgs): Promise<{ target: Target; notice: string }> {
  const here = fileURLToPath(import.meta.url);
  const load = async (...path: string[]) => import(pathToFileURL(resolve(here, '..', '..', ...path)).href);
  const live = (await load('scenarios', 'live.js')) as typeof Live;
  const { liveTarget } = (await load('target', 'live-target.js')) as typeof LiveTarget;
  const lk = live.bootLive(a);
  const target = liveTarget(lk.system.k, { writable: a.writable ?? false, control: lk.control });
  const notice = lk.start.state === 'panicked' ? lk.start.console + 'kmemdb: the kernel panicked before the stop; the target shows the panic\n' : '';
  return { target, notice };
}
