/**
 * One benchmark run: for each size, generate (or reuse) the files, then repeat the four timings
 * (initial and next-day, reference and etl), alternating which pipeline goes first, each in a fresh
 * database that is dropped afterwards.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
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
import { cleanEtlEnv, runEtlMigrate, runEtlSync, type EtlContext } from './etl-process.js';
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

interface BenchCase {
  name: CaseName;
  file: string;
  fileRows: number;
  expected: { rows: number; checksum: string };
  /** Loaded (untimed) before the timed run: the day-1 file for the next-day case. */
  before?: string;
  /** Extra flags for the timed etl sync of this case. */
  etlFlags?: readonly string[];
}

interface Timed {
  measured: Measured;
  etl?: RunRecord['etl'];
}

/** What the runner needs of a pipeline: set up an empty target, load untimed, run timed. */
interface PipelineOps {
  prepare(url: string): Promise<void>;
  load(file: string, url: string): Promise<void>;
  timed(file: string, url: string, nodeOptions?: string[], etlFlags?: readonly string[]): Promise<Timed>;
}

function pipelines(reference: ReferenceContext, etl: EtlContext): Record<Pipeline, PipelineOps> {
  return {
    reference: {
      prepare: async (url) => void (await query(url, FOLLOWERS_DDL)),
      load: async (file, url) => void (await runReference(file, url, reference)),
      timed: async (file, url) => ({ measured: await runReference(file, url, reference) }),
    },
    etl: {
      prepare: (url) => runEtlMigrate(url, etl),
      load: async (file, url) => void (await runEtlSync(file, url, etl)),
      timed: async (file, url, nodeOptions, etlFlags) => {
        const run = await runEtlSync(file, url, etl, nodeOptions, etlFlags);
        return {
          measured: run,
          etl: { duration_ms: run.summary.durationMs, counts: run.summary.counts, phases: run.summary.phases },
        };
      },
    },
  };
}

function casesOf(data: DataSet): BenchCase[] {
  return [
    {
      name: 'initial',
      file: data.day1.path,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
    },
    {
      name: 'next-day',
      file: data.day2.path,
      fileRows: data.day2.rows,
      expected: { rows: data.day2.rows, checksum: data.day2.checksum },
      before: data.day1.path,
    },
    {
      name: 'same-file',
      file: data.day1.path,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
      before: data.day1.path,
    },
    {
      name: 'if-changed',
      file: data.day1.path,
      fileRows: data.day1.rows,
      expected: { rows: data.day1.rows, checksum: data.day1.checksum },
      before: data.day1.path,
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
    const db = await scratch.create(`${c.name.replace('-', '')}_${pipeline === 'reference' ? 'ref' : 'etl'}_${label}`);
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
      const timed = await op.timed(c.file, db.url, nodeOptions, c.etlFlags);
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
      const runs = new Map<string, RunRecord[]>(
        cases.flatMap((c) => [
          [`${c.name}/reference`, []],
          [`${c.name}/etl`, []],
        ]),
      );

      for (let rep = 1; rep <= options.repeat; rep += 1) {
        const order: Pipeline[] = rep % 2 === 1 ? ['reference', 'etl'] : ['etl', 'reference'];
        for (const c of cases) {
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
        const result: CaseResult = {
          case: c.name,
          file: c.file,
          file_rows: c.fileRows,
          expected: c.expected,
          reference,
          etl,
          ratio: round(etl.median_wall_s / reference.median_wall_s, 3),
          same_content: [...reference.runs, ...etl.runs].every((r) => r.content_ok),
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

  const cpu = cpus();
  return {
    benchmark: 'etl-sync-vs-psql',
    format: 1,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    machine: {
      cpus: cpu.length,
      cpu_model: cpu[0]?.model.trim() ?? 'unknown',
      memory_mib: Math.round(totalmem() / 1048576),
      os: `${osType()} ${release()}`,
      node: process.version,
      load_average_1m: { start: round(loadAtStart, 2), end: round(loadavg()[0], 2) },
    },
    postgres: {
      version: server.version,
      server: server.description,
      kind: server.kind,
      scratch_prefix: scratch.prefix,
    },
    settings: {
      rows: [...options.rows],
      seed: options.seed,
      repeat: options.repeat,
      etl_flags: [...options.etlFlags],
      rss_method: rssMethod,
      profile: options.profile,
    },
    sizes,
    growth: growthOf(sizes),
    ok: sizes.every((s) => s.cases.every((c) => c.same_content)),
  };
}
