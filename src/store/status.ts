/**
 * Reading the load history back: recent loads, one load, a load's bad rows. Statements are pure
 * builders ({ text, values }); identifiers go through quote.ts, values are always parameters.
 * Nothing here creates or migrates the schema: a database etl never wrote to simply has no loads.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { DatabaseSetting } from '../config/types.js';
import { openDatabase, type Database } from '../db/connect.js';
import { quoteIdent, quoteTable } from '../db/quote.js';
import type { Statement } from '../db/statement.js';
import { UUID_PATTERN } from '../db/uuid.js';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/log.js';
import { listCursors, type SavedCursor } from './cursors.js';
import type { LoadCounts, LoadStatus } from './history.js';

export const HISTORY_SCHEMA = 'etl_info_schema';
const LOADS = quoteTable(HISTORY_SCHEMA, 'loads');
const REJECTS = quoteTable(HISTORY_SCHEMA, 'rejects');

/** The rows_* columns of etl_info_schema.loads that hold a load's counts. */
const LOAD_COUNT_FIELDS = [
  'rows_read',
  'rows_staged',
  'rows_inserted',
  'rows_updated',
  'rows_unchanged',
  'rows_deleted',
  'rows_rejected',
  'rows_duplicate',
] as const;
export const LOAD_COUNT_COLUMNS = LOAD_COUNT_FIELDS.join(', ');
/** Those columns as pg returns them (bigint as text). */
export type LoadCountRow = Record<(typeof LOAD_COUNT_FIELDS)[number], string>;

export const DEFAULT_LOAD_LIMIT = 20;
export const DEFAULT_REJECT_LIMIT = 100;
export const MAX_LIMIT = 1_000_000;

/** One row of etl_info_schema.loads, as library callers see it. */
export interface LoadRecord {
  loadId: string;
  table: string;
  source: string;
  status: LoadStatus;
  dryRun: boolean;
  startedAt: Date;
  /** Null while the load is running. */
  finishedAt: Date | null;
  /** Finished minus started; for a running load, the time so far (database clock). */
  durationMs: number;
  counts: LoadCounts;
  error: string | null;
  host: string | null;
  pid: number | null;
}

/** One bad row of a load: its line in the file, why it was rejected, and the text as read. */
export interface RejectRecord {
  /** The file of a load that read many; absent when it read one. */
  file?: string;
  line: number;
  reason: string;
  raw: string;
}

/** Thrown when an explicit load id is not in the history. */
export class LoadNotFoundError extends Error {
  readonly code = 'ETL_LOAD_NOT_FOUND';
  constructor(
    message: string,
    readonly loadId: string,
  ) {
    super(message);
    this.name = 'LoadNotFoundError';
  }
}

/** A load id as the user typed it, checked before it reaches the database (which would reject it with 22P02). */
export function checkLoadId(id: string, setting = '--load'): string {
  const t = id.trim();
  if (!UUID_PATTERN.test(t))
    throw new ConfigError(
      `${setting} ${JSON.stringify(id)} is not a load id; load ids are UUIDs such as 3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11 (see etl status)`,
    );
  return t.toLowerCase();
}

export function checkLimit(limit: number, setting = '--limit'): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ConfigError(`${setting} ${String(limit)} is out of range; use a whole number from 1 to ${MAX_LIMIT}`);
  }
  return limit;
}

/** Whether the history tables exist (to_regclass is null for a missing schema or table, never an error). */
export function historyExistsQuery(): Statement {
  return {
    text: 'SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS present',
    values: [LOADS, REJECTS],
  };
}

const columns = [
  'load_id',
  'table_name',
  'source',
  'status',
  'dry_run',
  'started_at',
  'finished_at',
  ...LOAD_COUNT_FIELDS,
  'error',
  'host',
  'pid',
].map(quoteIdent);

const SELECT_LOAD = `SELECT ${columns.join(', ')},
          (extract(epoch FROM coalesce(${quoteIdent('finished_at')}, clock_timestamp()) - ${quoteIdent('started_at')}) * 1000)::float8 AS duration_ms
     FROM ${LOADS}`;

