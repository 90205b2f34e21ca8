/** The benchmark's flags, parsed and checked into one frozen options object. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import type { CaseName } from './results.js';

export const CASES: readonly CaseName[] = ['initial', 'next-day', 'same-file', 'if-changed'];

function caseList(text: string): CaseName[] {
  const names = text.split(',').map((n) => n.trim());
  const bad = names.filter((n) => !(CASES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0)
    throw new InvalidArgumentError(
      `--cases takes a comma-separated list of ${CASES.join(', ')}; got ${JSON.stringify(text)}`,
    );
  return CASES.filter((c) => names.includes(c));
}

export interface BenchOptions {
  /** File sizes to run, in order (--rows 1000000,5000000 measures growth in one run). */
  rows: readonly number[];
  seed: number;
  repeat: number;
  databaseUrl: string | undefined;
  embeddedDir: string;
  dataDir: string;
  keepData: boolean;
  /** Print JSON on stdout instead of the table. */
  json: boolean;
  /** Also (or instead) write the JSON here; the table then goes to stdout. */
  out: string | undefined;
  /** One extra, untimed `etl sync` per case under node --cpu-prof. */
  profile: boolean;
  /** Extra flags for every etl sync run. */
  etlFlags: readonly string[];
  /** Which cases to run, in their fixed order. */
  cases: readonly CaseName[];
  /** Also time the records written from code (openLoader) in the initial and next-day cases. */
  loader: boolean;
  /** Instead of the benchmark: the loader memory check, writing this many records from code. */
  loaderMemory: number | undefined;
  quiet: boolean;
}

const MAX_ROWS = 100_000_000;

/** 2000, 1_000_000, 250k, 1M, 1.5M */
export function parseRowCount(text: string, flag = '--rows'): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/iu.exec(text.trim().replaceAll('_', ''));
  const n = m
    ? Math.round(Number(m[1]) * (m[2]?.toLowerCase() === 'm' ? 1e6 : m[2]?.toLowerCase() === 'k' ? 1e3 : 1))
    : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ROWS) {
    throw new InvalidArgumentError(
      flag === '--rows'
        ? `--rows takes row counts from 1 to ${MAX_ROWS}, comma-separated (e.g. 1000000 or 1M,5M); got ${JSON.stringify(text)}`
        : `${flag} takes a count from 1 to ${MAX_ROWS} (e.g. 5000000 or 5M); got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function rowList(text: string): number[] {
  return text.split(',').map((n) => parseRowCount(n));
}

function integer(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/u.test(text.trim()) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}`,
      );
    return n;
  };
}

export function benchProgram(): Command {
  return new Command('bench')
    .usage('[options]   (npm run bench -- [options])')
    .description(
      'Times `etl sync` against a hand-written psql \\copy + merge pipeline on generated followers files ' +
        '(an initial load and a next-day sync), alternating, and prints medians, rows/s, peak RSS and ratios. ' +
        'The initial and next-day cases also time the same records written from code (openLoader + write + commit).',
    )
    .addOption(
      new Option('--rows <n[,n...]>', 'rows in the day-1 file; several sizes run one after another')
        .default([1_000_000], '1000000')
        .argParser(rowList),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the generated data').default(1).argParser(integer('--seed', 0, 0xffffffff)),
    )
    .addOption(
      new Option('--repeat <n>', 'timed runs per case and pipeline (medians are reported)')
        .default(3)
        .argParser(integer('--repeat', 1, 100)),
    )
    .addOption(
      new Option(
        '--database-url <url>',
        'PostgreSQL to run on; the user needs CREATEDB (a fresh database per run) [env DATABASE_URL] (default: the embedded server)',
      ),
    )
    .addOption(new Option('--embedded-dir <path>', 'data directory of the embedded server').default('.etl/bench'))
    .addOption(new Option('--data-dir <path>', 'where the generated CSV files (and profiles) go').default('bench-data'))
    .option('--keep-data', 'keep the generated files (a later run with the same rows and seed reuses them)', false)
    .option('--json', 'print the results as JSON on stdout (the table is not printed)', false)
    .option('--out <file>', 'write the results as JSON to this file (the table still goes to stdout)')
    .option(
      '--profile',
      'also run etl sync once per case under node --cpu-prof (untimed) and summarise where its CPU time goes',
      false,
    )
    .addOption(
      new Option('--cases <names>', `cases to run (${CASES.join(', ')})`)
        .default([...CASES], CASES.join(','))
        .argParser(caseList),
    )
    .option('--no-loader', 'leave out the records written from code (the loader runs of initial and next-day)')
    .addOption(
      new Option(
        '--loader-memory <records>',
        'instead of the benchmark: write this many generated records from code into an empty table, --repeat times, ' +
          'and check the loader process stays under the 250 MB peak RSS of a file sync (exit 1 if not)',
      ).argParser((text) => parseRowCount(text, '--loader-memory')),
    )
    .option(
      '--etl-flags <flags>',
      'extra flags for every etl sync, e.g. "--workers 4 --batch-size 50000" (the loader takes --workers and --batch-size)',
      '',
    )
    .option('--quiet', 'no progress messages on stderr', false);
}

export function benchOptions(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): BenchOptions {
  const program = benchProgram().exitOverride();
  program.parse([...argv], { from: 'user' });
  const o = program.opts<{
    rows: number[];
    seed: number;
    repeat: number;
    databaseUrl?: string;
    embeddedDir: string;
    dataDir: string;
    keepData: boolean;
    json: boolean;
    out?: string;
    profile: boolean;
    etlFlags: string;
    cases: CaseName[];
    loader: boolean;
    loaderMemory?: number;
    quiet: boolean;
  }>();
  return Object.freeze({
    rows: Object.freeze([...o.rows]),
    seed: o.seed,
    repeat: o.repeat,
    databaseUrl: o.databaseUrl ?? (env.DATABASE_URL || undefined),
    embeddedDir: resolve(cwd, o.embeddedDir),
    dataDir: resolve(cwd, o.dataDir),
    keepData: o.keepData,
    json: o.json,
    out: o.out === undefined ? undefined : resolve(cwd, o.out),
    profile: o.profile,
    etlFlags: Object.freeze(o.etlFlags.split(/\s+/u).filter((f) => f !== '')),
    cases: Object.freeze([...o.cases]),
    loader: o.loader,
    loaderMemory: o.loaderMemory,
    quiet: o.quiet,
  });
}
