/** Retries within one run: exponential backoff with jitter, transient failures only. */
import { LockBusyError } from '../errors.js';
import { transientReason } from './transient.js';

export interface RetryPolicy {
  /** Extra attempts after the first (0 = no retry). */
  retries: number;
  /** The first backoff; each further one doubles. */
  baseDelayMs: number;
}

/** No backoff grows past this (unless the base delay itself is longer). */
export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * The wait before retry number `retry` (1-based): base × 2^(retry-1), capped, then "equal jitter"
 * (between half and all of it) so replicas that failed together do not retry in lockstep, while
 * still giving a restarting server at least half the intended time.
 */
export function backoffDelay(retry: number, baseDelayMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(baseDelayMs * 2 ** Math.max(0, retry - 1), Math.max(baseDelayMs, MAX_BACKOFF_MS));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

export interface RetryHooks {
  /** Waits before the next attempt; rejects (ending the retries) when the wait is cancelled. */
  sleep(ms: number): Promise<void>;
  /** False stops retrying (shutting down). */
  mayRetry(): boolean;
  onRetry(error: unknown, reason: string, retry: number, delayMs: number): void;
  random?: () => number;
}

/**
 * Why attempt `n`'s failure is worth another attempt, or undefined. Beyond transient errors: the
 * table lock found busy right after a transient failure is most likely still held by the previous
 * attempt's lost session, which PostgreSQL releases once it notices. On a first attempt a busy lock
 * means another run (a replica) has the table, and the run is skipped instead.
 */
export function retryReason(error: unknown, attempt: number): string | undefined {
  const transient = transientReason(error);
  if (transient !== undefined) return transient;
  if (attempt > 1 && error instanceof LockBusyError)
    return "table lock still held, likely by the previous attempt's lost session";
  return undefined;
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the retries are used up; the last error
 * is rethrown. `attempt` receives the attempt number (1-based).
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks,
): Promise<T> {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt(n);
    } catch (error) {
      const reason = retryReason(error, n);
      if (reason === undefined || n > policy.retries || !hooks.mayRetry()) throw error;
      const delayMs = backoffDelay(n, policy.baseDelayMs, hooks.random);
      hooks.onRetry(error, reason, n, delayMs);
      try {
        await hooks.sleep(delayMs);
      } catch {
        throw error;
      }
      if (!hooks.mayRetry()) throw error;
    }
  }
}
