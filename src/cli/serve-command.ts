import { Command } from 'commander';
import { addServeOptions, serveAction } from './serve-options.js';

export function serveCommand(): Command {
  const cmd = new Command('serve').description(
    'the bulk-import HTTP API (POST /v1/tables/{sync}/imports, GET /v1/imports/{id}, ...), and a worker unless --no-worker; ' +
      'any number of replicas share one database and its job queue',
  );
  addServeOptions(cmd, true);
  cmd.option('--no-worker', 'only answer HTTP; leave the imports to etl worker processes');
  cmd.option('--insecure-no-auth', 'serve without API keys (then only on 127.0.0.1): for local use and tests');
  cmd.action((opts: Record<string, unknown>, command: Command) =>
    serveAction(opts, command, { api: true, worker: opts.worker !== false }),
  );
  return cmd;
}
