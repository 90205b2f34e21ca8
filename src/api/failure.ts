/** A failed import's stable error code, for clients that branch on it (GET /v1/imports/{id} `error.code`). */
import { ConfigError, LockBusyError, SyncAbortedError } from '../errors.js';
import { DeleteLimitError, EmptyLoadError } from '../merge/transaction.js';
import { HttpError } from '../source/http.js';
import { SourceError } from '../source/input.js';
import { S3Error } from '../source/s3-location.js';

/** Raised by the import itself with its code (staging lost, body too large, ...). */
export class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ImportError';
  }
}

function* chain(error: unknown): Generator<unknown> {
  for (let e = error, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth += 1) yield e;
}

export function importErrorCode(error: unknown): string {
  for (const e of chain(error)) {
    if (e instanceof ImportError) return e.code;
    if (e instanceof EmptyLoadError) return 'empty_load';
    if (e instanceof DeleteLimitError) return 'delete_limit';
    if (e instanceof HttpError || e instanceof S3Error) return 'source_unreachable';
    if (e instanceof SourceError) return 'source_unreadable';
    if (e instanceof LockBusyError) return 'table_busy';
    if (e instanceof SyncAbortedError) return 'aborted';
    if (e instanceof ConfigError) return 'invalid_source';
    if (e instanceof Error && e.constructor.name === 'TooManyRejectsError') return 'too_many_rejects';
  }
  return 'load_failed';
}
