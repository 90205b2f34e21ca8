import { describe, expect, it } from 'vitest';
import {
  alignedTable,
  formatTime,
  loadDetailText,
  loadJson,
  loadsText,
  rejectsText,
  statusLabel,
} from '../../src/cli/status-command.js';
import { ConfigError, type LoadRecord } from '../../src/index.js';
import {
  checkLimit,
  checkLoadId,
  historyExistsQuery,
  loadQuery,
  recentLoadsQuery,
  rejectsQuery,
  toLoadRecord,
} from '../../src/store/status.js';

const ID = '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11';

function load(overrides: Partial<LoadRecord> = {}): LoadRecord {
  return {
    loadId: ID,
    table: 'followers',
    source: 'tables/followers.csv',
    status: 'succeeded',
    dryRun: false,
    startedAt: new Date('2026-05-01T12:00:03.250Z'),
    finishedAt: new Date('2026-05-01T12:00:04.480Z'),
    durationMs: 1230,
    counts: {
      read: 5000,
      staged: 4998,
      inserted: 4000,
      updated: 10,
      unchanged: 980,
      deleted: 3,
      rejected: 2,
      duplicates: 8,
    },
    error: null,
    host: 'web-1',
    pid: 4242,
    ...overrides,
  };
}

describe('status statements', () => {
  it('checks for the history tables without touching them', () => {
    expect(historyExistsQuery()).toEqual({
      text: 'SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS present',
      values: ['"etl_info_schema"."loads"', '"etl_info_schema"."rejects"'],
    });
  });

  it('selects recent loads newest first, with the table and the limit as parameters', () => {
    const q = recentLoadsQuery({ table: 'followers', limit: 20 });
    expect(q.values).toEqual(['followers', 20]);
    expect(q.text).toContain('FROM "etl_info_schema"."loads"');
    expect(q.text).toMatch(
      /WHERE \(\$1::text IS NULL OR "table_name" = \$1\)\s+ORDER BY "started_at" DESC, "load_id"\s+LIMIT \$2$/u,
    );
    expect(recentLoadsQuery({ limit: 5 }).values).toEqual([null, 5]);
  });

  it('never puts a table name into the SQL text', () => {
    const evil = `followers'; DROP TABLE followers; --`;
    const q = recentLoadsQuery({ table: evil, limit: 1 });
    expect(q.text).not.toContain('DROP');
    expect(q.values[0]).toBe(evil);
  });

  it('selects one load by id, with its duration from the database clock', () => {
    const q = loadQuery(ID);
    expect(q.values).toEqual([ID]);
    expect(q.text).toContain('WHERE "load_id" = $1::uuid');
    expect(q.text).toContain('coalesce("finished_at", clock_timestamp()) - "started_at"');
  });

  it("selects a load's bad rows in file and line order with their total", () => {
    const q = rejectsQuery(ID, 100);
    expect(q.values).toEqual([ID, 100]);
    expect(q.text).toContain('FROM "etl_info_schema"."rejects"');
    expect(q.text).toContain('count(*) OVER () AS total');
    expect(q.text).toMatch(/ORDER BY "file" COLLATE "C", "line"\s+LIMIT \$2$/u);
  });

  it('turns bigint counts into numbers', () => {
    const record = toLoadRecord({
      load_id: ID,
      table_name: 'followers',
      source: 'x.csv',
      status: 'failed',
      dry_run: true,
      started_at: new Date(0),
      finished_at: null,
      rows_read: '7',
      rows_staged: '6',
      rows_inserted: '5',
      rows_updated: '4',
      rows_unchanged: '3',
      rows_deleted: '2',
      rows_rejected: '1',
      rows_duplicate: '9',
      error: 'boom',
      host: null,
      pid: null,
      duration_ms: 12.5,
    });
    expect(record).toMatchObject({
      loadId: ID,
      status: 'failed',
      dryRun: true,
      finishedAt: null,
      durationMs: 12.5,
      error: 'boom',
      counts: { read: 7, staged: 6, inserted: 5, updated: 4, unchanged: 3, deleted: 2, rejected: 1, duplicates: 9 },
    });
  });
});

describe('status input checks', () => {
  it('accepts load ids in any case, with spaces around, and rejects anything else as a usage error', () => {
    expect(checkLoadId(` ${ID.toUpperCase()} `)).toBe(ID);
    expect(() => checkLoadId('42')).toThrow(ConfigError);
    expect(() => checkLoadId(`${ID}'; DROP TABLE x; --`)).toThrow(/--load .* is not a load id; load ids are UUIDs/u);
  });

  it('accepts limits from 1 to a million', () => {
    expect(checkLimit(1)).toBe(1);
    expect(checkLimit(1_000_000)).toBe(1_000_000);
    for (const bad of [0, -1, 1.5, 1_000_001, Number.NaN]) expect(() => checkLimit(bad)).toThrow(ConfigError);
  });
});

