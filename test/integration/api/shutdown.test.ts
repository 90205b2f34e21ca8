/**
 * SIGTERM: no new work; a running import may finish within --shutdown-timeout, otherwise it is
 * rolled back and goes back to the queue for another replica; queued imports stay queued.
 */
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
  type Served,
} from '../../helpers/serve.js';
import { followers, stagingPartitions, waitFor } from '../../helpers/sync.js';

let db: TestDatabase;
let token: string;
let files: Awaited<ReturnType<typeof fileServer>>;

const people = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => [`p${i + offset}@example.com`, `Person ${i + offset}`] as const);
const csv = (rows: readonly (readonly [string, string])[]) =>
  ['email,full_name', ...rows.map((r) => r.join(','))].join('\n') + '\n';

beforeAll(async () => {
  db = await createTestDatabase();
  token = await createKey(db.url, 'ops', 'followers', 'write');
  // Each slow file takes about five seconds to download.
  files = await fileServer(
    { '/slow-a.csv': csv(people(1000)), '/slow-b.csv': csv(people(800, 500)), '/quick.csv': csv(people(10, 5000)) },
    { paths: ['/slow-a.csv', '/slow-b.csv'], pauseMs: 500 },
  );
});

afterEach(async () => killServers());

afterAll(async () => {
  await files?.close();
  await db?.drop();
});

async function running(server: Served, id: string): Promise<void> {
  await waitFor(
    async () => (await call<ImportAnswer>(server.url, 'GET', `/v1/imports/${id}`, { token })).body.status === 'staging',
    30_000,
    `import ${id} to run`,
  );
}

describe('graceful shutdown', () => {
  it('lets a running import finish within the shutdown timeout', async () => {
    const server = await startServe('serve', [...FAST_QUEUE, '--shutdown-timeout', '60s'], { DATABASE_URL: db.url });
    const created = await call<ImportAnswer>(server.url, 'POST', '/v1/tables/followers/imports', {
      token,
      json: { url: `${files.url}/slow-a.csv` },
    });
    await running(server, created.body.id);
    const exit = await server.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const row = await db.query(`SELECT status, attempts FROM etl_info_schema.imports WHERE import_id = $1`, [
      created.body.id,
    ]);
    expect(row.rows).toEqual([{ status: 'succeeded', attempts: 1 }]);
    expect(await followers(db)).toEqual(Object.fromEntries(people(1000)));
  });

  it('rolls back what is still running at the timeout and leaves it, and the queued imports, to another replica', async () => {
    const before = await followers(db);
    const a = await startServe('serve', [...FAST_QUEUE, '--shutdown-timeout', '1s', '--worker-concurrency', '1'], {
      DATABASE_URL: db.url,
    });
    const slow = await call<ImportAnswer>(a.url, 'POST', '/v1/tables/followers/imports', {
      token,
      json: { url: `${files.url}/slow-b.csv` },
    });
    await running(a, slow.body.id);
    const queued = await call<ImportAnswer>(a.url, 'POST', '/v1/tables/followers/imports?mode=upsert', {
      token,
      json: { url: `${files.url}/quick.csv` },
    });
    expect(queued.body.status).toBe('queued');
    const exit = await a.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const states = await db.query<{ import_id: string; status: string }>(
      `SELECT import_id, status FROM etl_info_schema.imports WHERE import_id = ANY($1::uuid[]) ORDER BY created_at`,
      [[slow.body.id, queued.body.id]],
    );
    expect(states.rows.map((r) => r.status)).toEqual(['queued', 'queued']);
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
    const rolledBack = await db.query(`SELECT status FROM etl_info_schema.loads WHERE source = $1`, [
      `${files.url}/slow-b.csv`,
    ]);
    expect(rolledBack.rows).toEqual([{ status: 'aborted' }]);

    const b = await startServe('serve', FAST_QUEUE, { DATABASE_URL: db.url });
    const first = await waitForImport(b.url, slow.body.id, token);
    expect(first).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect((await waitForImport(b.url, queued.body.id, token)).status).toBe('succeeded');
    const expected = { ...Object.fromEntries(people(800, 500)), ...Object.fromEntries(people(10, 5000)) };
    // The upsert may run before or after the mirror: the result is the same only when it runs after.
    const table = await followers(db);
    const order = await db.query<{ import_id: string }>(
      `SELECT import_id FROM etl_info_schema.imports WHERE import_id = ANY($1::uuid[]) ORDER BY finished_at`,
      [[slow.body.id, queued.body.id]],
    );
    if (order.rows[0].import_id === slow.body.id) expect(table).toEqual(expected);
    else expect(table).toEqual(Object.fromEntries(people(800, 500)));
  });
});
