import { Command } from 'commander';
import {
  ConfigError,
  DAEMON_SETTINGS,
  environment,
  ignoringFields,
  jsonLogger,
  loadConfigFile,
  resolveDaemonConfig,
  resolveLogFormat,
  resolveNamedDaemonConfig,
  runDaemon,
  stderrLogger,
  VALID_SCHEDULE_FORMS,
  type DaemonConfig,
  type DaemonFlags,
  type Env,
  type FieldLogger,
  type NamedDaemonConfig,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { handleShutdownSignals } from './shutdown.js';
import { reportError } from './report.js';
import { addSettingOptions, settingValuesFrom } from './setting-options.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';

export function daemonCommand(): Command {
  const cmd = addSyncOptions(
    new Command('daemon')
      .description(
        'sync on a schedule until SIGTERM/SIGINT: retries transient failures, skips overlapping ticks, serves /healthz and /metrics; ' +
          'followers by default, or syncs NAME... from the config file, or --all of them, each on its own cron',
      )
      .argument(
        '[names...]',
        'syncs defined in the config file (etl.config.json / .yaml), each scheduled by its own "cron" field',
      ),
  );
  cmd.option('--all', 'schedule every sync in the config file');
  cmd.option(
    '--config <path>',
    'the config file (default: etl.config.json, etl.config.yaml or etl.config.yml in the working directory)',
  );
  cmd.addHelpText(
    'after',
    `
In the daemon, --lock-timeout defaults to 0: when another run (another replica) holds the table, this
run is skipped at once. Set LOCK_TIMEOUT or --lock-timeout to wait instead.

With sync names or --all, each sync runs on the "cron" of its config entry (--cron / CRON_SCHEDULE
when it has none), with its own retries, circuit breaker, notifications and metrics; all of them
share one database and one health server.

${VALID_SCHEDULE_FORMS.replace(/^valid forms/u, 'Schedule forms')}.`,
  );
  addSettingOptions(cmd, DAEMON_SETTINGS);
  cmd.action(async (names: string[], opts: Record<string, unknown>, command: Command) => {
    let log: FieldLogger = ignoringFields(stderrLogger());
    const shutdown = handleShutdownSignals({
      first: (name) =>
        log.warn(
          `${name} received: no new runs; a running sync may finish within --shutdown-timeout (send ${name} again to abort it now)`,
          { event: 'signal', signal: name },
        ),
      second: (name) =>
        log.warn(`second ${name}: aborting the running sync now; it rolls back before exit`, {
          event: 'signal',
          signal: name,
        }),
      third: (name) =>
        log.error(`${name} again: exiting without waiting for the rollback`, { event: 'signal', signal: name }),
    });
    try {
      const env = environment(process.env, opts.envFile as string | undefined, process.cwd());
      const daemonFlags: DaemonFlags = settingValuesFrom(command, DAEMON_SETTINGS);
      if (resolveLogFormat(daemonFlags, env) === 'json') log = jsonLogger();
      const config = daemonConfig(names, opts, command, daemonFlags, env);
      await runDaemon(config, { log, signal: shutdown.stop, abortRunSignal: shutdown.abortNow });
      process.exitCode = EXIT.ok;
    } catch (error) {
      reportError(error, log, false);
      process.exitCode = exitCodeFor(error);
    } finally {
      shutdown.done();
    }
  });
  return cmd;
}

/** `etl daemon` alone: the sync of the flags and environment; with names or --all: syncs of the config file. */
function daemonConfig(
  names: string[],
  opts: Record<string, unknown>,
  command: Command,
  daemonFlags: DaemonFlags,
  env: Env,
): DaemonConfig | NamedDaemonConfig {
  const syncFlags = syncFlagsFrom(command);
  if (!opts.all && names.length === 0) {
    if (opts.config !== undefined)
      throw new ConfigError('--config needs sync names or --all: which of its syncs should the daemon schedule?');
    return resolveDaemonConfig(syncFlags, daemonFlags, env);
  }
  if (opts.all && names.length > 0) throw new ConfigError('give sync names or --all, not both');
  const loaded = loadConfigFile(opts.config as string | undefined, process.cwd());
  if (!loaded)
    throw new ConfigError('no config file: create etl.config.json (or pass --config FILE) to define named syncs');
  return resolveNamedDaemonConfig(loaded, opts.all ? { all: true } : { names }, syncFlags, daemonFlags, env);
}
