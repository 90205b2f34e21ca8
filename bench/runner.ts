/**
 * One benchmark run: for each size, generate (or reuse) the files, then repeat the timings of each
 * case (reference and etl sync; in the initial and next-day cases also the same records written
 * from code through the loader), alternating which pipeline goes first, each in a fresh database
 * that is dropped afterwards.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfiles } from './cpu-profile.js';
import { prepareData, removeFiles, type DataSet } from './data-files.js';
import {
  FOLLOWERS_DDL,
  followersContent,
  followersWrites,
  query,
  ScratchDatabases,
  settleFollowers,
  type Server,
} from './database.js';
import { cleanEtlEnv, runEtlMigrate, runEtlSync, type EtlContext, type EtlRun } from './etl-process.js';
import { runLoaderProgram, type GeneratedRecords } from './loader-process.js';
import { resultHeader } from './machine.js';
import { detectRssMethod, type Measured, type RssMethod } from './measure.js';
import type { BenchOptions } from './options.js';
import { runReference, type ReferenceContext } from './reference.js';
import {
  growthOf,
  summarize,
  type BenchResult,
  type CaseName,
  type CaseResult,
  type Pipeline,
  type ProfileResult,
  type RunRecord,
  type SizeResult,
} from './results.js';
import { round } from './stats.js';

export interface BenchEnvironment {
  server: Server;
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
  /** Checked between steps: a Ctrl-C stops the run after the current step. */
  signal?: AbortSignal;
}

/** What a case feeds a pipeline: the CSV file, or for the loader the same rows, generated. */
interface Input {
  file: string;
  records: GeneratedRecords;
}

interface BenchCase {
  name: CaseName;
  input: Input;
  fileRows: number;
  expected: { rows: number; checksum: string };
  /** Loaded (untimed) before the timed run: day 1 for the next-day case. */
  before?: Input;
  /** Extra flags for the timed etl sync of this case. */
  etlFlags?: readonly string[];
  /** Also timed with the records written from code (unless --no-loader). */
  loader?: boolean;
}

interface Timed {
  measured: Measured;
  etl?: RunRecord['etl'];
}

/** What the runner needs of a pipeline: set up an empty target, load untimed, run timed. */
interface PipelineOps {
  prepare(url: string): Promise<void>;
  load(input: Input, url: string): Promise<void>;
  timed(c: BenchCase, url: string, nodeOptions?: string[]): Promise<Timed>;
}

function timedEtl(run: EtlRun): Timed {
  return {
    measured: run,
    etl: { duration_ms: run.summary.durationMs, counts: run.summary.counts, phases: run.summary.phases },
  };
}

function pipelines(reference: ReferenceContext, etl: EtlContext): Record<Pipeline, PipelineOps> {
  return {
    reference: {
      prepare: async (url) => void (await query(url, FOLLOWERS_DDL)),
      load: async (input, url) => void (await runReference(input.file, url, reference)),
      timed: async (c, url) => ({ measured: await runReference(c.input.file, url, reference) }),
    },
    etl: {
      prepare: (url) => runEtlMigrate(url, etl),
      load: async (input, url) => void (await runEtlSync(input.file, url, etl)),
      timed: async (c, url, nodeOptions) => timedEtl(await runEtlSync(c.input.file, url, etl, nodeOptions, c.etlFlags)),
    },
    loader: {
      prepare: (url) => runEtlMigrate(url, etl),
      load: async (input, url) => void (await runLoaderProgram(input.records, url, etl)),
      timed: async (c, url, nodeOptions) => timedEtl(await runLoaderProgram(c.input.records, url, etl, nodeOptions)),
    },
  };
}

const DB_LABEL: Record<Pipeline, string> = { reference: 'ref', etl: 'etl', loader: 'code' };

function casesOf(data: DataSet): BenchCase[] {
  const rows = data.plan.day1Rows;
  const day1: Input = { file: data.day1.path, records: { rows, seed: data.seed, day: 1 } };
  const day2: Input = { file: data.day2.path, records: { rows, seed: data.seed, day: 2 } };
  return [
    {
      name: 'initial',
      input: day1,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
      loader: true,
    },
    {
      name: 'next-day',
      input: day2,
      fileRows: data.day2.rows,
      expected: { rows: data.day2.rows, checksum: data.day2.checksum },
      before: day1,
      loader: true,
    },
    {
      name: 'same-file',
      input: day1,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
      before: day1,
    },
    {
      name: 'if-changed',
      input: day1,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
      before: day1,
      etlFlags: ['--if-changed'],
    },
  ];
}

