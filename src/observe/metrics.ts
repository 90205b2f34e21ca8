/**
 * The daemon's Prometheus metrics (GET /metrics), kept in a registry of their own so embedding
 * programs' metrics and ours never collide.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoadCounts } from '../store/history.js';

/** How a scheduled run ended; `locked` means another run (another replica) held the table. */
export type RunStatus = 'succeeded' | 'failed' | 'aborted' | 'locked';
/** overlap: the previous run still ran; breaker: the circuit is open; unchanged: --if-changed found the source unchanged. */
export type SkipReason = 'overlap' | 'breaker' | 'unchanged';

const RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'aborted', 'locked'];
export const ROW_KINDS = [
  'read',
  'inserted',
  'updated',
  'unchanged',
  'deleted',
  'rejected',
  'duplicates',
] as const satisfies readonly (keyof LoadCounts)[];
const BREAKER_VALUES = { closed: 0, 'half-open': 1, open: 2 } as const;

/** Which sync a series belongs to: its table, plus its name when it comes from the config file. */
export interface SyncLabels {
  table: string;
  sync?: string;
}

/** The daemon's registry: one per daemon, however many syncs it schedules (each has its own series). */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly runs: Counter<'table' | 'sync' | 'status'>;
  readonly rows: Counter<'table' | 'sync' | 'kind'>;
  readonly skipped: Counter<'table' | 'sync' | 'reason'>;
  readonly retries: Counter<'table' | 'sync'>;
  readonly lastSuccess: Gauge<'table' | 'sync'>;
  readonly nextRunAt: Gauge<'table' | 'sync'>;
  readonly breaker: Gauge<'table' | 'sync'>;
  readonly duration: Histogram<'table' | 'sync' | 'status'>;

  constructor() {
    const registers = [this.registry];
    this.runs = new Counter({
      name: 'etl_sync_runs_total',
      help: 'Scheduled syncs by how they ended',
      labelNames: ['table', 'sync', 'status'],
      registers,
    });
    this.rows = new Counter({
      name: 'etl_sync_rows_total',
      help: 'Rows handled by successful syncs, by kind',
      labelNames: ['table', 'sync', 'kind'],
      registers,
    });
    this.skipped = new Counter({
      name: 'etl_daemon_ticks_skipped_total',
      help: 'Scheduled ticks that started no run (overlap: a run was still going; breaker: the circuit was open)',
      labelNames: ['table', 'sync', 'reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'etl_sync_retries_total',
      help: 'Attempts repeated after a transient failure',
      labelNames: ['table', 'sync'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'etl_sync_last_success_timestamp_seconds',
      help: 'When the last successful sync finished (Unix time)',
      labelNames: ['table', 'sync'],
      registers,
    });
    this.nextRunAt = new Gauge({
      name: 'etl_daemon_next_run_timestamp_seconds',
      help: 'When the next scheduled tick is due (Unix time)',
      labelNames: ['table', 'sync'],
      registers,
    });
    this.breaker = new Gauge({
      name: 'etl_daemon_breaker_state',
      help: 'Circuit breaker: 0 closed, 1 half-open, 2 open',
      labelNames: ['table', 'sync'],
      registers,
    });
    this.duration = new Histogram({
      name: 'etl_sync_duration_seconds',
      help: 'How long scheduled syncs took, retries included',
      labelNames: ['table', 'sync', 'status'],
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** The series of one sync, all created at zero. */
  forSync(labels: SyncLabels): SyncMetrics {
    return new SyncMetrics(this, labels);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** One sync's series. Without a sync name they carry only `table`, as before config-file syncs existed. */
export class SyncMetrics {
  private readonly labels: { table: string; sync?: string };

  constructor(
    private readonly metrics: DaemonMetrics,
    { table, sync }: SyncLabels,
  ) {
    this.labels = sync === undefined ? { table } : { table, sync };
    const labels = this.labels;
    // Every series exists from the start, so alerts on rate() or absence work before the first run.
    for (const status of RUN_STATUSES) metrics.runs.labels({ ...labels, status }).inc(0);
    for (const kind of ROW_KINDS) metrics.rows.labels({ ...labels, kind }).inc(0);
    for (const reason of ['overlap', 'breaker', 'unchanged'] as const)
      metrics.skipped.labels({ ...labels, reason }).inc(0);
    metrics.retries.labels(labels).inc(0);
    metrics.breaker.labels(labels).set(0);
  }

  runFinished(status: RunStatus, durationMs: number, counts?: LoadCounts, finishedAt = new Date()): void {
    const { metrics, labels } = this;
    metrics.runs.labels({ ...labels, status }).inc();
    metrics.duration.labels({ ...labels, status }).observe(durationMs / 1000);
    if (status !== 'succeeded') return;
    metrics.lastSuccess.labels(labels).set(finishedAt.getTime() / 1000);
    if (counts) for (const kind of ROW_KINDS) metrics.rows.labels({ ...labels, kind }).inc(counts[kind]);
  }

  tickSkipped(reason: SkipReason): void {
    this.metrics.skipped.labels({ ...this.labels, reason }).inc();
  }

  retried(): void {
    this.metrics.retries.labels(this.labels).inc();
  }

  breakerState(state: keyof typeof BREAKER_VALUES): void {
    this.metrics.breaker.labels(this.labels).set(BREAKER_VALUES[state]);
  }

  nextRun(at: Date | undefined): void {
    if (at) this.metrics.nextRunAt.labels(this.labels).set(at.getTime() / 1000);
  }
}
