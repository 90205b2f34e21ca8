import { Command, Option } from 'commander';
import { environment, resolveSyncConfig, stderrLogger, sync, SYNC_SETTINGS, type Flags } from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { summaryJson, summaryText } from './summary.js';
import { reportError } from './report.js';

export function syncCommand(): Command {
  const cmd = new Command('sync').description('sync the target table with the file once, then exit');
  for (const s of SYNC_SETTINGS) {
    const envNote = 'env' in s ? ` [env ${s.env}]` : '';
    const defNote = 'default' in s && s.key !== 'header' && s.default !== 'false' ? ` (default: ${s.default})` : '';
    cmd.addOption(new Option(s.flag, s.help + envNote + defNote));
  }
  cmd.option('--json', 'print the summary as one JSON object on stdout');
  cmd.option('--quiet', 'no progress or info messages on stderr');
  cmd.option('--env-file <path>', 'read settings from this file instead of ./.env');
  cmd.action(async (opts: Record<string, unknown>, command: Command) => {
    const log = stderrLogger({ quiet: Boolean(opts.quiet) });
    // Only flags given on the command line override the environment (commander defaults --no-header to true).
    const flags: Flags = {};
    for (const s of SYNC_SETTINGS) {
      if (command.getOptionValueSource(s.key) === 'cli') (flags as Record<string, unknown>)[s.key] = opts[s.key];
    }
    const controller = new AbortController();
    let signalName: NodeJS.Signals | undefined;
    const onSignal = (name: NodeJS.Signals) => {
      if (signalName) {
        log.error(`second ${name}: exiting without waiting for the rollback to finish`);
        process.exit(exitCodeFor(new Error(), name) || EXIT.failed);
      }
      signalName = name;
      log.warn(`${name} received: stopping and rolling back this load`);
      controller.abort(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const config = resolveSyncConfig(flags, environment(process.env, opts.envFile as string | undefined, process.cwd()));
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
