/** Never overlap: a tick during a slow run is skipped, and two daemons on one database take turns. */
import { afterEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { followers, loads, lockFollowers, syncCsv, tempFile, waitFor } from '../helpers/sync.js';
import { getText, killDaemons, sample, startDaemon } from '../fixtures/daemon-helpers.js';

const db = useTestDatabase();
afterEach(async () => {
  await killDaemons();
});

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ndan@example.com,Dan\n';
const day2Rows = { 'ann@example.com': 'Ann', 'bob@example.com': 'Robert', 'dan@example.com': 'Dan' };

/** No two loads of the history ran at the same time. */
async function expectNoOverlap() {
  const runs = (await loads(db)).filter((l) => l.finished_at !== null);
  const sorted = runs
    .map((l) => [new Date(l.started_at).getTime(), new Date(l.finished_at).getTime()] as const)
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i += 1) expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][1]);
  return runs;
}

describe('etl daemon overlap', () => {
  it('skips ticks that come while a slow run is going, without queueing them', async () => {
    await syncCsv(db, day1);
    const release = await lockFollowers(db);
    try {
      const daemon = startDaemon(
        ['--cron', '@every 1s', '--health-port', '0', '--workers', '1', '--log-format', 'json'],
        { DATABASE_URL: db.url, CSV_FILE: tempFile(day2) },
      );
      const port = Number((await daemon.waitForEvent('health_listening')).port);
      await waitFor(async () => daemon.events('tick_skipped').length >= 3, 30_000, 'three skipped ticks');
      const skipped = daemon.events('tick_skipped');
      expect(skipped.every((e) => e.reason === 'overlap')).toBe(true);
      expect(skipped[0].msg).toMatch(
        /^skipped the tick of \S+: the run started at \S+ is still going \(ticks are skipped, never queued\)$/,
      );
      expect(daemon.events('run_started')).toHaveLength(1);
      expect(
        sample(await getText(port, '/metrics'), 'etl_daemon_ticks_skipped_total{table="followers",reason="overlap"}'),
      ).toBeGreaterThanOrEqual(3);
      await release();
      await daemon.waitForEvent('run_succeeded');
      await waitFor(async () => daemon.events('run_succeeded').length >= 2, 30_000, 'the next scheduled run');
      const result = await daemon.stop();
      expect(result.code).toBe(0);
      // A skipped tick is dropped: no run ever starts for it later.
      const ranTicks = new Set(daemon.events('run_started').map((e) => e.tick));
      expect(daemon.events('tick_skipped').filter((e) => ranTicks.has(e.tick))).toEqual([]);
      expect(await followers(db)).toEqual(day2Rows);
      await expectNoOverlap();
    } finally {
      await release();
    }
  });

  it('runs two replicas on one database without ever syncing the table twice at once: the lock loser logs and skips', async () => {
    await syncCsv(db, day1);
    const release = await lockFollowers(db);
    try {
      const env = { DATABASE_URL: db.url, CSV_FILE: tempFile(day2) };
      const args = ['--cron', '@every 1s', '--workers', '1', '--log-format', 'json'];
      const first = startDaemon(args, env);
      await first.waitForEvent('run_started');
      await waitFor(
        async () => (await loads(db)).some((l) => l.status === 'running'),
        30_000,
        "the first replica's load to start",
      );
      const second = startDaemon(args, env);
      const skippedRun = await second.waitForEvent('run_skipped');
      expect(skippedRun).toMatchObject({ reason: 'locked' });
      expect(skippedRun.msg).toMatch(
        /^skipped this run: another etl run is syncing followers \(load [0-9a-f-]{36}, pid \d+ on .*, running since .*\)/,
      );
      await release();
      await waitFor(
        async () => (await loads(db)).filter((l) => l.status === 'succeeded').length >= 5,
        30_000,
        'five successful loads',
      );
      const [a, b] = await Promise.all([first.stop(), second.stop()]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const runs = await expectNoOverlap();
      expect(runs.every((l) => l.status === 'succeeded')).toBe(true);
      expect(new Set(runs.map((l) => l.pid)).size).toBeGreaterThanOrEqual(2);
      expect(first.events('run_failed').concat(second.events('run_failed'))).toEqual([]);
      expect(await followers(db)).toEqual(day2Rows);
    } finally {
      await release();
    }
  });
});
