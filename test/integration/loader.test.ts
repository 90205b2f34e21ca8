/** Records written from code (openLoader, load): the same staging, merge, guards and history as a file sync. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DeleteLimitError,
  load,
  LoadClosedError,
  openLoader,
  SyncFailedError,
  type LoaderOptions,
  type LoaderReject,
} from '../../src/index.js';
import { withFaults } from '../../src/load/faults.js';
import { useTestDatabase } from '../helpers/db.js';
import { followers, lastActivity, loads, projectRoot, stagingPartitions, syncCsv, waitFor } from '../helpers/sync.js';

const db = useTestDatabase();

interface Follower {
  email: string;
  full_name: string;
}

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n';

/** Options every test shares: the test database, an empty environment (not the developer's). */
function options(extra: Partial<LoaderOptions> = {}): LoaderOptions {
  return { target: 'followers', database: db.url, env: {}, lockTimeout: '10s', workers: 2, ...extra };
}

const products = {
  target: { table: 'products' },
  key: 'sku',
  mode: 'upsert',
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'price', type: 'numeric(12,2)' },
    { name: 'big', type: 'bigint' },
    { name: 'seen', type: 'timestamptz' },
    { name: 'attrs', type: 'jsonb' },
    { name: 'active', type: 'boolean' },
  ],
};

async function productRows() {
  const r = await db.query(`SELECT sku, price::text, big::text, seen, attrs, active FROM products ORDER BY sku`);
  return r.rows;
}

async function rejectsOf(loadId: string) {
  const r = await db.query<{ line: string; reason: string }>(
    'SELECT line, reason FROM etl_info_schema.rejects WHERE load_id = $1 ORDER BY line',
    [loadId],
  );
  return r.rows.map((x) => [Number(x.line), x.reason]);
}

async function expectNothingChanged(snapshot: Record<string, string>, activity: Date | undefined) {
  expect(await followers(db)).toEqual(snapshot);
  expect(await lastActivity(db)).toEqual(activity);
  expect(await stagingPartitions(db)).toEqual([]);
}

