/**
 * `etl daemon NAME... / --all` as a subprocess against a real PostgreSQL: the syncs of the config
 * file, each on its own cron with its own scheduler, sharing one database and one health server.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { runCli, tempDir, waitFor } from '../helpers/sync.js';
import {
  getJson,
  getText,
  killDaemons,
  sample,
  startDaemon,
  startReceiver,
  type Receiver,
} from '../fixtures/daemon-helpers.js';

const db = useTestDatabase();
let dir: string;
const receivers: Receiver[] = [];
beforeEach(() => {
  dir = tempDir('daemon-config');
});
afterEach(async () => {
  await killDaemons();
  while (receivers.length > 0) await receivers.pop()!.close();
});

const entry = (name: string, source: string, extra: object = {}) => ({
  name,
  source,
  target: { table: name },
  key: 'code',
  columns: [
    { name: 'code', type: 'text' },
    { name: 'n', type: 'integer' },
  ],
  ...extra,
});

/** Writes the files and etl.config.json into the test's directory; returns the config's path. */
function configure(syncs: object[], files: Record<string, string> = {}): string {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'etl.config.json');
  writeFileSync(path, JSON.stringify({ syncs }));
  return path;
}

interface Load {
  load_id: string;
  table_name: string;
  status: string;
  started_at: Date;
  finished_at: Date | null;
}

async function history(): Promise<Load[]> {
  return db
    .query<Load>(
      'SELECT load_id, table_name, status, started_at, finished_at FROM etl_info_schema.loads ORDER BY started_at',
    )
    .then(
      (r) => r.rows,
      () => [],
    );
}

const succeeded = async (table: string) =>
  (await history()).filter((l) => l.table_name === table && l.status === 'succeeded').length;

/** Staging partitions left behind, of any table. */
async function stagingPartitions(): Promise<string[]> {
  const r = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid`,
  );
  return r.rows.map((x) => x.relname);
}

/** Holds an exclusive lock on a table: a sync of it blocks in its merge (holding its table lock) until released. */
async function block(table: string) {
  const blocker = await db.client();
  await blocker.query('BEGIN');
  await blocker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await blocker.query('ROLLBACK').catch(() => undefined);
    await blocker.end().catch(() => undefined);
  };
}

async function mergeIsBlocked(table: string): Promise<boolean> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = $1 AND NOT l.granted`,
    [table],
  );
  return Number(r.rows[0].n) > 0;
}

const spacing = (times: unknown) =>
  (times as string[])
    .map(Date.parse)
    .slice(1)
    .map((t, i) => t - Date.parse((times as string[])[i]));

