/**
 * Uploads over real HTTP: the body streams into staging while it arrives, is merged by a worker
 * from the queue, and every way it can go wrong (bad rows, too large, canceled, lost staging, a
 * cut connection) ends with a clear answer and the table exactly as before.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  call,
  createKey,
  FAST_QUEUE,
  killServers,
  startServe,
  waitForImport,
  type ImportAnswer,
} from '../../helpers/serve.js';
import { followers, generatedCsv, stagingPartitions, tempFile, waitFor } from '../../helpers/sync.js';

let db: TestDatabase;
let token: string;

const people = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => [`p${i + offset}@example.com`, `Person ${i + offset}`] as const);
const csv = (rows: readonly (readonly [string, string])[]) =>
  ['email,full_name', ...rows.map((r) => r.join(','))].join('\n') + '\n';
const ndjson = (rows: readonly (readonly [string, string])[]) =>
  rows.map(([email, name]) => JSON.stringify({ email, full_name: name })).join('\n') + '\n';

beforeAll(async () => {
  db = await createTestDatabase();
  token = await createKey(db.url, 'uploader', 'followers', 'write');
});

afterEach(async () => killServers());

afterAll(async () => db?.drop());

const upload = (base: string, body: string | Buffer, type: string, query = '', headers: Record<string, string> = {}) =>
  call<ImportAnswer>(base, 'POST', `/v1/tables/followers/imports${query}`, {
    token,
    body,
    headers: { 'content-type': type, ...headers },
  });

/** The id of the upload that is staging and has read rows, once there is one. */
async function stagingImport(): Promise<string> {
  return waitFor(
    async () => {
      const r = await db.query<{ id: string }>(
        `SELECT import_id AS id FROM etl_info_schema.imports WHERE status = 'staging' AND rows_read > 0`,
      );
      return r.rows[0]?.id;
    },
    60_000,
    'the upload to stage',
  );
}

/** A request body that sends the first half of `text` and then nothing more, never ending. */
function firstHalfOnly(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async start(stream) {
      stream.enqueue(new TextEncoder().encode(text.slice(0, text.length / 2)));
      await new Promise<void>(() => undefined);
    },
  });
}