export async function runBench(options: BenchOptions, environment: BenchEnvironment): Promise<BenchResult> {
  const { server, log, signal } = environment;
  const startedAt = new Date();
  const loadAtStart = loadavg()[0];
  const rssMethod: RssMethod = await detectRssMethod();
  const scratch = new ScratchDatabases(server.url, log);
  const workDir = await mkdtemp(join(tmpdir(), 'etl-bench-'));
  const ops = pipelines(
    { scriptDir: workDir, env: environment.env, rssMethod },
    { env: cleanEtlEnv(environment.env), cwd: workDir, rssMethod, flags: [...options.etlFlags] },
  );
  const checkAbort = () => {
    if (signal?.aborted) throw new Error('interrupted');
  };

  /** One run of one pipeline on one case, in its own database. */
  async function runOnce(
    pipeline: Pipeline,
    c: BenchCase,
    label: string,
    nodeOptions?: string[],
  ): Promise<Timed & { content: { rows: number; checksum: string }; writes: RunRecord['writes'] }> {
    const db = await scratch.create(`${c.name.replace('-', '')}_${DB_LABEL[pipeline]}_${label}`);
    try {
      const op = ops[pipeline];
      await op.prepare(db.url);
      if (c.before) {
        await op.load(c.before, db.url);
        await settleFollowers(db.url);
      }
      await scratch.checkpoint();
      checkAbort();
      const before = await followersWrites(db.url);
      const timed = await op.timed(c, db.url, nodeOptions);
      const after = await followersWrites(db.url);
      const writes = {
        inserted: after.inserted - before.inserted,
        updated: after.updated - before.updated,
        deleted: after.deleted - before.deleted,
        bytes_before: before.bytes,
        bytes_after: after.bytes,
      };
      return { ...timed, content: await followersContent(db.url), writes };
    } finally {
      await scratch.drop(db.name);
    }
  }

  const sizes: SizeResult[] = [];
  const created: string[] = [];
  try {
    for (const rows of options.rows) {
      const data = await prepareData(options.dataDir, options.seed, rows, log);
      created.push(...data.created);
      const cases = casesOf(data).filter((c) => options.cases.includes(c.name));
      const pipelinesOf = (c: BenchCase): Pipeline[] =>
        c.loader && options.loader ? ['reference', 'etl', 'loader'] : ['reference', 'etl'];
      const runs = new Map<string, RunRecord[]>(
        cases.flatMap((c) => pipelinesOf(c).map((p): [string, RunRecord[]] => [`${c.name}/${p}`, []])),
      );

      for (let rep = 1; rep <= options.repeat; rep += 1) {
        for (const c of cases) {
          const order = rep % 2 === 1 ? pipelinesOf(c) : pipelinesOf(c).reverse();
          for (const pipeline of order) {
            checkAbort();
            const run = await runOnce(pipeline, c, `r${rep}`);
            const record: RunRecord = {
              repetition: rep,
              wall_s: round(run.measured.wallMs / 1000, 3),
              peak_rss_kib: run.measured.peakRssKb,
              cpu_s: run.measured.cpuS,
              rows_after: run.content.rows,
              checksum: run.content.checksum,
              content_ok: run.content.rows === c.expected.rows && run.content.checksum === c.expected.checksum,
              writes: run.writes,
              load_1m: round(loadavg()[0], 2),
              ...(run.etl ? { etl: run.etl } : {}),
            };
            runs.get(`${c.name}/${pipeline}`)!.push(record);
            const rss = record.peak_rss_kib === null ? '' : `, peak RSS ${Math.round(record.peak_rss_kib / 1024)} MiB`;
            log(
              `${rows} rows, repetition ${rep}/${options.repeat}, ${c.name}, ${pipeline}: ${record.wall_s.toFixed(2)} s${rss}${record.content_ok ? '' : ' -- WRONG CONTENT'}`,
            );
          }
        }
      }

      const results: CaseResult[] = [];
      for (const c of cases) {
        const reference = summarize(runs.get(`${c.name}/reference`)!, c.fileRows, 'reference');
        const etl = summarize(runs.get(`${c.name}/etl`)!, c.fileRows, 'etl');
        const loaderRuns = runs.get(`${c.name}/loader`);
        const loader = loaderRuns && summarize(loaderRuns, c.fileRows, 'loader');
        const result: CaseResult = {
          case: c.name,
          file: c.input.file,
          file_rows: c.fileRows,
          expected: c.expected,
          reference,
          etl,
          ratio: round(etl.median_wall_s / reference.median_wall_s, 3),
          ...(loader ? { loader, loader_ratio: round(loader.median_wall_s / reference.median_wall_s, 3) } : {}),
          same_content: [...reference.runs, ...etl.runs, ...(loader?.runs ?? [])].every((r) => r.content_ok),
        };
        if (options.profile) {
          checkAbort();
          result.profile = await profileRun(c, rows);
        }
        results.push(result);
      }
      const nextDay = results.find((r) => r.case === 'next-day');
      for (const r of results)
        if (nextDay && (r.case === 'same-file' || r.case === 'if-changed'))
          r.ratio_to_next_day_reference = round(r.etl.median_wall_s / nextDay.reference.median_wall_s, 3);
      sizes.push({
        rows,
        plan: data.plan,
        files: {
          day1: { path: data.day1.path, bytes: data.day1.bytes },
          day2: { path: data.day2.path, bytes: data.day2.bytes },
        },
        cases: results,
      });
    }
  } finally {
    await scratch.dropAll();
    await rm(workDir, { recursive: true, force: true });
    if (!options.keepData) await removeFiles(created);
  }

  async function profileRun(c: BenchCase, rows: number): Promise<ProfileResult> {
    const dir = join(options.dataDir, 'profiles', `${rows}-${c.name}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    log(`${rows} rows, ${c.name}: profiling one etl sync (untimed) into ${dir}`);
    const run = await runOnce('etl', c, 'prof', ['--cpu-prof', '--cpu-prof-dir', dir]);
    return { dir, wall_s: round(run.measured.wallMs / 1000, 3), threads: await summarizeProfiles(dir) };
  }

  return {
    benchmark: 'etl-sync-vs-psql',
    format: 1,
    ...resultHeader(startedAt, loadAtStart, server, scratch.prefix),
    settings: {
      rows: [...options.rows],
      seed: options.seed,
      repeat: options.repeat,
      etl_flags: [...options.etlFlags],
      rss_method: rssMethod,
      profile: options.profile,
      loader: options.loader,
    },
    sizes,
    growth: growthOf(sizes),
    ok: sizes.every((s) => s.cases.every((c) => c.same_content)),
  };
}
