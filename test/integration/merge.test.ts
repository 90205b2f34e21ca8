/**
 * The merge transaction on its own, against real PostgreSQL: the table it leaves and the counts it
 * reports; and at 100k rows the plan of each statement: the difference is found by one hash join,
 * never a nested loop over the whole table.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { bytewiseKeyColumns, createPartition, insertAll, partitionTable } from '../../src/merge/sql.js';
import { analyzeDiff, createDiff, deleteDiff, insertDiff, updateDiff } from '../../src/merge/diff.js';
import type { Statement } from '../../src/db/statement.js';
import { DeleteLimitError, mergeLoad, type MergeOptions } from '../../src/merge/transaction.js';
import { ensureTarget } from '../../src/store/ensure-target.js';
import { zeroCounts } from '../../src/store/history.js';
import { migrate } from '../../src/store/migrate.js';
import { sync } from '../../src/index.js';
import { configForDefinition } from '../../src/sync/named.js';
import { followersTarget } from '../../src/table/followers.js';
import type { TargetSpec } from '../../src/table/spec.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFile } from '../helpers/sync.js';

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

function options(staged: number, extra: Partial<MergeOptions> = {}): MergeOptions {
  return {
    workMem: '64MB',
    allowEmpty: false,
    dryRun: false,
    counts: { ...zeroCounts(), read: staged, staged },
    source: 'test.csv',
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

describe('the merge', () => {
  it('inserts new keys, rewrites changed rows, deletes absent keys, and counts each', async () => {
    await ensureTarget(client, followersTarget);
    await seed(day1);
    const loadId = await stage(followersTarget, [
      ['a@x.io', 'Ann'],
      ['b@x.io', 'Robert'],
      ['e@x.io', 'Eve'],
    ]);
    const { counts } = await mergeLoad(client, followersTarget, loadId, options(3));
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
    const { counts } = await mergeLoad(client, followersTarget, loadId, options(6));
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
    const { counts, steps } = await mergeLoad(client, followersTarget, loadId, options(3));
    expect(await table()).toEqual([
      { email: 'a@x.io', full_name: 'Ann 2' },
      { email: 'b@x.io', full_name: 'Bob' },
    ]);
    expect(counts).toMatchObject({ inserted: 2, updated: 0, unchanged: 0, deleted: 0, duplicates: 1 });
    expect(Object.keys(steps)).toContain('insert');
    expect(Object.keys(steps)).not.toContain('diff');
  });

  it('writes nothing when the load equals the table: no row version, no statement that writes', async () => {
    await ensureTarget(client, followersTarget);
    await seed(day1);
    const versions = `SELECT ctid::text, xmin::text, email FROM public.followers ORDER BY email`;
    const before = (await client.query(versions)).rows;
    const loadId = await stage(followersTarget, [...day1].reverse());
    const { counts, steps } = await mergeLoad(client, followersTarget, loadId, options(4));
    expect(counts).toMatchObject({ inserted: 0, updated: 0, unchanged: 4, deleted: 0, duplicates: 0 });
    expect((await client.query(versions)).rows).toEqual(before);
    expect(Object.keys(steps)).toContain('diff');
    expect(Object.keys(steps).filter((s) => ['insert', 'update', 'delete'].includes(s))).toEqual([]);
  });

  it('deletes rows whose key is null from a mirror (no staged key can match them), and counts them', async () => {
    const spec: TargetSpec = { ...followersTarget, table: 'people', stagingTable: 'staging_people' };
    await client.query(
      `CREATE TABLE public.people (email varchar(255), full_name varchar(255), modified_at timestamptz)`,
    );
    await ensureTarget(client, spec);
    await client.query(
      `INSERT INTO public.people VALUES ('a@x.io', 'Ann', now()), (NULL, 'Nobody', now()), (NULL, 'Nobody 2', now())`,
    );
    const loadId = await stage(spec, [
      ['a@x.io', 'Ann'],
      ['b@x.io', 'Bob'],
    ]);
    const { counts } = await mergeLoad(client, spec, loadId, options(2));
    expect(await table('public.people')).toEqual([
      { email: 'a@x.io', full_name: 'Ann' },
      { email: 'b@x.io', full_name: 'Bob' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 0, unchanged: 1, deleted: 2, duplicates: 0 });
  });

  it('merges by a key of two typed columns, comparing typed values (1.50 equals 1.5)', async () => {
    const [def] = parseConfigText(
      'etl.config.json',
      JSON.stringify({
        syncs: [
          {
            name: 'prices',
            source: 'prices.csv',
            target: { table: 'prices' },
            key: ['shop', 'sku'],
            columns: [
              { name: 'shop', type: 'integer' },
              { name: 'sku', type: 'text' },
              { name: 'price', type: 'numeric(10,2)' },
            ],
          },
        ],
      }),
    );
    const spec = configForDefinition(def, {}, { DATABASE_URL: db.url }).target;
    await ensureTarget(client, spec);
    await client.query(`INSERT INTO public.prices VALUES (1, 'a', 1.50), (1, 'b', 2), (2, 'a', 3), (2, 'b', 4)`);
    const loadId = await stage(spec, [
      ['1', 'a', '1.5'],
      ['1', 'b', '2.25'],
      ['2', 'b', '4'],
      ['3', 'a', '5'],
    ]);
    const { counts } = await mergeLoad(client, spec, loadId, options(4));
    expect((await client.query(`SELECT shop, sku, price::text FROM public.prices ORDER BY 1, 2`)).rows).toEqual([
      { shop: 1, sku: 'a', price: '1.50' },
      { shop: 1, sku: 'b', price: '2.25' },
      { shop: 2, sku: 'b', price: '4.00' },
      { shop: 3, sku: 'a', price: '5.00' },
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 2, deleted: 1, duplicates: 0 });
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
    const { counts } = await mergeLoad(client, spec, loadId, options(3));
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
    const { counts } = await mergeLoad(client, spec, loadId, options(5));
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
    const error = await mergeLoad(client, followersTarget, loadId, options(1, { maxDeletePercent: 50 })).catch(
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
    const { counts } = await mergeLoad(client, spec, loadId, options(3));
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

  it('finds the difference by one hash join, never a nested loop, and applies it by key', async () => {
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

    for (const mode of ['mirror', 'upsert'] as const) {
      const diff = await nodes(createDiff({ ...spec, mode }, loadId));
      expect(diff.join(' > ')).toMatch(mode === 'mirror' ? /Hash Join \(Full\)/ : /Hash Join \((Left|Right)\)/);
      expect(diff.some((n) => n.startsWith('Nested Loop') || n.startsWith('Merge Join'))).toBe(false);
    }
    // the difference (here 10% new, 9% renamed, 10% gone, 1% marked) is applied without a loop over the whole table
    await client.query('BEGIN');
    try {
      await client.query(createDiff(spec, loadId).text);
      await client.query(analyzeDiff().text);
      for (const statement of [deleteDiff(spec), updateDiff(spec)!, insertDiff(spec)]) {
        const plan = await nodes(statement);
        const loop = plan.indexOf('Nested Loop (Inner)');
        // a nested loop may only probe the target's key index once per difference row
        if (loop >= 0) expect(plan.slice(loop)).toContain('Index Scan');
        expect(plan.filter((n) => n === 'Seq Scan').length).toBeLessThanOrEqual(2);
      }
    } finally {
      await client.query('ROLLBACK');
    }
    // into an empty target: no join at all, a scan of the staging partition
    const insert = await nodes(insertAll(spec, loadId));
    expect(insert.some((n) => n.includes('Join') || n.startsWith('Nested Loop'))).toBe(false);
    expect(insert).toContain('Seq Scan');
  });
});
