import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, LoadNotFoundError, loadRejects, status, SyncFailedError } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';
import { runCli, syncCsv, tempDir } from '../helpers/sync.js';

const db = useTestDatabase();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/u;
const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n';
// Lines 3, 5 and 6 are bad; line 4 repeats ann.
const messy =
  'email,full_name\nann@example.com,Ann\nnot-an-email,X\nANN@example.com,Ann B\n,Nobody\nbob@example.com,Bob,extra\ndan@example.com,Dan\n';

const cli = (...args: string[]) => runCli(['status', ...args], { DATABASE_URL: db.url });

async function historySchemaExists(): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'etl_info_schema'`);
  return r.rowCount === 1;
}

/** Four loads, oldest first: succeeded, succeeded with bad rows and duplicates, failed, dry run. */
async function history() {
  const first = await syncCsv(db, day1);
  const second = await syncCsv(db, messy, { maxErrors: '5' });
  const failure = await syncCsv(db, 'email,full_name\nbad,B\nworse,C\n').then(
    () => expect.fail('a file of bad rows must fail with --max-errors 0'),
    (error: unknown) => error as SyncFailedError,
  );
  expect(failure).toBeInstanceOf(SyncFailedError);
  const dry = await syncCsv(db, day1, { dryRun: true });
  return { first, second, failedId: failure.loadId!, dry };
}

describe('etl status on a database without history', () => {
  it('says no syncs are recorded, exits 0 and creates nothing', async () => {
    const text = await cli();
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('no syncs recorded yet (run etl sync or etl migrate)\n');
    const json = await cli('--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ loads: [], recorded: false });
    expect(json.stderr).toContain('no syncs recorded yet (run etl sync or etl migrate)');
    expect(await historySchemaExists()).toBe(false);
  });

  it('does not initialise an embedded server just to find nothing recorded', async () => {
    const cwd = tempDir('status-cwd');
    const dir = join(cwd, 'never-created');
    const r = await runCli(['status', '--embedded-dir', dir], {}, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no syncs recorded yet (run etl sync or etl migrate)\n');
    expect(existsSync(dir)).toBe(false);
  });

  it('exits 1 for a load id when nothing is recorded', async () => {
    const r = await cli('--load', '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/load 3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11 not found: no syncs recorded yet/u);
    expect(await historySchemaExists()).toBe(false);
  });

  it('reports an empty history after etl migrate', async () => {
    expect((await runCli(['migrate'], { DATABASE_URL: db.url })).code).toBe(0);
    const r = await cli();
    expect(r).toMatchObject({ code: 0, stdout: 'no loads recorded\n' });
    expect(JSON.parse((await cli('--json')).stdout)).toEqual({ loads: [], recorded: true });
  });
});

describe('etl status', () => {
  it('lists recent loads newest first with status, times, counts, dry-run flag and error', async () => {
    const { first, second, failedId, dry } = await history();
    const r = await cli('--json');
    expect(r.code).toBe(0);
    const { loads } = JSON.parse(r.stdout) as { loads: Record<string, unknown>[] };
    expect(loads.map((l) => l.load_id)).toEqual([dry.loadId, failedId, second.loadId, first.loadId]);
    expect(loads[3]).toMatchObject({
      table: 'followers',
      status: 'succeeded',
      dry_run: false,
      rows_read: 3,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 0,
      duplicates: 0,
      error: null,
      pid: expect.any(Number),
    });
    expect(loads[2]).toMatchObject({
      status: 'succeeded',
      rows_read: 6,
      rejected: 3,
      duplicates: 1,
      inserted: 1,
      updated: 1,
      deleted: 2,
    });
    expect(loads[1]).toMatchObject({ status: 'failed', rejected: 2, inserted: 0 });
    expect(loads[1].error).toMatch(/more than 0 bad row\(s\).*line 2/u);
    expect(loads[0]).toMatchObject({
      status: 'succeeded',
      dry_run: true,
      rows_read: 3,
      inserted: 2,
      updated: 1,
      unchanged: 0,
      deleted: 1,
    });
    for (const l of loads) {
      expect(l.load_id).toMatch(UUID);
      expect(new Date(l.finished_at as string).getTime()).toBeGreaterThanOrEqual(
        new Date(l.started_at as string).getTime(),
      );
      expect(l.duration_ms).toBeGreaterThanOrEqual(0);
      expect(l.source).toMatch(/input\.csv$/u);
    }
  });

  it('prints an aligned table with each error under its load', async () => {
    const { first, failedId, dry } = await history();
    const r = await cli();
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^LOAD ID {31}TABLE {6}STATUS +STARTED \(UTC\) +DURATION +READ +INSERTED +UPDATED +UNCHANGED +DELETED +REJECTED +DUPLICATES +SOURCE$/u,
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^${dry.loadId}  followers  succeeded \\(dry run\\) +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  \\S+ +3 +2 +1 +0 +1 +0 +0  \\S+input\\.csv$`,
        'u',
      ),
    );
    expect(lines[2]).toMatch(new RegExp(`^${failedId}  followers  failed `, 'u'));
    expect(lines[3]).toMatch(/^ {2}error: .*more than 0 bad row\(s\)/u);
    expect(lines.at(-1)).toMatch(new RegExp(`^${first.loadId}  followers  succeeded `, 'u'));
    expect(lines).toHaveLength(6);
    // Every load's source starts where the header's SOURCE does.
    const sourceColumn = lines[0].indexOf('SOURCE');
    for (const row of [lines[1], lines[2], lines[4], lines[5]])
      expect(row.slice(sourceColumn)).toMatch(/^\/\S+input\.csv$/u);
    expect(lines.filter((l) => l.startsWith('  error:'))).toHaveLength(1);
  });

  it('limits the list and filters it by table', async () => {
    const { failedId, dry } = await history();
    const two = JSON.parse((await cli('--json', '--limit', '2')).stdout) as { loads: { load_id: string }[] };
    expect(two.loads.map((l) => l.load_id)).toEqual([dry.loadId, failedId]);
    expect(JSON.parse((await cli('--json', '--table', 'followers')).stdout).loads).toHaveLength(4);
    const other = await cli('--table', 'invoices');
    expect(other).toMatchObject({ code: 0, stdout: 'no loads recorded for table "invoices"\n' });
  });

  it('shows one load in detail', async () => {
    const { second } = await history();
    const r = await cli('--load', second.loadId);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`load      ${second.loadId}\n`);
    expect(r.stdout).toMatch(/^status {4}succeeded$/mu);
    expect(r.stdout).toMatch(/^dry run {3}no$/mu);
    expect(r.stdout).toMatch(
      /^rows {6}read 6 {2}staged 3 {2}inserted 1 {2}updated 1 {2}unchanged 0 {2}deleted 2 {2}rejected 3 {2}duplicates 1$/mu,
    );
    expect(r.stdout).toContain(`bad rows  3; list them with: etl status --load ${second.loadId} --rejects`);
    const json = JSON.parse((await cli('--load', second.loadId.toUpperCase(), '--json')).stdout);
    expect(json.load).toMatchObject({ load_id: second.loadId, rows_read: 6, rejected: 3, duplicates: 1 });
  });

  it('lists the bad rows of a load in line order with reason and raw text', async () => {
    const { second } = await history();
    const r = await cli('--load', second.loadId, '--rejects');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^load ${second.loadId} of followers \\(succeeded, started .* UTC, .*input\\.csv\\): 3 bad row\\(s\\)$`,
        'u',
      ),
    );
    expect(lines.slice(1)).toEqual([
      'LINE  REASON                                           RAW',
      '   3  email "not-an-email" must contain exactly one @  "not-an-email,X"',
      '   5  email is empty                                   ",Nobody"',
      '   6  expected 2 fields, found 3                       "bob@example.com,Bob,extra"',
    ]);
    const json = JSON.parse((await cli('--load', second.loadId, '--rejects', '--json', '--limit', '2')).stdout);
    expect(json).toEqual({
      load: expect.objectContaining({ load_id: second.loadId }),
      rejects: [
        { line: 3, reason: 'email "not-an-email" must contain exactly one @', raw: 'not-an-email,X' },
        { line: 5, reason: 'email is empty', raw: ',Nobody' },
      ],
      total: 3,
    });
    expect((await cli('--load', second.loadId, '--rejects', '--limit', '1')).stdout).toContain(
      '(the first 1 of 3, by line; use --limit to see more)',
    );
  });

  it('keeps the bad rows of a failed load for inspection', async () => {
    const { failedId, first } = await history();
    const r = await cli('--load', failedId, '--rejects');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(failed, started/u);
    expect(r.stdout).toMatch(/^ {3}2 {2}email "bad" must contain exactly one @ +"bad,B"$/mu);
    expect(r.stdout).toMatch(/^ {3}3 {2}email "worse" must contain exactly one @ +"worse,C"$/mu);
    expect((await cli('--load', first.loadId, '--rejects')).stdout).toMatch(/: no bad rows recorded\n$/u);
  });

  it('shows a load still marked running with its time so far', async () => {
    await runCli(['migrate'], { DATABASE_URL: db.url });
    const id = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
    await db.query(
      `INSERT INTO etl_info_schema.loads (load_id, table_name, source, status, started_at, host, pid)
       VALUES ($1, 'followers', 'big.csv', 'running', now() - interval '90 seconds', 'worker-7', 99)`,
      [id],
    );
    const r = await cli();
    expect(r.stdout).toMatch(new RegExp(`^${id}  followers  running +\\S+ \\S+  1m3\\ds so far `, 'mu'));
    const detail = await cli('--load', id, '--json');
    expect(JSON.parse(detail.stdout).load).toMatchObject({
      status: 'running',
      finished_at: null,
      host: 'worker-7',
      pid: 99,
    });
    expect(JSON.parse(detail.stdout).load.duration_ms).toBeGreaterThanOrEqual(90_000);
  });

  it('reads the database from PG* variables like sync does', async () => {
    await syncCsv(db, day1);
    const u = new URL(db.url);
    const r = await runCli(['status', '--json'], {
      PGHOST: u.hostname,
      PGPORT: u.port || '5432',
      PGUSER: decodeURIComponent(u.username),
      PGPASSWORD: decodeURIComponent(u.password) || undefined,
      PGDATABASE: u.pathname.slice(1),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).loads).toHaveLength(1);
  });
});

describe('etl status errors', () => {
  it('exits 1 naming an unknown load, with a JSON error under --json', async () => {
    await history();
    const id = '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11';
    const r = await cli('--load', id);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `etl error: load ${id} not found in etl_info_schema.loads (see etl status for recent loads)`,
    );
    const rejects = await cli('--load', id, '--rejects', '--json');
    expect(rejects.code).toBe(1);
    expect(JSON.parse(rejects.stdout)).toMatchObject({ code: 'ETL_LOAD_NOT_FOUND', load_id: id });
  });

  it.each([
    [['--load', 'not-a-uuid'], /--load "not-a-uuid" is not a load id; load ids are UUIDs/u],
    [['--rejects'], /--rejects lists the bad rows of one load: add --load ID/u],
    [['--limit', '0'], /--limit.*use a whole number of at least 1/u],
    [['--limit', '2000000'], /--limit 2000000 is out of range/u],
    [['--table', 'followers', '--load', '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11'], /cannot be used with option '--load/u],
  ])('exits 2 for a usage mistake: %s', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await historySchemaExists()).toBe(false);
  });
});

describe('status() and loadRejects() (library)', () => {
  it('return the recorded loads and bad rows, and refuse unknown or malformed ids', async () => {
    const setting = { kind: 'url', url: db.url } as const;
    expect(await status(setting)).toEqual({ recorded: false, loads: [] });
    expect(await historySchemaExists()).toBe(false);
    const { second, dry } = await history();
    const recent = await status(setting, { table: 'followers', limit: 1 });
    expect(recent.recorded).toBe(true);
    expect(recent.loads).toHaveLength(1);
    expect(recent.loads[0]).toMatchObject({ loadId: dry.loadId, dryRun: true, status: 'succeeded' });
    expect(recent.loads[0].startedAt).toBeInstanceOf(Date);
    const bad = await loadRejects(setting, second.loadId, { limit: 10 });
    expect(bad.total).toBe(3);
    expect(bad.rejects.map((x) => x.line)).toEqual([3, 5, 6]);
    expect(bad.load.counts).toMatchObject({ read: 6, rejected: 3, duplicates: 1 });
    await expect(loadRejects(setting, '3f0c5a4e-8d1b-4c57-9a53-0f7d2b9c6e11')).rejects.toBeInstanceOf(
      LoadNotFoundError,
    );
    await expect(status(setting, { loadId: 'nope' })).rejects.toBeInstanceOf(ConfigError);
  });
});
