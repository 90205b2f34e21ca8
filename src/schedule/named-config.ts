/**
 * `etl daemon NAME [NAME...]` and `etl daemon --all`: the syncs of the config file, each on its own
 * `cron` field (else --cron / CRON_SCHEDULE), resolved and validated once, before anything runs.
 * Errors name the entry and the field (`etl.config.json: syncs[1].cron="..." is not a valid schedule`).
 */
import type { SyncDefinition } from '../config/file.js';
import type { Env, Flags } from '../config/resolve.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { configForDefinition, findDefinition } from '../sync/named.js';
import { daemonSyncFlags, resolveDaemonBase, stdinError, type DaemonSettings } from './config.js';
import { parseSchedule, type Schedule } from './cron.js';
import type { DaemonFlags } from './settings.js';

/** One sync of the config file, as the daemon schedules it. */
export interface ScheduledSync {
  name: string;
  sync: SyncConfig;
  schedule: Schedule;
}

export interface NamedDaemonConfig extends DaemonSettings {
  /** In the order given on the command line (or the file's order with --all); never empty. */
  syncs: readonly ScheduledSync[];
}

/** The syncs to schedule: these names, or every one. */
export type SyncSelection = { names: readonly string[] } | { all: true };

export interface LoadedConfigFile {
  file: string;
  syncs: readonly SyncDefinition[];
}

export function resolveNamedDaemonConfig(
  loaded: LoadedConfigFile,
  selection: SyncSelection,
  syncFlags: Flags,
  daemonFlags: DaemonFlags,
  env: Env,
): NamedDaemonConfig {
  const base = resolveDaemonBase(daemonFlags, env);
  const flags = daemonSyncFlags(syncFlags, env);
  const syncs = selected(loaded, selection).map((def): ScheduledSync => {
    const index = loaded.syncs.indexOf(def);
    const sync = configForDefinition(def, flags, env);
    if (sync.file === '-')
      throw stdinError(syncFlags.file === '-' ? 'CSV_FILE (--file)' : `${loaded.file}: syncs[${index}].source`);
    const schedule =
      def.cron === undefined
        ? base.schedule
        : parseSchedule(def.cron, {
            timezone: base.timezone.value,
            setting: `${loaded.file}: syncs[${index}].cron`,
            timezoneSetting: base.timezone.origin,
          });
    return Object.freeze({ name: def.name, sync, schedule });
  });
  return Object.freeze({ ...base.settings, syncs: Object.freeze(syncs) });
}

function selected(loaded: LoadedConfigFile, selection: SyncSelection): SyncDefinition[] {
  if ('all' in selection) return [...loaded.syncs];
  if (selection.names.length === 0) throw new ConfigError('name at least one sync of the config file, or give --all');
  const twice = selection.names.find((name, i) => selection.names.indexOf(name) !== i);
  if (twice !== undefined) throw new ConfigError(`sync ${JSON.stringify(twice)} is named twice; name each sync once`);
  return selection.names.map((name) => findDefinition(loaded.syncs, name, loaded.file));
}
