/**
 * Whether an error means the database could not be reached or the connection was lost (as opposed
 * to the database answering with an error): then nothing more can be done on it from this run.
 */
const NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** admin_shutdown, crash_shutdown, cannot_connect_now; class 08 is matched as a whole. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03']);
/**
 * node-postgres reports these without a code; an error from a worker thread arrives as its message
 * only (the code does not cross the thread boundary).
 */
const LOST_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout|timeout expired|Client was closed and is not queryable)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH)\b/u;

/** A short reason ("ECONNREFUSED", "Connection terminated unexpectedly"), or undefined when the database answered. */
export function connectionLostReason(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NODE_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/u.test(code)))
      return e.message.includes(code) ? e.message : `${code}: ${e.message}`;
    if (LOST_MESSAGES.test(e.message)) return e.message;
    if (e instanceof AggregateError && e.errors.length > 0) return connectionLostReason(e.errors[0]);
  }
  return undefined;
}
