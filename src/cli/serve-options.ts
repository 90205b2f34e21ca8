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
import { reportError } from './report.js';
import { addSettingOptions, settingValuesFrom } from './setting-options.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';

/** Once stopped, a handle still open (a socket to a dead server) must not keep the process alive. */
const FORCED_EXIT_MS = 10_000;

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
  const stop = new AbortController();
  const abortNow = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) stop.abort(name);
    else if (signals === 2) {
      log.warn(`second ${name}: rolling back running imports now`, { event: 'signal', signal: name });
      abortNow.abort(name);
    } else process.exit(name === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
      signal: stop.signal,
      abortNow: abortNow.signal,
    });
    process.exitCode = EXIT.ok;
  } catch (error) {
    reportError(error, log, false);
    process.exitCode = exitCodeFor(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setTimeout(() => process.exit(), FORCED_EXIT_MS).unref();
  }
}
