/*
 * The mdb command language: lexing and parsing.
 *
 * A line holds commands separated by ';'.  A command is
 *
 *     [expr] [, expr] verb ...
 *
 * where verb is one of `::name args`, `$c args` (a built-in `$` command),
 * `:c` (execution control), `/fmt`, `\fmt`, `?fmt`, `=fmt`, `>var` or
 * `! shell command`.  dcmds can be chained into a pipeline with `|`
 * (addresses flow), and a pipeline can end in, or pass through, a shell
 * command with `!` (text flows; `!<` sources the output as commands).
 *
 * Expressions follow mdb(1): binary operators by decreasing precedence
 * `* % #`, `+ -`, `<< >>`, `== !=`, `&`, `^`, `|`; unary `# ~ -` and the
 * dereferences `*expr`, `%expr`, `*` `/[csil]/expr`.  Atoms: numbers (default
 * radix 16; `0x` `0t` `0o` `0i` prefixes, `_` separators), symbols, `.` (dot),
 * `&` (last dot), `+` / `^` (dot plus or minus the increment), `<var`,
 * `'c'` character constants, and parenthesised expressions.
 *
 * Numbers are validated strictly: a `_` may not follow a prefix directly,
 * every digit must be valid in its base, and the value must fit in 64 bits.
 *
 * Whitespace is space and tab only, as in illumos mdb's lexer (mdb_lex.l):
 * every other character (vertical tab, form feed, CR, NUL, U+00A0, U+2028,
 * U+FEFF, ...) is an ordinary character, part of a word or argument where
 * those are allowed and a syntax error elsewhere.  Every token consumes at
 * least one character, so no input can make the parser stand still.
 * Messages quote at most QUOTE_MAX characters of the input.
 */

import { MessageError } from '../machine/message-error.js';

/** A syntax error in mdb input (reported by message). */
export class MdbSyntaxError extends MessageError {}

export type Expr =
  | { k: 'num'; v: bigint }
  | { k: 'word'; w: string } // a symbol, or a number the radix allows if no symbol exists
  | { k: 'dot' }
  | { k: 'lastdot' }
  | { k: 'plus' }
  | { k: 'caret' }
  | { k: 'var'; name: string }
  | { k: 'un'; op: '-' | '~' | '#'; e: Expr }
  | { k: 'deref'; size: 0 | 1 | 2 | 4 | 8; obj: boolean; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr };

export type Arg = { k: 'str'; s: string; quoted: boolean } | { k: 'imm'; e: Expr };

/** One item of a format list: a character with a repeat count, or a literal string. */
export type FmtItem = { k: 'char'; c: string; n: bigint } | { k: 'str'; s: string };

export type Stage =
  | { k: 'dcmd'; name: string; args: Arg[] }
  | { k: 'fmt'; verb: '/' | '\\' | '?' | '='; items: FmtItem[]; args: Arg[]; raw: string }
  | { k: 'assign'; name: string; mod?: string }
  | { k: 'shell'; cmd: string; source: boolean };

export interface Command {
  readonly addr?: Expr;
  readonly count?: Expr;
  readonly stages: Stage[];
  /** The source text (for history and messages). */
  readonly text: string;
}

const WORD_CH = /[A-Za-z0-9_`]/;

/** The lexer's whitespace: space and tab, nothing else (illumos mdb_lex.l). */
export function isBlank(c: string): boolean {
  return c === ' ' || c === '\t';
}

/** Characters that end an unquoted argument or shell word. */
function endsArg(c: string): boolean {
  return isBlank(c) || c === ';' || c === '|' || c === '!' || c === "'" || c === '"';
}

/** Longest piece of input quoted in a message. */
export const QUOTE_MAX = 40;

/** A bounded, printable excerpt of input for an error message. */
export function quoteInput(text: string, max = QUOTE_MAX): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const shown = cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > max ? shown + '...' : shown;
}
const ID_START = /[A-Za-z_`]/;

/** Parse a numeric literal with validation.  Returns undefined if the text is not number-like in `radix`. */
export function parseNumber(text: string, radix: number): bigint {
  let base = radix;
  let digits = text;
  if (/^0[xXtToOiI]/.test(text) && text.length >= 2) {
    const p = text[1]!.toLowerCase();
    base = p === 'x' ? 16 : p === 't' ? 10 : p === 'o' ? 8 : 2;
    digits = text.slice(2);
    if (digits === '') throw new MdbSyntaxError(`invalid number: ${quoteInput(text)}`);
    if (digits.startsWith('_')) throw new MdbSyntaxError(`invalid number: ${quoteInput(text)}`);
  }
  if (digits.startsWith('_') || digits === '') throw new MdbSyntaxError(`invalid number: ${quoteInput(text)}`);
  let v = 0n;
  const B = BigInt(base);
  for (const ch of digits) {
    if (ch === '_') continue;
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= base) throw new MdbSyntaxError(`invalid digit '${ch}' in ${base === 16 ? 'hexadecimal' : base === 10 ? 'decimal' : base === 8 ? 'octal' : base === 2 ? 'binary' : `base ${base}`} number: ${quoteInput(text)}`);
    v = v * B + BigInt(d);
    if (v >= 1n << 64n) throw new MdbSyntaxError(`number exceeds 64 bits: ${quoteInput(text)}`);
  }
  return v;
}

