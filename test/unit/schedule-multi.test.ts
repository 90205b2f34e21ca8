/** Several syncs in one daemon: tagged logs and notifications, /healthz per sync, metrics per sync. */
import { describe, expect, it } from 'vitest';
import type { FieldLogger, LogFields } from '../../src/observe/json-log.js';
import { DaemonMetrics } from '../../src/observe/metrics.js';
import { CircuitBreaker } from '../../src/schedule/breaker.js';
import { parseSchedule } from '../../src/schedule/cron.js';
import { healthReport, taggedLogger, taggedNotifier, type SyncHealth } from '../../src/schedule/multi.js';
import type { NotifyEvent } from '../../src/schedule/notify.js';
import { Scheduler } from '../../src/schedule/scheduler.js';

function recordingLog() {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const log: FieldLogger = {
    info: (message, fields) => void lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => void lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => void lines.push({ level: 'error', message, fields }),
  };
  return { log, lines };
}

const idle = (): SyncHealth['status'] =>
  new Scheduler({
    table: 'x',
    attempt: async () => Promise.reject(new Error('unused')),
    breaker: new CircuitBreaker(5, 1000),
    retry: { retries: 0, baseDelayMs: 0 },
    log: recordingLog().log,
    notifier: { send: () => undefined, flush: async () => undefined },
  }).status();

describe('taggedLogger', () => {
  it('prefixes every message with the sync name and adds it as a field', () => {
    const { log, lines } = recordingLog();
    const tagged = taggedLogger(log, 'products');
    tagged.info('sync of products started', { event: 'run_started', table: 'products' });
    tagged.warn('careful');
    tagged.error('failed', { event: 'run_failed', sync: 'overridden?' });
    expect(lines).toEqual([
      {
        level: 'info',
        message: '[products] sync of products started',
        fields: { event: 'run_started', table: 'products', sync: 'products' },
      },
      { level: 'warn', message: '[products] careful', fields: { sync: 'products' } },
      { level: 'error', message: '[products] failed', fields: { event: 'run_failed', sync: 'products' } },
    ]);
  });
});

describe('taggedNotifier', () => {
  it('adds the sync name to each event and flushes the shared notifier', async () => {
    const sent: NotifyEvent[] = [];
    let flushed = 0;
    const notifier = taggedNotifier(
      { send: (e) => void sent.push(e), flush: async (ms) => void (flushed = ms) },
      'orders',
    );
    notifier.send({
      event: 'run_failed',
      table: 'orders',
      load_id: 'l1',
      error: 'bad file',
      counts: null,
      time: 't',
      host: 'h',
    });
    await notifier.flush(250);
    expect(sent).toEqual([
      {
        event: 'run_failed',
        table: 'orders',
        load_id: 'l1',
        error: 'bad file',
        counts: null,
        time: 't',
        host: 'h',
        sync: 'orders',
      },
    ]);
    expect(flushed).toBe(250);
  });
});

describe('healthReport', () => {
  const every = parseSchedule('@every 1s');
  const daily = parseSchedule('@daily', { timezone: 'Europe/Berlin' });
  const next = new Date('2024-01-01T00:00:01Z');

  it('keeps the single sync at the top level and lists it in syncs', () => {
    const report = healthReport(true, 'ok', [{ table: 'followers', schedule: every, nextRun: next, status: idle() }]);
    expect(report.healthy).toBe(true);
    const only = {
      table: 'followers',
      schedule: '@every 1s',
      timezone: 'UTC',
      next_run: '2024-01-01T00:00:01.000Z',
      running: null,
      last_run: null,
      last_success_at: null,
      breaker: { state: 'closed', consecutive_failures: 0, retry_at: null },
    };
    expect(report.body).toEqual({
      status: 'ok',
      scheduler: 'running',
      database: 'ok',
      ...only,
      syncs: [{ name: null, ...only }],
    });
  });

  it('lists every sync by name and table when there are several', () => {
    const report = healthReport(true, 'ok', [
      { name: 'products', table: 'products', schedule: every, nextRun: next, status: idle() },
      { name: 'orders', table: 'shop.orders', schedule: daily, nextRun: next, status: idle() },
    ]);
    expect(Object.keys(report.body)).toEqual(['status', 'scheduler', 'database', 'syncs']);
    expect(report.body.syncs).toEqual([
      expect.objectContaining({
        name: 'products',
        table: 'products',
        schedule: '@every 1s',
        timezone: 'UTC',
        next_run: '2024-01-01T00:00:01.000Z',
      }),
      expect.objectContaining({
        name: 'orders',
        table: 'shop.orders',
        schedule: '@daily',
        timezone: 'Europe/Berlin',
        breaker: expect.objectContaining({ state: 'closed' }),
      }),
    ]);
  });

  it('is unhealthy while the database does not answer or the daemon no longer schedules', () => {
    const syncs = [
      { name: 'a', table: 'a', schedule: every, nextRun: next, status: idle() },
      { name: 'b', table: 'b', schedule: every, status: idle() },
    ];
    expect(healthReport(true, 'unreachable: ECONNREFUSED', syncs)).toMatchObject({
      healthy: false,
      body: { status: 'unavailable', database: 'unreachable: ECONNREFUSED' },
    });
    const stopped = healthReport(false, 'ok', syncs);
    expect(stopped).toMatchObject({ healthy: false, body: { status: 'unavailable', scheduler: 'stopped' } });
    expect((stopped.body.syncs as { next_run: unknown }[]).map((s) => s.next_run)).toEqual([null, null]);
  });
});

describe('metrics of several syncs', () => {
  it('keeps one series per sync in one registry, labelled by table and sync name', async () => {
    const daemon = new DaemonMetrics();
    const products = daemon.forSync({ table: 'products', sync: 'products' });
    const archive = daemon.forSync({ table: 'products', sync: 'products-archive' });
    products.runFinished('succeeded', 1000, {
      read: 2,
      staged: 2,
      inserted: 2,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 0,
      duplicates: 0,
    });
    archive.runFinished('locked', 5);
    archive.breakerState('open');
    const lines = (await daemon.render()).body.split('\n');
    for (const line of [
      'etl_sync_runs_total{table="products",sync="products",status="succeeded"} 1',
      'etl_sync_runs_total{table="products",sync="products",status="locked"} 0',
      'etl_sync_runs_total{table="products",sync="products-archive",status="locked"} 1',
      'etl_sync_runs_total{table="products",sync="products-archive",status="succeeded"} 0',
      'etl_sync_rows_total{table="products",sync="products",kind="inserted"} 2',
      'etl_daemon_breaker_state{table="products",sync="products"} 0',
      'etl_daemon_breaker_state{table="products",sync="products-archive"} 2',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.filter((l) => l.startsWith('process_cpu_seconds_total '))).toHaveLength(1);
  });
});
