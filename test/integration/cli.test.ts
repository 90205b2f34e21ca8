import { describe, expect, it } from 'vitest';
import { LOCK_NAMESPACE } from '../../src/store/advisory.js';
import { migrations } from '../../src/store/migrations.js';
import { useTestDatabase } from '../helpers/db.js';
import {
  finished,
  followers,
  generatedCsv,
  loads,
  lockFollowers,
  runCli,
  stagingPartitions,
  startCli,
  tempFile,
  waitFor,
} from '../helpers/sync.js';

const db = useTestDatabase();

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ncat@example.com,Cat\n';

async function mergeIsWaiting() {
  const r = await db.query(
    `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'etl sync followers' AND wait_event_type = 'Lock'`,
  );
  return (r.rowCount ?? 0) > 0;
}

/** The backends holding, and waiting for, the followers table's run lock (an advisory lock). */
async function tableLockHolders(): Promise<{ granted: number[]; waiting: number[] }> {
  const r = await db.query<{ pid: number; granted: boolean }>(
    `SELECT l.pid, l.granted FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = $1::int::oid AND l.objid = hashtext('followers')::oid`,
    [LOCK_NAMESPACE],
  );
  return {
    granted: r.rows.filter((x) => x.granted).map((x) => x.pid),
    waiting: r.rows.filter((x) => !x.granted).map((x) => x.pid),
  };
}

