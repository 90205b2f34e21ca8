/**
 * The scheduler's decisions (overlap, retries, breaker, notifications, shutdown) with a stand-in for
 * the sync itself; the real sync against PostgreSQL is covered by test/integration/daemon*.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { LockBusyError, SyncAbortedError, SyncFailedError } from '../../src/errors.js';
import type { FieldLogger, LogFields } from '../../src/observe/json-log.js';
import type { LoadCounts } from '../../src/store/history.js';
import type { SyncResult } from '../../src/sync/run.js';
import { CircuitBreaker } from '../../src/schedule/breaker.js';
import type { NotifyEvent } from '../../src/schedule/notify.js';
import { Scheduler, type RunRecord, type SchedulerDeps } from '../../src/schedule/scheduler.js';

const counts = (over: Partial<LoadCounts> = {}): LoadCounts => ({
  read: 3,
  staged: 3,
  inserted: 1,
  updated: 1,
  unchanged: 1,
  deleted: 0,
  rejected: 0,
  duplicates: 0,
  ...over,
});

function result(loadId: string): SyncResult {
  return {
    loadId,
    target: 'followers',
    source: 'f.csv',
    dryRun: false,
    counts: counts(),
    firstRejects: [],
    warnings: [],
    durationMs: 5,
    rowsPerSecond: 600,
    phases: { setupMs: 1, stageMs: 2, mergeMs: 1, cleanupMs: 1, workerParseMs: 1, workerCopyMs: 1, mergeSteps: {} },
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const pgError = (code: string) => Object.assign(new Error(`server said ${code}`), { code });

function harness(
  attempt: SchedulerDeps['attempt'],
  options: { threshold?: number; cooldownMs?: number; retries?: number; baseDelayMs?: number } = {},
) {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const log: FieldLogger = {
    info: (message, fields) => void lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => void lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => void lines.push({ level: 'error', message, fields }),
  };
  const events: NotifyEvent[] = [];
  const runs: RunRecord[] = [];
  const skips: string[] = [];
  const breakerStates: string[] = [];
  let retried = 0;
  let now = new Date('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({
    table: 'followers',
    attempt,
    failedCounts: async () => counts({ inserted: 0, updated: 0, unchanged: 0, rejected: 2 }),
    breaker: new CircuitBreaker(options.threshold ?? 0, options.cooldownMs ?? 60_000),
    retry: { retries: options.retries ?? 0, baseDelayMs: options.baseDelayMs ?? 0 },
    log,
    notifier: { send: (e) => void events.push(e), flush: async () => undefined },
    observer: {
      runFinished: (r) => void runs.push(r),
      tickSkipped: (reason) => void skips.push(reason),
      retried: () => void (retried += 1),
      breakerChanged: (state) => void breakerStates.push(state),
    },
    now: () => now,
    random: () => 1,
  });
  return {
    scheduler,
    lines,
    events,
    runs,
    skips,
    breakerStates,
    get retried() {
      return retried;
    },
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
    /** Ticks and waits for the run it starts (if any) to finish. */
    async tickAndSettle() {
      scheduler.tick(now, 'schedule');
      await vi.waitFor(() => expect(scheduler.busy).toBe(false));
    },
    messages: (level?: string) => lines.filter((l) => !level || l.level === level).map((l) => l.message),
  };
}

