/**
 * The statements that read a postgres source, as pure functions ({ text, values }): one page of a
 * keyset walk in cursor order (never OFFSET), the rows whose cursor is null, and the upper bound.
 * The user's query is wrapped as a subquery, so the cursor columns are those it returns.
 */
import { quoteIdent } from '../../db/quote.js';
import type { CursorTuple } from '../../store/cursors.js';

export interface Statement {
  text: string;
  values: unknown[];
}

const SOURCE = 'etl_source';

/** Column names as the query returns them, quoted and qualified with the subquery's alias. */
function columnsOf(cursor: readonly string[]): string[] {
  return cursor.map((c) => `${SOURCE}.${quoteIdent(c)}`);
}

/** The query's result columns (names and types), without reading a row. */
export function describeQuery(query: string): Statement {
  return { text: `SELECT * FROM (${query}) AS ${SOURCE} LIMIT 0`, values: [] };
}

/**
 * The source's clock minus the consistency delay, taken once per run: rows later than this may
 * belong to transactions still in flight and are left for the next run. `local` is the same
 * instant as wall-clock time in `timeZone` (the source's own zone), for a timestamp or date cursor:
 * such columns hold the local time the application wrote, not UTC.
 */
export function upperBoundQuery(delayMs: number, timeZone: string): Statement {
  return {
    text: `SELECT bound::text AS until, (bound AT TIME ZONE $2)::text AS local
  FROM (SELECT now() - make_interval(secs => $1::float8) AS bound) AS b`,
    values: [delayMs / 1000, timeZone],
  };
}

export interface PageRequest {
  query: string;
  cursor: readonly string[];
  /** The last tuple already read: the page starts strictly after it. */
  after?: CursorTuple;
  /**
   * Only rows whose first cursor column is at most this: a timestamptz as the source prints it, or
   * for a timestamp or date column the source's local time (both read in the session's UTC, so a
   * column without a zone is compared wall-clock to wall-clock).
   */
  until?: string;
  limit: number;
}

/**
 * One page: `(a, b) > ($1, $2)` compares the tuple as a whole, so rows sharing a timestamp are
 * ordered by the next column and a page boundary between them neither skips nor repeats one. The
 * parameters take the columns' own types, so the saved text is compared exactly, never via a double.
 */
export function pageQuery(request: PageRequest): Statement {
  const cols = columnsOf(request.cursor);
  const values: unknown[] = [];
  const where = cols.map((c) => `${c} IS NOT NULL`);
  if (request.after) {
    const params = request.after.map((v) => {
      values.push(v);
      return `$${values.length}`;
    });
    where.push(`(${cols.join(', ')}) > (${params.join(', ')})`);
  }
  if (request.until !== undefined) {
    values.push(request.until);
    where.push(`${cols[0]} <= $${values.length}::timestamptz`);
  }
  values.push(request.limit);
  return {
    text: `SELECT * FROM (${request.query}) AS ${SOURCE}
 WHERE ${where.join('\n   AND ')}
 ORDER BY ${cols.join(', ')}
 LIMIT $${values.length}`,
    values,
  };
}

/** Rows no keyset can place: a cursor column is null. Counted on incremental runs, read on full ones. */
function nullCursorCondition(cursor: readonly string[]): string {
  return columnsOf(cursor)
    .map((c) => `${c} IS NULL`)
    .join(' OR ');
}

export function countNullCursors(query: string, cursor: readonly string[]): Statement {
  return {
    text: `SELECT count(*)::text AS n FROM (${query}) AS ${SOURCE} WHERE ${nullCursorCondition(cursor)}`,
    values: [],
  };
}

export function selectNullCursors(query: string, cursor: readonly string[]): Statement {
  return { text: `SELECT * FROM (${query}) AS ${SOURCE} WHERE ${nullCursorCondition(cursor)}`, values: [] };
}