describe('status text', () => {
  it('prints times in UTC to the second', () => {
    expect(formatTime(new Date('2026-05-01T12:00:03.999Z'))).toBe('2026-05-01 12:00:03');
    expect(formatTime(null)).toBe('-');
  });

  it('marks dry runs in the status', () => {
    expect(statusLabel(load())).toBe('succeeded');
    expect(statusLabel(load({ dryRun: true }))).toBe('succeeded (dry run)');
  });

  it('aligns columns, numbers to the right, without trailing spaces', () => {
    expect(
      alignedTable(
        ['NAME', 'N', 'NOTE'],
        [
          ['a', '1', 'x'],
          ['bbbbbb', '100', ''],
        ],
        new Set([1]),
      ),
    ).toEqual(['NAME      N  NOTE', 'a         1  x', 'bbbbbb  100']);
  });

  it('lists loads as an aligned table with each error on the line under its load', () => {
    const failed = load({
      loadId: 'aaaaaaaa-8d1b-4c57-9a53-0f7d2b9c6e11',
      status: 'failed',
      table: 'other',
      source: 'b.csv',
      durationMs: 80,
      counts: { read: 12, staged: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 3, duplicates: 0 },
      error: 'too many bad rows:\nline 2: email is empty',
    });
    const running = load({
      loadId: 'bbbbbbbb-8d1b-4c57-9a53-0f7d2b9c6e11',
      status: 'running',
      finishedAt: null,
      durationMs: 42_000,
      dryRun: true,
    });
    const text = loadsText([failed, load(), running]);
    expect(text.split('\n')).toEqual([
      'LOAD ID                               TABLE      STATUS             STARTED (UTC)        DURATION      READ  INSERTED  UPDATED  UNCHANGED  DELETED  REJECTED  DUPLICATES  SOURCE',
      'aaaaaaaa-8d1b-4c57-9a53-0f7d2b9c6e11  other      failed             2026-05-01 12:00:03  80ms            12         0        0          0        0         3           0  b.csv',
      '  error: too many bad rows: line 2: email is empty',
      '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11  followers  succeeded          2026-05-01 12:00:03  1.23s         5000      4000       10        980        3         2           8  tables/followers.csv',
      'bbbbbbbb-8d1b-4c57-9a53-0f7d2b9c6e11  followers  running (dry run)  2026-05-01 12:00:03  42.0s so far  5000      4000       10        980        3         2           8  tables/followers.csv',
      '',
    ]);
  });

  it('shows one load field by field, pointing at its bad rows', () => {
    const text = loadDetailText(load({ status: 'failed', error: 'boom' }));
    expect(text).toBe(
      [
        `load      ${ID}`,
        'table     followers',
        'source    tables/followers.csv',
        'status    failed',
        'dry run   no',
        'started   2026-05-01 12:00:03 UTC',
        'finished  2026-05-01 12:00:04 UTC',
        'duration  1.23s',
        'host      web-1, pid 4242',
        'rows      read 5000  staged 4998  inserted 4000  updated 10  unchanged 980  deleted 3  rejected 2  duplicates 8',
        'error     boom',
        `bad rows  2; list them with: etl status --load ${ID} --rejects`,
        '',
      ].join('\n'),
    );
  });

  it('lists bad rows with their line, reason and quoted raw text, and says when more exist', () => {
    const text = rejectsText({
      load: load(),
      rejects: [
        { line: 3, reason: 'email is empty', raw: ',Ann' },
        { line: 12, reason: 'expected 2 fields, found 3', raw: 'a@b.c,"x\ny",z' },
      ],
      total: 5,
    });
    expect(text.split('\n')).toEqual([
      `load ${ID} of followers (succeeded, started 2026-05-01 12:00:03 UTC, tables/followers.csv): 5 bad row(s)`,
      'LINE  REASON                      RAW',
      '   3  email is empty              ",Ann"',
      '  12  expected 2 fields, found 3  "a@b.c,\\"x\\ny\\",z"',
      '(the first 2 of 5, by line; use --limit to see more)',
      '',
    ]);
  });

  it('says so when a load recorded no bad rows', () => {
    expect(rejectsText({ load: load(), rejects: [], total: 0 })).toBe(
      `load ${ID} of followers (succeeded, started 2026-05-01 12:00:03 UTC, tables/followers.csv): no bad rows recorded\n`,
    );
  });

  it('gives loads a snake_case JSON shape like the sync summary', () => {
    expect(loadJson(load({ finishedAt: null, durationMs: 1229.6 }))).toEqual({
      load_id: ID,
      table: 'followers',
      source: 'tables/followers.csv',
      status: 'succeeded',
      dry_run: false,
      started_at: '2026-05-01T12:00:03.250Z',
      finished_at: null,
      duration_ms: 1230,
      rows_read: 5000,
      staged: 4998,
      inserted: 4000,
      updated: 10,
      unchanged: 980,
      deleted: 3,
      rejected: 2,
      duplicates: 8,
      error: null,
      host: 'web-1',
      pid: 4242,
    });
  });
});
