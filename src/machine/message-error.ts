/*
 * Errors reported by their message alone.
 *
 * mdb turns a failed read, a syntax error or a refused command into one
 * line (`mdb: ...`) and never shows where in kmemdb it was thrown.  Hostile
 * input throws such errors by the million (a dump of unmapped memory, a
 * pipe of junk tokens), and capturing a stack trace is most of the cost of
 * throwing: a MessageError captures none.
 */

/** An error whose message is all there is to report: thrown without a stack trace; mdb prints its message as `mdb: <message>`. */
export class MessageError extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = new.target.name;
  }
}
