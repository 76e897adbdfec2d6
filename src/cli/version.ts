/* The package version, read from package.json beside dist/ (for --version). */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  const here = fileURLToPath(import.meta.url);
  try {
    const pkg = JSON.parse(readFileSync(resolve(here, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
