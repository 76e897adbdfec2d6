/*
 * Interactive mdb in a real terminal (tmux): Ctrl-C interrupts a running
 * command and leaves the session usable, long output pages with illumos
 * mdb's prompt (never when standard output is not a terminal), tab
 * completes types and members, pasted lines run whole and in order.  The
 * pager and the completer are also tested directly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/scenarios/index.js';
import { openDump } from '../../src/target/dump-target.js';
import { createSession } from '../../src/index.js';
import { mdbCompleter, Pager } from '../../src/cli/terminal.js';
import { tmpDir } from '../dump/helpers.js';

const MDB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'mdb');
const TMUX = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'tmux is not installed (apt-get install tmux)';
const PROMPT = '>> More [<space>, <cr>, q, n, c, a] ?';

let dir = '';
let unix = '';
let vmcore = '';
before(() => {
  dir = tmpDir('term');
  const r = runScenario('pool-unload', { dir });
  unix = r.dump.unixPath;
  vmcore = r.dump.vmcorePath;
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/* ---------------------------------------------------------------- tmux */

/** A tmux server of our own (its own socket, one per instance), one window of 100x20. */
let servers = 0;
class Tmux {
  private readonly sock = `kmemdb-test-${process.pid}-${++servers}`;
  constructor(command: string) {
    this.tmux('new-session', '-d', '-x', '100', '-y', '20', '-s', 't', command);
  }
  private tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.sock, ...args], { encoding: 'utf8' });
    return r.stdout;
  }
  /**
   * Resize the window (the terminal mdb runs in) and wait until its pane has
   * the new height, then a second: tmux passes a pane's new size on to its
   * terminal (TIOCSWINSZ, SIGWINCH) from a timer, not at once.
   */
  resize(cols: number, rows: number): boolean {
    this.tmux('resize-window', '-t', 't', '-x', String(cols), '-y', String(rows));
    const ok = this.waitFor(() => this.tmux('display-message', '-p', '-t', 't', '#{pane_height}').trim() === String(rows));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    return ok;
  }
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 't', ...keys);
  }
  /** Type text literally (as a paste: one write). */
  paste(text: string): void {
    this.tmux('send-keys', '-t', 't', '-l', text);
  }
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 't')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l !== '');
  }
  last(): string {
    return this.screen().pop() ?? '';
  }
  /** Wait (polling) until the screen satisfies `ok`, at most `ms`. */
  waitFor(ok: (screen: string[]) => boolean, ms = 10_000): boolean {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (ok(this.screen())) return true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
    return false;
  }
  prompt(ms?: number): boolean {
    return this.waitFor((s) => s[s.length - 1] === '>', ms);
  }
  kill(): void {
    this.tmux('kill-server');
  }
}

test('Ctrl-C stops a long pipeline and returns to a working prompt', { skip: TMUX }, () => {
  const t = new Tmux(`node ${MDB} ${unix} ${vmcore}`);
  try {
    assert.ok(t.prompt(), 'mdb starts');
    // ~8 s uninterrupted (570 lines); interrupted after half a second
    t.keys('::walk kmem_bufctl_audit_cache | ::kgrep', 'Enter');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    t.keys('C-c');
    assert.ok(t.prompt(3000), `back at the prompt: ${t.last()}`);
    const lines = t.screen().filter((l) => /^[0-9a-f]{16}$/.test(l));
    assert.ok(lines.length < 570, 'the pipeline did not run to its end');
    // the session still works, and a new command is not interrupted
    t.keys('kmem_flags/D', 'Enter');
    assert.ok(t.waitFor((s) => s.some((l) => /^kmem_flags:\s+15$/.test(l))));
    assert.ok(t.prompt());
  } finally {
    t.kill();
  }
});

test('long output pages with the illumos prompt: space, return, q', { skip: TMUX }, () => {
  const t = new Tmux(`node ${MDB} ${unix} ${vmcore}`);
  try {
    assert.ok(t.prompt());
    t.keys('::walk kmem_cache', 'Enter');
    assert.ok(t.waitFor((s) => s[s.length - 1] === PROMPT), 'the pager stops the output');
    const firstPage = t.screen().filter((l) => l.startsWith('0x'));
    assert.equal(firstPage.length, 19, 'a screen of 20 rows shows 19 lines and the prompt');
    const lastShown = (s: string[]) => s.filter((l) => l.startsWith('0x')).pop();
    const before = lastShown(t.screen());
    t.keys('Enter');
    assert.ok(t.waitFor((s) => s[s.length - 1] === PROMPT && lastShown(s) !== before && s.filter((l) => l.startsWith('0x')).length === 19), 'return shows one more line');
    t.keys('q');
    assert.ok(t.prompt(), 'q returns to the prompt');
    assert.ok(!t.screen().some((l) => l.includes('>> More')), 'the pager prompt is erased');
  } finally {
    t.kill();
  }
});

