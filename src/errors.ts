/**
 * Error kinds the CLI turns into exit codes. Library callers can tell them apart with instanceof
 * (or the `code` field) without parsing messages.
 */

/** A setting, flag or input file is unusable; nothing touched the database. */
export class ConfigError extends Error {
  readonly code = 'ETL_CONFIG';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Another run holds the table's lock and did not release it within the lock timeout. */
export class LockBusyError extends Error {
  readonly code = 'ETL_LOCK_BUSY';
  constructor(message: string) {
    super(message);
    this.name = 'LockBusyError';
  }
}

/** The run failed and its compensations ran: the target is as it was before. */
export class SyncFailedError extends Error {
  readonly code = 'ETL_SYNC_FAILED';
  constructor(
    message: string,
    readonly loadId: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SyncFailedError';
  }
}

/** The run was stopped by a signal (or an abort) and rolled back. */
export class SyncAbortedError extends Error {
  readonly code = 'ETL_ABORTED';
  constructor(
    message: string,
    readonly loadId: string | undefined,
  ) {
    super(message);
    this.name = 'SyncAbortedError';
  }
}

/** `write`/`stage` after `commit`/`abort`, or a second `commit`: nothing was done. */
export class LoadClosedError extends Error {
  readonly code = 'ETL_LOAD_CLOSED';
  constructor(
    target: string,
    readonly loadId: string,
    state: string,
  ) {
    super(
      state === 'committing'
        ? `load ${loadId} of ${target} is already committing; wait for that commit instead of calling commit again`
        : `load ${loadId} of ${target} is ${state}: it takes no more records and cannot be committed or aborted again; open a new loader`,
    );
    this.name = 'LoadClosedError';
  }
}

/** PostgreSQL SQLSTATE codes this tool reacts to. */
export const PG_CODES = {
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  undefinedTable: '42P01',
  uniqueViolation: '23505',
  /** MERGE matched one target row with more than one source row (a repeated key). */
  cardinalityViolation: '21000',
} as const;

/** The SQLSTATE of a PostgreSQL error, looking through `cause` when it was wrapped. */
export function pgCode(error: unknown): string | undefined {
  for (
    let e = error as { code?: unknown; cause?: unknown } | null | undefined, depth = 0;
    e && depth < 10;
    e = e.cause as typeof e, depth += 1
  ) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/u.test(e.code)) return e.code;
  }
  return undefined;
}

/** The message of anything thrown: an Error's message, or the value itself as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
