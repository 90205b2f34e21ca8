/**
 * Opens a source (a file, `-` for standard input, an http(s) URL or an s3:// object) as one byte stream, gunzipped
 * on the fly when its first bytes say gzip. Read errors, a truncated download or corrupt gzip data
 * reach the consumer as a stream error naming the source, never as an early end of the data.
 */
import { createReadStream, fstatSync, openSync } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { PassThrough, addAbortSignal, pipeline, type Readable } from 'node:stream';
import { ConfigError } from '../errors.js';
import { GzipSniffer, gunzip } from './gzip.js';
import { redactUrl } from '../observe/redact.js';
import { HttpError, openUrl, parseHttpUrl } from './http.js';
import { isS3Url, parseS3Url, S3Error, type S3Settings } from './s3-location.js';

export interface InputOptions {
  /** Read for `-`; process.stdin by default. */
  stdin?: Readable;
  /** URLs: no byte for this long (connecting, waiting for the answer, or mid-body) is an error. Default 30000; 0 disables it. */
  timeoutMs?: number;
  /** URLs: redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** s3:// sources: the endpoint of an S3-compatible store (credentials come from the AWS default chain). */
  s3?: Omit<S3Settings, 'timeoutMs'>;
}

export interface Input {
  /** The bytes of the source, after gzip decompression. */
  stream: Readable;
  /** Raw (compressed) size in bytes when known: the file size or Content-Length. */
  size?: number;
  /** Raw bytes consumed so far, in the same unit as `size`. */
  bytesRead: () => number;
  /** The path, `stdin`, or the URL without credentials or secret query values. */
  label: string;
  /** The data was gzip (detected by its first bytes). */
  compressed: boolean;
  /** The name to guess the format from: the path or the URL's path, without a trailing .gz ('' for stdin). */
  formatHint: string;
}

/** A file or stdin could not be read, or its gzip data is corrupt; `code` is the cause's (ENOENT, EIO, Z_DATA_ERROR...). */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SourceError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REDIRECTS = 5;

/** `scheme://...`: a URL rather than a path (which is then checked to be http or https). */
export function isUrl(location: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//u.test(location);
}

/** How a location is shown in messages, labels and load history. */
export function sourceLabel(location: string): string {
  if (location === '-') return 'stdin';
  return isUrl(location) ? redactUrl(location) : location;
}

/**
 * Checks a source can be opened, with a message naming the setting and the fix; runs before any
 * database work. Files must exist and be readable; URLs must be http(s) (they are reached later).
 */
export async function checkReadable(location: string, setting: string): Promise<void> {
  if (location === '-') return;
  if (isS3Url(location)) {
    parseS3Url(location, setting);
    return;
  }
  if (isUrl(location)) {
    parseHttpUrl(location, setting);
    return;
  }
  try {
    const info = await stat(location);
    if (info.isDirectory()) throw new ConfigError(`${setting}: ${location} is a directory, not a file`);
    await access(location, constants.R_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable (permission denied)'
          : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(`${setting}: the file ${location} ${why}; set --file or CSV_FILE to a readable file`);
  }
}

interface RawInput {
  stream: Readable;
  size?: number;
  /** The name behind the data, for the format guess. */
  name: string;
}

function stdinSize(stdin: Readable): number | undefined {
  if (stdin !== process.stdin) return undefined;
  try {
    const info = fstatSync(0);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

async function openRaw(location: string, options: InputOptions): Promise<RawInput> {
  if (location === '-') {
    const stdin = options.stdin ?? process.stdin;
    return { stream: stdin, size: stdinSize(stdin), name: '' };
  }
  if (isS3Url(location)) {
    const ref = parseS3Url(location, 'source');
    // The SDK is loaded only when an s3:// source is read: it costs most of a second at startup.
    const { createS3Client, openS3Object } = await import('./s3.js');
    const settings = { ...options.s3, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
    const client = createS3Client(settings);
    try {
      const object = await openS3Object(client, ref, settings, { signal: options.signal });
      object.stream.once('close', () => client.destroy());
      return { stream: object.stream, size: object.size, name: ref.key };
    } catch (error) {
      client.destroy();
      throw error;
    }
  }
  if (isUrl(location)) {
    const body = await openUrl(location, {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
      signal: options.signal,
    });
    return { stream: body.stream, size: body.size, name: urlPath(body.url) };
  }
  const info = await stat(location).catch((error: unknown) => {
    throw namingSource(location, error);
  });
  // A FIFO is read through the event loop (like a piped stdin), not a thread-pool read: a FIFO
  // nobody writes to would block that thread, and with it the process's exit, for good.
  if (info.isFIFO()) {
    const fd = openSync(location, constants.O_RDONLY | constants.O_NONBLOCK);
    return { stream: new Socket({ fd, readable: true, writable: false }), name: location };
  }
  // A device has no meaningful size.
  return {
    stream: createReadStream(location, { highWaterMark: 1 << 20 }),
    size: info.isFile() ? info.size : undefined,
    name: location,
  };
}

function urlPath(url: URL): string {
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return url.pathname;
  }
}

/** The error as the consumer sees it: naming the source, keeping the original as `cause`. */
function namingSource(label: string, error: unknown): Error {
  if (
    error instanceof HttpError ||
    error instanceof S3Error ||
    error instanceof ConfigError ||
    error instanceof SourceError
  )
    return error;
  if (!(error instanceof Error)) return new SourceError(`${label}: ${String(error)}`, undefined, { cause: error });
  if (error.name === 'AbortError') return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new SourceError(`${label}: the gzip data is corrupt or truncated (${error.message})`, code, {
      cause: error,
    });
  }
  return new SourceError(`${label}: ${error.message}`, code, { cause: error });
}

/** The stream handed out: whatever error destroys it is re-described to name the source. */
class SourceStream extends PassThrough {
  constructor(private readonly label: string) {
    super({ highWaterMark: 1 << 20 });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error ? namingSource(this.label, error) : null);
  }
}

const ignore = (): void => undefined;

/**
 * Opens the source and reads its first bytes (to tell gzip). Rejects when it cannot be opened at all
 * (missing file, DNS, connection refused, a non-2xx answer, too many redirects, the timeout); later
 * failures destroy `stream` with an error.
 */
export async function openInput(location: string, options: InputOptions = {}): Promise<Input> {
  options.signal?.throwIfAborted();
  const label = sourceLabel(location);
  const raw = await openRaw(location, options);
  const sniffer = new GzipSniffer();
  // Errors reach the consumer through `sniffer` and the stream piped from it; the callbacks only
  // keep unhandled rejections away.
  pipeline(raw.stream, sniffer, ignore);
  const { signal } = options;
  const onAbort = () =>
    sniffer.destroy(
      signal?.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError'),
    );
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let compressed: boolean;
  try {
    compressed = await sniffer.compressed();
  } catch (error) {
    sniffer.destroy();
    throw namingSource(label, error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const stream = new SourceStream(label);
  if (compressed) pipeline(sniffer, gunzip(), stream, ignore);
  else pipeline(sniffer, stream, ignore);
  if (signal) addAbortSignal(signal, stream);
  return {
    stream,
    ...(raw.size === undefined ? {} : { size: raw.size }),
    bytesRead: () => sniffer.bytes,
    label,
    compressed,
    formatHint: raw.name.replace(/\.gz$/iu, ''),
  };
}