describe('etl sync (CLI)', () => {
  it('exits 0 and prints a summary', async () => {
    const r = await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /synced followers from .* \(load [0-9a-f-]{36}\)\n {2}read 2 {2}inserted 2 {2}updated 0 {2}unchanged 0 {2}deleted 0 {2}rejected 0 {2}duplicates 0\n {2}took .* rows\/s\)/,
    );
  });

  it('prints one JSON object with --json, settings coming from the environment', async () => {
    const r = await runCli(['sync', '--json'], { DATABASE_URL: db.url, CSV_FILE: tempFile(day1), BATCH_SIZE: '1' });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ status: 'succeeded', target: 'followers', rows_read: 2, inserted: 2, rejected: 0 });
    expect(summary.load_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads settings from a .env file, under the real environment', async () => {
    const envFile = tempFile(`DATABASE_URL=${db.url}\nCSV_FILE=${tempFile(day1)}\n`, 'settings.env');
    const r = await runCli(['sync', '--env-file', envFile, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).inserted).toBe(2);
  });

  it.each([
    [['--batch-size', 'abc'], {}, /--batch-size="abc" is not a whole number/],
    [[], { WORKER_POOL_SIZE: '-2' }, /WORKER_POOL_SIZE="-2" is out of range/],
    [['--file', '/nonexistent/x.csv'], {}, /the file \/nonexistent\/x\.csv does not exist/],
    [['--no-such-flag'], {}, /unknown option '--no-such-flag'/],
    [['--db-max-conns', '2'], {}, /but DB_MAX_CONNS \(--db-max-conns\) is 2/],
  ])('exits 2 on bad settings %j %j before touching the database', async (args, env, message) => {
    const r = await runCli(['sync', '--file', tempFile(day1), ...args], { DATABASE_URL: db.url, ...env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    const schema = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'etl_info_schema'`);
    expect(schema.rowCount).toBe(0);
  });

  it('exits 2 when a required column is missing, naming it', async () => {
    const r = await runCli(['sync', '--file', tempFile('mail,name\na@b.c,A\n')], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 1: the header has no "email", "full_name" column \(found "mail", "name"/);
  });

  it('exits 1 naming the first bad lines when there are too many bad rows', async () => {
    const r = await runCli(
      ['sync', '--file', tempFile('email,full_name\nok@x.org,A\nbad,B\n@x,C\n'), '--max-errors', '1'],
      { DATABASE_URL: db.url },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/more than 1 bad row\(s\).*line 3: email "bad" must contain exactly one @; line 4/);
  });

  it('says so in the summary when a load skipped bad rows', async () => {
    const r = await runCli(['sync', '--file', tempFile('email,full_name\nok@x.org,A\nbad,B\n'), '--max-errors', '1'], {
      DATABASE_URL: db.url,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rejected 1/);
    expect(r.stdout).toMatch(/1 bad row\(s\) were skipped/);
  });

  it('never prints the database password', async () => {
    const r = await runCli(['sync', '--file', tempFile(day1)], {
      DATABASE_URL: 'postgres://someone:hunter2secret@127.0.0.1:1/nowhere',
    });
    expect(r.code).toBe(1);
    expect(r.stderr.length).toBeGreaterThan(0);
    expect(r.stderr + r.stdout).not.toContain('hunter2secret');
  });

  it('exits 3 when another run holds the table lock past --lock-timeout', async () => {
    const holder = await db.client();
    await runCli(['migrate'], { DATABASE_URL: db.url });
    await holder.query(`SELECT pg_advisory_lock($1, hashtext('followers'))`, [LOCK_NAMESPACE]);
    try {
      const r = await runCli(['sync', '--file', tempFile(day1), '--lock-timeout', '500ms'], { DATABASE_URL: db.url });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/another etl run is syncing followers.*waited 0\.5s/);
      expect(await loads(db)).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('makes a second concurrent sync wait on the table lock until the first commits, then run', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const release = await lockFollowers(db);
    const first = startCli(['sync', '--file', tempFile(day2), '--json'], { DATABASE_URL: db.url });
    const firstDone = finished(first);
    await waitFor(mergeIsWaiting, 30_000, 'the first merge to wait');
    const holder = await tableLockHolders();
    expect(holder.granted).toHaveLength(1);

    const day3 = 'email,full_name\nann@example.com,Ann\ncat@example.com,Catherine\n';
    const secondChild = startCli(['sync', '--file', tempFile(day3), '--json', '--lock-timeout', '60s'], {
      DATABASE_URL: db.url,
    });
    const second = finished(secondChild);
    // The second process is seen queued on the advisory lock the first holds, from its own backend.
    const waiting = await waitFor(
      async () => {
        const locks = await tableLockHolders();
        return locks.waiting.length === 1 ? locks : undefined;
      },
      30_000,
      'the second sync to wait on the table lock',
    );
    expect(waiting.granted).toEqual(holder.granted);
    expect(waiting.waiting[0]).not.toBe(holder.granted[0]);
    expect(secondChild.exitCode).toBeNull();

    await release();
    const [a, b] = await Promise.all([firstDone, second]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(JSON.parse(a.stdout)).toMatchObject({ inserted: 1, updated: 1, deleted: 0 });
    expect(JSON.parse(b.stdout)).toMatchObject({ inserted: 0, updated: 1, unchanged: 1, deleted: 1 });
    // The second ran on what the first committed: Robert (from day 2) is gone, Catherine replaced Cat.
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'cat@example.com': 'Catherine' });
    const history = await loads(db);
    expect(history.map((l) => l.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Its load began only once the first had finished: the two never overlapped.
    expect(history[2].started_at.getTime()).toBeGreaterThanOrEqual(history[1].finished_at.getTime());
  });

  it('rolls back on SIGTERM during the merge and exits 143', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const release = await lockFollowers(db);
    const child = startCli(['sync', '--file', tempFile(day2)], { DATABASE_URL: db.url });
    const done = finished(child);
    await waitFor(mergeIsWaiting, 30_000, 'the merge to wait');
    child.kill('SIGTERM');
    const r = await done;
    await release();
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM received: stopping and rolling back/);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'aborted' });
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('recovers after kill -9: the next sync aborts the dead load and removes its staging rows', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const release = await lockFollowers(db);
    const child = startCli(['sync', '--file', tempFile(generatedCsv(2000))], { DATABASE_URL: db.url });
    const done = finished(child);
    await waitFor(mergeIsWaiting, 30_000, 'the merge to wait');
    child.kill('SIGKILL');
    await done;
    await release();
    const dead = (await loads(db)).at(-1)!;
    expect(dead.status).toBe('running');
    await waitFor(async () => (await stagingPartitions(db)).length === 1, 10_000, 'the partition to be visible');

    const r = await runCli(['sync', '--file', tempFile(day2), '--json'], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `load ${dead.load_id} of followers was abandoned \\(its process \\(pid \\d+ on [^)]+\\) is gone: it stopped without finishing the load`,
      ),
    );
    expect((await loads(db)).find((l) => l.load_id === dead.load_id)).toMatchObject({ status: 'aborted' });
    expect(await stagingPartitions(db)).toEqual([]);
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Robert',
      'cat@example.com': 'Cat',
    });
  });
});

describe('etl migrate (CLI)', () => {
  it('applies the schema once and reports it up to date afterwards', async () => {
    const first = await runCli(['migrate'], { DATABASE_URL: db.url });
    expect(first).toMatchObject({ code: 0 });
    const versions = migrations.map((m) => m.version).sort((a, b) => a - b);
    const latest = versions.at(-1)!;
    expect(first.stdout).toContain(`applied migration(s) ${versions.join(', ')}; schema is at version ${latest}`);
    const second = await runCli(['migrate'], { DATABASE_URL: db.url });
    expect(second.stdout).toContain(`schema is up to date (version ${latest})`);
  });
});
