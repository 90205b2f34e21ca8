import { Option, type Command } from 'commander';
import { SYNC_SETTINGS, type Flags } from '../index.js';

/** Adds every sync setting as a flag (help text names its env variable and default). */
export function addSyncOptions(cmd: Command): Command {
  for (const s of SYNC_SETTINGS) {
    const envNote = 'env' in s ? ` [env ${s.env}]` : '';
    const defNote = 'default' in s && s.key !== 'header' && s.default !== 'false' ? ` (default: ${s.default})` : '';
    cmd.addOption(new Option(s.flag, s.help + envNote + defNote));
  }
  cmd.option('--env-file <path>', 'read settings from this file instead of ./.env');
  return cmd;
}

/**
 * The sync flags given on the command line. Only those override the environment: commander gives
 * --no-header a default of true, which must not hide CSV_HEADER.
 */
export function syncFlagsFrom(command: Command, opts: Record<string, unknown>): Flags {
  const flags: Flags = {};
  for (const s of SYNC_SETTINGS) {
    if (command.getOptionValueSource(s.key) === 'cli') (flags as Record<string, unknown>)[s.key] = opts[s.key];
  }
  return flags;
}
