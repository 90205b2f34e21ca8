/**
 * Liveness of a load. Staging runs without the table lock, so "nobody holds the table lock" no
 * longer means "no load of this table is alive". Instead the connection that opens a load holds a
 * session advisory lock keyed by the load id until the load ends: if that connection is gone (the
 * process was killed, the host lost), PostgreSQL has released the lock and the load is abandoned.
 */
import type pg from 'pg';
import { LOAD_LOCK_NAMESPACE, SETUP_LOCK_NAMESPACE } from './advisory.js';

export async function holdLoadLock(client: pg.ClientBase, loadId: string): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOAD_LOCK_NAMESPACE, loadId]);
}

export async function releaseLoadLock(client: pg.ClientBase, loadId: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOAD_LOCK_NAMESPACE, loadId]);
}

/**
 * True when no session holds the load's lock. Asked by probing the lock (taken and released at
 * once). A hash collision with a live load can only make a dead load look alive, never the reverse.
 */
export async function ownerIsGone(client: pg.ClientBase, loadId: string): Promise<boolean> {
  const r = await client.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS free', [
    LOAD_LOCK_NAMESPACE,
    loadId,
  ]);
  if (!r.rows[0]?.free) return false;
  await releaseLoadLock(client, loadId);
  return true;
}

/** Serialises the short setup of loads of one target (recovery, creating the target), never staging. */
export async function withSetupLock<T>(client: pg.ClientBase, target: string, work: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [SETUP_LOCK_NAMESPACE, target]);
  try {
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SETUP_LOCK_NAMESPACE, target]);
  }
}
