/**
 * The daemon's core, free of timers and I/O of its own: each tick either starts a run or is skipped
 * (a run is still going, or the circuit breaker is open); a run retries transient failures, then
 * its outcome feeds the breaker, the logs, the metrics and the notifier. It never throws from a
 * tick: failures become log lines and events, and the next tick starts clean.
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration } from '../config/duration.js';
import { redactSecrets } from '../observe/redact.js';
import { LockBusyError, messageOf, SyncAbortedError } from '../errors.js';
import type { FieldLogger } from '../observe/json-log.js';
import type { RunStatus, SkipReason } from '../observe/metrics.js';
import type { LoadCounts } from '../store/history.js';
import type { SyncResult } from '../sync/run.js';
import { runDurationMs, serializeRun, summaryLine, type RunRecord, type Trigger } from './run-record.js';
import type { BreakerChange, BreakerState, CircuitBreaker } from './breaker.js';
import type { Notifier, NotifyEvent, NotifyEventName } from './notify.js';
import { withRetries, type RetryPolicy } from './retry.js';

export type { RunRecord, Trigger } from './run-record.js';

/** Hooks for the metrics; every one optional. */
export interface SchedulerObserver {
  runFinished?(run: RunRecord): void;
  tickSkipped?(reason: SkipReason): void;
  retried?(): void;
  breakerChanged?(state: BreakerState): void;
}

export interface SchedulerDeps {
  table: string;
  /** One sync attempt; aborting the signal stops it (its compensations run first). */
  attempt(signal: AbortSignal): Promise<SyncResult>;
  /** What a failed load recorded in the history, for the notification (best effort). */
  failedCounts?(loadId: string): Promise<LoadCounts | undefined>;
  breaker: CircuitBreaker;
  retry: RetryPolicy;
  log: FieldLogger;
  notifier: Notifier;
  observer?: SchedulerObserver;
  now?: () => Date;
  random?: () => number;
}

interface CurrentRun {
  trigger: Trigger;
  /** The tick that started it. */
  scheduledAt: Date;
  startedAt: Date;
  attempt: number;
  controller: AbortController;
  done: Promise<void>;
}

/** The log event and notification for each breaker state change. */
const BREAKER_EVENTS = {
  open: 'breaker_opened',
  'half-open': 'breaker_half_open',
  closed: 'breaker_closed',
} as const satisfies Record<BreakerState, NotifyEventName>;

/** After an abort, how long the rollback may take before shutdown gives up waiting. */
export const ABORT_GRACE_MS = 30_000;

export class Scheduler {
  private current: CurrentRun | undefined;
  private lastRun: RunRecord | undefined;
  private lastSuccessAt: Date | undefined;
  /** Aborted at shutdown: no new runs, and a backoff in progress ends at once. */
  private readonly stopping = new AbortController();
  private readonly now: () => Date;

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** A scheduled time came (or the daemon started): run now unless a run is going or the breaker says no. */
  tick(scheduledAt: Date, trigger: Trigger): void {
    const { log, table, observer, breaker } = this.deps;
    if (this.stopping.signal.aborted) return;
    if (this.current) {
      const running = this.current;
      log.info(
        `skipped the tick of ${scheduledAt.toISOString()}: the run started at ${running.startedAt.toISOString()} is still going (ticks are skipped, never queued)`,
        { event: 'tick_skipped', reason: 'overlap', table, tick: scheduledAt, running_since: running.startedAt },
      );
      observer?.tickSkipped?.('overlap');
      return;
    }
    const admission = breaker.admit(this.now());
    if (admission.change) this.breakerChanged(admission.change);
    if (!admission.run) {
      const snapshot = breaker.snapshot();
      log.warn(
        `skipped the tick of ${scheduledAt.toISOString()}: the circuit breaker is open after ${snapshot.consecutiveFailures} failed run(s); ` +
          `it lets one run try again from ${snapshot.retryAt?.toISOString()}`,
        { event: 'tick_skipped', reason: 'breaker', table, tick: scheduledAt, retry_at: snapshot.retryAt },
      );
      observer?.tickSkipped?.('breaker');
      return;
    }
    const controller = new AbortController();
    const run: CurrentRun = {
      trigger,
      scheduledAt,
      startedAt: this.now(),
      attempt: 1,
      controller,
      done: Promise.resolve(),
    };
    this.current = run;
    run.done = this.run(run)
      .catch((error: unknown) => log.error(`scheduler: unexpected error while finishing a run: ${messageOf(error)}`))
      .finally(() => {
        if (this.current === run) this.current = undefined;
      });
  }

