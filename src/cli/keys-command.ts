import { Command } from 'commander';
import {
  createApiKey,
  environment,
  listApiKeys,
  resolveSyncConfig,
  revokeApiKey,
  stderrLogger,
  type DatabaseSetting,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';

interface DbOpts {
  databaseUrl?: string;
  embeddedDir?: string;
  envFile?: string;
  json?: boolean;
}

function database(opts: DbOpts): DatabaseSetting {
  return resolveSyncConfig(
    { databaseUrl: opts.databaseUrl, embeddedDir: opts.embeddedDir },
    environment(process.env, opts.envFile, process.cwd()),
  ).database;
}

function withDbOptions(cmd: Command): Command {
  return cmd
    .option('--database-url <url>', 'PostgreSQL connection URL [env DATABASE_URL]')
    .option('--embedded-dir <path>', 'where the embedded PostgreSQL keeps its data [env ETL_EMBEDDED_DIR]')
    .option('--env-file <path>', 'read settings from this file instead of ./.env')
    .option('--json', 'print JSON on stdout');
}

async function run(opts: DbOpts, work: () => Promise<void>): Promise<void> {
  try {
    await work();
    process.exitCode ??= EXIT.ok;
  } catch (error) {
    reportError(error, stderrLogger(), Boolean(opts.json));
    process.exitCode = exitCodeFor(error);
  }
}

export function keysCommand(): Command {
  const keys = new Command('keys').description('API keys of etl serve: create, list, revoke');
  keys.addCommand(
    withDbOptions(new Command('create'))
      .description('create a key; its token is printed once (only a hash is stored)')
      .requiredOption('--name <name>', 'a unique name for the key (who uses it)')
      .requiredOption('--syncs <list>', 'syncs it may use, comma-separated (a,b), or * for all')
      .requiredOption('--scope <scope>', 'read (see imports) or write (also start and cancel them)')
      .action((opts: DbOpts & { name: string; syncs: string; scope: string }) =>
        run(opts, async () => {
          const { key, token } = await createApiKey(database(opts), {
            name: opts.name,
            syncs: opts.syncs.split(','),
            scope: opts.scope,
          });
          process.stdout.write(
            opts.json
              ? JSON.stringify({ name: key.name, syncs: key.syncs, scope: key.scope, token }) + '\n'
              : `${token}\n`,
          );
          if (!opts.json)
            process.stderr.write(
              `etl: created key ${key.name} (${key.scope} on ${key.syncs.join(', ')}); the token above is shown only now\n`,
            );
        }),
      ),
  );
  keys.addCommand(
    withDbOptions(new Command('list'))
      .description('list keys (never their tokens)')
      .option('--all', 'include revoked keys')
      .action((opts: DbOpts & { all?: boolean }) =>
        run(opts, async () => {
          const list = await listApiKeys(database(opts), Boolean(opts.all));
          if (opts.json) {
            const keysJson = list.map((k) => ({
              name: k.name,
              syncs: k.syncs,
              scope: k.scope,
              created_at: k.createdAt.toISOString(),
              revoked_at: k.revokedAt?.toISOString() ?? null,
            }));
            process.stdout.write(JSON.stringify({ keys: keysJson }) + '\n');
            return;
          }
          if (list.length === 0) process.stdout.write('no API keys (create one with etl keys create)\n');
          for (const k of list)
            process.stdout.write(
              `${k.name}\t${k.scope}\t${k.syncs.join(',')}\tcreated ${k.createdAt.toISOString()}${k.revokedAt ? `\trevoked ${k.revokedAt.toISOString()}` : ''}\n`,
            );
        }),
      ),
  );
  keys.addCommand(
    withDbOptions(new Command('revoke'))
      .description('revoke a key by name: it stops working at once')
      .argument('<name>', 'the key to revoke')
      .action((name: string, opts: DbOpts) =>
        run(opts, async () => {
          if (await revokeApiKey(database(opts), name)) process.stdout.write(`revoked ${name}\n`);
          else {
            process.stderr.write(`etl error: no active key named ${JSON.stringify(name)} (see etl keys list)\n`);
            process.exitCode = EXIT.failed;
          }
        }),
      ),
  );
  return keys;
}
