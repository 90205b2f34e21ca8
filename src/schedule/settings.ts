/**
 * The settings `etl daemon` adds to the sync's (SYNC_SETTINGS): flag, environment variable, default
 * and parser of each. The CLI builds its options from this list and .env.example documents it.
 * Adding a setting is one entry here (and its README row); it then appears in DaemonSettings.
 */
import type { Resolved, SettingDef } from '../config/setting.js';
import { boolean, choice, duration, integer, string, url } from '../config/values.js';

/** How the long-running processes (etl daemon, etl serve, etl worker) write their log. */
export const LOG_FORMAT_SETTING = {
  key: 'logFormat',
  flag: '--log-format <format>',
  env: 'LOG_FORMAT',
  default: 'text',
  help: 'text, or json for one JSON object per line',
  parse: choice(['text', 'json'], 'a log format'),
} as const satisfies SettingDef;

export const DAEMON_SETTINGS = [
  {
    key: 'cron',
    flag: '--cron <schedule>',
    env: 'CRON_SCHEDULE',
    default: '@every 24h',
    help: 'when to sync: @every <duration>, @hourly, @daily, @weekly, @monthly, @yearly, or a 5/6-field cron expression',
    parse: string,
  },
  {
    key: 'timezone',
    flag: '--timezone <zone>',
    env: 'CRON_TZ',
    default: 'UTC',
    help: 'time zone of cron expressions and descriptors (IANA name)',
    parse: string,
  },
  {
    key: 'runOnStart',
    flag: '--no-run-on-start',
    env: 'RUN_ON_START',
    default: 'true',
    help: 'do not sync right away at start; wait for the first scheduled time',
    parse: boolean,
  },
  {
    key: 'retries',
    flag: '--retries <n>',
    env: 'SYNC_RETRIES',
    default: '3',
    help: 'extra attempts of a run after a transient failure (connection lost, server restarting, deadlock, lock timeout)',
    parse: integer(0, 100),
  },
  {
    key: 'retryDelay',
    flag: '--retry-delay <duration>',
    env: 'SYNC_RETRY_DELAY',
    default: '5s',
    help: 'first backoff before a retry; doubles each time, with jitter',
    parse: duration({ allowZero: true }),
  },
  {
    key: 'breakerThreshold',
    flag: '--breaker-threshold <n>',
    env: 'BREAKER_THRESHOLD',
    default: '5',
    help: 'consecutive failed runs that open the circuit breaker (0 = never)',
    parse: integer(0, 1_000_000),
  },
  {
    key: 'breakerCooldown',
    flag: '--breaker-cooldown <duration>',
    env: 'BREAKER_COOLDOWN',
    default: '30m',
    help: 'how long an open breaker skips ticks before trying one run',
    parse: duration({ allowZero: false }),
  },
  {
    key: 'notifyUrl',
    flag: '--notify-url <url>',
    env: 'NOTIFY_URL',
    help: 'POST a JSON event here when a run fails and when the breaker changes state',
    parse: url(['http:', 'https:']),
  },
  {
    key: 'notifyTimeout',
    flag: '--notify-timeout <duration>',
    env: 'NOTIFY_TIMEOUT',
    default: '5s',
    help: 'give up on a notification after this long',
    parse: duration({ allowZero: false }),
  },
  {
    key: 'shutdownTimeout',
    flag: '--shutdown-timeout <duration>',
    env: 'SHUTDOWN_TIMEOUT',
    default: '30s',
    help: 'on SIGTERM/SIGINT, how long a running sync may take to finish before it is aborted and rolled back',
    parse: duration({ allowZero: true }),
  },
  {
    key: 'healthPort',
    flag: '--health-port <port>',
    env: 'HEALTH_PORT',
    help: 'serve GET /healthz and GET /metrics on this port (0 = any free port; default: no server)',
    parse: integer(0, 65_535),
  },
  {
    key: 'healthHost',
    flag: '--health-host <address>',
    env: 'HEALTH_HOST',
    default: '0.0.0.0',
    help: 'address the health server listens on',
    parse: string,
  },
  LOG_FORMAT_SETTING,
] as const satisfies readonly SettingDef[];

export type DaemonSettingKey = (typeof DAEMON_SETTINGS)[number]['key'];
export type DaemonFlags = Partial<Record<DaemonSettingKey, string | number | boolean | undefined>>;
export type DaemonSettingValues = Resolved<typeof DAEMON_SETTINGS>;

/**
 * The daemon does not wait for a table lock held by another run unless LOCK_TIMEOUT is set: with
 * replicas ticking together, the loser should skip its tick at once, not queue behind the winner.
 */
export const DAEMON_LOCK_TIMEOUT = '0';
