/*
 * The narration of the guided demos (demo.ts for the kernel, wasm-demo.ts
 * for a program): text wrapped to the terminal's customary width, and a
 * tour through one mdb session in which each command is preceded by the
 * sentence that says why it is run and what to look at.
 */

import type { Session } from '../mdb/index.js';

const WIDTH = 76;

/** Wrap text at word boundaries to WIDTH columns; each '\n' starts a paragraph. */
export function wrap(text: string, indent = ''): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const w of para.split(/ +/)) {
      if (line && line.length + 1 + w.length > WIDTH - indent.length) {
        out.push(indent + line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    out.push(indent + line);
  }
  return out.join('\n') + '\n';
}

/** A guided series of mdb commands in one session; `ok` turns false when a command fails. */
export class MdbTour {
  ok = true;

  constructor(
    private readonly session: Session,
    private readonly out: (s: string) => void,
  ) {}

  /** A paragraph of explanation. */
  say(text: string): void {
    this.out(wrap(text));
  }

  /** Explain, then run cmd as typed at the prompt. */
  step(text: string, cmd: string): void {
    this.say(text);
    this.out(`\n> ${cmd}\n`);
    if (!this.session.run(cmd)) this.ok = false;
    this.out('\n');
  }
}