  /**
   * Stops scheduling; a running sync gets `graceMs` to finish (less if `hurry` is aborted), then is
   * aborted and its rollback awaited.
   */
  async shutdown(graceMs: number, hurry?: AbortSignal): Promise<void> {
    this.stopping.abort();
    const run = this.current;
    if (!run) return;
    const { log } = this.deps;
    log.info(`waiting up to ${formatDuration(graceMs)} for the running sync to finish (--shutdown-timeout)`, {
      event: 'shutdown_wait',
    });
    if (!(await settlesWithin(run.done, graceMs, hurry))) {
      log.warn('the running sync is being aborted: its compensations put the target back as it was', {
        event: 'run_abort',
      });
      run.controller.abort('shutdown');
      if (!(await settlesWithin(run.done, ABORT_GRACE_MS))) {
        log.error(
          `the aborted sync did not finish rolling back within ${formatDuration(ABORT_GRACE_MS)}; stopping anyway (the next run removes what it left)`,
        );
      }
    }
  }

  /** For /healthz. */
  status() {
    const run = this.current;
    const breaker = this.deps.breaker.snapshot();
    return {
      running: run ? { trigger: run.trigger, started_at: run.startedAt.toISOString(), attempt: run.attempt } : null,
      last_run: this.lastRun ? serializeRun(this.lastRun) : null,
      last_success_at: this.lastSuccessAt?.toISOString() ?? null,
      breaker: {
        state: breaker.state,
        consecutive_failures: breaker.consecutiveFailures,
        retry_at: breaker.retryAt?.toISOString() ?? null,
      },
    };
  }

  private async run(run: CurrentRun): Promise<void> {
    const { log, table, observer, retry } = this.deps;
    const signal = run.controller.signal;
    log.info(`sync of ${table} started (${run.trigger === 'start' ? 'run on start' : 'scheduled'})`, {
      event: 'run_started',
      table,
      trigger: run.trigger,
      tick: run.scheduledAt,
    });
    let record: RunRecord;
    try {
      const result = await withRetries(
        (n) => {
          run.attempt = n;
          return this.deps.attempt(signal);
        },
        retry,
        {
          sleep: (ms) => delay(ms, undefined, { signal: AbortSignal.any([signal, this.stopping.signal]) }),
          mayRetry: () => !signal.aborted && !this.stopping.signal.aborted,
          onRetry: (error, reason, n, delayMs) => {
            observer?.retried?.();
            log.warn(
              `attempt ${n} of ${retry.retries + 1} failed with a transient error (${reason}): ${messageOf(error)}; retrying in ${formatDuration(delayMs)}`,
              {
                event: 'run_retry',
                table,
                attempt: n,
                reason,
                delay_ms: delayMs,
                load_id: loadIdOf(error),
              },
            );
          },
          random: this.deps.random,
        },
      );
      record = this.record(run, 'succeeded', { loadId: result.loadId, counts: result.counts });
      if (result.skipped) this.deps.observer?.tickSkipped?.(result.skipped);
      log.info(summaryLine(table, result, record), {
        event: 'run_succeeded',
        table,
        load_id: result.loadId,
        attempts: record.attempts,
        duration_ms: runDurationMs(record),
        counts: result.counts,
        dry_run: result.dryRun,
        ...(result.skipped ? { skipped: result.skipped } : {}),
      });
    } catch (error) {
      const message = redactSecrets(messageOf(error));
      const loadId = loadIdOf(error);
      if (error instanceof LockBusyError) {
        record = this.record(run, 'locked', { error: message });
        log.info(`skipped this run: ${message}`, { event: 'run_skipped', reason: 'locked', table });
      } else if (error instanceof SyncAbortedError) {
        record = this.record(run, 'aborted', { loadId, error: message });
        log.warn(message, { event: 'run_aborted', table, load_id: loadId });
      } else {
        const counts = loadId ? await this.deps.failedCounts?.(loadId).catch(() => undefined) : undefined;
        record = this.record(run, 'failed', { loadId, counts, error: message });
        log.error(`sync of ${table} failed after ${record.attempts} attempt(s): ${message}`, {
          event: 'run_failed',
          table,
          load_id: loadId,
          attempts: record.attempts,
          counts,
        });
      }
    }
    this.finish(record);
  }

