/**
 * --log-format json: one JSON object per line ({"time","level","msg", ...fields}) for log
 * collectors. Messages and string fields pass through redactSecrets like the text log.
 */
import { redactSecrets } from './redact.js';
import type { Logger, LogLevel } from './log.js';

export type LogFields = Readonly<Record<string, unknown>>;

/** A Logger that also takes structured fields; a text logger simply ignores them. */
export interface FieldLogger extends Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  write?: (line: string) => void;
  now?: () => Date;
}

export function jsonLogger(options: JsonLoggerOptions = {}): FieldLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    const record: Record<string, unknown> = { time: now().toISOString(), level, msg: message };
    for (const [key, value] of Object.entries(fields)) if (!(key in record) && value !== undefined) record[key] = value;
    write(JSON.stringify(record, redactingReplacer) + '\n');
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** Adapts a plain Logger (the text one): the message already says what the fields hold. */
export function ignoringFields(logger: Logger): FieldLogger {
  return {
    info: (m) => logger.info(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
  };
}

function redactingReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value instanceof Error) return redactSecrets(value.message);
  return value;
}
