import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import { environment, ProgressReporter, resolveSyncConfig, stderrLogger, sync } from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';
import { summaryJson, summaryText } from './summary.js';

function progressInterval(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('write a positive duration such as 5s, 30s or 1m');
  return ms;
}

export function syncCommand(): Command {
  const cmd = addSyncOptions(new Command('sync').description('sync the target table with the file once, then exit'));
  cmd.option('--json', 'print the summary as one JSON object on stdout');
  cmd.option('--quiet', 'no progress or info messages on stderr');
  cmd.option(
    '--progress-interval <duration>',
    'when stderr is not a terminal (docker logs, CI), print a progress line this often (default: 5s)',
    progressInterval,
  );
  cmd.action(async (opts: Record<string, unknown>, command: Command) => {
    // Progress goes to stderr, even with --json (stdout holds only the summary); --quiet turns it off.
    const progress = opts.quiet ? undefined : new ProgressReporter({ stream: process.stderr, intervalMs: opts.progressInterval as number | undefined });
    const baseLog = stderrLogger({ quiet: Boolean(opts.quiet) });
    const log = progress ? progress.wrap(baseLog) : baseLog;
    const controller = new AbortController();
    let signalName: NodeJS.Signals | undefined;
    const onSignal = (name: NodeJS.Signals) => {
      if (signalName) {
        log.error(`second ${name}: exiting without waiting for the rollback to finish`);
        process.exit(name === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
      }
      signalName = name;
      log.warn(`${name} received: stopping and rolling back this load`);
      controller.abort(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const env = environment(process.env, opts.envFile as string | undefined, process.cwd());
      const config = resolveSyncConfig(syncFlagsFrom(command, opts), env);
      const result = await sync(config, { log, signal: controller.signal, onProgress: progress?.update });
      progress?.stop();
      process.stdout.write(opts.json ? summaryJson(result) : summaryText(result));
      process.exitCode = EXIT.ok;
    } catch (error) {
      progress?.stop();
      reportError(error, log, Boolean(opts.json));
      process.exitCode = exitCodeFor(error, signalName);
    } finally {
      progress?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
  return cmd;
}
