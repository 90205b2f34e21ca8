/**
 * Which failures are worth retrying within a run: the database or the network was briefly
 * unavailable, or PostgreSQL asked us to try again. Everything else (a bad file, too many bad rows,
 * the empty-file guard, a bad setting) fails the same way every time and is not retried.
 */
import { ConfigError } from '../errors.js';

/** SQLSTATEs that mean "try again": the whole 08 class (connection exceptions) plus these. */
export const TRANSIENT_SQLSTATES: Readonly<Record<string, string>> = {
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '55P03': 'lock_not_available',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
};

/** Node socket errors of a server that is restarting or a network that hiccuped. */
export const TRANSIENT_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * node-postgres reports a connection lost mid-query (the server was restarted or killed the
 * backend) and a pool connect timeout with these messages and no code at all.
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/u;

/** Every error reachable through `cause` and AggregateError's `errors`, outermost first. */
export function causeChain(error: unknown): unknown[] {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  const chain: unknown[] = [];
  while (queue.length > 0 && chain.length < 32) {
    const e = queue.shift();
    if (e === undefined || e === null || seen.has(e)) continue;
    seen.add(e);
    chain.push(e);
    if (typeof e !== 'object') continue;
    queue.push((e as { cause?: unknown }).cause);
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...(nested as unknown[]));
  }
  return chain;
}

/** Why an error is transient ("SQLSTATE 40P01 deadlock_detected", "ECONNREFUSED"), or undefined when it is not. */
export function transientReason(error: unknown): string | undefined {
  const chain = causeChain(error);
  if (chain.some((e) => e instanceof ConfigError)) return undefined;
  for (const e of chain) {
    const code = typeof e === 'object' ? (e as { code?: unknown }).code : undefined;
    if (typeof code === 'string') {
      if (code in TRANSIENT_SQLSTATES) return `SQLSTATE ${code} ${TRANSIENT_SQLSTATES[code]}`;
      if (/^08[0-9A-Z]{3}$/u.test(code)) return `SQLSTATE ${code} connection exception`;
      if (TRANSIENT_NODE_CODES.has(code)) return code;
    }
    if (e instanceof Error && PG_CONNECTION_LOST.test(e.message)) return 'connection lost';
  }
  return undefined;
}

export function isTransient(error: unknown): boolean {
  return transientReason(error) !== undefined;
}
