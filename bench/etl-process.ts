/**
 * `etl sync` as a user runs it: the built CLI in its own process, with --json, its summary parsed.
 * It runs with a clean environment (no DATABASE_URL, PG* or etl setting variables, no .env in its
 * working directory), so only the defaults and the flags given with --etl-flags apply.
 */
import { join, resolve } from 'node:path';
import { SYNC_SETTINGS } from '../src/config/settings.js';
import { runMeasured, type Measured, type RssMethod } from './measure.js';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');
export const ETL_BIN = join(PROJECT_ROOT, 'bin', 'etl');

export interface EtlCounts {
  rows_read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  duplicates: number;
}

export interface EtlSummary {
  /** duration_ms as etl reports it (inside the process, after startup). */
  durationMs: number;
  counts: EtlCounts;
  /** The summary's `phases` object (numbers only), or null while etl does not report one. */
  phases: Record<string, number> | null;
  /** --if-changed found the source unchanged and skipped the sync. */
  skipped: boolean;
}

const COUNT_FIELDS = ['rows_read', 'inserted', 'updated', 'unchanged', 'deleted', 'rejected', 'duplicates'] as const;

/** Reads the JSON summary etl prints as the last line of stdout with --json. */
export function parseEtlSummary(stdout: string): EtlSummary {
  const line = stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`etl sync printed no JSON summary (stdout: ${JSON.stringify(stdout.slice(0, 500))})`, {
      cause: error,
    });
  }
  // --if-changed reports an unchanged source as skipped: a success that did no work
  if (json.status !== 'succeeded' && json.status !== 'skipped') throw new Error(`etl sync did not succeed: ${line}`);
  const counts = {} as EtlCounts;
  for (const field of COUNT_FIELDS) counts[field] = Number(json[field] ?? NaN);
  const phases = readPhases(json.phases);
  const steps = readPhases(json.merge_steps_ms);
  const all = phases || steps ? { ...phases, ...prefixed('merge.', steps) } : null;
  return { durationMs: Number(json.duration_ms), counts, phases: all, skipped: json.status === 'skipped' };
}

function prefixed(prefix: string, phases: Record<string, number> | null): Record<string, number> {
  return Object.fromEntries(Object.entries(phases ?? {}).map(([k, v]) => [prefix + k, v]));
}

function readPhases(value: unknown): Record<string, number> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const phases: Record<string, number> = {};
  for (const [name, ms] of Object.entries(value)) if (typeof ms === 'number' && Number.isFinite(ms)) phases[name] = ms;
  return Object.keys(phases).length > 0 ? phases : null;
}

export function cleanEtlEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const settingVars = new Set<string>(SYNC_SETTINGS.flatMap((s) => ('env' in s ? [s.env] : [])));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (!k.startsWith('PG') && k !== 'DATABASE_URL' && !settingVars.has(k)) env[k] = v;
  }
  return env;
}

export interface EtlContext {
  env: NodeJS.ProcessEnv;
  /** A directory without a .env file. */
  cwd: string;
  rssMethod: RssMethod;
  /** Extra sync flags (--etl-flags), e.g. ['--workers', '4']. */
  flags: string[];
}

export function failure(what: string, measured: Measured): Error {
  const tail = (measured.stdout.trim().split('\n').pop() ?? '') || measured.stderr.trim();
  return new Error(
    `${what} failed (exit ${measured.code ?? measured.signal}): ${tail}${measured.stderr && tail !== measured.stderr.trim() ? `\n${measured.stderr.trim()}` : ''}`,
  );
}

export interface EtlRun extends Measured {
  summary: EtlSummary;
}

export async function runEtlSync(
  file: string,
  url: string,
  context: EtlContext,
  nodeOptions: string[] = [],
  caseFlags: readonly string[] = [],
): Promise<EtlRun> {
  const measured = await runMeasured(
    {
      file: process.execPath,
      args: [
        ETL_BIN,
        'sync',
        '--file',
        file,
        '--database-url',
        url,
        '--json',
        '--quiet',
        ...context.flags,
        ...caseFlags,
      ],
      env: context.env,
      cwd: context.cwd,
      node: { nodeOptions },
    },
    context.rssMethod,
  );
  if (measured.code !== 0) throw failure('etl sync', measured);
  return { ...measured, summary: parseEtlSummary(measured.stdout) };
}

/** `etl migrate`: creates etl's tables, so a timed initial sync starts from an empty followers table. */
export async function runEtlMigrate(url: string, context: EtlContext): Promise<void> {
  const measured = await runMeasured(
    {
      file: process.execPath,
      args: [ETL_BIN, 'migrate', '--database-url', url],
      env: context.env,
      cwd: context.cwd,
      node: { nodeOptions: [] },
    },
    context.rssMethod,
  );
  if (measured.code !== 0) throw failure('etl migrate', measured);
}
