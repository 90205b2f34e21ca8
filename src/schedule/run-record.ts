/** What one scheduled run did, as the logs, /healthz and the notifications tell it. */
import { formatDuration } from '../config/duration.js';
import type { RunStatus } from '../observe/metrics.js';
import type { LoadCounts } from '../store/history.js';
import type { SyncResult } from '../sync/run.js';

export type Trigger = 'start' | 'schedule';

export interface RunRecord {
  status: RunStatus;
  trigger: Trigger;
  startedAt: Date;
  finishedAt: Date;
  attempts: number;
  loadId?: string;
  counts?: LoadCounts;
  error?: string;
}

/** The log line of a successful run: its load id and what it changed. */
export function summaryLine(table: string, result: SyncResult, record: RunRecord): string {
  const c = result.counts;
  const what = result.dryRun
    ? `dry run of ${table} from ${result.source} changed nothing`
    : `synced ${table} from ${result.source}`;
  const retried = record.attempts > 1 ? ` after ${record.attempts} attempts` : '';
  if (result.skipped)
    return `skipped ${table}: ${result.source} is unchanged since the last successful load (if_changed; load ${result.loadId})${retried}`;
  return (
    `${what} (load ${result.loadId})${retried}: read ${c.read}, inserted ${c.inserted}, updated ${c.updated}, unchanged ${c.unchanged}, ` +
    `deleted ${c.deleted}, rejected ${c.rejected}, duplicates ${c.duplicates}; took ${formatDuration(runDurationMs(record))}`
  );
}

/** A run in /healthz (snake_case, like the JSON logs). */
export function serializeRun(run: RunRecord) {
  return {
    status: run.status,
    trigger: run.trigger,
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt.toISOString(),
    duration_ms: runDurationMs(run),
    attempts: run.attempts,
    load_id: run.loadId ?? null,
    counts: run.counts ?? null,
    error: run.error ?? null,
  };
}

export const runDurationMs = (run: RunRecord) => run.finishedAt.getTime() - run.startedAt.getTime();
