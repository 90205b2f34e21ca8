import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentChecksum } from '../../bench/csv-file.js';
import { day1Rows, day2Rows, nextDayPlan } from '../../bench/dataset.js';
import type { LoaderMemoryResult } from '../../bench/loader-memory.js';
import type { BenchResult, CaseResult } from '../../bench/results.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const root = resolve(import.meta.dirname, '..', '..');
const benchMain = join(root, 'dist-bench', 'bench', 'main.js');
const ROWS = 2000;
const SEED = 3;

let db: TestDatabase;
let dataDir: string;
let exitCode: number | null;
let stderr: string;
let result: BenchResult;

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('PG') && k !== 'DATABASE_URL') env[k] = v;
  const child = spawn(process.execPath, [benchMain, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise) =>
    child.on('close', (code) => resolvePromise({ code, stdout: out, stderr: err })),
  );
}

beforeAll(async () => {
  if (!existsSync(benchMain)) throw new Error(`${benchMain} is missing: run npm run build first`);
  db = await createTestDatabase('etl_bench');
  dataDir = mkdtempSync(join(tmpdir(), 'etl-bench-test-'));
  const run = await runBench([
    '--rows',
    String(ROWS),
    '--repeat',
    '1',
    '--seed',
    String(SEED),
    '--json',
    '--database-url',
    db.url,
    '--data-dir',
    dataDir,
  ]);
  exitCode = run.code;
  stderr = run.stderr;
  if (run.code !== 0) throw new Error(`the bench exited with ${run.code}:\n${run.stderr}\n${run.stdout}`);
  result = JSON.parse(run.stdout) as BenchResult;
});

afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function caseOf(name: string): CaseResult {
  const c = result.sizes[0].cases.find((x) => x.case === name);
  if (!c) throw new Error(`no ${name} case in ${JSON.stringify(result.sizes[0]?.cases.map((x) => x.case))}`);
  return c;
}

