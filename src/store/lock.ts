import type pg from 'pg';
import { LockBusyError, PG_CODES, pgCode } from '../errors.js';
import { LOAD_LOCK_NAMESPACE, LOCK_NAMESPACE } from './advisory.js';

/**
 * The per-table run lock: a session-level advisory lock keyed by the target name, held on the
 * connection that later runs the merge, so losing the connection also loses the right to merge.
 * Works across hosts because PostgreSQL arbitrates it.
 */
export async function acquireTableLock(
  client: pg.ClientBase,
  target: string,
  timeoutMs: number,
  ownLoadId?: string,
): Promise<void> {
  if (timeoutMs <= 0) {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      LOCK_NAMESPACE,
      target,
    ]);
    if (!r.rows[0]?.ok) throw await busy(client, target, timeoutMs, ownLoadId);
    return;
  }
  await client.query('BEGIN');
  try {
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.ceil(timeoutMs)}ms`]);
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, target]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (pgCode(error) === PG_CODES.lockNotAvailable) throw await busy(client, target, timeoutMs, ownLoadId);
    throw error;
  }
}

export async function releaseTableLock(client: pg.ClientBase, target: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, target]);
}

/**
 * The running load whose connection holds the table lock: the session holding the table lock also
 * holds that load's own lock (store/load-lock.ts). Other running loads may be staging meanwhile.
 */
const HOLDER = `SELECT l.load_id, l.host, l.pid, l.started_at
     FROM etl_info_schema.loads l
     JOIN pg_locks t ON t.locktype = 'advisory' AND t.granted AND t.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND t.classid = $2::int::oid AND t.objid = hashtext($1)::oid AND t.objsubid = 2
     JOIN pg_locks o ON o.locktype = 'advisory' AND o.granted AND o.pid = t.pid
                    AND o.classid = $3::int::oid AND o.objid = hashtext(l.load_id::text)::oid AND o.objsubid = 2
    WHERE l.table_name = $1 AND l.status = 'running' AND l.load_id IS DISTINCT FROM $4::uuid
    ORDER BY l.started_at DESC LIMIT 1`;

/** Names the holder (from the load history) so the user knows what to wait for or stop. */
async function busy(
  client: pg.ClientBase,
  target: string,
  timeoutMs: number,
  ownLoadId: string | undefined,
): Promise<LockBusyError> {
  let holder = '';
  try {
    const r = await client.query<{ load_id: string; host: string | null; pid: number | null; started_at: Date }>(
      HOLDER,
      [target, LOCK_NAMESPACE, LOAD_LOCK_NAMESPACE, ownLoadId ?? null],
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
