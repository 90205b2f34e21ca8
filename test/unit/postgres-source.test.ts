import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { resolvePostgresSource } from '../../src/config/postgres-source.js';
import { ConfigError } from '../../src/errors.js';
import { parseRowsChunk } from '../../src/load/parse-rows-chunk.js';
import { countNullCursors, pageQuery, upperBoundQuery } from '../../src/source/postgres/page-sql.js';
import { rowPicker, rowsChunk } from '../../src/source/postgres/rows-chunk.js';

const columns = [
  { name: 'id', type: 'bigint' },
  { name: 'email', type: 'text' },
];
const entry = (source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  name: 'users',
  source: { postgres: 'SOURCE_URL', table: 'app.users', cursor: ['updated_at', 'id'], ...source },
  target: { table: 'users' },
  key: ['id'],
  columns,
  ...extra,
});
const parse = (...syncs: object[]) => parseConfigText('etl.config.json', JSON.stringify({ syncs }));
const failure = (...syncs: object[]) => {
  try {
    parse(...syncs);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('a postgres source in the config file', () => {
  it('reads cursor, delay and page size, with defaults, and upsert as the default mode', () => {
    const [def] = parse(entry());
    expect(def.target).toMatchObject({ name: 'users', mode: 'upsert' });
    expect(def.postgres).toMatchObject({
      sync: 'users',
      connection: { env: 'SOURCE_URL' },
      cursor: ['updated_at', 'id'],
      consistencyDelayMs: 10_000,
      pageSize: 50_000,
      tables: [{ query: 'SELECT * FROM "app"."users"', label: 'app.users' }],
    });
    const [custom] = parse(entry({ consistency_delay: '1m30s', page_size: 500, table: undefined, query: 'select 1;' }));
    expect(custom.postgres).toMatchObject({
      consistencyDelayMs: 90_000,
      pageSize: 500,
      tables: [{ query: 'select 1', label: 'syncs[0].source.query' }],
    });
  });

  it('reads the connection from the named environment variable, never showing a value', () => {
    const [def] = parse(entry());
    const url = 'postgres://u:secret@db.example:5433/app';
    expect(resolvePostgresSource(def.postgres!, { SOURCE_URL: url })).toMatchObject({
      connectionString: url,
      description: 'db.example:5433/app',
    });
    expect(() => resolvePostgresSource(def.postgres!, {})).toThrow(
      "etl.config.json: syncs[0].source.postgres names the environment variable SOURCE_URL, which is not set; set it to the source's postgres:// URL",
    );
    expect(() => resolvePostgresSource(def.postgres!, { SOURCE_URL: 'mysql://u:secret@x/y' })).toThrow(
      /^SOURCE_URL \(from etl\.config\.json: syncs\[0\]\.source\.postgres\) must be a postgres:\/\/ URL \(the value is not shown/u,
    );
    const bad = failure(entry({ postgres: 'host=x password=secret' }));
    expect(bad).toMatch(
      /^etl\.config\.json: syncs\[0\]\.source\.postgres must be a postgres:\/\/ URL or the name of an environment variable/u,
    );
    expect(bad).not.toContain('secret');
  });

  it('names the field and the fix for each mistake', () => {
    expect(failure(entry({ cursor: [] }))).toBe(
      'etl.config.json: syncs[0].source.cursor must be a non-empty list of column names, e.g. ["updated_at", "id"] (a timestamp, then a unique id)',
    );
    expect(failure(entry({ cursor: ['id', 'id'] }))).toBe('etl.config.json: syncs[0].source.cursor names "id" twice');
    expect(failure(entry({ consistency_delay: 'soon' }))).toBe(
      'etl.config.json: syncs[0].source.consistency_delay must be a duration such as "10s", "1m" or "0", got "soon"',
    );
    expect(failure(entry({ page_size: 0 }))).toBe(
      'etl.config.json: syncs[0].source.page_size must be a number from 1 to 10000000, got 0',
    );
    expect(failure(entry({ query: 'select 1' }))).toBe(
      'etl.config.json: syncs[0].source needs either "query" (a SELECT) or "table" (a table name), not both',
    );
    expect(failure(entry({ query: 'select 1; drop table x', table: undefined }))).toBe(
      'etl.config.json: syncs[0].source.query must be a single SELECT (found a ";")',
    );
    expect(failure(entry({ path: 'x.csv' }))).toMatch(
      /^etl\.config\.json: syncs\[0\]\.source has an unknown field "path"/u,
    );
    expect(failure(entry({}, { targets: [] }))).toBe(
      'etl.config.json: syncs[0].source has "query"/"table", but the entry lists "targets": give each target its own "query" or "table"',
    );
  });

  it('takes several targets, each with its own query, in the order given', () => {
    const target = (table: string) => ({ table, target: { table }, key: ['id'], columns });
    const [def] = parse({
      name: 'accounts',
      source: { postgres: 'postgres://db/app', cursor: ['updated_at', 'id'] },
      targets: [target('identities'), { ...target('credentials'), mode: 'append' }],
    });
    expect(def.postgres!.tables.map((t) => [t.target.name, t.target.mode, t.query])).toEqual([
      ['identities', 'upsert', 'SELECT * FROM "identities"'],
      ['credentials', 'append', 'SELECT * FROM "credentials"'],
    ]);
    expect(def.target.name).toBe('identities');
    const base = { name: 'accounts', source: { postgres: 'postgres://db/app', cursor: ['id'] } };
    expect(failure({ ...base, targets: [target('a'), target('a')] })).toBe(
      'etl.config.json: syncs[0].targets feeds a twice; each target may appear once',
    );
    expect(failure({ ...base, key: ['id'], targets: [target('a')] })).toBe(
      'etl.config.json: syncs[0].key belongs inside each of "targets" when the entry lists several targets',
    );
    expect(failure({ ...base, targets: [{ table: 'a', target: { table: 'a' }, key: ['id'] }] })).toBe(
      'etl.config.json: syncs[0].targets[0].columns must be a non-empty list of { "name", "type", "source" }',
    );
    expect(failure({ name: 'f', source: 'x.csv', targets: [] })).toBe(
      'etl.config.json: syncs[0].targets is only for a "postgres" source; a file feeds one target (use "target")',
    );
  });
});

describe('source statements', () => {
  it('pages by a strict tuple comparison with the values as parameters, never OFFSET', () => {
    const page = pageQuery({
      query: 'SELECT * FROM "users"',
      cursor: ['updated_at', 'we"ird'],
      after: ['2025-01-01 00:00:00.000001+00', '7'],
      until: '2025-01-02 00:00:00+00',
      limit: 100,
    });
    expect(page.text).toBe(`SELECT * FROM (SELECT * FROM "users") AS etl_source
 WHERE etl_source."updated_at" IS NOT NULL
   AND etl_source."we""ird" IS NOT NULL
   AND (etl_source."updated_at", etl_source."we""ird") > ($1, $2)
   AND etl_source."updated_at" <= $3::timestamptz
 ORDER BY etl_source."updated_at", etl_source."we""ird"
 LIMIT $4`);
    expect(page.values).toEqual(['2025-01-01 00:00:00.000001+00', '7', '2025-01-02 00:00:00+00', 100]);
    expect(page.text).not.toMatch(/OFFSET/iu);
    const first = pageQuery({ query: 'q', cursor: ['id'], limit: 5 });
    expect(first.text).toBe(`SELECT * FROM (q) AS etl_source
 WHERE etl_source."id" IS NOT NULL
 ORDER BY etl_source."id"
 LIMIT $1`);
    expect(countNullCursors('q', ['a', 'b']).text).toBe(
      'SELECT count(*)::text AS n FROM (q) AS etl_source WHERE etl_source."a" IS NULL OR etl_source."b" IS NULL',
    );
    expect(upperBoundQuery(10_000, 'Europe/Berlin').values).toEqual([10, 'Europe/Berlin']);
  });
});

describe('database rows through the workers', () => {
  it('keeps null apart from empty text and passes json text through', () => {
    const target = {
      name: 't',
      schema: 'public',
      table: 't',
      stagingSchema: 'public',
      stagingTable: 'etl_staging_t',
      key: ['id'],
      mode: 'upsert' as const,
      columns: [
        {
          name: 'id',
          sqlType: 'bigint',
          source: 'id',
          rule: { kind: 'typed' as const, type: 'bigint', nullable: false },
        },
        {
          name: 'note',
          sqlType: 'text',
          source: 'note',
          rule: { kind: 'typed' as const, type: 'text', nullable: true },
        },
        {
          name: 'doc',
          sqlType: 'jsonb',
          source: 'doc',
          rule: { kind: 'typed' as const, type: 'jsonb', nullable: true },
        },
      ],
      deleteWhen: { field: 'gone', op: '=' as const, value: 'true' },
    };
    const pick = rowPicker(target, ['doc', 'gone', 'id', 'note', 'updated_at']);
    expect(pick).toEqual([2, 3, 0, 1]);
    const chunk = rowsChunk(
      [
        ['{"a": 1}', 'false', '9223372036854775807', '', 'x'],
        [null, 'false', '2', null, 'x'],
        [null, 'true', '3', 'ignored', 'x'],
        [null, 'false', null, 'no id', 'x'],
      ],
      pick,
      41,
    );
    const parsed = parseRowsChunk(
      chunk.data,
      { format: 'rows', columns: target.columns, keys: ['id'], deleteWhen: target.deleteWhen },
      {
        lines: chunk.recordLines,
        starts: chunk.recordStarts,
        ends: chunk.recordEnds,
      },
    );
    expect(parsed.rows).toBe(3);
    expect(parsed.rejects).toEqual([{ line: 44, raw: '[null,"no id",null,"false"]', reason: 'id is missing' }]);
    expect(parsed.copy.toString()).toBe(
      '9223372036854775807\t\t{"a": 1}\t41\tf\n2\t\\N\t\\N\t42\tf\n3\t\\N\t\\N\t43\tt\n',
    );
  });
});
