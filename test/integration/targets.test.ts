import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError, sync, SyncFailedError } from '../../src/index.js';
import { configForDefinition } from '../../src/sync/named.js';
import { useTestDatabase } from '../helpers/db.js';
import { tempFile } from '../helpers/sync.js';

const db = useTestDatabase();

/** Runs the named sync of a config document against the test database. */
async function syncWith(config: object, name?: string, flags: Record<string, string | boolean> = {}) {
  const defs = parseConfigText('etl.config.json', JSON.stringify(config));
  const def = name ? defs.find((d) => d.name === name)! : defs[0];
  return sync(configForDefinition(def, { lockTimeout: '5s', ...flags }, { DATABASE_URL: db.url }));
}

async function rows(table: string, order = '1') {
  return (await db.query(`SELECT * FROM ${table} ORDER BY ${order}`)).rows;
}

async function rejectsOf(loadId: string) {
  const r = await db.query<{ line: string; reason: string }>(
    'SELECT line, reason FROM etl_info_schema.rejects WHERE load_id = $1 ORDER BY line',
    [loadId],
  );
  return r.rows.map((x) => [Number(x.line), x.reason]);
}

const productColumns = [
  { name: 'sku', type: 'text' },
  { name: 'price', type: 'numeric(10,2)' },
  { name: 'qty', type: 'int' },
  { name: 'active', type: 'boolean' },
  { name: 'added', type: 'date' },
  { name: 'seen', type: 'timestamptz' },
  { name: 'ref', type: 'uuid' },
  { name: 'attrs', type: 'jsonb' },
];

