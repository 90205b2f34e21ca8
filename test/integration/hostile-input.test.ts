/**
 * Issue 9: each class of CSV/JSON input that used to be read wrong is read right or refused clearly.
 * Every CSV case runs three ways: the fast path, the csv-parse path (a row with a quote inside an
 * unquoted field sends its whole chunk there), and --batch-size 1.
 *
 * Cases are modeled on public corpora (none of their files is copied): csv-spectrum
 * (github.com/max-mapper/csv-spectrum), the RFC 4180 section 2 examples, and JSONTestSuite
 * (github.com/nst/JSONTestSuite, the n_array_* and i_number_* / n_structure_* cases).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError, sync, SyncFailedError, type Flags } from '../../src/index.js';
import { configForDefinition } from '../../src/sync/named.js';
import { useTestDatabase } from '../helpers/db.js';
import {
  configFor,
  followers,
  loads,
  projectRoot,
  stagingPartitions,
  syncCsv,
  syncCsvWithFaults,
  tempFile,
} from '../helpers/sync.js';

const db = useTestDatabase();

async function rejects(loadId: string) {
  const r = await db.query<{ line: string; raw: string; reason: string }>(
    'SELECT line, raw, reason FROM etl_info_schema.rejects WHERE load_id = $1 ORDER BY line',
    [loadId],
  );
  return r.rows.map((x) => ({ line: Number(x.line), raw: x.raw, reason: x.reason }));
}

/** A valid row whose unquoted quote makes the fast path give its chunk to csv-parse. */
const SLOW_ROW = 'zed@example.com,Ze"d';
const ways: [string, (csv: string) => string, Flags][] = [
  ['on the fast path', (csv) => csv, {}],
  ['on the csv-parse path', (csv) => `${csv}${SLOW_ROW}\n`, {}],
  ['with --batch-size 1', (csv) => csv, { batchSize: '1' }],
];
const expectedWith = (way: string, rows: Record<string, string>) =>
  way === 'on the csv-parse path' ? { ...rows, 'zed@example.com': 'Ze"d' } : rows;

