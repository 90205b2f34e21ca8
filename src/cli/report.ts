import { redactSecrets } from '../observe/redact.js';
import type { Logger } from '../index.js';

/** Prints a failure: the message on stderr, and with --json also a JSON object on stdout. */
export function reportError(error: unknown, log: Logger, json: boolean): void {
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  log.error(message);
  if (json) {
    const loadId = (error as { loadId?: string }).loadId;
    const code = (error as { code?: string }).code;
    process.stdout.write(
      JSON.stringify({ status: 'failed', error: message, code: code ?? null, load_id: loadId ?? null }) + '\n',
    );
  }
}
