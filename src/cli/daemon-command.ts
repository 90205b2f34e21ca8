import { Command, Option } from 'commander';
import {
  DAEMON_SETTINGS, environment, ignoringFields, jsonLogger, resolveDaemonConfig, resolveLogFormat, runDaemon, stderrLogger, VALID_SCHEDULE_FORMS,
  type DaemonFlags, type FieldLogger,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';

/**
 * Once the daemon has stopped, a handle still open (a socket stuck on a dead server) must not keep
 * the process, and its container, alive.
 */
const FORCED_EXIT_MS = 10_000;

export function daemonCommand(): Command {
  const cmd = addSyncOptions(
    new Command('daemon').description(
      'sync on a schedule until SIGTERM/SIGINT: retries transient failures, skips overlapping ticks, serves /healthz and /metrics',
    ),
  );
  cmd.addHelpText(
    'after',
    `
In the daemon, --lock-timeout defaults to 0: when another run (another replica) holds the table, this
run is skipped at once. Set LOCK_TIMEOUT or --lock-timeout to wait instead.

${VALID_SCHEDULE_FORMS.replace(/^valid forms/u, 'Schedule forms')}.`,
  );
  for (const s of DAEMON_SETTINGS) {
    if (s.key === 'runOnStart') cmd.addOption(new Option('--run-on-start', `sync once right away at start, then on the schedule [env ${s.env}] (default)`));
    const defNote = 'default' in s && s.key !== 'runOnStart' ? ` (default: ${s.default})` : '';
    const option = new Option(s.flag, `${s.help} [env ${s.env}]${defNote}`);
    if (s.key === 'logFormat') option.choices(['text', 'json']);
    cmd.addOption(option);
  }
  cmd.action(async (opts: Record<string, unknown>, command: Command) => {
    let log: FieldLogger = ignoringFields(stderrLogger());
    const stop = new AbortController();
    const abortRun = new AbortController();
    let signals = 0;
    const onSignal = (name: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log.warn(`${name} received: no new runs; a running sync may finish within --shutdown-timeout (send ${name} again to abort it now)`, { event: 'signal', signal: name });
        stop.abort(name);
      } else if (signals === 2) {
        log.warn(`second ${name}: aborting the running sync now; it rolls back before exit`, { event: 'signal', signal: name });
        abortRun.abort(name);
      } else {
        log.error(`${name} again: exiting without waiting for the rollback`, { event: 'signal', signal: name });
        process.exit(name === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const env = environment(process.env, opts.envFile as string | undefined, process.cwd());
      const daemonFlags = daemonFlagsFrom(command, opts);
      if (resolveLogFormat(daemonFlags, env) === 'json') log = jsonLogger();
      const config = resolveDaemonConfig(syncFlagsFrom(command, opts), daemonFlags, env);
      await runDaemon(config, { log, signal: stop.signal, abortRunSignal: abortRun.signal });
      process.exitCode = EXIT.ok;
    } catch (error) {
      reportError(error, log, false);
      process.exitCode = exitCodeFor(error);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      setTimeout(() => process.exit(), FORCED_EXIT_MS).unref();
    }
  });
  return cmd;
}

/** Only flags given on the command line override the environment (as syncFlagsFrom does). */
function daemonFlagsFrom(command: Command, opts: Record<string, unknown>): DaemonFlags {
  const flags: DaemonFlags = {};
  for (const s of DAEMON_SETTINGS) {
    if (command.getOptionValueSource(s.key) === 'cli') (flags as Record<string, unknown>)[s.key] = opts[s.key];
  }
  return flags;
}
