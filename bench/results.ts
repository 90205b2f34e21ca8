/**
 * The benchmark's results, shaped as the JSON it writes (snake_case, as etl's own --json output),
 * and the summaries computed from the individual runs.
 */
import type { ThreadProfile } from './cpu-profile.js';
import type { NextDayPlan } from './dataset.js';
import type { EtlCounts } from './etl-process.js';
import { maxOrNull, median, medianOrNull, medianPhases, round } from './stats.js';

/** loader: the same records written from code (openLoader + write + commit) in a program of its own. */
export type Pipeline = 'reference' | 'etl' | 'loader';
/** initial: into an empty table; next-day: day 2 over day 1; same-file: day 1 again; if-changed: the same with etl's --if-changed. */
export type CaseName = 'initial' | 'next-day' | 'same-file' | 'if-changed';

export interface RunRecord {
  repetition: number;
  wall_s: number;
  /** Peak RSS of the process (psql for the reference, node for etl and the loader); null if not measurable. */
  peak_rss_kib: number | null;
  /** User + system CPU seconds of that process (all threads; the server's work is not included). */
  cpu_s: number | null;
  /** followers after the run: row count and content checksum. */
  rows_after: number;
  checksum: string;
  content_ok: boolean;
  /** Row versions the timed run wrote to followers and its size before and after (n_tup_* deltas). */
  writes: { inserted: number; updated: number; deleted: number; bytes_before: number; bytes_after: number };
  /** The machine's 1-minute load average right after the run (other work skews timings). */
  load_1m: number;
  /** etl and loader: what its JSON summary said. */
  etl?: { duration_ms: number; counts: EtlCounts; phases: Record<string, number> | null };
}

export interface PipelineSummary {
  runs: RunRecord[];
  median_wall_s: number;
  rows_per_s: number;
  median_peak_rss_mib: number | null;
  max_peak_rss_mib: number | null;
  median_cpu_s: number | null;
  /** etl and loader: medians of the reported duration and of each phase (null: no phases reported). */
  median_reported_s?: number;
  phases_median_ms?: Record<string, number> | null;
}

export interface ProfileResult {
  dir: string;
  wall_s: number;
  threads: ThreadProfile[];
}

export interface CaseResult {
  case: CaseName;
  file: string;
  file_rows: number;
  expected: { rows: number; checksum: string };
  reference: PipelineSummary;
  etl: PipelineSummary;
  /** etl median / reference median. */
  ratio: number;
  /** initial and next-day, unless --no-loader: the same records written from code. */
  loader?: PipelineSummary;
  /** loader median / reference median (the same reference runs as `ratio`). */
  loader_ratio?: number;
  /** same-file and if-changed: etl median / the reference's next-day median (issue 12's yardstick). */
  ratio_to_next_day_reference?: number;
  /** Every run of every pipeline left exactly the expected followers. */
  same_content: boolean;
  profile?: ProfileResult;
}

export interface SizeResult {
  rows: number;
  plan: NextDayPlan;
  files: { day1: { path: string; bytes: number }; day2: { path: string; bytes: number } };
  cases: CaseResult[];
}

export interface Growth {
  case: CaseName;
  from_rows: number;
  to_rows: number;
  reference: number;
  etl: number;
  loader?: number;
}

export interface BenchResult {
  benchmark: 'etl-sync-vs-psql';
  format: 1;
  started_at: string;
  finished_at: string;
  machine: {
    cpus: number;
    cpu_model: string;
    memory_mib: number;
    os: string;
    node: string;
    /** Other work on the machine skews timings: the 1-minute load average when the run began and ended. */
    load_average_1m: { start: number; end: number };
  };
  postgres: { version: string; server: string; kind: 'url' | 'embedded'; scratch_prefix: string };
  settings: {
    rows: number[];
    seed: number;
    repeat: number;
    etl_flags: string[];
    rss_method: string;
    profile: boolean;
    /** Whether the records-from-code runs were part of it (--no-loader leaves them out). */
    loader: boolean;
  };
  sizes: SizeResult[];
  /** With several sizes: how many times longer each larger size took than the first. */
  growth: Growth[];
  ok: boolean;
}

/** The peak RSS bound of a file sync, which a loader writing records from code must keep too (MB counted as MiB, as the memory tests do). */
export const MEMORY_BOUND_MIB = 250;

const mib = (kib: number | null) => (kib === null ? null : round(kib / 1024, 1));

export function summarize(runs: RunRecord[], fileRows: number, pipeline: Pipeline): PipelineSummary {
  const wall = median(runs.map((r) => r.wall_s));
  const summary: PipelineSummary = {
    runs,
    median_wall_s: round(wall, 3),
    rows_per_s: Math.round(fileRows / wall),
    median_peak_rss_mib: mib(medianOrNull(runs.map((r) => r.peak_rss_kib))),
    max_peak_rss_mib: mib(maxOrNull(runs.map((r) => r.peak_rss_kib))),
    median_cpu_s: medianOrNull(runs.map((r) => r.cpu_s)),
  };
  if (pipeline !== 'reference') {
    summary.median_reported_s = round(median(runs.map((r) => (r.etl?.duration_ms ?? NaN) / 1000)), 3);
    const phases = medianPhases(runs.map((r) => r.etl?.phases ?? null));
    summary.phases_median_ms = phases && Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(v, 1)]));
  }
  return summary;
}

export function growthOf(sizes: readonly SizeResult[]): Growth[] {
  const [first, ...rest] = sizes;
  if (!first) return [];
  return rest.flatMap((size) =>
    size.cases.map((c) => {
      const base = first.cases.find((b) => b.case === c.case)!;
      const growth: Growth = {
        case: c.case,
        from_rows: first.rows,
        to_rows: size.rows,
        reference: round(c.reference.median_wall_s / base.reference.median_wall_s, 2),
        etl: round(c.etl.median_wall_s / base.etl.median_wall_s, 2),
      };
      if (c.loader && base.loader) growth.loader = round(c.loader.median_wall_s / base.loader.median_wall_s, 2);
      return growth;
    }),
  );
}
