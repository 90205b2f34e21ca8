import { Command } from 'commander';
import { environment, migrate, resolveSyncConfig, stderrLogger } from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './report.js';

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('create or upgrade the tables etl uses (also done automatically before every sync)')
    .option('--database-url <url>', 'PostgreSQL connection URL [env DATABASE_URL]')
    .option('--embedded-dir <path>', 'where the embedded PostgreSQL keeps its data [env ETL_EMBEDDED_DIR]')
    .option('--env-file <path>', 'read settings from this file instead of ./.env')
    .action(async (opts: { databaseUrl?: string; embeddedDir?: string; envFile?: string }) => {
      const log = stderrLogger();
      try {
        const config = resolveSyncConfig(
          { databaseUrl: opts.databaseUrl, embeddedDir: opts.embeddedDir },
          environment(process.env, opts.envFile, process.cwd()),
        );
        const result = await migrate(config.database, { log });
        process.stdout.write(
          result.applied.length > 0
            ? `applied migration(s) ${result.applied.join(', ')}; schema is at version ${result.current}\n`
            : `schema is up to date (version ${result.current})\n`,
        );
        process.exitCode = EXIT.ok;
      } catch (error) {
        reportError(error, log, false);
        process.exitCode = exitCodeFor(error);
      }
    });
}
