/**
 * Resolves the sync configuration once: defaults, then .env, then the environment, then flags.
 * Every value is validated here, with a message naming the setting and the fix; nothing else reads
 * process.env.
 */
import { ConfigError } from '../errors.js';
import { isKnownEncoding } from '../source/decode.js';
import { followersTarget } from '../table/followers.js';
import type { TargetSpec } from '../table/spec.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { SYNC_SETTINGS, type SyncSettingKey } from './settings.js';
import type { DatabaseSetting, SyncConfig } from './types.js';
import { boolean, type Raw } from './values.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type Flags = Partial<Record<SyncSettingKey, string | boolean | undefined>>;

function pick(key: SyncSettingKey, flags: Flags, env: Env): Raw | undefined {
  const def = SYNC_SETTINGS.find((s) => s.key === key)!;
  const flagName = def.flag.split(' ')[0];
  const flag = flags[key];
  if (flag !== undefined) return { value: String(flag), origin: flagName };
  const envName = 'env' in def ? def.env : undefined;
  const fromEnv = envName ? env[envName] : undefined;
  if (envName && fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, origin: envName };
  if ('default' in def) return { value: def.default, origin: `${flagName} (default)` };
  return undefined;
}

function integer(raw: Raw, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const t = raw.value.trim();
  if (!/^-?\d+$/u.test(t))
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} is not a whole number; use an integer from ${min} to ${max}`,
    );
  const n = Number(t);
  if (n < min || n > max)
    throw new ConfigError(`${raw.origin}=${raw.value} is out of range; use an integer from ${min} to ${max}`);
  return n;
}

/** A connection limit: whole milliseconds; 0 (no limit) only where allowed. */
function durationSetting(raw: Raw, allowZero: boolean): number {
  const ms = parseDuration(raw.value);
  if (ms === undefined || (!allowZero && ms <= 0) || ms > 2_147_483_647)
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} is not a ${allowZero ? '' : 'positive '}duration up to 24 days; write e.g. 30s, 5m, 1h${allowZero ? ' (0 = no limit)' : ''}`,
    );
  return Math.ceil(ms);
}

const MIN_RECORD_BYTES = 1024;
/** Past this, one record's text alone nears V8's string limit and a worker's heap. */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;

function recordSize(raw: Raw): number {
  const n = parseSize(raw.value);
  if (n === undefined || n < MIN_RECORD_BYTES || n > MAX_RECORD_BYTES)
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} is not a size from 1KiB to 256MiB; write e.g. 16MiB, 512KiB or a number of bytes`,
    );
  return n;
}

function singleChar(raw: Raw): string {
  const v = raw.value === '\\t' || raw.value.toLowerCase() === 'tab' ? '\t' : raw.value;
  if (v.length !== 1 || v.charCodeAt(0) > 127 || v === '\n' || v === '\r') {
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} must be a single ASCII character (for tab, write \\t)`,
    );
  }
  return v;
}

function database(flags: Flags, env: Env, embeddedDir: string): DatabaseSetting {
  const url = pick('databaseUrl', flags, env);
  if (url) {
    if (!/^postgres(ql)?:\/\//iu.test(url.value)) {
      throw new ConfigError(
        `${url.origin} must be a postgres:// or postgresql:// URL (got something else; the value is not shown in case it holds a password)`,
      );
    }
    try {
      new URL(url.value);
    } catch {
      throw new ConfigError(`${url.origin} is not a valid URL (the value is not shown in case it holds a password)`);
    }
    return { kind: 'url', url: url.value };
  }
  const pgVars = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE'];
  if (pgVars.some((v) => env[v])) {
    const port = env.PGPORT ? integer({ value: env.PGPORT, origin: 'PGPORT' }, 1, 65535) : undefined;
    return {
      kind: 'pg-env',
      host: env.PGHOST,
      port,
      user: env.PGUSER,
      password: env.PGPASSWORD,
      database: env.PGDATABASE,
    };
  }
  return { kind: 'embedded', dir: embeddedDir };
}

