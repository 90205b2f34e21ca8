/**
 * `npm run bench -- --loader-memory 5000000`: the loader's memory check. The records-from-code
 * program writes that many generated followers (day 1 of the benchmark's data, one awaited write
 * per record) into an empty table and commits, in its own measured process, --repeat times, each in
 * a fresh database. Its peak RSS is held against the bound a file sync keeps; every run's table is
 * checked against the generated rows' checksum. No files and no reference: nothing else is timed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentChecksum } from './csv-file.js';
import { followersContent, ScratchDatabases } from './database.js';
import { day1Rows } from './dataset.js';
import { cleanEtlEnv, runEtlMigrate, type EtlContext } from './etl-process.js';
import { runLoaderProgram } from './loader-process.js';
import { resultHeader } from './machine.js';
import { detectRssMethod } from './measure.js';
import type { BenchOptions } from './options.js';
import { MEMORY_BOUND_MIB, type BenchResult, type RunRecord } from './results.js';
import type { BenchEnvironment } from './runner.js';
import { maxOrNull, round } from './stats.js';

export interface LoaderMemoryRun {
  repetition: number;
  wall_s: number;
  peak_rss_kib: number | null;
  cpu_s: number | null;
  /** followers after the run: row count and content checksum. */
  rows_after: number;
  checksum: string;
  content_ok: boolean;
  etl: NonNullable<RunRecord['etl']>;
}

export interface LoaderMemoryResult {
  benchmark: 'etl-loader-memory';
  format: 1;
  started_at: string;
  finished_at: string;
  machine: BenchResult['machine'];
  postgres: { version: string; server: string; kind: 'url' | 'embedded'; scratch_prefix: string };
  settings: { records: number; seed: number; repeat: number; etl_flags: string[]; rss_method: string };
  bound_mib: number;
  runs: LoaderMemoryRun[];
  max_peak_rss_mib: number | null;
  /** Every run stayed under the bound; null when peak RSS could not be measured. */
  within_bound: boolean | null;
  /** Every run left the expected table and stayed under the bound. */
  ok: boolean;
}

export async function runLoaderMemory(
  records: number,
  options: BenchOptions,
  environment: BenchEnvironment,
): Promise<LoaderMemoryResult> {
  const { server, log, signal } = environment;
  const startedAt = new Date();
  const loadAtStart = loadavg()[0];
  const rssMethod = await detectRssMethod();
  const scratch = new ScratchDatabases(server.url, log);
  const workDir = await mkdtemp(join(tmpdir(), 'etl-bench-'));
  const context: EtlContext = {
    env: cleanEtlEnv(environment.env),
    cwd: workDir,
    rssMethod,
    flags: [...options.etlFlags],
  };
  const runs: LoaderMemoryRun[] = [];
  try {
    log(`computing the checksum of ${records} generated records`);
    const expected = contentChecksum(day1Rows(options.seed, records));
    for (let rep = 1; rep <= options.repeat; rep += 1) {
      if (signal?.aborted) throw new Error('interrupted');
      const db = await scratch.create(`loadermemory_r${rep}`);
      try {
        await runEtlMigrate(db.url, context);
        await scratch.checkpoint();
        const run = await runLoaderProgram({ rows: records, seed: options.seed, day: 1 }, db.url, context);
        const content = await followersContent(db.url);
        const s = run.summary;
        runs.push({
          repetition: rep,
          wall_s: round(run.wallMs / 1000, 3),
          peak_rss_kib: run.peakRssKb,
          cpu_s: run.cpuS,
          rows_after: content.rows,
          checksum: content.checksum,
          content_ok: content.rows === expected.rows && content.checksum === expected.checksum,
          etl: { duration_ms: s.durationMs, counts: s.counts, phases: s.phases },
        });
        const rss = run.peakRssKb === null ? 'n/a' : `${Math.round(run.peakRssKb / 1024)} MiB`;
        log(
          `${records} records from code, run ${rep}/${options.repeat}: ${(run.wallMs / 1000).toFixed(2)} s, peak RSS ${rss}`,
        );
      } finally {
        await scratch.drop(db.name);
      }
    }
  } finally {
    await scratch.dropAll();
    await rm(workDir, { recursive: true, force: true });
  }
  const maxKib = maxOrNull(runs.map((r) => r.peak_rss_kib));
  const measured = runs.every((r) => r.peak_rss_kib !== null);
  const within = measured ? runs.every((r) => r.peak_rss_kib! <= MEMORY_BOUND_MIB * 1024) : null;
  return {
    benchmark: 'etl-loader-memory',
    format: 1,
    ...resultHeader(startedAt, loadAtStart, server, scratch.prefix),
    settings: {
      records,
      seed: options.seed,
      repeat: options.repeat,
      etl_flags: [...options.etlFlags],
      rss_method: rssMethod,
    },
    bound_mib: MEMORY_BOUND_MIB,
    runs,
    max_peak_rss_mib: maxKib === null ? null : round(maxKib / 1024, 1),
    within_bound: within,
    ok: within === true && runs.every((r) => r.content_ok),
  };
}
