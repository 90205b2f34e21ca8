/**
 * etl serve over real HTTP, on a real PostgreSQL: URL imports, the answers' shapes, authentication,
 * limits, idempotency, listing, cancel, rejects and the original _bulk API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { SECRET_KEY, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import {
  call,
  createKey,
  fileServer,
  killServers,
  startServe,
  waitForImport,
  type ImportAnswer,
  type Served,
} from '../../helpers/serve.js';
import { followers, generatedCsv, runCli, tempFile } from '../../helpers/sync.js';

let db: TestDatabase;
let server: Served;
let files: Awaited<ReturnType<typeof fileServer>>;
let writer: string;
let reader: string;
let otherSync: string;
let s3: FakeS3;

const csv = (rows: [string, string][]) => ['email,full_name', ...rows.map((r) => r.join(','))].join('\n') + '\n';

beforeAll(async () => {
  db = await createTestDatabase();
  writer = await createKey(db.url, 'writer', 'followers', 'write');
  reader = await createKey(db.url, 'reader', 'followers', 'read');
  otherSync = await createKey(db.url, 'other', 'products', 'write');
  files = await fileServer({
    '/day1.csv': csv([
      ['ann@example.com', 'Ann'],
      ['bob@example.com', 'Bob'],
    ]),
    '/day2.csv': csv([
      ['ann@example.com', 'Ann Smith'],
      ['cy@example.com', 'Cy'],
    ]),
    '/bad.csv': csv([
      ['ann@example.com', 'Ann'],
      ['not-an-email', 'Nobody'],
      ['bob@example.com', 'Bob'],
    ]),
    '/big.csv': generatedCsv(200_000),
  });
  s3 = await startFakeS3();
  server = await startServe(
    'serve',
    ['--max-pending', '50', '--max-errors', '5'],
    // The AWS SDK in the server reads its credentials from its environment, and nothing else.
    { DATABASE_URL: db.url, ...s3.env(), AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' },
    {
      sharedByFile: true,
    },
  );
});

afterAll(async () => {
  await killServers();
  await files?.close();
  await s3?.close();
  await db?.drop();
});

const post = (path: string, json: unknown, token = writer, headers: Record<string, string> = {}) =>
  call<ImportAnswer>(server.url, 'POST', path, { token, json, headers });

describe('URL imports', () => {
  it('answers 202 with a Location, then imports the file so the table equals it', async () => {
    const created = await post('/v1/tables/followers/imports', { url: `${files.url}/day1.csv` });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/imports/${created.body.id}`);
    expect(created.body.links).toEqual({
      self: `/v1/imports/${created.body.id}`,
      rejects: `/v1/imports/${created.body.id}/rejects`,
    });
    expect(created.body.status).toBe('queued');
    const done = await waitForImport(server.url, created.body.id, writer);
    expect(done.status).toBe('succeeded');
    expect(done.counts).toEqual({
      read: 2,
      inserted: 2,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 0,
      duplicates: 0,
    });
    expect(done.attempts).toBe(1);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });

    const next = await post('/v1/tables/followers/imports', { url: `${files.url}/day2.csv` });
    const second = await waitForImport(server.url, next.body.id, writer);
    expect(second.counts).toEqual({
      read: 2,
      inserted: 1,
      updated: 1,
      unchanged: 0,
      deleted: 1,
      rejected: 0,
      duplicates: 0,
    });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann Smith', 'cy@example.com': 'Cy' });
  });

  it('fails an import whose URL answers 404, naming the status, and leaves the table as it was', async () => {
    const before = await followers(db);
    const created = await post('/v1/tables/followers/imports', { url: `${files.url}/missing.csv` });
    const done = await waitForImport(server.url, created.body.id, writer);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('source_unreachable');
    expect(done.error?.message).toMatch(/404/);
    expect(await followers(db)).toEqual(before);
  });

  it("imports an s3:// object with the server's AWS credentials; a missing key fails naming the object", async () => {
    s3.put('bucket', 'in/day1.csv', csv([['dee@example.com', 'Dee']]));
    const created = await post('/v1/tables/followers/imports?mode=upsert', { url: 's3://bucket/in/day1.csv' });
    expect(created.status).toBe(202);
    const done = await waitForImport(server.url, created.body.id, writer);
    expect(done.status).toBe('succeeded');
    expect(done.source).toBe('s3://bucket/in/day1.csv');
    expect(done.counts?.inserted).toBe(1);
    expect((await followers(db))['dee@example.com']).toBe('Dee');

    const before = await followers(db);
    const missing = await post('/v1/tables/followers/imports', { url: 's3://bucket/in/gone.csv' });
    const failed = await waitForImport(server.url, missing.body.id, writer);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('source_unreachable');
    expect(failed.error?.message).toMatch(/GET s3:\/\/bucket\/in\/gone\.csv: the object does not exist/u);
    expect(JSON.stringify(failed)).not.toContain(SECRET_KEY);
    expect(await followers(db)).toEqual(before);

    const badBucket = await post('/v1/tables/followers/imports', { url: 's3://Not_A_Bucket/x.csv' });
    expect(badBucket.status).toBe(400);
    expect(badBucket.body.error).toMatch(/^url: "Not_A_Bucket" is not a valid S3 bucket name/u);
  });

  it('serves the bad rows of an import as NDJSON and as CSV, a page at a time', async () => {
    const created = await post('/v1/tables/followers/imports?mode=upsert&max_errors=1', {
      url: `${files.url}/bad.csv`,
    });
    const done = await waitForImport(server.url, created.body.id, writer);
    expect(done.status).toBe('succeeded');
    expect(done.counts?.rejected).toBe(1);
    const ndjson = await call<string>(server.url, 'GET', `${done.links.rejects}?limit=1`, { token: reader });
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = ndjson.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([{ line: 3, reason: expect.stringMatching(/email/) as unknown, raw: 'not-an-email,Nobody' }]);
    expect(ndjson.headers.get('link')).toBeNull();
    const asCsv = await call<string>(server.url, 'GET', done.links.rejects, {
      token: reader,
      headers: { accept: 'text/csv' },
    });
    expect(asCsv.body.split('\n')[0]).toBe('line,reason,raw');
    expect(asCsv.body.split('\n')[1]).toBe(
      `3,"${(lines[0].reason as string).replaceAll('"', '""')}","not-an-email,Nobody"`,
    );
  });

  it('refuses options beyond what the sync allows, naming the field', async () => {
    const tooMany = await post('/v1/tables/followers/imports?max_errors=6', { url: `${files.url}/day1.csv` });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toEqual({
      error: expect.stringMatching(/^max_errors: .*0 to 5/u) as unknown,
      code: 'invalid_option',
    });
    const mode = await post('/v1/tables/followers/imports?mode=append', { url: `${files.url}/day1.csv` });
    expect(mode.status).toBe(400);
    expect(mode.body.error).toMatch(/^mode: /u);
    const empty = await post('/v1/tables/followers/imports?allow_empty=true', { url: `${files.url}/day1.csv` });
    expect(empty.body.error).toMatch(/^allow_empty: /u);
    const url = await post('/v1/tables/followers/imports', { url: 'ftp://example.com/x.csv' });
    expect(url.status).toBe(400);
    expect(url.body.error).toMatch(/^url: .*http/u);
    const field = await post('/v1/tables/followers/imports', { url: `${files.url}/day1.csv`, uri: 'x' });
    expect(field.body).toEqual({ error: expect.stringMatching(/^uri: /u) as unknown, code: 'invalid_option' });
    const unknown = await post('/v1/tables/nope/imports', { url: `${files.url}/day1.csv` });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('unknown_sync');
    const type = await call(server.url, 'POST', '/v1/tables/followers/imports', {
      token: writer,
      body: 'x',
      headers: { 'content-type': 'application/xml' },
    });
    expect(type.status).toBe(415);
    expect(type.body).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('returns the same import for a repeated Idempotency-Key, and refuses the key for another request', async () => {
    const headers = { 'idempotency-key': 'day1-retry' };
    const first = await post(
      '/v1/tables/followers/imports?mode=upsert',
      { url: `${files.url}/day1.csv` },
      writer,
      headers,
    );
    const again = await post(
      '/v1/tables/followers/imports?mode=upsert',
      { url: `${files.url}/day1.csv` },
      writer,
      headers,
    );
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    const other = await post(
      '/v1/tables/followers/imports?mode=upsert',
      { url: `${files.url}/day2.csv` },
      writer,
      headers,
    );
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_mismatch');
    await waitForImport(server.url, first.body.id, writer);
    const all = await db.query(
      `SELECT count(*)::int AS n FROM etl_info_schema.imports WHERE idempotency_key = 'day1-retry'`,
    );
    expect(all.rows[0].n).toBe(1);
  });

  it('cancels a running import: it rolls back and the table keeps its rows', async () => {
    const before = await followers(db);
    const created = await post('/v1/tables/followers/imports', { url: `${files.url}/big.csv` });
    // Wait until it runs, then cancel.
    let seen = created.body;
    while (seen.status === 'queued') {
      seen = (
        await call<ImportAnswer>(server.url, 'GET', `/v1/imports/${created.body.id}`, {
          token: writer,
          headers: { prefer: 'wait=5' },
        })
      ).body;
    }
    const cancel = await call<ImportAnswer>(server.url, 'POST', `/v1/imports/${created.body.id}/cancel`, {
      token: writer,
    });
    expect([200, 202]).toContain(cancel.status);
    const done = await waitForImport(server.url, created.body.id, writer);
    if (done.status === 'succeeded') {
      // It finished before the cancel arrived: then it is a complete import, never a partial one.
      expect(Object.keys(await followers(db))).toHaveLength(200_000);
    } else {
      expect(done.status).toBe('canceled');
      expect(await followers(db)).toEqual(before);
    }
    const again = await call(server.url, 'POST', `/v1/imports/${created.body.id}/cancel`, { token: writer });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'already_finished' });
  });
});

describe('authentication', () => {
  it('answers 401 without a key or with a wrong one, and 403 for a key of another scope or sync', async () => {
    const none = await call(server.url, 'GET', '/v1/imports');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: expect.stringMatching(/Bearer/u) as unknown, code: 'unauthorized' });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/u);
    const wrong = await call(server.url, 'GET', '/v1/imports', { token: writer.slice(0, -2) + 'xx' });
    expect(wrong.status).toBe(401);
    const readOnly = await post('/v1/tables/followers/imports', { url: `${files.url}/day1.csv` }, reader);
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.code).toBe('forbidden');
    const elsewhere = await post('/v1/tables/followers/imports', { url: `${files.url}/day1.csv` }, otherSync);
    expect(elsewhere.status).toBe(403);
    const list = await call<{ imports: unknown[] }>(server.url, 'GET', '/v1/imports', { token: otherSync });
    expect(list.body.imports).toEqual([]);
    const anyImport = (await call<{ imports: ImportAnswer[] }>(server.url, 'GET', '/v1/imports', { token: reader }))
      .body.imports[0];
    const hidden = await call(server.url, 'GET', `/v1/imports/${anyImport.id}`, { token: otherSync });
    expect(hidden.status).toBe(404);
  });

  it('stops accepting a key once it is revoked', async () => {
    const token = await createKey(db.url, 'short-lived', 'followers', 'read');
    expect((await call(server.url, 'GET', '/v1/imports', { token })).status).toBe(200);
    const revoked = await runCli(['keys', 'revoke', 'short-lived', '--env-file', tempFile('', 'e.env')], {
      DATABASE_URL: db.url,
    });
    expect(revoked.code).toBe(0);
    expect((await call(server.url, 'GET', '/v1/imports', { token })).status).toBe(401);
    const list = await runCli(['keys', 'list', '--all', '--json', '--env-file', tempFile('', 'e.env')], {
      DATABASE_URL: db.url,
    });
    const keys = (JSON.parse(list.stdout) as { keys: { name: string; revoked_at: string | null }[] }).keys;
    expect(keys.map((k) => [k.name, k.revoked_at !== null])).toEqual([
      ['writer', false],
      ['reader', false],
      ['other', false],
      ['short-lived', true],
    ]);
    expect(list.stdout).not.toContain(token);
    const stored = await db.query(`SELECT secret_hash FROM etl_info_schema.api_keys`);
    for (const row of stored.rows) expect(token).not.toContain((row.secret_hash as Buffer).toString('base64url'));
  });
});

describe('listing and the original bulk API', () => {
  it('lists imports newest first, a page at a time with a cursor, filtered by status', async () => {
    const all = await call<{ imports: ImportAnswer[]; next_cursor: string | null }>(
      server.url,
      'GET',
      '/v1/imports?limit=500',
      { token: reader },
    );
    expect(all.body.next_cursor).toBeNull();
    const ids = all.body.imports.map((i) => i.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { imports: ImportAnswer[]; next_cursor: string | null } } = await call(
        server.url,
        'GET',
        `/v1/imports?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: reader },
      );
      paged.push(...page.body.imports.map((i) => i.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(paged).toEqual(ids);
    const failed = await call<{ imports: ImportAnswer[] }>(server.url, 'GET', '/v1/imports?status=failed', {
      token: reader,
    });
    expect(failed.body.imports.length).toBeGreaterThan(0);
    expect(failed.body.imports.every((i) => i.status === 'failed')).toBe(true);
    const bad = await call(server.url, 'GET', '/v1/imports?limit=0', { token: reader });
    expect(bad.body).toEqual({ error: expect.stringMatching(/^limit: /u) as unknown, code: 'invalid_option' });
  });

  it('maps PUT /{sync}/_bulk and GET /{sync}/_bulk/status/{id} onto imports', async () => {
    const created = await call<ImportAnswer>(server.url, 'PUT', '/followers/_bulk?mode=upsert', {
      token: writer,
      json: { url: `${files.url}/day1.csv` },
    });
    expect(created.status).toBe(202);
    await waitForImport(server.url, created.body.id, writer);
    const status = await call<{ id: string; status: string }>(
      server.url,
      'GET',
      `/followers/_bulk/status/${created.body.id}`,
      {
        token: reader,
      },
    );
    expect(status.body).toMatchObject({ id: created.body.id, status: 'complete' });
    const missing = await call(server.url, 'GET', `/products/_bulk/status/${created.body.id}`, { token: reader });
    expect(missing.status).toBe(404);
  });
});

describe('the server itself', () => {
  it('answers /healthz and /metrics without a key, and every unknown route with a JSON 404', async () => {
    const health = await call(server.url, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', database: true, worker: true });
    const metrics = await call<string>(server.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^etl_api_imports_total\{sync="followers",status="succeeded"\} [1-9]\d*$/mu);
    // As the daemon's: rows by kind, duration and last success per sync.
    expect(metrics.body).toMatch(/^etl_api_import_rows_total\{sync="followers",kind="inserted"\} [1-9]\d*$/mu);
    expect(metrics.body).toMatch(/^etl_api_import_rows_total\{sync="followers",kind="rejected"\} [1-9]\d*$/mu);
    expect(metrics.body).toMatch(
      /^etl_api_import_duration_seconds_count\{sync="followers",status="failed"\} [1-9]\d*$/mu,
    );
    expect(metrics.body).toMatch(/^etl_api_import_last_success_timestamp_seconds\{sync="followers"\} \d+(\.\d+)?$/mu);
    const missing = await call(server.url, 'GET', '/v2/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'no route GET /v2/nothing', code: 'not_found' });
  });

  it('never shows a key or a password in answers or logs', async () => {
    const withPassword = new URL(`${files.url}/missing.csv`);
    withPassword.username = 'bob';
    withPassword.password = 'S3cret-Pass';
    const created = await post('/v1/tables/followers/imports', { url: withPassword.href });
    expect(created.status).toBe(202);
    const failed = await waitForImport(server.url, created.body.id, writer);
    expect(failed.error?.code).toBe('source_unreachable');
    expect(JSON.stringify([created.body, failed])).not.toContain('S3cret-Pass');
    expect(server.stderr()).not.toContain('S3cret-Pass');
    const everything = JSON.stringify((await call(server.url, 'GET', '/v1/imports?limit=500', { token: reader })).body);
    expect(everything).not.toContain('S3cret-Pass');
    for (const token of [writer, reader, otherSync]) {
      expect(everything).not.toContain(token);
      expect(server.stderr()).not.toContain(token);
    }
  });

  it('refuses to start without any API key, unless --insecure-no-auth (which binds 127.0.0.1)', async () => {
    const empty = await createTestDatabase();
    try {
      const refused = await runCli(['serve', '--port', '0', '--env-file', tempFile('', 'e.env')], {
        DATABASE_URL: empty.url,
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/no API key exists.*etl keys create.*--insecure-no-auth/su);
      const open = await startServe('serve', ['--insecure-no-auth', '--host', '0.0.0.0', '--no-worker'], {
        DATABASE_URL: empty.url,
      });
      const listening = open.events('serve_listening')[0];
      expect(listening.host).toBe('127.0.0.1');
      expect((await call(open.url, 'GET', '/v1/imports')).status).toBe(200);
      const stopped = await open.stop('SIGTERM');
      expect(stopped.code).toBe(0);
    } finally {
      await empty.drop();
    }
  });
});