/** Is this word a valid number in the given radix (unprefixed)? */
export function isRadixWord(w: string, radix: number): boolean {
  if (w.startsWith('_')) return false;
  for (const ch of w) {
    if (ch === '_') continue;
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= radix) return false;
  }
  return true;
}

export class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    public radix: number,
  ) {}

  /** Parse the next command, or undefined at the end of the input. */
  next(): Command | undefined {
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) return undefined;
      const c = this.peek();
      if (c === '\n' || c === ';') {
        this.i++;
        continue;
      }
      if (c === '/' && this.peek(1) === '/') {
        while (!this.eol()) this.i++;
        continue;
      }
      const start = this.i;
      const cmd = this.command();
      return { ...cmd, text: this.s.slice(start, this.i).trim() };
    }
  }

  /** After a syntax error: skip the rest of the current line. */
  skipLine(): void {
    while (!this.eol()) this.i++;
    if (this.peek() === '\n') this.i++;
  }

  /** Everything consumed (for lone expressions)? */
  atEnd(): boolean {
    this.ws();
    return this.i >= this.s.length;
  }

  private peek(o = 0): string {
    return this.s[this.i + o] ?? '';
  }
  private eol(): boolean {
    return this.i >= this.s.length || this.peek() === '\n';
  }
  private ws(): void {
    while (isBlank(this.peek())) this.i++;
  }
  private err(msg: string): never {
    throw new MdbSyntaxError(msg);
  }
  /** A syntax error quoting (a bounded part of) the rest of the line. */
  private nearErr(): never {
    this.err(`syntax error near "${quoteInput(this.s.slice(this.i, this.i + 10).split('\n')[0]!, 10)}"`);
  }

  private command(): Omit<Command, 'text'> {
    let addr: Expr | undefined;
    let count: Expr | undefined;
    this.ws();
    if (this.startsExpr()) addr = this.expr();
    this.ws();
    if (this.peek() === ',') {
      this.i++;
      this.ws();
      count = this.expr();
      this.ws();
    }
    const stages: Stage[] = [];
    if (this.eol() || this.peek() === ';') {
      // A bare expression: sets dot.
      return { addr, count, stages };
    }
    for (;;) {
      this.ws();
      if (this.peek() === '!') {
        stages.push(this.shell());
        this.ws();
        if (this.peek() === '|') {
          this.i++;
          this.ws();
          stages.push(this.verb());
          continue;
        }
        if (this.peek() === '!') this.err('syntax error: a shell command can only be followed by |');
        break;
      }
      if (stages.length > 0 && stages[stages.length - 1]!.k !== 'shell' && this.peek() === '|') {
        this.i++;
        this.ws();
        stages.push(this.verb());
        continue;
      }
      if (stages.length === 0) {
        stages.push(this.verb());
        continue;
      }
      break;
    }
    this.ws();
    if (this.peek() === '/' && this.peek(1) === '/') while (!this.eol()) this.i++; // trailing comment
    if (!this.eol() && this.peek() !== ';') this.nearErr();
    return { addr, count, stages };
  }

  private startsExpr(): boolean {
    const c = this.peek();
    if (c === '') return false;
    if (/[0-9A-Za-z_`.&+^(<'~#*%-]/.test(c)) {
      if (c === '<' && this.peek(1) === '<') return false;
      return true;
    }
    return false;
  }

  private shell(): Stage {
    this.i++; // '!'
    let source = false;
    if (this.peek() === '<') {
      source = true;
      this.i++;
    }
    this.ws();
    const c = this.peek();
    if (c !== "'" && c !== '"') {
      // the rest of the line goes to the shell
      const start = this.i;
      while (!this.eol()) this.i++;
      const cmd = this.s.slice(start, this.i).trim();
      if (cmd === '') this.err('syntax error: missing shell command after !');
      return { k: 'shell', cmd, source };
    }
    const parts: string[] = [];
    while (!this.eol()) {
      this.ws();
      const d = this.peek();
      if (d === '' || d === '\n' || d === '|' || d === ';' || d === '!') break;
      if (d === "'" || d === '"') parts.push(this.quoted());
      else {
        const start = this.i;
        while (!this.eol() && !endsArg(this.peek())) this.i++;
        parts.push(this.s.slice(start, this.i));
      }
    }
    return { k: 'shell', cmd: parts.join(' '), source };
  }

  /** A quoted string: '...' keeps text except \' ; "..." handles C escapes. */
  private quoted(): string {
    const q = this.peek();
    this.i++;
    let out = '';
    for (;;) {
      if (this.eol()) this.err('syntax error: unterminated quoted string');
      const c = this.peek();
      if (c === q) {
        this.i++;
        return out;
      }
      if (c === '\\') {
        const n = this.peek(1);
        if (n === '' || n === '\n') this.err('syntax error: unterminated quoted string');
        this.i += 2;
        if (q === "'") {
          out += n === "'" ? "'" : '\\' + n;
        } else {
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', e: '\x1b', '\\': '\\', '"': '"', "'": "'" };
          out += map[n] ?? '\\' + n;
        }
        continue;
      }
      out += c;
      this.i++;
    }
  }

  private verb(): Stage {
    this.ws();
    const c = this.peek();
    if (c === ':' && this.peek(1) === ':') {
      this.i += 2;
      const start = this.i;
      while (/[A-Za-z0-9_`.-]/.test(this.peek())) this.i++;
      const name = this.s.slice(start, this.i);
      if (!name) this.err('syntax error: expected dcmd name after ::');
      return { k: 'dcmd', name, args: this.args() };
    }
    if (c === '$') {
      this.i++;
      let name = this.peek();
      if (name === '' || name === '\n') this.err('syntax error: expected command after $');
      this.i++;
      if (name === '<' && this.peek() === '<') {
        name = '<<';
        this.i++;
      }
      return { k: 'dcmd', name: '$' + name, args: this.args() };
    }
    if (c === ':') {
      this.i++;
      const name = this.peek();
      if (name === '' || name === '\n') this.err('syntax error: expected command after :');
      this.i++;
      return { k: 'dcmd', name: ':' + name, args: this.args() };
    }
    if (c === '/' || c === '\\' || c === '?' || c === '=') {
      this.i++;
      return this.format(c);
    }
    if (c === '>') {
      this.i++;
      this.ws();
      let mod: string | undefined;
      if (this.peek() === '/') {
        mod = this.peek(1);
        if (this.peek(2) !== '/') this.err('syntax error: expected /c/ modifier after >');
        this.i += 3;
      }
      const start = this.i;
      while (!this.eol() && !isBlank(this.peek()) && !';|!'.includes(this.peek())) this.i++;
      const name = this.s.slice(start, this.i);
      if (!name) this.err("syntax error: expected variable name following '>'");
      return { k: 'assign', name, mod };
    }
    if (c === '') this.err('syntax error: unexpected end of input');
    this.nearErr();
  }

  private format(verb: '/' | '\\' | '?' | '='): Stage {
    this.ws();
    const items: FmtItem[] = [];
    const start = this.i;
    let n: bigint | undefined;
    while (!this.eol()) {
      const c = this.peek();
      if (isBlank(c) || c === ';' || c === '|' || c === '!') break;
      if (c === '"') {
        items.push({ k: 'str', s: this.quoted() });
        continue;
      }
      if (/[0-9]/.test(c)) {
        const s0 = this.i;
        while (/[0-9]/.test(this.peek())) this.i++;
        n = parseNumber(this.s.slice(s0, this.i), this.radix);
        continue;
      }
      items.push({ k: 'char', c, n: n ?? 1n });
      n = undefined;
      this.i++;
    }
    if (n !== undefined) this.err('syntax error: repeat count without a format character');
    const raw = this.s.slice(start, this.i);
    return { k: 'fmt', verb, items, args: this.args(), raw };
  }

  private args(): Arg[] {
    const out: Arg[] = [];
    for (;;) {
      this.ws();
      if (this.eol()) break;
      const c = this.peek();
      if (c === ';' || c === '|' || c === '!') break;
      if (c === "'" || c === '"') {
        out.push({ k: 'str', s: this.quoted(), quoted: true });
        continue;
      }
      if (c === '$' && this.peek(1) === '[') {
        this.i += 2;
        this.ws();
        const e = this.expr();
        this.ws();
        if (this.peek() !== ']') this.err('syntax error: expected ] after $[expression');
        this.i++;
        out.push({ k: 'imm', e });
        continue;
      }
      const start = this.i;
      while (!this.eol() && !endsArg(this.peek())) this.i++;
      out.push({ k: 'str', s: this.s.slice(start, this.i), quoted: false });
    }
    return out;
  }

  /* ---- expressions ---- */

  expr(): Expr {
    return this.binary(0);
  }

  private static readonly LEVELS: string[][] = [['|'], ['^'], ['&'], ['==', '!='], ['<<', '>>'], ['+', '-'], ['*', '%', '#']];

  private binOpAt(level: number): string | undefined {
    this.ws();
    const ops = Parser.LEVELS[level]!;
    for (const op of ops) {
      if (this.s.startsWith(op, this.i)) {
        // disambiguate
        if (op === '|' && this.peek(1) === '|') return undefined;
        if (op === '&' && this.peek(1) === '&') return undefined;
        return op;
      }
    }
    return undefined;
  }

  private binary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let l = this.binary(level + 1);
    for (;;) {
      const op = this.binOpAt(level);
      if (!op) return l;
      // Only treat as binary if an operand follows.
      const save = this.i;
      this.i += op.length;
      this.ws();
      if (!this.startsOperand()) {
        this.i = save;
        return l;
      }
      const r = this.binary(level + 1);
      l = { k: 'bin', op, l, r };
    }
  }

  private startsOperand(): boolean {
    const c = this.peek();
    return c !== '' && /[0-9A-Za-z_`.&+^(<'~#*%-]/.test(c) && !(c === '<' && this.peek(1) === '<');
  }

  private unary(): Expr {
    this.ws();
    const c = this.peek();
    if (c === '-' || c === '~' || c === '#') {
      this.i++;
      return { k: 'un', op: c, e: this.unary() };
    }
    if (c === '*' || c === '%') {
      this.i++;
      let size: 0 | 1 | 2 | 4 | 8 = 0;
      if (this.peek() === '/') {
        const m = this.peek(1);
        if (this.peek(2) !== '/') this.err('syntax error: bad dereference size modifier');
        size = m === 'c' ? 1 : m === 's' ? 2 : m === 'i' ? 4 : m === 'l' ? 8 : this.err(`syntax error: invalid size modifier '${m}'`);
        this.i += 3;
      }
      return { k: 'deref', size, obj: c === '%', e: this.unary() };
    }
    return this.atom();
  }

  private atom(): Expr {
    this.ws();
    const c = this.peek();
    if (c === '(') {
      this.i++;
      const e = this.expr();
      this.ws();
      if (this.peek() !== ')') this.err('syntax error: missing )');
      this.i++;
      return e;
    }
    if (c === '.' && !WORD_CH.test(this.peek(1))) {
      this.i++;
      return { k: 'dot' };
    }
    if (c === '&') {
      this.i++;
      return { k: 'lastdot' };
    }
    if (c === '+') {
      this.i++;
      return { k: 'plus' };
    }
    if (c === '^') {
      this.i++;
      return { k: 'caret' };
    }
    if (c === '<') {
      this.i++;
      const start = this.i;
      while (/[A-Za-z0-9_]/.test(this.peek())) this.i++;
      const name = this.s.slice(start, this.i);
      if (!name) this.err('syntax error: expected variable name after <');
      return { k: 'var', name };
    }
    if (c === "'") {
      this.i++;
      let v = 0n;
      let n = 0;
      for (;;) {
        if (this.eol()) this.err('syntax error: unterminated character constant');
        let ch = this.peek();
        if (ch === "'") {
          this.i++;
          break;
        }
        if (ch === '\\') {
          this.i++;
          ch = this.peek();
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0' };
          ch = map[ch] ?? ch;
        }
        this.i++;
        v = (v << 8n) | BigInt(ch.charCodeAt(0) & 0xff);
        if (++n > 8) this.err('syntax error: character constant too long');
      }
      return { k: 'num', v };
    }
    if (c === '.' || WORD_CH.test(c)) {
      const start = this.i;
      this.i++;
      while (WORD_CH.test(this.peek()) || (this.peek() === '.' && WORD_CH.test(this.peek(1)))) this.i++;
      const w = this.s.slice(start, this.i);
      if (/^[0-9]/.test(w)) return { k: 'num', v: parseNumber(w, this.radix) };
      if (!ID_START.test(w[0]!) && w[0] !== '.') this.err(`syntax error: bad token ${quoteInput(w)}`);
      return { k: 'word', w };
    }
    if (c === '' || c === '\n') this.err('syntax error: unexpected end of expression');
    this.nearErr();
  }
}

/** Parse a lone expression (for dcmd arguments such as ::eval or getopts values). */
export function parseExpr(text: string, radix: number): Expr {
  const p = new Parser(text, radix);
  const e = p.expr();
  if (!p.atEnd()) throw new MdbSyntaxError(`syntax error in expression "${quoteInput(text)}"`);
  return e;
}
