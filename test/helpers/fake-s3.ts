/**
 * An in-process S3-compatible server for tests, speaking the part of the REST API the sources use
 * (path-style ListObjectsV2, GetObject with Range, HeadObject, S3 error XML) on 127.0.0.1, with
 * faults to inject: throttling answers, a connection cut mid-object, a stall. Requests must carry a
 * SigV4 Authorization header for the one known access key (the signature itself is not checked).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const ACCESS_KEY = 'AKIAFAKEETLTEST';
export const SECRET_KEY = 'fake/secret+key/never-printed-0123456789';

export interface FakeS3 {
  endpoint: string;
  /** bucket -> key -> bytes */
  buckets: Map<string, Map<string, Buffer>>;
  put(bucket: string, key: string, body: string | Buffer): void;
  /** The next n requests answer 503 SlowDown. */
  throttle(n: number): void;
  /** GETs of this key (whole or ranged) send the headers and this many bytes, then cut the connection. */
  cutAfter(key: string, bytes: number): void;
  /** GETs of this key send nothing (no `bytes`), or the headers and this many bytes, then nothing more. */
  stall(key: string, bytes?: number): void;
  /** Requests seen: method and path (with query), and the Range header of a ranged GET. */
  requests: string[];
  /** Sends every environment variable the AWS SDK needs to reach this server. */
  env(overrides?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

function xml(status: number, res: http.ServerResponse, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  const bytes = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': bytes.length, ...headers });
  res.end(bytes);
}

function error(res: http.ServerResponse, status: number, code: string, message: string, head = false): void {
  if (head) {
    res.writeHead(status, { 'x-amz-error-code': code });
    res.end();
    return;
  }
  xml(status, res, `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fake</RequestId></Error>`);
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/gu, (c) => `&#${c.charCodeAt(0)};`);

export async function startFakeS3(options: { pageSize?: number } = {}): Promise<FakeS3> {
  const pageSize = options.pageSize ?? 1000;
  const buckets = new Map<string, Map<string, Buffer>>();
  const cuts = new Map<string, number>();
  const stalls = new Map<string, number | undefined>();
  const requests: string[] = [];
  let throttled = 0;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}${url.search}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const head = req.method === 'HEAD';
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('AWS4-HMAC-SHA256 ') || !auth.includes('Signature='))
      return error(res, 403, 'AccessDenied', 'Anonymous access is forbidden', head);
    if (!auth.includes(`Credential=${ACCESS_KEY}/`))
      return error(
        res,
        403,
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
        head,
      );
    if (throttled > 0) {
      throttled -= 1;
      return error(res, 503, 'SlowDown', 'Please reduce your request rate.', head);
    }
    const [, bucketName, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const bucket = buckets.get(bucketName);
    if (!bucket) return error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', head);
    if (key === '' && url.searchParams.get('list-type') === '2') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const after = url.searchParams.get('continuation-token') ?? '';
      const keys = [...bucket.keys()]
        .filter((k) => k.startsWith(prefix) && k > after)
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const page = keys.slice(0, pageSize);
      const truncated = keys.length > page.length;
      const contents = page
        .map(
          (k) =>
            `<Contents><Key>${escapeXml(k)}</Key><Size>${bucket.get(k)!.length}</Size><ETag>"x"</ETag><LastModified>2026-11-30T00:00:00.000Z</LastModified><StorageClass>STANDARD</StorageClass></Contents>`,
        )
        .join('');
      return xml(
        200,
        res,
        `<ListBucketResult><Name>${bucketName}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${pageSize}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${truncated ? `<NextContinuationToken>${escapeXml(page.at(-1)!)}</NextContinuationToken>` : ''}</ListBucketResult>`,
      );
    }
    const body = bucket.get(key);
    if (!body) return error(res, 404, 'NoSuchKey', 'The specified key does not exist.', head);
    if (!head && stalls.has(key) && stalls.get(key) === undefined) return; // no answer at all
    let start = 0;
    let end = body.length - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/u.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      status = 206;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-length': end - start + 1,
      'content-type': 'application/octet-stream',
      etag: '"x"',
      'last-modified': 'Mon, 30 Nov 2026 00:00:00 GMT',
      'accept-ranges': 'bytes',
      ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    };
    res.writeHead(status, headers);
    if (head) return res.end();
    const stalled = stalls.get(key);
    if (stalled !== undefined) {
      res.write(body.subarray(start, Math.min(end + 1, start + stalled)));
      return;
    }
    const cut = cuts.get(key);
    if (cut !== undefined) {
      res.write(body.subarray(start, Math.min(end + 1, start + cut)), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
      return;
    }
    res.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    buckets,
    requests,
    put(bucket, key, body) {
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      buckets.get(bucket)!.set(key, Buffer.isBuffer(body) ? body : Buffer.from(body));
    },
    throttle(n) {
      throttled = n;
    },
    cutAfter(key, bytes) {
      cuts.set(key, bytes);
    },
    stall(key, bytes) {
      stalls.set(key, bytes);
    },
    env(overrides = {}) {
      return {
        AWS_ACCESS_KEY_ID: ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: SECRET_KEY,
        AWS_REGION: 'us-east-1',
        S3_ENDPOINT: endpoint,
        // The SDK's notice that its 2027 releases need Node 22 (this suite also runs on Node 20).
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...overrides,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
