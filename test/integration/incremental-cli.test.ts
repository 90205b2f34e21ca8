/**
 * Incremental syncs through the CLI and the daemon: a killed process, `etl status`, exit codes,
 * and a scheduled sync. The source is a second database created by each test.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile, resolveNamedDaemonConfig, runDaemon, type DaemonFlags } from '../../src/index.js';
import { ignoringFields } from '../../src/observe/json-log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { finished, runCli, startCli, waitFor } from '../helpers/sync.js';

let target: TestDatabase;
let source: TestDatabase;
let dir: string;
let env: Record<string, string>;

const entry = (extra: Record<string, unknown> = {}) => ({
  name: 'users',
  source: { postgres: 'SOURCE_URL', table: 'users', cursor: ['updated_at', 'id'], consistency_delay: '0' },
  target: { table: 'users_copy' },
  key: ['id'],
  columns: [
    { name: 'id', type: 'bigint' },
    { name: 'email', type: 'text' },
  ],
  ...extra,
});

function writeConfig(...syncs: object[]): string {
  const file = join(dir, 'etl.config.json');
  writeFileSync(file, JSON.stringify({ syncs }));
  return file;
}

beforeEach(async () => {
  [target, source] = await Promise.all([createTestDatabase(), createTestDatabase('etl_source')]);
  dir = mkdtempSync(join(tmpdir(), 'etl-incremental-'));
  env = { DATABASE_URL: target.url, SOURCE_URL: source.url };
  await source.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, updated_at timestamptz)`);
});
afterEach(async () => {
  await Promise.all([target.drop(), source.drop()]);
});

const contents = async () =>
  (await target.query<{ id: string; email: string }>('SELECT id, email FROM users_copy ORDER BY id')).rows;
const cursor = async () =>
  (await target.query('SELECT positions FROM etl_info_schema.cursors WHERE sync_name = $1', ['users'])).rows[0]
    ?.positions as Record<string, string[]> | undefined;

describe('etl sync NAME with a postgres source (CLI)', () => {
  it('after kill -9 between staging and merge, keeps the cursor; the next run loads the same changes once', async () => {
    writeConfig(entry());
    await source.query(`INSERT INTO users VALUES (1, 'a@example.com', now() - interval '1 hour')`);
    expect((await runCli(['sync', 'users'], env, dir)).code).toBe(0);
    const saved = await cursor();
    await source.query(
      `INSERT INTO users SELECT i, 'u' || i || '@example.com', now() - interval '1 minute' FROM generate_series(2, 500) i`,
    );

    // Another session holds the target: the run stages its rows, then waits in the merge.
    const blocker = await target.client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE users_copy IN ACCESS EXCLUSIVE MODE');
    const child = startCli(['sync', 'users'], env, dir);
    const done = finished(child);
    await waitFor(
      async () =>
        ((
          await target.query(
            // The merge's first statement that reads the target (counting its rows) waits; staging is done by then.
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'etl sync users_copy'
                AND wait_event_type = 'Lock' AND query ~ '(SELECT count|UPDATE|INSERT INTO|DELETE FROM|MERGE INTO)\\M.* "public"\\."users_copy"'`,
          )
        ).rowCount ?? 0) > 0,
      30_000,
      'the merge to wait',
    );
    child.kill('SIGKILL');
    await done;
    await blocker.query('ROLLBACK');
    await blocker.end();

    expect(await cursor()).toEqual(saved);
    expect(await contents()).toEqual([{ id: '1', email: 'a@example.com' }]);

    const r = await runCli(['sync', 'users', '--json'], env, dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/of users_copy was abandoned \(its process .* is gone.*it is marked aborted/u);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows_read: 499, inserted: 499, updated: 0 });
    const expected = (
      await source.query<{ id: string; email: string }>('SELECT id::text AS id, email FROM users ORDER BY users.id')
    ).rows;
    expect(await contents()).toEqual(expected);
  });

  it('shows each incremental sync’s cursor in etl status, in text and JSON', async () => {
    writeConfig(entry());
    await source.query(`INSERT INTO users VALUES (7, 'a@example.com', '2025-03-04 05:06:07.000008+00')`);
    const synced = await runCli(['sync', 'users'], env, dir);
    expect(synced.stdout).toContain('  cursor: users_copy: updated_at=2025-03-04 05:06:07.000008+00, id=7\n');

    const text = await runCli(['status'], env, dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /\nincremental syncs:\nSYNC +TARGET +CURSOR \(LAST ROW READ\) +SAVED \(UTC\) +READ UNTIL\nusers +users_copy +updated_at=2025-03-04 05:06:07\.000008\+00, id=7 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d{4}-/u,
    );
    const json = JSON.parse((await runCli(['status', '--json'], env, dir)).stdout) as { cursors: unknown[] };
    expect(json.cursors).toEqual([
      expect.objectContaining({
        sync: 'users',
        columns: ['updated_at', 'id'],
        positions: { users_copy: ['2025-03-04 05:06:07.000008+00', '7'] },
      }),
    ]);
  });

  it('exits 2 for mirror without --full and for a missing source variable; --full mirrors', async () => {
    writeConfig(entry({ mode: 'mirror' }));
    await source.query(
      `INSERT INTO users VALUES (1, 'a@example.com', now() - interval '1 hour'), (2, 'b@example.com', NULL)`,
    );
    const refused = await runCli(['sync', 'users'], env, dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('users_copy has mode mirror');

    const unset = await runCli(['sync', 'users'], { DATABASE_URL: target.url }, dir);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(
      'etl.config.json: syncs[0].source.postgres names the environment variable SOURCE_URL, which is not set',
    );

    const full = await runCli(['sync', 'users', '--full', '--json'], env, dir);
    expect(full.code).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ rows_read: 2, inserted: 2 });
    expect(await contents()).toEqual([
      { id: '1', email: 'a@example.com' },
      { id: '2', email: 'b@example.com' },
    ]);
  });
});

describe('etl daemon with a postgres source', () => {
  it('runs the incremental sync on its schedule and picks up later changes', async () => {
    const file = writeConfig(entry({ cron: '@every 1s' }));
    await source.query(`INSERT INTO users VALUES (1, 'a@example.com', now() - interval '1 hour')`);
    const loaded = loadConfigFile(file, dir)!;
    const flags: DaemonFlags = { breakerThreshold: '3', retries: '1', retryDelay: '100ms' };
    const config = resolveNamedDaemonConfig(loaded, { names: ['users'] }, { lockTimeout: '5s' }, flags, env);
    const stop = new AbortController();
    const daemon = runDaemon(config, { signal: stop.signal });
    try {
      await waitFor(
        async () =>
          (await target.query(`SELECT to_regclass('users_copy') AS t`)).rows[0].t && (await contents()).length === 1,
        60_000,
        'the first run',
      );
      await source.query(`INSERT INTO users VALUES (2, 'b@example.com', now() - interval '1 second')`);
      await waitFor(async () => (await contents()).length === 2, 60_000, 'a later run');
    } finally {
      stop.abort();
      await daemon;
    }
    expect(await contents()).toEqual([
      { id: '1', email: 'a@example.com' },
      { id: '2', email: 'b@example.com' },
    ]);
    const runs = await target.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM etl_info_schema.loads GROUP BY status`,
    );
    expect(runs.rows.map((r) => r.status)).toEqual(['succeeded']);
  });

  it('retries a run while the source database is unreachable, then loads once it is back', async () => {
    // The source is reached through a TCP relay that refuses connections until it is started.
    const upstream = new URL(source.url);
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((done) => probe.close(done));
    const sockets = new Set<Socket>();
    const relay: Server = createServer((client) => {
      const server = connect(Number(upstream.port || 5432), upstream.hostname);
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(server).pipe(client);
    });
    const relayed = new URL(source.url);
    relayed.hostname = '127.0.0.1';
    relayed.port = String(port);

    const file = writeConfig(entry({ cron: '@every 1h' }));
    await source.query(`INSERT INTO users VALUES (1, 'a@example.com', now() - interval '1 hour')`);
    const flags: DaemonFlags = { retries: '20', retryDelay: '200ms' };
    const config = resolveNamedDaemonConfig(loadConfigFile(file, dir)!, { names: ['users'] }, {}, flags, {
      ...env,
      SOURCE_URL: relayed.toString(),
    });
    const warnings: string[] = [];
    const log = ignoringFields({ info: () => undefined, warn: (m) => warnings.push(m), error: () => undefined });
    const stop = new AbortController();
    const daemon = runDaemon(config, { signal: stop.signal, log });
    try {
      await waitFor(
        async () => warnings.some((w) => /^\[users\] attempt 1 of 21 failed .*ECONNREFUSED/u.test(w)),
        30_000,
        'a retry',
      );
      await new Promise<void>((done) => relay.listen(port, '127.0.0.1', done));
      await waitFor(async () => (await contents().catch(() => [])).length === 1, 60_000, 'the run after the outage');
    } finally {
      stop.abort();
      await daemon;
      for (const s of sockets) s.destroy();
      await new Promise((done) => relay.close(done));
    }
    expect(warnings.find((w) => w.startsWith('[users] attempt 1 of 21'))).toMatch(
      /^\[users\] attempt 1 of 21 failed with a transient error \(ECONNREFUSED\): cannot connect to the source database 127\.0\.0\.1:\d+\//u,
    );
    expect(await contents()).toEqual([{ id: '1', email: 'a@example.com' }]);
    expect(await cursor()).toEqual({ users_copy: [expect.any(String), '1'] });
  });
});
