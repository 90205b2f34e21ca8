import type { TargetSpec } from '../table/spec.js';
import type { SyncSettings } from './settings.js';
import type { PostgresSource } from './postgres-source.js';

/** How to reach PostgreSQL: explicit settings, or the embedded server started on demand. */
export type DatabaseSetting =
  | { kind: 'url'; url: string }
  | { kind: 'pg-env'; host?: string; port?: number; user?: string; password?: string; database?: string }
  | { kind: 'embedded'; dir: string };

/** Connection limits sized for bulk work; 0 disables a limit (see db/connect.ts). */
export interface ConnectionLimits {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export interface CsvOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  encoding: string;
}

/**
 * The settings that resolveSyncConfig turns into other fields (below); every other setting of
 * SYNC_SETTINGS appears in SyncConfig as it is, under its key (file, format, batchSize, workers,
 * maxErrors, allowEmpty, dryRun, and any setting added to the table).
 */
type ReshapedSettings =
  | 'databaseUrl'
  | 'embeddedDir'
  | 'minConns'
  | 'maxConns'
  | 'lockTimeout'
  | 'maxDelete'
  | 'rejects'
  | 'delimiter'
  | 'quote'
  | 'header'
  | 'encoding'
  | 'connectTimeout'
  | 'statementTimeout'
  | 'idleInTransactionTimeout'
  | 's3Endpoint';

/** Everything one sync needs, resolved once and frozen. */
export interface SyncConfig extends Omit<SyncSettings, ReshapedSettings> {
  database: DatabaseSetting;
  minConnections: number;
  maxConnections: number;
  limits: ConnectionLimits;
  target: TargetSpec;
  /** s3:// sources: an S3-compatible endpoint; undefined means AWS (credentials always come from the AWS default chain). */
  s3: { endpoint?: string };
  csv: CsvOptions;
  lockTimeoutMs: number;
  rejectsFile?: string;
  /** Refuse to delete more than this percentage of the target; undefined means no limit. */
  maxDeletePercent?: number;
  /** The source is another PostgreSQL database (incremental extracts); `file` and `csv` are then unused. */
  postgres?: PostgresSource;
}
