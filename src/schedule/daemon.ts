/**
 * `etl daemon` as a library call: opens the database once, then runs each sync on its schedule until
 * `signal` is aborted, with the health server, metrics and notifications around them. Each sync has
 * its own Scheduler (overlap, retries, breaker); they share the database, notifier and health server.
 * Process signals and exit codes stay in the CLI, which turns SIGTERM/SIGINT into that abort.
 */
import { once } from 'node:events';
import pg from 'pg';
import { openDatabase, type Database } from '../db/connect.js';
import { redactSecrets } from '../observe/redact.js';
import { ignoringFields, type FieldLogger } from '../observe/json-log.js';
import { startHealthServer, type HealthServer } from '../observe/health.js';
import { silentLogger } from '../observe/log.js';
import { sourceLabel } from '../source/input.js';
import { DaemonMetrics, type SyncMetrics } from '../observe/metrics.js';
import type { LoadCounts } from '../store/history.js';
import { countsOfLoadRow, LOAD_COUNT_COLUMNS, type LoadCountRow } from '../store/status.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { SyncResult } from '../sync/run.js';
import { CircuitBreaker } from './breaker.js';
import type { DaemonConfig } from './config.js';
import { describeSchedule, formatInZone, type Schedule } from './cron.js';
import { healthReport, taggedLogger, taggedNotifier } from './multi.js';
import type { NamedDaemonConfig } from './named-config.js';
import { httpNotifier, silentNotifier } from './notify.js';
import { Scheduler } from './scheduler.js';
import { createTicker, type Ticker } from './ticker.js';

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
 * One run on the daemon's open database: the library's sync(config, { db, log, signal }), passed
 * in by src/index.ts so this module does not depend on the public API that re-exports it.
 */
export type SyncOnce = (config: SyncConfig, db: Database, log: FieldLogger, signal: AbortSignal) => Promise<SyncResult>;

/** How many upcoming run times are printed at start. */
const NEXT_RUNS_SHOWN = 5;

/** One sync under the daemon: its own ticker, breaker, scheduler and metric series. */
interface Unit {
  name?: string;
  table: string;
  sync: SyncConfig;
  schedule: Schedule;
  log: FieldLogger;
  ticker: Ticker;
  scheduler: Scheduler;
  metrics: SyncMetrics;
}

/** The syncs to schedule: the one of the flags and environment, or those of the config file. */
function jobsOf(
  config: DaemonConfig | NamedDaemonConfig,
): readonly { name?: string; sync: SyncConfig; schedule: Schedule }[] {
  if (!('syncs' in config)) return [{ sync: config.sync, schedule: config.schedule }];
  if (config.syncs.length === 0) throw new ConfigError('the daemon has no sync to schedule');
  return config.syncs;
}

