/** The daemon against failures: transient ones retried, permanent ones not, the breaker, notifications. */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { followers, loads, stagingPartitions, syncCsv, tempFile, waitFor } from '../helpers/sync.js';
import {
  flakyProxy,
  getJson,
  killDaemons,
  startDaemon,
  startReceiver,
  type Receiver,
} from '../fixtures/daemon-helpers.js';

const db = useTestDatabase();
const receivers: Receiver[] = [];
afterEach(async () => {
  await killDaemons();
  while (receivers.length > 0) await receivers.pop()!.close();
});

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ndan@example.com,Dan\n';
const day2Rows = { 'ann@example.com': 'Ann', 'bob@example.com': 'Robert', 'dan@example.com': 'Dan' };
const headerOnly = 'email,full_name\n';

const history = () => loads(db).catch(() => []);

describe('etl daemon failures', () => {
  it('retries a transient failure (lock timeout) within the run, then succeeds', async () => {
    await syncCsv(db, day1);
    await db.query(`ALTER DATABASE "${db.name}" SET lock_timeout = '300ms'`);
    const blocker = await db.client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE followers IN ACCESS EXCLUSIVE MODE');
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1h', '--retries', '5', '--retry-delay', '500ms', '--workers', '1', '--log-format', 'json'],
        {
          DATABASE_URL: db.url,
          CSV_FILE: tempFile(day2),
        },
      );
      const retry = await daemon.waitForEvent('run_retry');
      expect(retry.msg).toMatch(
        /^attempt 1 of 6 failed with a transient error \(SQLSTATE 55P03 lock_not_available\): .*lock timeout/,
      );
      await blocker.query('ROLLBACK');
      const ok = await daemon.waitForEvent('run_succeeded');
      expect(Number(ok.attempts)).toBeGreaterThanOrEqual(2);
      expect((await daemon.stop()).code).toBe(0);
      expect(await followers(db)).toEqual(day2Rows);
      const runs = (await history()).slice(1);
      expect(runs.at(-1)).toMatchObject({ status: 'succeeded', load_id: ok.load_id });
      expect(runs.slice(0, -1).every((l) => l.status === 'failed' && /lock timeout/.test(String(l.error)))).toBe(true);
      expect(daemon.events('run_failed')).toEqual([]);
    } finally {
      await blocker.end().catch(() => undefined);
    }
  });

  it('rides out the database going away (connection refused), and /healthz reports it', async () => {
    const proxy = await flakyProxy(db.url);
    const daemon = startDaemon(
      [
        '--cron',
        '@every 1h',
        '--retries',
        '10',
        '--retry-delay',
        '300ms',
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { DATABASE_URL: proxy.url, CSV_FILE: tempFile(day1) },
    );
    try {
      const port = Number((await daemon.waitForEvent('health_listening')).port);
      const retry = await daemon.waitForEvent('run_retry');
      expect(retry).toMatchObject({ reason: 'ECONNREFUSED', attempt: 1 });
      const down = await getJson(port, '/healthz');
      expect(down).toMatchObject({
        status: 503,
        body: { database: 'unreachable: ECONNREFUSED', running: { trigger: 'start' } },
      });
      await proxy.up();
      const ok = await daemon.waitForEvent('run_succeeded');
      expect(Number(ok.attempts)).toBeGreaterThanOrEqual(2);
      const up = await getJson(port, '/healthz');
      expect(up).toMatchObject({
        status: 200,
        body: { database: 'ok', last_run: { status: 'succeeded', load_id: ok.load_id } },
      });
      expect((await daemon.stop()).code).toBe(0);
      expect(Object.keys(await followers(db))).toHaveLength(3);
    } finally {
      await proxy.down();
    }
  });

  it('retries a run whose connection is cut mid-merge; the next attempt cleans up the lost load', async () => {
    await syncCsv(db, day1);
    const proxy = await flakyProxy(db.url);
    await proxy.up();
    const blocker = await db.client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE followers IN ACCESS EXCLUSIVE MODE');
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1h', '--retries', '10', '--retry-delay', '300ms', '--workers', '1', '--log-format', 'json'],
        {
          DATABASE_URL: proxy.url,
          CSV_FILE: tempFile(day2),
        },
      );
      await waitFor(
        async () => {
          const r = await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'followers' AND NOT l.granted`,
          );
          return Number(r.rows[0].n) > 0;
        },
        30_000,
        'the merge to wait for the followers lock',
      );
      await proxy.down();
      const cut = await daemon.waitForEvent('run_retry');
      expect(cut.reason).toMatch(/connection lost|ECONNRESET|SQLSTATE 08/);
      await proxy.up();
      // The lost session still waits on the lock (PostgreSQL only notices the cut client when it
      // next writes to it), so the next attempt finds the table lock taken and tries again later.
      await daemon.waitForEvent('run_retry', (e) => String(e.reason).includes('table lock still held'));
      await blocker.query('ROLLBACK');
      const ok = await daemon.waitForEvent('run_succeeded');
      expect((await daemon.stop()).code).toBe(0);
      expect(await followers(db)).toEqual(day2Rows);
      const runs = (await history()).slice(1);
      expect(runs.at(-1)).toMatchObject({ status: 'succeeded', load_id: ok.load_id });
      expect(runs[0]).toMatchObject({ status: 'aborted', error: expect.stringMatching(/stopped without finishing/) });
      expect(await stagingPartitions(db)).toEqual([]);
    } finally {
      await blocker.end().catch(() => undefined);
      await proxy.down();
    }
  });

  it('does not retry a permanent failure (the empty-file guard) and notifies it with load id, error and counts', async () => {
    await syncCsv(db, day1);
    const receiver = await startReceiver();
    receivers.push(receiver);
    const daemon = startDaemon(
      [
        '--cron',
        '@every 1h',
        '--retries',
        '5',
        '--retry-delay',
        '100ms',
        '--notify-url',
        receiver.url,
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      {
        DATABASE_URL: db.url,
        CSV_FILE: tempFile(headerOnly),
      },
    );
    const failed = await daemon.waitForEvent('run_failed');
    await waitFor(async () => receiver.events.length > 0, 10_000, 'the notification');
    expect((await daemon.stop()).code).toBe(0);
    expect(failed).toMatchObject({ attempts: 1 });
    expect(daemon.events('run_retry')).toEqual([]);
    const runs = (await history()).slice(1);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'failed', load_id: failed.load_id });
    expect(receiver.events).toHaveLength(1);
    expect(receiver.events[0]).toMatchObject({
      event: 'run_failed',
      table: 'followers',
      load_id: failed.load_id,
      attempts: 1,
      error: expect.stringMatching(/has no data rows; refusing to empty public\.followers/),
      counts: { read: 0, staged: 0, inserted: 0, deleted: 0, rejected: 0 },
      breaker: { state: 'closed', consecutive_failures: 1 },
    });
    expect(Date.parse(String(receiver.events[0].time))).toBeGreaterThan(Date.now() - 60_000);
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob',
      'cat@example.com': 'Cat',
    });
  });

  it('opens the circuit breaker after repeated failures, skips ticks, tries once half-open and closes once the file is fixed', async () => {
    await syncCsv(db, day1);
    const receiver = await startReceiver();
    receivers.push(receiver);
    const file = tempFile(headerOnly);
    const daemon = startDaemon(
      [
        '--cron',
        '@every 1s',
        '--breaker-threshold',
        '2',
        '--breaker-cooldown',
        '3s',
        '--notify-url',
        receiver.url,
        '--health-port',
        '0',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { DATABASE_URL: db.url, CSV_FILE: file },
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    await waitFor(async () => receiver.events.some((e) => e.event === 'breaker_opened'), 30_000, 'breaker_opened');
    const opened = await getJson(port, '/healthz');
    expect(opened.body.breaker).toMatchObject({ state: 'open', consecutive_failures: 2 });
    await daemon.waitForEvent('tick_skipped', (e) => e.reason === 'breaker');
    writeFileSync(file, day2);
    await waitFor(async () => receiver.events.some((e) => e.event === 'breaker_closed'), 30_000, 'breaker_closed');
    expect((await daemon.stop()).code).toBe(0);

    expect(receiver.events.map((e) => e.event)).toEqual([
      'run_failed',
      'run_failed',
      'breaker_opened',
      'breaker_half_open',
      'breaker_closed',
    ]);
    expect(receiver.events[2]).toMatchObject({
      table: 'followers',
      breaker: { state: 'open', consecutive_failures: 2, retry_at: expect.any(String) },
      error: expect.stringContaining('refusing to empty'),
    });
    expect(daemon.events('breaker_opened')[0].msg).toMatch(
      /^circuit breaker opened after 2 consecutive failed run\(s\): ticks are skipped until /,
    );
    expect(daemon.events('breaker_half_open')).toHaveLength(1);
    expect(daemon.events('breaker_closed')).toHaveLength(1);
    const runs = (await history()).slice(1);
    expect(runs.slice(0, 3).map((l) => l.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(await followers(db)).toEqual(day2Rows);
  });

  it('keeps running on schedule when the notify receiver never answers', async () => {
    const receiver = await startReceiver({ answer: false });
    receivers.push(receiver);
    const daemon = startDaemon(
      [
        '--cron',
        '@every 1s',
        '--breaker-threshold',
        '0',
        '--notify-url',
        receiver.url,
        '--notify-timeout',
        '500ms',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { DATABASE_URL: db.url, CSV_FILE: tempFile(headerOnly) },
    );
    await waitFor(
      async () => (await history()).filter((l) => l.status === 'failed').length >= 3,
      30_000,
      'three failed runs',
    );
    await daemon.waitForText(
      /could not deliver the run_failed event to http:\/\/127\.0\.0\.1:\d+ \(no answer within 500ms\)/,
    );
    const result = await daemon.stop();
    expect(result.code).toBe(0);
    expect(receiver.events.length).toBeGreaterThanOrEqual(3);
    expect(result.stderr).not.toContain('T0KEN');
  });
});