describe('typed targets from a config file', () => {
  it('creates the table from NDJSON with every type converted', async () => {
    const file = tempFile(
      [
        '{"sku":"A1","price":12.5,"qty":3,"active":true,"added":"2024-02-29","seen":"2024-03-01T10:00:00Z","ref":"0B7C6A52-8F4E-4C7E-9A57-3F0D2A1B9C11","attrs":{"color":"red","tags":[1,2]}}',
        '{"sku":"B2","price":"7","qty":"-4","active":"no","added":null,"seen":"2024-03-01 12:30","ref":null,"attrs":null}',
        '',
      ].join('\n'),
      'products.ndjson',
    );
    const result = await syncWith({
      syncs: [{ name: 'products', source: file, target: { table: 'products' }, key: 'sku', columns: productColumns }],
    });
    expect(result.counts).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
    const types = await db.query<{ attname: string; t: string }>(
      `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.products'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    expect(types.rows.map((r) => r.t)).toEqual([
      'text',
      'numeric(10,2)',
      'integer',
      'boolean',
      'date',
      'timestamp with time zone',
      'uuid',
      'jsonb',
    ]);
    const r = await db.query(
      `SELECT sku, price::text, qty, active, added::text, seen, ref::text, attrs FROM products ORDER BY sku`,
    );
    expect(r.rows).toEqual([
      {
        sku: 'A1',
        price: '12.50',
        qty: 3,
        active: true,
        added: '2024-02-29',
        seen: new Date('2024-03-01T10:00:00Z'),
        ref: '0b7c6a52-8f4e-4c7e-9a57-3f0d2a1b9c11',
        attrs: { color: 'red', tags: [1, 2] },
      },
      {
        sku: 'B2',
        price: '7.00',
        qty: -4,
        active: false,
        added: null,
        seen: new Date('2024-03-01T12:30:00Z'),
        ref: null,
        attrs: null,
      },
    ]);
  });

  it('streams a pretty-printed JSON array, reporting a bad element at its line', async () => {
    const file = tempFile(
      '[\n  {"id": 1, "name": "one"},\n  {"id": 2,\n   "name": "two"},\n  {"id": 3, "name": oops},\n  "not an object",\n  {"id": "x", "name": "bad id"}\n]\n',
      'items.json',
    );
    const result = await syncWith({
      syncs: [
        {
          name: 'items',
          source: { path: file },
          target: { table: 'items' },
          key: ['id'],
          columns: [
            { name: 'id', type: 'bigint' },
            { name: 'name', type: 'varchar(10)' },
          ],
          max_errors: 3,
        },
      ],
    });
    expect(await rows('items')).toEqual([
      { id: '1', name: 'one' },
      { id: '2', name: 'two' },
    ]);
    expect(await rejectsOf(result.loadId)).toEqual([
      [5, expect.stringMatching(/^not valid JSON/)],
      [6, 'expected a JSON object, found a string'],
      [7, expect.stringMatching(/^id: "x" is not/)],
    ]);
  });

  it('fails on a JSON array cut short instead of treating it as the end of the data', async () => {
    const file = tempFile('[{"id": 1, "name": "one"}, {"id": 2, "name": "tw', 'cut.json');
    const error = await syncWith({
      syncs: [
        {
          name: 'items',
          source: file,
          target: { table: 'items' },
          key: ['id'],
          columns: [
            { name: 'id', type: 'bigint' },
            { name: 'name', type: 'text' },
          ],
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(/the JSON array is not closed.*truncated/);
  });

  it('reads gzip-compressed CSV', async () => {
    const file = tempFile(gzipSync('code,label\nx,Ex\ny,Why\n'), 'codes.csv.gz');
    await syncWith({
      syncs: [
        {
          name: 'codes',
          source: file,
          target: { table: 'codes' },
          key: 'code',
          columns: [
            { name: 'code', type: 'text' },
            { name: 'label', type: 'text' },
          ],
        },
      ],
    });
    expect(await rows('codes')).toEqual([
      { code: 'x', label: 'Ex' },
      { code: 'y', label: 'Why' },
    ]);
  });

  it('rejects values that do not fit their column, naming the column, instead of failing the batch', async () => {
    const file = tempFile(
      'sku,price,qty,active,added,seen,ref,attrs\nA,1.5,2,true,2024-01-01,2024-01-01T00:00:00Z,,{}\nB,abc,2,true,,,,\nC,1,99999999999,true,,,,\nD,1,1,maybe,,,,\nE,1,1,true,2023-02-29,,,\nF,1,1,true,,,not-a-uuid,\nG,1,1,true,,,,{bad json\nH,123456789012,1,true,,,,\n',
      'p.csv',
    );
    const result = await syncWith({
      syncs: [{ name: 'p', source: file, target: { table: 'p' }, key: 'sku', columns: productColumns, max_errors: 10 }],
    });
    expect((await rows('p')).map((r) => r.sku)).toEqual(['A']);
    const reasons = await rejectsOf(result.loadId);
    expect(reasons.map(([line]) => line)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(reasons.map(([, reason]) => String(reason).split(':')[0])).toEqual([
      'price',
      'qty',
      'active',
      'added',
      'ref',
      'attrs',
      'price',
    ]);
  });

  it('keys on several columns', async () => {
    const cfg = {
      syncs: [
        {
          name: 'stock',
          source: '',
          target: { table: 'stock' },
          key: ['region', 'sku'],
          columns: [
            { name: 'region', type: 'text' },
            { name: 'sku', type: 'text' },
            { name: 'qty', type: 'integer' },
          ],
        },
      ],
    };
    cfg.syncs[0].source = tempFile('region,sku,qty\neu,a,1\nus,a,2\neu,b,3\n');
    await syncWith(cfg);
    cfg.syncs[0].source = tempFile('region,sku,qty\neu,a,1\nus,a,5\nus,b,7\n');
    const result = await syncWith(cfg);
    expect(result.counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, deleted: 1 });
    expect(await rows('stock', 'region, sku')).toEqual([
      { region: 'eu', sku: 'a', qty: 1 },
      { region: 'us', sku: 'a', qty: 5 },
      { region: 'us', sku: 'b', qty: 7 },
    ]);
  });

  it('upsert mode never deletes absent keys', async () => {
    const base = {
      name: 'u',
      target: { table: 'u' },
      key: 'k',
      columns: [
        { name: 'k', type: 'text' },
        { name: 'v', type: 'text' },
      ],
      mode: 'upsert',
    };
    await syncWith({ syncs: [{ ...base, source: tempFile('k,v\na,1\nb,2\n') }] });
    const result = await syncWith({ syncs: [{ ...base, source: tempFile('k,v\nb,3\nc,4\n') }] });
    expect(result.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 0 });
    expect(await rows('u')).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '3' },
      { k: 'c', v: '4' },
    ]);
  });

  it('append mode inserts every row, keeping earlier ones', async () => {
    const base = {
      name: 'events',
      target: { table: 'events' },
      columns: [
        { name: 'at', type: 'timestamptz' },
        { name: 'what', type: 'text' },
      ],
      mode: 'append',
    };
    await syncWith({
      syncs: [{ ...base, source: tempFile('at,what\n2024-01-01T00:00:00Z,start\n2024-01-01T00:00:00Z,start\n') }],
    });
    const result = await syncWith({ syncs: [{ ...base, source: tempFile('at,what\n2024-01-02T00:00:00Z,stop\n') }] });
    expect(result.counts).toMatchObject({ inserted: 1, deleted: 0 });
    expect((await rows('events', 'at')).map((r) => r.what)).toEqual(['start', 'start', 'stop']);
  });

  it("deletes the keys of rows marked by delete_when (op = 'D') and upserts the rest", async () => {
    const base = {
      name: 'cdc',
      target: { table: 'cdc' },
      key: 'id',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'name', type: 'text' },
      ],
      mode: 'upsert',
      delete_when: "op = 'D'",
    };
    await syncWith({ syncs: [{ ...base, source: tempFile('id,name,op\n1,one,I\n2,two,I\n3,three,I\n') }] });
    const result = await syncWith({
      syncs: [{ ...base, source: tempFile('id,name,op\n2,,D\n3,THREE,U\n4,four,I\n1,uno,U\n1,,D\n') }],
    });
    expect(result.counts).toMatchObject({ deleted: 2, updated: 1, inserted: 1, duplicates: 1 });
    expect(await rows('cdc')).toEqual([
      { id: 3, name: 'THREE' },
      { id: 4, name: 'four' },
    ]);
  });

  it('stops with the list of differences when the existing table does not match, changing nothing', async () => {
    await db.query('CREATE TABLE public.things (id integer PRIMARY KEY, label varchar(5), extra text NOT NULL)');
    await db.query(`INSERT INTO things VALUES (1, 'keep', 'x')`);
    const error = await syncWith({
      syncs: [
        {
          name: 'things',
          source: tempFile('id,label,size\n1,a,2\n'),
          target: { table: 'things' },
          key: 'id',
          columns: [
            { name: 'id', type: 'bigint' },
            { name: 'label', type: 'varchar(5)' },
            { name: 'size', type: 'int' },
          ],
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('column "id" is integer, configured as bigint');
    expect(message).toContain('column "size" is missing (configured as integer)');
    expect(message).toContain('column "extra" is NOT NULL without a default');
    expect(await rows('things')).toEqual([{ id: 1, label: 'keep', extra: 'x' }]);
  });

  it('quotes hostile schema, table and column names everywhere (no injection)', async () => {
    await db.query('CREATE TABLE victim (id int)');
    const hostile = {
      name: 'hostile',
      source: tempFile('Key Col,order,"x""); DROP TABLE victim; --"\n1,first,a\n2,second,b\n'),
      target: { schema: 'we"ird Schema', table: 'Select; DROP TABLE victim; --' },
      key: 'Key Col',
      columns: [
        { name: 'Key Col', type: 'integer' },
        { name: 'order', type: 'text' },
        { name: 'user"); DROP TABLE victim; --', type: 'text', source: 'x"); DROP TABLE victim; --' },
      ],
      modified_column: 'Modified At',
    };
    const first = await syncWith({ syncs: [hostile] });
    expect(first.counts.inserted).toBe(2);
    const again = await syncWith({
      syncs: [{ ...hostile, source: tempFile('Key Col,order,"x""); DROP TABLE victim; --"\n1,FIRST,a\n') }],
    });
    expect(again.counts).toMatchObject({ updated: 1, deleted: 1 });
    const r = await db.query(
      `SELECT "Key Col", "order", "user""); DROP TABLE victim; --" AS u FROM "we""ird Schema"."Select; DROP TABLE victim; --"`,
    );
    expect(r.rows).toEqual([{ 'Key Col': 1, order: 'FIRST', u: 'a' }]);
    expect((await db.query(`SELECT to_regclass('public.victim') IS NOT NULL AS present`)).rows[0].present).toBe(true);
  });
});

describe('URL sources', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/codes.csv') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end('code,label\nx,Ex\n');
      } else if (req.url === '/cut.csv') {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('code,label\nx,Ex\ny,');
        setTimeout(() => res.socket?.destroy(), 50);
      } else {
        res.writeHead(404);
        res.end('nope');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const codes = (source: string) => ({
    syncs: [
      {
        name: 'codes',
        source,
        target: { table: 'codes' },
        key: 'code',
        columns: [
          { name: 'code', type: 'text' },
          { name: 'label', type: 'text' },
        ],
      },
    ],
  });

  it('streams a file served over HTTP', async () => {
    await syncWith(codes(`${base}/codes.csv`));
    expect(await rows('codes')).toEqual([{ code: 'x', label: 'Ex' }]);
  });

  it('fails naming the status on a 404, before the database is touched', async () => {
    const error = await syncWith(codes(`${base}/missing.csv`)).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/404/);
    expect((await db.query(`SELECT to_regclass('public.codes') AS t`)).rows[0].t).toBeNull();
  });

  it('fails when the body is cut short, leaving the table as it was', async () => {
    await syncWith(codes(`${base}/codes.csv`));
    const error = await syncWith(codes(`${base}/cut.csv`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(await rows('codes')).toEqual([{ code: 'x', label: 'Ex' }]);
  });
});

describe('JSON values into json/jsonb columns', () => {
  it('stores a JSON string as a JSON string, and CSV text as the JSON it spells', async () => {
    const cols = [
      { name: 'id', type: 'int' },
      { name: 'doc', type: 'jsonb' },
    ];
    await syncWith({
      syncs: [
        {
          name: 'docs',
          source: tempFile('{"id":1,"doc":"123"}\n{"id":2,"doc":{"a":[1,"x"]}}\n', 'docs.ndjson'),
          target: { table: 'docs' },
          key: 'id',
          columns: cols,
        },
      ],
    });
    await syncWith({
      syncs: [
        {
          name: 'docs2',
          source: tempFile('id,doc\n1,"{""a"": 1}"\n2,123\n', 'docs2.csv'),
          target: { table: 'docs2' },
          key: 'id',
          columns: cols,
        },
      ],
    });
    expect((await db.query('SELECT id, doc FROM docs ORDER BY id')).rows).toEqual([
      { id: 1, doc: '123' },
      { id: 2, doc: { a: [1, 'x'] } },
    ]);
    expect((await db.query('SELECT id, doc FROM docs2 ORDER BY id')).rows).toEqual([
      { id: 1, doc: { a: 1 } },
      { id: 2, doc: 123 },
    ]);
  });
});