test('the pager follows a resize of the terminal: the next page fills the new height', { skip: TMUX }, () => {
  const caches = (() => {
    const t = openDump(unix, vmcore);
    try {
      let out = '';
      createSession(t, { stdout: (x) => (out += x), stderr: () => undefined }).run('::walk kmem_cache\n');
      return out.split('\n').filter((l) => l.startsWith('0x'));
    } finally {
      t.close();
    }
  })();
  const t = new Tmux(`node ${MDB} ${unix} ${vmcore}`);
  try {
    assert.ok(t.prompt());
    t.keys('::walk kmem_cache', 'Enter');
    assert.ok(t.waitFor((s) => s[s.length - 1] === PROMPT), 'the pager stops the output');
    const shown = t.screen().filter((l) => l.startsWith('0x'));
    assert.equal(shown.length, 19, 'a page of 20 rows');
    // the terminal shrinks while the pager waits: the next page is 9 lines and the prompt
    assert.ok(t.resize(100, 10));
    t.keys('Space');
    const next = caches.indexOf(shown[shown.length - 1]!) + 1;
    const page = caches.slice(next, next + 9);
    assert.ok(
      t.waitFor((s) => s[s.length - 1] === PROMPT && s.filter((l) => l.startsWith('0x')).join() === page.join()),
      `the second page is the next 9 caches: ${t.screen().join('\n')}`,
    );
    // and grows again: 14 lines
    assert.ok(t.resize(100, 15));
    t.keys('Space');
    const third = caches.slice(next + 9, next + 9 + 14);
    assert.ok(
      t.waitFor((s) => s[s.length - 1] === PROMPT && s.filter((l) => l.startsWith('0x')).slice(-14).join() === third.join()),
      `the third page is the next 14 caches: ${t.screen().join('\n')}`,
    );
    t.keys('q');
    assert.ok(t.prompt());
  } finally {
    t.kill();
  }
});

test('no paging when standard output is not a terminal', { skip: TMUX }, () => {
  const out = path.join(dir, 'walk.out');
  const t = new Tmux(`node ${MDB} ${unix} ${vmcore} > ${out}`);
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    t.keys('::walk kmem_cache', 'Enter');
    t.keys('$q', 'Enter');
    const walked = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.startsWith('0x')).length : 0);
    assert.ok(t.waitFor(() => walked() > 40), 'the whole walk reaches the file');
    assert.ok(!fs.readFileSync(out, 'utf8').includes('>> More'));
  } finally {
    t.kill();
  }
});

test('tab completes type names and member names; a paste runs whole and in order', { skip: TMUX }, () => {
  const t = new Tmux(`node ${MDB} ${unix} ${vmcore}`);
  try {
    assert.ok(t.prompt());
    t.keys('::sizeof kmem_cache_', 'Tab');
    assert.ok(t.waitFor((s) => s[s.length - 1] === '> ::sizeof kmem_cache_t'), t.last());
    t.keys('C-u', '::offsetof struct kmem_cache cache_bufsi', 'Tab');
    assert.ok(t.waitFor((s) => s[s.length - 1] === '> ::offsetof struct kmem_cache cache_bufsize'), t.last());
    t.keys('C-u');
    t.paste('kmem_flags/D\n::sizeof kmem_cache_t\n::offsetof kmem_cache_t cache_name\n');
    assert.ok(t.waitFor((s) => s.some((l) => /^offsetof \(kmem_cache_t, cache_name\)/.test(l))), t.screen().join('\n'));
    const s = t.screen();
    const at = (re: RegExp) => s.findIndex((l) => re.test(l));
    assert.ok(at(/^kmem_flags:\s+15$/) >= 0 && at(/^kmem_flags:\s+15$/) < at(/^sizeof \(kmem_cache_t\)/) && at(/^sizeof/) < at(/^offsetof/), s.join('\n'));
  } finally {
    t.kill();
  }
});

/* ---------------------------------------------------------------- units */

test('the pager: rows-1 lines a page, n one line, c the rest, q stops', () => {
  const keys: number[] = [];
  let shown = '';
  const p = new Pager(
    () => 5,
    (s) => (shown += s),
    () => undefined,
    () => keys.shift(),
  );
  const text = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join('');
  keys.push(0x6e, 0x20, 0x63); // n, space, c
  p.output(text);
  assert.equal(shown, text, 'all lines after n, space, c');
  assert.equal(keys.length, 0, 'three prompts: after 4 lines, after 1 more, after 4 more');
  assert.equal(p.quit, false);

  p.reset();
  shown = '';
  keys.push(0x71); // q
  p.output(text);
  assert.equal(shown, 'line 0\nline 1\nline 2\nline 3\n');
  assert.equal(p.quit, true, 'q stops the command');
  p.output('more\n');
  assert.equal(shown, 'line 0\nline 1\nline 2\nline 3\n', 'and drops the rest of its output');
});

test('the completer: dcmds, walkers, types after ::print/::sizeof/::offsetof, members after a type', () => {
  const t = openDump(unix, vmcore);
  try {
    const s = createSession(t, { stdout: () => undefined, stderr: () => undefined });
    const c = mdbCompleter(s);
    assert.deepEqual(c('::kmem_cach'), [['kmem_cache'], 'kmem_cach']);
    assert.ok(c('::walk kmem_bufctl_a')[0].includes('kmem_bufctl_audit_cache'));
    assert.deepEqual(c('::sizeof kmem_cache_')[0], ['kmem_cache_t']);
    assert.ok(c('addr::print -t struct kmem_c')[0].includes('struct kmem_cache'));
    assert.deepEqual(c('::offsetof kmem_cache_t cache_bufs'), [['cache_bufsize', 'cache_bufslab'], 'cache_bufs']);
    assert.deepEqual(c('a::print kmem_cache_t cache_cpu'), [['cache_cpu'], 'cache_cpu']);
    assert.ok(c('a::print kmem_cache_t cache_link.')[0].includes('cache_link.list_next'));
    assert.deepEqual(c('kmem_fla'), [['kmem_flags'], 'kmem_fla']);
  } finally {
    t.close();
  }
});
