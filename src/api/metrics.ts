/**
 * GET /metrics of etl serve: its own registry, with the daemon's kinds of series per sync (runs by
 * how they ended, rows by kind, duration, last success), every one present from the start.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ROW_KINDS } from '../observe/metrics.js';
import type { ImportRow } from '../store/imports.js';

const FINAL_STATUSES = ['succeeded', 'failed', 'canceled'] as const;

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly imports: Counter<'sync' | 'status'>;
  private readonly rows: Counter<'sync' | 'kind'>;
  private readonly duration: Histogram<'sync' | 'status'>;
  private readonly lastSuccess: Gauge<'sync'>;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor(syncs: readonly string[] = []) {
    const registers = [this.registry];
    this.imports = new Counter({
      name: 'etl_api_imports_total',
      help: 'Imports finished by this process, by sync and final status',
      labelNames: ['sync', 'status'],
      registers,
    });
    this.rows = new Counter({
      name: 'etl_api_import_rows_total',
      help: 'Rows handled by imports that succeeded in this process, by sync and kind',
      labelNames: ['sync', 'kind'],
      registers,
    });
    this.duration = new Histogram({
      name: 'etl_api_import_duration_seconds',
      help: 'How long imports finished by this process ran (from the start of staging), by sync and final status',
      labelNames: ['sync', 'status'],
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'etl_api_import_last_success_timestamp_seconds',
      help: 'When the last import of the sync that succeeded in this process finished (Unix time)',
      labelNames: ['sync'],
      registers,
    });
    this.requests = new Histogram({
      name: 'etl_api_request_duration_seconds',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    // Every series exists from the start, so alerts on rate() or absence work before the first import.
    for (const sync of syncs) {
      for (const status of FINAL_STATUSES) this.imports.labels({ sync, status }).inc(0);
      for (const kind of ROW_KINDS) this.rows.labels({ sync, kind }).inc(0);
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** An import ended here, as its row says: status, time since its staging started, counts. */
  finished(row: Pick<ImportRow, 'sync' | 'status' | 'startedAt' | 'finishedAt' | 'counts'>): void {
    const { sync, status } = row;
    this.imports.inc({ sync, status });
    if (row.startedAt && row.finishedAt)
      this.duration.observe({ sync, status }, (row.finishedAt.getTime() - row.startedAt.getTime()) / 1000);
    if (status !== 'succeeded') return;
    this.lastSuccess.set({ sync }, (row.finishedAt ?? new Date()).getTime() / 1000);
    if (row.counts) for (const kind of ROW_KINDS) this.rows.inc({ sync, kind }, row.counts[kind]);
  }

  answered(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe({ method, route, status: String(status) }, seconds);
  }
}