describe('openLoader', () => {
  it('writes records, commits them in one merge and records the load', async () => {
    const loader = await openLoader<Follower>(options());
    await loader.write({ email: 'Ann@Example.com ', full_name: 'Ann' });
    await loader.write([
      { email: 'bob@example.com', full_name: 'Bob' },
      { email: 'cat@example.com', full_name: 'Cat' },
    ]);
    const result = await loader.commit();
    expect(result).toMatchObject({
      loadId: loader.loadId,
      target: 'followers',
      source: 'code',
      counts: { read: 3, staged: 3, inserted: 3, updated: 0, deleted: 0, rejected: 0 },
    });
    // No delete() was written, so the merge assumes distinct keys (the unique index checks it)
    // instead of grouping the whole load by key first.
    expect(Object.keys(result.phases.mergeSteps)).not.toContain('duplicates');
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob',
      'cat@example.com': 'Cat',
    });
    expect(await loads(db)).toMatchObject([
      { load_id: loader.loadId, table_name: 'followers', source: 'code', status: 'succeeded', rows_inserted: '3' },
    ]);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('converts bigints, Dates and nested objects exactly, and applies delete markers in upsert mode', async () => {
    const seen = new Date('2024-03-01T10:00:00.123Z');
    await load(
      [
        { sku: 'A1', price: 12.5, big: 9007199254740993n, seen, attrs: { color: 'red', tags: [1, 2] }, active: true },
        { sku: 'B2', price: '7', big: -42n, seen: '2024-03-01 12:30Z', attrs: null, active: 'no' },
        { sku: 'C3', price: 1, big: 1, seen: null, attrs: { n: 1 }, active: null },
      ],
      options({ target: products }),
    );
    const loader = await openLoader(options({ target: products }));
    await loader.write({ sku: 'D4', price: 4, big: 123456789012345678n, seen, attrs: [], active: false });
    await loader.delete({ sku: 'B2' });
    const result = await loader.commit();
    expect(result.counts).toMatchObject({ read: 2, inserted: 1, deleted: 1 });
    expect(await productRows()).toEqual([
      {
        sku: 'A1',
        price: '12.50',
        big: '9007199254740993',
        seen,
        attrs: { color: 'red', tags: [1, 2] },
        active: true,
      },
      { sku: 'C3', price: '1.00', big: '1', seen: null, attrs: { n: 1 }, active: null },
      { sku: 'D4', price: '4.00', big: '123456789012345678', seen, attrs: [], active: false },
    ]);
  });

  it('in mirror mode deletes at commit what was not written, and honours delete markers', async () => {
    await syncCsv(db, day1);
    const loader = await openLoader<Follower>(options());
    await loader.write({ email: 'bob@example.com', full_name: 'Robert' });
    await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
    await loader.delete({ email: 'dan@example.com' });
    await loader.write({ email: 'eve@example.com', full_name: 'Eve' });
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob',
      'cat@example.com': 'Cat',
    });
    const result = await loader.commit();
    expect(result.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 2 });
    expect(await followers(db)).toEqual({ 'bob@example.com': 'Robert', 'eve@example.com': 'Eve' });
  });

  it('keeps the last record of a key written twice, into an empty table and in a mirror of a full one', async () => {
    const first = await openLoader<Follower>(options());
    await first.write([
      { email: 'ann@example.com', full_name: 'Ann' },
      { email: 'bob@example.com', full_name: 'Bob' },
      { email: 'ann@example.com', full_name: 'Ann the second' },
    ]);
    expect((await first.commit()).counts).toMatchObject({ inserted: 2, duplicates: 1, deleted: 0 });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann the second', 'bob@example.com': 'Bob' });

    const second = await openLoader<Follower>(options());
    await second.write([
      { email: 'cat@example.com', full_name: 'Cat' },
      { email: 'bob@example.com', full_name: 'Bobby' },
      { email: 'cat@example.com', full_name: 'Catherine' },
    ]);
    const result = await second.commit();
    expect(result.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 1, duplicates: 1, unchanged: 0 });
    expect(await followers(db)).toEqual({ 'bob@example.com': 'Bobby', 'cat@example.com': 'Catherine' });
  });

  it('skips bad records under maxErrors, reporting each with its index, reason and column', async () => {
    const seen: LoaderReject[] = [];
    const loader = await openLoader(options({ maxErrors: 3, onReject: (r) => seen.push(r) }));
    await loader.write({ email: 'ann@example.com', full_name: 'Ann' });
    await loader.write({ email: 'not an email', full_name: 'Bad' });
    await loader.write({ email: 'bob@example.com', full_name: 'x'.repeat(300) });
    await loader.write({ email: 'cat@example.com', full_name: Number.NaN });
    await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
    const result = await loader.commit();
    expect(result.counts).toMatchObject({ read: 5, staged: 2, inserted: 2, rejected: 3 });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'dan@example.com': 'Dan' });
    // Records that cannot even be encoded (NaN) are reported at once, the others when their batch is done.
    seen.sort((x, y) => x.index - y.index);
    expect(seen.map((r) => [r.index, r.column])).toEqual([
      [1, 'email'],
      [2, 'full_name'],
      [3, undefined],
    ]);
    expect(seen[0].record).toEqual({ email: 'not an email', full_name: 'Bad' });
    expect(seen[2].reason).toMatch(/"full_name" is NaN/);
    expect((await rejectsOf(result.loadId)).map(([line]) => line)).toEqual([2, 3, 4]);
  });

  it('fails and rolls back when bad records exceed maxErrors, keeping them for etl status', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const loader = await openLoader(options({ maxErrors: 1, batchSize: 2 }));
    const written = (async () => {
      await loader.write({ email: 'x', full_name: 'A' });
      await loader.write({ email: 'y', full_name: 'B' });
      await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
      return loader.commit();
    })();
    const error = await written.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(/more than 1 bad row/);
    await expectNothingChanged(snapshot, activity);
    const last = (await loads(db)).at(-1)!;
    expect(last).toMatchObject({ load_id: loader.loadId, status: 'failed', rows_rejected: '2' });
    expect((await rejectsOf(loader.loadId)).map(([line]) => line)).toEqual([1, 2]);
    await expect(loader.write({ email: 'z@example.com', full_name: 'Z' })).rejects.toBeInstanceOf(LoadClosedError);
  });

  it('keeps the delete guard: a mirror commit that would delete too much fails and changes nothing', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const loader = await openLoader(options({ maxDeletePercent: 50 }));
    await loader.write({ email: 'ann@example.com', full_name: 'Ann' });
    const error = await loader.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).cause).toBeInstanceOf(DeleteLimitError);
    await expectNothingChanged(snapshot, activity);
  });

  it('aborts on request: nothing committed, load marked aborted; later calls get LoadClosedError', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const loader = await openLoader(options());
    await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
    await loader.flush();
    expect(await stagingPartitions(db)).toHaveLength(1);
    await loader.abort('changed my mind');
    await expectNothingChanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({
      status: 'aborted',
      error: expect.stringMatching(/changed my mind/),
    });
    await expect(loader.write({ email: 'x@example.com', full_name: 'X' })).rejects.toBeInstanceOf(LoadClosedError);
    await expect(loader.commit()).rejects.toMatchObject({ code: 'ETL_LOAD_CLOSED' });
    await loader.abort('again'); // harmless
  });

  it('aborts and rolls back when its AbortSignal fires', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const controller = new AbortController();
    const loader = await openLoader(options({ signal: controller.signal }));
    await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
    controller.abort('shutting down');
    await waitFor(async () => (await loads(db)).at(-1)?.status === 'aborted', 10_000, 'the load to be aborted');
    await expectNothingChanged(snapshot, activity);
    await expect(loader.commit()).rejects.toBeInstanceOf(LoadClosedError);
  });

  it('aborts a loader that is disposed without commit (await using)', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    {
      await using loader = await openLoader(options());
      await loader.write({ email: 'dan@example.com', full_name: 'Dan' });
    }
    expect(await followers(db)).toEqual(snapshot);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'aborted' });
  });

  it('refuses a second commit, and a commit racing the first, without applying anything twice', async () => {
    const loader = await openLoader(options());
    await loader.write({ email: 'ann@example.com', full_name: 'Ann' });
    const first = loader.commit();
    await expect(loader.commit()).rejects.toBeInstanceOf(LoadClosedError);
    await expect(loader.write({ email: 'bob@example.com', full_name: 'Bob' })).rejects.toBeInstanceOf(LoadClosedError);
    await first;
    await expect(loader.commit()).rejects.toBeInstanceOf(LoadClosedError);
    await expect(loader.abort()).rejects.toBeInstanceOf(LoadClosedError);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect((await loads(db)).map((l) => l.status)).toEqual(['succeeded']);
  });

  it('rolls back when a worker thread dies while staging', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    const loader = await openLoader(withFaults(options({ batchSize: 10 }), { killWorkerOnBatch: 3 }));
    const error = await (async () => {
      for (let i = 0; i < 100; i += 1) await loader.write({ email: `u${i}@example.com`, full_name: `U ${i}` });
      return loader.commit();
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    await expectNothingChanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'failed' });
  });

  it('takes records from stream.pipeline() through writable(), and from an async iterable with load()', async () => {
    const loader = await openLoader<Follower>(options({ batchSize: 7 }));
    const records = Array.from({ length: 50 }, (_, i) => ({ email: `p${i}@example.com`, full_name: `P ${i}` }));
    await pipeline(Readable.from(records), loader.writable());
    const piped = await loader.commit();
    expect(piped.counts).toMatchObject({ read: 50, inserted: 50 });
    async function* generated() {
      for (let i = 0; i < 20; i += 1) yield { email: `g${i}@example.com`, full_name: `G ${i}` };
    }
    const loaded = await load(generated(), options({ batchSize: 6 }));
    expect(loaded.counts).toMatchObject({ read: 20, inserted: 20, deleted: 50 });
    expect(await followers(db)).toEqual(
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`g${i}@example.com`, `G ${i}`])),
    );
  });

  it('aborts the load when the iterable given to load() throws', async () => {
    await syncCsv(db, day1);
    const snapshot = await followers(db);
    const activity = await lastActivity(db);
    async function* broken() {
      yield { email: 'dan@example.com', full_name: 'Dan' };
      throw new Error('upstream went away');
    }
    await expect(load(broken(), options())).rejects.toThrow('upstream went away');
    await expectNothingChanged(snapshot, activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'aborted' });
  });

  it('names the problem when the target is unknown or an option is wrong, before connecting', async () => {
    await expect(openLoader(options({ target: 'nope' }))).rejects.toThrow(/no target named "nope"/);
    await expect(openLoader(options({ target: { ...products, columns: [] } }))).rejects.toBeInstanceOf(ConfigError);
    await expect(openLoader(options({ maxErrors: Number.NaN }))).rejects.toThrow(/maxErrors must be a number/);
    expect(await loads(db).catch(() => [])).toEqual([]);
  });
});

