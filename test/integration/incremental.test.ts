/**
 * Incremental syncs from a postgres source: a second database created by each test is the source,
 * the test database the target. Every run goes through the config file's parser and the library API.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError, LockBusyError, status, sync, SyncFailedError, type SyncConfig } from '../../src/index.js';
import { LOCK_NAMESPACE } from '../../src/store/advisory.js';
import { withFaults } from '../../src/load/faults.js';
import { configForDefinition } from '../../src/sync/named.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let target: TestDatabase;
let source: TestDatabase;
beforeEach(async () => {
  [target, source] = await Promise.all([createTestDatabase(), createTestDatabase('etl_source')]);
});
afterEach(async () => {
  await Promise.all([target.drop(), source.drop()]);
});

const raw = (value: string) => value;
/** Rows as PostgreSQL prints them (in UTC), so values are compared exactly, never through a Date or double. */
async function text(db: TestDatabase, sql: string, values: unknown[] = []): Promise<Record<string, string | null>[]> {
  const c = new pg.Client({
    connectionString: db.url,
    types: { getTypeParser: () => raw } as unknown as pg.CustomTypesConfig,
  });
  await c.connect();
  try {
    await c.query(`SET TimeZone = 'UTC'`);
    return (await c.query(sql, values)).rows as Record<string, string | null>[];
  } finally {
    await c.end();
  }
}

const USERS = `CREATE TABLE users (
  id         bigint PRIMARY KEY,
  email      text NOT NULL,
  balance    numeric(30,10),
  big        bigint,
  seen       timestamptz,
  deleted    boolean NOT NULL DEFAULT false,
  updated_at timestamptz
)`;

const userColumns = [
  { name: 'id', type: 'bigint' },
  { name: 'email', type: 'text' },
  { name: 'balance', type: 'numeric(30,10)' },
  { name: 'big', type: 'bigint' },
  { name: 'seen', type: 'timestamptz' },
];

function usersEntry(source: Record<string, unknown> = {}, entry: Record<string, unknown> = {}) {
  return {
    name: 'users',
    source: { postgres: 'SOURCE_URL', table: 'users', cursor: ['updated_at', 'id'], consistency_delay: '0', ...source },
    target: { table: 'users_copy' },
    key: ['id'],
    columns: userColumns,
    modified_column: 'modified_at',
    ...entry,
  };
}

function configOf(entry: object, flags: Record<string, string | boolean> = {}): SyncConfig {
  const [def] = parseConfigText('etl.config.json', JSON.stringify({ syncs: [entry] }));
  return configForDefinition(
    def,
    { lockTimeout: '5s', workers: '2', ...flags },
    {
      DATABASE_URL: target.url,
      SOURCE_URL: source.url,
    },
  );
}

const TARGET_ROWS = `SELECT id, email, balance, big, seen FROM users_copy ORDER BY id`;
const SOURCE_ROWS = `SELECT id, email, balance, big, seen FROM users WHERE updated_at IS NOT NULL ORDER BY id`;

async function savedCursor(sync = 'users') {
  const r = await target.query<{ positions: Record<string, string[]> }>(
    'SELECT positions FROM etl_info_schema.cursors WHERE sync_name = $1',
    [sync],
  );
  return r.rows[0]?.positions;
}

