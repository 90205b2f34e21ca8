/**
 * The settings `etl serve` and `etl worker` add to the sync's (SYNC_SETTINGS): flag, environment
 * variable, default and parser of each. The CLI builds its options from this list; README.md and
 * .env.example document it.
 */
import type { SettingDef, Values } from '../config/setting.js';
import { ConfigError } from '../errors.js';
import { LOG_FORMAT_SETTING } from '../schedule/settings.js';
import { duration, integer, string, type Parser } from '../config/values.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Sizes as people write them: 500MB, 1GiB, 65536. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/iu.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

const size: Parser<number> = (raw) => {
  const n = parseSize(String(raw.value));
  if (n === undefined || n < 1)
    throw new ConfigError(`${raw.origin}=${JSON.stringify(raw.value)} is not a size; write e.g. 500MB or 1GiB`);
  return n;
};

/** Whole seconds (pg-boss counts in seconds), at least one. */
const seconds: Parser<number> = (raw) => {
  const ms = duration({ allowZero: false })(raw);
  if (ms % 1000 !== 0 || ms < 1000)
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} must be a duration of whole seconds, at least 1s (e.g. 30s, 5m)`,
    );
  return ms / 1000;
};

export const SERVE_SETTINGS = [
  {
    key: 'port',
    flag: '--port <port>',
    env: 'API_PORT',
    default: '8080',
    help: 'port of the HTTP API (0 = any free port)',
    parse: integer(0, 65535),
  },
  {
    key: 'host',
    flag: '--host <address>',
    env: 'API_HOST',
    default: '0.0.0.0',
    help: 'address the HTTP API listens on (127.0.0.1 with --insecure-no-auth, whatever this says)',
    parse: string,
  },
  {
    key: 'maxBody',
    flag: '--max-body <size>',
    env: 'API_MAX_BODY',
    default: '1GiB',
    help: 'largest upload accepted (as sent, before gzip decompression); larger answers 413',
    parse: size,
  },
  {
    key: 'maxPending',
    flag: '--max-pending <n>',
    env: 'API_MAX_PENDING',
    default: '100',
    help: 'imports queued or running at once (all replicas); one more answers 429 with Retry-After',
    parse: integer(1, 1_000_000),
  },
  {
    key: 'jobTimeout',
    flag: '--job-timeout <duration>',
    env: 'JOB_TIMEOUT',
    default: '5m',
    help: 'after this long without finishing, a job is offered to another worker (the running one, if alive, keeps it)',
    parse: seconds,
  },
  {
    key: 'jobAttempts',
    flag: '--job-attempts <n>',
    env: 'JOB_ATTEMPTS',
    default: '3',
    help: 'attempts of an import whose worker died or was stopped before it is failed with worker_lost',
    parse: integer(1, 100),
  },
  {
    key: 'queueMaintenance',
    flag: '--queue-maintenance <duration>',
    env: 'QUEUE_MAINTENANCE_INTERVAL',
    default: '30s',
    help: 'how often the queue looks for jobs whose worker is gone (whole seconds, at least 1s)',
    parse: seconds,
  },
  {
    key: 'workerConcurrency',
    flag: '--worker-concurrency <n>',
    env: 'WORKER_CONCURRENCY',
    default: '2',
    help: 'imports one worker process runs at the same time',
    parse: integer(1, 64),
  },
  {
    key: 'shutdownTimeout',
    flag: '--shutdown-timeout <duration>',
    env: 'SHUTDOWN_TIMEOUT',
    default: '30s',
    help: 'on SIGTERM/SIGINT, how long running imports may take to finish before they are rolled back and left to another replica',
    parse: duration({ allowZero: true }),
  },
  LOG_FORMAT_SETTING,
] as const satisfies readonly SettingDef[];

export type ServeSettingKey = (typeof SERVE_SETTINGS)[number]['key'];
export type ServeFlags = Values<ServeSettingKey>;
