/**
 * What openLoader() is given, turned into what a load needs: the target spec (a built-in target,
 * a sync of the config file, or a target object written as in the config file) and the settings,
 * resolved as the CLI resolves them (options here take the place of flags, over the environment).
 */
import type { Database } from '../db/connect.js';
import { loadConfigFile, parseConfigText, type SyncDefinition } from '../config/file.js';
import { environment } from '../config/env.js';
import { resolveSyncConfig, type Env, type Flags } from '../config/resolve.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { LoadProgress } from '../load/result.js';
import type { Logger } from '../observe/log.js';
import { followersTarget } from '../table/followers.js';
import type { TargetSpec } from '../table/spec.js';

/** A record that was refused, as `onReject` receives it. */
export interface LoaderReject {
  /** The record as it was encoded (bigints as digit strings, Dates as ISO 8601 text). */
  record: unknown;
  reason: string;
  /** The target column the reason is about, when it is about one. */
  column?: string;
  /** Position of the record among everything written to this loader (0-based, deletes included). */
  index: number;
}

/** A target written as in the config file, without its source: `{ target: { table }, key, columns, mode }`. */
export type TargetDefinition = Record<string, unknown>;

export interface LoaderOptions {
  /**
   * `'followers'`, the name of a sync in the config file (its target and settings are used), or a
   * target object as in the config file: `{ target: { table: 'products' }, key: 'sku', columns: [...] }`.
   */
  target: string | TargetDefinition;
  /** A postgres:// URL. Default: as the CLI, DATABASE_URL or PG* from the environment, else the embedded server. */
  database?: string;
  /** An already open database (from `openDatabase`), shared with other loads; it is not closed. */
  db?: Database;
  /** Where named syncs are looked up. Default: etl.config.json/.yaml/.yml in the working directory. */
  configFile?: string;
  /** The environment settings are read from. Default: the .env file under process.env, as the CLI. */
  env?: Env;
  /** Bad records tolerated before the load fails (default 0, or MAX_ERROR_RECORDS). */
  maxErrors?: number;
  /** Let a mirror load with no records empty the table (default false). */
  allowEmpty?: boolean;
  /** Refuse to commit when more than this percentage of the table would be deleted. */
  maxDeletePercent?: number;
  /** Records per chunk handed to a worker (default 10000, or BATCH_SIZE). */
  batchSize?: number;
  /** Worker threads that validate and COPY (default 4, or WORKER_POOL_SIZE). */
  workers?: number;
  /** How long commit() waits for another run's table lock: milliseconds, or a duration like "30s". */
  lockTimeout?: number | string;
  /** Validate and merge, then roll back: the target is unchanged. */
  dryRun?: boolean;
  /** Also write refused records to this CSV file. */
  rejectsFile?: string;
  onReject?: (reject: LoaderReject) => void;
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting it aborts the loader: nothing is committed, the target is unchanged. */
  signal?: AbortSignal;
  log?: Logger;
}

function number(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ConfigError(`openLoader: ${name} must be a number, got ${JSON.stringify(value)}`);
  return String(value);
}

function flagsOf(options: LoaderOptions): Flags {
  const lock = options.lockTimeout;
  return {
    databaseUrl: options.database,
    maxErrors: number('maxErrors', options.maxErrors),
    allowEmpty: options.allowEmpty,
    maxDelete: number('maxDeletePercent', options.maxDeletePercent),
    batchSize: number('batchSize', options.batchSize),
    workers: number('workers', options.workers),
    lockTimeout: typeof lock === 'number' ? `${number('lockTimeout', lock)}ms` : lock,
    dryRun: options.dryRun,
    rejects: options.rejectsFile,
  };
}

/** The target and the settings of its config-file entry, if it has one. */
function targetOf(options: LoaderOptions): { spec: TargetSpec; settings?: SyncDefinition['settings'] } {
  const target = options.target;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const label = 'openLoader({ target })';
    const [def] = parseConfigText(label, JSON.stringify({ syncs: [{ name: 'code', source: '-', ...target }] }));
    return { spec: def.target, settings: def.settings };
  }
  if (typeof target !== 'string' || target.trim() === '')
    throw new ConfigError(
      `openLoader: target must be a sync name of the config file, "followers", or a target object; got ${JSON.stringify(target)}`,
    );
  const found = loadConfigFile(options.configFile, process.cwd());
  const def = found?.syncs.find((d) => d.name === target);
  if (def) return { spec: def.target, settings: def.settings };
  if (target === followersTarget.name) return { spec: followersTarget };
  const known = found
    ? ` (${found.file} has: ${found.syncs.map((d) => d.name).join(', ')})`
    : ' (no config file found)';
  throw new ConfigError(
    `openLoader: no target named ${JSON.stringify(target)}${known}; name a sync of the config file, or pass a target object`,
  );
}

/** Resolves the options once; throws a ConfigError naming the bad option before anything connects. */
export function resolveLoaderConfig(options: LoaderOptions): SyncConfig {
  const { spec, settings } = targetOf(options);
  const env = options.env ?? environment(process.env, undefined, process.cwd());
  const explicit = Object.fromEntries(Object.entries(flagsOf(options)).filter(([, v]) => v !== undefined));
  return resolveSyncConfig(explicit, env, spec, settings);
}
