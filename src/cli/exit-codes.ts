import { ConfigError, LockBusyError, SyncAbortedError } from '../index.js';

/** Documented in README.md ("Exit codes"); scripts and schedulers rely on them. */
export const EXIT = {
  ok: 0,
  /** The sync failed; its compensations ran and the target is as it was. */
  failed: 1,
  /** Bad usage, an invalid setting, or an unreadable/unusable input file; the database was not touched. */
  usage: 2,
  /** Another run holds the table's lock past --lock-timeout. */
  lockBusy: 3,
  /** Stopped by SIGINT / SIGTERM after rolling back (128 + signal number). */
  interrupted: 130,
  terminated: 143,
} as const;

export function exitCodeFor(error: unknown, signal?: NodeJS.Signals): number {
  if (error instanceof ConfigError) return EXIT.usage;
  if (error instanceof LockBusyError) return EXIT.lockBusy;
  if (error instanceof SyncAbortedError) return signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted;
  return EXIT.failed;
}
