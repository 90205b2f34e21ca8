import { Command, CommanderError } from 'commander';
import { migrateCommand } from './migrate-command.js';
import { syncCommand } from './sync-command.js';
import { daemonCommand } from './daemon-command.js';
import { statusCommand } from './status-command.js';
import { serveCommand } from './serve-command.js';
import { workerCommand } from './worker-command.js';
import { keysCommand } from './keys-command.js';
import { EXIT } from './exit-codes.js';
import { redactSecrets } from '../observe/redact.js';

const program = new Command('etl')
  .description(
    'Keep PostgreSQL tables in sync with CSV and JSON files: streamed, validated, staged with COPY, merged atomically.',
  )
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run etl --help for usage)');
program.addCommand(syncCommand());
program.addCommand(migrateCommand());
program.addCommand(daemonCommand());
program.addCommand(statusCommand());
program.addCommand(serveCommand());
program.addCommand(workerCommand());
program.addCommand(keysCommand());
for (const cmd of program.commands) {
  cmd.exitOverride();
  for (const sub of cmd.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; every usage mistake is exit code 2.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(`etl error: ${redactSecrets(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = EXIT.failed;
  }
}