describe.each(ways)('CSV edge cases %s', (way, shape, flags) => {
  // Item 1. csv-spectrum has no CR-only file; old Mac exports (and RFC 4180's "line break") do.
  it('reads CR-only line ends as line ends, with a CR inside a quoted field kept as data', async () => {
    const csv = 'email,full_name\rann@example.com,Ann\r"bob@example.com","Bob\rSecond"\r\rcat@example.com,Cat\r';
    const result = await syncCsv(db, shape(csv).replace(/\n/gu, '\r'), flags);
    expect(await followers(db)).toEqual(
      expectedWith(way, {
        'ann@example.com': 'Ann',
        'bob@example.com': 'Bob\rSecond',
        'cat@example.com': 'Cat',
      }),
    );
    expect(result.counts.rejected).toBe(0);
  });

  it('numbers lines across mixed LF, CRLF and CR line ends', async () => {
    const csv = 'email,full_name\nann@example.com,Ann\r\nbad-email,X\rcat@example.com,Cat\n';
    const result = await syncCsv(db, shape(csv), { ...flags, maxErrors: '5' });
    expect(await rejects(result.loadId)).toEqual([
      { line: 3, raw: 'bad-email,X', reason: 'email "bad-email" must contain exactly one @' },
    ]);
    expect(await followers(db)).toEqual(expectedWith(way, { 'ann@example.com': 'Ann', 'cat@example.com': 'Cat' }));
  });

  // Item 3. RFC 4180 section 2.5-2.7; csv-spectrum's escaped_quotes.csv is the valid counterpart.
  it('refuses text after a closing quote as a bad row, and keeps "" inside a quoted field', async () => {
    const csv =
      'email,full_name\nann@example.com,"Ann" \nbob@example.com,"Bob"x\n"cat@example.com","Cat ""The Cat"""\n';
    const result = await syncCsv(db, shape(csv), { ...flags, maxErrors: '5' });
    expect(await rejects(result.loadId)).toEqual([
      {
        line: 2,
        raw: 'ann@example.com,"Ann" ',
        reason: expect.stringMatching(/^field 2 has text after its closing quote/u) as string,
      },
      {
        line: 3,
        raw: 'bob@example.com,"Bob"x',
        reason: expect.stringMatching(/^field 2 has text after its closing quote/u) as string,
      },
    ]);
    expect(await followers(db)).toEqual(expectedWith(way, { 'cat@example.com': 'Cat "The Cat"' }));
  });

  // Item 4. csv-spectrum's empty.csv / empty_crlf.csv: a line of delimiters is a row of empty fields.
  it('reads lines of only delimiters or spaces as rows (bad ones here), and skips only empty lines', async () => {
    const csv = 'email,full_name\nann@example.com,Ann\n,\n \n\r\n\nbob@example.com,Bob\n';
    const result = await syncCsv(db, shape(csv), { ...flags, maxErrors: '5' });
    expect(await rejects(result.loadId)).toEqual([
      { line: 3, raw: ',', reason: 'email is empty' },
      { line: 4, raw: ' ', reason: 'expected 2 fields, found 1' },
    ]);
    expect(result.counts.read).toBe(way === 'on the csv-parse path' ? 5 : 4);
    expect(await followers(db)).toEqual(expectedWith(way, { 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' }));
  });

  it('fails a load whose rows are only delimiters instead of loading nothing', async () => {
    await syncCsv(db, 'email,full_name\nann@example.com,Ann\n');
    await expect(syncCsv(db, shape('email,full_name\n,\n,\n'), { ...flags, allowEmpty: true })).rejects.toThrow(
      /bad row/u,
    );
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
  });

  // Item 5. U+FFFD written as UTF-8 (EF BF BD) is a character; a byte invalid in UTF-8 is a bad row.
  it('keeps a real U+FFFD and refuses bytes invalid in the encoding at their line', async () => {
    const csv = Buffer.concat([
      Buffer.from('email,full_name\nann@example.com,An\uFFFDn\nbob@example.com,B'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('b\ncat@example.com,Cat\n'),
      Buffer.from(shape('')),
    ]);
    const result = await syncCsv(db, csv, { ...flags, maxErrors: '5' });
    expect((await rejects(result.loadId)).map((r) => [r.line, r.reason])).toEqual([
      [3, "not valid text in the file's encoding (an invalid byte sequence); check --encoding"],
    ]);
    expect(await followers(db)).toEqual(
      expectedWith(way, { 'ann@example.com': 'An\uFFFDn', 'cat@example.com': 'Cat' }),
    );
  });
});

describe('legacy encodings', () => {
  it('refuses bytes a legacy encoding cannot decode at their line (shift_jis)', async () => {
    const csv = Buffer.concat([
      Buffer.from('email,full_name\nann@example.com,Ann\nbob@example.com,B'),
      Buffer.from([0xff]),
      Buffer.from('\n'),
    ]);
    const result = await syncCsv(db, csv, { encoding: 'shift_jis', maxErrors: '5' });
    expect((await rejects(result.loadId)).map((r) => r.line)).toEqual([3]);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
  });
});

// Item 2.
describe('repeated header names', () => {
  it('refuses a header that repeats a name the target reads, naming it and its positions', async () => {
    await syncCsv(db, 'email,full_name\nann@example.com,Ann\n');
    const failure = syncCsv(db, 'email,email,email,full_name\nbob@example.com,x,y,Bob\n');
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/line 1: the header names "email" 3 times \(fields 1, 2, 3\)/u);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
  });

  it('matches names case-insensitively, as the header match does', async () => {
    await expect(syncCsv(db, 'email,full_name, Full_Name \nbob@example.com,Bob,B\n')).rejects.toThrow(
      /the header names "full_name" 2 times \(fields 2, 3\)/u,
    );
  });

  it('accepts a repeat in a column the target does not use', async () => {
    await syncCsv(db, 'a,email,a,full_name,a\n1,bob@example.com,2,Bob,3\n');
    expect(await followers(db)).toEqual({ 'bob@example.com': 'Bob' });
  });
});

// Item 11, with a small limit so the test files stay small (the memory tests use the default).
describe('the maximum record size', () => {
  it('skips a larger record as a bad row under --max-errors, with its real length and its first bytes', async () => {
    const long = 'x'.repeat(5000);
    const csv = `email,full_name\nann@example.com,Ann\nbob@example.com,"${long}"\ncat@example.com,Cat\n`;
    for (const batchSize of ['1', '1000']) {
      const result = await syncCsv(db, csv, { maxRecordSize: '1KiB', maxErrors: '1', batchSize });
      const [reject] = await rejects(result.loadId);
      expect(reject.line).toBe(3);
      expect(reject.raw).toBe(`bob@example.com,"${long}`.slice(0, 1024));
      expect(reject.reason).toMatch(/^the record is 5018 bytes long, over the maximum record size of 1 KiB/u);
      expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'cat@example.com': 'Cat' });
    }
  });

  it('fails at once, naming the line and the unclosed quote, when no bad row is allowed', async () => {
    await syncCsv(db, 'email,full_name\nann@example.com,Ann\n');
    const csv = `email,full_name\nbob@example.com,Bob\ncat@example.com,"Cat\n${'y,'.repeat(3000)}\n`;
    const failure = syncCsv(db, csv, { maxRecordSize: '1KiB' });
    await expect(failure).rejects.toBeInstanceOf(SyncFailedError);
    await expect(failure).rejects.toThrow(
      /line 3: a record is larger than the maximum record size of 1 KiB \(--max-record-size \/ MAX_RECORD_SIZE\); a quoted field opened at line 3/u,
    );
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect((await loads(db)).map((l) => l.status)).toEqual(['succeeded', 'failed']);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('applies to JSON array elements too', async () => {
    const json = `[{"email":"ann@example.com","full_name":"Ann"},\n{"email":"bob@example.com","full_name":"${'b'.repeat(3000)}"},\n{"email":"cat@example.com","full_name":"Cat"}]`;
    const result = await sync(
      configFor(db, { file: tempFile(json, 'rows.json'), maxRecordSize: '1KiB', maxErrors: '1' }),
    );
    expect((await rejects(result.loadId)).map((r) => [r.line, r.raw.length])).toEqual([[2, 1024]]);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'cat@example.com': 'Cat' });
  });
});

// Item 6. JSONTestSuite: n_array_double_comma ([1,,2]), n_array_just_comma ([,]), n_array_extra_comma
// (["",]), n_array_missing_value ([   , ""]), n_array_1_true_without_comma ([1 true]),
// n_array_inner_array_no_comma ([3[4]]), n_array_colon_instead_of_comma (["": 1]), and objects
// written one after another without a comma.
describe('JSON array structure', () => {
  const ann = '{"email":"ann@example.com","full_name":"Ann"}';
  const bob = '{"email":"bob@example.com","full_name":"Bob"}';
  it.each([
    [`[${ann},,${bob}]`, 'line 1, column 48: an empty array element'],
    ['[,]', 'line 1, column 2: an empty array element'],
    [`[\n  ${ann},\n]`, 'line 3, column 1: a comma before the closing "]" (a trailing comma)'],
    [`[   , ${ann}]`, 'line 1, column 5: an empty array element'],
    [`[${ann} ${bob}]`, 'line 1, column 48: a comma is missing between two array elements'],
    [`[${ann}\n${bob}]`, 'line 2, column 1: a comma is missing between two array elements'],
    [`[${ann}[4]]`, 'line 1, column 47: a comma is missing between two array elements'],
    ['[3[4]]', 'line 1, column 3: a comma is missing between two array elements'],
    ['[1 true]', 'line 1, column 4: a comma is missing between two array elements'],
    [`[${ann},\n true${bob}]`, 'line 2, column 6: a comma is missing between two array elements'],
    ['["": 1]', 'line 1, column 4: unexpected ":" after an array element'],
    [`[${ann}}]`, 'line 1, column 47: unexpected "}" after an array element'],
  ])('fails the load on %j, naming the place', async (json, where) => {
    await syncCsv(db, 'email,full_name\ncat@example.com,Cat\n');
    for (const batchSize of ['1', '1000']) {
      const failure = sync(configFor(db, { file: tempFile(json, 'rows.json'), maxErrors: '10', batchSize }));
      await expect(failure).rejects.toBeInstanceOf(SyncFailedError);
      await expect(failure).rejects.toThrow(where);
    }
    expect(await followers(db)).toEqual({ 'cat@example.com': 'Cat' });
  });

  it('still reads a malformed element as a bad row at its line', async () => {
    const json = `[${ann},\n{"email": },\n${bob}]`;
    const result = await sync(configFor(db, { file: tempFile(json, 'rows.json'), maxErrors: '1' }));
    expect((await rejects(result.loadId)).map((r) => [r.line, r.raw])).toEqual([[2, '{"email": }']]);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
  });
});

/** Runs a one-sync config document against the test database. */
async function syncWith(config: object, flags: Record<string, string | boolean> = {}) {
  const [def] = parseConfigText('etl.config.json', JSON.stringify(config));
  return sync(configForDefinition(def, { lockTimeout: '5s', ...flags }, { DATABASE_URL: db.url }));
}

const docColumns = [
  { name: 'id', type: 'int' },
  { name: 'doc', type: 'jsonb' },
];

const docSync = (source: string) => ({
  name: 'docs',
  source,
  target: { table: 'docs' },
  key: 'id',
  columns: docColumns,
});

// Item 7. JSONTestSuite i_number_very_big_negative_int / y_number_very_big_negative_int and
// i_number_huge_exp: digits beyond a double's precision.
describe('json/jsonb values keep numbers as written', () => {
  it('stores integers beyond 2^53 exactly, from JSON, NDJSON and CSV sources', async () => {
    const doc = '{"id":1234567890123456789,"neg":-23456789012E66,"n":[9007199254740993]}';
    const member = `{"id":1,"doc":${doc}}`;
    for (const [name, text] of [
      ['docs.json', `[${member}]`],
      ['docs.ndjson', `${member}\n`],
      ['docs.csv', `id,doc\n1,"${doc.replaceAll('"', '""')}"\n`],
    ]) {
      await syncWith({ syncs: [docSync(tempFile(text, name))] });
      const r = await db.query<{ id: string; big: string; n: string }>(
        `SELECT doc->>'id' AS id, doc->'n'->>0 AS n, doc->>'neg' AS big FROM docs`,
      );
      expect(r.rows).toEqual([
        { id: '1234567890123456789', n: '9007199254740993', big: `-23456789012${'0'.repeat(66)}` },
      ]);
    }
  });

  // Item 13. JSONTestSuite n_structure_100000_opening_arrays, closed here so the value is valid JSON.
  it('refuses a value nested 100,000 deep as a bad row at its line, from JSON and CSV', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const ok = '{"id":1,"doc":{"a":[[[1]]]}}';
    for (const [name, text] of [
      ['deep.ndjson', `${ok}\n{"id":2,"doc":${deep}}\n`],
      ['deep.json', `[${ok},\n{"id":2,"doc":${deep}}]`],
      ['deep.csv', `id,doc\n1,"{""a"":[[[1]]]}"\n2,${deep}\n`],
    ]) {
      const result = await syncWith({ syncs: [docSync(tempFile(text, name))] }, { maxErrors: '1' });
      expect((await rejects(result.loadId)).map((r) => [r.line, r.reason])).toEqual([
        [
          name.endsWith('.csv') ? 3 : 2,
          expect.stringMatching(/nests arrays or objects deeper than 1000 levels/u) as string,
        ],
      ]);
      expect((await db.query('SELECT id, doc FROM docs')).rows).toEqual([{ id: 1, doc: { a: [[[1]]] } }]);
    }
  });
});

