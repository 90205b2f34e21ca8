/**
 * s3://bucket/key sources through the AWS SDK: credentials and region from the SDK's default chain
 * (environment, shared config and credentials files, profile, container and instance roles), an
 * optional endpoint for S3-compatible stores (path-style addressing there), retries on throttling
 * and 5xx answers, an idle timeout, and a body cut short reported as an error. Messages name the
 * object, never a credential.
 */
import { addAbortSignal, type Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import { GuardedBody } from './guarded-body.js';
import { S3Error, s3Label, type S3Ref, type S3Settings } from './s3-location.js';

/** Attempts per request: the SDK's standard strategy backs off between them on 503 SlowDown, throttling and 5xx. */
const MAX_ATTEMPTS = 5;

/** One client per load: closed with the load, so no socket outlives it. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint, forcePathStyle: true }),
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: settings.timeoutMs > 0 ? settings.timeoutMs : undefined },
    // Ranged reads (Parquet) carry no whole-object checksum to check.
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** What went wrong, in words that name the object and the fix; the SDK's own text can quote request details. */
export function describeS3Error(error: unknown, action: string, label: string): Error {
  if (error instanceof S3Error || error instanceof ConfigError) return error;
  if ((error as Error | null)?.name === 'AbortError') return error as Error;
  const name = (error as Error | null)?.name ?? 'Error';
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const says = `${action} ${label}`;
  const code = error instanceof S3ServiceException ? error.name : ((error as NodeJS.ErrnoException).code ?? name);
  let why: string;
  switch (name) {
    case 'NoSuchKey':
    case 'NotFound':
      why = 'the object does not exist';
      break;
    case 'NoSuchBucket':
      why = 'the bucket does not exist';
      break;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'AccessDenied':
    case 'Forbidden':
      why = `access denied (${name}): check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the object's permissions`;
      break;
    case 'CredentialsProviderError':
      why =
        'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance or container role';
      break;
    case 'TimeoutError':
      why = 'the connection timed out';
      break;
    default:
      if (/region is missing/iu.test((error as Error | null)?.message ?? ''))
        why = 'no AWS region is configured: set AWS_REGION (or a region in the AWS profile)';
      else if (status === 503 || name === 'SlowDown' || name === 'ThrottlingException')
        why = `the store kept throttling (${name}) after ${MAX_ATTEMPTS} attempts`;
      else if (status !== undefined) why = `the store answered ${status} (${name})`;
      else why = `${name}${code !== name ? ` (${code})` : ''}: ${safeMessage(error)}`;
  }
  return new S3Error(`${says}: ${why}`, code, { cause: error });
}

/** A network error's message (ECONNREFUSED 127.0.0.1:9000...); never SDK service text, which can quote request details. */
function safeMessage(error: unknown): string {
  return error instanceof S3ServiceException ? error.name : ((error as Error | null)?.message ?? String(error));
}

/** Runs `work` with an abort signal that fires when no answer came within the timeout (or the caller's signal fires). */
async function withTimeout<T>(
  settings: S3Settings,
  signal: AbortSignal | undefined,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer =
    settings.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, settings.timeoutMs)
      : undefined;
  try {
    return await work(controller.signal);
  } catch (error) {
    if (timedOut) throw new S3Error(`${what}: no answer within ${settings.timeoutMs} ms (idle timeout)`, 'ETIMEDOUT');
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

export interface S3Object {
  stream: Readable;
  size?: number;
}

/** Opens an object for streaming; rejects when it cannot be read at all. `range` is `start-end` (inclusive). */
export async function openS3Object(
  client: S3Client,
  ref: S3Ref,
  settings: S3Settings,
  options: { signal?: AbortSignal; range?: string } = {},
): Promise<S3Object> {
  const label = s3Label(ref);
  try {
    const answer = await withTimeout(settings, options.signal, `GET ${label}`, (abortSignal) =>
      client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(options.range === undefined ? {} : { Range: `bytes=${options.range}` }),
        }),
        { abortSignal },
      ),
    );
    const body = answer.Body as Readable | undefined;
    if (!body) throw new S3Error(`GET ${label}: the answer has no body`, 'ETL_S3_BODY');
    const size = answer.ContentLength;
    const stream = new GuardedBody({
      body,
      label,
      noun: 'object',
      timeoutMs: settings.timeoutMs,
      expected: size,
      error: (message, code, options) => new S3Error(message, code, options),
      close: () => body.destroy(),
    });
    // The request's own signal covers only the wait for the answer; this one covers the body.
    if (options.signal) addAbortSignal(options.signal, stream);
    return { stream, size };
  } catch (error) {
    throw describeS3Error(error, 'GET', label);
  }
}

/** An object's size in bytes (HEAD). */
export async function s3ObjectSize(
  client: S3Client,
  ref: S3Ref,
  settings: S3Settings,
  signal?: AbortSignal,
): Promise<number> {
  const label = s3Label(ref);
  try {
    const head = await withTimeout(settings, signal, `HEAD ${label}`, (abortSignal) =>
      client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal }),
    );
    if (head.ContentLength === undefined) throw new S3Error(`HEAD ${label}: the answer has no size`, 'ETL_S3_BODY');
    return head.ContentLength;
  } catch (error) {
    throw describeS3Error(error, 'HEAD', label);
  }
}

export interface S3Listing {
  key: string;
  size: number;
}

/** Every object under a prefix, in the store's order (ascending UTF-8 byte order of keys), page by page. */
export async function* listS3(
  client: S3Client,
  bucket: string,
  prefix: string,
  settings: S3Settings,
  signal?: AbortSignal,
): AsyncGenerator<S3Listing> {
  const label = `s3://${bucket}/${prefix}`;
  let token: string | undefined;
  do {
    let page;
    try {
      page = await withTimeout(settings, signal, `LIST ${label}`, (abortSignal) =>
        client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), {
          abortSignal,
        }),
      );
    } catch (error) {
      throw describeS3Error(error, 'LIST', label);
    }
    for (const item of page.Contents ?? []) {
      if (item.Key !== undefined) yield { key: item.Key, size: item.Size ?? 0 };
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}
