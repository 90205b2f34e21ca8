/** How imports look in answers: snake_case JSON, never the URL's credentials or anything internal. */
import type pg from 'pg';
import type { LoadCounts } from '../store/history.js';
import type { ImportRow } from '../store/imports.js';
import { countsOfLoadRow, LOAD_COUNT_COLUMNS, type LoadCountRow } from '../store/status.js';

/** A load's counts as an import shows them (staged is internal). */
export type ImportCounts = Omit<LoadCounts, 'staged'>;

/** The counts of the import's load as recorded in the history (also for a failed load: what it read). */
export async function loadCounts(db: pg.ClientBase | pg.Pool, loadIds: string[]): Promise<Map<string, ImportCounts>> {
  const out = new Map<string, ImportCounts>();
  if (loadIds.length === 0) return out;
  const r = await db.query<LoadCountRow & { load_id: string }>(
    `SELECT load_id, ${LOAD_COUNT_COLUMNS} FROM etl_info_schema.loads WHERE load_id = ANY($1::uuid[])`,
    [loadIds],
  );
  for (const row of r.rows) out.set(row.load_id, countsOf(countsOfLoadRow(row)));
  return out;
}

/** Only the counts an import answer shows, whatever else the object carries. */
function countsOf(c: ImportCounts): ImportCounts {
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
    counts: row.counts ? countsOf(row.counts) : (fromLoad ?? null),
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
