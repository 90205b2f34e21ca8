/**
 * Reads a postgres source: one connection whose type parsers all return PostgreSQL's own text, so
 * timestamps keep their microseconds and numerics and bigints their digits (nothing goes through a
 * JS Date or double). Rows come page by page in cursor order; each page is a short statement, so
 * the source holds no long transaction or snapshot for an incremental walk.
 */
import pg from 'pg';
import type { PostgresSource, PostgresTable } from '../../config/postgres-source.js';
import { redactSecrets } from '../../observe/redact.js';
import { ConfigError, messageOf } from '../../errors.js';
import type { CursorTuple } from '../../store/cursors.js';
import {
  countNullCursors,
  describeQuery,
  pageQuery,
  selectNullCursors,
  upperBoundQuery,
  type Statement,
} from './page-sql.js';

/** One source row: PostgreSQL's text of each column, null for NULL, in the query's column order. */
export type SourceRow = (string | null)[];

/** What the query returns, found before any row is read. */
export interface QueryShape {
  columns: string[];
  /** Where each cursor column is in a row. */
  cursorIndexes: number[];
  /** The first cursor column is a date, timestamp or timestamptz, so the consistency delay can bound it. */
  timeCursor: boolean;
  /** It is a date or timestamp (no zone): bounded by the source's local time, not UTC. */
  localTimeCursor: boolean;
}

/** The run's upper bound, as the source prints a timestamptz (UTC) and as its local wall-clock time. */
export interface UpperBound {
  until: string;
  local: string;
}

const rawText = (value: string) => value;
/** PostgreSQL prints booleans as t/f; spelled out, they read the same in a delete_when rule as in a file. */
const booleanText = (value: string) => (value === 't' ? 'true' : 'false');
const BOOL_OID = 16;
/** Every type stays the server's text (booleans spelled out): nothing becomes a JS Date or number. */
const RAW_TYPES = {
  getTypeParser: (oid: number) => (oid === BOOL_OID ? booleanText : rawText),
};
const LOCAL_TIME_TYPES = new Set([1082 /* date */, 1114 /* timestamp */]);
const TIME_TYPES = new Set([...LOCAL_TIME_TYPES, 1184 /* timestamptz */]);
const NULL_CURSOR_CURSOR = 'etl_null_cursors';

export class PostgresReader {
  private constructor(
    private readonly client: pg.Client,
    private readonly source: PostgresSource,
    /** The source's own TimeZone setting, before this session switched to UTC. */
    private readonly timeZone: string,
  ) {}

  static async open(source: PostgresSource, applicationName: string): Promise<PostgresReader> {
    const client = new pg.Client({
      connectionString: source.connectionString,
      application_name: applicationName,
      types: RAW_TYPES,
    });
    client.on('error', () => undefined); // surfaced by the next query
    let timeZone: string;
    try {
      await client.connect();
      timeZone = (await client.query<[string]>({ text: 'SHOW TimeZone', rowMode: 'array' })).rows[0][0];
      // Text output that means one thing whatever the server's defaults: ISO dates in UTC, and
      // floats in their shortest exact form.
      await client.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new Error(
        `cannot connect to the source database ${source.description}: ${redactSecrets(messageOf(error), [source.connectionString])}`,
        { cause: error },
      );
    }
    return new PostgresReader(client, source, timeZone);
  }

  private async run(statement: Statement, what: string): Promise<pg.QueryArrayResult<SourceRow>> {
    try {
      return await this.client.query<SourceRow>({ text: statement.text, values: statement.values, rowMode: 'array' });
    } catch (error) {
      throw new Error(
        `reading ${what} from the source database ${this.source.description} failed: ${redactSecrets(messageOf(error), [this.source.connectionString])}`,
        { cause: error },
      );
    }
  }

