/**
 * --notify-url: failed runs and breaker changes are POSTed as JSON. A notification is best effort:
 * it is sent in the background with a timeout, and a slow or broken receiver only costs a warning,
 * never a delayed or failed run.
 */
import { redactSecrets } from '../observe/redact.js';
import type { Logger } from '../observe/log.js';

export type NotifyEventName = 'run_failed' | 'breaker_opened' | 'breaker_half_open' | 'breaker_closed';

export interface NotifyEvent {
  event: NotifyEventName;
  table: string;
  load_id: string | null;
  error: string | null;
  counts: Record<string, number> | null;
  time: string;
  host: string;
  [extra: string]: unknown;
}

export interface Notifier {
  send(event: NotifyEvent): void;
  /** Waits (at most `maxMs`) for notifications still in flight, so a shutdown does not cut them off. */
  flush(maxMs: number): Promise<void>;
}

export const silentNotifier: Notifier = { send: () => undefined, flush: async () => undefined };

/** The receiver, for messages: its origin only, because webhook paths often embed a token. */
function describeReceiver(url: URL | undefined): string {
  return url?.origin ?? 'the notify URL';
}

/**
 * fetch refuses a URL with `user:password@`: the credentials go in an Authorization: Basic header
 * instead, and the URL is sent without them.
 */
function webhookRequest(url: string): { target: string; authorization?: string; parsed?: URL } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { target: url };
  }
  if (parsed.username === '' && parsed.password === '') return { target: url, parsed };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return {
    target: parsed.toString(),
    authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
    parsed,
  };
}

export function httpNotifier(url: string, timeoutMs: number, log: Logger, userAgent = 'etl-daemon'): Notifier {
  const { target, authorization, parsed } = webhookRequest(url);
  const receiver = describeReceiver(parsed);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': userAgent };
  if (authorization) headers.authorization = authorization;
  // A failure message may echo the URL: its credentials, path and query (webhook tokens) are hidden.
  const original = parsed ? new URL(url) : undefined;
  const secrets = original
    ? [original.username, original.password, original.pathname.length > 1 ? original.pathname : '', original.search]
    : [url];
  const inFlight = new Set<Promise<void>>();
  const post = async (event: NotifyEvent) => {
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...event, error: event.error === null ? null : redactSecrets(event.error) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The body is not needed, but reading it lets the connection be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) log.warn(`notify: ${receiver} answered ${response.status} to the ${event.event} event`);
    } catch (error) {
      const why =
        (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs}ms` : causeMessage(error, secrets);
      log.warn(`notify: could not deliver the ${event.event} event to ${receiver} (${why})`);
    }
  };
  return {
    send(event) {
      const sending = post(event).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    },
    async flush(maxMs) {
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
      await Promise.race([Promise.allSettled([...inFlight]), deadline]);
      clearTimeout(timer);
    },
  };
}

/** fetch wraps socket errors ("fetch failed"); the cause says what actually happened. */
function causeMessage(error: unknown, secrets: readonly string[]): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return redactSecrets(cause?.code ?? cause?.message ?? (error as Error).message ?? String(error), secrets);
}
