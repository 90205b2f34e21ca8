/**
 * Resolves `etl daemon`'s configuration once: the sync's own settings (resolveSyncConfig) plus the
 * daemon's, each from its flag, else the environment (.env included), else its default. Every value
 * is validated here with a message naming the setting and the valid forms. The syncs of the config
 * file (`etl daemon NAME`, `--all`) are resolved by named-config.ts on the same base.
 */
import { resolveSyncConfig, type Env, type Flags } from '../config/resolve.js';
import { pick, resolveSetting, resolveSettings } from '../config/setting.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { parseSchedule, type Schedule } from './cron.js';
import {
  DAEMON_LOCK_TIMEOUT,
  DAEMON_SETTINGS,
  type DaemonFlags,
  type DaemonSettingKey,
  type DaemonSettingValues,
} from './settings.js';

export type LogFormat = DaemonSettingValues['logFormat'];

/** The settings that resolveDaemonBase turns into other fields; the rest appear as they are, under their keys. */
type ReshapedSettings =
  | 'cron'
  | 'timezone'
  | 'retryDelay'
  | 'breakerCooldown'
  | 'notifyUrl'
  | 'notifyTimeout'
  | 'shutdownTimeout'
  | 'healthPort'
  | 'healthHost';

/** The daemon's own settings, shared by every sync it schedules. */
export interface DaemonSettings extends Omit<DaemonSettingValues, ReshapedSettings> {
  retryDelayMs: number;
  breakerCooldownMs: number;
  notify?: { url: string; timeoutMs: number };
  shutdownTimeoutMs: number;
  health?: { host: string; port: number };
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

const definition = (key: DaemonSettingKey) => DAEMON_SETTINGS.find((s) => s.key === key)!;

/** Resolved on its own first, so even a configuration error can be logged in the chosen format. */
export function resolveLogFormat(flags: DaemonFlags, env: Env): LogFormat {
  return resolveSetting(DAEMON_SETTINGS, 'logFormat', flags, env);
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
  const logFormat = resolveLogFormat(daemonFlags, env);
  // The schedule's messages name the setting it came from, so its origin is kept.
  const timezone = pick(definition('timezone'), daemonFlags, env)!;
  const cron = pick(definition('cron'), daemonFlags, env)!;
  const schedule = parseSchedule(String(cron.value), {
    timezone: String(timezone.value).trim(),
    setting: cron.origin,
    timezoneSetting: timezone.origin,
  });
  const {
    cron: _cron,
    timezone: _timezone,
    retryDelay,
    breakerCooldown,
    notifyUrl,
    notifyTimeout,
    shutdownTimeout,
    healthPort,
    healthHost,
    ...rest
  } = resolveSettings(DAEMON_SETTINGS, daemonFlags, env);
  const host = healthHost.trim();
  if (healthPort !== undefined && host === '')
    throw new ConfigError('HEALTH_HOST (--health-host) is empty; use an address such as 0.0.0.0 or 127.0.0.1');

  const settings: DaemonSettings = Object.freeze({
    ...rest,
    logFormat,
    retryDelayMs: retryDelay,
    breakerCooldownMs: breakerCooldown,
    notify: notifyUrl === undefined ? undefined : Object.freeze({ url: notifyUrl, timeoutMs: notifyTimeout }),
    shutdownTimeoutMs: shutdownTimeout,
    health: healthPort === undefined ? undefined : Object.freeze({ host, port: healthPort }),
  });
  return Object.freeze({
    settings,
    schedule,
    timezone: Object.freeze({ value: String(timezone.value).trim(), origin: timezone.origin }),
  });
}
