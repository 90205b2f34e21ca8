/**
 * The imports of etl serve, as rows of etl_info_schema.imports. The queue carries only an import
 * id; every decision (is there work left, was it canceled, how many attempts) reads this row.
 */
import type pg from 'pg';
import type { LoadCounts } from './history.js';

export type ImportStatus = 'queued' | 'staging' | 'merging' | 'succeeded' | 'failed' | 'canceled';
export const IMPORT_STATUSES: readonly ImportStatus[] = [
  'queued',
  'staging',
  'merging',
  'succeeded',
  'failed',
  'canceled',
];
export const FINISHED: readonly ImportStatus[] = ['succeeded', 'failed', 'canceled'];

/** Per-import options from the request, already checked against what the sync's config allows. */
export interface ImportOptions {
  mode?: 'mirror' | 'upsert' | 'append';
  dryRun?: boolean;
  maxErrors?: number;
  maxDelete?: number;
  allowEmpty?: boolean;
  /** Uploads: the body's format. */
  format?: 'csv' | 'ndjson' | 'json';
}

export interface ImportRow {
  importId: string;
  sync: string;
  kind: 'url' | 'upload';
  source: string;
  /** The URL to fetch (may hold credentials): read by workers, never answered. */
  url: string | null;
  options: ImportOptions;
  status: ImportStatus;
  loadId: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  keyName: string | null;
  bytesRead: number;
  bytesTotal: number | null;
  rowsRead: number;
  rowsStaged: number | null;
  counts: LoadCounts | null;
  error: string | null;
  errorCode: string | null;
  attempts: number;
  cancelRequested: boolean;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

const COLUMNS = `import_id, sync_name, kind, source, url, options, status, load_id, idempotency_key, request_hash,
  key_name, bytes_read, bytes_total, rows_read, rows_staged, counts, error, error_code, attempts, cancel_requested,
  created_at, started_at, finished_at, updated_at`;

type Row = Record<string, unknown>;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toImport(r: Row): ImportRow {
  return {
    importId: r.import_id as string,
    sync: r.sync_name as string,
    kind: r.kind as ImportRow['kind'],
    source: r.source as string,
    url: r.url as string | null,
    options: r.options as ImportOptions,
    status: r.status as ImportStatus,
    loadId: r.load_id as string | null,
    idempotencyKey: r.idempotency_key as string | null,
    requestHash: r.request_hash as string | null,
    keyName: r.key_name as string | null,
    bytesRead: Number(r.bytes_read),
    bytesTotal: num(r.bytes_total),
    rowsRead: Number(r.rows_read),
    rowsStaged: num(r.rows_staged),
    counts: r.counts as LoadCounts | null,
    error: r.error as string | null,
    errorCode: r.error_code as string | null,
    attempts: Number(r.attempts),
    cancelRequested: r.cancel_requested as boolean,
    createdAt: r.created_at as Date,
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date | null,
    updatedAt: r.updated_at as Date,
  };
}

export interface NewImport {
  importId: string;
  sync: string;
  kind: ImportRow['kind'];
  source: string;
  url?: string;
  options: ImportOptions;
  status: ImportStatus;
  idempotencyKey?: string;
  requestHash?: string;
  keyName?: string;
  bytesTotal?: number;
}

/**
 * Records a new import. With an idempotency key already used for this sync, nothing is inserted and
 * the earlier import is returned instead (`created` false): the caller compares its request hash.
 */
export async function insertImport(
  db: pg.ClientBase | pg.Pool,
  i: NewImport,
): Promise<{ row: ImportRow; created: boolean }> {
  const r = await db.query<Row>(
    `INSERT INTO etl_info_schema.imports
       (import_id, sync_name, kind, source, url, options, status, idempotency_key, request_hash, key_name, bytes_total,
        started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $7 = 'staging' THEN clock_timestamp() END)
     ON CONFLICT (sync_name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      i.importId,
      i.sync,
      i.kind,
      i.source,
      i.url ?? null,
      JSON.stringify(i.options),
      i.status,
      i.idempotencyKey ?? null,
      i.requestHash ?? null,
      i.keyName ?? null,
      i.bytesTotal ?? null,
    ],
  );
  if (r.rows[0]) return { row: toImport(r.rows[0]), created: true };
  const existing = await db.query<Row>(
    `SELECT ${COLUMNS} FROM etl_info_schema.imports WHERE sync_name = $1 AND idempotency_key = $2`,
    [i.sync, i.idempotencyKey],
  );
  return { row: toImport(existing.rows[0]), created: false };
}

/**
 * Frees the idempotency key of an import that ended before its request was recorded (an upload that
 * failed or was canceled while its body arrived: nothing of it was imported), so a retry with the
 * same key starts a new import instead of meeting the dead one forever.
 */
export async function releaseIdempotencyKey(db: pg.ClientBase | pg.Pool, importId: string): Promise<void> {
  await db.query(
    `UPDATE etl_info_schema.imports SET idempotency_key = NULL, updated_at = clock_timestamp()
      WHERE import_id = $1 AND request_hash IS NULL AND status IN ('succeeded', 'failed', 'canceled')`,
    [importId],
  );
}

export async function getImport(db: pg.ClientBase | pg.Pool, importId: string): Promise<ImportRow | undefined> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM etl_info_schema.imports WHERE import_id = $1`, [importId]);
  return r.rows[0] ? toImport(r.rows[0]) : undefined;
}

export interface ListFilter {
  sync?: string;
  status?: ImportStatus;
  /** Only imports of these syncs ('*' = all). */
  syncs: readonly string[];
  limit: number;
  /** Continue after this import (the previous page's last), newest first. */
  after?: string;
}

export async function listImports(db: pg.ClientBase | pg.Pool, f: ListFilter): Promise<ImportRow[]> {
  const r = await db.query<Row>(
    `SELECT ${COLUMNS} FROM etl_info_schema.imports
      WHERE ($1::text IS NULL OR sync_name = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ('*' = ANY($3::text[]) OR sync_name = ANY($3::text[]))
        AND ($4::uuid IS NULL OR (created_at, import_id) <
             (SELECT created_at, import_id FROM etl_info_schema.imports WHERE import_id = $4::uuid))
      ORDER BY created_at DESC, import_id DESC
      LIMIT $5`,
    [f.sync ?? null, f.status ?? null, f.syncs, f.after ?? null, f.limit],
  );
  return r.rows.map(toImport);
}

export async function countPending(db: pg.ClientBase | pg.Pool): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM etl_info_schema.imports WHERE status IN ('queued', 'staging', 'merging')`,
  );
  return Number(r.rows[0].n);
}

/** Fields a status change may set. Column names are fixed here, never taken from a request. */
export interface ImportPatch {
  status?: ImportStatus;
  loadId?: string | null;
  bytesRead?: number;
  bytesTotal?: number | null;
  rowsRead?: number;
  rowsStaged?: number | null;
  counts?: LoadCounts | null;
  error?: string | null;
  errorCode?: string | null;
  attempts?: number;
  requestHash?: string;
  attemptsIncrement?: boolean;
  started?: boolean;
  finished?: boolean;
  cancelRequested?: boolean;
}

const PATCH_COLUMNS: Record<string, string> = {
  status: 'status',
  loadId: 'load_id',
  bytesRead: 'bytes_read',
  bytesTotal: 'bytes_total',
  rowsRead: 'rows_read',
  rowsStaged: 'rows_staged',
  counts: 'counts',
  error: 'error',
  errorCode: 'error_code',
  cancelRequested: 'cancel_requested',
  attempts: 'attempts',
  requestHash: 'request_hash',
};

/** The UPDATE for a patch, applied only while the import is in one of `onlyFrom` (when given). */
export function patchImportQuery(importId: string, patch: ImportPatch, onlyFrom?: readonly ImportStatus[]) {
  const sets: string[] = ['updated_at = clock_timestamp()'];
  const values: unknown[] = [importId];
  for (const [key, column] of Object.entries(PATCH_COLUMNS)) {
    const value = (patch as Record<string, unknown>)[key];
    if (value === undefined) continue;
    values.push(key === 'counts' && value !== null ? JSON.stringify(value) : value);
    sets.push(`${column} = $${values.length}`);
  }
  if (patch.attemptsIncrement) sets.push('attempts = attempts + 1');
  if (patch.started) sets.push('started_at = coalesce(started_at, clock_timestamp())');
  if (patch.finished) sets.push('finished_at = clock_timestamp()');
  let where = 'import_id = $1';
  if (onlyFrom) {
    values.push(onlyFrom);
    where += ` AND status = ANY($${values.length}::text[])`;
  }
  return {
    text: `UPDATE etl_info_schema.imports SET ${sets.join(', ')} WHERE ${where} RETURNING ${COLUMNS}`,
    values,
  };
}

/** Applies a patch; undefined when the import was not in one of `onlyFrom` (someone else moved it on). */
export async function patchImport(
  db: pg.ClientBase | pg.Pool,
  importId: string,
  patch: ImportPatch,
  onlyFrom?: readonly ImportStatus[],
): Promise<ImportRow | undefined> {
  const r = await db.query<Row>(patchImportQuery(importId, patch, onlyFrom));
  return r.rows[0] ? toImport(r.rows[0]) : undefined;
}

/** Load ids whose staged rows still wait for a queued import: recovery must leave them alone. */
export async function loadsAwaitingMerge(db: pg.ClientBase | pg.Pool, table: string): Promise<Set<string>> {
  const r = await db.query<{ load_id: string }>(
    `SELECT i.load_id FROM etl_info_schema.imports i
      JOIN etl_info_schema.loads l ON l.load_id = i.load_id
     WHERE i.status IN ('queued', 'merging') AND l.table_name = $1`,
    [table],
  );
  return new Set(r.rows.map((row) => row.load_id));
}