  private record(run: CurrentRun, status: RunStatus, details: Partial<RunRecord>): RunRecord {
    return {
      status,
      trigger: run.trigger,
      startedAt: run.startedAt,
      finishedAt: this.now(),
      attempts: run.attempt,
      ...details,
    };
  }

  private finish(record: RunRecord): void {
    const { breaker, observer } = this.deps;
    this.lastRun = record;
    observer?.runFinished?.(record);
    if (record.status === 'succeeded') {
      this.lastSuccessAt = record.finishedAt;
      const change = breaker.recordSuccess();
      if (change) this.breakerChanged(change);
    } else if (record.status === 'failed') {
      const change = breaker.recordFailure(record.finishedAt);
      this.notify('run_failed', { attempts: record.attempts, trigger: record.trigger });
      if (change) this.breakerChanged(change);
    }
    // A locked or aborted run says nothing about the health of the sync: the breaker ignores it.
  }

  private breakerChanged(change: BreakerChange): void {
    const { log, table, observer } = this.deps;
    observer?.breakerChanged?.(change.to);
    const event = BREAKER_EVENTS[change.to];
    const fields = {
      event,
      table,
      from: change.from,
      to: change.to,
      consecutive_failures: change.consecutiveFailures,
      retry_at: change.retryAt,
    };
    if (change.to === 'open') {
      log.warn(
        `circuit breaker opened after ${change.consecutiveFailures} consecutive failed run(s): ticks are skipped until ${change.retryAt?.toISOString()}`,
        fields,
      );
    } else if (change.to === 'half-open') {
      log.info('circuit breaker half-open: the cooldown is over, this tick runs once to test the sync', fields);
    } else {
      log.info('circuit breaker closed: the sync succeeded again, ticks run normally', fields);
    }
    this.notify(event);
  }

  private notify(event: NotifyEventName, extra: Record<string, unknown> = {}): void {
    const last = this.lastRun;
    const breaker = this.deps.breaker.snapshot();
    const payload: NotifyEvent = {
      event,
      table: this.deps.table,
      load_id: last?.loadId ?? null,
      error: last?.status === 'failed' ? (last.error ?? null) : null,
      counts: last?.counts ? { ...last.counts } : null,
      time: this.now().toISOString(),
      host: hostname(),
      breaker: {
        state: breaker.state,
        consecutive_failures: breaker.consecutiveFailures,
        retry_at: breaker.retryAt?.toISOString() ?? null,
      },
      ...extra,
    };
    this.deps.notifier.send(payload);
  }
}

function loadIdOf(error: unknown): string | undefined {
  const id = (error as { loadId?: unknown } | null)?.loadId;
  return typeof id === 'string' ? id : undefined;
}

/** True when `promise` settles within `ms` (and before `cutShort` is aborted). */
async function settlesWithin(promise: Promise<unknown>, ms: number, cutShort?: AbortSignal): Promise<boolean> {
  if (cutShort?.aborted) return false;
  let timer: NodeJS.Timeout | undefined;
  let onCut: (() => void) | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    onCut = () => resolve(false);
    cutShort?.addEventListener('abort', onCut, { once: true });
  });
  try {
    return await Promise.race([
      promise.then(
        () => true as const,
        () => true as const,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
    if (onCut) cutShort?.removeEventListener('abort', onCut);
  }
}
