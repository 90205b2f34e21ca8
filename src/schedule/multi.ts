/**
 * What changes when the daemon schedules several syncs: each sync's log lines and notifications
 * say which sync they are about, and /healthz reports every sync. Pure: no timers, no I/O.
 */
import type { FieldLogger, LogFields } from '../observe/json-log.js';
import type { HealthReport } from '../observe/health.js';
import type { Schedule } from './cron.js';
import type { Notifier } from './notify.js';
import type { Scheduler } from './scheduler.js';

/** Prefixes each message with `[name] ` and adds a `sync` field (JSON logs), so interleaved lines stay readable. */
export function taggedLogger(log: FieldLogger, name: string): FieldLogger {
  const tag = (fields: LogFields | undefined): LogFields => ({ ...fields, sync: name });
  return {
    info: (m, f) => log.info(`[${name}] ${m}`, tag(f)),
    warn: (m, f) => log.warn(`[${name}] ${m}`, tag(f)),
    error: (m, f) => log.error(`[${name}] ${m}`, tag(f)),
  };
}

/** Adds `sync: name` to every event; the events already carry the table. */
export function taggedNotifier(notifier: Notifier, name: string): Notifier {
  return {
    send: (event) => notifier.send({ ...event, sync: name }),
    flush: (maxMs) => notifier.flush(maxMs),
  };
}

/** One sync as /healthz sees it. */
export interface SyncHealth {
  /** Undefined for the sync the flags and environment describe (`etl daemon` without a name). */
  name?: string;
  table: string;
  schedule: Schedule;
  nextRun?: Date;
  status: ReturnType<Scheduler['status']>;
}

/**
 * Healthy while the daemon schedules and the database answers (a failing sync shows in its own
 * entry and in the metrics, not as a down daemon). Every sync is in `syncs`; with a single sync its
 * fields are also at the top level, as they were before there could be several.
 */
export function healthReport(scheduling: boolean, database: string, syncs: readonly SyncHealth[]): HealthReport {
  const healthy = scheduling && database === 'ok';
  const entries = syncs.map((s) => ({
    name: s.name ?? null,
    table: s.table,
    schedule: s.schedule.text,
    timezone: s.schedule.timezone,
    next_run: scheduling ? (s.nextRun?.toISOString() ?? null) : null,
    ...s.status,
  }));
  const head = { status: healthy ? 'ok' : 'unavailable', scheduler: scheduling ? 'running' : 'stopped', database };
  if (entries.length !== 1) return { healthy, body: { ...head, syncs: entries } };
  const { name: _name, ...only } = entries[0];
  return { healthy, body: { ...head, ...only, syncs: entries } };
}
