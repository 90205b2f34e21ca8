import { describe, expect, it } from 'vitest';
import { LockBusyError, SyncAbortedError, SyncFailedError } from '../../src/index.js';
import { LOCK_NAMESPACE } from '../../src/store/advisory.js';
import { useTestDatabase } from '../helpers/db.js';
import {
  followers,
  followersWithTimes,
  generatedCsv,
  lastActivity,
  loads,
  stagingPartitions,
  stagingRows,
  syncCsv,
  syncCsvWithFaults,
} from '../helpers/sync.js';

const db = useTestDatabase();

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,"Bob, Jr."\ncat@example.com,Cat\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ndan@example.com,Dan\n';

describe('etl sync', () => {
  it('loads a file into an empty followers table and records the load', async () => {
    const result = await syncCsv(db, day1);
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob, Jr.',
      'cat@example.com': 'Cat',
    });
    expect(result.counts).toMatchObject({
      read: 3,
      staged: 3,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 0,
    });
    const [load] = await loads(db);
    expect(load).toMatchObject({
      load_id: result.loadId,
      status: 'succeeded',
      table_name: 'followers',
      rows_read: '3',
      rows_inserted: '3',
      error: null,
    });
    expect(await lastActivity(db)).toBeInstanceOf(Date);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('inserts new, updates only changed and deletes absent rows, keeping modified_at of unchanged rows', async () => {
    await syncCsv(db, day1);
    const before = Object.fromEntries((await followersWithTimes(db)).map((r) => [r.email, r.modified_at.getTime()]));
    const firstActivity = await lastActivity(db);
    const result = await syncCsv(db, day2);
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Robert',
      'dan@example.com': 'Dan',
    });
    expect(result.counts).toMatchObject({ read: 3, inserted: 1, updated: 1, unchanged: 1, deleted: 1 });
    const after = Object.fromEntries((await followersWithTimes(db)).map((r) => [r.email, r.modified_at.getTime()]));
    expect(after['ann@example.com']).toBe(before['ann@example.com']);
    expect(after['bob@example.com']).toBeGreaterThan(before['bob@example.com']);
    expect((await lastActivity(db))!.getTime()).toBeGreaterThan(firstActivity!.getTime());
  });

  it('sets modified_at and last_activity from the database clock of the merge transaction', async () => {
    await syncCsv(db, day1);
    const r = await db.query<{ same: boolean }>(
      `SELECT bool_and(f.modified_at = s.last_activity) AS same FROM followers f, etl_info_schema.table_status s WHERE s.table_name = 'followers'`,
    );
    expect(r.rows[0].same).toBe(true);
  });

  it('treats emails as keys: trimmed and lowercased, the last occurrence winning', async () => {
    const result = await syncCsv(db, 'email,full_name\n  Ann@Example.COM ,First\nann@example.com,Second\n');
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Second' });
    expect(result.counts).toMatchObject({ read: 2, duplicates: 1, inserted: 1 });
  });

  it('stages many batches across the worker pool and merges them all', async () => {
    const result = await syncCsv(db, generatedCsv(5000), { batchSize: '317', workers: '3' });
    expect(result.counts).toMatchObject({ read: 5000, staged: 5000, inserted: 5000 });
    const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM followers');
    expect(Number(r.rows[0].n)).toBe(5000);
  });

  it('never leaves staging rows behind, so repeated syncs do not bloat staging', async () => {
    for (let i = 0; i < 5; i += 1)
      await syncCsv(
        db,
        generatedCsv(200, (n) => `Name ${n} v${i}`),
      );
    expect(await stagingPartitions(db)).toEqual([]);
    expect(await stagingRows(db)).toBe(0);
    const parent = await db.query<{ relkind: string }>(
      `SELECT relkind FROM pg_class WHERE oid = 'public.staging_followers'::regclass`,
    );
    expect(parent.rows[0].relkind).toBe('p'); // a partitioned parent holds no tuples of its own
  });
});

