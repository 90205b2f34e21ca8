/** The library API: what the CLI uses, and what other programs can call. */
import pg from 'pg';
import type { DatabaseSetting, SyncConfig } from './config/types.js';
import { openDatabase, type Database } from './db/connect.js';
import { silentLogger, type Logger } from './observe/log.js';
import type { DaemonConfig } from './schedule/config.js';
import type { DaemonOptions } from './schedule/daemon.js';
import type { ServeOptions } from './api/serve.js';
import type { NamedDaemonConfig } from './schedule/named-config.js';
import { migrate as applyMigrations, type MigrateResult } from './store/migrate.js';
import type { LoadProgress } from './load/result.js';
import { checkIncrementalModes, runIncremental } from './sync/incremental.js';
import { prepareSource, runSync, type SyncProgress, type SyncResult } from './sync/run.js';

// Configuration: settings, the environment, the config file of named syncs.
export { resolveSyncConfig, type Env, type Flags } from './config/resolve.js';
export { environment } from './config/env.js';
export { SYNC_SETTINGS } from './config/settings.js';
export { loadConfigFile, parseConfigText, type SyncDefinition } from './config/file.js';
export { configForDefinition, findDefinition, runAll, type NamedOutcome } from './sync/named.js';
export type { SyncConfig, DatabaseSetting } from './config/types.js';
export { followersTarget } from './table/followers.js';
export { openDatabase, type Database } from './db/connect.js';
export { ConfigError, LoadClosedError, LockBusyError, messageOf, SyncAbortedError, SyncFailedError } from './errors.js';
export { DeleteLimitError, EmptyLoadError } from './merge/transaction.js';
export { SourceError } from './source/input.js';
export { S3Error } from './source/s3-location.js';
export type { SyncResult, SyncProgress } from './sync/run.js';
// Records from code: a loader on the same load lifecycle as a file sync.
export { openLoader, load, Loader } from './loader/loader.js';
export type { LoaderOptions, LoaderReject, TargetDefinition } from './loader/options.js';
export type { LoadProgress } from './load/result.js';
export type { LoadCounts, LoadStatus } from './store/history.js';
export type { SavedCursor } from './store/cursors.js';
export type { PostgresSource, PostgresTable } from './config/postgres-source.js';
export { stderrLogger, type Logger } from './observe/log.js';

export interface SyncOptions {
  log?: Logger;
  /** An already open database (a daemon opens it once); otherwise the configured one is opened and closed. */
  db?: Database;
  signal?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
}

/** Runs one sync; starts (and afterwards stops) the embedded server when no database is configured. */
export async function sync(config: SyncConfig, options: SyncOptions = {}): Promise<SyncResult> {
  const log = options.log ?? silentLogger;
  if (config.postgres) return syncFromPostgres(config, options);
  // The file and its header are checked before anything touches (or starts) a database.
  const prepared = await prepareSource(config, log, options.signal);
  let db = options.db;
  if (!db) {
    try {
      db = await openDatabase(config.database, (m) => log.info(m));
    } catch (error) {
      prepared.source.destroy();
      throw error;
    }
  }
  try {
    return await runSync(config, prepared, { db, log, signal: options.signal, onProgress: options.onProgress });
  } finally {
    if (!options.db) await db.close();
  }
}

/** An incremental sync whose source is another PostgreSQL database (a config entry with "postgres"). */
async function syncFromPostgres(config: SyncConfig, options: SyncOptions): Promise<SyncResult> {
  const log = options.log ?? silentLogger;
  checkIncrementalModes(config.postgres!, config.full === true);
  const db = options.db ?? (await openDatabase(config.database, (m) => log.info(m)));
  try {
    // A database source has rows, not bytes: the progress line shows no byte count for it.
    const onProgress = options.onProgress && ((p: LoadProgress) => options.onProgress!({ ...p, bytesRead: 0 }));
    return await runIncremental(config, { db, log, signal: options.signal, onProgress });
  } finally {
    if (!options.db) await db.close();
  }
}

/** Applies pending schema migrations. */
export async function migrate(database: DatabaseSetting, options: { log?: Logger } = {}): Promise<MigrateResult> {
  const log = options.log ?? silentLogger;
  const db = await openDatabase(database, (m) => log.info(m));
  const client = new pg.Client({ ...db.connection, application_name: 'etl migrate' });
  try {
    await client.connect();
    return await applyMigrations(client);
  } finally {
    await client.end().catch(() => undefined);
    await db.close();
  }
}

// etl status: the load history, read back (never creates the schema).
export {
  status,
  loadRejects,
  LoadNotFoundError,
  NOTHING_RECORDED,
  type StatusOptions,
  type StatusResult,
  type LoadRecord,
  type RejectRecord,
  type LoadRejects,
} from './store/status.js';
// Progress while a sync runs (what the CLI shows on stderr).
export { ProgressReporter, progressLine, type ProgressReporterOptions } from './observe/progress.js';

// etl daemon: the same sync on a schedule, with retries, a circuit breaker, health and metrics (src/schedule/);
// or several syncs of the config file, each on its own cron field, sharing one database.
export {
  resolveDaemonConfig,
  resolveLogFormat,
  type DaemonConfig,
  type DaemonSettings,
  type LogFormat,
} from './schedule/config.js';
export {
  resolveNamedDaemonConfig,
  type NamedDaemonConfig,
  type ScheduledSync,
  type SyncSelection,
} from './schedule/named-config.js';
export { DAEMON_SETTINGS, type DaemonFlags } from './schedule/settings.js';
export { parseSchedule, nextRuns, describeSchedule, VALID_SCHEDULE_FORMS, type Schedule } from './schedule/cron.js';
export { jsonLogger, ignoringFields, type FieldLogger, type LogFields } from './observe/json-log.js';
export type { DaemonOptions } from './schedule/daemon.js';

/**
 * Runs sync() on the configured schedule until options.signal is aborted, opening the database once;
 * with a NamedDaemonConfig, each of its syncs on its own schedule, with its own retries and breaker.
 */
export async function runDaemon(config: DaemonConfig | NamedDaemonConfig, options: DaemonOptions = {}): Promise<void> {
  // Loaded on use, like runServe: a one-off `etl sync` does not pay for the daemon's metrics and HTTP modules.
  const { runDaemonWith } = await import('./schedule/daemon.js');
  return runDaemonWith((syncConfig, db, log, signal) => sync(syncConfig, { db, log, signal }), config, options);
}

// etl serve / etl worker: the bulk-import HTTP API and its workers, sharing a pg-boss queue (src/api/).
export type { ServeOptions } from './api/serve.js';
/**
 * Runs the HTTP API and/or a queue worker until options.signal is aborted. Its modules (fastify,
 * pg-boss) are loaded on first use, so every other command starts without them.
 */
export async function runServe(options: ServeOptions): Promise<void> {
  const serve = await import('./api/serve.js');
  return serve.runServe(options);
}
export { SyncCatalog } from './api/catalog.js';
export { resolveServeSettings, type ServeSettings } from './api/config.js';
export { SERVE_SETTINGS, type ServeFlags } from './api/settings.js';
export { pickupBoundSeconds } from './api/config.js';
export { createApiKey, listApiKeys, revokeApiKey, type ApiKey, type KeyScope } from './api/keys.js';
