/**
 * etl serve / etl worker: opens the database once, applies migrations, starts the queue, then the
 * HTTP API and/or the workers, until the stop signal. Shutdown: no new requests or jobs; running
 * imports and uploads may finish within the shutdown timeout, then are rolled back (a job goes back
 * to the queue for another replica); queued jobs stay queued.
 */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { DatabaseSetting } from '../config/types.js';
import { openDatabase } from '../db/connect.js';
import { redactSecrets } from '../observe/redact.js';
import { ConfigError, messageOf } from '../errors.js';
import type { FieldLogger } from '../observe/json-log.js';
import { hasActiveKeys } from '../store/api-keys.js';
import { migrate } from '../store/migrate.js';
import type { SyncCatalog } from './catalog.js';
import type { ApiContext } from './context.js';
import { runImportJob, STEP_ASIDE_SECONDS, type JobContext } from './jobs.js';
import { ApiMetrics } from './metrics.js';
import { enqueueImport, IMPORT_QUEUE, startQueue, type ImportJob } from './queue.js';
import { pickupBoundSeconds, POLLING_INTERVAL_SECONDS, type ServeSettings } from './config.js';
import { buildApp } from './server.js';
import { UploadStager } from './upload-stage.js';

const SWEEP_INTERVAL_MS = 15_000;

export interface ServeOptions {
  database: DatabaseSetting;
  catalog: SyncCatalog;
  settings: ServeSettings;
  insecureNoAuth: boolean;
  /** Serve the HTTP API (etl serve). */
  api: boolean;
  /** Run imports from the queue (etl worker, and etl serve unless --no-worker). */
  worker: boolean;
  log: FieldLogger;
  /** Aborted on SIGTERM/SIGINT: a graceful stop. */
  signal: AbortSignal;
  /** Aborted on a second signal: roll back running work now. */
  abortNow?: AbortSignal;
}

export async function runServe(options: ServeOptions): Promise<void> {
  const { settings, log } = options;
  const db = await openDatabase(options.database, (m) => log.info(m));
  const pool = new pg.Pool({ ...db.connection, application_name: 'etl serve', max: 10 });
  pool.on('error', () => undefined);
  const stopping = new AbortController();
  const rollBack = new AbortController();
  try {
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    if (options.api && !options.insecureNoAuth && !(await hasActiveKeys(pool)))
      throw new ConfigError(
        'no API key exists, so nobody could use this server: create one with etl keys create --name NAME --syncs SYNC --scope write ' +
          '(or start with --insecure-no-auth, which listens on 127.0.0.1 only)',
      );
    const boss = await startQueue(db, pool, settings, (error) =>
      log.warn(`job queue: ${redactSecrets(messageOf(error))}`, { event: 'queue_error' }),
    );
    const metrics = new ApiMetrics(options.catalog.names());
    const jobs: JobContext = {
      db,
      catalog: options.catalog,
      log,
      jobAttempts: settings.jobAttempts,
      shutdown: rollBack.signal,
      metrics,
    };
    if (options.worker) {
      for (let i = 0; i < settings.workerConcurrency; i += 1) {
        await boss.work<ImportJob>(
          IMPORT_QUEUE,
          { batchSize: 1, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS },
          async ([job]) => {
            const outcome = await runImportJob(job.data.importId, jobs);
            if (outcome === 'later') await enqueueImport(boss, job.data.importId, STEP_ASIDE_SECONDS);
          },
        );
      }
      log.info(
        `worker: ${settings.workerConcurrency} import(s) at a time; a job whose worker died is taken over within ${pickupBoundSeconds(settings)}s`,
        {
          event: 'worker_started',
          concurrency: settings.workerConcurrency,
          pickup_bound_seconds: pickupBoundSeconds(settings),
        },
      );
    }
    const ctx: ApiContext = {
      db,
      pool,
      catalog: options.catalog,
      settings,
      insecureNoAuth: options.insecureNoAuth,
      boss,
      log,
      metrics,
      uploads: new UploadStager(db, pool, log, rollBack.signal, settings.maxBodyBytes),
      stopping: stopping.signal,
      worker: options.worker,
    };
    // Uploads whose receiving replica died mid-body are failed clearly instead of staying "staging".
    const sweep = setInterval(() => {
      ctx.uploads
        .sweepAbandoned()
        .then((ids) => {
          for (const id of ids)
            log.warn(`import ${id}: the server receiving its body stopped; marked failed (upload_interrupted)`, {
              event: 'import_failed',
              import_id: id,
              error_code: 'upload_interrupted',
            });
        })
        .catch(() => undefined);
    }, SWEEP_INTERVAL_MS);
    sweep.unref();
    const app = options.api ? buildApp(ctx) : undefined;
    if (app) {
      await app.listen({ host: settings.host, port: settings.port });
      const address = app.server.address() as AddressInfo;
      const where = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      log.info(
        `etl serve listening on ${where}${options.insecureNoAuth ? ' (no authentication: 127.0.0.1 only)' : ''}`,
        {
          event: 'serve_listening',
          host: address.address,
          port: address.port,
        },
      );
    }

    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info(`stopping: no new imports; running work may finish within ${settings.shutdownTimeoutMs / 1000}s`, {
      event: 'serve_stopping',
    });
    stopping.abort();
    clearInterval(sweep);
    const deadline = setTimeout(() => rollBack.abort('shutdown'), settings.shutdownTimeoutMs);
    const now = () => rollBack.abort('shutdown');
    options.abortNow?.addEventListener('abort', now, { once: true });
    try {
      await Promise.all([
        app?.close(),
        // Longer than the deadline, so running jobs roll back (and requeue) themselves before the queue stops.
        boss.stop({ graceful: true, wait: true, timeout: settings.shutdownTimeoutMs + 15_000 }),
      ]);
    } finally {
      clearTimeout(deadline);
      options.abortNow?.removeEventListener('abort', now);
    }
    log.info('stopped', { event: 'serve_stopped' });
  } finally {
    await pool.end().catch(() => undefined);
    await db.close();
  }
}