// Item 14.
describe('running out of memory', () => {
  it('fails the load cleanly when a worker runs out: compensations run, the load is marked failed, the target is unchanged', async () => {
    await syncCsv(db, 'email,full_name\nann@example.com,Ann\n');
    const csv = 'email,full_name\nbob@example.com,Bob\ncat@example.com,Cat\n';
    const failure = syncCsvWithFaults(db, csv, { batchSize: '1' }, { exhaustWorkerMemoryOnBatch: 2 });
    await expect(failure).rejects.toBeInstanceOf(SyncFailedError);
    await expect(failure).rejects.toThrow(/a staging worker ran out of memory \(its heap limit is \d+ MB\)/u);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect((await loads(db)).map((l) => l.status)).toEqual(['succeeded', 'failed']);
    expect(await stagingPartitions(db)).toEqual([]);
    // The next run works.
    await syncCsv(db, csv);
    expect(await followers(db)).toEqual({ 'bob@example.com': 'Bob', 'cat@example.com': 'Cat' });
  });

  it('fails the load cleanly when the main thread nears its heap limit, instead of a native abort', async () => {
    await syncCsv(db, 'email,full_name\nann@example.com,Ann\n');
    const rows = Array.from({ length: 200 }, (_, i) => `u${i}@example.com,U\n`).join('');
    // The library in its own process with a 96 MB old generation; a test hook keeps 2 MiB of heap
    // per batch, as a leak would. V8's limit (144 MB here) counts the young generation's reserve.
    const script = `
      const { resolveSyncConfig, sync } = await import(${JSON.stringify(`${projectRoot}/dist/index.js`)});
      const { withFaults } = await import(${JSON.stringify(`${projectRoot}/dist/load/faults.js`)});
      const held = [];
      const config = resolveSyncConfig(
        { file: process.argv[1], batchSize: '1', lockTimeout: '5s' },
        { DATABASE_URL: process.argv[2] },
      );
      await sync(withFaults(config, { afterBatch: () => held.push(Array.from({ length: 1 << 18 }, (_, i) => i + 0.5)) }));
    `;
    const run = promisify(execFile)(
      process.execPath,
      ['--max-old-space-size=96', '--input-type=module', '-e', script, tempFile(`email,full_name\n${rows}`), db.url],
      { env: {} },
    );
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/the process is near its memory limit \(\d+ of \d+ MB of heap in use\)/u) as string,
    });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect((await loads(db)).map((l) => l.status)).toEqual(['succeeded', 'failed']);
    expect(await stagingPartitions(db)).toEqual([]);
  });
});
