import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SyncFailedError, sync, type Flags } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';
import {
  configFor,
  followers,
  lastActivity,
  loads,
  projectRoot,
  stagingPartitions,
  syncCsv,
  tempFile,
} from '../helpers/sync.js';

const fixture = (name: string) => join(projectRoot, 'test', 'fixtures', 'csv', name);

const db = useTestDatabase();

async function syncFixture(name: string, flags: Flags = {}) {
  return sync(configFor(db, { file: fixture(name), ...flags }));
}

async function rejects(loadId: string) {
  const r = await db.query<{ line: string; raw: string; reason: string }>(
    'SELECT line, raw, reason FROM etl_info_schema.rejects WHERE load_id = $1 ORDER BY line',
    [loadId],
  );
  return r.rows.map((x) => ({ line: Number(x.line), raw: x.raw, reason: x.reason }));
}

describe('reading real-world CSV files', () => {
  it('drops a UTF-8 byte order mark', async () => {
    await syncFixture('bom.csv');
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
  });

  it('reads CRLF line ends, keeping a CRLF inside a quoted field', async () => {
    await syncFixture('crlf.csv');
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob\r\nSecond line',
      'cat@example.com': 'Cat',
    });
  });

  it('reads quoted commas, escaped quotes and newlines, skipping blank lines', async () => {
    await syncFixture('quoted-newlines.csv');
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann "The Ace"\nAnderson',
      'bob@example.com': 'Smith, Bob',
      'cat@example.com': 'Cat',
    });
  });

  it('reads a ;-separated file with --delimiter', async () => {
    await syncFixture('semicolon.csv', { delimiter: ';' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann, Jr.', 'bob@example.com': 'Bob; Sr.' });
  });

  it('refuses a ;-separated file read with the default delimiter, suggesting --delimiter, before touching the database', async () => {
    const error = await syncFixture('semicolon.csv').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /semicolon\.csv, line 1: the header has no "email", "full_name" column.*--delimiter ";"/,
    );
    const schema = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'etl_info_schema'`);
    expect(schema.rowCount).toBe(0);
  });

  it('reads a headerless file by position with --no-header, and suggests it when the header is data', async () => {
    const error = await syncFixture('headerless.csv').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/looks like data.*--no-header/);
    await syncFixture('headerless.csv', { header: false });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
  });

  it('matches header names trimmed, case-insensitively and in any order, and names extra columns once', async () => {
    const result = await syncFixture('reordered-extra.csv');
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
    expect(result.warnings).toEqual([expect.stringMatching(/ignoring column\(s\) "signup_date"/)]);
  });

  it('decodes windows-1252 with --encoding', async () => {
    await syncFixture('windows-1252.csv', { encoding: 'windows-1252' });
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Zoë Müller',
      'bob@example.com': 'Renée “Bo” Dupont – €',
    });
  });

  it('rejects a row with invalid UTF-8 at its line instead of crashing', async () => {
    const result = await syncFixture('invalid-utf8.csv', { maxErrors: '1' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'cat@example.com': 'Cat' });
    expect(await rejects(result.loadId)).toEqual([
      {
        line: 3,
        raw: 'bob@example.com,B\uFFFDb',
        reason: expect.stringMatching(/not valid text in the file.s encoding.*invalid byte/),
      },
    ]);
  });

  it('rejects a row with a NUL byte', async () => {
    const result = await syncFixture('nul-byte.csv', { maxErrors: '1' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'cat@example.com': 'Cat' });
    expect(await rejects(result.loadId)).toEqual([
      { line: 3, raw: 'bob@example.com,B\\0b', reason: 'full_name contains a NUL byte' },
    ]);
  });

  it('rejects overlong emails and names, counting characters not bytes', async () => {
    const result = await syncFixture('overlong.csv', { maxErrors: '2' });
    expect(await followers(db)).toEqual({ 'cat@example.com': 'é'.repeat(255) });
    const r = await rejects(result.loadId);
    expect(r.map((x) => [x.line, x.reason])).toEqual([
      [2, 'full_name is 256 characters long; at most 255 are allowed'],
      [3, 'email is 262 characters long; at most 255 are allowed'],
    ]);
  });

  it('rejects short and long rows with the field counts', async () => {
    const result = await syncFixture('short-long-rows.csv', { maxErrors: '2' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'dan@example.com': 'Dan' });
    expect(await rejects(result.loadId)).toEqual([
      { line: 3, raw: 'bob@example.com', reason: 'expected 2 fields, found 1' },
      { line: 4, raw: 'cat@example.com,Cat,extra', reason: 'expected 2 fields, found 3' },
    ]);
  });

  it('rejects an unterminated quote at the end of the file at its line', async () => {
    const result = await syncFixture('unterminated-quote.csv', { maxErrors: '1' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect(await rejects(result.loadId)).toEqual([
      { line: 3, raw: 'bob@example.com,"Bob', reason: 'a quoted field is never closed' },
    ]);
  });

  it('keeps the last occurrence of a repeated email and counts the duplicates', async () => {
    const result = await syncFixture('duplicates.csv');
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann Three', 'bob@example.com': 'Bob' });
    expect(result.counts).toMatchObject({ read: 4, duplicates: 2, inserted: 2 });
  });

  it('names every kind of malformed email', async () => {
    const result = await syncFixture('bad-emails.csv', { maxErrors: '4' });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });
    expect((await rejects(result.loadId)).map((r) => [r.line, r.reason])).toEqual([
      [3, 'email "no-at-sign" must contain exactly one @'],
      [4, 'email "two@@example.com" must contain exactly one @'],
      [5, 'email "with space@example.com" contains whitespace'],
      [6, 'email is empty'],
    ]);
  });
});

describe('tolerance and guards', () => {
  const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\ndan@example.com,Dan\n';
  const day1Rows = {
    'ann@example.com': 'Ann',
    'bob@example.com': 'Bob',
    'cat@example.com': 'Cat',
    'dan@example.com': 'Dan',
  };

  it('fails the whole load on bad row N+1, keeping followers, history and rejects', async () => {
    await syncCsv(db, day1);
    const before = await followers(db);
    const activity = await lastActivity(db);
    const error = await syncFixture('bad-emails.csv', { maxErrors: '3' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect((error as Error).message).toMatch(
      /more than 3 bad row\(s\).*line 3: email "no-at-sign" must contain exactly one @; line 4/,
    );
    expect(await followers(db)).toEqual(before);
    expect(await lastActivity(db)).toEqual(activity);
    expect(await stagingPartitions(db)).toEqual([]);
    const failed = (await loads(db)).at(-1)!;
    expect(failed).toMatchObject({ status: 'failed', rows_rejected: '4' });
    expect((await rejects(failed.load_id as string)).map((r) => r.line)).toEqual([3, 4, 5, 6]);
  });

  it('writes bad rows to --rejects FILE as CSV', async () => {
    const out = tempFile('', 'rejects.csv');
    await syncFixture('short-long-rows.csv', { maxErrors: '5', rejects: out });
    expect(readFileSync(out, 'utf8')).toBe(
      'line,reason,raw\n3,"expected 2 fields, found 1",bob@example.com\n4,"expected 2 fields, found 3","cat@example.com,Cat,extra"\n',
    );
  });

  for (const name of ['empty.csv', 'header-only.csv']) {
    it(`never empties followers from ${name} unless --allow-empty`, async () => {
      await syncCsv(db, day1);
      const error = await syncFixture(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SyncFailedError);
      expect((error as Error).message).toMatch(/has no data rows; refusing to empty public\.followers.*--allow-empty/);
      expect(await followers(db)).toEqual(day1Rows);
      const result = await syncFixture(name, { allowEmpty: true });
      expect(result.counts).toMatchObject({ deleted: 4, read: 0 });
      expect(await followers(db)).toEqual({});
    });
  }

  it('never empties followers from a file whose rows are all bad', async () => {
    await syncCsv(db, day1);
    const error = await syncFixture('all-bad.csv', { maxErrors: '10' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/has no valid rows \(all 3 rows were rejected\)/);
    expect(await followers(db)).toEqual(day1Rows);
  });

  it('refuses a sync that would delete more than --max-delete percent', async () => {
    await syncCsv(db, day1);
    const error = await syncCsv(db, 'email,full_name\nann@example.com,Ann\n', { maxDelete: '50' }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      /would delete 3 of 4 rows of public\.followers \(75\.0%\), more than --max-delete 50%/,
    );
    expect(await followers(db)).toEqual(day1Rows);
    const ok = await syncCsv(db, 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n', {
      maxDelete: '50',
    });
    expect(ok.counts.deleted).toBe(1);
  });

  it('reports what a --dry-run would do and changes nothing', async () => {
    await syncCsv(db, day1);
    const activity = await lastActivity(db);
    const result = await syncCsv(
      db,
      'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\neve@example.com,Eve\nbad,Row\n',
      { dryRun: true, maxErrors: '1' },
    );
    expect(result.dryRun).toBe(true);
    expect(result.counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, deleted: 2, rejected: 1 });
    expect(await followers(db)).toEqual({
      'ann@example.com': 'Ann',
      'bob@example.com': 'Bob',
      'cat@example.com': 'Cat',
      'dan@example.com': 'Dan',
    });
    expect(await lastActivity(db)).toEqual(activity);
    expect((await loads(db)).at(-1)).toMatchObject({ status: 'succeeded', dry_run: true });
  });
});
