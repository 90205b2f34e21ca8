/**
 * The merge transaction on its own, against real PostgreSQL: every strategy this server offers
 * (one MERGE on 17+, deletes plus a MERGE of upserts on 15/16) must leave the same table and the
 * same counts; and at 100k rows each statement's plan must join by hashing, never by a nested loop
 * over the whole table.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import {
  bytewiseKeyColumns,
  createPartition,
  deleteAbsent,
  deleteMarked,
  insertAll,
  MERGE_ALL_SINCE,
  mergeAll,
  mergeUpserts,
  partitionTable,
  serverVersionNum,
} from '../../src/merge/sql.js';
import type { Statement } from '../../src/db/statement.js';
import { DeleteLimitError, mergeLoad, type MergeOptions } from '../../src/merge/transaction.js';
import { ensureTarget } from '../../src/store/ensure-target.js';
import { zeroCounts } from '../../src/store/history.js';
import { migrate } from '../../src/store/migrate.js';
import { sync } from '../../src/index.js';
import { configForDefinition } from '../../src/sync/named.js';
import { followersTarget } from '../../src/table/followers.js';
import type { TargetSpec } from '../../src/table/spec.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFile } from '../helpers/sync.js';

/** The server's version decides which strategies exist, so it is read before the tests are collected. */
async function serverVersion(): Promise<number> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return Number((await c.query<{ version: number }>(serverVersionNum().text)).rows[0].version);
  } finally {
    await c.end();
  }
}
const version = await serverVersion();

let db: TestDatabase;
let client: pg.Client;
beforeEach(async () => {
  db = await createTestDatabase();
  client = await db.client();
  await migrate(client);
});
afterEach(async () => {
  await client.end();
  await db.drop();
});

/** The strategies this server can run: the 15/16 one always, the single MERGE from 17 on. */
function strategies(): { name: string; mergeAll: boolean }[] {
  const out = [{ name: 'deletes + MERGE of upserts', mergeAll: false }];
  if (version >= MERGE_ALL_SINCE) out.push({ name: 'one MERGE with NOT MATCHED BY SOURCE', mergeAll: true });
  return out;
}

/** Stages rows ([email, full_name] or with a delete flag) into a fresh partition, in line order. */
async function stage(spec: TargetSpec, rows: (string | boolean)[][]): Promise<string> {
  const loadId = randomUUID();
  await client.query(createPartition(spec, loadId).text);
  const flagged = spec.deleteWhen !== undefined;
  for (const [i, row] of rows.entries()) {
    const cols = spec.columns.map((_, c) => `c${c + 1}`);
    const values: unknown[] = row.slice(0, spec.columns.length);
    cols.push('line');
    values.push(i + 2);
    if (flagged) {
      cols.push('etl_delete');
      values.push(row[spec.columns.length] === true);
    }
    await client.query(
      `INSERT INTO ${partitionTable(spec, loadId)} (${cols.join(', ')}) VALUES (${values.map((_, n) => `$${n + 1}`).join(', ')})`,
      values,
    );
  }
  return loadId;
}

function options(staged: number, mergeAllFlag: boolean, extra: Partial<MergeOptions> = {}): MergeOptions {
  return {
    workMem: '64MB',
    allowEmpty: false,
    dryRun: false,
    counts: { ...zeroCounts(), read: staged, staged },
    source: 'test.csv',
    mergeAll: mergeAllFlag,
    ...extra,
  };
}

async function table(name = 'public.followers'): Promise<Record<string, unknown>[]> {
  return (await client.query(`SELECT * FROM ${name} ORDER BY 1`)).rows.map((r: Record<string, unknown>) => {
    const { modified_at: _, ...rest } = r;
    return rest;
  });
}

async function seed(rows: string[][]): Promise<void> {
  for (const [email, name] of rows)
    await client.query(`INSERT INTO public.followers (email, full_name, modified_at) VALUES ($1, $2, now())`, [
      email,
      name,
    ]);
}

