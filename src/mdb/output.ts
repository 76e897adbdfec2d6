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

  /** Write text: line by line, each non-empty line started at column 0 gets the indent margin. */
  write(s: string): void {
    if (s === '') return;
    const parts: string[] = [];
    let from = 0;
    while (from < s.length) {
      const nl = s.indexOf('\n', from);
      const end = nl < 0 ? s.length : nl;
      if (end > from) {
        if (this.col === 0 && this.indent > 0) {
          parts.push(' '.repeat(this.indent));
          this.col = this.indent;
        }
        parts.push(from === 0 && end === s.length ? s : s.slice(from, end));
        this.col += end - from;
      }
      if (nl < 0) break;
      parts.push('\n');
      this.col = 0;
      from = nl + 1;
    }
    this.sink(parts.length === 1 ? parts[0]! : parts.join(''));
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