describe('uploads', () => {
  it('import CSV, gzipped NDJSON and JSON array bodies; the table equals each body', async () => {
    const server = await startServe('serve', FAST_QUEUE, { DATABASE_URL: db.url });
    const first = await upload(server.url, csv(people(500)), 'text/csv');
    expect(first.status).toBe(202);
    expect(first.body.status).toBe('queued');
    expect(first.headers.get('location')).toBe(`/v1/imports/${first.body.id}`);
    const one = await waitForImport(server.url, first.body.id, token);
    expect(one.status).toBe('succeeded');
    expect(one.counts).toEqual({
      read: 500,
      inserted: 500,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 0,
      duplicates: 0,
    });
    expect(await followers(db)).toEqual(Object.fromEntries(people(500)));
    const size = Buffer.byteLength(csv(people(500)));
    expect(one.progress).toEqual({ bytes: size, bytes_total: size, rows: 500, rows_staged: 500 });
    for (const at of ['created_at', 'started_at', 'finished_at', 'updated_at'])
      expect(Date.parse(one[at] as string), at).toBeGreaterThan(0);
    expect(one.duration_ms).toBeGreaterThanOrEqual(0);
    // The parked load keeps the body's size and SHA-256 in its history, like any other read source.
    const body = csv(people(500));
    const history = await db.query(
      `SELECT status, source_bytes::int AS bytes, source_sha256 AS sha256 FROM etl_info_schema.loads WHERE load_id = $1`,
      [one.load_id],
    );
    expect(history.rows).toEqual([
      {
        status: 'succeeded',
        bytes: Buffer.byteLength(body),
        sha256: createHash('sha256').update(body).digest('hex'),
      },
    ]);

    const gz = await upload(server.url, gzipSync(ndjson(people(300, 400))), 'application/x-ndjson', '', {
      'content-encoding': 'gzip',
    });
    const two = await waitForImport(server.url, gz.body.id, token);
    expect(two.counts).toMatchObject({ read: 300, inserted: 200, unchanged: 100, deleted: 400 });
    expect(await followers(db)).toEqual(Object.fromEntries(people(300, 400)));

    const array = JSON.stringify(people(3).map(([email, full_name]) => ({ email, full_name })));
    const json = await upload(server.url, array, 'application/json');
    expect((await waitForImport(server.url, json.body.id, token)).status).toBe('succeeded');
    expect(await followers(db)).toEqual(Object.fromEntries(people(3)));
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('import into a sync of the config file, with its own table, key and columns', async () => {
    const config = tempFile(
      JSON.stringify({
        syncs: [
          {
            name: 'products',
            source: 'products.csv',
            target: { table: 'products' },
            key: 'code',
            columns: [
              { name: 'code', type: 'text' },
              { name: 'n', type: 'integer' },
            ],
          },
        ],
      }),
      'etl.config.json',
    );
    const productsKey = await createKey(db.url, 'products-loader', 'products', 'write');
    const server = await startServe('serve', [...FAST_QUEUE, '--config', config], { DATABASE_URL: db.url });
    const answer = await call<ImportAnswer>(server.url, 'POST', '/v1/tables/products/imports', {
      token: productsKey,
      body: 'code,n\na,1\nb,2\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(answer.status).toBe(202);
    const done = await waitForImport(server.url, answer.body.id, productsKey);
    expect(done).toMatchObject({ status: 'succeeded', sync: 'products' });
    const rows = await db.query(`SELECT code, n FROM products ORDER BY code`);
    expect(rows.rows).toEqual([
      { code: 'a', n: 1 },
      { code: 'b', n: 2 },
    ]);
    // The followers key may not write this sync.
    const other = await call(server.url, 'POST', '/v1/tables/products/imports', {
      token,
      body: 'code,n\nc,3\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(other.status).toBe(403);
  });

  it('stage the body while it arrives, before the client has finished sending', async () => {
    const server = await startServe('serve', [...FAST_QUEUE, '--batch-size', '1000'], { DATABASE_URL: db.url });
    const text = csv(people(20_000));
    const half = text.indexOf('\n', text.length / 2) + 1;
    let sendRest: () => void = () => undefined;
    const rest = new Promise<void>((resolve) => (sendRest = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(text.slice(0, half)));
        await rest;
        controller.enqueue(new TextEncoder().encode(text.slice(half)));
        controller.close();
      },
    });
    const answer = fetch(`${server.url}/v1/tables/followers/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    });
    // The first half is in the staging partition while the second has not been sent.
    const staged = await waitFor(
      async () => {
        const r = await db.query<{ id: string; rows: string }>(
          `SELECT i.import_id AS id, i.rows_read::text AS rows FROM etl_info_schema.imports i WHERE i.status = 'staging'`,
        );
        return r.rows[0] && Number(r.rows[0].rows) > 0 ? r.rows[0] : undefined;
      },
      60_000,
      'rows staged from the first half',
    );
    const inPartition = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM staging_followers s JOIN etl_info_schema.imports i ON i.load_id = s.load_id WHERE i.import_id = $1`,
      [staged.id],
    );
    expect(Number(inPartition.rows[0].n)).toBeGreaterThan(0);
    expect(Number(inPartition.rows[0].n)).toBeLessThan(20_000);
    sendRest();
    const created = (await (await answer).json()) as ImportAnswer;
    expect(created.id).toBe(staged.id);
    expect((await waitForImport(server.url, created.id, token)).counts?.read).toBe(20_000);
    expect(await followers(db)).toEqual(Object.fromEntries(people(20_000)));
  });

  it('cancel an upload while its body arrives: nothing is merged and its staged rows are dropped', async () => {
    const server = await startServe('serve', [...FAST_QUEUE, '--batch-size', '1000'], { DATABASE_URL: db.url });
    const before = await followers(db);
    const text = csv(people(20_000, 50_000));
    const half = text.indexOf('\n', text.length / 2) + 1;
    let sendRest: () => void = () => undefined;
    const rest = new Promise<void>((resolve) => (sendRest = resolve));
    const answer = fetch(`${server.url}/v1/tables/followers/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode(text.slice(0, half)));
          await rest;
          controller.enqueue(new TextEncoder().encode(text.slice(half)));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    const id = await stagingImport();
    const cancel = await call<ImportAnswer>(server.url, 'POST', `/v1/imports/${id}/cancel`, { token });
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancel_requested).toBe(true);
    sendRest();
    const refused = await answer;
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ id, status: 'canceled', code: 'canceled' });
    expect((await waitForImport(server.url, id, token)).status).toBe('canceled');
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('fail a body with too many bad rows (422, with its rejects), leaving the table as it was', async () => {
    const server = await startServe('serve', [...FAST_QUEUE, '--max-errors', '1'], { DATABASE_URL: db.url });
    const before = await followers(db);
    const bad = csv([...people(3), ['broken', 'X'], ['also broken', 'Y'], ...people(2, 10)]);
    const answer = await upload(server.url, bad, 'text/csv');
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ code: 'too_many_rejects', status: 'failed' });
    expect(answer.body.error).toMatch(/more than 1 bad row/u);
    const rejects = await call<string>(server.url, 'GET', `/v1/imports/${answer.body.id}/rejects`, { token });
    expect(
      rejects.body
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { line: number }).line),
    ).toEqual([5, 6]);
    // A page at a time: the Link header leads to the next page, and the last page has none.
    const firstPage = await call<string>(server.url, 'GET', `/v1/imports/${answer.body.id}/rejects?limit=1`, { token });
    expect((JSON.parse(firstPage.body) as { line: number }).line).toBe(5);
    const next = /^<([^>]+)>; rel="next"$/u.exec(firstPage.headers.get('link') ?? '')?.[1];
    expect(next).toBe(`/v1/imports/${answer.body.id}/rejects?cursor=5&limit=1`);
    const lastPage = await call<string>(server.url, 'GET', next!, { token, headers: { accept: 'text/csv' } });
    expect(lastPage.body).toMatch(/^line,reason,raw\n6,.*,"also broken,Y"\n$/u);
    expect(lastPage.headers.get('link')).toBeNull();
    const truncated = await upload(server.url, '[{"email":"a@b.co","full_name":"A"},{"email":', 'application/json');
    expect(truncated.status).toBe(422);
    expect(truncated.body).toMatchObject({ code: 'source_unreadable', status: 'failed' });
    expect(truncated.body.error).toMatch(/not closed at the end of the input/u);
    const header = await upload(server.url, 'mail,name\na@b.c,A\n', 'text/csv');
    expect(header.status).toBe(422);
    expect(header.body.code).toBe('invalid_source');
    expect(header.body.error).toMatch(/email/u);
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('answer 413 for a body over --max-body, declared or streamed, and 429 when too many imports wait', async () => {
    const server = await startServe('serve', ['--no-worker', '--max-body', '2KB', '--max-pending', '1'], {
      DATABASE_URL: db.url,
    });
    const before = await followers(db);
    const declared = await upload(server.url, csv(people(200)), 'text/csv');
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual({ error: expect.stringMatching(/--max-body/u) as unknown, code: 'body_too_large' });
    const text = csv(people(200));
    const streamed = await fetch(`${server.url}/v1/tables/followers/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { code: string }).code).toBe('body_too_large');

    const queued = await upload(server.url, csv(people(5)), 'text/csv');
    expect(queued.body.status).toBe('queued');
    const refused = await upload(server.url, csv(people(5)), 'text/csv');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(refused.body.code).toBe('too_many_imports');
    // Prefer: wait=N long-polls: it answers the change as soon as it happens, or the import as it
    // was once N seconds have passed (no worker here: nothing changes until the cancel).
    const longPoll = call<ImportAnswer>(server.url, 'GET', `/v1/imports/${queued.body.id}`, {
      token,
      headers: { prefer: 'wait=60' },
    });
    const unchanged = await call<ImportAnswer>(server.url, 'GET', `/v1/imports/${queued.body.id}`, {
      token,
      headers: { prefer: 'wait=1' },
    });
    expect(unchanged.headers.get('preference-applied')).toBe('wait=1');
    expect(unchanged.body.status).toBe('queued');
    const canceled = await call<ImportAnswer>(server.url, 'POST', `/v1/imports/${queued.body.id}/cancel`, { token });
    const changed = await longPoll;
    expect(changed.headers.get('preference-applied')).toBe('wait=60');
    expect(changed.body.status).toBe('canceled');
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
    const load = await db.query(`SELECT status FROM etl_info_schema.loads WHERE load_id = $1`, [canceled.body.load_id]);
    expect(load.rows).toEqual([{ status: 'aborted' }]);
  });

  it('return the same import for the same Idempotency-Key and body, and refuse another body', async () => {
    const server = await startServe('serve', ['--no-worker'], { DATABASE_URL: db.url });
    const headers = { 'idempotency-key': 'batch-7' };
    const first = await upload(server.url, csv(people(4)), 'text/csv', '?mode=upsert', headers);
    const again = await upload(server.url, csv(people(4)), 'text/csv', '?mode=upsert', headers);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    const other = await upload(server.url, csv(people(5)), 'text/csv', '?mode=upsert', headers);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_mismatch');
    await call(server.url, 'POST', `/v1/imports/${first.body.id}/cancel`, { token });

    // An upload that failed while its body arrived imported nothing: a retry with its key is a new import.
    const retryKey = { 'idempotency-key': 'batch-8' };
    const broken = await upload(server.url, 'mail,name\na@b.c,A\n', 'text/csv', '', retryKey);
    expect(broken.status).toBe(422);
    const retried = await upload(server.url, csv(people(4)), 'text/csv', '', retryKey);
    expect(retried.status).toBe(202);
    expect(retried.body.id).not.toBe(broken.body.id);
    const replayed = await upload(server.url, csv(people(4)), 'text/csv', '', retryKey);
    expect(replayed.body.id).toBe(retried.body.id);
    const keyed = await db.query(
      `SELECT import_id AS id, status FROM etl_info_schema.imports WHERE idempotency_key = 'batch-8'`,
    );
    expect(keyed.rows).toEqual([{ id: retried.body.id, status: 'queued' }]);
    await call(server.url, 'POST', `/v1/imports/${retried.body.id}/cancel`, { token });
  });

  it('stage concurrent uploads of one sync side by side, then merge them one after the other', async () => {
    await db.query('TRUNCATE followers');
    const api = await startServe('serve', ['--no-worker'], { DATABASE_URL: db.url });
    const parts = [0, 1, 2].map((i) => people(2000, i * 2000));
    const answers = await Promise.all(parts.map((p) => upload(api.url, csv(p), 'text/csv', '?mode=upsert')));
    // All three are staged and parked at once: three partitions wait for a worker.
    expect(answers.map((a) => a.body.status)).toEqual(['queued', 'queued', 'queued']);
    expect(await stagingPartitions(db)).toHaveLength(3);
    // A worker that could run all three at once still merges them one after the other (the table lock).
    const worker = await startServe('worker', [...FAST_QUEUE, '--worker-concurrency', '3'], { DATABASE_URL: db.url });
    const done = [];
    for (const a of answers) done.push(await waitForImport(api.url, a.body.id, token));
    expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const merges = worker
      .events()
      .filter((e) => e.event === 'merge_started' || e.event === 'merge_finished')
      .map((e) => [e.event, e.load_id]);
    expect(merges).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) {
      expect(merges[i][0]).toBe('merge_started');
      expect(merges[i + 1]).toEqual(['merge_finished', merges[i][1]]);
    }
    expect(merges.map((m) => m[1]).sort()).toEqual(done.flatMap((d) => [d.load_id, d.load_id]).sort());
    expect(await followers(db)).toEqual(Object.fromEntries(parts.flat()));
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('fail clearly, merging nothing, when the staged rows were lost before a worker merged them', async () => {
    const api = await startServe('serve', ['--no-worker'], { DATABASE_URL: db.url });
    const before = await followers(db);
    const answer = await upload(api.url, csv(people(50, 90_000)), 'text/csv');
    expect(answer.body.status).toBe('queued');
    // What crash recovery does to an UNLOGGED table: it comes back empty.
    const [partition] = await stagingPartitions(db);
    await db.query(`TRUNCATE public."${partition}"`);
    await startServe('worker', FAST_QUEUE, { DATABASE_URL: db.url });
    const done = await waitForImport(api.url, answer.body.id, token);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('staging_lost');
    expect(done.error?.message).toMatch(/0 of 50 rows left/u);
    expect(await followers(db)).toEqual(before);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('fail an upload whose connection is cut mid-body, leaving nothing staged', async () => {
    const server = await startServe('serve', FAST_QUEUE, { DATABASE_URL: db.url });
    const before = await followers(db);
    const controller = new AbortController();
    const text = generatedCsv(50_000);
    const request = fetch(`${server.url}/v1/tables/followers/imports`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: firstHalfOnly(text),
      duplex: 'half',
    }).catch((error: unknown) => error);
    const id = await stagingImport();
    controller.abort();
    await request;
    const done = await waitForImport(server.url, id, token);
    expect(done.status).toBe('failed');
    expect(await followers(db)).toEqual(before);
    await waitFor(async () => (await stagingPartitions(db)).length === 0, 30_000, 'the partition to go');
  });

  it('mark an upload failed (upload_interrupted) when the server receiving it is killed mid-body', async () => {
    const receiver = await startServe('serve', ['--no-worker', '--batch-size', '1000'], { DATABASE_URL: db.url });
    const before = await followers(db);
    const text = csv(people(20_000, 70_000));
    const request = fetch(`${receiver.url}/v1/tables/followers/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: firstHalfOnly(text),
      duplex: 'half',
    }).catch((error: unknown) => error);
    const id = await stagingImport();
    receiver.child.kill('SIGKILL');
    await receiver.exited;
    await request;
    // Another replica's sweep (every 15 s) finds the receiving process gone.
    const other = await startServe('serve', FAST_QUEUE, { DATABASE_URL: db.url });
    const done = await waitForImport(other.url, id, token, 60_000);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('upload_interrupted');
    expect(await followers(db)).toEqual(before);
  });
});
