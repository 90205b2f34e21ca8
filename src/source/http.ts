/**
 * An http:// or https:// source as a byte stream: redirects followed up to a limit, a non-2xx answer
 * rejected before any byte is read, an idle timeout, and a body cut short reported as an error,
 * never as the end of the data. Labels and messages never show credentials from the URL.
 */
import http from 'node:http';
import https from 'node:https';
import { type Readable } from 'node:stream';
import { ConfigError } from '../errors.js';
import { redactUrl } from '../observe/redact.js';
import { GuardedBody } from './guarded-body.js';

export interface UrlOptions {
  /** No byte for this long (connecting, waiting for the answer, or mid-body) is an error; 0 disables it. */
  timeoutMs: number;
  maxRedirects: number;
  signal?: AbortSignal;
  /** A Range header value (`bytes=0-99`): the answer's status then tells whether the server honoured it. */
  range?: string;
}

export interface UrlBody {
  /** The raw body bytes (after redirects, before any gzip decompression). */
  stream: Readable;
  /** Content-Length, when the server sent one. */
  size?: number;
  /** The URL answered with the body (differs from the one asked for after redirects). */
  url: URL;
  /** The answer's status (206 when a range was honoured) and its Content-Range header. */
  status: number;
  contentRange?: string;
}

/**
 * A URL source failed. `code` is ETIMEDOUT (idle timeout), ECONNRESET (body cut short),
 * ETL_HTTP_STATUS (a non-2xx answer, with `status`), or the code of the socket error it wraps.
 */
export class HttpError extends Error {
  readonly status?: number;
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions & { status?: number },
  ) {
    super(message, options);
    this.name = 'HttpError';
    if (options?.status !== undefined) this.status = options.status;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** We ask for identity; a gzip body anyway is found by its magic bytes like any gzip data. */
const DECODABLE = new Set(['identity', 'gzip', 'x-gzip']);
export const URL_PROTOCOLS = new Set(['http:', 'https:']);

/** Parses an http(s) URL; anything else is a ConfigError naming `setting`. */
export function parseHttpUrl(location: string, setting: string): URL {
  let url: URL;
  try {
    url = new URL(location);
  } catch (error) {
    throw new ConfigError(
      `${setting}: ${redactUrl(location)} is not a valid URL (the value is not shown in case it holds a token)`,
      { cause: error },
    );
  }
  if (!URL_PROTOCOLS.has(url.protocol)) {
    throw new ConfigError(
      `${setting}: ${redactUrl(url)} cannot be read; only http://, https:// and s3:// URLs are supported (or give a file path, or - for standard input)`,
    );
  }
  return url;
}

function basicAuth(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function contentLength(response: http.IncomingMessage): number | undefined {
  const value = response.headers['content-length'];
  return value !== undefined && /^\d+$/u.test(value) ? Number(value) : undefined;
}

function isAbort(error: unknown): boolean {
  return (error as Error | null)?.name === 'AbortError';
}

interface Exchange {
  request: http.ClientRequest;
  response: http.IncomingMessage;
}

/** Sends one GET and waits for the status line and headers. */
function get(url: URL, authorization: string | undefined, options: UrlOptions): Promise<Exchange> {
  const label = redactUrl(url);
  const target = new URL(url);
  target.username = '';
  target.password = '';
  const headers: http.OutgoingHttpHeaders = { 'user-agent': 'etl', accept: '*/*', 'accept-encoding': 'identity' };
  if (authorization) headers.authorization = authorization;
  if (options.range !== undefined) headers.range = options.range;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // agent: false, one connection per source, closed with it: nothing lingers after the run.
    const request = transport.request(target, { method: 'GET', headers, agent: false, signal: options.signal });
    const timer =
      options.timeoutMs > 0
        ? setTimeout(() => {
            request.destroy(
              new HttpError(`GET ${label}: no answer within ${options.timeoutMs} ms (idle timeout)`, 'ETIMEDOUT'),
            );
          }, options.timeoutMs)
        : undefined;
    request.once('response', (response) => {
      clearTimeout(timer);
      resolve({ request, response });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error instanceof HttpError || isAbort(error)) reject(error);
      else reject(new HttpError(`GET ${label} failed: ${error.message}`, error.code ?? 'ETL_HTTP', { cause: error }));
    });
    request.end();
  });
}

function statusText(response: http.IncomingMessage): string {
  const status = response.statusCode ?? 0;
  const text = response.statusMessage || http.STATUS_CODES[status] || '';
  return `${status}${text ? ` ${text}` : ''}`;
}

/** Opens a URL, following redirects; resolves once a 2xx answer's headers are in. */
export async function openUrl(location: string, options: UrlOptions): Promise<UrlBody> {
  const first = parseHttpUrl(location, 'URL');
  const authorization = basicAuth(first);
  let url = first;
  for (let redirects = 0; ; redirects += 1) {
    // Credentials from the URL go to its own origin only, never to where it redirects.
    const { request, response } = await get(url, url.origin === first.origin ? authorization : undefined, options);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      const encoding = response.headers['content-encoding']?.trim().toLowerCase();
      if (encoding && !DECODABLE.has(encoding)) {
        request.destroy();
        throw new HttpError(
          `GET ${redactUrl(url)} answered with Content-Encoding ${encoding}, which cannot be decoded (only gzip)`,
          'ETL_HTTP_ENCODING',
          { status },
        );
      }
      return {
        stream: guardedBody(request, response, redactUrl(url), options.timeoutMs),
        size: contentLength(response),
        url,
        status,
        ...(response.headers['content-range'] === undefined ? {} : { contentRange: response.headers['content-range'] }),
      };
    }
    request.destroy();
    const label = redactUrl(url);
    if (!REDIRECTS.has(status)) {
      throw new HttpError(`GET ${label} answered ${statusText(response)}`, 'ETL_HTTP_STATUS', { status });
    }
    const next = response.headers.location;
    if (next === undefined)
      throw new HttpError(
        `GET ${label} answered ${statusText(response)} without a Location header`,
        'ETL_HTTP_STATUS',
        { status },
      );
    if (redirects >= options.maxRedirects) {
      throw new HttpError(
        `GET ${redactUrl(first)} was redirected more than ${options.maxRedirects} times (maxRedirects ${options.maxRedirects})`,
        'ETL_HTTP_REDIRECTS',
        { status },
      );
    }
    let target: URL;
    try {
      target = new URL(next, url);
    } catch (error) {
      throw new HttpError(
        `GET ${label} answered ${statusText(response)} with an invalid Location header`,
        'ETL_HTTP_STATUS',
        { status, cause: error },
      );
    }
    if (!URL_PROTOCOLS.has(target.protocol)) {
      throw new HttpError(
        `GET ${label} redirected to ${redactUrl(target)}, which is not an http:// or https:// URL`,
        'ETL_HTTP_STATUS',
        { status },
      );
    }
    url = target;
  }
}

/** The response body, guarded; an error of the request (an abort, a reset) also ends it. */
function guardedBody(
  request: http.ClientRequest,
  response: http.IncomingMessage,
  label: string,
  timeoutMs: number,
): GuardedBody {
  const body = new GuardedBody({
    body: response,
    label,
    noun: 'body',
    timeoutMs,
    expected: contentLength(response),
    complete: () => response.complete,
    error: (message, code, options) => new HttpError(message, code, options),
    close: () => request.destroy(),
  });
  request.on('error', (error) =>
    body.fail(isAbort(error) || error instanceof HttpError ? error : body.cutShort(error)),
  );
  return body;
}
