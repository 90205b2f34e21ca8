import type { Command } from 'commander';
import { SYNC_SETTINGS, type Flags } from '../index.js';
import { addSettingOptions, settingValuesFrom } from './setting-options.js';

/** Adds every sync setting as a flag (help text names its env variable and default). */
export function addSyncOptions(cmd: Command): Command {
  addSettingOptions(cmd, SYNC_SETTINGS);
  cmd.option('--env-file <path>', 'read settings from this file instead of ./.env');
  return cmd;
}

/** The sync flags given on the command line; only those override the environment. */
export function syncFlagsFrom(command: Command): Flags {
  return settingValuesFrom(command, SYNC_SETTINGS);
}
