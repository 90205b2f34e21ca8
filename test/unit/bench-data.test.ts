import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { contentChecksum, csvField, csvLine, writeCsv } from '../../bench/csv-file.js';
import { prepareData } from '../../bench/data-files.js';
import { day1Rows, day2Rows, nextDayPlan, type Row } from '../../bench/dataset.js';
import { parseEtlSummary } from '../../bench/etl-process.js';
import { loaderFlags } from '../../bench/loader-process.js';
import { benchOptions, parseRowCount } from '../../bench/options.js';
import { mulberry32, scramble32 } from '../../bench/prng.js';
import { median, medianPhases } from '../../bench/stats.js';
import { normalizeEmail, normalizerFor } from '../../src/table/rules.js';

const all = (rows: Iterable<Row>) => [...rows];
const byEmail = (rows: Row[]) => new Map(rows.map((r) => [r.email, r.fullName]));
const scratchDirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'etl-bench-data-'));
  scratchDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

describe('the seeded generator', () => {
  it('gives the same numbers for the same seed and different ones for another seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 100 }, a);
    expect(Array.from({ length: 100 }, b)).toEqual(seqA);
    expect(Array.from({ length: 100 }, c)).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('scrambles indices without collisions', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i += 1) seen.add(scramble32(i));
    expect(seen.size).toBe(200_000);
  });

  it('generates the same day-1 and next-day rows for a seed, and other rows for another seed', () => {
    expect(all(day1Rows(7, 3000))).toEqual(all(day1Rows(7, 3000)));
    expect(all(day2Rows(7, 3000))).toEqual(all(day2Rows(7, 3000)));
    expect(all(day1Rows(8, 3000))).not.toEqual(all(day1Rows(7, 3000)));
    expect(all(day2Rows(8, 3000))).not.toEqual(all(day2Rows(7, 3000)));
  });

  it('gives every follower a distinct email', () => {
    const rows = all(day1Rows(1, 50_000));
    expect(new Set(rows.map((r) => r.email)).size).toBe(50_000);
  });

  it('writes every value in the form etl stores, so both pipelines must end with the same rows', () => {
    const name = normalizerFor('full_name', { kind: 'text', maxLength: 255, trim: true, allowEmpty: false });
    for (const row of [...day1Rows(3, 5000), ...day2Rows(3, 5000)]) {
      expect(normalizeEmail(row.email)).toEqual({ ok: true, value: row.email });
      expect(name(row.fullName)).toEqual({ ok: true, value: row.fullName });
    }
  });

  it('includes names with commas, double quotes and non-ASCII letters', () => {
    const names = all(day1Rows(1, 2000)).map((r) => r.fullName);
    expect(names.filter((n) => n.includes(',')).length).toBeGreaterThan(200);
    expect(names.filter((n) => n.includes('"')).length).toBeGreaterThan(100);
    // eslint-disable-next-line no-control-regex -- counting names outside ASCII
    expect(names.filter((n) => /[^\u0000-\u007f]/u.test(n)).length).toBeGreaterThan(500);
  });
});

describe('the next-day file', () => {
  it('changes 10% of the names, drops 5% of the rows and adds 5% new ones', () => {
    const day1 = all(day1Rows(5, 20_000));
    const day2 = all(day2Rows(5, 20_000));
    const before = byEmail(day1);
    const after = byEmail(day2);
    expect(after.size).toBe(day2.length);
    const removed = day1.filter((r) => !after.has(r.email)).length;
    const added = day2.filter((r) => !before.has(r.email)).length;
    const changed = day2.filter((r) => before.has(r.email) && before.get(r.email) !== r.fullName).length;
    expect({ removed, added, changed, rows: day2.length }).toEqual({
      removed: 1000,
      added: 1000,
      changed: 2000,
      rows: 20_000,
    });
    expect(nextDayPlan(20_000)).toEqual({
      day1Rows: 20_000,
      day2Rows: 20_000,
      kept: 17_000,
      changed: 2000,
      removed: 1000,
      added: 1000,
    });
  });

  it('spreads the new rows through the file and keeps the day-1 order of the others', () => {
    const before = byEmail(all(day1Rows(5, 10_000)));
    const day2 = all(day2Rows(5, 10_000));
    const newPositions = day2.flatMap((r, i) => (before.has(r.email) ? [] : [i]));
    expect(newPositions.filter((i) => i < 5000).length).toBeGreaterThan(150);
    expect(newPositions.filter((i) => i >= 5000).length).toBeGreaterThan(150);
    const position = new Map([...before.keys()].map((email, i) => [email, i]));
    const kept = day2.flatMap((r) => (position.has(r.email) ? [position.get(r.email)!] : []));
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
  });

  it.each([1, 2, 7, 33, 999, 1001])('matches its plan exactly for %i rows', (n) => {
    const plan = nextDayPlan(n);
    const before = byEmail(all(day1Rows(9, n)));
    const day2 = all(day2Rows(9, n));
    expect(day2.length).toBe(plan.day2Rows);
    expect(day2.filter((r) => !before.has(r.email)).length).toBe(plan.added);
    expect(day2.filter((r) => before.has(r.email) && before.get(r.email) !== r.fullName).length).toBe(plan.changed);
    expect(new Set(day2.map((r) => r.email)).size).toBe(day2.length);
  });
});

