/**
 * A config entry whose source is another PostgreSQL database: incremental extracts by a cursor.
 *
 *   "source": { "postgres": "SOURCE_DATABASE_URL" | "postgres://...", "query": "select ..." | "table": "...",
 *               "cursor": ["updated_at", "id"], "consistency_delay": "10s", "page_size": 50000 }
 *
 * One target (the entry's own target/key/columns), or several: "targets": [{ "query" | "table",
 * "target", "key", "columns", ... }], merged in the order listed (parents first) in one transaction.
 * The connection string is a secret: it is never shown, and may be the name of an environment
 * variable, read when the sync is resolved (configForDefinition), not when the file is parsed.
 */
import { ConfigError } from '../errors.js';
import { quoteIdent } from '../db/quote.js';
import type { SyncMode, TargetSpec } from '../table/spec.js';
import type { PostgresEntrySource, SyncEntry, TargetFields } from './file-schema.js';
import type { Env } from './resolve.js';

/** One query and the target it feeds. */
export interface PostgresTable {
  /** The SELECT whose rows feed the target (a `table` becomes SELECT * FROM it). */
  query: string;
  /** Names the query in messages: the table, or `targets[i].query`. */
  label: string;
  target: TargetSpec;
}

interface PostgresSettings {
  /** The config entry's name: keys the saved cursor. */
  sync: string;
  /** Columns every query returns, compared as one tuple: the last should make it unique (the primary key). */
  cursor: readonly string[];
  /** Rows whose first cursor column is later than the source's now() minus this are left for the next run. */
  consistencyDelayMs: number;
  pageSize: number;
  /** In merge order: parents before children, so foreign keys hold. */
  tables: readonly PostgresTable[];
}

/** As parsed from the file: the connection may still be an environment variable's name. */
export interface PostgresDefinition extends PostgresSettings {
  connection: { url: string } | { env: string };
  /** Names the connection setting in messages (`etl.config.json: syncs[0].source.postgres`). */
  setting: string;
}

/** Resolved: what a run uses. */
export interface PostgresSource extends PostgresSettings {
  connectionString: string;
  /** host:port/database, never the password. */
  description: string;
}

const URL = /^postgres(?:ql)?:\/\//iu;
const DEFAULT_CONSISTENCY_DELAY_MS = 10_000;
const DEFAULT_PAGE_SIZE = 50_000;

type TargetOf = (t: TargetFields, defaultMode: SyncMode) => TargetSpec;

/** The entry as the schema checked it (config/file-schema.ts), shaped for a run; `at` names the entry in messages. */
export function postgresDefinition(
  entry: SyncEntry,
  source: PostgresEntrySource,
  at: string,
  targetOf: TargetOf,
): PostgresDefinition {
  const entryPath = at.slice(at.lastIndexOf(' ') + 1);
  const tables: PostgresTable[] = entry.targets
    ? entry.targets.map((t, i) => ({ ...sourceQuery(t, `${entryPath}.targets[${i}]`), target: targetOf(t, 'upsert') }))
    : [{ ...sourceQuery(source, `${entryPath}.source`), target: targetOf(entry, 'upsert') }];
  return {
    sync: entry.name,
    connection: URL.test(source.postgres) ? { url: source.postgres } : { env: source.postgres },
    setting: `${at}.source.postgres`,
    cursor: source.cursor,
    consistencyDelayMs: source.consistency_delay ?? DEFAULT_CONSISTENCY_DELAY_MS,
    pageSize: source.page_size ?? DEFAULT_PAGE_SIZE,
    tables,
  };
}

/** The SELECT feeding a target: its `query` (one statement, checked by the schema), or all of its `table`. */
function sourceQuery(q: { query?: string; table?: string }, path: string): { query: string; label: string } {
  // The query is wrapped as a subquery; a trailing semicolon would end the statement early.
  if (q.query !== undefined) return { query: q.query.trim().replace(/;\s*$/u, ''), label: `${path}.query` };
  return { query: `SELECT * FROM ${q.table!.split('.').map(quoteIdent).join('.')}`, label: q.table! };
}

function describe(url: string): string {
  try {
    const u = new globalThis.URL(url);
    return `${u.hostname}${u.port ? ':' + u.port : ''}${u.pathname}`;
  } catch {
    return 'the source database';
  }
}

/** Reads the connection string (from the environment when the file names a variable). */
export function resolvePostgresSource(def: PostgresDefinition, env: Env): PostgresSource {
  const { connection, setting, ...settings } = def;
  let url: string;
  if ('url' in connection) url = connection.url;
  else {
    const value = env[connection.env];
    if (value === undefined || value.trim() === '')
      throw new ConfigError(
        `${setting} names the environment variable ${connection.env}, which is not set; set it to the source's postgres:// URL`,
      );
    if (!URL.test(value.trim()))
      throw new ConfigError(
        `${connection.env} (from ${setting}) must be a postgres:// URL (the value is not shown in case it holds a password)`,
      );
    url = value.trim();
  }
  return Object.freeze({ ...settings, connectionString: url, description: describe(url) });
}
