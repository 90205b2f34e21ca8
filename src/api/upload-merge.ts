/**
 * The second half of an upload: its rows were staged by the API process that received the body
 * (the load left "parked": running in the history, its partition kept, no process attached); a
 * worker, maybe on another replica, merges them here in one transaction, or discards them.
 *
 * Staging partitions are UNLOGGED (fast COPY, no WAL): a database crash empties them. The row count
 * the upload recorded is compared with what the partition holds before merging, so lost staging
 * fails the import clearly (staging_lost) and is never merged partially.
 */
import pg from 'pg';
import type { SyncConfig } from '../config/types.js';
import type { Database } from '../db/connect.js';
import { redactSecrets } from '../observe/redact.js';
import { PG_CODES, pgCode } from '../errors.js';
import { dropPartition, partitionTable } from '../merge/sql.js';
import { mergeLoad } from '../merge/transaction.js';
import type { FieldLogger } from '../observe/json-log.js';
import { finishLoad, type LoadCounts } from '../store/history.js';
import type { ImportRow } from '../store/imports.js';
import { holdLoadLock } from '../store/load-lock.js';
import { acquireTableLock, releaseTableLock } from '../store/lock.js';
import { migrate } from '../store/migrate.js';
import type { SyncCatalog } from './catalog.js';
import { ImportError } from './failure.js';

export interface MergeEnvironment {
  db: Database;
  log: FieldLogger;
  signal: AbortSignal;
  onPhase: () => void;
}

async function recordedCounts(client: pg.ClientBase, loadId: string): Promise<LoadCounts | undefined> {
  const r = await client.query<Record<string, string>>(
    `SELECT rows_read, rows_staged, rows_rejected, status FROM etl_info_schema.loads WHERE load_id = $1`,
    [loadId],
  );
  const row = r.rows[0];
  if (!row || row.status !== 'running') return undefined;
  return {
    read: Number(row.rows_read),
    staged: Number(row.rows_staged),
    rejected: Number(row.rows_rejected),
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    duplicates: 0,
  };
}

/** Rows in the load's partition, or undefined when the partition is gone. */
async function stagedRows(client: pg.ClientBase, config: SyncConfig, loadId: string): Promise<number | undefined> {
  try {
    const r = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${partitionTable(config.target, loadId)}`);
    return Number(r.rows[0].n);
  } catch (error) {
    if (pgCode(error) === PG_CODES.undefinedTable) return undefined;
    throw error;
  }
}

export async function mergeUpload(row: ImportRow, config: SyncConfig, env: MergeEnvironment) {
  const spec = config.target;
  const loadId = row.loadId!;
  const control = new pg.Client({ ...env.db.connection, application_name: `etl worker merge ${spec.name}` });
  control.on('error', () => undefined);
  let locked = false;
  let pid: number | undefined;
  // An abort (cancel, shutdown) cancels the merge statement; its transaction rolls back.
  const onAbort = () => {
    if (pid === undefined) return;
    const side = new pg.Client(env.db.connection);
    side.on('error', () => undefined);
    void side
      .connect()
      .then(() => side.query('SELECT pg_cancel_backend($1)', [pid]))
      .catch(() => undefined)
      .finally(() => void side.end().catch(() => undefined));
  };
  env.signal.addEventListener('abort', onAbort);
  try {
    await control.connect();
    pid = (await control.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await migrate(control);
    // The load has an owner again while it merges (a worker killed now leaves it to the next attempt).
    await holdLoadLock(control, loadId);
    await acquireTableLock(control, spec.name, config.lockTimeoutMs, loadId);
    locked = true;
    const counts = await recordedCounts(control, loadId);
    const present = await stagedRows(control, config, loadId);
    if (!counts || present === undefined || present !== row.rowsStaged)
      throw new ImportError(
        'staging_lost',
        `the rows staged for this upload are gone (${present === undefined ? 'the staging partition no longer exists' : `${present} of ${row.rowsStaged ?? '?'} rows left`}` +
          '; the database probably restarted, which empties unlogged staging tables); nothing was merged: upload the data again',
      );
    if (env.signal.aborted) throw new Error(`aborted (${String(env.signal.reason)})`);
    env.onPhase();
    // Between these two events this process holds the table lock: merges of one table never overlap.
    env.log.info(`load ${loadId}: merging into ${spec.name}`, {
      event: 'merge_started',
      load_id: loadId,
      table: spec.name,
    });
    const { counts: merged } = await mergeLoad(control, spec, loadId, {
      workMem: config.workMem,
      allowEmpty: config.allowEmpty,
      maxDeletePercent: config.maxDeletePercent,
      dryRun: config.dryRun,
      counts,
      source: row.source,
    });
    if (config.dryRun) await finishLoad(control, loadId, 'succeeded', merged);
    await control.query(dropPartition(spec, loadId).text).catch((error: unknown) => {
      env.log.warn(
        `load ${loadId} committed, but its staging partition could not be dropped (${redactSecrets(String(error))}); the next load removes it`,
      );
    });
    env.log.info(`load ${loadId}: merged into ${spec.name}`, {
      event: 'merge_finished',
      load_id: loadId,
      table: spec.name,
    });
    return { loadId, counts: merged };
  } finally {
    env.signal.removeEventListener('abort', onAbort);
    if (locked) await releaseTableLock(control, spec.name).catch(() => undefined);
    await control.end().catch(() => undefined);
  }
}

/** Gives up a parked upload (canceled, failed, out of attempts): its partition is dropped, its load marked. */
export async function discardUpload(
  row: ImportRow,
  catalog: SyncCatalog,
  db: Database,
  status: 'failed' | 'aborted' = 'aborted',
): Promise<void> {
  if (!row.loadId) return;
  const config = catalog.base(row.sync);
  if (!config) return;
  const client = new pg.Client(db.connection);
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(dropPartition(config.target, row.loadId).text);
    await client.query(
      `UPDATE etl_info_schema.loads SET status = $2, finished_at = clock_timestamp(), error = coalesce(error, $3)
        WHERE load_id = $1 AND status = 'running'`,
      [row.loadId, status, `import ${row.importId} was ${status === 'aborted' ? 'canceled' : 'not merged'}`],
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