const day1 = [
  ['a@x.io', 'Ann'],
  ['b@x.io', 'Bob'],
  ['c@x.io', 'Cy'],
  ['d@x.io', 'Dee'],
];

describe.each(strategies())('the merge by $name', ({ mergeAll: all }) => {
  it('inserts new keys, rewrites changed rows, deletes absent keys, and counts each', async () => {
    await ensureTarget(client, followersTarget);
    await seed(day1);
    const loadId = await stage(followersTarget, [
      ['a@x.io', 'Ann'],
      ['b@x.io', 'Robert'],
      ['e@x.io', 'Eve'],
    ]);
    const { counts } = await mergeLoad(client, followersTarget, loadId, options(3, all));
    expect(await table()).toEqual([
      { email: 'a@x.io', full_name: 'Ann' },
      { email: 'b@x.io', full_name: 'Robert' },
      { email: 'e@x.io', full_name: 'Eve' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, deleted: 2, duplicates: 0 });
  });

  it('keeps the last occurrence of a repeated key (new or existing) and counts the others', async () => {
    await ensureTarget(client, followersTarget);
    await seed(day1);
    const loadId = await stage(followersTarget, [
      ['a@x.io', 'Ann 1'],
      ['e@x.io', 'Eve 1'],
      ['a@x.io', 'Ann 2'],
      ['e@x.io', 'Eve 2'],
      ['b@x.io', 'Bob'],
      ['b@x.io', 'Bob'],
    ]);
    const { counts } = await mergeLoad(client, followersTarget, loadId, options(6, all));
    expect(await table()).toEqual([
      { email: 'a@x.io', full_name: 'Ann 2' },
      { email: 'b@x.io', full_name: 'Bob' },
      { email: 'e@x.io', full_name: 'Eve 2' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, deleted: 2, duplicates: 3 });
  });

  it('fills an empty table with a plain insert, still keeping the last of repeated keys', async () => {
    await ensureTarget(client, followersTarget);
    const loadId = await stage(followersTarget, [
      ['a@x.io', 'Ann 1'],
      ['b@x.io', 'Bob'],
      ['a@x.io', 'Ann 2'],
    ]);
    const { counts, steps } = await mergeLoad(client, followersTarget, loadId, options(3, all));
    expect(await table()).toEqual([
      { email: 'a@x.io', full_name: 'Ann 2' },
      { email: 'b@x.io', full_name: 'Bob' },
    ]);
    expect(counts).toMatchObject({ inserted: 2, updated: 0, unchanged: 0, deleted: 0, duplicates: 1 });
    expect(Object.keys(steps)).toContain('insert');
    expect(Object.keys(steps)).not.toContain('merge');
  });

  it('never deletes absent keys in upsert mode', async () => {
    const spec: TargetSpec = { ...followersTarget, mode: 'upsert' };
    await ensureTarget(client, spec);
    await seed(day1);
    const loadId = await stage(spec, [
      ['b@x.io', 'Robert'],
      ['e@x.io', 'Eve'],
      ['e@x.io', 'Eve 2'],
    ]);
    const { counts } = await mergeLoad(client, spec, loadId, options(3, all));
    expect(await table()).toEqual([
      { email: 'a@x.io', full_name: 'Ann' },
      { email: 'b@x.io', full_name: 'Robert' },
      { email: 'c@x.io', full_name: 'Cy' },
      { email: 'd@x.io', full_name: 'Dee' },
      { email: 'e@x.io', full_name: 'Eve 2' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 0, deleted: 0, duplicates: 1 });
  });

  it('deletes keys whose last row is a delete marker', async () => {
    const spec: TargetSpec = { ...followersTarget, deleteWhen: { field: 'op', op: '=', value: 'D' } };
    await ensureTarget(client, spec);
    await seed(day1);
    const loadId = await stage(spec, [
      ['a@x.io', 'Ann', true],
      ['b@x.io', 'Bob', false],
      ['c@x.io', 'Cy', false],
      ['c@x.io', 'Cy', true],
      ['e@x.io', 'Eve', false],
    ]);
    const { counts } = await mergeLoad(client, spec, loadId, options(5, all));
    expect(await table()).toEqual([
      { email: 'b@x.io', full_name: 'Bob' },
      { email: 'e@x.io', full_name: 'Eve' },
    ]);
    // a and c by marker, d as absent from the mirror's file
    expect(counts).toMatchObject({ inserted: 1, updated: 0, unchanged: 1, deleted: 3, duplicates: 1 });
  });

  it('refuses a merge that deletes more than --max-delete allows, leaving the table as it was', async () => {
    await ensureTarget(client, followersTarget);
    await seed(day1);
    const before = await table();
    const loadId = await stage(followersTarget, [['a@x.io', 'Ann changed']]);
    const error = await mergeLoad(client, followersTarget, loadId, options(1, all, { maxDeletePercent: 50 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeleteLimitError);
    expect((error as Error).message).toMatch(/would delete 3 of 4 rows .*75\.0%.*--max-delete 50%/);
    expect(await table()).toEqual(before);
  });

  it('merges into a table without a unique key, removing repeated keys first', async () => {
    const spec: TargetSpec = { ...followersTarget, table: 'people', stagingTable: 'staging_people' };
    await client.query(
      `CREATE TABLE public.people (email varchar(255), full_name varchar(255), modified_at timestamptz)`,
    );
    await ensureTarget(client, spec);
    await client.query(`INSERT INTO public.people VALUES ('a@x.io', 'Ann', now()), ('b@x.io', 'Bob', now())`);
    const loadId = await stage(spec, [
      ['a@x.io', 'Ann'],
      ['c@x.io', 'Cy 1'],
      ['c@x.io', 'Cy 2'],
    ]);
    const { counts } = await mergeLoad(client, spec, loadId, options(3, all));
    expect(await table('public.people')).toEqual([
      { email: 'a@x.io', full_name: 'Ann' },
      { email: 'c@x.io', full_name: 'Cy 2' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 0, unchanged: 1, deleted: 1, duplicates: 1 });
  });
});

describe('staging columns', () => {
  it('syncs a table whose columns are named line, load_id, etl_delete and c1 (the names staging uses)', async () => {
    const columns = ['line', 'load_id', 'etl_delete', 'c1'].map((name) => ({ name, type: 'text' }));
    const config = (file: string) => ({
      syncs: [
        {
          name: 'clash',
          source: file,
          target: { table: 'clash' },
          key: 'line',
          columns: [...columns, { name: 'op', type: 'text' }],
          delete_when: "op = 'D'",
        },
      ],
    });
    const run = async (csv: string) => {
      const [def] = parseConfigText('etl.config.json', JSON.stringify(config(tempFile(csv))));
      return sync(configForDefinition(def, { lockTimeout: '5s' }, { DATABASE_URL: db.url }));
    };
    await run('line,load_id,etl_delete,c1,op\n1,L1,no,x,\n2,L2,no,y,\n3,L3,no,z,\n');
    const second = await run('line,load_id,etl_delete,c1,op\n1,L1,yes,x,\n2,L2,no,y,D\n4,L4,no,w,\n4,L4b,no,w,\n');
    expect((await client.query('SELECT * FROM public.clash ORDER BY line')).rows).toEqual([
      { line: '1', load_id: 'L1', etl_delete: 'yes', c1: 'x', op: '' },
      { line: '4', load_id: 'L4b', etl_delete: 'no', c1: 'w', op: '' },
    ]);
    expect(second.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 2, duplicates: 1 });
  });

  it('replaces the staging table migration 1 made with user column names', async () => {
    const before = await client.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'public.staging_followers'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    expect(before.rows.map((r) => r.attname)).toEqual(['email', 'full_name', 'line', 'load_id']);
    await ensureTarget(client, followersTarget);
    const after = await client.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'public.staging_followers'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    expect(after.rows.map((r) => r.attname)).toEqual(['c1', 'c2', 'line', 'load_id']);
  });
});

describe('the key order of an insert into an empty table', () => {
  it('sorts under "C" exactly the key columns whose collation orders like bytes', async () => {
    const icu = (await client.query(`SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'`)).rowCount === 1;
    await client.query(
      `CREATE TABLE public.keyed (k_c text COLLATE "C", k_posix varchar(20) COLLATE "POSIX", k_int integer,
                                  ${icu ? 'k_icu text COLLATE "und-x-icu",' : ''} other text COLLATE "C")`,
    );
    const columns = ['k_c', 'k_posix', 'k_int', ...(icu ? ['k_icu'] : [])].map((name) => ({
      name,
      sqlType: 'text',
      source: name,
      rule: { kind: 'typed' as const, type: 'text', nullable: false },
    }));
    const spec: TargetSpec = { ...followersTarget, table: 'keyed', key: columns.map((c) => c.name), columns };
    const statement = bytewiseKeyColumns(spec);
    const found = (await client.query<{ name: string }>(statement.text, statement.values)).rows.map((r) => r.name);
    // "other" is C too, but not a key; integers have no collation; ICU's root locale is not byte order.
    expect(found.sort()).toEqual(['k_c', 'k_posix']);
  });
});

describe('merge plans at 100k rows', () => {
  /** The plan's node types, from EXPLAIN (FORMAT JSON), depth first. */
  async function nodes(statement: Statement): Promise<string[]> {
    const r = await client.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (FORMAT JSON) ${statement.text}`,
      statement.values,
    );
    const out: string[] = [];
    const walk = (n: { 'Node Type': string; 'Join Type'?: string; Plans?: unknown[] }) => {
      out.push(n['Join Type'] ? `${n['Node Type']} (${n['Join Type']})` : n['Node Type']);
      for (const child of n.Plans ?? []) walk(child as typeof n);
    };
    walk((r.rows[0]['QUERY PLAN'] as { Plan: Parameters<typeof walk>[0] }[])[0].Plan);
    return out;
  }

  it('joins staging and target by hashing, never by a nested loop', async () => {
    const spec: TargetSpec = { ...followersTarget, deleteWhen: { field: 'op', op: '=', value: 'D' } };
    await ensureTarget(client, spec);
    await client.query(
      `INSERT INTO public.followers SELECT 'u' || g || '@x.io', 'Name ' || g, now() FROM generate_series(1, 100000) g`,
    );
    const loadId = randomUUID();
    await client.query(createPartition(spec, loadId).text);
    // 90% of the keys again (a tenth of them renamed), 10% new
    await client.query(
      `INSERT INTO ${partitionTable(spec, loadId)} (c1, c2, line, etl_delete)
       SELECT 'u' || g || '@x.io', CASE WHEN g % 10 = 0 THEN 'New ' ELSE 'Name ' END || g, g + 1, g % 97 = 0
         FROM generate_series(10001, 110000) g`,
    );
    await client.query(`ANALYZE public.followers`);
    await client.query(`ANALYZE ${partitionTable(spec, loadId)}`);
    await client.query(`SET work_mem = '64MB'`);

    const joins = [deleteAbsent(spec, loadId), deleteMarked(spec, loadId)!, mergeUpserts(spec, loadId)];
    if (version >= MERGE_ALL_SINCE) joins.push(mergeAll(spec, loadId));
    for (const statement of joins) {
      const plan = await nodes(statement);
      expect(plan.join(' > ')).toMatch(/Hash (Right |Left |Full |Anti|Semi|Inner)?.*Join|Hash Join/);
      expect(plan.filter((n) => n.startsWith('Hash Join'))).not.toHaveLength(0);
      expect(plan.some((n) => n.startsWith('Nested Loop'))).toBe(false);
    }
    // into an empty target: no join at all, a scan of the staging partition
    const insert = await nodes(insertAll(spec, loadId));
    expect(insert.some((n) => n.includes('Join') || n.startsWith('Nested Loop'))).toBe(false);
    expect(insert).toContain('Seq Scan');
  });
});
