/**
 * Replicas sharing one queue: every job runs once; a worker killed with SIGKILL in the middle of a
 * merge has its job finished by another replica, and the table is never half-merged.
 */
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  call,
  createKey,
  FAST_QUEUE,
  fileServer,
  killServers,
  startServe,
  waitForImport,
  type ImportAnswer,
} from '../../helpers/serve.js';
import { followers, generatedCsv, stagingPartitions, waitFor } from '../../helpers/sync.js';

let db: TestDatabase;
let token: string;
let files: Awaited<ReturnType<typeof fileServer>>;

const people = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) => [`p${i + offset}@example.com`, `Person ${i + offset}`] as const);
/**
 * A session holding SHARE on followers: a merge reads, then waits on its first write, so its worker
 * is inside the merge transaction until release().
 */
async function holdFollowersWrites(): Promise<pg.Client> {
  const blocker = await db.client();
  blocker.on('error', () => undefined);
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE followers IN SHARE MODE');
  return blocker;
}

async function release(blocker: pg.Client): Promise<void> {
  await blocker.query('ROLLBACK');
  await blocker.end();
}

/** Until a merge's first write (a delete, update or insert of the difference) waits on the lock. */
async function mergeWaitingOnWrite(): Promise<void> {
  await waitFor(
    async () => {
      const r = await db.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND query ~* '^\\s*(DELETE|UPDATE|INSERT)'`,
      );
      return (r.rowCount ?? 0) > 0;
    },
    60_000,
    'the merge to wait on the lock',
  );
}

const csv = (rows: readonly (readonly [string, string])[]) =>
  ['email,full_name', ...rows.map((r) => r.join(','))].join('\n') + '\n';

beforeAll(async () => {
  db = await createTestDatabase();
  token = await createKey(db.url, 'ops', '*', 'write');
  const parts: Record<string, string> = {};
  for (let i = 0; i < 6; i += 1) parts[`/part${i}.csv`] = csv(people(10, i * 10));
  files = await fileServer({
    ...parts,
    '/before.csv': generatedCsv(5000),
    '/after.csv': csv(people(3000, 0)),
  });
});

afterEach(async () => killServers());

afterAll(async () => {
  await files?.close();
  await db?.drop();
});

describe('replicas', () => {
  it('run each job of a shared queue exactly once', async () => {
    const env = { DATABASE_URL: db.url };
    const [a, b] = await Promise.all([startServe('serve', FAST_QUEUE, env), startServe('serve', FAST_QUEUE, env)]);
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const target = i % 2 === 0 ? a : b;
      const r = await call<ImportAnswer>(target.url, 'POST', '/v1/tables/followers/imports?mode=upsert', {
        token,
        json: { url: `${files.url}/part${i}.csv` },
      });
      expect(r.status).toBe(202);
      ids.push(r.body.id);
    }
    for (const id of ids) {
      const done = await waitForImport(a.url, id, token);
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBe(1);
    }
    expect(await followers(db)).toEqual(Object.fromEntries(people(60, 0)));
    const started = [...a.events('import_started'), ...b.events('import_started')].map((e) => e.import_id);
    expect(started.sort()).toEqual([...ids].sort());
    const loads = await db.query(
      `SELECT i.import_id, count(l.*) FILTER (WHERE l.status = 'succeeded')::int AS ok
         FROM etl_info_schema.imports i JOIN etl_info_schema.loads l ON l.load_id = i.load_id
        WHERE i.import_id = ANY($1::uuid[]) GROUP BY i.import_id`,
      [ids],
    );
    expect(loads.rows.map((r) => r.ok)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('finish the job of a worker killed mid-merge on another replica; the table is never half-merged', async () => {
    const env = { DATABASE_URL: db.url };
    const a = await startServe('serve', FAST_QUEUE, env);
    const first = await call<ImportAnswer>(a.url, 'POST', '/v1/tables/followers/imports', {
      token,
      json: { url: `${files.url}/before.csv` },
    });
    expect((await waitForImport(a.url, first.body.id, token)).status).toBe('succeeded');
    const before = await followers(db);

    // A session holding SHARE on followers lets the merge read but blocks its first write: the
    // worker is then inside its merge transaction when it is killed.
    const blocker = await holdFollowersWrites();
    const created = await call<ImportAnswer>(a.url, 'POST', '/v1/tables/followers/imports', {
      token,
      json: { url: `${files.url}/after.csv` },
    });
    await mergeWaitingOnWrite();
    // The worker writes its phase every half second.
    await waitFor(
      async () => {
        const r = await call<ImportAnswer>(a.url, 'GET', `/v1/imports/${created.body.id}`, { token });
        return r.body.status === 'merging';
      },
      10_000,
      'the import to report merging',
    );

    a.child.kill('SIGKILL');
    await a.exited;
    const b = await startServe('worker', FAST_QUEUE, env);
    await release(blocker);
    // The killed worker's merge never committed, whatever the moment.
    expect(await followers(db)).toEqual(before);

    const reader = await startServe('serve', ['--no-worker'], env);
    const done = await waitForImport(reader.url, created.body.id, token);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(b.events('import_succeeded').map((e) => e.import_id)).toEqual([created.body.id]);
    expect(await followers(db)).toEqual(Object.fromEntries(people(3000, 0)));
    expect(await stagingPartitions(db)).toEqual([]);
    const history = await db.query<{ status: string; error: string | null }>(
      `SELECT status, error FROM etl_info_schema.loads WHERE source = $1 ORDER BY started_at`,
      [`${files.url}/after.csv`],
    );
    expect(history.rows.map((r) => r.status)).toEqual(['aborted', 'succeeded']);
    expect(history.rows[0].error).toMatch(/stopped without finishing/u);
  });

  it('finish a staged upload whose worker was killed mid-merge, from the same staged rows', async () => {
    const env = { DATABASE_URL: db.url };
    // The job's timeout is the queue's when the job is sent: every replica gets the same settings.
    const api = await startServe('serve', ['--no-worker', ...FAST_QUEUE], env);
    const before = await followers(db);
    const uploaded = await call<ImportAnswer>(api.url, 'POST', '/v1/tables/followers/imports', {
      token,
      body: csv(people(1500, 100)),
      headers: { 'content-type': 'text/csv' },
    });
    expect(uploaded.body.status).toBe('queued');

    const blocker = await holdFollowersWrites();
    const doomed = await startServe('worker', FAST_QUEUE, env);
    await mergeWaitingOnWrite();
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await release(blocker);
    expect(await followers(db)).toEqual(before);
    // The staged rows wait for the next attempt: recovery by any other load leaves them alone.
    expect(await stagingPartitions(db)).toHaveLength(1);

    await startServe('worker', FAST_QUEUE, env);
    const done = await waitForImport(api.url, uploaded.body.id, token);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    const fresh = people(1500, 100).filter(([email]) => !(email in before)).length;
    expect(done.counts).toMatchObject({ read: 1500, inserted: fresh });
    expect(await followers(db)).toEqual(Object.fromEntries(people(1500, 100)));
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('cancel an upload while it merges: the merge rolls back, the table keeps its rows', async () => {
    const env = { DATABASE_URL: db.url };
    const api = await startServe('serve', ['--no-worker', ...FAST_QUEUE], env);
    const before = await followers(db);
    const uploaded = await call<ImportAnswer>(api.url, 'POST', '/v1/tables/followers/imports', {
      token,
      body: csv(people(1500, 20_000)),
      headers: { 'content-type': 'text/csv' },
    });
    expect(uploaded.body.status).toBe('queued');
    // The merge reads, then waits on its first write: it is inside its transaction when canceled.
    const blocker = await holdFollowersWrites();
    const worker = await startServe('worker', FAST_QUEUE, env);
    await mergeWaitingOnWrite();
    const cancel = await call<ImportAnswer>(api.url, 'POST', `/v1/imports/${uploaded.body.id}/cancel`, { token });
    expect(cancel.status).toBe(202);
    const done = await waitForImport(api.url, uploaded.body.id, token);
    await release(blocker);
    expect(done).toMatchObject({ status: 'canceled', error: { code: 'canceled' } });
    expect(worker.events('import_canceled').map((e) => e.import_id)).toEqual([uploaded.body.id]);
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
    const load = await db.query(`SELECT status FROM etl_info_schema.loads WHERE load_id = $1`, [done.load_id]);
    expect(load.rows).toEqual([{ status: 'aborted' }]);
  });
});
