/**
 * `npm run bench:parquet -- <postgres admin URL> [rows]`: the same generated followers data (1M rows
 * by default) as a Parquet file (zstd, row groups of 100,000 rows, written by DuckDB) and as a CSV
 * file, each synced by `etl sync` into a fresh scratch database; prints wall time, etl's own
 * duration, rows per second and peak RSS of each. Scratch databases and files are removed after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { cleanEtlEnv, runEtlSync } from './etl-process.js';
import { detectRssMethod } from './measure.js';

const [adminUrl, rowsArg] = process.argv.slice(2);
if (!adminUrl) {
  process.stderr.write('usage: npm run bench:parquet -- postgres://user@host:5432/db [rows]\n');
  process.exit(2);
}
const rows = Number(rowsArg ?? 1_000_000);

async function writeFiles(dir: string): Promise<{ parquet: string; csv: string }> {
  const parquet = join(dir, 'followers.parquet');
  const csv = join(dir, 'followers.csv');
  const query = `SELECT 'user' || i || '@example.com' AS email, 'Name ' || i || ' ' || repeat('x', (i % 23)::INTEGER + 1) AS full_name FROM range(${rows}) t(i)`;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${query}) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)`);
    await connection.run(`COPY (${query}) TO '${csv}' (FORMAT csv, HEADER true)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { parquet, csv };
}

async function withScratchDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `etl_bench_parquet_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await work(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'etl-bench-parquet-'));
try {
  const files = await writeFiles(dir);
  const context = { env: cleanEtlEnv(process.env), cwd: dir, rssMethod: await detectRssMethod(), flags: [] };
  process.stdout.write(`${rows} rows, etl sync into an empty followers table (peak RSS by ${context.rssMethod})\n`);
  for (const [format, file] of Object.entries(files)) {
    const run = await withScratchDatabase((url) => runEtlSync(file, url, context));
    const size = (await stat(file)).size / (1 << 20);
    const seconds = run.summary.durationMs / 1000;
    process.stdout.write(
      `${format.padEnd(8)} ${size.toFixed(1).padStart(7)} MiB  wall ${(run.wallMs / 1000).toFixed(1)} s  sync ${seconds.toFixed(1)} s  ` +
        `${Math.round(run.summary.counts.rows_read / seconds)} rows/s  peak RSS ${run.peakRssKb === null ? '?' : Math.round(run.peakRssKb / 1024)} MiB\n`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
