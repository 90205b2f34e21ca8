/**
 * The typed normalizers against a real PostgreSQL: what they accept must be stored with the meaning
 * the source value had, and what they refuse must fail in PostgreSQL too, unless it is listed here
 * as deliberately stricter.
 *
 * Values go in as `INSERT INTO t (v) VALUES ($1)` with an untyped parameter: PostgreSQL runs the
 * column type's input function and typmod check, as COPY does. (An explicit `$1::varchar(3)` cast
 * would silently truncate instead.) The session runs in Asia/Kolkata so a timestamptz read in the
 * session's zone instead of UTC would show.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseColumnType, typedNormalizer, type SourceValue, type TypedOptions } from '../../src/table/types/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** An accepted input and, when it differs from the input, a literal PostgreSQL reads with the meaning the input has. */
type Sample = [input: SourceValue, meaning?: string];
/** A refused input and what PostgreSQL does with it: fail too, or accept it (from some version on). */
type Verdict = 'fails' | { stricter: string; fromVersion?: number };
type Refusal = [input: string, verdict: Verdict];

interface Case {
  type: string;
  options?: Partial<TypedOptions>;
  /** Our output is PostgreSQL's own text output for the stored value. */
  canonical?: boolean;
  accepted: Sample[];
  refused?: Refusal[];
}

