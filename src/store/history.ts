import type pg from 'pg';

/** What a load did, as recorded in etl_info_schema.loads and printed in the summary. */
export interface LoadCounts {
  read: number;
  staged: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  duplicates: number;
}

export const zeroCounts = (): LoadCounts => ({
  read: 0,
  staged: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  rejected: 0,
  duplicates: 0,
});

/** skipped: --if-changed found the source identical to the last successful load's. */
export type LoadStatus = 'running' | 'succeeded' | 'failed' | 'aborted' | 'skipped';

export interface NewLoad {
  loadId: string;
  table: string;
  source: string;
  host: string;
  pid: number;
  dryRun: boolean;
}

export async function createLoad(db: pg.ClientBase | pg.Pool, load: NewLoad): Promise<void> {
  await db.query(
    `INSERT INTO etl_info_schema.loads (load_id, table_name, source, status, host, pid, dry_run)
     VALUES ($1, $2, $3, 'running', $4, $5, $6)`,
    [load.loadId, load.table, load.source, load.host, load.pid, load.dryRun],
  );
}

/** The statement that closes a load; run inside the merge transaction on success. */
export function finishLoadQuery(
  loadId: string,
  status: Exclude<LoadStatus, 'running'>,
  counts: LoadCounts,
  error?: string,
) {
  return {
    text: `UPDATE etl_info_schema.loads
              SET status = $2, finished_at = clock_timestamp(), rows_read = $3, rows_staged = $4,
                  rows_inserted = $5, rows_updated = $6, rows_unchanged = $7, rows_deleted = $8,
                  rows_rejected = $9, rows_duplicate = $10, error = $11
            WHERE load_id = $1`,
    values: [
      loadId,
      status,
      counts.read,
      counts.staged,
      counts.inserted,
      counts.updated,
      counts.unchanged,
      counts.deleted,
      counts.rejected,
      counts.duplicates,
      error ?? null,
    ],
  };
}

export async function finishLoad(
  db: pg.ClientBase | pg.Pool,
  loadId: string,
  status: Exclude<LoadStatus, 'running'>,
  counts: LoadCounts,
  error?: string,
): Promise<void> {
  await db.query(finishLoadQuery(loadId, status, counts, error));
}

/** A load parked for a later commit keeps what it read and staged in its (still running) history row. */
export async function recordStaged(db: pg.ClientBase | pg.Pool, loadId: string, counts: LoadCounts): Promise<void> {
  await db.query(
    `UPDATE etl_info_schema.loads SET rows_read = $2, rows_staged = $3, rows_rejected = $4 WHERE load_id = $1`,
    [loadId, counts.read, counts.staged, counts.rejected],
  );
}

/** Loads of this table still marked running: alive, or abandoned by a run that is gone (see load-lock.ts). */
export interface RunningLoad {
  loadId: string;
  host: string | null;
  pid: number | null;
  /** When the database server started, if that was after the load started: it restarted under the load. */
  restartedAt: Date | null;
}

export async function runningLoads(db: pg.ClientBase | pg.Pool, table: string): Promise<RunningLoad[]> {
  const r = await db.query<{ load_id: string; host: string | null; pid: number | null; restarted_at: Date | null }>(
    `SELECT load_id, host, pid,
            CASE WHEN pg_postmaster_start_time() > started_at THEN pg_postmaster_start_time() END AS restarted_at
       FROM etl_info_schema.loads WHERE table_name = $1 AND status = 'running'`,
    [table],
  );
  return r.rows.map((row) => ({ loadId: row.load_id, host: row.host, pid: row.pid, restartedAt: row.restarted_at }));
}

export async function markAborted(db: pg.ClientBase | pg.Pool, loadId: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE etl_info_schema.loads SET status = 'aborted', finished_at = clock_timestamp(), error = $2
      WHERE load_id = $1 AND status = 'running'`,
    [loadId, reason],
  );
}
