import { Command } from 'commander';
import { addServeOptions, serveAction } from './serve-options.js';

export function workerCommand(): Command {
  const cmd = new Command('worker').description(
    'run the imports that etl serve queues (no HTTP): fetch URLs, merge staged uploads; any number of them share the queue',
  );
  addServeOptions(cmd, false);
  cmd.action((opts: Record<string, unknown>, command: Command) =>
    serveAction(opts, command, { api: false, worker: true }),
  );
  return cmd;
}
