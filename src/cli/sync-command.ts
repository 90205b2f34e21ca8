import { Command } from 'commander';
import { duration } from '../config/values.js';
import {
  ConfigError,
  configForDefinition,
  environment,
  findDefinition,
  loadConfigFile,
  messageOf,
  openDatabase,
  ProgressReporter,
  resolveSyncConfig,
  runAll,
  stderrLogger,
  sync,
  type Logger,
  type SyncConfig,
  type SyncResult,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';
import { argumentParser } from './setting-options.js';
import { addSyncOptions, syncFlagsFrom } from './sync-options.js';
import { summaryJson, summaryText } from './summary.js';

export function syncCommand(): Command {
  const cmd = addSyncOptions(
    new Command('sync')
      .description(
        'sync a table with its file once, then exit: followers by default, or a sync NAME from the config file, or --all of them',
      )
      .argument('[name]', 'a sync defined in the config file (etl.config.json / .yaml)'),
  );
  cmd.option('--all', 'run every sync in the config file, one after another (one failing does not stop the others)');
  cmd.option(
    '--config <path>',
    'the config file (default: etl.config.json, etl.config.yaml or etl.config.yml in the working directory)',
  );
  cmd.option('--json', 'print the summary as one JSON object on stdout');
  cmd.option('--quiet', 'no progress or info messages on stderr');
  cmd.option(
    '--progress-interval <duration>',
    'when stderr is not a terminal (docker logs, CI), print a progress line this often (default: 5s)',
    argumentParser(duration({ allowZero: false })),
  );
  cmd.action(async (name: string | undefined, opts: Record<string, unknown>, command: Command) => {
    // Progress goes to stderr, even with --json (stdout holds only the summary); --quiet turns it off.
    const progress = opts.quiet
      ? undefined
      : new ProgressReporter({ stream: process.stderr, intervalMs: opts.progressInterval as number | undefined });
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
      const flags = syncFlagsFrom(command);
      const runOne = async (config: SyncConfig, db?: Awaited<ReturnType<typeof openDatabase>>) => {
        const result = await sync(config, { log, db, signal: controller.signal, onProgress: progress?.update });
        progress?.stop();
        return result;
      };
      if (opts.all || name !== undefined) {
        if (opts.all && name !== undefined) throw new ConfigError(`give a sync name or --all, not both`);
        const loaded = loadConfigFile(opts.config as string | undefined, process.cwd());
        if (!loaded)
          throw new ConfigError(`no config file: create etl.config.json (or pass --config FILE) to define named syncs`);
        if (name !== undefined) {
          const result = await runOne(configForDefinition(findDefinition(loaded.syncs, name, loaded.file), flags, env));
          process.stdout.write(opts.json ? summaryJson(result) : summaryText(result));
          process.exitCode = EXIT.ok;
        } else {
          process.exitCode = await runEvery(
            loaded.syncs.map((def) => ({ name: def.name, config: configForDefinition(def, flags, env) })),
            runOne,
            log,
            Boolean(opts.json),
            () => controller.signal.aborted,
            signalName,
          );
        }
      } else {
        const result = await runOne(resolveSyncConfig(flags, env));
        process.stdout.write(opts.json ? summaryJson(result) : summaryText(result));
        process.exitCode = EXIT.ok;
      }
    } catch (error) {
      progress?.stop();
      reportError(error, log, Boolean(opts.json));
      process.exitCode = exitCodeFor(error, signalName);
    } finally {
      progress?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    // After a signal the load is rolled back and reported; a read still blocked in the kernel (a FIFO
    // nobody writes to) would otherwise keep the process alive.
    if (signalName) process.exit(process.exitCode);
  });
  return cmd;
}

/**
 * --all: every configured sync in order, on one database connection setup; the exit code is 0 when
 * all succeeded, else that of the first failure.
 */
async function runEvery(
  entries: { name: string; config: SyncConfig }[],
  runOne: (config: SyncConfig, db?: Awaited<ReturnType<typeof openDatabase>>) => Promise<SyncResult>,
  log: Logger,
  json: boolean,
  stopped: () => boolean,
  signalName: NodeJS.Signals | undefined,
): Promise<number> {
  const db = await openDatabase(entries[0].config.database, (m) => log.info(m));
  try {
    const byName = new Map(entries.map((e) => [e.name, e.config]));
    const outcomes = await runAll(
      entries.map((e) => ({ name: e.name })),
      (e) => runOne(byName.get(e.name)!, db),
      stopped,
    );
    const failures = outcomes.filter((o) => o.error !== undefined);
    for (const o of outcomes) {
      if (o.error !== undefined) reportError(new Error(`${o.name}: ${messageOf(o.error)}`), log, false);
      else if (!json) process.stdout.write(`[${o.name}] ${summaryText(o.result!)}`);
    }
    if (json) {
      process.stdout.write(
        JSON.stringify({
          status: failures.length === 0 ? 'succeeded' : 'failed',
          syncs: outcomes.map((o) =>
            o.error === undefined
              ? { name: o.name, ...(JSON.parse(summaryJson(o.result!)) as Record<string, unknown>) }
              : {
                  name: o.name,
                  status: 'failed',
                  error: (o.error as Error).message,
                  load_id: (o.error as { loadId?: string }).loadId ?? null,
                },
          ),
        }) + '\n',
      );
    } else {
      process.stdout.write(`${outcomes.length - failures.length} of ${entries.length} syncs succeeded\n`);
    }
    return failures.length === 0 && outcomes.length === entries.length
      ? EXIT.ok
      : exitCodeFor(failures[0]?.error, signalName);
  } finally {
    await db.close();
  }
}
