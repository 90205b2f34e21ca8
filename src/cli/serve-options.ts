/** What `etl serve` and `etl worker` share: their flags, and turning flags into runServe's options. */
import type { Command } from 'commander';
import {
  environment,
  ignoringFields,
  jsonLogger,
  loadConfigFile,
  resolveServeSettings,
  runServe,
  SERVE_SETTINGS,
  stderrLogger,
  SyncCatalog,
  type FieldLogger,
  type ServeFlags,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { handleShutdownSignals } from './shutdown.js';
import { reportError } from './report.js';
import { addSettingOptions, settingValuesFrom } from './setting-options.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';

/** etl worker answers no HTTP: the API's own settings are not its options. */
const settingsOf = (api: boolean) =>
  SERVE_SETTINGS.filter((s) => api || !['port', 'host', 'maxBody', 'maxPending'].includes(s.key));

export function addServeOptions(cmd: Command, api: boolean): Command {
  addSyncOptions(cmd);
  cmd.option(
    '--config <path>',
    'the config file whose syncs can be imported into (default: etl.config.json/.yaml/.yml if present)',
  );
  addSettingOptions(cmd, settingsOf(api));
  return cmd;
}

export async function serveAction(
  opts: Record<string, unknown>,
  command: Command,
  mode: { api: boolean; worker: boolean },
) {
  let log: FieldLogger = ignoringFields(stderrLogger());
  const shutdown = handleShutdownSignals({
    second: (name) => log.warn(`second ${name}: rolling back running imports now`, { event: 'signal', signal: name }),
  });
  try {
    const env = environment(process.env, opts.envFile as string | undefined, process.cwd());
    const flags: ServeFlags = settingValuesFrom(command, settingsOf(mode.api));
    const insecureNoAuth = Boolean(opts.insecureNoAuth);
    const settings = resolveServeSettings(flags, env, { insecureNoAuth });
    if (settings.logFormat === 'json') log = jsonLogger();
    const loaded = loadConfigFile(opts.config as string | undefined, process.cwd());
    const catalog = new SyncCatalog(loaded?.syncs ?? [], syncFlagsFrom(command), env);
    await runServe({
      database: catalog.base('followers')!.database,
      catalog,
      settings,
      insecureNoAuth,
      api: mode.api,
      worker: mode.worker,
      log,
      signal: shutdown.stop,
      abortNow: shutdown.abortNow,
    });
    process.exitCode = EXIT.ok;
  } catch (error) {
    reportError(error, log, false);
    process.exitCode = exitCodeFor(error);
  } finally {
    shutdown.done();
  }
}
