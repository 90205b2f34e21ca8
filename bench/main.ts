/**
 * `npm run bench`: flags -> options -> runBench -> table or JSON. The only module of the benchmark
 * that touches argv, the environment, the terminal and the exit code.
 */
import { CommanderError } from 'commander';
import { writeFile } from 'node:fs/promises';
import { redactSecrets } from '../src/observe/redact.js';
import { openServer } from './database.js';
import { runLoaderMemory } from './loader-memory.js';
import { benchOptions, type BenchOptions } from './options.js';
import { loaderMemoryText, reportText } from './report.js';
import { runBench, type BenchEnvironment } from './runner.js';

function parseOptions(): BenchOptions {
  try {
    return benchOptions(process.argv.slice(2), process.env, process.cwd());
  } catch (error) {
    // commander has printed the usage error (or --help); usage mistakes exit 2, as etl's do
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    throw error;
  }
}

const options = parseOptions();

const log = options.quiet
  ? () => undefined
  : (message: string) => process.stderr.write(`bench: ${redactSecrets(message)}\n`);
const controller = new AbortController();
process.on('SIGINT', () => {
  log('interrupted: stopping after the current step and dropping the scratch databases');
  controller.abort();
});

try {
  const server = await openServer(options.databaseUrl, options.embeddedDir, log);
  try {
    const environment: BenchEnvironment = { server, env: process.env, log, signal: controller.signal };
    // --loader-memory N: only the loader's memory check, instead of the benchmark
    const [result, text] =
      options.loaderMemory === undefined
        ? await runBench(options, environment).then((r) => [r, reportText(r)] as const)
        : await runLoaderMemory(options.loaderMemory, options, environment).then(
            (r) => [r, loaderMemoryText(r)] as const,
          );
    const json = JSON.stringify(result, null, 2) + '\n';
    if (options.out) await writeFile(options.out, json);
    process.stdout.write(options.json && !options.out ? json : text);
    if (options.out) log(`results written to ${options.out}`);
    process.exitCode = result.ok ? 0 : 1;
  } finally {
    await server.stop();
  }
} catch (error) {
  process.stderr.write(`bench error: ${redactSecrets(error instanceof Error ? error.message : String(error))}\n`);
  process.exitCode = controller.signal.aborted ? 130 : 1;
}
