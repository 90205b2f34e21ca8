import type pg from 'pg';
import { LockBusyError, PG_CODES, pgCode } from '../errors.js';
import { LOCK_NAMESPACE } from './advisory.js';

/**
 * The per-table run lock: a session-level advisory lock keyed by the target name, held on the
 * connection that later runs the merge, so losing the connection also loses the right to merge.
 * Works across hosts because PostgreSQL arbitrates it.
 */
export async function acquireTableLock(client: pg.ClientBase, target: string, timeoutMs: number): Promise<void> {
  if (timeoutMs <= 0) {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      LOCK_NAMESPACE,
      target,
    ]);
    if (!r.rows[0]?.ok) throw await busy(client, target, timeoutMs);
    return;
  }
  await client.query('BEGIN');
  try {
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.ceil(timeoutMs)}ms`]);
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, target]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (pgCode(error) === PG_CODES.lockNotAvailable) throw await busy(client, target, timeoutMs);
    throw error;
  }
}

export async function releaseTableLock(client: pg.ClientBase, target: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, target]);
}

/** Names the holder (from the load history) so the user knows what to wait for or stop. */
async function busy(client: pg.ClientBase, target: string, timeoutMs: number): Promise<LockBusyError> {
  let holder = '';
  try {
    const r = await client.query<{ load_id: string; host: string | null; pid: number | null; started_at: Date }>(
      `SELECT load_id, host, pid, started_at FROM etl_info_schema.loads
        WHERE table_name = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1`,
      [target],
    );
    const row = r.rows[0];
    if (row)
      holder = ` (load ${row.load_id}, pid ${row.pid ?? '?'} on ${row.host ?? '?'}, running since ${row.started_at.toISOString()})`;
  } catch {
    // The history is only used to enrich the message.
  }
  const waited = timeoutMs > 0 ? `waited ${timeoutMs / 1000}s; ` : '';
  return new LockBusyError(
    `another etl run is syncing ${target}${holder}; ${waited}try again later or raise --lock-timeout`,
  );
}
