/**
 * s3:// locations without the SDK (so that loading them costs nothing for other sources): parsing,
 * labels, the settings and the error type. The SDK side is s3.ts, loaded only for s3:// sources.
 */
import { ConfigError } from '../errors.js';

export interface S3Settings {
  /** An S3-compatible endpoint (http(s)://host:port); undefined means AWS itself. */
  endpoint?: string;
  /** No byte for this long (waiting for an answer, or mid-body) is an error; 0 disables it. */
  timeoutMs: number;
}

export interface S3Ref {
  bucket: string;
  key: string;
}

/** An object store request failed; `code` is the S3 error code (NoSuchKey, AccessDenied...), ETIMEDOUT or ECONNRESET. */
export class S3Error extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'S3Error';
  }
}

export function isS3Url(location: string): boolean {
  return /^s3:\/\//iu.test(location);
}

export function s3Label(ref: S3Ref): string {
  return `s3://${ref.bucket}/${ref.key}`;
}

/** `s3://bucket/key` (the key may be empty, a prefix, or hold wildcards); anything else is a ConfigError naming `setting`. */
export function parseS3Url(location: string, setting: string): S3Ref {
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/iu.exec(location);
  if (!m)
    throw new ConfigError(
      `${setting}: ${JSON.stringify(location)} is not an s3:// location; write s3://bucket/key (or a prefix ending in /, or a glob)`,
    );
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/u.test(bucket))
    throw new ConfigError(`${setting}: ${JSON.stringify(bucket)} is not a valid S3 bucket name`);
  return { bucket, key: m[2] ?? '' };
}