export function resolveSyncConfig(flags: Flags, env: Env, target: TargetSpec = followersTarget): SyncConfig {
  const get = (key: SyncSettingKey) => pick(key, flags, env);
  const batchSize = integer(get('batchSize')!, 1, 10_000_000);
  const workers = integer(get('workers')!, 1, 256);
  const minConnections = integer(get('minConns')!, 0, 10_000);
  const maxConnections = integer(get('maxConns')!, 1, 10_000);
  if (minConnections > maxConnections) {
    throw new ConfigError(
      `DB_MIN_CONNS (${minConnections}) is larger than DB_MAX_CONNS (${maxConnections}); lower the first or raise the second`,
    );
  }
  if (workers + 3 > maxConnections) {
    throw new ConfigError(
      `WORKER_POOL_SIZE (--workers) ${workers} needs ${workers + 3} connections (one per worker, plus the lock/merge and two history connections) ` +
        `but DB_MAX_CONNS (--db-max-conns) is ${maxConnections}; lower --workers or raise DB_MAX_CONNS`,
    );
  }
  const lock = get('lockTimeout')!;
  const lockTimeoutMs = parseDuration(lock.value);
  if (lockTimeoutMs === undefined)
    throw new ConfigError(`${lock.origin}=${JSON.stringify(lock.value)} is not a duration; write e.g. 30s, 5m, 0`);
  const limits = Object.freeze({
    connectTimeoutMs: durationSetting(get('connectTimeout')!, false),
    statementTimeoutMs: durationSetting(get('statementTimeout')!, true),
    idleInTransactionTimeoutMs: durationSetting(get('idleInTransactionTimeout')!, true),
  });
  const maxDelete = get('maxDelete');
  let maxDeletePercent: number | undefined;
  if (maxDelete) {
    maxDeletePercent = Number(maxDelete.value.trim().replace(/%$/u, ''));
    if (
      !Number.isFinite(maxDeletePercent) ||
      maxDeletePercent < 0 ||
      maxDeletePercent > 100 ||
      maxDelete.value.trim() === ''
    ) {
      throw new ConfigError(
        `${maxDelete.origin}=${JSON.stringify(maxDelete.value)} must be a percentage from 0 to 100`,
      );
    }
  }
  const encoding = get('encoding')!;
  if (!isKnownEncoding(encoding.value)) {
    throw new ConfigError(
      `${encoding.origin}=${JSON.stringify(encoding.value)} is not an encoding this runtime knows; use utf-8, latin1 or windows-1252`,
    );
  }
  const delimiter = singleChar(get('delimiter')!);
  const quote = singleChar(get('quote')!);
  if (delimiter === quote)
    throw new ConfigError(`--delimiter and --quote are both ${JSON.stringify(quote)}; they must differ`);
  const file = get('file')!.value;
  const formatSetting = get('format');
  const format = formatSetting?.value.trim().toLowerCase();
  if (format !== undefined && format !== 'csv' && format !== 'ndjson' && format !== 'json') {
    throw new ConfigError(
      `${formatSetting!.origin}=${JSON.stringify(formatSetting!.value)} is not a format; use csv, ndjson or json`,
    );
  }
  const embeddedDir = get('embeddedDir')!.value;

  return Object.freeze({
    database: database(flags, env, embeddedDir),
    minConnections,
    maxConnections,
    limits,
    target,
    file,
    format,
    csv: Object.freeze({ delimiter, quote, header: boolean(get('header')!), encoding: encoding.value }),
    batchSize,
    workers,
    lockTimeoutMs,
    maxErrors: integer(get('maxErrors')!, 0),
    maxRecordBytes: recordSize(get('maxRecordSize')!),
    rejectsFile: get('rejects')?.value,
    allowEmpty: boolean(get('allowEmpty')!),
    maxDeletePercent,
    dryRun: boolean(get('dryRun')!),
  });
}