describe('the example script', () => {
  it('loads the records it generates, refusing its one bad record and applying its delete marker', async () => {
    const child = spawn(process.execPath, ['examples/load-generated-records.js', '25'], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^record 25 refused: reading: /u) });
    expect(stdout).toMatch(/"inserted":24/u);
    const rows = await db.query(
      `SELECT sensor, reading::text, total::text, taken_at, meta FROM example_readings ORDER BY taken_at`,
    );
    expect(rows.rows).toEqual(
      Array.from({ length: 24 }, (_, k) => {
        const i = k + 1;
        return {
          sensor: `s-${i}`,
          reading: ((i % 1000) / 7).toFixed(3),
          total: String(2n ** 53n + BigInt(i)),
          taken_at: new Date(Date.UTC(2026, 0, 1) + i * 1000),
          meta: { site: i % 3 === 0 ? 'north' : 'south', tags: ['demo'] },
        };
      }),
    );
  });
});

describe('loads of one table at the same time', () => {
  it('lets two loaders stage at once, then commits them one after the other', async () => {
    const a = await openLoader(options({ target: products }));
    const b = await openLoader(options({ target: products }));
    await a.write({ sku: 'A1', price: 1, big: 1n, seen: null, attrs: null, active: true });
    await b.write({ sku: 'B1', price: 2, big: 2n, seen: null, attrs: null, active: false });
    await b.write({ sku: 'A1', price: 3, big: 3n, seen: null, attrs: null, active: false });
    await Promise.all([a.flush(), b.flush()]);
    const staging = await db.query(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'public.etl_staging_products'::regclass`,
    );
    expect(staging.rows[0].n).toBe(2);
    const [ra, rb] = await Promise.all([a.commit(), b.commit()]);
    const history = (await loads(db)).filter((l) => l.status === 'succeeded');
    expect(history).toHaveLength(2);
    const [first, second] = [...history].sort((x, y) => x.finished_at - y.finished_at);
    // Both were running before either finished: they staged at the same time.
    expect(new Date(second.started_at).getTime()).toBeLessThan(new Date(first.finished_at).getTime());
    const lastWriter = first.load_id === a.loadId ? 'b' : 'a';
    // Whichever merged second saw the first one's rows: A1 is then an update, not an insert.
    if (lastWriter === 'b') {
      expect([ra.counts, rb.counts]).toMatchObject([{ inserted: 1 }, { inserted: 1, updated: 1 }]);
    } else {
      expect([ra.counts, rb.counts]).toMatchObject([{ inserted: 0, updated: 1 }, { inserted: 2 }]);
    }
    expect(await productRows()).toEqual([
      {
        sku: 'A1',
        price: lastWriter === 'b' ? '3.00' : '1.00',
        big: lastWriter === 'b' ? '3' : '1',
        seen: null,
        attrs: null,
        active: lastWriter !== 'b',
      },
      { sku: 'B1', price: '2.00', big: '2', seen: null, attrs: null, active: false },
    ]);
  });

  it('stays open while a file sync of the same table runs and commits, then commits after it', async () => {
    await syncCsv(db, day1);
    const loader = await openLoader<Follower>(options());
    let written = 0;
    const writeSome = async (n: number) => {
      for (let i = 0; i < n; i += 1, written += 1)
        await loader.write({ email: `w${written}@example.com`, full_name: `W ${written}` });
      await loader.flush();
    };
    await writeSome(10);
    // The file sync takes the table lock, stages, merges and finishes while the loader is open.
    const fileSync = await syncCsv(db, 'email,full_name\nzed@example.com,Zed\n');
    expect(await followers(db)).toEqual({ 'zed@example.com': 'Zed' });
    // The loader keeps receiving records for a while (tens of seconds) after that sync committed.
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      await writeSome(5);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await stagingPartitions(db)).toHaveLength(1);
    const result = await loader.commit();
    expect(result.counts).toMatchObject({ read: written, inserted: written, deleted: 1 });
    expect(await followers(db)).toEqual(
      Object.fromEntries(Array.from({ length: written }, (_, i) => [`w${i}@example.com`, `W ${i}`])),
    );
    const history = await loads(db);
    const mine = history.find((l) => l.load_id === loader.loadId)!;
    const theirs = history.find((l) => l.load_id === fileSync.loadId)!;
    expect(theirs.started_at.getTime()).toBeGreaterThan(mine.started_at.getTime());
    expect(theirs.finished_at.getTime()).toBeLessThan(mine.finished_at.getTime());
  });

  it('recovers a loader whose process was killed (kill -9) while open, and only that one', async () => {
    await syncCsv(db, day1);
    const script = `
      const { openLoader } = await import(${JSON.stringify(`${projectRoot}/dist/index.js`)});
      const loader = await openLoader({ target: 'followers', database: process.argv[1], env: {} });
      for (let i = 0; i < 100; i += 1) await loader.write({ email: 'k' + i + '@example.com', full_name: 'K' });
      await loader.flush();
      console.log(loader.loadId);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, db.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const deadId = line.toString().trim();
      // While its process lives, a file sync leaves the loader's load and staging alone.
      const during = await syncCsv(db, day1);
      expect(during.warnings).toEqual([]);
      expect((await loads(db)).find((l) => l.load_id === deadId)).toMatchObject({ status: 'running' });
      expect(await stagingPartitions(db)).toHaveLength(1);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const logged: string[] = [];
      const after = await syncCsv(
        db,
        day1,
        {},
        {},
        {
          log: { info: () => {}, warn: (m) => logged.push(m), error: (m) => logged.push(m) },
        },
      );
      expect(logged).toEqual([
        expect.stringMatching(new RegExp(`load ${deadId} of followers was abandoned \\(its process \\(pid \\d+`)),
      ]);
      expect(after.counts).toMatchObject({ unchanged: 3 });
      expect((await loads(db)).find((l) => l.load_id === deadId)).toMatchObject({ status: 'aborted' });
      expect(await stagingPartitions(db)).toEqual([]);
      expect(await followers(db)).toEqual({
        'ann@example.com': 'Ann',
        'bob@example.com': 'Bob',
        'cat@example.com': 'Cat',
      });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
