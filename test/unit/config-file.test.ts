import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError } from '../../src/errors.js';

const entry = (extra: object = {}) => ({
  name: 'prices',
  source: 'prices.csv',
  target: { table: 'prices' },
  key: 'sku',
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'amount', type: 'numeric(10,2)' },
  ],
  ...extra,
});

function problem(doc: unknown, file = 'etl.config.json'): string {
  try {
    parseConfigText(file, JSON.stringify(doc), '/base');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the config file was accepted');
}

describe('the config file', () => {
  it('turns an entry into a target and its settings, each naming the field it came from', () => {
    const yaml = [
      'syncs:',
      '  - name: prices',
      '    source: { path: data/prices.csv, delimiter: ";", header: false }',
      '    target: { schema: shop, table: prices }',
      '    key: [sku]',
      "    delete_when: op = 'D'",
      '    max_errors: 3',
      '    max_delete:',
      '    columns:',
      '      - { name: sku, type: TEXT }',
      '      - { name: amount, type: "decimal(10, 2)", source: Amount }',
      '      - { name: op, type: text }',
    ].join('\n');
    const [def] = parseConfigText('etl.config.yaml', yaml, '/base');
    expect(def).toEqual({
      name: 'prices',
      cron: undefined,
      target: {
        name: 'shop.prices',
        schema: 'shop',
        table: 'prices',
        stagingSchema: 'shop',
        stagingTable: 'etl_staging_prices',
        key: ['sku'],
        columns: [
          { name: 'sku', sqlType: 'text', source: 'sku', rule: { kind: 'typed', type: 'text', nullable: false } },
          {
            name: 'amount',
            sqlType: 'numeric(10,2)',
            source: 'Amount',
            rule: { kind: 'typed', type: 'numeric(10,2)', nullable: true },
          },
          { name: 'op', sqlType: 'text', source: 'op', rule: { kind: 'typed', type: 'text', nullable: true } },
        ],
        modifiedColumn: undefined,
        mode: 'mirror',
        deleteWhen: { field: 'op', op: '=', value: 'D' },
      },
      settings: {
        file: { value: '/base/data/prices.csv', origin: 'etl.config.yaml: syncs[0].source' },
        delimiter: { value: ';', origin: 'etl.config.yaml: syncs[0].source.delimiter' },
        header: { value: false, origin: 'etl.config.yaml: syncs[0].source.header' },
        maxErrors: { value: 3, origin: 'etl.config.yaml: syncs[0].max_errors' },
      },
    });
  });

  it.each([
    [
      { syncs: [entry({ columns: [{ name: 'sku', type: 'intt' }] })] },
      /^etl\.config\.json: syncs\[0\]\.columns\[0\]\.type column type "intt" is not supported; supported types: /,
    ],
    [
      { syncs: [entry({ mode: 'mirorr' })] },
      /^etl\.config\.json: syncs\[0\]\.mode must be one of mirror, upsert, append, got "mirorr"$/,
    ],
    [
      { syncs: [entry({ max_errors: 1.5 })] },
      /^etl\.config\.json: syncs\[0\]\.max_errors must be a whole number, got 1\.5$/,
    ],
    [
      { syncs: [entry({ max_delete: 200 })] },
      /^etl\.config\.json: syncs\[0\]\.max_delete must be at most 100, got 200$/,
    ],
    [
      { syncs: [entry({ source: { format: 'csv' } })] },
      /^etl\.config\.json: syncs\[0\]\.source needs "path" or "url"$/,
    ],
    [{ syncs: [entry({ source: 5 })] }, /^etl\.config\.json: syncs\[0\]\.source must be a string or an object, got 5$/],
    [
      { syncs: [entry({ delete_when: 'maybe' })] },
      /syncs\[0\]\.delete_when "maybe" is not understood; write it as field = 'value'/,
    ],
    [{ syncs: [entry({ key: 'id' })] }, /syncs\[0\]\.key names "id", which is not among the columns \(sku, amount\)/],
    [{ syncs: [entry({ key: undefined })] }, /syncs\[0\]\.key is required for mode mirror/],
    [{ syncs: [entry({ name: 'a b' })] }, /syncs\[0\]\.name may use only letters, digits, _ \. and -/],
    [{ syncs: [entry(), entry()] }, /syncs\[1\]\.name "prices" names two syncs/],
    [{ syncs: [] }, /^etl\.config\.json: syncs needs at least one sync$/],
    [null, /^etl\.config\.json: syncs is required$/],
  ])('refuses %j, naming the field', (doc, message) => {
    expect(problem(doc)).toMatch(message);
  });

  it("keeps s3:// and http(s) sources as they are, and reads relative paths from the config file's directory", () => {
    const fileOf = (source: unknown) =>
      parseConfigText('etl.config.json', JSON.stringify({ syncs: [entry({ source })] }), '/base')[0].settings.file
        ?.value;
    expect(fileOf('s3://bucket/exports/2026-11-30/*.csv.gz')).toBe('s3://bucket/exports/2026-11-30/*.csv.gz');
    expect(fileOf({ url: 's3://bucket/prices.parquet', format: 'parquet' })).toBe('s3://bucket/prices.parquet');
    expect(fileOf('https://example.com/prices.csv')).toBe('https://example.com/prices.csv');
    expect(fileOf('parts/*.ndjson')).toBe('/base/parts/*.ndjson');
  });

  it('names an unknown field with the known ones and the one probably meant', () => {
    expect(problem({ syncs: [entry({ colums: [] })] })).toContain(
      'etl.config.json: syncs[0] has an unknown field "colums"; did you mean "columns"? (known: name, source, target, key, columns,',
    );
    expect(problem({ syncs: [entry({ columns: [{ name: 'sku', tpye: 'text' }] })] })).toBe(
      [
        'etl.config.json has 2 problems:',
        '  syncs[0].columns[0].type is required',
        '  syncs[0].columns[0] has an unknown field "tpye"; did you mean "type"? (known: name, type, source, nullable)',
      ].join('\n'),
    );
    expect(problem({ sync: [] })).toContain('has an unknown field "sync"; did you mean "syncs"?');
    expect(problem({ syncs: [entry({ zzz: 1 })] })).toMatch(/unknown field "zzz" \(known: /);
  });

  it('says which syntax is broken', () => {
    expect(() => parseConfigText('etl.config.yaml', 'syncs: [', '/base')).toThrow(
      /^etl\.config\.yaml is not valid YAML/,
    );
    expect(() => parseConfigText('etl.config.json', '{', '/base')).toThrow(/^etl\.config\.json is not valid JSON/);
  });
});