describe('scheduler', () => {
  it('skips (never queues) a tick that comes while a run is going, and logs it', async () => {
    const gate = deferred<SyncResult>();
    let attempts = 0;
    const h = harness(() => {
      attempts += 1;
      return gate.promise;
    });
    h.scheduler.tick(new Date('2024-01-01T00:00:00Z'), 'start');
    h.scheduler.tick(new Date('2024-01-01T00:00:01Z'), 'schedule');
    h.scheduler.tick(new Date('2024-01-01T00:00:02Z'), 'schedule');
    expect(h.skips).toEqual(['overlap', 'overlap']);
    expect(h.messages('info').filter((m) => m.includes('is still going'))).toEqual([
      'skipped the tick of 2024-01-01T00:00:01.000Z: the run started at 2024-01-01T00:00:00.000Z is still going (ticks are skipped, never queued)',
      'skipped the tick of 2024-01-01T00:00:02.000Z: the run started at 2024-01-01T00:00:00.000Z is still going (ticks are skipped, never queued)',
    ]);
    gate.resolve(result('load-1'));
    await vi.waitFor(() => expect(h.scheduler.busy).toBe(false));
    expect(attempts).toBe(1);
    expect(h.runs).toMatchObject([{ status: 'succeeded', trigger: 'start', loadId: 'load-1', attempts: 1 }]);
    expect(h.messages('info')).toContain(
      'synced followers from f.csv (load load-1): read 3, inserted 1, updated 1, unchanged 1, deleted 0, rejected 0, duplicates 0; took 0ms',
    );
  });

  it('retries a transient failure within the same run and records one successful run', async () => {
    let attempts = 0;
    const h = harness(
      async () => {
        attempts += 1;
        if (attempts === 1)
          throw new SyncFailedError('sync of followers failed and was rolled back (load a)', 'load-a', {
            cause: pgError('57P01'),
          });
        return result('load-b');
      },
      { retries: 2 },
    );
    await h.tickAndSettle();
    expect(attempts).toBe(2);
    expect(h.retried).toBe(1);
    expect(h.runs).toMatchObject([{ status: 'succeeded', attempts: 2, loadId: 'load-b' }]);
    expect(h.lines.find((l) => l.level === 'warn')).toMatchObject({
      message: expect.stringMatching(
        /^attempt 1 of 3 failed with a transient error \(SQLSTATE 57P01 admin_shutdown\): .*; retrying in 0ms$/,
      ),
      fields: { event: 'run_retry', load_id: 'load-a', attempt: 1 },
    });
    expect(h.events).toEqual([]);
  });

  it('does not retry a permanent failure; logs it and notifies with the load, error and recorded counts', async () => {
    let attempts = 0;
    const h = harness(
      async () => {
        attempts += 1;
        throw new SyncFailedError(
          'sync of followers failed and was rolled back (load f): f.csv has more than 0 bad row(s)',
          'load-f',
        );
      },
      { retries: 5 },
    );
    await h.tickAndSettle();
    expect(attempts).toBe(1);
    expect(h.runs).toMatchObject([{ status: 'failed', attempts: 1, loadId: 'load-f' }]);
    expect(h.messages('error')).toEqual([
      'sync of followers failed after 1 attempt(s): sync of followers failed and was rolled back (load f): f.csv has more than 0 bad row(s)',
    ]);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({
      event: 'run_failed',
      table: 'followers',
      load_id: 'load-f',
      error: expect.stringContaining('more than 0 bad row(s)'),
      counts: { read: 3, rejected: 2, inserted: 0 },
      time: '2024-01-01T00:00:00.000Z',
      attempts: 1,
      breaker: { state: 'closed', consecutive_failures: 1 },
    });
  });

  it('logs and skips when another run holds the table lock, without counting a failure', async () => {
    const h = harness(
      async () => {
        throw new LockBusyError(
          'another etl run is syncing followers (load x, pid 7 on other-host, running since 2024-01-01T00:00:00.000Z)',
        );
      },
      { threshold: 1 },
    );
    await h.tickAndSettle();
    await h.tickAndSettle();
    expect(h.runs.map((r) => r.status)).toEqual(['locked', 'locked']);
    expect(h.messages('info')).toContain(
      'skipped this run: another etl run is syncing followers (load x, pid 7 on other-host, running since 2024-01-01T00:00:00.000Z)',
    );
    expect(h.scheduler.status().breaker.state).toBe('closed');
    expect(h.events).toEqual([]);
  });

  it('opens the breaker after the threshold, skips ticks through the cooldown, tries once half-open, and closes on success', async () => {
    let healthy = false;
    let attempts = 0;
    const h = harness(
      async () => {
        attempts += 1;
        if (!healthy) throw new SyncFailedError('sync failed: f.csv has no data rows', `load-${attempts}`);
        return result(`load-${attempts}`);
      },
      { threshold: 2, cooldownMs: 60_000 },
    );
    await h.tickAndSettle();
    await h.tickAndSettle();
    expect(h.scheduler.status().breaker).toEqual({
      state: 'open',
      consecutive_failures: 2,
      retry_at: '2024-01-01T00:01:00.000Z',
    });
    h.advance(30_000);
    await h.tickAndSettle();
    expect(attempts).toBe(2);
    expect(h.skips).toEqual(['breaker']);
    expect(h.messages('warn')).toContain(
      'skipped the tick of 2024-01-01T00:00:30.000Z: the circuit breaker is open after 2 failed run(s); it lets one run try again from 2024-01-01T00:01:00.000Z',
    );
    healthy = true;
    h.advance(30_000);
    await h.tickAndSettle();
    expect(attempts).toBe(3);
    expect(h.breakerStates).toEqual(['open', 'half-open', 'closed']);
    expect(h.events.map((e) => e.event)).toEqual([
      'run_failed',
      'run_failed',
      'breaker_opened',
      'breaker_half_open',
      'breaker_closed',
    ]);
    expect(h.events[2]).toMatchObject({
      load_id: 'load-2',
      error: 'sync failed: f.csv has no data rows',
      breaker: { state: 'open', consecutive_failures: 2, retry_at: '2024-01-01T00:01:00.000Z' },
    });
    expect(h.messages('warn')).toContain(
      'circuit breaker opened after 2 consecutive failed run(s): ticks are skipped until 2024-01-01T00:01:00.000Z',
    );
    expect(h.messages('info')).toContain('circuit breaker closed: the sync succeeded again, ticks run normally');
  });

  it('opens the breaker again for a full cooldown when the half-open run fails', async () => {
    const h = harness(
      async () => {
        throw new SyncFailedError('still broken', 'load-x');
      },
      { threshold: 1, cooldownMs: 10_000 },
    );
    await h.tickAndSettle();
    h.advance(10_000);
    await h.tickAndSettle();
    expect(h.breakerStates).toEqual(['open', 'half-open', 'open']);
    expect(h.scheduler.status().breaker.retry_at).toBe('2024-01-01T00:00:20.000Z');
    h.advance(5_000);
    await h.tickAndSettle();
    expect(h.runs).toHaveLength(2);
  });

  it('lets a running sync finish within the shutdown timeout, then starts nothing more', async () => {
    const gate = deferred<SyncResult>();
    let signal: AbortSignal | undefined;
    const h = harness((s) => {
      signal = s;
      return gate.promise;
    });
    h.scheduler.tick(new Date(), 'schedule');
    const stopped = h.scheduler.shutdown(60_000);
    gate.resolve(result('load-1'));
    await stopped;
    expect(signal!.aborted).toBe(false);
    expect(h.runs).toMatchObject([{ status: 'succeeded', loadId: 'load-1' }]);
    h.scheduler.tick(new Date(), 'schedule');
    expect(h.scheduler.busy).toBe(false);
    expect(h.runs).toHaveLength(1);
  });

  it('aborts a running sync that outlasts the shutdown timeout, and waits for its rollback', async () => {
    const h = harness(
      (signal) =>
        new Promise<SyncResult>((_resolve, reject) => {
          signal.addEventListener('abort', () =>
            setImmediate(() =>
              reject(new SyncAbortedError('sync of followers interrupted (shutdown); rolled back', 'load-1')),
            ),
          );
        }),
      { threshold: 1 },
    );
    h.scheduler.tick(new Date(), 'schedule');
    await h.scheduler.shutdown(0);
    expect(h.runs).toMatchObject([{ status: 'aborted', loadId: 'load-1' }]);
    expect(h.messages('warn')).toContain(
      'the running sync is being aborted: its compensations put the target back as it was',
    );
    expect(h.scheduler.status().breaker.state).toBe('closed');
    expect(h.events).toEqual([]);
  });

  it('aborts the running sync at once when hurried (a second signal)', async () => {
    const h = harness(
      (signal) =>
        new Promise<SyncResult>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new SyncAbortedError('interrupted', 'load-1')));
        }),
    );
    h.scheduler.tick(new Date(), 'schedule');
    const hurry = new AbortController();
    const stopped = h.scheduler.shutdown(3_600_000, hurry.signal);
    hurry.abort();
    await stopped;
    expect(h.runs).toMatchObject([{ status: 'aborted' }]);
  });

  it('ends a backoff wait at once on shutdown instead of retrying', async () => {
    let attempts = 0;
    const h = harness(
      async () => {
        attempts += 1;
        throw pgError('ECONNREFUSED');
      },
      { retries: 5, baseDelayMs: 3_600_000 },
    );
    h.scheduler.tick(new Date(), 'schedule');
    await vi.waitFor(() => expect(h.retried).toBe(1));
    await h.scheduler.shutdown(3_600_000);
    expect(attempts).toBe(1);
    expect(h.runs).toMatchObject([{ status: 'failed', attempts: 1 }]);
  });

  it('reports the running and the last run for /healthz', async () => {
    const gate = deferred<SyncResult>();
    const h = harness(() => gate.promise);
    expect(h.scheduler.status()).toEqual({
      running: null,
      last_run: null,
      last_success_at: null,
      breaker: { state: 'closed', consecutive_failures: 0, retry_at: null },
    });
    h.scheduler.tick(new Date(), 'start');
    expect(h.scheduler.status().running).toEqual({
      trigger: 'start',
      started_at: '2024-01-01T00:00:00.000Z',
      attempt: 1,
    });
    gate.resolve(result('load-9'));
    await vi.waitFor(() => expect(h.scheduler.busy).toBe(false));
    expect(h.scheduler.status()).toMatchObject({
      running: null,
      last_success_at: '2024-01-01T00:00:00.000Z',
      last_run: {
        status: 'succeeded',
        trigger: 'start',
        load_id: 'load-9',
        attempts: 1,
        error: null,
        counts: { inserted: 1 },
      },
    });
  });
});
