import { Command } from 'commander';
import { environment, resolveSyncConfig, stderrLogger, sync } from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';
import { summaryJson, summaryText } from './summary.js';

export function syncCommand(): Command {
  const cmd = addSyncOptions(new Command('sync').description('sync the target table with the file once, then exit'));
  cmd.option('--json', 'print the summary as one JSON object on stdout');
  cmd.option('--quiet', 'no progress or info messages on stderr');
  cmd.action(async (opts: Record<string, unknown>, command: Command) => {
    const log = stderrLogger({ quiet: Boolean(opts.quiet) });
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
      const result = await sync(config, { log, signal: controller.signal });
      process.stdout.write(opts.json ? summaryJson(result) : summaryText(result));
      process.exitCode = EXIT.ok;
    } catch (error) {
      reportError(error, log, Boolean(opts.json));
      process.exitCode = exitCodeFor(error, signalName);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
  return cmd;
}
