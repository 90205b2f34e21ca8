/**
 * `etl daemon` as a library call: opens the database once, then runs the sync on its schedule until
 * `signal` is aborted, with the health server, metrics and notifications around it. Process signals
 * and exit codes stay in the CLI, which turns SIGTERM/SIGINT into that abort.
 */
import { once } from 'node:events';
import pg from 'pg';
import { openDatabase, type Database } from '../db/connect.js';
import { redactSecrets } from '../db/redact.js';
import { ignoringFields, type FieldLogger } from '../observe/json-log.js';
import { startHealthServer, type HealthServer } from '../observe/health.js';
import { silentLogger } from '../observe/log.js';
import { DaemonMetrics } from '../observe/metrics.js';
import type { LoadCounts } from '../store/history.js';
import type { SyncResult } from '../sync/run.js';
import { CircuitBreaker } from './breaker.js';
import type { DaemonConfig } from './config.js';
import { describeSchedule, formatInZone } from './cron.js';
import { httpNotifier, silentNotifier } from './notify.js';
import { Scheduler } from './scheduler.js';
import { createTicker } from './ticker.js';

export interface DaemonOptions {
  /** A plain Logger works too; a FieldLogger (the JSON one) also gets structured fields. */
  log?: FieldLogger;
  /** Aborting it stops the daemon gracefully: what SIGTERM/SIGINT do in the CLI. */
  signal?: AbortSignal;
  /** Aborting it during shutdown aborts a running sync at once instead of after --shutdown-timeout. */
  abortRunSignal?: AbortSignal;
  /** An already open database; otherwise the configured one is opened here (once) and closed at the end. */
  db?: Database;
  /** Called once the scheduler runs (with the health server's port, useful with --health-port 0). */
  onReady?(info: { healthPort?: number; nextRuns: Date[] }): void;
}

/**
 * One run on the daemon's open database: the library's sync(config.sync, { db, log, signal }),
 * passed in by src/index.ts so this module does not depend on the public API that re-exports it.
 */
export type SyncOnce = (db: Database, log: FieldLogger, signal: AbortSignal) => Promise<SyncResult>;

/** How many upcoming run times are printed at start. */
const NEXT_RUNS_SHOWN = 5;

export async function runDaemonWith(syncOnce: SyncOnce, config: DaemonConfig, options: DaemonOptions = {}): Promise<void> {
  const log = options.log ?? ignoringFields(silentLogger);
  const table = config.sync.target.name;
  const db = options.db ?? (await openDatabase(config.sync.database, (m) => log.info(m)));
  // The daemon's own small pool: the health probe and reading a failed load's counts.
  const pool = new pg.Pool({ ...db.connection, application_name: 'etl daemon', max: 2, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 3_000, query_timeout: 3_000 });
  pool.on('error', () => undefined); // an idle connection lost while the server restarts; the next query reconnects
  const metrics = new DaemonMetrics(table);
  const breaker = new CircuitBreaker(config.breakerThreshold, config.breakerCooldownMs);
  const notifier = config.notify ? httpNotifier(config.notify.url, config.notify.timeoutMs, log) : silentNotifier;
  const ticker = createTicker(config.schedule, log);
  const scheduler = new Scheduler({
    table,
    attempt: (signal) => syncOnce(db, log, signal),
    failedCounts: (loadId) => recordedCounts(pool, loadId),
    breaker,
    retry: { retries: config.retries, baseDelayMs: config.retryDelayMs },
    log,
    notifier,
    observer: {
      runFinished: (run) => metrics.runFinished(run.status, run.finishedAt.getTime() - run.startedAt.getTime(), run.counts, run.finishedAt),
      tickSkipped: (reason) => metrics.tickSkipped(reason),
      retried: () => metrics.retried(),
      breakerChanged: (state) => metrics.breakerState(state),
    },
  });

  let scheduling = false;
  let health: HealthServer | undefined;
  try {
    if (config.health) {
      health = await startHealthServer({
        ...config.health,
        metrics: () => metrics.render(),
        report: async () => {
          const database = await probe(pool);
          const healthy = scheduling && database === 'ok';
          const next = scheduling ? ticker.upcoming(1)[0] : undefined;
          return {
            healthy,
            body: {
              status: healthy ? 'ok' : 'unavailable',
              scheduler: scheduling ? 'running' : 'stopped',
              database,
              table,
              schedule: config.schedule.text,
              timezone: config.schedule.timezone,
              next_run: next?.toISOString() ?? null,
              ...scheduler.status(),
            },
          };
        },
      });
      log.info(`health: GET http://${config.health.host}:${health.port}/healthz and /metrics`, { event: 'health_listening', port: health.port });
    }
    log.info(
      `daemon started: syncing ${table} from ${config.sync.file} into ${db.description}, ${describeSchedule(config.schedule)}` +
        `${config.runOnStart ? ', and once now' : ''}`,
      { event: 'daemon_started', table, file: config.sync.file, schedule: config.schedule.text, timezone: config.schedule.timezone },
    );
    if (!options.signal?.aborted) {
      ticker.start((at) => {
        scheduler.tick(at, 'schedule');
        metrics.nextRun(ticker.upcoming(1)[0]);
      });
      scheduling = true;
      const upcoming = ticker.upcoming(NEXT_RUNS_SHOWN);
      metrics.nextRun(upcoming[0]);
      log.info(`next runs: ${upcoming.map((t) => formatInZone(t, config.schedule.timezone)).join(', ')}`, { event: 'next_runs', next_runs: upcoming });
      if (config.runOnStart) scheduler.tick(new Date(), 'start');
      options.onReady?.({ healthPort: health?.port, nextRuns: upcoming });
      if (options.signal && !options.signal.aborted) await once(options.signal, 'abort');
      else if (!options.signal) await new Promise<never>(() => undefined);
    }
    scheduling = false;
    ticker.stop();
    log.info(`stopping (${String(options.signal?.reason ?? 'stop requested')}): no further runs are scheduled`, { event: 'daemon_stopping' });
    await scheduler.shutdown(config.shutdownTimeoutMs, options.abortRunSignal);
    await notifier.flush(config.notify?.timeoutMs ?? 0);
    log.info('daemon stopped', { event: 'daemon_stopped' });
  } finally {
    scheduling = false;
    ticker.stop();
    await health?.close();
    await pool.end().catch(() => undefined);
    if (!options.db) await db.close();
  }
}

/** "ok", or why the database does not answer SELECT 1. */
async function probe(pool: pg.Pool): Promise<string> {
  try {
    await pool.query('SELECT 1');
    return 'ok';
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `unreachable: ${redactSecrets(e.code ?? e.message ?? String(error))}`;
  }
}

async function recordedCounts(pool: pg.Pool, loadId: string): Promise<LoadCounts | undefined> {
  const r = await pool.query<Record<string, string>>(
    `SELECT rows_read, rows_staged, rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, rows_duplicate
       FROM etl_info_schema.loads WHERE load_id = $1`,
    [loadId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    read: Number(row.rows_read), staged: Number(row.rows_staged), inserted: Number(row.rows_inserted), updated: Number(row.rows_updated),
    unchanged: Number(row.rows_unchanged), deleted: Number(row.rows_deleted), rejected: Number(row.rows_rejected), duplicates: Number(row.rows_duplicate),
  };
}
