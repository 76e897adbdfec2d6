/*
 * Output buffers with mdb's column handling: an indent margin applied at the
 * start of each line while the INDENT flag is on (format verbs indent
 * continuation lines to column 16), and automatic wrapping of format fields
 * at 80 columns.
 */

export const MDB_COLS = 80;

export class Out {
  col = 0;
  /** Margin applied at line starts while > 0. */
  indent = 0;
  private readonly sink: (s: string) => void;
  constructor(sink: (s: string) => void) {
    this.sink = sink;
  }

  write(s: string): void {
    if (s === '') return;
    let buf = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\n') {
        buf += c;
        this.col = 0;
        continue;
      }
      if (this.col === 0 && this.indent > 0) {
        buf += ' '.repeat(this.indent);
        this.col = this.indent;
      }
      buf += c;
      this.col++;
    }
    this.sink(buf);
  }

  /** Column the next character would be written at (counting a pending indent). */
  effectiveCol(): number {
    return this.col === 0 && this.indent > 0 ? this.indent : this.col;
  }

  /** Write a format field, wrapping first if it would pass the right margin. */
  field(s: string): void {
    const c = this.effectiveCol();
    if (c > this.indent && c + s.length > MDB_COLS) this.write('\n');
    this.write(s);
  }

  /** Newline if the current line is not empty. */
  endLine(): void {
    if (this.col !== 0) this.write('\n');
  }
}