const CASES: Case[] = [
  {
    type: 'smallint',
    canonical: true,
    accepted: [['32767'], ['-32768'], [' 42 '], ['007'], [12, '12']],
    refused: [
      ['32768', 'fails'],
      ['-32769', 'fails'],
      ['1.5', 'fails'],
      ['1e3', 'fails'],
      ['', 'fails'],
    ],
  },
  {
    type: 'integer',
    canonical: true,
    accepted: [['2147483647'], ['-2147483648'], ['+7'], ['-0'], [42.0, '42']],
    refused: [
      ['2147483648', 'fails'],
      ['-2147483649', 'fails'],
      ['12,5', 'fails'],
      ['1_000', { stricter: 'PostgreSQL 16 reads digit separators', fromVersion: 16 }],
      ['0x10', { stricter: 'PostgreSQL 16 reads hexadecimal integers', fromVersion: 16 }],
    ],
  },
  {
    type: 'bigint',
    canonical: true,
    accepted: [['9223372036854775807'], ['-9223372036854775808'], [9007199254740991, '9007199254740991']],
    refused: [
      ['9223372036854775808', 'fails'],
      ['-9223372036854775809', 'fails'],
    ],
  },
  {
    type: 'numeric',
    canonical: true,
    accepted: [
      ['12.50'],
      ['1e3'],
      ['1.5e-3'],
      ['1.50e1'],
      ['-0.00'],
      ['.5'],
      ['NaN'],
      ['nan'],
      [0.1, '0.1'],
      [1e21, '1e21'],
      ['1e131071'],
      ['1e-16383'],
      ['0e200000'],
    ],
    refused: [
      ['12,5', 'fails'],
      ['abc', 'fails'],
      ['1e131072', 'fails'],
      ['1e-16384', 'fails'],
      ['Infinity', { stricter: 'numeric infinity exists only from PostgreSQL 14 on', fromVersion: 14 }],
    ],
  },
  {
    type: 'numeric(5,2)',
    canonical: true,
    accepted: [
      ['999.99'],
      ['999.994'],
      ['-999.994'],
      ['99.995'],
      ['0.005'],
      ['-0.005'],
      ['-0.004'],
      ['0.00000001'],
      ['1'],
      ['1.2345e2'],
      [12.5, '12.5'],
    ],
    refused: [
      ['999.995', 'fails'],
      ['-999.995', 'fails'],
      ['1000', 'fails'],
      ['1e400', 'fails'],
      ['NaN', { stricter: 'PostgreSQL stores NaN in numeric(p,s); the config asked for a bounded number' }],
    ],
  },
  {
    type: 'numeric(2,2)',
    canonical: true,
    accepted: [['0.99'], ['.994'], ['-0.994']],
    refused: [
      ['0.995', 'fails'],
      ['1', 'fails'],
    ],
  },
  { type: 'numeric(3)', canonical: true, accepted: [['123.4'], ['-0.5'], ['998.5']], refused: [['999.5', 'fails']] },
  {
    type: 'real',
    accepted: [['1.5'], ['1e-45'], ['3.4028235e38'], ['-0'], ['NaN'], ['inf'], ['-Infinity'], [0.1, '0.1']],
    refused: [
      ['3.4028236e38', 'fails'],
      ['1e-50', 'fails'],
      ['1,5', 'fails'],
      ['0x10', { stricter: "PostgreSQL's strtod reads hexadecimal floats" }],
    ],
  },
  {
    type: 'double precision',
    accepted: [['1.5'], ['0.1000'], ['1e308'], ['4.9e-324'], ['-0'], ['Infinity'], ['+inf'], [0.1, '0.1'], [-0, '-0']],
    refused: [
      ['1e309', 'fails'],
      ['1e-400', 'fails'],
      ['.', 'fails'],
    ],
  },
  {
    type: 'boolean',
    accepted: [
      ['true'],
      ['Yes'],
      ['off'],
      [' 1 '],
      ['F'],
      ['n'],
      [true, 'true'],
      [false, 'false'],
      [1, 'true'],
      [0, 'false'],
    ],
    refused: [
      ['maybe', 'fails'],
      ['2', 'fails'],
      ['tru', { stricter: 'PostgreSQL reads unique prefixes of true/false/yes/no' }],
    ],
  },
  {
    type: 'date',
    canonical: true,
    accepted: [['2024-02-29'], ['2000-02-29'], ['0001-01-01'], ['9999-12-31'], [' 2023-01-31 ', '2023-01-31']],
    refused: [
      ['2023-02-29', 'fails'],
      ['1900-02-29', 'fails'],
      ['2023-04-31', 'fails'],
      ['0000-01-01', 'fails'],
      ['2023-1-5', { stricter: 'only YYYY-MM-DD' }],
      ['01/02/2023', { stricter: 'PostgreSQL reads it by DateStyle, so its meaning depends on the session' }],
      ['today', { stricter: "'today' depends on when the file is loaded" }],
    ],
  },
  {
    type: 'timestamptz',
    accepted: [
      ['2024-02-29 12:00', '2024-02-29 12:00+00'],
      ['2024-01-01', '2024-01-01 00:00+00'],
      ['2024-02-29T12:00:00Z'],
      ['2024-02-29t12:00:00z'],
      ['2024-01-01T10:00+0530'],
      ['2024-01-01T10:00:00.123456-08:00'],
      ['2024-01-01T23:59:59.5-15:59'],
      ['2024-01-01T00:00:00.1234567Z'],
      ['0001-01-01T00:00:00+01'],
      ['9999-12-31T23:59:59.999999-15'],
    ],
    refused: [
      ['2023-02-29T00:00Z', 'fails'],
      ['2024-01-01T10:00+16:00', 'fails'],
      ['2024-01-01T25:00Z', 'fails'],
      ['2024-01-01T24:00Z', { stricter: 'PostgreSQL reads 24:00 as the next midnight' }],
      ['2024-01-01T23:59:60Z', { stricter: 'PostgreSQL reads a leap second as the next minute' }],
      ['2024-01-01 10:00 +02', { stricter: 'no space before the offset' }],
      ['now', { stricter: "'now' depends on when the file is loaded" }],
    ],
  },
  {
    type: 'timestamp',
    accepted: [['2024-02-29 12:00'], ['2024-01-01'], ['2024-01-01T23:59:59.999999']],
    refused: [
      ['2024-02-30', 'fails'],
      ['2024-01-01T10:00Z', { stricter: 'PostgreSQL drops the offset silently' }],
      ['2024-01-01T10:00+02:00', { stricter: 'PostgreSQL drops the offset silently' }],
    ],
  },
  {
    type: 'text',
    canonical: true,
    accepted: [
      ['hello'],
      [''],
      ['  spaced  '],
      ['tab\tnewline\nbackslash\\'],
      ['😀 é'],
      [42, '42'],
      [true, 'true'],
      // U+FFFD written in the file is a character; invalid bytes are found before (a bad row).
      ['a\uFFFDb'],
    ],
    refused: [
      ['a\u0000b', 'fails'],
      ['a\uD800b', { stricter: 'an unpaired surrogate would be written as U+FFFD' }],
    ],
  },
  {
    type: 'varchar(3)',
    canonical: true,
    accepted: [['abc'], ['😀😀😀'], ['ab '], [123, '123']],
    refused: [
      ['abcd', 'fails'],
      ['😀😀😀😀', 'fails'],
      ['abc ', { stricter: 'PostgreSQL cuts off excess spaces silently' }],
    ],
  },
  { type: 'char(2)', accepted: [['ab'], ['a'], ['']], refused: [['abc', 'fails']] },
  {
    type: 'uuid',
    canonical: true,
    accepted: [
      ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'],
      [' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ],
    refused: [
      ['g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'fails'],
      ['a0eebc99-9c0b', 'fails'],
      ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', { stricter: 'only the 8-4-4-4-12 form' }],
      ['a0eebc999c0b4ef8bb6d6bb9bd380a11', { stricter: 'only the 8-4-4-4-12 form' }],
    ],
  },
  {
    type: 'json',
    canonical: true,
    accepted: [
      ['{"a":1}'],
      [' [1, 2] '],
      ['"abc"'],
      ['null'],
      ['"\\u0000"'],
      ['"\\ud800"'],
      ['1e999999'],
      [{ a: [1, 'x'] }, '{"a":[1,"x"]}'],
    ],
    refused: [
      ['{a:1}', 'fails'],
      ['abc', 'fails'],
      ["{'a':1}", 'fails'],
      ['', 'fails'],
    ],
  },
  {
    type: 'jsonb',
    accepted: [
      ['{"a": 1, "b": [true, null, 1.5e300]}'],
      ['"\\\\u0000"'],
      ['"\\ud83d\\ude00"'],
      ['1e400'],
      ['[1e131071, "1e999999", 1e-16383]'],
    ],
    refused: [
      ['{"a": [1e131072]}', 'fails'],
      ['-2.5E-16384', 'fails'],
      ['"\\u0000"', 'fails'],
      ['"\\ud800"', 'fails'],
      ['"\\udc00x"', 'fails'],
      ['{"a":}', 'fails'],
    ],
  },
  {
    type: 'json',
    options: { source: 'json' },
    canonical: true,
    accepted: [
      [{ a: 1, b: [true, null] }, '{"a":1,"b":[true,null]}'],
      ['abc', '"abc"'],
      ['', '""'],
      [42, '42'],
      [{ s: 'x\u0000' }, '{"s":"x\\u0000"}'],
    ],
  },
  {
    type: 'jsonb',
    options: { source: 'json' },
    accepted: [
      [{ nested: { deep: [{ k: 'é\n\t' }] } }, '{"nested":{"deep":[{"k":"é\\n\\t"}]}}'],
      ['{"a":1}', '"{\\"a\\":1}"'],
      [[1, 'x', false], '[1,"x",false]'],
      [1.5, '1.5'],
    ],
  },
];

let db: TestDatabase;
let client: pg.Client;
let serverVersion: number;

beforeAll(async () => {
  db = await createTestDatabase('etl_types');
  client = await db.client();
  await client.query(`SET TimeZone = 'Asia/Kolkata'`);
  await client.query(`SET DateStyle = 'ISO, MDY'`);
  const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  serverVersion = Math.floor(Number(rows[0].v) / 10000);
  for (const [i, c] of CASES.entries()) await client.query(`CREATE TABLE t${i} (v ${parseColumnType(c.type).sql})`);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/**
 * Inserts the way COPY reads a field; `same` (an SQL condition on the stored v and $2) is evaluated
 * on the stored row.
 */
async function store(
  table: string,
  text: string,
  same = 'true',
  meaning?: string,
): Promise<{ stored: string; same: boolean } | { error: string }> {
  try {
    const { rows } = await client.query<{ stored: string; same: boolean }>(
      `WITH ins AS (INSERT INTO ${table} (v) VALUES ($1) RETURNING v) SELECT v::text AS stored, ${same} AS same FROM ins`,
      meaning === undefined ? [text] : [text, meaning],
    );
    return rows[0];
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function label(c: Case): string {
  return c.options?.source === 'json' ? `${c.type} (JSON values)` : c.type;
}

describe.each(CASES.map((c, i) => ({ ...c, table: `t${i}`, name: label(c) })))('$name in PostgreSQL', (c) => {
  const sql = parseColumnType(c.type).sql;
  const convert = typedNormalizer('v', parseColumnType(c.type), { nullable: false, ...c.options });
  // json has no equality operator: its stored text is its meaning.
  const same = sql === 'json' ? `v::text = $2::text` : `v IS NOT DISTINCT FROM $2::${sql}`;

  it.each(c.accepted.map(([input, meaning]) => ({ input, meaning: meaning ?? (input as string) })))(
    'stores $input with its meaning',
    async ({ input, meaning }) => {
      const result = convert(input);
      if (!result.ok || result.value === null) throw new Error(`not accepted: ${JSON.stringify(result)}`);
      const stored = await store(c.table, result.value, same, meaning);
      if ('error' in stored) throw new Error(`PostgreSQL refused ${JSON.stringify(result.value)}: ${stored.error}`);
      expect(stored.same).toBe(true);
      if (c.canonical) expect(stored.stored).toBe(result.value);
    },
  );

  it.each(
    (c.refused ?? []).map(([input, verdict]) => ({
      input,
      verdict,
      why: verdict === 'fails' ? 'fails there too' : `is stricter: ${verdict.stricter}`,
    })),
  )('refuses $input, which $why', async ({ input, verdict }) => {
    expect(convert(input)).toMatchObject({ ok: false });
    const stored = await store(c.table, input);
    const pgAccepts = verdict !== 'fails' && serverVersion >= (verdict.fromVersion ?? 0);
    expect(stored).toHaveProperty(pgAccepts ? 'stored' : 'error');
  });
});

describe('timestamptz without a zone', () => {
  it('means the same instant whatever the session time zone', async () => {
    const value = typedNormalizer('at', parseColumnType('timestamptz'), { nullable: false })('2024-06-01 08:30');
    if (!value.ok) throw new Error(value.reason);
    const instants: number[] = [];
    for (const zone of ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Chatham']) {
      await client.query(`SET TimeZone = '${zone}'`);
      const { rows } = await client.query<{ epoch: string }>(
        `SELECT extract(epoch FROM $1::timestamptz)::text AS epoch`,
        [value.value],
      );
      instants.push(Number(rows[0].epoch));
    }
    await client.query(`SET TimeZone = 'Asia/Kolkata'`);
    expect(new Set(instants)).toEqual(new Set([Date.UTC(2024, 5, 1, 8, 30) / 1000]));
  });
});
