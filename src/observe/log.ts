/** Human-facing messages go to stderr so stdout stays clean for --json output. */
import { redactSecrets } from './redact.js';

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function stderrLogger(options: { quiet?: boolean } = {}): Logger {
  const write = (level: LogLevel, message: string) => {
    if (options.quiet && level === 'info') return;
    const prefix = level === 'info' ? 'etl' : `etl ${level}`;
    process.stderr.write(`${prefix}: ${redactSecrets(message)}\n`);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
