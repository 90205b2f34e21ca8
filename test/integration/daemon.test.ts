/** `etl daemon` as a subprocess against a real PostgreSQL: scheduled runs, health, metrics, logs, shutdown. */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import {
  followers,
  loads,
  lockFollowers,
  runCli,
  stagingPartitions,
  syncCsv,
  tempFile,
  waitFor,
} from '../helpers/sync.js';
import { getJson, getText, killDaemons, sample, startDaemon } from '../fixtures/daemon-helpers.js';

const db = useTestDatabase();
afterEach(async () => {
  await killDaemons();
});

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ndan@example.com,Dan\n';
const day2Rows = { 'ann@example.com': 'Ann', 'bob@example.com': 'Robert', 'dan@example.com': 'Dan' };

/** Successful loads so far (none while the daemon has not created the schema yet). */
async function succeededLoads(): Promise<number> {
  const all = await loads(db).catch(() => []);
  return all.filter((l) => l.status === 'succeeded').length;
}

/** A sync waiting for the followers lock (the merge, blocked by lockFollowers). */
async function mergeIsBlocked(): Promise<boolean> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'followers' AND NOT l.granted`,
  );
  return Number(r.rows[0].n) > 0;
}

describe('etl daemon', () => {
  it('syncs at start and then on every tick, logging each load id and summary as JSON lines', async () => {
    const file = tempFile(day2);
    const daemon = startDaemon(['--cron', '@every 1s', '--workers', '1', '--log-format', 'json'], {
      DATABASE_URL: db.url,
      CSV_FILE: file,
    });
    await waitFor(async () => (await succeededLoads()) >= 3, 30_000, 'three successful runs');
    const result = await daemon.stop('SIGTERM');
    expect(result.code).toBe(0);

    const lines = result.stderr.trim().split('\n');
    expect(lines.every((l) => typeof JSON.parse(l).msg === 'string')).toBe(true);
    const nextRuns = daemon.events('next_runs')[0];
    expect(nextRuns.next_runs).toHaveLength(5);
    expect(nextRuns.msg).toMatch(/^next runs: \d{4}-\d\d-\d\dT/);
    const started = daemon.events('run_started');
    expect(started[0]).toMatchObject({ trigger: 'start' });
    expect(started.slice(1).every((e) => e.trigger === 'schedule')).toBe(true);

    const history = await loads(db);
    const succeeded = daemon.events('run_succeeded');
    expect(succeeded.length).toBeGreaterThanOrEqual(3);
    for (const event of succeeded) {
      expect(history.find((l) => l.load_id === event.load_id)).toMatchObject({ status: 'succeeded' });
      expect(event.msg).toContain(`(load ${String(event.load_id)})`);
    }
    expect(succeeded[0]).toMatchObject({ counts: { read: 3, inserted: 3 } });
    expect(succeeded[1]).toMatchObject({ counts: { read: 3, unchanged: 3, inserted: 0 } });
    expect(await followers(db)).toEqual(day2Rows);
    expect(daemon.events('daemon_stopped')).toHaveLength(1);
    expect(result.stderr).not.toContain(new URL(db.url).password || '\u0000');
  });

  it('with --no-run-on-start waits for the first scheduled time, printing the next runs in text logs', async () => {
    const daemon = startDaemon(['--cron', '@every 2s', '--no-run-on-start', '--workers', '1'], {
      DATABASE_URL: db.url,
      CSV_FILE: tempFile(day1),
    });
    await daemon.waitForText(/synced followers from .* \(load [0-9a-f-]{36}\): read 3, inserted 3/);
    const result = await daemon.stop('SIGINT');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/etl: next runs: (\S+, ){4}\S+\n/);
    expect(result.stderr).toContain('sync of followers started (scheduled)');
    expect(result.stderr).not.toContain('run on start');
  });

  it('serves /healthz and /metrics while it runs', async () => {
    const daemon = startDaemon(
      [
        '--cron',
        '@every 1h',
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      {
        DATABASE_URL: db.url,
        CSV_FILE: tempFile(day1),
      },
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    const ran = await daemon.waitForEvent('run_succeeded');

    const health = await getJson(port, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      scheduler: 'running',
      database: 'ok',
      table: 'followers',
      schedule: '@every 1h',
      timezone: 'UTC',
      running: null,
      last_run: { status: 'succeeded', trigger: 'start', load_id: ran.load_id, attempts: 1, counts: { inserted: 3 } },
      breaker: { state: 'closed', consecutive_failures: 0, retry_at: null },
    });
    expect(Date.parse(String(health.body.next_run))).toBeGreaterThan(Date.now());
    expect(Date.parse(String(health.body.last_success_at))).toBeLessThanOrEqual(Date.now());

    const metrics = await getText(port, '/metrics');
    expect(sample(metrics, 'etl_sync_runs_total{table="followers",status="succeeded"}')).toBe(1);
    expect(sample(metrics, 'etl_sync_runs_total{table="followers",status="failed"}')).toBe(0);
    expect(sample(metrics, 'etl_sync_rows_total{table="followers",kind="inserted"}')).toBe(3);
    expect(sample(metrics, 'etl_sync_rows_total{table="followers",kind="read"}')).toBe(3);
    expect(sample(metrics, 'etl_sync_duration_seconds_count{table="followers",status="succeeded"}')).toBe(1);
    expect(sample(metrics, 'etl_sync_last_success_timestamp_seconds{table="followers"}')).toBeGreaterThan(
      Date.now() / 1000 - 60,
    );
    expect(sample(metrics, 'etl_daemon_next_run_timestamp_seconds{table="followers"}')).toBeGreaterThan(
      Date.now() / 1000,
    );
    expect(sample(metrics, 'etl_daemon_breaker_state{table="followers"}')).toBe(0);

    expect((await daemon.stop()).code).toBe(0);
  });

  it('answers /healthz with 503 while the database does not answer', async () => {
    const unreachable = new URL(db.url);
    unreachable.port = '1';
    const daemon = startDaemon(
      ['--cron', '@every 1h', '--no-run-on-start', '--health-port', '0', '--log-format', 'json'],
      {
        DATABASE_URL: unreachable.toString(),
        CSV_FILE: tempFile(day1),
      },
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    await daemon.waitForEvent('next_runs');
    const health = await getJson(port, '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({
      status: 'unavailable',
      scheduler: 'running',
      database: 'unreachable: ECONNREFUSED',
    });
    expect((await daemon.stop()).code).toBe(0);
  });

  it('on SIGTERM lets a running sync finish within --shutdown-timeout, then exits 0', async () => {
    await syncCsv(db, day1);
    const release = await lockFollowers(db);
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1h', '--shutdown-timeout', '60s', '--workers', '1', '--log-format', 'json'],
        { DATABASE_URL: db.url, CSV_FILE: tempFile(day2) },
      );
      await waitFor(mergeIsBlocked, 30_000, 'the merge to wait for the followers lock');
      daemon.child.kill('SIGTERM');
      await daemon.waitForEvent('shutdown_wait');
      await release();
      const result = await daemon.exited;
      expect(result.code).toBe(0);
      expect(daemon.events('run_succeeded')).toHaveLength(1);
      expect(await followers(db)).toEqual(day2Rows);
      expect((await loads(db)).at(-1)).toMatchObject({ status: 'succeeded' });
    } finally {
      await release();
    }
  });

  it('on SIGTERM aborts a sync that outlasts --shutdown-timeout: the target is unchanged, nothing is left behind, exit 0', async () => {
    await syncCsv(db, day1);
    const before = await followers(db);
    const release = await lockFollowers(db);
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1h', '--shutdown-timeout', '1s', '--workers', '1', '--log-format', 'json'],
        { DATABASE_URL: db.url, CSV_FILE: tempFile(day2) },
      );
      await waitFor(mergeIsBlocked, 30_000, 'the merge to wait for the followers lock');
      const result = await daemon.stop('SIGTERM');
      expect(result.code).toBe(0);
      expect(daemon.events('run_abort')).toHaveLength(1);
      const aborted = daemon.events('run_aborted')[0];
      expect(aborted.msg).toMatch(/interrupted/);
      await release();
      expect(await followers(db)).toEqual(before);
      const last = (await loads(db)).at(-1)!;
      expect(last).toMatchObject({ status: 'aborted', load_id: aborted.load_id });
      expect(await stagingPartitions(db)).toEqual([]);
      const sessions = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'etl%'`,
        [db.name],
      );
      expect(Number(sessions.rows[0].n)).toBe(0);
    } finally {
      await release();
    }
  });

  it('starts the embedded PostgreSQL once for all its runs, and stops it on exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etl-daemon-embedded-'));
    chmodSync(dir, 0o755); // the server runs as the postgres user when the tests run as root
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1s', '--embedded-dir', dir, '--workers', '1', '--log-format', 'json'],
        { CSV_FILE: tempFile(day1) },
      );
      await waitFor(
        async () => daemon.events('run_succeeded').length >= 3,
        90_000,
        'three runs on the embedded server',
      );
      const { port } = JSON.parse(readFileSync(join(dir, 'embedded.json'), 'utf8')) as { port: number };
      const result = await daemon.stop();
      expect(result.code).toBe(0);
      expect(daemon.events().filter((e) => e.msg.startsWith('starting the embedded PostgreSQL'))).toHaveLength(1);
      const probe = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'etl',
        database: 'postgres',
        connectionTimeoutMillis: 2000,
      });
      const refused = await probe.connect().then(
        () => probe.end().then(() => 'connected'),
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on a bad setting, naming it and showing the valid forms', async () => {
    const env = { DATABASE_URL: db.url };
    const badCron = await runCli(['daemon', '--cron', 'every day'], env);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toContain(
      '--cron="every day" is not a valid schedule: it has 2 field(s), cron needs 5 (or 6 with seconds); valid forms: "@every 90s"',
    );
    const badEnv = await runCli(['daemon'], { ...env, CRON_SCHEDULE: '@every never' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('CRON_SCHEDULE="@every never" is not a valid schedule');
    const badZone = await runCli(['daemon'], { ...env, CRON_TZ: 'Moon/Tranquility' });
    expect([badZone.code, badZone.stderr]).toEqual([
      2,
      expect.stringContaining('CRON_TZ="Moon/Tranquility" is not a time zone'),
    ]);
    const badFormat = await runCli(['daemon', '--log-format', 'xml'], env);
    expect([badFormat.code, badFormat.stderr]).toEqual([
      2,
      expect.stringContaining('--log-format="xml" is not a log format; use text or json'),
    ]);
    const badPort = await runCli(['daemon', '--log-format', 'json'], { ...env, HEALTH_PORT: 'eighty' });
    expect(badPort.code).toBe(2);
    expect(JSON.parse(badPort.stderr.trim())).toMatchObject({
      level: 'error',
      msg: 'HEALTH_PORT="eighty" is not a whole number; use one from 0 to 65535',
    });
    expect(await loads(db).catch(() => 'no schema')).toBe('no schema');
  });
});
