/*
 * The SQLite workload of the program tests (test/program/real.test.ts) and
 * of the benchmarks (bench/wasm.ts): a 20,000-row insert in one
 * transaction, an index, LIKE, an update, a delete and aggregates, as a
 * script for the sqlite3 shell, with the answers computed here
 * independently of SQLite.
 */

export const WORKLOAD_ROWS = 20_000;

function row(i: number): { name: string; v: number } {
  return { name: `item-${i}${i % 7 === 0 ? '-seven' : ''}`, v: (i * 37) % 1000 };
}

/** The script for the shell's standard input. */
export function workloadScript(rows = WORKLOAD_ROWS): string {
  const out = ['CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v INTEGER);', 'BEGIN;'];
  for (let i = 1; i <= rows; i++) {
    const r = row(i);
    out.push(`INSERT INTO t(id, name, v) VALUES(${i}, '${r.name}', ${r.v});`);
  }
  out.push(
    'COMMIT;',
    'CREATE INDEX t_v ON t(v);',
    'SELECT count(*), sum(v), min(v), max(v) FROM t;',
    "SELECT count(*) FROM t WHERE name LIKE '%-seven';",
    'UPDATE t SET v = v + 1 WHERE v < 100;',
    'DELETE FROM t WHERE id % 10 = 0;',
    'SELECT count(*), sum(v) FROM t;',
    'SELECT v, count(*) FROM t WHERE v BETWEEN 500 AND 502 GROUP BY v ORDER BY v;',
    'SELECT group_concat(id) FROM (SELECT id FROM t WHERE v = 1 ORDER BY id LIMIT 5);',
    'PRAGMA integrity_check;',
  );
  return out.join('\n') + '\n';
}

/** What the shell prints for the script (list mode, `|` between columns). */
export function workloadAnswer(rows = WORKLOAD_ROWS): string {
  const all = Array.from({ length: rows }, (_, k) => ({ id: k + 1, ...row(k + 1) }));
  const sum = (xs: readonly { v: number }[]) => xs.reduce((s, x) => s + x.v, 0);
  const vs = all.map((x) => x.v);
  const lines = [`${rows}|${sum(all)}|${Math.min(...vs)}|${Math.max(...vs)}`, String(all.filter((x) => x.name.endsWith('-seven')).length)];
  const after = all.map((x) => ({ ...x, v: x.v < 100 ? x.v + 1 : x.v })).filter((x) => x.id % 10 !== 0);
  lines.push(`${after.length}|${sum(after)}`);
  for (const v of [500, 501, 502]) {
    const n = after.filter((x) => x.v === v).length;
    if (n > 0) lines.push(`${v}|${n}`);
  }
  lines.push(
    after
      .filter((x) => x.v === 1)
      .map((x) => x.id)
      .sort((a, b) => a - b)
      .slice(0, 5)
      .join(','),
  );
  lines.push('ok');
  return lines.join('\n') + '\n';
}
