/**
 * Resolves `etl daemon`'s configuration once: the sync's own settings (resolveSyncConfig) plus the
 * daemon's, each from its flag, else the environment (.env included), else its default. Every value
 * is validated here with a message naming the setting and the valid forms. The syncs of the config
 * file (`etl daemon NAME`, `--all`) are resolved by named-config.ts on the same base.
 */
import { parseDuration } from '../config/duration.js';
import { resolveSyncConfig, type Env, type Flags } from '../config/resolve.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { parseSchedule, type Schedule } from './cron.js';
import { DAEMON_LOCK_TIMEOUT, DAEMON_SETTINGS, type DaemonFlags, type DaemonSettingKey } from './settings.js';
import { boolean, type Raw } from '../config/values.js';

export type LogFormat = 'text' | 'json';

/** The daemon's own settings, shared by every sync it schedules. */
export interface DaemonSettings {
  runOnStart: boolean;
  retries: number;
  retryDelayMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  notify?: { url: string; timeoutMs: number };
  shutdownTimeoutMs: number;
  health?: { host: string; port: number };
  logFormat: LogFormat;
}

/** `etl daemon` without a sync name: the one sync the flags and environment describe. */
export interface DaemonConfig extends DaemonSettings {
  sync: SyncConfig;
  schedule: Schedule;
}

/** The settings plus the schedule that applies when a sync has none of its own (--cron, CRON_SCHEDULE). */
export interface DaemonBase {
  settings: DaemonSettings;
  schedule: Schedule;
  /** CRON_TZ / --timezone as given, for the syncs' own cron fields. */
  timezone: { value: string; origin: string };
}

function pick(key: DaemonSettingKey, flags: DaemonFlags, env: Env): Raw | undefined {
  const def = DAEMON_SETTINGS.find((s) => s.key === key)!;
  const flagName = key === 'runOnStart' ? '--run-on-start' : def.flag.split(' ')[0];
  const flag = flags[key];
  if (flag !== undefined) return { value: String(flag), origin: flagName };
  const fromEnv = env[def.env];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, origin: def.env };
  if ('default' in def) return { value: def.default, origin: `${flagName} (default)` };
  return undefined;
}

function integer(raw: Raw, min: number, max: number): number {
  const t = raw.value.trim();
  const n = Number(t);
  if (!/^\d+$/u.test(t) || n < min || n > max) {
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} is not valid; use a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

function duration(raw: Raw, { allowZero }: { allowZero: boolean }): number {
  const ms = parseDuration(raw.value);
  if (ms === undefined || (!allowZero && ms <= 0)) {
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(raw.value)} is not a${allowZero ? '' : ' positive'} duration; write e.g. 500ms, 30s, 5m, 1h30m`,
    );
  }
  return ms;
}

/** Resolved on its own first, so even a configuration error can be logged in the chosen format. */
export function resolveLogFormat(flags: DaemonFlags, env: Env): LogFormat {
  const raw = pick('logFormat', flags, env)!;
  const format = raw.value.trim().toLowerCase();
  if (format !== 'text' && format !== 'json')
    throw new ConfigError(`${raw.origin}=${JSON.stringify(raw.value)} is not a log format; use text or json`);
  return format;
}

function notifyUrl(raw: Raw): string {
  // The value is never echoed: webhook URLs usually carry a token.
  let url: URL;
  try {
    url = new URL(raw.value.trim());
  } catch {
    throw new ConfigError(
      `${raw.origin} is not a URL; use an http:// or https:// URL (the value is not shown in case it holds a token)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${raw.origin} must be an http:// or https:// URL (got ${url.protocol}//...)`);
  }
  return url.toString();
}

export function resolveDaemonConfig(syncFlags: Flags, daemonFlags: DaemonFlags, env: Env): DaemonConfig {
  resolveLogFormat(daemonFlags, env);
  const sync = resolveSyncConfig(daemonSyncFlags(syncFlags, env), env);
  if (sync.file === '-') throw stdinError('CSV_FILE (--file)');
  const base = resolveDaemonBase(daemonFlags, env);
  return Object.freeze({ sync, schedule: base.schedule, ...base.settings });
}

/**
 * The sync flags as the daemon uses them: the table lock is not waited for (DAEMON_LOCK_TIMEOUT)
 * unless LOCK_TIMEOUT or --lock-timeout says otherwise.
 */
export function daemonSyncFlags(syncFlags: Flags, env: Env): Flags {
  const lockTimeoutSet = syncFlags.lockTimeout !== undefined || (env.LOCK_TIMEOUT ?? '') !== '';
  return lockTimeoutSet ? syncFlags : { ...syncFlags, lockTimeout: DAEMON_LOCK_TIMEOUT };
}

/** A source of "-" (standard input), which a daemon cannot read again at every run; `where` names the setting. */
export function stdinError(where: string): ConfigError {
  return new ConfigError(
    `${where} is "-" (standard input), which the daemon cannot read again at every run; give the path of a file`,
  );
}

/** Everything but the sync: validated once, whether the daemon runs one sync or several. */
export function resolveDaemonBase(daemonFlags: DaemonFlags, env: Env): DaemonBase {
  const get = (key: DaemonSettingKey) => pick(key, daemonFlags, env);
  const logFormat = resolveLogFormat(daemonFlags, env);
  const timezone = get('timezone')!;
  const cron = get('cron')!;
  const schedule = parseSchedule(cron.value, {
    timezone: timezone.value.trim(),
    setting: cron.origin,
    timezoneSetting: timezone.origin,
  });

  const breakerThreshold = integer(get('breakerThreshold')!, 0, 1_000_000);
  const notify = get('notifyUrl');
  const healthPort = get('healthPort');
  const healthHost = get('healthHost')!.value.trim();
  if (healthPort && healthHost === '')
    throw new ConfigError('HEALTH_HOST (--health-host) is empty; use an address such as 0.0.0.0 or 127.0.0.1');

  const settings: DaemonSettings = Object.freeze({
    runOnStart: boolean(get('runOnStart')!),
    retries: integer(get('retries')!, 0, 100),
    retryDelayMs: duration(get('retryDelay')!, { allowZero: true }),
    breakerThreshold,
    breakerCooldownMs: duration(get('breakerCooldown')!, { allowZero: false }),
    notify: notify
      ? Object.freeze({ url: notifyUrl(notify), timeoutMs: duration(get('notifyTimeout')!, { allowZero: false }) })
      : undefined,
    shutdownTimeoutMs: duration(get('shutdownTimeout')!, { allowZero: true }),
    health: healthPort ? Object.freeze({ host: healthHost, port: integer(healthPort, 0, 65_535) }) : undefined,
    logFormat,
  });
  return Object.freeze({
    settings,
    schedule,
    timezone: Object.freeze({ value: timezone.value.trim(), origin: timezone.origin }),
  });
}