describe('the CSV files', () => {
  it('quotes exactly the fields that need it', () => {
    expect(csvField('Ann Smith')).toBe('Ann Smith');
    expect(csvField('Zoë 山田')).toBe('Zoë 山田');
    expect(csvField('Smith, Ann')).toBe('"Smith, Ann"');
    expect(csvField('Ann "Doc" Smith')).toBe('"Ann ""Doc"" Smith"');
    expect(csvField('"Doc" Smith')).toBe('"""Doc"" Smith"');
    expect(csvLine({ email: 'a@example.com', fullName: 'b, c' })).toBe('a@example.com,"b, c"\n');
  });

  it('writes a valid CSV that parses back to exactly the generated rows', async () => {
    const path = join(scratch(), 'day2.csv');
    const rows = all(day2Rows(11, 4000));
    const written = await writeCsv(path, day2Rows(11, 4000));
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith('email,full_name\n')).toBe(true);
    const records = parse<{ email: string; full_name: string }>(text, {
      columns: true,
      relax_quotes: false,
      relax_column_count: false,
    });
    expect(records.map((r) => ({ email: r.email, fullName: r.full_name }))).toEqual(rows);
    expect(written).toMatchObject({ path, rows: 4000, bytes: statSync(path).size });
  });

  it('checksums the content as md5-based sums that do not depend on row order', async () => {
    const rows = all(day1Rows(2, 500));
    const expected = rows.reduce(
      (sum, r) => sum + BigInt(`0x${createHash('md5').update(`${r.email}\t${r.fullName}`).digest('hex').slice(0, 15)}`),
      0n,
    );
    expect(contentChecksum(rows)).toEqual({ rows: 500, checksum: expected.toString() });
    expect(contentChecksum([...rows].reverse())).toEqual(contentChecksum(rows));
    expect(contentChecksum(all(day2Rows(2, 500))).checksum).not.toBe(expected.toString());
    const written = await writeCsv(join(scratch(), 'day1.csv'), rows);
    expect(written.checksum).toBe(expected.toString());
  });

  it('reuses files it already generated for the same rows and seed', async () => {
    const dir = scratch();
    const first = await prepareData(dir, 4, 300, () => undefined);
    expect(first.created).toHaveLength(4);
    const again = await prepareData(dir, 4, 300, () => undefined);
    expect(again.created).toEqual([]);
    expect(again.day1).toEqual(first.day1);
    expect(again.day2).toEqual(first.day2);
    const other = await prepareData(dir, 5, 300, () => undefined);
    expect(other.created).toHaveLength(4);
    expect(other.day1.checksum).not.toBe(first.day1.checksum);
  });
});

describe('reading results', () => {
  it('reads the counts and phases of etl sync --json, and null phases when absent', () => {
    const base = {
      status: 'succeeded',
      rows_read: 10,
      inserted: 4,
      updated: 3,
      unchanged: 2,
      deleted: 1,
      rejected: 0,
      duplicates: 1,
      duration_ms: 1234,
    };
    expect(parseEtlSummary(`${JSON.stringify(base)}\n`)).toEqual({
      durationMs: 1234,
      counts: { rows_read: 10, inserted: 4, updated: 3, unchanged: 2, deleted: 1, rejected: 0, duplicates: 1 },
      phases: null,
      skipped: false,
    });
    const withPhases = {
      ...base,
      phases: { setup_ms: 5, read_parse_stage_ms: 900, merge_ms: 300, cleanup_ms: 2, note: 'x' },
    };
    expect(parseEtlSummary(JSON.stringify(withPhases)).phases).toEqual({
      setup_ms: 5,
      read_parse_stage_ms: 900,
      merge_ms: 300,
      cleanup_ms: 2,
    });
    const withSteps = { ...withPhases, merge_steps_ms: { analyze: 20, merge: 250 } };
    expect(parseEtlSummary(JSON.stringify(withSteps)).phases).toMatchObject({
      'merge.analyze': 20,
      'merge.merge': 250,
    });
    expect(parseEtlSummary(JSON.stringify({ ...base, status: 'skipped' })).skipped).toBe(true);
    expect(() => parseEtlSummary('{"status":"failed","error":"boom"}')).toThrow(/did not succeed/);
    expect(() => parseEtlSummary('not json')).toThrow(/no JSON summary/);
  });

  it('quotes medians, per phase when runs report phases', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(medianPhases([null, null])).toBeNull();
    expect(
      medianPhases([
        { a: 1, b: 10 },
        { a: 3, b: 30 },
        { a: 2, b: 20 },
      ]),
    ).toEqual({ a: 2, b: 20 });
  });

  it('accepts row counts as plain numbers or with k/M suffixes', () => {
    expect(parseRowCount('2000')).toBe(2000);
    expect(parseRowCount('1_000_000')).toBe(1_000_000);
    expect(parseRowCount('5M')).toBe(5_000_000);
    expect(parseRowCount('250k')).toBe(250_000);
    expect(() => parseRowCount('0')).toThrow(/--rows/);
    expect(() => parseRowCount('lots')).toThrow(/--rows/);
  });

  it('runs the records-from-code loader unless --no-loader, and its memory check with --loader-memory', () => {
    expect(benchOptions([], {}, '/tmp')).toMatchObject({ loader: true, loaderMemory: undefined });
    expect(benchOptions(['--no-loader'], {}, '/tmp').loader).toBe(false);
    expect(benchOptions(['--loader-memory', '5M'], {}, '/tmp').loaderMemory).toBe(5_000_000);
  });

  it('gives the loader the --etl-flags that mean the same to it: --workers and --batch-size', () => {
    expect(loaderFlags(['--workers', '4', '--if-changed', '--batch-size=5000', '--max-errors', '3'])).toEqual([
      '--workers',
      '4',
      '--batch-size',
      '5000',
    ]);
    expect(loaderFlags([])).toEqual([]);
  });
});
