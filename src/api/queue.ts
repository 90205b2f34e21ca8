/**
 * The job queue: pg-boss in its own schema of the same database. A job only carries an import id;
 * the import's row decides what is left to do, so a job that runs twice (its worker was presumed
 * dead) does no harm.
 *
 * How a dead worker's job comes back: pg-boss fails an active job once it has run for longer than
 * `jobTimeoutSeconds` (checked every `queueMaintenanceSeconds` by whichever replica's maintenance
 * runs) and offers it again after `RETRY_DELAY_SECONDS`; a worker polls every
 * `POLLING_INTERVAL_SECONDS`. A job whose worker is still alive is not taken over: the import's own
 * advisory lock says so, and the retry steps aside (see jobs.ts).
 */
import PgBoss from 'pg-boss';
import type pg from 'pg';
import type { Database } from '../db/connect.js';
import { MIGRATION_LOCK_NAMESPACE } from '../store/advisory.js';
import { RETRY_DELAY_SECONDS, type ServeSettings } from './config.js';

export const QUEUE_SCHEMA = 'etl_queue';
export const IMPORT_QUEUE = 'etl-imports';

export interface ImportJob {
  importId: string;
}

/** Second key under the migration namespace: held while one replica sets up the queue. */
const QUEUE_SETUP_LOCK_KEY = 1;

/**
 * Starts pg-boss and makes sure the import queue exists with this process's settings. Replicas
 * starting together take turns: pg-boss's create_queue is not serialised, and two of them at once
 * deadlock (one holds the queue row, the other attaches the partition with a foreign key to it).
 */
export async function startQueue(
  db: Database,
  pool: pg.Pool,
  settings: ServeSettings,
  onError: (error: Error) => void,
): Promise<PgBoss> {
  const boss = new PgBoss({
    ...(db.connection as PgBoss.DatabaseOptions),
    schema: QUEUE_SCHEMA,
    application_name: 'etl serve (queue)',
    max: 4,
    maintenanceIntervalSeconds: settings.queueMaintenanceSeconds,
    schedule: false,
  });
  boss.on('error', onError);
  const setup = await pool.connect();
  try {
    await setup.query('SELECT pg_advisory_lock($1, $2)', [MIGRATION_LOCK_NAMESPACE, QUEUE_SETUP_LOCK_KEY]);
    await setUpQueue(boss, settings);
  } catch (error) {
    await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
    throw error;
  } finally {
    // Ending the session releases the lock even if the unlock query itself fails.
    await setup.query('SELECT pg_advisory_unlock($1, $2)', [MIGRATION_LOCK_NAMESPACE, QUEUE_SETUP_LOCK_KEY]).then(
      () => setup.release(),
      (error: Error) => setup.release(error),
    );
  }
  return boss;
}

async function setUpQueue(boss: PgBoss, settings: ServeSettings): Promise<void> {
  await boss.start();
  const queue = {
    name: IMPORT_QUEUE,
    // Attempts are counted on the import (JOB_ATTEMPTS); the queue only has to keep offering the job.
    retryLimit: 1000,
    retryDelay: RETRY_DELAY_SECONDS,
    expireInSeconds: settings.jobTimeoutSeconds,
  };
  // createQueue keeps an existing queue's settings; updateQueue makes them this process's.
  await boss.createQueue(IMPORT_QUEUE, queue);
  await boss.updateQueue(IMPORT_QUEUE, queue);
}

export async function enqueueImport(boss: PgBoss, importId: string, startAfterSeconds = 0): Promise<void> {
  await boss.send(
    IMPORT_QUEUE,
    { importId } satisfies ImportJob,
    startAfterSeconds > 0 ? { startAfter: startAfterSeconds } : {},
  );
}