describe('etl sync failures', () => {
  async function expectUnchanged(snapshot: Record<string, string>, activity: Date | undefined) {
    expect(await followers(db)).toEqual(snapshot);
    expect(await lastActivity(db)).toEqual(activity);
    expect(await stagingPartitions(db)).toEqual([]);
    expect(await stagingRows(db)).toBe(0);
  }

  it('rolls back when a worker COPY fails', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    await db.query(`ALTER TABLE public.staging_followers ADD CONSTRAINT no_dan CHECK (c1 <> 'dan@example.com')`);
    const error = await syncCsv(db, day2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(/no_dan/);
    await expectUnchanged(snapshot, activity);
    const last = (await loads(db)).at(-1)!;
    expect(last).toMatchObject({ status: 'failed', load_id: (error as SyncFailedError).loadId });
    expect(last.error).toMatch(/no_dan/);
  });

  it('rolls back when a worker thread dies, and the next run starts with a fresh pool', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const error = await syncCsvWithFaults(db, generatedCsv(1000), { batchSize: '100' }, { killWorkerOnBatch: 3 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SyncFailedError);
    await expectUnchanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'failed' });
    const next = await syncCsv(db, day2);
    expect(next.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 1 });
  });

  it('rolls back when the merge fails', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    await db.query(`CREATE FUNCTION refuse_dan() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.email = 'dan@example.com' THEN RAISE EXCEPTION 'dan is not welcome'; END IF; RETURN NEW; END $$`);
    await db.query(`CREATE TRIGGER refuse_dan BEFORE INSERT ON followers FOR EACH ROW EXECUTE FUNCTION refuse_dan()`);
    const error = await syncCsv(db, day2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(/dan is not welcome/);
    await expectUnchanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'failed', rows_inserted: '0' });
  });

  it('rolls back when the run fails right before COMMIT', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const beforeStep = (step: string) => {
      if (step === 'commit') throw new Error('injected failure before commit');
    };
    const error = await syncCsvWithFaults(db, day2, {}, { beforeStep }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/injected failure before commit/);
    await expectUnchanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'failed' });
  });

  it('stops and rolls back when aborted (SIGINT/SIGTERM) while staging', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const controller = new AbortController();
    const error = await syncCsv(
      db,
      generatedCsv(3000),
      { batchSize: '100' },
      {},
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.rowsRead > 0) controller.abort('SIGTERM');
        },
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncAbortedError);
    await expectUnchanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'aborted' });
  });

  it('cancels a merge in progress when aborted, leaving the target as before', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const blocker = await db.client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE followers IN ACCESS EXCLUSIVE MODE');
    const controller = new AbortController();
    const run = syncCsv(
      db,
      day2,
      {},
      {},
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'merging') setTimeout(() => controller.abort('SIGINT'), 300);
        },
      },
    ).catch((e: unknown) => e);
    const error = await run;
    await blocker.query('ROLLBACK');
    await blocker.end();
    expect(error).toBeInstanceOf(SyncAbortedError);
    await expectUnchanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'aborted' });
  });

  it('gives up with LockBusyError when another run holds the table lock, touching nothing', async () => {
    await syncCsv(db, day1);
    const holder = await db.client();
    await holder.query(`SELECT pg_advisory_lock($1, hashtext('followers'))`, [LOCK_NAMESPACE]);
    try {
      const error = await syncCsv(db, day2, { lockTimeout: '300ms' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBusyError);
      expect((error as Error).message).toMatch(/another etl run is syncing followers/);
      expect(await followers(db)).toEqual({
        'ann@example.com': 'Ann',
        'bob@example.com': 'Bob, Jr.',
        'cat@example.com': 'Cat',
      });
      expect(await loads(db)).toHaveLength(1);
    } finally {
      await holder.end();
    }
  });

  it('is not blocked by a lock on a different table', async () => {
    const holder = await db.client();
    await holder.query(`SELECT pg_advisory_lock($1, hashtext('some_other_table'))`, [LOCK_NAMESPACE]);
    try {
      const result = await syncCsv(db, day1, { lockTimeout: '0' });
      expect(result.counts.inserted).toBe(3);
    } finally {
      await holder.end();
    }
  });

  it('aborts a load left running by a killed process and removes its staging rows before syncing', async () => {
    await syncCsv(db, day1);
    const deadLoad = '11111111-2222-4333-8444-555555555555';
    await db.query(
      `INSERT INTO etl_info_schema.loads (load_id, table_name, source, status, host, pid) VALUES ($1, 'followers', 'x.csv', 'running', 'gone', 1)`,
      [deadLoad],
    );
    await db.query(
      `CREATE UNLOGGED TABLE public.staging_followers_${deadLoad.replaceAll('-', '')} PARTITION OF public.staging_followers FOR VALUES IN ('${deadLoad}')`,
    );
    await db.query(
      `INSERT INTO public.staging_followers (c1, c2, line, load_id) VALUES ('zed@example.com', 'Zed', 2, $1)`,
      [deadLoad],
    );
    await syncCsv(db, day2);
    const dead = (await loads(db)).find((l) => l.load_id === deadLoad);
    expect(dead).toMatchObject({ status: 'aborted' });
    expect(dead!.error).toMatch(/stopped without finishing/);
    expect(await stagingPartitions(db)).toEqual([]);
    expect(await followers(db)).not.toHaveProperty('zed@example.com');
  });
});