  /** Checks the query and finds its columns; a missing cursor column is a configuration error. */
  async describe(table: PostgresTable): Promise<QueryShape> {
    const r = await this.run(describeQuery(table.query), table.label);
    const columns = r.fields.map((f) => f.name);
    const cursorIndexes = this.source.cursor.map((c) => {
      const i = columns.indexOf(c);
      if (i < 0)
        throw new ConfigError(
          `${table.label} returns no column ${JSON.stringify(c)} of the cursor (${this.source.cursor.join(', ')}); it returns ${columns.join(', ')}. ` +
            'Select it (an alias works), or change "cursor"',
        );
      return i;
    });
    const feeds = [
      ...table.target.columns.map((c) => c.source),
      ...(table.target.deleteWhen ? [table.target.deleteWhen.field] : []),
    ];
    const missing = feeds.filter((f) => !columns.includes(f));
    if (missing.length > 0)
      throw new ConfigError(
        `${table.label} returns no column ${missing.map((m) => JSON.stringify(m)).join(', ')} for ${table.target.name}; it returns ${columns.join(', ')}`,
      );
    const type = r.fields[cursorIndexes[0]].dataTypeID;
    return { columns, cursorIndexes, timeCursor: TIME_TYPES.has(type), localTimeCursor: LOCAL_TIME_TYPES.has(type) };
  }

  /** The source's now() minus the delay. */
  async upperBound(delayMs: number): Promise<UpperBound> {
    const r = await this.run(upperBoundQuery(delayMs, this.timeZone), 'the time');
    return { until: r.rows[0][0]!, local: r.rows[0][1]! };
  }

  /**
   * Rows after `after` (up to `until`) in cursor order, one page at a time. The next page is
   * requested as soon as a page arrives (its start is that page's last row), so the source reads
   * it while the workers stage the current one.
   */
  async *pages(
    table: PostgresTable,
    shape: QueryShape,
    range: { after?: CursorTuple; until?: string },
  ): AsyncGenerator<SourceRow[]> {
    const request = (after: CursorTuple | undefined) => {
      const page = this.run(
        pageQuery({
          query: table.query,
          cursor: this.source.cursor,
          after,
          until: range.until,
          limit: this.source.pageSize,
        }),
        table.label,
      );
      page.catch(() => undefined); // awaited below; a consumer that stops early must not leave it unhandled
      return page;
    };
    let pending = request(range.after);
    for (;;) {
      const { rows } = await pending;
      const more = rows.length === this.source.pageSize;
      if (more) {
        const last = rows[rows.length - 1];
        pending = request(shape.cursorIndexes.map((i) => last[i]!));
      }
      if (rows.length > 0) yield rows;
      if (!more) return;
    }
  }

  async countNullCursors(table: PostgresTable): Promise<number> {
    const r = await this.run(countNullCursors(table.query, this.source.cursor), table.label);
    return Number(r.rows[0][0]);
  }

  /**
   * Rows with a null cursor column (full extracts only). No keyset can order them, so they are read
   * through a server-side cursor, a page at a time, in one read-only transaction.
   */
  async *nullCursorPages(table: PostgresTable): AsyncGenerator<SourceRow[]> {
    const select = selectNullCursors(table.query, this.source.cursor);
    await this.run({ text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', values: [] }, 'a snapshot');
    let done = false;
    try {
      await this.run(
        { text: `DECLARE ${NULL_CURSOR_CURSOR} NO SCROLL CURSOR FOR ${select.text}`, values: [] },
        table.label,
      );
      for (;;) {
        const { rows } = await this.run(
          { text: `FETCH FORWARD ${this.source.pageSize} FROM ${NULL_CURSOR_CURSOR}`, values: [] },
          table.label,
        );
        if (rows.length > 0) yield rows;
        if (rows.length < this.source.pageSize) break;
      }
      await this.run({ text: 'COMMIT', values: [] }, 'a snapshot');
      done = true;
    } finally {
      // A failure, or a consumer that stopped early: end the snapshot so the connection stays usable.
      if (!done) await this.client.query('ROLLBACK').catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
