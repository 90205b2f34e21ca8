/**
 * Random access to a Parquet file, wherever it is: a local file (positioned reads), an s3:// object
 * (ranged GETs through the SDK, with its retries and our idle timeout) or an http(s) URL (ranged
 * GETs). The reader asks for the footer first, then for one row group's column chunks at a time.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AsyncBuffer } from 'hyparquet';
import { redactUrl } from '../../observe/redact.js';
import { HttpError, openUrl, type UrlBody } from '../http.js';
import type { S3Ref, S3Settings } from '../s3-location.js';
import { openS3Object, s3ObjectSize } from '../s3.js';

/** Redirects followed by a ranged read, as for any URL source. */
const MAX_REDIRECTS = 5;

export interface ByteRanges extends AsyncBuffer {
  /** Bytes fetched so far (progress). */
  readonly bytesRead: number;
  close(): Promise<void>;
}

async function collect(stream: Readable, expected: number, label: string): Promise<ArrayBuffer> {
  const out = new Uint8Array(expected);
  let at = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (at + chunk.length > expected) throw new Error(`${label}: the store sent more bytes than asked for`);
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== expected) throw new Error(`${label}: a ranged read returned ${at} of ${expected} bytes`);
  return out.buffer;
}

export async function fileRanges(path: string): Promise<ByteRanges> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  let bytesRead = 0;
  return {
    byteLength: size,
    get bytesRead() {
      return bytesRead;
    },
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const length = Math.max(0, end - start);
      const out = new Uint8Array(length);
      let at = 0;
      while (at < length) {
        const { bytesRead: n } = await handle.read(out, at, length - at, start + at);
        if (n === 0)
          throw new Error(`${path}: the file ended at byte ${start + at}, before ${end} (was it truncated?)`);
        at += n;
      }
      bytesRead += length;
      return out.buffer;
    },
    close: () => handle.close(),
  };
}

export async function s3Ranges(
  client: S3Client,
  ref: S3Ref,
  settings: S3Settings,
  signal?: AbortSignal,
): Promise<ByteRanges> {
  const size = await s3ObjectSize(client, ref, settings, signal);
  let bytesRead = 0;
  return {
    byteLength: size,
    get bytesRead() {
      return bytesRead;
    },
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      if (end <= start) return new ArrayBuffer(0);
      const object = await openS3Object(client, ref, settings, { signal, range: `${start}-${end - 1}` });
      const bytes = await collect(object.stream, end - start, `s3://${ref.bucket}/${ref.key}`);
      bytesRead += end - start;
      return bytes;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * An http(s) URL read with Range requests, each through the same reader as any URL (redirects,
 * credentials from the URL, idle timeout, a body cut short as an error); a server that ignores
 * Range is refused rather than downloaded whole again and again.
 */
export async function httpRanges(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ByteRanges> {
  const label = redactUrl(url);
  const request = async (range: string): Promise<UrlBody> => {
    const body = await openUrl(url, { timeoutMs, maxRedirects: MAX_REDIRECTS, signal, range });
    if (body.status !== 206) {
      body.stream.destroy();
      throw new HttpError(
        `GET ${label} (${range}) answered ${body.status}; Parquet over http(s) needs a server that answers Range requests (206)`,
        'ETL_HTTP_STATUS',
        { status: body.status },
      );
    }
    return body;
  };
  const probe = await request('bytes=0-0');
  probe.stream.destroy();
  const total = /\/(\d+)$/u.exec(probe.contentRange ?? '')?.[1];
  if (total === undefined)
    throw new HttpError(`GET ${label}: the answer to a Range request does not say the file's size`, 'ETL_HTTP_STATUS');
  const size = Number(total);
  let bytesRead = 0;
  return {
    byteLength: size,
    get bytesRead() {
      return bytesRead;
    },
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      if (end <= start) return new ArrayBuffer(0);
      const body = await request(`bytes=${start}-${end - 1}`);
      const bytes = await collect(body.stream, end - start, label);
      bytesRead += end - start;
      return bytes;
    },
    close: () => Promise.resolve(),
  };
}
