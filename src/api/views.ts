/** How imports look in answers: snake_case JSON, never the URL's credentials or anything internal. */
import type pg from 'pg';
import type { LoadCounts } from '../store/history.js';
import type { ImportRow } from '../store/imports.js';

export interface ImportCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  duplicates: number;
}

/** The counts of the import's load as recorded in the history (also for a failed load: what it read). */
export async function loadCounts(db: pg.ClientBase | pg.Pool, loadIds: string[]): Promise<Map<string, ImportCounts>> {
  const out = new Map<string, ImportCounts>();
  if (loadIds.length === 0) return out;
  const r = await db.query<Record<string, string>>(
    `SELECT load_id, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, rows_duplicate
       FROM etl_info_schema.loads WHERE load_id = ANY($1::uuid[])`,
    [loadIds],
  );
  for (const row of r.rows)
    out.set(row.load_id, {
      read: Number(row.rows_read),
      inserted: Number(row.rows_inserted),
      updated: Number(row.rows_updated),
      unchanged: Number(row.rows_unchanged),
      deleted: Number(row.rows_deleted),
      rejected: Number(row.rows_rejected),
      duplicates: Number(row.rows_duplicate),
    });
  return out;
}

function countsOf(row: ImportRow, fromLoad: ImportCounts | undefined): ImportCounts | null {
  const c: LoadCounts | ImportCounts | null | undefined = row.counts ?? fromLoad;
  if (!c) return null;
  return {
    read: c.read,
    inserted: c.inserted,
    updated: c.updated,
    unchanged: c.unchanged,
    deleted: c.deleted,
    rejected: c.rejected,
    duplicates: c.duplicates,
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function importView(row: ImportRow, fromLoad?: ImportCounts) {
  const self = `/v1/imports/${row.importId}`;
  return {
    id: row.importId,
    sync: row.sync,
    kind: row.kind,
    source: row.source,
    status: row.status,
    options: {
      mode: row.options.mode ?? null,
      dry_run: row.options.dryRun ?? null,
      max_errors: row.options.maxErrors ?? null,
      max_delete: row.options.maxDelete ?? null,
      allow_empty: row.options.allowEmpty ?? null,
      format: row.options.format ?? null,
    },
    load_id: row.loadId,
    progress: { bytes: row.bytesRead, bytes_total: row.bytesTotal, rows: row.rowsRead, rows_staged: row.rowsStaged },
    counts: countsOf(row, fromLoad),
    attempts: row.attempts,
    cancel_requested: row.cancelRequested,
    error: row.error ? { message: row.error, code: row.errorCode ?? 'load_failed' } : null,
    created_at: iso(row.createdAt),
    started_at: iso(row.startedAt),
    finished_at: iso(row.finishedAt),
    updated_at: iso(row.updatedAt),
    duration_ms: row.startedAt ? (row.finishedAt ?? new Date()).getTime() - row.startedAt.getTime() : null,
    links: { self, rejects: `${self}/rejects` },
  };
}

/** The original bulk API's statuses, for GET /{sync}/_bulk/status/{id}. */
export function bulkStatus(status: ImportRow['status']): 'queued' | 'processing' | 'complete' | 'error' {
  if (status === 'queued') return 'queued';
  if (status === 'staging' || status === 'merging') return 'processing';
  if (status === 'succeeded') return 'complete';
  return 'error';
}