export async function runDaemonWith(
  syncOnce: SyncOnce,
  config: DaemonConfig | NamedDaemonConfig,
  options: DaemonOptions = {},
): Promise<void> {
  const log = options.log ?? ignoringFields(silentLogger);
  const jobs = jobsOf(config);
  // All syncs share one database (one embedded server), and one notifier, registry and health server.
  const db = options.db ?? (await openDatabase(jobs[0].sync.database, (m) => log.info(m)));
  // The daemon's own small pool: the health probe and reading a failed load's counts.
  const pool = new pg.Pool({
    ...db.connection,
    application_name: 'etl daemon',
    max: 2,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 3_000,
    query_timeout: 3_000,
  });
  pool.on('error', () => undefined); // an idle connection lost while the server restarts; the next query reconnects
  const metrics = new DaemonMetrics();
  const notifier = config.notify ? httpNotifier(config.notify.url, config.notify.timeoutMs, log) : silentNotifier;
  const units = jobs.map((job): Unit => {
    const table = job.sync.target.name;
    const unitLog = job.name === undefined ? log : taggedLogger(log, job.name);
    const unitMetrics = metrics.forSync({ table, sync: job.name });
    const scheduler = new Scheduler({
      table,
      attempt: (signal) => syncOnce(job.sync, db, unitLog, signal),
      failedCounts: (loadId) => recordedCounts(pool, loadId),
      breaker: new CircuitBreaker(config.breakerThreshold, config.breakerCooldownMs),
      retry: { retries: config.retries, baseDelayMs: config.retryDelayMs },
      log: unitLog,
      notifier: job.name === undefined ? notifier : taggedNotifier(notifier, job.name),
      observer: {
        runFinished: (run) =>
          unitMetrics.runFinished(
            run.status,
            run.finishedAt.getTime() - run.startedAt.getTime(),
            run.counts,
            run.finishedAt,
          ),
        tickSkipped: (reason) => unitMetrics.tickSkipped(reason),
        retried: () => unitMetrics.retried(),
        breakerChanged: (state) => unitMetrics.breakerState(state),
      },
    });
    return {
      name: job.name,
      table,
      sync: job.sync,
      schedule: job.schedule,
      log: unitLog,
      ticker: createTicker(job.schedule, unitLog),
      scheduler,
      metrics: unitMetrics,
    };
  });
  const stopTickers = () => {
    for (const unit of units) unit.ticker.stop();
  };

  let scheduling = false;
  let health: HealthServer | undefined;
  try {
    if (config.health) {
      health = await startHealthServer({
        ...config.health,
        metrics: () => metrics.render(),
        report: async () => {
          const database = await probe(pool);
          return healthReport(
            scheduling,
            database,
            units.map((u) => ({
              name: u.name,
              table: u.table,
              schedule: u.schedule,
              nextRun: scheduling ? u.ticker.upcoming(1)[0] : undefined,
              status: u.scheduler.status(),
            })),
          );
        },
      });
      log.info(`health: GET http://${config.health.host}:${health.port}/healthz and /metrics`, {
        event: 'health_listening',
        port: health.port,
      });
    }
    logStart(log, units, db.description, config.runOnStart);
    if (!options.signal?.aborted) {
      const nextRuns: Date[] = [];
      for (const unit of units) {
        unit.ticker.start((at) => {
          unit.scheduler.tick(at, 'schedule');
          unit.metrics.nextRun(unit.ticker.upcoming(1)[0]);
        });
        const upcoming = unit.ticker.upcoming(NEXT_RUNS_SHOWN);
        unit.metrics.nextRun(upcoming[0]);
        unit.log.info(`next runs: ${upcoming.map((t) => formatInZone(t, unit.schedule.timezone)).join(', ')}`, {
          event: 'next_runs',
          next_runs: upcoming,
        });
        nextRuns.push(...upcoming);
      }
      scheduling = true;
      if (config.runOnStart) for (const unit of units) unit.scheduler.tick(new Date(), 'start');
      options.onReady?.({
        healthPort: health?.port,
        nextRuns: nextRuns.sort((a, b) => a.getTime() - b.getTime()).slice(0, NEXT_RUNS_SHOWN),
      });
      if (options.signal && !options.signal.aborted) await once(options.signal, 'abort');
      else if (!options.signal) await new Promise<never>(() => undefined);
    }
    scheduling = false;
    stopTickers();
    log.info(`stopping (${String(options.signal?.reason ?? 'stop requested')}): no further runs are scheduled`, {
      event: 'daemon_stopping',
    });
    await Promise.all(units.map((u) => u.scheduler.shutdown(config.shutdownTimeoutMs, options.abortRunSignal)));
    await notifier.flush(config.notify?.timeoutMs ?? 0);
    log.info('daemon stopped', { event: 'daemon_stopped' });
  } finally {
    scheduling = false;
    stopTickers();
    await health?.close();
    await pool.end().catch(() => undefined);
    if (!options.db) await db.close();
  }
}

/** The start line: as it always was for the one sync of the flags; for config-file syncs, one line each. */
function logStart(log: FieldLogger, units: readonly Unit[], database: string, runOnStart: boolean): void {
  const when = (u: Unit) => `${describeSchedule(u.schedule)}${runOnStart ? ', and once now' : ''}`;
  const only = units[0];
  if (only.name === undefined) {
    log.info(
      `daemon started: syncing ${only.table} from ${sourceLabel(only.sync.file)} into ${database}, ${when(only)}`,
      {
        event: 'daemon_started',
        table: only.table,
        file: sourceLabel(only.sync.file),
        schedule: only.schedule.text,
        timezone: only.schedule.timezone,
      },
    );
    return;
  }
  log.info(
    `daemon started: ${units.length} ${units.length === 1 ? 'sync' : 'syncs'} into ${database}: ${units.map((u) => u.name).join(', ')}`,
    {
      event: 'daemon_started',
      syncs: units.map((u) => u.name),
    },
  );
  for (const u of units) {
    u.log.info(`scheduled: syncing ${u.table} from ${sourceLabel(u.sync.file)}, ${when(u)}`, {
      event: 'sync_scheduled',
      table: u.table,
      file: sourceLabel(u.sync.file),
      schedule: u.schedule.text,
      timezone: u.schedule.timezone,
    });
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
  const r = await pool.query<LoadCountRow>(
    `SELECT ${LOAD_COUNT_COLUMNS} FROM etl_info_schema.loads WHERE load_id = $1`,
    [loadId],
  );
  const row = r.rows[0];
  return row ? countsOfLoadRow(row) : undefined;
}
