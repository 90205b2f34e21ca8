import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import dotenv from 'dotenv';
import { ConfigError } from '../errors.js';

/**
 * The environment a run sees: the .env file (when present) under the real environment, so an
 * exported variable always wins over the file. process.env itself is not modified.
 */
export function environment(
  processEnv: NodeJS.ProcessEnv,
  envFile: string | undefined,
  cwd: string,
): Record<string, string | undefined> {
  const path = resolve(cwd, envFile ?? '.env');
  let fileVars: Record<string, string> = {};
  try {
    fileVars = dotenv.parse(readFileSync(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || envFile !== undefined) {
      throw new ConfigError(`--env-file: cannot read ${path} (${code ?? (error as Error).message})`);
    }
  }
  return { ...fileVars, ...processEnv };
}
