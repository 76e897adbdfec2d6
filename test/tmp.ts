/*
 * Temporary directories for tests: each test file's process removes the
 * directories it made when it exits, so a run leaves nothing in /tmp (a
 * fuzz slice alone writes hundreds of megabytes of dumps and cores).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory `kmemdb-TAG-XXXXXX` under the system's temporary directory, removed at exit. */
export function tmpDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kmemdb-${tag}-`));
  made.push(dir);
  return dir;
}
