import type { TargetSpec } from '../table/spec.js';
import type { SourceFormat } from '../source/record-source.js';

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

/** Test-only failure points, reachable through the library API (never from the CLI or env). */
export interface FaultInjection {
  /** The worker thread handling this batch number (1-based) exits abruptly. */
  killWorkerOnBatch?: number;
  /** The worker thread handling this batch number (1-based) allocates until its heap limit stops it. */
  exhaustWorkerMemoryOnBatch?: number;
  /** Called between steps; a throw here fails the run at that step. */
  beforeStep?: (step: SyncStep) => void | Promise<void>;
}

export type SyncStep = 'staged' | 'merge' | 'commit' | 'cleanup';

/** Everything one sync needs, resolved once and frozen. */
export interface SyncConfig {
  database: DatabaseSetting;
  minConnections: number;
  maxConnections: number;
  limits: ConnectionLimits;
  target: TargetSpec;
  /** A path, '-' for stdin, or an http(s) URL. */
  file: string;
  /** csv, ndjson or json; undefined means: by the file name's extension. */
  format?: SourceFormat;
  csv: CsvOptions;
  batchSize: number;
  workers: number;
  lockTimeoutMs: number;
  maxErrors: number;
  /** The largest record read, in bytes: a larger one is a bad row (or fails the load at once when no bad row is allowed). */
  maxRecordBytes: number;
  rejectsFile?: string;
  allowEmpty: boolean;
  /** Refuse to delete more than this percentage of the target; undefined means no limit. */
  maxDeletePercent?: number;
  dryRun: boolean;
  faults?: FaultInjection;
}