/** The most recent loads first, optionally of one table. */
export function recentLoadsQuery(options: { table?: string; limit: number }): Statement {
  return {
    text: `${SELECT_LOAD}
    WHERE ($1::text IS NULL OR ${quoteIdent('table_name')} = $1)
    ORDER BY ${quoteIdent('started_at')} DESC, ${quoteIdent('load_id')}
    LIMIT $2`,
    values: [options.table ?? null, options.limit],
  };
}

export function loadQuery(loadId: string): Statement {
  return { text: `${SELECT_LOAD}\n    WHERE ${quoteIdent('load_id')} = $1::uuid`, values: [loadId] };
}

/** A load's bad rows in file order, with how many there are in all. */
export function rejectsQuery(loadId: string, limit: number): Statement {
  return {
    text: `SELECT ${quoteIdent('file')}, ${quoteIdent('line')}, ${quoteIdent('reason')}, ${quoteIdent('raw')}, count(*) OVER () AS total
     FROM ${REJECTS}
    WHERE ${quoteIdent('load_id')} = $1::uuid
    ORDER BY ${quoteIdent('file')} COLLATE "C", ${quoteIdent('line')}
    LIMIT $2`,
    values: [loadId, limit],
  };
}

interface LoadRow {
  load_id: string;
  table_name: string;
  source: string;
  status: LoadStatus;
  dry_run: boolean;
  started_at: Date;
  finished_at: Date | null;
  rows_read: string;
  rows_staged: string;
  rows_inserted: string;
  rows_updated: string;
  rows_unchanged: string;
  rows_deleted: string;
  rows_rejected: string;
  rows_duplicate: string;
  error: string | null;
  host: string | null;
  pid: number | null;
  duration_ms: number;
}

/** bigint columns arrive as strings; counts fit comfortably in a double. */
export function toLoadRecord(row: LoadRow): LoadRecord {
  return {
    loadId: row.load_id,
    table: row.table_name,
    source: row.source,
    status: row.status,
    dryRun: row.dry_run,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: Math.max(0, Number(row.duration_ms)),
    counts: countsOfLoadRow(row),
    error: row.error,
    host: row.host,
    pid: row.pid,
  };
}

type Queryable = pg.ClientBase | pg.Pool;

export async function historyExists(db: Queryable): Promise<boolean> {
  const r = await db.query<{ present: boolean }>(historyExistsQuery());
  return r.rows[0]?.present === true;
}

export async function recentLoads(db: Queryable, options: { table?: string; limit: number }): Promise<LoadRecord[]> {
  const r = await db.query<LoadRow>(recentLoadsQuery(options));
  return r.rows.map(toLoadRecord);
}

export async function findLoad(db: Queryable, loadId: string): Promise<LoadRecord | undefined> {
  const r = await db.query<LoadRow>(loadQuery(loadId));
  return r.rows[0] ? toLoadRecord(r.rows[0]) : undefined;
}

export async function findRejects(
  db: Queryable,
  loadId: string,
  limit: number,
): Promise<{ rejects: RejectRecord[]; total: number }> {
  const r = await db.query<{ file: string; line: string; reason: string; raw: string; total: string }>(
    rejectsQuery(loadId, limit),
  );
  return {
    rejects: r.rows.map((row) => ({
      ...(row.file === '' ? {} : { file: row.file }),
      line: Number(row.line),
      reason: row.reason,
      raw: row.raw,
    })),
    total: r.rows[0] ? Number(r.rows[0].total) : 0,
  };
}

/** Where the embedded server keeps its cluster; without one there is no history to read. */
function embeddedClusterMissing(setting: DatabaseSetting): boolean {
  return setting.kind === 'embedded' && !existsSync(join(resolve(setting.dir), 'pgdata', 'PG_VERSION'));
}

export interface HistoryAccess {
  log?: Logger;
  /** An already open database; otherwise the configured one is opened (the embedded server started) and closed. */
  db?: Database;
}

/**
 * Runs `read` on a connection to the configured database, or with `undefined` when no history was
 * ever written there. A fresh embedded directory is not initialised just to find that out.
 */
