/**
 * Resolves the sync configuration once: defaults, then .env, then the environment, then the config
 * file's entry, then flags (src/config/setting.ts). Every value is validated by its definition's
 * parser, with a message naming the setting and the fix; nothing else reads process.env. What is
 * left here are the rules between settings and the database's own fallbacks (PG* variables).
 */
import { ConfigError } from '../errors.js';
import { followersTarget } from '../table/followers.js';
import type { TargetSpec } from '../table/spec.js';
import { resolveSettings, type Env, type Layer, type Values } from './setting.js';
import { SYNC_SETTINGS, type SyncSettingKey } from './settings.js';
import type { DatabaseSetting, SyncConfig } from './types.js';
import { integer, url } from './values.js';

export type { Env } from './setting.js';
export type Flags = Values<SyncSettingKey>;
/** A config file entry's settings, each with its origin (`etl.config.json: syncs[0].max_errors`). */
export type EntrySettings = Layer<SyncSettingKey>;

const PG_VARIABLES = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE'];

function database(url: string | undefined, env: Env, embeddedDir: string): DatabaseSetting {
  if (url !== undefined) return { kind: 'url', url };
  if (PG_VARIABLES.some((v) => env[v])) {
    return {
      kind: 'pg-env',
      host: env.PGHOST,
      port: env.PGPORT ? integer(1, 65535)({ value: env.PGPORT, origin: 'PGPORT' }) : undefined,
      user: env.PGUSER,
      password: env.PGPASSWORD,
      database: env.PGDATABASE,
    };
  }
  return { kind: 'embedded', dir: embeddedDir };
}

/** --s3-endpoint / S3_ENDPOINT, else the AWS SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
function s3EndpointOf(setting: string | undefined, env: Env): string | undefined {
  const fallback = ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'].find((name) => env[name]);
  const origin = setting !== undefined ? '--s3-endpoint / S3_ENDPOINT' : fallback;
  const endpoint =
    setting ??
    (fallback === undefined ? undefined : url(['http:', 'https:'])({ value: env[fallback]!, origin: fallback }));
  if (endpoint === undefined) return undefined;
  const parsed = new URL(endpoint);
  if (parsed.username !== '' || parsed.password !== '')
    throw new ConfigError(
      `${origin} must not hold credentials; they come from the AWS default chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, roles)`,
    );
  return endpoint;
}

export function resolveSyncConfig(
  flags: Flags,
  env: Env,
  target: TargetSpec = followersTarget,
  entry: EntrySettings = {},
): SyncConfig {
  const {
    databaseUrl,
    embeddedDir,
    minConns,
    maxConns,
    lockTimeout,
    maxDelete,
    rejects,
    delimiter,
    quote,
    header,
    encoding,
    connectTimeout,
    statementTimeout,
    idleInTransactionTimeout,
    s3Endpoint,
    ...rest
  } = resolveSettings(SYNC_SETTINGS, flags, env, [entry]);
  if (minConns > maxConns) {
    throw new ConfigError(
      `DB_MIN_CONNS (${minConns}) is larger than DB_MAX_CONNS (${maxConns}); lower the first or raise the second`,
    );
  }
  if (rest.workers + 3 > maxConns) {
    throw new ConfigError(
      `WORKER_POOL_SIZE (--workers) ${rest.workers} needs ${rest.workers + 3} connections (one per worker, plus the lock/merge and two history connections) ` +
        `but DB_MAX_CONNS (--db-max-conns) is ${maxConns}; lower --workers or raise DB_MAX_CONNS`,
    );
  }
  if (delimiter === quote)
    throw new ConfigError(`--delimiter and --quote are both ${JSON.stringify(quote)}; they must differ`);

  return Object.freeze({
    ...rest,
    database: database(databaseUrl, env, embeddedDir),
    minConnections: minConns,
    maxConnections: maxConns,
    limits: Object.freeze({
      connectTimeoutMs: connectTimeout,
      statementTimeoutMs: statementTimeout,
      idleInTransactionTimeoutMs: idleInTransactionTimeout,
    }),
    target,
    s3: Object.freeze({ endpoint: s3EndpointOf(s3Endpoint, env) }),
    csv: Object.freeze({ delimiter, quote, header, encoding }),
    lockTimeoutMs: lockTimeout,
    rejectsFile: rejects,
    maxDeletePercent: maxDelete,
  });
}