describe('etl daemon with syncs of the config file', () => {
  it('schedules each sync by its own cron, records each load under its table, and /healthz and /metrics report each sync', async () => {
    configure(
      [entry('products', 'products.csv', { cron: '@every 1s' }), entry('orders', 'orders.csv', { cron: '@every 2s' })],
      {
        'products.csv': 'code,n\np1,1\np2,2\n',
        'orders.csv': 'code,n\no1,10\n',
      },
    );
    const daemon = startDaemon(
      ['--all', '--health-port', '0', '--health-host', '127.0.0.1', '--workers', '1', '--log-format', 'json'],
      { DATABASE_URL: db.url },
      dir,
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    await waitFor(
      async () => (await succeeded('products')) >= 3 && (await succeeded('orders')) >= 2,
      30_000,
      'three products and two orders loads',
    );

    const health = await getJson(port, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', scheduler: 'running', database: 'ok' });
    expect(health.body.table).toBeUndefined();
    expect(health.body.syncs).toEqual([
      expect.objectContaining({
        name: 'products',
        table: 'products',
        schedule: '@every 1s',
        last_run: expect.objectContaining({ status: 'succeeded' }),
        breaker: expect.objectContaining({ state: 'closed' }),
      }),
      expect.objectContaining({
        name: 'orders',
        table: 'orders',
        schedule: '@every 2s',
        last_run: expect.objectContaining({ status: 'succeeded' }),
      }),
    ]);
    const metrics = await getText(port, '/metrics');
    expect(
      sample(metrics, 'etl_sync_runs_total{table="products",sync="products",status="succeeded"}'),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sample(metrics, 'etl_sync_runs_total{table="orders",sync="orders",status="succeeded"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(metrics, 'etl_sync_rows_total{table="orders",sync="orders",kind="inserted"}')).toBe(1);

    const result = await daemon.stop('SIGTERM');
    expect(result.code).toBe(0);
    expect(daemon.events('daemon_started')).toEqual([expect.objectContaining({ syncs: ['products', 'orders'] })]);
    const next = Object.fromEntries(daemon.events('next_runs').map((e) => [e.sync, spacing(e.next_runs)]));
    expect(next).toEqual({ products: [1000, 1000, 1000, 1000], orders: [2000, 2000, 2000, 2000] });
    for (const e of daemon.events('run_succeeded'))
      expect(e.msg).toMatch(new RegExp(`^\\[${String(e.sync)}\\] synced ${String(e.sync)} from `));
    const loads = await history();
    expect(new Set(loads.map((l) => l.table_name))).toEqual(new Set(['products', 'orders']));
    expect(loads.filter((l) => l.status !== 'succeeded')).toEqual([]);
    expect((await db.query('SELECT code, n FROM orders')).rows).toEqual([{ code: 'o1', n: 10 }]);
    expect(await stagingPartitions()).toEqual([]);
  });

  it('keeps syncing the others while one sync is stuck, and on SIGTERM aborts it and leaves nothing behind', async () => {
    configure(
      [entry('products', 'products.csv', { cron: '@every 1s' }), entry('orders', 'orders.csv', { cron: '@every 1s' })],
      {
        'products.csv': 'code,n\np1,1\n',
        'orders.csv': 'code,n\no1,10\n',
      },
    );
    expect((await runCli(['sync', 'products'], { DATABASE_URL: db.url }, dir)).code).toBe(0);
    writeFileSync(join(dir, 'products.csv'), 'code,n\np1,2\n');
    const release = await block('products');
    try {
      const daemon = startDaemon(
        ['products', 'orders', '--shutdown-timeout', '1s', '--workers', '1', '--log-format', 'json'],
        { DATABASE_URL: db.url },
        dir,
      );
      await waitFor(() => mergeIsBlocked('products'), 30_000, 'the products merge to wait for its table');
      const before = await succeeded('orders');
      await waitFor(
        async () => (await succeeded('orders')) >= before + 2,
        30_000,
        'two more orders loads while products is stuck',
      );
      await daemon.waitForEvent('tick_skipped', (e) => e.sync === 'products' && e.reason === 'overlap');
      // Each sync has its own scheduler, so an orders "overlap" skip can only be orders' own previous
      // run outlasting @every 1s on a loaded machine; products being stuck must never stop orders.
      expect(daemon.events('tick_skipped').filter((e) => e.sync === 'orders' && e.reason !== 'overlap')).toEqual([]);

      const result = await daemon.stop('SIGTERM');
      expect(result.code).toBe(0);
      expect(daemon.events('run_aborted').filter((e) => e.sync === 'products')).toEqual([
        expect.objectContaining({ table: 'products' }),
      ]);
      await release();
      expect((await db.query('SELECT code, n FROM products')).rows).toEqual([{ code: 'p1', n: 1 }]);
      expect((await history()).filter((l) => l.status === 'running')).toEqual([]);
      expect(await stagingPartitions()).toEqual([]);
    } finally {
      await release();
    }
  });

  it('keeps scheduling the other syncs when one fails, and notifies and logs the failure with its name', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    configure(
      [entry('products', 'products.csv', { cron: '@every 1s' }), entry('orders', 'bad.csv', { cron: '@every 1s' })],
      {
        'products.csv': 'code,n\np1,1\n',
        'bad.csv': 'code,n\no1,notanumber\n',
      },
    );
    const daemon = startDaemon(
      [
        '--all',
        '--notify-url',
        receiver.url,
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { DATABASE_URL: db.url },
      dir,
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    await waitFor(
      async () => (await succeeded('products')) >= 3 && receiver.events.length >= 2,
      30_000,
      'three products loads and two failure notifications',
    );

    const failed = daemon.events('run_failed');
    expect(failed.every((e) => e.sync === 'orders' && e.table === 'orders')).toBe(true);
    expect(failed[0].msg).toMatch(/^\[orders\] sync of orders failed after 1 attempt\(s\): .*notanumber/);
    expect(receiver.events[0]).toMatchObject({
      event: 'run_failed',
      table: 'orders',
      sync: 'orders',
      load_id: failed[0].load_id,
      error: expect.stringContaining('notanumber'),
    });
    const health = await getJson(port, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.syncs).toEqual([
      expect.objectContaining({
        name: 'products',
        last_run: expect.objectContaining({ status: 'succeeded' }),
        breaker: expect.objectContaining({ consecutive_failures: 0 }),
      }),
      expect.objectContaining({
        name: 'orders',
        last_run: expect.objectContaining({ status: 'failed' }),
        last_success_at: null,
      }),
    ]);

    expect((await daemon.stop()).code).toBe(0);
    const loads = await history();
    expect(loads.filter((l) => l.table_name === 'orders').every((l) => l.status === 'failed')).toBe(true);
    expect(await stagingPartitions()).toEqual([]);
  });

  it('serializes two syncs of the same table with its lock: the loser logs and skips its run', async () => {
    const shared = (name: string, source: string) => ({
      ...entry(name, source, { cron: '@every 1s' }),
      target: { table: 'prices' },
    });
    configure([shared('prices-eu', 'eu.csv'), shared('prices-us', 'us.csv')], {
      'eu.csv': 'code,n\na,1\n',
      'us.csv': 'code,n\na,2\n',
    });
    expect((await runCli(['sync', 'prices-eu'], { DATABASE_URL: db.url }, dir)).code).toBe(0);
    const release = await block('prices');
    try {
      const daemon = startDaemon(['--all', '--workers', '1', '--log-format', 'json'], { DATABASE_URL: db.url }, dir);
      await waitFor(() => mergeIsBlocked('prices'), 30_000, 'one sync of prices to wait in its merge');
      const skipped = await daemon.waitForEvent('run_skipped');
      expect(skipped).toMatchObject({ reason: 'locked', table: 'prices' });
      expect(skipped.msg).toMatch(/^\[prices-(eu|us)\] skipped this run: another etl run is syncing prices/);
      await release();
      const before = await succeeded('prices');
      await waitFor(async () => (await succeeded('prices')) >= before + 3, 30_000, 'three more loads of prices');
      expect((await daemon.stop()).code).toBe(0);
      // Both syncs ran; whichever ticks first each second wins the lock, the other skips that tick.
      expect(new Set(daemon.events('run_started').map((e) => e.sync))).toEqual(new Set(['prices-eu', 'prices-us']));
      const runs = (await history())
        .filter((l) => l.finished_at !== null)
        .map((l) => [l.started_at.getTime(), l.finished_at!.getTime()] as const);
      for (let i = 1; i < runs.length; i += 1) expect(runs[i][0]).toBeGreaterThanOrEqual(runs[i - 1][1]);
      expect(daemon.events('run_failed')).toEqual([]);
    } finally {
      await release();
    }
  });

  it('starts the embedded PostgreSQL once for all its syncs', async () => {
    const embedded = mkdtempSync(join(tmpdir(), 'etl-daemon-config-embedded-'));
    chmodSync(embedded, 0o755); // the server runs as the postgres user when the tests run as root
    try {
      configure([entry('products', 'products.csv', { cron: '@every 1s' }), entry('orders', 'orders.csv')], {
        'products.csv': 'code,n\np1,1\n',
        'orders.csv': 'code,n\no1,1\n',
      });
      const daemon = startDaemon(
        ['--all', '--cron', '@every 1s', '--embedded-dir', embedded, '--workers', '1', '--log-format', 'json'],
        {},
        dir,
      );
      const ran = (name: string) => daemon.events('run_succeeded').filter((e) => e.sync === name).length;
      await waitFor(
        async () => ran('products') >= 2 && ran('orders') >= 2,
        90_000,
        'two runs of each sync on the embedded server',
      );
      expect((await daemon.stop()).code).toBe(0);
      expect(daemon.events().filter((e) => e.msg.startsWith('starting the embedded PostgreSQL'))).toHaveLength(1);
    } finally {
      rmSync(embedded, { recursive: true, force: true });
    }
  });

  it('schedules only the named sync, on --cron when its entry has none, with the single-sync /healthz fields', async () => {
    configure([entry('products', 'products.csv', { cron: '@every 1s' }), entry('orders', 'orders.csv')], {
      'products.csv': 'code,n\np1,1\n',
      'orders.csv': 'code,n\no1,1\n',
    });
    const daemon = startDaemon(
      [
        'orders',
        '--cron',
        '@every 1s',
        '--no-run-on-start',
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { DATABASE_URL: db.url },
      dir,
    );
    const port = Number((await daemon.waitForEvent('health_listening')).port);
    const ran = await daemon.waitForEvent('run_succeeded');
    const health = await getJson(port, '/healthz');
    expect(health).toMatchObject({
      status: 200,
      body: {
        status: 'ok',
        table: 'orders',
        schedule: '@every 1s',
        last_run: { trigger: 'schedule', load_id: ran.load_id },
      },
    });
    expect(health.body.syncs).toEqual([
      expect.objectContaining({
        name: 'orders',
        table: 'orders',
        last_run: expect.objectContaining({ load_id: ran.load_id }),
      }),
    ]);
    expect((await daemon.stop()).code).toBe(0);
    expect(daemon.events('run_started').every((e) => e.trigger === 'schedule' && e.sync === 'orders')).toBe(true);
    expect(new Set((await history()).map((l) => l.table_name))).toEqual(new Set(['orders']));
  });

  it('exits 2 for an unknown sync name, an invalid cron of an entry, or names with --all', async () => {
    const path = configure([entry('products', 'products.csv'), entry('orders', 'orders.csv', { cron: 'every day' })]);
    const env = { DATABASE_URL: db.url };
    const unknown = await runCli(['daemon', 'products', 'nope'], env, dir);
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      expect.stringContaining('etl.config.json has no sync named "nope" (it has: products, orders)'),
    ]);
    const badCron = await runCli(['daemon', '--all', '--config', path], env, dir);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toContain(`${path}: syncs[1].cron="every day" is not a valid schedule: it has 2 field(s)`);
    const both = await runCli(['daemon', 'products', '--all'], env, dir);
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('give sync names or --all, not both')]);
    const noFile = await runCli(['daemon', '--all'], env, tempDir('no-config'));
    expect([noFile.code, noFile.stderr]).toEqual([
      2,
      expect.stringContaining('no config file: create etl.config.json'),
    ]);
    expect(await history()).toEqual([]);
  });
});
