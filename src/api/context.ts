/** What every route needs, built once by serve.ts. */
import type pg from 'pg';
import type PgBoss from 'pg-boss';
import type { Database } from '../db/connect.js';
import type { FieldLogger } from '../observe/json-log.js';
import type { SyncCatalog } from './catalog.js';
import type { ServeSettings } from './config.js';
import type { ApiMetrics } from './metrics.js';
import type { UploadStager } from './upload-stage.js';

export interface ApiContext {
  db: Database;
  /** Connections for the API's own queries (auth, imports, history). */
  pool: pg.Pool;
  catalog: SyncCatalog;
  settings: ServeSettings;
  insecureNoAuth: boolean;
  boss: PgBoss;
  log: FieldLogger;
  metrics: ApiMetrics;
  uploads: UploadStager;
  /** Aborted on SIGTERM: new imports are refused (503), uploads in progress roll back after the shutdown timeout. */
  stopping: AbortSignal;
  /** Whether this process runs a worker (for /healthz). */
  worker: boolean;
}
