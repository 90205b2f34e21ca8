/**
 * The daemon's Prometheus metrics (GET /metrics), kept in a registry of their own so embedding
 * programs' metrics and ours never collide.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoadCounts } from '../store/history.js';

/** How a scheduled run ended; `locked` means another run (another replica) held the table. */
export type RunStatus = 'succeeded' | 'failed' | 'aborted' | 'locked';
export type SkipReason = 'overlap' | 'breaker';

const RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'aborted', 'locked'];
const ROW_KINDS = ['read', 'inserted', 'updated', 'unchanged', 'deleted', 'rejected', 'duplicates'] as const satisfies readonly (keyof LoadCounts)[];
const BREAKER_VALUES = { closed: 0, 'half-open': 1, open: 2 } as const;

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly runs: Counter<'table' | 'status'>;
  private readonly rows: Counter<'table' | 'kind'>;
  private readonly skipped: Counter<'table' | 'reason'>;
  private readonly retries: Counter<'table'>;
  private readonly lastSuccess: Gauge<'table'>;
  private readonly nextRunAt: Gauge<'table'>;
  private readonly breaker: Gauge<'table'>;
  private readonly duration: Histogram<'table' | 'status'>;

  constructor(private readonly table: string) {
    const registers = [this.registry];
    this.runs = new Counter({ name: 'etl_sync_runs_total', help: 'Scheduled syncs by how they ended', labelNames: ['table', 'status'], registers });
    this.rows = new Counter({ name: 'etl_sync_rows_total', help: 'Rows handled by successful syncs, by kind', labelNames: ['table', 'kind'], registers });
    this.skipped = new Counter({ name: 'etl_daemon_ticks_skipped_total', help: 'Scheduled ticks that started no run (overlap: a run was still going; breaker: the circuit was open)', labelNames: ['table', 'reason'], registers });
    this.retries = new Counter({ name: 'etl_sync_retries_total', help: 'Attempts repeated after a transient failure', labelNames: ['table'], registers });
    this.lastSuccess = new Gauge({ name: 'etl_sync_last_success_timestamp_seconds', help: 'When the last successful sync finished (Unix time)', labelNames: ['table'], registers });
    this.nextRunAt = new Gauge({ name: 'etl_daemon_next_run_timestamp_seconds', help: 'When the next scheduled tick is due (Unix time)', labelNames: ['table'], registers });
    this.breaker = new Gauge({ name: 'etl_daemon_breaker_state', help: 'Circuit breaker: 0 closed, 1 half-open, 2 open', labelNames: ['table'], registers });
    this.duration = new Histogram({
      name: 'etl_sync_duration_seconds',
      help: 'How long scheduled syncs took, retries included',
      labelNames: ['table', 'status'],
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    // Every series exists from the start, so alerts on rate() or absence work before the first run.
    for (const status of RUN_STATUSES) this.runs.labels({ table, status }).inc(0);
    for (const kind of ROW_KINDS) this.rows.labels({ table, kind }).inc(0);
    for (const reason of ['overlap', 'breaker'] as const) this.skipped.labels({ table, reason }).inc(0);
    this.retries.labels({ table }).inc(0);
    this.breaker.labels({ table }).set(0);
    collectDefaultMetrics({ register: this.registry });
  }

  runFinished(status: RunStatus, durationMs: number, counts?: LoadCounts, finishedAt = new Date()): void {
    const table = this.table;
    this.runs.labels({ table, status }).inc();
    this.duration.labels({ table, status }).observe(durationMs / 1000);
    if (status !== 'succeeded') return;
    this.lastSuccess.labels({ table }).set(finishedAt.getTime() / 1000);
    if (counts) for (const kind of ROW_KINDS) this.rows.labels({ table, kind }).inc(counts[kind]);
  }

  tickSkipped(reason: SkipReason): void {
    this.skipped.labels({ table: this.table, reason }).inc();
  }

  retried(): void {
    this.retries.labels({ table: this.table }).inc();
  }

  breakerState(state: keyof typeof BREAKER_VALUES): void {
    this.breaker.labels({ table: this.table }).set(BREAKER_VALUES[state]);
  }

  nextRun(at: Date | undefined): void {
    if (at) this.nextRunAt.labels({ table: this.table }).set(at.getTime() / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
