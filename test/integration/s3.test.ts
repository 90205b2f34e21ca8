/**
 * s3:// sources and many files as one load, against an in-process S3-compatible server (real HTTP,
 * real SigV4-signed requests from the AWS SDK) and a real PostgreSQL: single objects exactly as the
 * same local file, prefixes, globs and manifests as one load, and the failures (wrong credentials, a
 * missing bucket or key, throttling, a cut connection, a corrupt part) each leaving the table as it was.
 */
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sync, SyncAbortedError } from '../../src/index.js';
import { openInput } from '../../src/source/input.js';
import { useTestDatabase } from '../helpers/db.js';
import { writeParquet } from '../helpers/duckdb.js';
import { ACCESS_KEY, SECRET_KEY, startFakeS3, type FakeS3 } from '../helpers/fake-s3.js';
import {
  configFor,
  finished,
  followers,
  loads,
  runCli,
  stagingPartitions,
  startCli,
  waitFor,
} from '../helpers/sync.js';

let s3: FakeS3;
const db = useTestDatabase();
let dir: string;

/** The AWS SDK reads its credentials from the environment (the default chain); nothing else may leak in. */
function useCredentials(overrides: Record<string, string> = {}): void {
  Object.assign(process.env, s3.env(overrides), {
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etl-s3-'));
  s3 = await startFakeS3({ pageSize: 7 });
});
afterAll(async () => {
  await s3.close();
});
beforeEach(() => {
  useCredentials();
});

const people = (from: number, to: number, name = (i: number) => `Name ${i}`) =>
  Array.from({ length: to - from }, (_, k) => from + k).map((i) => ({ email: `user${i}@example.com`, name: name(i) }));
const csvOf = (rows: { email: string; name: string }[]) =>
  `email,full_name\n${rows.map((r) => `${r.email},"${r.name.replaceAll('"', '""')}"`).join('\n')}\n`;
const ndjsonOf = (rows: { email: string; name: string }[]) =>
  rows.map((r) => JSON.stringify({ email: r.email, full_name: r.name })).join('\n') + '\n';
const asTable = (rows: { email: string; name: string }[]) =>
  Object.fromEntries([...rows].sort((a, b) => (a.email < b.email ? -1 : 1)).map((r) => [r.email, r.name]));

function local(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const syncFrom = (file: string, flags: Record<string, string> = {}) =>
  sync(configFor(db, { file, s3Endpoint: s3.endpoint, ...flags }));

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the sync to fail');
}

/** Every message of an error and its causes, to check none shows the secret. */
function allText(error: unknown): string {
  let out = '';
  for (let e = error as (Error & { cause?: unknown }) | undefined; e; e = e.cause as typeof e)
    out += `${e.message}\n${String(e.stack)}\n`;
  return out;
}

describe('single s3:// objects', () => {
  it('syncs a CSV, an NDJSON.gz and a Parquet object exactly as the same local file', async () => {
    const rows = people(0, 300, (i) => `Náme ${i}, "q"`);
    const parquet = join(dir, 'same.parquet');
    await writeParquet(
      parquet,
      `SELECT 'user' || i || '@example.com' AS email, 'Náme ' || i || ', "q"' AS full_name FROM range(300) t(i)`,
    );
    const sources = [
      { key: 'one/people.csv', body: Buffer.from(csvOf(rows)) },
      { key: 'one/people.ndjson.gz', body: gzipSync(ndjsonOf(rows)) },
      { key: 'one/people.parquet', body: readFileSync(parquet) },
    ];
    for (const { key, body } of sources) {
      s3.put('bucket', key, body);
      await db.query('DELETE FROM followers').catch(() => undefined);
      const seen = s3.requests.length;
      const remote = await syncFrom(`s3://bucket/${key}`);
      const gets = s3.requests.slice(seen).filter((r) => r.startsWith(`GET /bucket/${key}`));
      // Parquet is read with ranged GETs (footer, then row groups) after a HEAD for its size; the others in one streamed GET.
      if (key.endsWith('.parquet')) {
        expect(s3.requests.slice(seen)).toContain(`HEAD /bucket/${key}`);
        expect(gets.length).toBeGreaterThanOrEqual(2);
        for (const get of gets) expect(get).toMatch(/ bytes=\d+-\d+$/u);
      } else expect(gets).toEqual([`GET /bucket/${key}?x-id=GetObject`]);
      const fromS3 = await followers(db);
      await db.query('DELETE FROM followers');
      const file = local(key.replace(/^one\//u, ''), body);
      await syncFrom(file);
      expect(await followers(db)).toEqual(fromS3);
      expect(fromS3).toEqual(asTable(rows));
      expect(remote.counts).toMatchObject({ read: 300, inserted: 300, rejected: 0 });
      expect(remote.source).toBe(`s3://bucket/${key}`);
    }
  });

  it('retries 503 SlowDown answers and then reads the object', async () => {
    s3.put('bucket', 'slow.csv', csvOf(people(0, 10)));
    s3.throttle(2);
    const result = await syncFrom('s3://bucket/slow.csv');
    expect(result.counts.inserted).toBe(10);
    expect(await followers(db)).toEqual(asTable(people(0, 10)));
  });

  describe('failures name the object, never the secret, and leave the table unchanged', () => {
    const cases: { what: string; file: string; setup?: () => void | Promise<void>; message: RegExp }[] = [
      {
        what: 'wrong credentials',
        file: 's3://bucket/ok.csv',
        setup: () => useCredentials({ AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY', AWS_SECRET_ACCESS_KEY: SECRET_KEY }),
        message: /^GET s3:\/\/bucket\/ok\.csv: access denied \(InvalidAccessKeyId\): check the AWS credentials/u,
      },
      {
        what: 'a missing bucket',
        file: 's3://no-such-bucket/ok.csv',
        message: /^GET s3:\/\/no-such-bucket\/ok\.csv: the bucket does not exist$/u,
      },
      {
        what: 'a missing key',
        file: 's3://bucket/missing.csv',
        message: /^GET s3:\/\/bucket\/missing\.csv: the object does not exist$/u,
      },
      {
        what: 'throttling that does not stop',
        file: 's3://bucket/ok.csv',
        setup: () => s3.throttle(50),
        message: /^GET s3:\/\/bucket\/ok\.csv: the store kept throttling \(SlowDown\) after 5 attempts$/u,
      },
      {
        what: 'a connection cut mid-object',
        file: 's3://bucket/cut.csv',
        setup: () => s3.cutAfter('cut.csv', 5000),
        message: /s3:\/\/bucket\/cut\.csv: the object was cut short after 5000 of \d+ bytes/u,
      },
      {
        what: 'a connection cut in a ranged read of a Parquet object',
        file: 's3://bucket/cut.parquet',
        setup: async () => {
          const file = join(dir, 'cut.parquet');
          await writeParquet(
            file,
            `SELECT 'user' || i || '@example.com' AS email, 'N' AS full_name FROM range(50) t(i)`,
          );
          s3.put('bucket', 'cut.parquet', readFileSync(file));
          s3.cutAfter('cut.parquet', 100);
        },
        message: /^GET s3:\/\/bucket\/cut\.parquet: the object was cut short after 100 of \d+ bytes/u,
      },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        s3.put('bucket', 'ok.csv', csvOf(people(0, 5)));
        s3.put('bucket', 'cut.csv', csvOf(people(0, 3000)));
        await syncFrom(local('before.csv', csvOf(people(100, 103))));
        const before = await followers(db);
        await c.setup?.();
        const error = await failureOf(syncFrom(c.file, { batchSize: '100' }));
        s3.throttle(0);
        expect(error.message).toMatch(c.message);
        expect(allText(error)).not.toContain(SECRET_KEY);
        expect(await followers(db)).toEqual(before);
      });
    }
  });
});

describe('idle timeout and abort on s3:// reads', () => {
  const open = (key: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
    openInput(`s3://bucket/${key}`, { s3: { endpoint: s3.endpoint }, ...options });
  const drain = async (stream: AsyncIterable<unknown>) => {
    for await (const _ of stream);
  };

  it('fails an object that does not answer, or stops mid-body, after the idle timeout, naming it', async () => {
    s3.put('bucket', 'silent.csv', csvOf(people(0, 10)));
    s3.stall('silent.csv');
    await expect(open('silent.csv', { timeoutMs: 200 })).rejects.toThrow(
      /^GET s3:\/\/bucket\/silent\.csv: no answer within 200 ms \(idle timeout\)$/u,
    );
    s3.put('bucket', 'stalls.csv', csvOf(people(0, 3000)));
    s3.stall('stalls.csv', 5000);
    const input = await open('stalls.csv', { timeoutMs: 200 });
    await expect(drain(input.stream)).rejects.toThrow(
      /^GET s3:\/\/bucket\/stalls\.csv: no data for 200 ms after 5000 bytes \(idle timeout\)$/u,
    );
  });

  it('stops a sync of a prefix or a Parquet object waiting on a stalled object when it is aborted, leaving the table unchanged', async () => {
    await syncFrom(local('seed-abort.csv', csvOf(people(900, 903))));
    const before = await followers(db);
    s3.put('bucket', 'stalled/a.csv', csvOf(people(0, 10)));
    s3.put('bucket', 'stalled/b.csv', csvOf(people(10, 3000)));
    s3.stall('stalled/b.csv', 5000);
    const parquet = join(dir, 'stalled.parquet');
    await writeParquet(
      parquet,
      `SELECT 'user' || i || '@example.com' AS email, 'Name ' || i AS full_name FROM range(10) t(i)`,
    );
    s3.put('bucket', 'stalled.parquet', readFileSync(parquet));
    s3.stall('stalled.parquet');
    for (const file of ['s3://bucket/stalled/', 's3://bucket/stalled.parquet']) {
      const controller = new AbortController();
      setTimeout(() => controller.abort('test'), 300);
      const error = await failureOf(
        sync(configFor(db, { file, s3Endpoint: s3.endpoint }), { signal: controller.signal }),
      );
      expect(error).toBeInstanceOf(SyncAbortedError);
      expect(await followers(db)).toEqual(before);
    }
    // The test's own time limit is below the 30 s idle timeout: a sync that waited for it fails the test.
  }, 15_000);
});

describe('many files as one load', () => {
  const parts = (prefix: string, n: number, per: number) => {
    for (let p = 0; p < n; p += 1) {
      const key = `${prefix}part-${String(p).padStart(2, '0')}.csv.gz`;
      s3.put('bucket', key, gzipSync(csvOf(people(p * per, (p + 1) * per))));
    }
  };

  it('loads a prefix of 20 gzip parts in one load and one merge', async () => {
    parts('exports/2026-11-30/', 20, 40);
    s3.put('bucket', 'exports/2026-11-30/', ''); // a "folder" marker, not data
    const result = await syncFrom('s3://bucket/exports/2026-11-30/', { batchSize: '25' });
    expect(result.counts).toMatchObject({ read: 800, inserted: 800, rejected: 0 });
    expect(result.source).toBe('s3://bucket/exports/2026-11-30/ (20 files)');
    expect(await followers(db)).toEqual(asTable(people(0, 800)));
    const loads = await db.query('SELECT status, source FROM etl_info_schema.loads');
    expect(loads.rows).toEqual([{ status: 'succeeded', source: 's3://bucket/exports/2026-11-30/ (20 files)' }]);
  });

  it('fails the whole load when one part is corrupt, leaving the table unchanged', async () => {
    parts('corrupt/', 20, 40);
    const good = gzipSync(csvOf(people(7 * 40, 8 * 40)));
    s3.put('bucket', 'corrupt/part-07.csv.gz', good.subarray(0, good.length - 30));
    await syncFrom(local('seed.csv', csvOf(people(5000, 5003))));
    const before = await followers(db);
    const error = await failureOf(syncFrom('s3://bucket/corrupt/*.csv.gz', { batchSize: '25' }));
    expect(error.message).toMatch(/s3:\/\/bucket\/corrupt\/part-07\.csv\.gz: the gzip data is corrupt or truncated/u);
    expect(await followers(db)).toEqual(before);
    const loads = await db.query(`SELECT status FROM etl_info_schema.loads ORDER BY started_at`);
    expect(loads.rows).toEqual([{ status: 'succeeded' }, { status: 'failed' }]);
  });

  it('names the file and its line in every reject, and lets a later file win a repeated key', async () => {
    s3.put('bucket', 'rej/a.csv', csvOf([...people(0, 3), { email: 'bad-email', name: 'X' }]));
    s3.put(
      'bucket',
      'rej/b.csv',
      csvOf([
        { email: 'user1@example.com', name: 'From b' },
        { email: 'also bad', name: 'Y' },
      ]),
    );
    s3.put('bucket', 'rej/c.txt', 'not matched by the glob');
    const rejectsFile = join(dir, 'rejects.csv');
    const result = await syncFrom('s3://bucket/rej/*.csv', { maxErrors: '5', rejects: rejectsFile });
    expect(result.counts).toMatchObject({ read: 6, rejected: 2 });
    expect(await followers(db)).toEqual({
      'user0@example.com': 'Name 0',
      'user1@example.com': 'From b',
      'user2@example.com': 'Name 2',
    });
    const rejects = await db.query('SELECT file, line, raw FROM etl_info_schema.rejects ORDER BY file, line');
    expect(rejects.rows).toEqual([
      { file: 's3://bucket/rej/a.csv', line: '5', raw: 'bad-email,"X"' },
      { file: 's3://bucket/rej/b.csv', line: '3', raw: 'also bad,"Y"' },
    ]);
    expect(readFileSync(rejectsFile, 'utf8').split('\n').slice(0, 2)).toEqual([
      'file,line,reason,raw',
      's3://bucket/rej/a.csv,5,"email ""bad-email"" must contain exactly one @","bad-email,""X"""',
    ]);
    expect(result.warnings.join('\n')).toContain('s3://bucket/rej/a.csv line 5: email');
  });

  it('treats zero matching files as an empty source: the empty-file guard, not an empty table', async () => {
    await syncFrom(local('seed2.csv', csvOf(people(0, 2))));
    const error = await failureOf(syncFrom('s3://bucket/nothing-here/*.csv'));
    expect(error.message).toMatch(/no valid rows|empty/iu);
    expect(await followers(db)).toEqual(asTable(people(0, 2)));
  });

  it('reads a Redshift-style manifest in its order; a missing mandatory file fails, a missing optional one is skipped', async () => {
    s3.put('bucket', 'm/one.ndjson', ndjsonOf(people(0, 3)));
    s3.put('bucket', 'm/two.ndjson', ndjsonOf(people(3, 6)));
    const manifest = (entries: object[]) => local(`load-${entries.length}.manifest`, JSON.stringify({ entries }));
    const ok = await syncFrom(
      manifest([
        { url: 's3://bucket/m/two.ndjson', mandatory: true },
        { url: 's3://bucket/m/gone.ndjson', mandatory: false },
        { url: 's3://bucket/m/one.ndjson' },
      ]),
    );
    expect(ok.counts.inserted).toBe(6);
    expect(ok.warnings).toContain('s3://bucket/m/gone.ndjson is missing; skipped (the manifest marks it optional)');
    const before = await followers(db);
    expect(before).toEqual(asTable(people(0, 6)));
    const error = await failureOf(
      syncFrom(
        manifest([
          { url: 's3://bucket/m/one.ndjson', mandatory: true },
          { url: 's3://bucket/m/two.ndjson', mandatory: true },
          { url: 's3://bucket/m/gone.ndjson', mandatory: true },
          { url: 's3://bucket/m/one.ndjson', mandatory: true },
        ]),
      ),
    );
    expect(error.message).toMatch(/GET s3:\/\/bucket\/m\/gone\.ndjson: the object does not exist/u);
    expect(await followers(db)).toEqual(before);
  });

  it('loads a prefix of Parquet parts as one load, past the markers Spark leaves, with each reject naming its part and row', async () => {
    for (let p = 0; p < 3; p += 1) {
      const file = join(dir, `pq-${p}.parquet`);
      await writeParquet(
        file,
        `SELECT CASE WHEN i = 1 AND ${p} = 2 THEN 'bad' ELSE 'user' || (${p * 100} + i) || '@example.com' END AS email,
                'Name ' || (${p * 100} + i) AS full_name FROM range(4) t(i)`,
      );
      s3.put('bucket', `spark-out/part-0000${p}-x.snappy.parquet`, readFileSync(file));
    }
    s3.put('bucket', 'spark-out/_SUCCESS', '');
    s3.put('bucket', 'spark-out/.part-00000-x.snappy.parquet.crc', 'not data');
    const result = await syncFrom('s3://bucket/spark-out/', { maxErrors: '1' });
    expect(result.source).toBe('s3://bucket/spark-out/ (3 files)');
    expect(result.counts).toMatchObject({ read: 12, inserted: 11, rejected: 1 });
    const expected = [0, 1, 2].flatMap((p) =>
      [0, 1, 2, 3]
        .filter((i) => !(p === 2 && i === 1))
        .map((i) => [`user${p * 100 + i}@example.com`, `Name ${p * 100 + i}`]),
    );
    expect(await followers(db)).toEqual(Object.fromEntries(expected));
    const rejects = await db.query('SELECT file, line FROM etl_info_schema.rejects');
    expect(rejects.rows).toEqual([{ file: 's3://bucket/spark-out/part-00002-x.snappy.parquet', line: '2' }]);
  });

  it('loads a local glob of NDJSON parts in name order', async () => {
    const parts = join(dir, 'parts');
    mkdirSync(parts, { recursive: true });
    writeFileSync(join(parts, 'b.ndjson'), ndjsonOf([{ email: 'user1@example.com', name: 'Later' }]));
    writeFileSync(join(parts, 'a.ndjson'), ndjsonOf(people(0, 4)));
    writeFileSync(join(parts, 'a.csv'), 'ignored');
    writeFileSync(join(parts, '.a.ndjson'), 'a hidden file, ignored');
    const result = await syncFrom(join(parts, '*.ndjson'));
    expect(result.counts).toMatchObject({ read: 5, inserted: 4 });
    expect(await followers(db)).toEqual({ ...asTable(people(0, 4)), 'user1@example.com': 'Later' });
  });
});

describe('the CLI with s3:// sources', () => {
  it('reads credentials from the environment and the endpoint from S3_ENDPOINT, and never prints the secret', async () => {
    s3.put('bucket', 'cli/people.csv', csvOf(people(0, 4)));
    const ok = await runCli(['sync', '--file', 's3://bucket/cli/people.csv', '--json'], {
      DATABASE_URL: db.url,
      ...s3.env(),
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    });
    expect(ok.stderr).not.toContain(SECRET_KEY);
    expect(ok.code).toBe(0);
    expect(await followers(db)).toEqual(asTable(people(0, 4)));
    const denied = await runCli(['sync', '--file', 's3://bucket/cli/people.csv'], {
      DATABASE_URL: db.url,
      ...s3.env({ AWS_ACCESS_KEY_ID: `${ACCESS_KEY}X` }),
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('GET s3://bucket/cli/people.csv: access denied (InvalidAccessKeyId)');
    expect(denied.stderr + denied.stdout).not.toContain(SECRET_KEY);
  });

  it('rolls back at once on SIGTERM while an object stalls mid-body', async () => {
    s3.put('bucket', 'cli/before.csv', csvOf(people(0, 2)));
    const env = {
      DATABASE_URL: db.url,
      ...s3.env(),
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    };
    expect((await runCli(['sync', '--file', 's3://bucket/cli/before.csv'], env)).code).toBe(0);
    const body = csvOf(people(10, 2000));
    s3.put('bucket', 'cli/stalls.csv', body);
    s3.stall('cli/stalls.csv', body.length / 2);
    const child = startCli(['sync', '--file', 's3://bucket/cli/stalls.csv'], env);
    const done = finished(child);
    const loadId = await waitFor(
      async () => (await loads(db)).find((l) => l.status === 'running')?.load_id as string | undefined,
      30_000,
      'a running load',
    );
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl error: sync of followers interrupted (SIGTERM); rolled back');
    expect(await followers(db)).toEqual(asTable(people(0, 2)));
    expect((await loads(db)).find((l) => l.load_id === loadId)).toMatchObject({ status: 'aborted' });
    expect(await stagingPartitions(db)).toEqual([]);
  });
});