describe('incremental sync from a postgres source', () => {
  it('loads everything first, then only the changed rows, carrying values exactly', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, balance, big, seen, updated_at) VALUES
      (1, 'ann@example.com', 12345678901234567890.0123456789, 9223372036854775807, '2024-02-29 23:59:59.999999+00', now() - interval '3 hours'),
      (2, 'bob@example.com', -0.0000000001, -9223372036854775808, '1999-12-31 00:00:00.000001+05:30', now() - interval '2 hours'),
      (3, 'cat@example.com', NULL, NULL, NULL, now() - interval '1 hour')`);

    const first = await sync(configOf(usersEntry()));
    expect(first.counts).toMatchObject({ read: 3, inserted: 3, updated: 0 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
    expect((await text(target, 'SELECT balance, big, seen FROM users_copy WHERE id = 1'))[0]).toEqual({
      balance: '12345678901234567890.0123456789',
      big: '9223372036854775807',
      seen: '2024-02-29 23:59:59.999999+00',
    });
    const before = await text(target, 'SELECT id, modified_at FROM users_copy ORDER BY id');

    await source.query(
      `UPDATE users SET email = 'robert@example.com', updated_at = now() - interval '1 minute' WHERE id = 2`,
    );
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (4, 'dan@example.com', now() - interval '1 minute')`,
    );
    const second = await sync(configOf(usersEntry()));
    expect(second.counts).toMatchObject({ read: 2, inserted: 1, updated: 1, unchanged: 0, deleted: 0 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
    const after = await text(target, 'SELECT id, modified_at FROM users_copy ORDER BY id');
    expect(after[0]).toEqual(before[0]);
    expect(after[2]).toEqual(before[2]);
    expect(after[1].modified_at).not.toEqual(before[1].modified_at);
    const cursor = (await text(source, `SELECT updated_at::text AS t FROM users WHERE id = 4`))[0].t;
    expect(await savedCursor()).toEqual({ users_copy: [cursor, '4'] });
    expect(second.cursor).toBe(`users_copy: updated_at=${cursor}, id=4`);

    const empty = await sync(configOf(usersEntry()));
    expect(empty.counts).toMatchObject({ read: 0, staged: 0, inserted: 0, updated: 0, deleted: 0 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));

    const shown = await status({ kind: 'url', url: target.url });
    expect(shown.cursors?.map((c) => [c.sync, c.columns, c.positions])).toEqual([
      ['users', ['updated_at', 'id'], { users_copy: [cursor, '4'] }],
    ]);
  });

  it('reads rows sharing a timestamp across a page boundary once each', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, updated_at)
      SELECT i, 'u' || i || '@example.com', timestamptz '2025-01-01 00:00:00.5+00' FROM generate_series(1, 5) i`);
    const first = await sync(configOf(usersEntry({ page_size: 2 })));
    expect(first.counts).toMatchObject({ read: 5, inserted: 5 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
    expect(await savedCursor()).toEqual({ users_copy: ['2025-01-01 00:00:00.5+00', '5'] });

    // A row with the boundary timestamp and a later id is read; the boundary row itself is not again.
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (6, 'u6@example.com', '2025-01-01 00:00:00.5+00')`,
    );
    const second = await sync(configOf(usersEntry({ page_size: 2 })));
    expect(second.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('leaves rows inside the consistency delay for the next run, so a late commit is not lost', async () => {
    await source.query(USERS);
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (1, 'old@example.com', now() - interval '2 hours')`,
    );
    // A slow writer stamps its row 30 minutes ago but commits only after the first run; a row
    // stamped 20 minutes ago commits at once. Both are inside a 1h delay.
    const writer = await source.client();
    await writer.query('BEGIN');
    await writer.query(
      `INSERT INTO users (id, email, updated_at) VALUES (2, 'late@example.com', now() - interval '30 minutes')`,
    );
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (3, 'quick@example.com', now() - interval '20 minutes')`,
    );

    const first = await sync(configOf(usersEntry({ consistency_delay: '1h' })));
    expect(first.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(await savedCursor()).toEqual({ users_copy: [expect.any(String), '1'] });
    await writer.query('COMMIT');
    await writer.end();

    // Later (as if time had passed: a shorter delay), the late row is read, though it committed after the first run.
    const second = await sync(configOf(usersEntry({ consistency_delay: '10m' })));
    expect(second.counts).toMatchObject({ read: 2, inserted: 2 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('bounds a timestamp cursor without time zone in the source’s own time zone', async () => {
    // The application writes local wall-clock time (New York, behind UTC) into a timestamp column.
    await source.query(`ALTER DATABASE ${source.name} SET TimeZone = 'America/New_York'`);
    await source.query(
      `CREATE TABLE events (id bigint PRIMARY KEY, email text NOT NULL, updated_at timestamp NOT NULL)`,
    );
    await source.query(`INSERT INTO events VALUES (1, 'old@example.com', localtimestamp - interval '2 hours')`);
    const writer = await source.client();
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO events VALUES (2, 'late@example.com', localtimestamp - interval '30 minutes')`);
    await source.query(`INSERT INTO events VALUES (3, 'quick@example.com', localtimestamp - interval '20 minutes')`);
    const entry = (delay: string) =>
      usersEntry({ table: 'events', consistency_delay: delay }, { columns: userColumns.slice(0, 2) });

    const first = await sync(configOf(entry('1h')));
    expect(first.counts).toMatchObject({ read: 1, inserted: 1 });
    await writer.query('COMMIT');
    await writer.end();
    const second = await sync(configOf(entry('10m')));
    expect(second.counts).toMatchObject({ read: 2, inserted: 2 });
    expect(await text(target, 'SELECT id, email FROM users_copy ORDER BY id')).toEqual(
      await text(source, 'SELECT id, email FROM events ORDER BY id'),
    );
  });

  it('warns about rows with a null cursor on incremental runs and loads them on a full extract', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, updated_at) VALUES
      (1, 'a@example.com', now() - interval '1 hour'), (2, 'b@example.com', NULL), (3, 'c@example.com', NULL)`);
    const incremental = await sync(configOf(usersEntry()));
    expect(incremental.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(incremental.warnings).toEqual([
      'users: 2 row(s) have a null updated_at or id and are not read by incremental runs; etl sync users --full loads them',
    ]);

    const full = await sync(configOf(usersEntry(), { full: true }));
    expect(full.counts).toMatchObject({ read: 3, inserted: 2, unchanged: 1 });
    expect(await text(target, 'SELECT id, email FROM users_copy ORDER BY id')).toEqual(
      await text(source, 'SELECT id, email FROM users ORDER BY id'),
    );
  });

  it('refuses mode mirror on an incremental run, and mirrors on a full extract', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, updated_at) VALUES
      (1, 'a@example.com', now() - interval '1 hour'), (2, 'b@example.com', now() - interval '1 hour')`);
    const mirror = usersEntry({}, { mode: 'mirror' });
    const refused = await sync(configOf(mirror)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      'sync users: users_copy has mode mirror, which deletes every row missing from the extract; an incremental run reads only ' +
        'the changed rows, so it would delete the others. Run etl sync users --full (a full extract may mirror), or use mode upsert',
    );
    expect((await target.query(`SELECT to_regclass('public.users_copy') AS t`)).rows[0].t).toBeNull();

    await sync(configOf(mirror, { full: true }));
    await source.query('DELETE FROM users WHERE id = 1');
    const full = await sync(configOf(mirror, { full: true }));
    expect(full.counts).toMatchObject({ read: 1, deleted: 1, unchanged: 1 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('reads the rows inside the consistency delay on a full extract, so a mirror keeps them', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, updated_at) VALUES
      (1, 'a@example.com', now() - interval '2 hours'), (2, 'b@example.com', now() - interval '2 hours')`);
    const mirror = usersEntry({ consistency_delay: '1h' }, { mode: 'mirror' });
    await sync(configOf(mirror, { full: true }));
    await source.query(`UPDATE users SET email = 'bob@example.com', updated_at = now() WHERE id = 2`);

    // Row 2 changed inside the delay: the full extract still reads it (a mirror would delete it
    // otherwise), but the cursor stays at the last row before the bound.
    const full = await sync(configOf(mirror, { full: true }));
    expect(full.counts).toMatchObject({ read: 2, updated: 1, unchanged: 1, deleted: 0 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
    const row1 = (await text(source, `SELECT updated_at::text AS t FROM users WHERE id = 1`))[0].t;
    expect(await savedCursor()).toEqual({ users_copy: [row1, '1'] });

    // The next incremental run reads row 2 again once the delay has passed (here: a shorter delay).
    const next = await sync(configOf(usersEntry({ consistency_delay: '0' })));
    expect(next.counts).toMatchObject({ read: 1, unchanged: 1 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('deletes the keys of soft-deleted rows through delete_when', async () => {
    await source.query(USERS);
    await source.query(`INSERT INTO users (id, email, updated_at) VALUES
      (1, 'a@example.com', now() - interval '1 hour'), (2, 'b@example.com', now() - interval '1 hour')`);
    const entry = usersEntry({}, { delete_when: 'deleted = true' });
    await sync(configOf(entry));
    await source.query(`UPDATE users SET deleted = true, updated_at = now() - interval '1 minute' WHERE id = 1`);
    const second = await sync(configOf(entry));
    expect(second.counts).toMatchObject({ read: 1, deleted: 1 });
    expect(await text(target, TARGET_ROWS)).toEqual(
      await text(source, `${SOURCE_ROWS.replace('WHERE', 'WHERE NOT deleted AND')}`),
    );
  });

  it('keeps the cursor when the merge fails, and the next run loads the same changes once', async () => {
    await source.query(USERS);
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (1, 'a@example.com', now() - interval '1 hour')`,
    );
    await sync(configOf(usersEntry()));
    const cursor = await savedCursor();
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (2, 'b@example.com', now() - interval '1 minute')`,
    );
    const config = withFaults(configOf(usersEntry()), {
      beforeStep: (step) => {
        if (step === 'commit') throw new Error('injected failure before COMMIT');
      },
    });
    const error = await sync(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(await savedCursor()).toEqual(cursor);
    expect(await text(target, 'SELECT id FROM users_copy')).toEqual([{ id: '1' }]);
    const again = await sync(configOf(usersEntry()));
    expect(again.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('changes nothing on a dry run, and refuses a changed cursor until a --full run', async () => {
    await source.query(USERS);
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (1, 'a@example.com', now() - interval '1 hour')`,
    );
    await sync(configOf(usersEntry()));
    const cursor = await savedCursor();
    await source.query(
      `INSERT INTO users (id, email, updated_at) VALUES (2, 'b@example.com', now() - interval '1 minute')`,
    );
    const dry = await sync(configOf(usersEntry(), { dryRun: true }));
    expect(dry).toMatchObject({ dryRun: true, counts: { read: 1, inserted: 1 } });
    expect(await text(target, 'SELECT id FROM users_copy')).toEqual([{ id: '1' }]);
    expect(await savedCursor()).toEqual(cursor);

    const changed = usersEntry({ cursor: ['updated_at', 'email'] });
    const refused = await sync(configOf(changed)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      'sync users: its cursor was saved for (updated_at, id) but the config now says (updated_at, email); ' +
        'run etl sync users --full once to re-extract everything with the new cursor',
    );
    await sync(configOf(changed, { full: true }));
    expect(await savedCursor()).toEqual({ users_copy: [expect.any(String), 'b@example.com'] });
    expect(await text(target, TARGET_ROWS)).toEqual(await text(source, SOURCE_ROWS));
  });

  it('never shows the source password, and names a cursor column the query lacks', async () => {
    const [def] = parseConfigText('etl.config.json', JSON.stringify({ syncs: [usersEntry()] }));
    const secret = 'pg-pass-4711';
    const unreachable = configForDefinition(
      def,
      { lockTimeout: '5s' },
      {
        DATABASE_URL: target.url,
        SOURCE_URL: `postgres://someone:${secret}@127.0.0.1:1/nowhere`,
      },
    );
    const error = (await sync(unreachable).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/cannot connect to the source database 127\.0\.0\.1:1\/nowhere/u);
    expect(JSON.stringify([error.message, String(error.cause)])).not.toContain(secret);

    await source.query(USERS);
    const missing = await sync(configOf(usersEntry({ cursor: ['changed_at', 'id'] }))).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toBe(
      'users returns no column "changed_at" of the cursor (changed_at, id); it returns id, email, balance, big, seen, deleted, updated_at. ' +
        'Select it (an alias works), or change "cursor"',
    );
  });
});

describe('several targets in one commit', () => {
  const SCHEMA = `
    CREATE TABLE identities (id bigint PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL);
    CREATE TABLE credentials (id bigint PRIMARY KEY, identity_id bigint NOT NULL, secret text NOT NULL, updated_at timestamptz NOT NULL)`;
  const entry = {
    name: 'accounts',
    source: { postgres: 'SOURCE_URL', cursor: ['updated_at', 'id'], consistency_delay: '0' },
    targets: [
      {
        table: 'identities',
        target: { table: 'identities' },
        key: ['id'],
        columns: [
          { name: 'id', type: 'bigint' },
          { name: 'name', type: 'text', nullable: false },
        ],
      },
      {
        query: 'SELECT id, identity_id, secret, updated_at FROM credentials',
        target: { table: 'credentials' },
        key: ['id'],
        columns: [
          { name: 'id', type: 'bigint' },
          { name: 'identity_id', type: 'bigint', nullable: false },
          { name: 'secret', type: 'text', nullable: false },
        ],
      },
    ],
  };
  const contents = async () => ({
    identities: await text(target, 'SELECT id, name FROM identities ORDER BY id'),
    credentials: await text(target, 'SELECT id, identity_id, secret FROM credentials ORDER BY id'),
  });

  beforeEach(async () => {
    await source.query(SCHEMA);
    // The target enforces the foreign key the source does not declare.
    await target.query(`
      CREATE TABLE identities (id bigint PRIMARY KEY, name text NOT NULL);
      CREATE TABLE credentials (id bigint PRIMARY KEY, identity_id bigint NOT NULL REFERENCES identities, secret text NOT NULL)`);
  });

  it('merges parents before children and saves one cursor with both positions', async () => {
    await source.query(`
      INSERT INTO identities VALUES (1, 'ann', now() - interval '2 hours'), (2, 'bob', now() - interval '2 hours');
      INSERT INTO credentials VALUES (10, 1, 's1', now() - interval '2 hours'), (11, 2, 's2', now() - interval '2 hours')`);
    const first = await sync(configOf(entry));
    expect(first.tables?.map((t) => [t.target, t.counts.inserted])).toEqual([
      ['identities', 2],
      ['credentials', 2],
    ]);
    await source.query(`
      INSERT INTO identities VALUES (3, 'cat', now() - interval '1 minute');
      INSERT INTO credentials VALUES (12, 3, 's3', now() - interval '1 minute')`);
    const second = await sync(configOf(entry));
    expect(second.tables?.map((t) => [t.target, t.counts.read, t.counts.inserted])).toEqual([
      ['identities', 1, 1],
      ['credentials', 1, 1],
    ]);
    expect(await contents()).toEqual({
      identities: [
        { id: '1', name: 'ann' },
        { id: '2', name: 'bob' },
        { id: '3', name: 'cat' },
      ],
      credentials: [
        { id: '10', identity_id: '1', secret: 's1' },
        { id: '11', identity_id: '2', secret: 's2' },
        { id: '12', identity_id: '3', secret: 's3' },
      ],
    });
    expect(Object.keys(await savedCursor('accounts'))).toEqual(['identities', 'credentials']);
  });

  it('deletes children before parents, so a parent and its children can go in one run', async () => {
    await source.query(`
      ALTER TABLE identities ADD deleted boolean NOT NULL DEFAULT false;
      ALTER TABLE credentials ADD deleted boolean NOT NULL DEFAULT false;
      INSERT INTO identities VALUES (1, 'ann', now() - interval '2 hours'), (2, 'bob', now() - interval '2 hours'),
        (3, 'cat', now() - interval '2 hours');
      INSERT INTO credentials VALUES (10, 1, 's1', now() - interval '2 hours'), (11, 2, 's2', now() - interval '2 hours'),
        (12, 3, 's3', now() - interval '2 hours')`);
    const [identities, credentials] = entry.targets;
    const withDeletes = {
      ...entry,
      targets: [
        { ...identities, delete_when: 'deleted = true' },
        {
          ...credentials,
          query: 'SELECT id, identity_id, secret, deleted, updated_at FROM credentials',
          delete_when: 'deleted = true',
        },
      ],
    };
    await sync(configOf(withDeletes));

    // Soft-deleted at the source: identity 1 and its credential, in one run.
    await source.query(`
      UPDATE identities SET deleted = true, updated_at = now() - interval '1 minute' WHERE id = 1;
      UPDATE credentials SET deleted = true, updated_at = now() - interval '1 minute' WHERE id = 10`);
    const soft = await sync(configOf(withDeletes));
    expect(soft.tables?.map((t) => [t.target, t.counts.deleted])).toEqual([
      ['identities', 1],
      ['credentials', 1],
    ]);

    // Removed at the source: a full extract into mirrors deletes identity 2 and its credential.
    await source.query(`DELETE FROM credentials WHERE id = 11; DELETE FROM identities WHERE id = 2`);
    const mirrors = { ...withDeletes, targets: withDeletes.targets.map((t) => ({ ...t, mode: 'mirror' })) };
    const full = await sync(configOf(mirrors, { full: true }));
    expect(full.tables?.map((t) => [t.target, t.counts.read, t.counts.deleted, t.counts.unchanged])).toEqual([
      ['identities', 2, 1, 1],
      ['credentials', 2, 1, 1],
    ]);
    expect(await contents()).toEqual({
      identities: [{ id: '3', name: 'cat' }],
      credentials: [{ id: '12', identity_id: '3', secret: 's3' }],
    });
  });

  it('reports a busy target as a lock conflict and leaves the other target untouched', async () => {
    await source.query(`INSERT INTO identities VALUES (1, 'ann', now() - interval '1 hour')`);
    // Another run holds the lock of identities (taken after credentials, in name order).
    const holder = await target.client();
    await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, 'identities']);
    try {
      const error = await sync(configOf(entry, { lockTimeout: '0' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBusyError);
      expect((error as Error).message).toMatch(/^another etl run is syncing identities/u);
    } finally {
      await holder.end();
    }
    expect(await contents()).toEqual({ identities: [], credentials: [] });
    expect(await savedCursor('accounts')).toBeUndefined();
    expect(await text(target, 'SELECT table_name, status FROM etl_info_schema.loads')).toEqual([
      { table_name: 'credentials', status: 'failed' },
    ]);
  });

  it('leaves both targets and the cursor unchanged when the second target fails', async () => {
    await source.query(`
      INSERT INTO identities VALUES (1, 'ann', now() - interval '2 hours');
      INSERT INTO credentials VALUES (10, 1, 's1', now() - interval '2 hours')`);
    await sync(configOf(entry));
    const before = await contents();
    const cursor = await savedCursor('accounts');
    // A new identity, and a credential pointing at an identity the source never had: the FK fails.
    await source.query(`
      INSERT INTO identities VALUES (2, 'bob', now() - interval '1 minute');
      UPDATE credentials SET identity_id = 999, updated_at = now() - interval '1 minute' WHERE id = 10`);
    const error = await sync(configOf(entry)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(/violates foreign key constraint/u);
    expect(await contents()).toEqual(before);
    expect(await savedCursor('accounts')).toEqual(cursor);
    const statuses = await text(
      target,
      `SELECT table_name, status FROM etl_info_schema.loads ORDER BY table_name, status`,
    );
    expect(statuses).toEqual([
      { table_name: 'credentials', status: 'failed' },
      { table_name: 'credentials', status: 'succeeded' },
      { table_name: 'identities', status: 'failed' },
      { table_name: 'identities', status: 'succeeded' },
    ]);

    // Fixed at the source, the next run loads both changes once.
    await source.query(
      `UPDATE credentials SET identity_id = 2, updated_at = now() - interval '30 seconds' WHERE id = 10`,
    );
    const fixed = await sync(configOf(entry));
    expect(fixed.tables?.map((t) => [t.target, t.counts.read])).toEqual([
      ['identities', 1],
      ['credentials', 1],
    ]);
    expect(await contents()).toEqual({
      identities: [
        { id: '1', name: 'ann' },
        { id: '2', name: 'bob' },
      ],
      credentials: [{ id: '10', identity_id: '2', secret: 's1' }],
    });
  });
});