async function withHistory<T>(
  setting: DatabaseSetting,
  access: HistoryAccess,
  read: (client: pg.ClientBase | undefined) => Promise<T>,
): Promise<T> {
  if (!access.db && embeddedClusterMissing(setting)) return read(undefined);
  const log = access.log ?? silentLogger;
  const db = access.db ?? (await openDatabase(setting, (m) => log.info(m)));
  const client = new pg.Client({ ...db.connection, application_name: 'etl status' });
  client.on('error', () => undefined); // surfaced by the next query
  try {
    await client.connect();
    return await read((await historyExists(client)) ? client : undefined);
  } finally {
    await client.end().catch(() => undefined);
    if (!access.db) await db.close();
  }
}

export interface StatusOptions extends HistoryAccess {
  /** Only loads of this target (as named in the history, e.g. "followers"). */
  table?: string;
  /** How many loads, newest first (default 20). */
  limit?: number;
  /** Exactly this load; a LoadNotFoundError when it is not in the history. */
  loadId?: string;
}

export interface StatusResult {
  /** False when etl never recorded a sync in this database (no etl_info_schema yet). */
  recorded: boolean;
  loads: LoadRecord[];
  /** The saved cursors of incremental syncs (of the --table, if given); absent when there are none. */
  cursors?: SavedCursor[];
}

export const NOTHING_RECORDED = 'no syncs recorded yet (run etl sync or etl migrate)';

/** Recent loads, newest first, or one load; never creates or migrates the schema. */
export async function status(setting: DatabaseSetting, options: StatusOptions = {}): Promise<StatusResult> {
  const loadId = options.loadId === undefined ? undefined : checkLoadId(options.loadId);
  const limit = checkLimit(options.limit ?? DEFAULT_LOAD_LIMIT);
  return withHistory(setting, options, async (client) => {
    if (!client) {
      if (loadId) throw new LoadNotFoundError(`load ${loadId} not found: ${NOTHING_RECORDED}`, loadId);
      return { recorded: false, loads: [] };
    }
    if (loadId) {
      const load = await findLoad(client, loadId);
      if (!load)
        throw new LoadNotFoundError(
          `load ${loadId} not found in etl_info_schema.loads (see etl status for recent loads)`,
          loadId,
        );
      return { recorded: true, loads: [load] };
    }
    const loads = await recentLoads(client, { table: options.table, limit });
    const cursors = (await listCursors(client)).filter(
      (c) => options.table === undefined || Object.keys(c.positions).includes(options.table),
    );
    return cursors.length > 0 ? { recorded: true, loads, cursors } : { recorded: true, loads };
  });
}

export interface LoadRejects {
  load: LoadRecord;
  /** In line order, at most the limit. */
  rejects: RejectRecord[];
  /** How many bad rows the load recorded in all. */
  total: number;
}

/** A load's bad rows (line, reason, raw text) from etl_info_schema.rejects, in line order. */
export async function loadRejects(
  setting: DatabaseSetting,
  loadId: string,
  options: HistoryAccess & { limit?: number } = {},
): Promise<LoadRejects> {
  const id = checkLoadId(loadId);
  const limit = checkLimit(options.limit ?? DEFAULT_REJECT_LIMIT);
  return withHistory(setting, options, async (client) => {
    if (!client) throw new LoadNotFoundError(`load ${id} not found: ${NOTHING_RECORDED}`, id);
    const load = await findLoad(client, id);
    if (!load)
      throw new LoadNotFoundError(
        `load ${id} not found in etl_info_schema.loads (see etl status for recent loads)`,
        id,
      );
    return { load, ...(await findRejects(client, id, limit)) };
  });
}

/** A load's counts from its row in etl_info_schema.loads (bigint columns arrive as text). */
export function countsOfLoadRow(row: LoadCountRow): LoadCounts {
  return {
    read: Number(row.rows_read),
    staged: Number(row.rows_staged),
    inserted: Number(row.rows_inserted),
    updated: Number(row.rows_updated),
    unchanged: Number(row.rows_unchanged),
    deleted: Number(row.rows_deleted),
    rejected: Number(row.rows_rejected),
    duplicates: Number(row.rows_duplicate),
  };
}