describe('npm run bench --rows 2000 --repeat 1 --json', () => {
  it('succeeds and reports one size with its four cases, each timed for both pipelines', () => {
    expect(exitCode, stderr).toBe(0);
    expect(result).toMatchObject({ benchmark: 'etl-sync-vs-psql', format: 1, ok: true, growth: [] });
    expect(result.settings).toMatchObject({ rows: [ROWS], seed: SEED, repeat: 1, loader: true });
    expect(result.postgres.kind).toBe('url');
    expect(result.sizes).toHaveLength(1);
    expect(result.sizes[0].cases.map((c) => c.case)).toEqual(['initial', 'next-day', 'same-file', 'if-changed']);
    for (const c of result.sizes[0].cases) {
      for (const p of [c.reference, c.etl]) {
        expect(p.runs).toHaveLength(1);
        expect(p.median_wall_s).toBeGreaterThan(0);
        expect(p.median_wall_s).toBe(p.runs[0].wall_s);
        expect(p.rows_per_s).toBe(Math.round(c.file_rows / p.median_wall_s));
      }
      expect(c.ratio).toBeCloseTo(c.etl.median_wall_s / c.reference.median_wall_s, 2);
      expect(c.etl.median_reported_s).toBeGreaterThan(0);
      const phases = c.etl.phases_median_ms;
      if (phases !== null) for (const ms of Object.values(phases!)) expect(typeof ms).toBe('number');
    }
  });

  it('measures the peak RSS and CPU time of the etl process', () => {
    for (const c of result.sizes[0].cases) {
      expect(c.etl.runs[0].cpu_s).toBeGreaterThan(0);
      expect(c.etl.median_cpu_s).toBe(c.etl.runs[0].cpu_s);
      // a Node process with worker threads never fits in 10 MiB; a wrong unit (bytes, pages) would show
      expect(c.etl.runs[0].peak_rss_kib).toBeGreaterThan(10 * 1024);
      expect(c.etl.median_peak_rss_mib).toBeCloseTo(c.etl.runs[0].peak_rss_kib! / 1024, 0);
    }
  });

  it('leaves the same followers with both pipelines: the generated rows, checked in the database', () => {
    const expected = {
      initial: contentChecksum(day1Rows(SEED, ROWS)),
      'next-day': contentChecksum(day2Rows(SEED, ROWS)),
      'same-file': contentChecksum(day1Rows(SEED, ROWS)),
      'if-changed': contentChecksum(day1Rows(SEED, ROWS)),
    };
    for (const name of ['initial', 'next-day', 'same-file', 'if-changed'] as const) {
      const c = caseOf(name);
      const ref = c.reference.runs[0];
      const etl = c.etl.runs[0];
      expect(etl.rows_after).toBe(ref.rows_after);
      expect(etl.checksum).toBe(ref.checksum);
      expect({ rows: ref.rows_after, checksum: ref.checksum }).toEqual(expected[name]);
      expect(c.same_content).toBe(true);
    }
  });

  it('times the initial load into an empty table and the next-day sync into the day-1 table', () => {
    const plan = nextDayPlan(ROWS);
    expect(caseOf('initial').etl.runs[0].etl!.counts).toMatchObject({
      rows_read: ROWS,
      inserted: ROWS,
      updated: 0,
      deleted: 0,
      rejected: 0,
    });
    expect(caseOf('next-day').etl.runs[0].etl!.counts).toMatchObject({
      rows_read: plan.day2Rows,
      inserted: plan.added,
      updated: plan.changed,
      deleted: plan.removed,
      unchanged: plan.kept,
      rejected: 0,
    });
  });

  it('times the same records written from code next to the initial and next-day syncs, against the same reference', () => {
    expect(caseOf('same-file').loader).toBeUndefined();
    expect(caseOf('if-changed').loader).toBeUndefined();
    for (const name of ['initial', 'next-day'] as const) {
      const c = caseOf(name);
      const loader = c.loader!;
      expect(loader.runs).toHaveLength(1);
      expect(loader.median_wall_s).toBe(loader.runs[0].wall_s);
      expect(loader.rows_per_s).toBe(Math.round(c.file_rows / loader.median_wall_s));
      expect(c.loader_ratio).toBeCloseTo(loader.median_wall_s / c.reference.median_wall_s, 2);
      expect(loader.median_reported_s).toBeGreaterThan(0);
      // its own process, measured like etl sync's
      expect(loader.runs[0].cpu_s).toBeGreaterThan(0);
      expect(loader.runs[0].peak_rss_kib).toBeGreaterThan(10 * 1024);
      expect(Object.keys(loader.phases_median_ms ?? {})).toEqual(
        expect.arrayContaining(['setup_ms', 'read_parse_stage_ms', 'generate_ms', 'merge_ms']),
      );
    }
  });

  it('leaves, from the records written from code, the followers the file syncs leave', () => {
    const expected = {
      initial: contentChecksum(day1Rows(SEED, ROWS)),
      'next-day': contentChecksum(day2Rows(SEED, ROWS)),
    };
    for (const name of ['initial', 'next-day'] as const) {
      const run = caseOf(name).loader!.runs[0];
      expect({ rows: run.rows_after, checksum: run.checksum }).toEqual(expected[name]);
      expect(run.checksum).toBe(caseOf(name).reference.runs[0].checksum);
      expect(run.content_ok).toBe(true);
    }
    const plan = nextDayPlan(ROWS);
    expect(caseOf('initial').loader!.runs[0].etl!.counts).toMatchObject({
      rows_read: ROWS,
      inserted: ROWS,
      updated: 0,
      deleted: 0,
      rejected: 0,
    });
    expect(caseOf('next-day').loader!.runs[0].etl!.counts).toMatchObject({
      rows_read: plan.day2Rows,
      inserted: plan.added,
      updated: plan.changed,
      deleted: plan.removed,
      unchanged: plan.kept,
      rejected: 0,
    });
  });

  it('syncs the same file again writing nothing to the table, and skips it with --if-changed', () => {
    const same = caseOf('same-file');
    expect(same.etl.runs[0].etl!.counts).toMatchObject({ rows_read: ROWS, inserted: 0, updated: 0, deleted: 0 });
    expect(same.etl.runs[0].etl!.counts.unchanged).toBe(ROWS);
    const skipped = caseOf('if-changed');
    expect(skipped.etl.runs[0].etl!.counts).toMatchObject({ rows_read: 0, inserted: 0, updated: 0, deleted: 0 });
    for (const c of [same, skipped]) {
      expect(c.etl.runs[0].writes).toMatchObject({ inserted: 0, updated: 0, deleted: 0 });
      expect(c.etl.runs[0].writes.bytes_after).toBe(c.etl.runs[0].writes.bytes_before);
      expect(c.ratio_to_next_day_reference).toBeCloseTo(
        c.etl.median_wall_s / caseOf('next-day').reference.median_wall_s,
        2,
      );
    }
    // the phase breakdown names each merge statement
    expect(Object.keys(caseOf('next-day').etl.phases_median_ms ?? {})).toEqual(
      expect.arrayContaining(['setup_ms', 'read_parse_stage_ms', 'worker_parse_ms', 'worker_copy_ms', 'merge.diff']),
    );
  });

  it('drops its scratch databases and, without --keep-data, its generated files', async () => {
    const left = await db.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
      result.postgres.scratch_prefix,
    ]);
    expect(left.rows).toEqual([]);
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.csv'))).toEqual([]);
  });
});

describe('npm run bench --loader-memory 2000 --repeat 1 --json', () => {
  let memory: LoaderMemoryResult;
  let memoryDb: TestDatabase;

  beforeAll(async () => {
    memoryDb = await createTestDatabase('etl_bench_memory');
    const run = await runBench([
      '--loader-memory',
      String(ROWS),
      '--repeat',
      '1',
      '--seed',
      String(SEED),
      '--json',
      '--database-url',
      memoryDb.url,
    ]);
    if (run.code !== 0) throw new Error(`the memory check exited with ${run.code}:\n${run.stderr}\n${run.stdout}`);
    memory = JSON.parse(run.stdout) as LoaderMemoryResult;
  });

  afterAll(async () => {
    await memoryDb?.drop();
  });

  it('writes the records from code into an empty table and holds the peak RSS against the 250 MB bound', () => {
    expect(memory).toMatchObject({
      benchmark: 'etl-loader-memory',
      bound_mib: 250,
      within_bound: true,
      ok: true,
      settings: { records: ROWS, seed: SEED, repeat: 1 },
    });
    expect(memory.runs).toHaveLength(1);
    const run = memory.runs[0];
    expect(run.content_ok).toBe(true);
    expect({ rows: run.rows_after, checksum: run.checksum }).toEqual(contentChecksum(day1Rows(SEED, ROWS)));
    expect(run.etl.counts).toMatchObject({ rows_read: ROWS, inserted: ROWS, rejected: 0 });
    expect(run.peak_rss_kib).toBeGreaterThan(10 * 1024);
    expect(memory.max_peak_rss_mib).toBeCloseTo(run.peak_rss_kib! / 1024, 0);
  });

  it('drops its scratch databases', async () => {
    const left = await memoryDb.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [memory.postgres.scratch_prefix],
    );
    expect(left.rows).toEqual([]);
  });
});
