/**
 * openInput against real files, a Readable as stdin, and a real HTTP server on 127.0.0.1 whose
 * routes misbehave on purpose (stall, cut the connection, send less than Content-Length...).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { checkReadable, openInput, type Input } from '../../src/source/input.js';

/** ~3 MB of CSV, so files and bodies arrive in several chunks. */
const CSV = Buffer.from(
  'email,full_name\n' +
    Array.from({ length: 60_000 }, (_, i) => `user${i}@example.com,Name ${i} ${'x'.repeat(i % 23)}\n`).join(''),
);
const CSV_GZ = gzipSync(CSV);
/** More than every buffer between the socket and the consumer holds, so back-pressure reaches the socket. */
const BIG = Buffer.concat(Array.from({ length: 8 }, () => CSV));

/** Compares bytes by length and digest: vitest's deep equality on megabyte Buffers takes seconds. */
function expectBytes(actual: Buffer, expected: Buffer): void {
  const digest = (b: Buffer) => ({ length: b.length, sha256: createHash('sha256').update(b).digest('hex') });
  expect(digest(actual)).toEqual(digest(expected));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Consumes through pipeline() into a sink, as the sync does. */
async function drain(input: Input): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    input.stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure, got success');
}

let dir: string;
const file = (name: string, content: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

interface Server {
  server: http.Server;
  base: string;
  /** Authorization headers seen, by path. */
  auth: Map<string, string | undefined>;
}

async function listen(handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (server: http.Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Writes a whole response by hand on the socket, for framing the http module would refuse to produce. */
function raw(req: http.IncomingMessage, text: string, end: 'fin' | 'reset'): void {
  req.socket.write(text, () => {
    if (end === 'fin') req.socket.end();
    else req.socket.destroy();
  });
}

let main: Server;
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
/** Settles when the client closes a /stall connection. */
let stallClosed = deferred();
let other: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etl-input-'));
  const auth = new Map<string, string | undefined>();
  const otherServer = await listen((req, res) => {
    auth.set(`other${req.url}`, req.headers.authorization);
    res.writeHead(200, { 'content-length': CSV.length }).end(CSV);
  });
  const server = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    auth.set(url.pathname, req.headers.authorization);
    const hops = /^\/redirect\/(\d+)$/u.exec(url.pathname);
    if (hops) {
      const left = Number(hops[1]);
      const codes = [301, 302, 303, 307, 308];
      res.writeHead(codes[left % codes.length], { location: left > 1 ? `/redirect/${left - 1}` : '/data.csv' }).end();
      return;
    }
    switch (url.pathname) {
      case '/data.csv':
        res.writeHead(200, { 'content-length': CSV.length }).end(CSV);
        return;
      case '/chunked.csv':
        // No Content-Length: the http module sends it chunked.
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write(CSV.subarray(0, 1000));
        res.end(CSV.subarray(1000));
        return;
      case '/big.csv':
        res.writeHead(200, { 'content-length': BIG.length }).end(BIG);
        return;
      case '/data.csv.gz':
      case '/export':
        res.writeHead(200, { 'content-length': CSV_GZ.length }).end(CSV_GZ);
        return;
      case '/corrupt.csv.gz': {
        const corrupt = Buffer.from(CSV_GZ);
        corrupt.fill(0x55, 100, 400);
        res.writeHead(200, { 'content-length': corrupt.length }).end(corrupt);
        return;
      }
      case '/truncated.csv.gz': {
        const half = CSV_GZ.subarray(0, CSV_GZ.length >> 1);
        res.writeHead(200, { 'content-length': half.length }).end(half);
        return;
      }
      case '/elsewhere':
        res.writeHead(302, { location: `${urlOf(otherServer)}/data.csv` }).end();
        return;
      case '/ftp':
        res.writeHead(302, { location: 'ftp://127.0.0.1/data.csv' }).end();
        return;
      case '/stall':
        // Headers and part of the body, then nothing until the client gives up.
        res.writeHead(200, { 'content-length': CSV.length });
        res.write(CSV.subarray(0, 5000));
        req.socket.once('close', () => stallClosed.resolve());
        return;
      case '/silent':
        // Never answers.
        return;
      case '/reset':
        res.writeHead(200, { 'content-length': CSV.length });
        res.write(CSV.subarray(0, 100_000), () => res.socket?.destroy());
        return;
      case '/short':
        raw(req, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789', 'fin');
        return;
      case '/chunked-fin':
        raw(req, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n', 'fin');
        return;
      case '/chunked-reset':
        raw(req, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'reset');
        return;
      case '/until-close':
        // HTTP/1.0 framing: no length, the end of the connection is the end of the body.
        raw(req, 'HTTP/1.0 200 OK\r\n\r\nemail\na@b.c\n', 'fin');
        return;
      case '/brotli':
        res.writeHead(200, { 'content-encoding': 'br', 'content-length': 3 }).end('xyz');
        return;
      case '/content-encoded':
        // Compressed although we asked for identity: the magic bytes still tell.
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': CSV_GZ.length }).end(CSV_GZ);
        return;
      case '/fail':
        res.writeHead(503).end('try later');
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
    }
  });
  main = { server, base: urlOf(server), auth };
  other = { server: otherServer, base: urlOf(otherServer), auth };
});

afterAll(async () => {
  for (const { server } of [main, other]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('files', () => {
  it('streams a plain file with its size, label and format hint', async () => {
    const path = file('plain.csv', CSV);
    const input = await openInput(path);
    expectBytes(await drain(input), CSV);
    expect(input).toMatchObject({ size: CSV.length, label: path, compressed: false, formatHint: path });
    expect(input.bytesRead()).toBe(CSV.length);
  });

  it('gunzips a .gz file, counting compressed bytes against the compressed size', async () => {
    const path = file('data.csv.gz', CSV_GZ);
    const input = await openInput(path);
    expectBytes(await drain(input), CSV);
    expect(input).toMatchObject({ size: CSV_GZ.length, compressed: true, formatHint: join(dir, 'data.csv') });
    expect(input.bytesRead()).toBe(CSV_GZ.length);
  });

  it('recognises gzip by its magic bytes whatever the name', async () => {
    const input = await openInput(file('export.ndjson', gzipSync('{"a":1}\n{"a":2}\n')));
    expect(input.compressed).toBe(true);
    expect((await readAll(input.stream)).toString()).toBe('{"a":1}\n{"a":2}\n');
    expect(input.formatHint).toBe(join(dir, 'export.ndjson'));
  });

  it('passes through a .gz-named file that is not gzip, and files too short to tell', async () => {
    const notGzip = await openInput(file('plain.csv.gz', 'a,b\n1,2\n'));
    expect(notGzip.compressed).toBe(false);
    expect((await readAll(notGzip.stream)).toString()).toBe('a,b\n1,2\n');

    const empty = await openInput(file('empty.csv', ''));
    expect(empty).toMatchObject({ compressed: false, size: 0 });
    expectBytes(await readAll(empty.stream), Buffer.alloc(0));

    const one = await openInput(file('one.csv', '\x1f'));
    expectBytes(await readAll(one.stream), Buffer.from([0x1f]));
  });

  it('fails a corrupt gzip file with an error naming it, not an early end', async () => {
    const corrupt = Buffer.from(CSV_GZ);
    corrupt.fill(0x55, 100, 400);
    const path = file('corrupt.csv.gz', corrupt);
    const error = await failure(drain(await openInput(path)));
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/gzip data is corrupt or truncated/u);
  });

  it('fails a truncated gzip file', async () => {
    const path = file('truncated.gz', CSV_GZ.subarray(0, CSV_GZ.length - 20));
    const error = await failure(readAll((await openInput(path)).stream));
    expect(error.message).toMatch(/truncated.gz: the gzip data is corrupt or truncated \(unexpected end of file\)/u);
  });

  it('rejects a missing file naming it', async () => {
    const error = await failure(openInput(join(dir, 'nope.csv')));
    expect(error.message).toContain('nope.csv');
    expect((error as { code?: string }).code).toBe('ENOENT');
  });
});

describe('stdin', () => {
  it('reads - from the given stream', async () => {
    const input = await openInput('-', {
      stdin: Readable.from([CSV.subarray(0, 1), CSV.subarray(1, 70_000), CSV.subarray(70_000)]),
    });
    expect(input).toMatchObject({ label: 'stdin', compressed: false, formatHint: '' });
    expect(input.size).toBeUndefined();
    expectBytes(await drain(input), CSV);
    expect(input.bytesRead()).toBe(CSV.length);
  });

  it('gunzips gzip on stdin, even when the magic bytes arrive one at a time', async () => {
    const input = await openInput('-', {
      stdin: Readable.from([CSV_GZ.subarray(0, 1), CSV_GZ.subarray(1, 2), CSV_GZ.subarray(2)]),
    });
    expect(input.compressed).toBe(true);
    expectBytes(await drain(input), CSV);
  });

  it('rejects when aborted while waiting for the first bytes', async () => {
    const controller = new AbortController();
    const opening = failure(openInput('-', { stdin: new Readable({ read() {} }), signal: controller.signal }));
    controller.abort();
    expect((await opening).name).toBe('AbortError');
  });

  it('turns a read error on stdin into a stream error naming stdin', async () => {
    const stdin = new Readable({ read() {} });
    stdin.push('email\na@b.c\n');
    const input = await openInput('-', { stdin });
    stdin.destroy(Object.assign(new Error('read EIO'), { code: 'EIO' }));
    const error = await failure(drain(input));
    expect(error.message).toBe('stdin: read EIO');
    expect((error as { code?: string }).code).toBe('EIO');
  });
});

describe('URLs', () => {
  it('streams a 200 answer with Content-Length as its size', async () => {
    const input = await openInput(`${main.base}/data.csv`);
    expect(input).toMatchObject({
      size: CSV.length,
      label: `${main.base}/data.csv`,
      compressed: false,
      formatHint: '/data.csv',
    });
    expectBytes(await drain(input), CSV);
    expect(input.bytesRead()).toBe(CSV.length);
  });

  it('streams a chunked answer without Content-Length', async () => {
    const input = await openInput(`${main.base}/chunked.csv`);
    expect(input.size).toBeUndefined();
    expectBytes(await drain(input), CSV);
  });

  it('ends a body delimited by the connection close (no length, no chunks) normally', async () => {
    const input = await openInput(`${main.base}/until-close`);
    expect((await readAll(input.stream)).toString()).toBe('email\na@b.c\n');
  });

  it('gunzips a gzip body, by magic bytes with or without a .gz path', async () => {
    const named = await openInput(`${main.base}/data.csv.gz`);
    expect(named).toMatchObject({ compressed: true, size: CSV_GZ.length, formatHint: '/data.csv' });
    expectBytes(await drain(named), CSV);
    expect(named.bytesRead()).toBe(CSV_GZ.length);

    const unnamed = await openInput(`${main.base}/export?format=csv`);
    expect(unnamed).toMatchObject({ compressed: true, formatHint: '/export' });
    expectBytes(await drain(unnamed), CSV);
  });

  it('decodes a Content-Encoding gzip body and rejects encodings it cannot decode', async () => {
    const encoded = await openInput(`${main.base}/content-encoded`);
    expect(encoded.compressed).toBe(true);
    expectBytes(await drain(encoded), CSV);
    const error = await failure(openInput(`${main.base}/brotli`));
    expect(error.message).toBe(
      `GET ${main.base}/brotli answered with Content-Encoding br, which cannot be decoded (only gzip)`,
    );
  });

  it('fails corrupt or truncated gzip bodies', async () => {
    const corrupt = await failure(drain(await openInput(`${main.base}/corrupt.csv.gz`)));
    expect(corrupt.message).toMatch(
      new RegExp(`^${main.base}/corrupt.csv.gz: the gzip data is corrupt or truncated`, 'u'),
    );
    const truncated = await failure(drain(await openInput(`${main.base}/truncated.csv.gz`)));
    expect(truncated.message).toContain('unexpected end of file');
  });

  it('follows redirects up to the limit (each of 301, 302, 303, 307, 308)', async () => {
    const input = await openInput(`${main.base}/redirect/5`);
    expect(input.label).toBe(`${main.base}/redirect/5`);
    expect(input.formatHint).toBe('/data.csv');
    expectBytes(await drain(input), CSV);
    expectBytes(await drain(await openInput(`${main.base}/redirect/2`, { maxRedirects: 2 })), CSV);
  });

  it('rejects one redirect more than the limit, naming it', async () => {
    const error = await failure(openInput(`${main.base}/redirect/6`));
    expect(error.message).toBe(`GET ${main.base}/redirect/6 was redirected more than 5 times (maxRedirects 5)`);
    const none = await failure(openInput(`${main.base}/redirect/1`, { maxRedirects: 0 }));
    expect(none.message).toContain('more than 0 times');
  });

  it('rejects a redirect to a scheme other than http(s)', async () => {
    const error = await failure(openInput(`${main.base}/ftp`));
    expect(error.message).toBe(
      `GET ${main.base}/ftp redirected to ftp://127.0.0.1/data.csv, which is not an http:// or https:// URL`,
    );
  });

  it('rejects a non-2xx answer naming the status and the URL', async () => {
    const error = await failure(openInput(`${main.base}/missing.csv`));
    expect(error.message).toBe(`GET ${main.base}/missing.csv answered 404 Not Found`);
    expect(error).toMatchObject({ code: 'ETL_HTTP_STATUS', status: 404 });
    const unavailable = await failure(openInput(`${main.base}/fail`));
    expect(unavailable.message).toBe(`GET ${main.base}/fail answered 503 Service Unavailable`);
  });

  it('rejects when the connection is refused', async () => {
    const closed = await listen(() => undefined);
    const url = urlOf(closed);
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(openInput(`${url}/data.csv`));
    expect(error.message).toMatch(new RegExp(`^GET ${url}/data.csv failed: connect ECONNREFUSED`, 'u'));
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('rejects when the server never answers within the timeout', async () => {
    const error = await failure(openInput(`${main.base}/silent`, { timeoutMs: 150 }));
    expect(error.message).toBe(`GET ${main.base}/silent: no answer within 150 ms (idle timeout)`);
    expect((error as { code?: string }).code).toBe('ETIMEDOUT');
  });

  it('fails the stream when the server stalls mid-body for the timeout', async () => {
    const input = await openInput(`${main.base}/stall`, { timeoutMs: 150 });
    const error = await failure(drain(input));
    expect(error.message).toBe(`GET ${main.base}/stall: no data for 150 ms after 5000 bytes (idle timeout)`);
    expect((error as { code?: string }).code).toBe('ETIMEDOUT');
  });

  it('does not count a slow consumer (back-pressure) as a stalled server', async () => {
    const input = await openInput(`${main.base}/big.csv`, { timeoutMs: 100 });
    const chunks: Buffer[] = [];
    let paused = false;
    await pipeline(
      input.stream,
      new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          if (paused) callback();
          else {
            paused = true;
            setTimeout(callback, 400);
          }
        },
      }),
    );
    expectBytes(Buffer.concat(chunks), BIG);
  });

  it('fails the stream when the connection is destroyed mid-body', async () => {
    const error = await failure(drain(await openInput(`${main.base}/reset`)));
    expect(error.message).toMatch(
      new RegExp(`^GET ${main.base}/reset: the body was cut short after \\d+ of ${CSV.length} bytes`, 'u'),
    );
    expect((error as { code?: string }).code).toBe('ECONNRESET');
  });

  it('fails the stream when the server closes before Content-Length bytes', async () => {
    const error = await failure(drain(await openInput(`${main.base}/short`)));
    expect(error.message).toBe(
      `GET ${main.base}/short: the body was cut short after 10 of 100 bytes (the connection closed before the end of the data)`,
    );
  });

  it('fails the stream when a chunked body stops before its last chunk', async () => {
    for (const path of ['/chunked-fin', '/chunked-reset']) {
      const input = await openInput(`${main.base}${path}`);
      const error = await failure(readAll(input.stream));
      expect(error.message).toMatch(
        new RegExp(`^GET ${main.base}${path}: the body was cut short after \\d+ bytes`, 'u'),
      );
    }
  });

  it('stops the download when aborted mid-body', async () => {
    const controller = new AbortController();
    const input = await openInput(`${main.base}/stall`, { signal: controller.signal, timeoutMs: 10_000 });
    const reading = failure(drain(input));
    await sleep(50);
    controller.abort();
    expect((await reading).name).toBe('AbortError');
  });

  it('closes the connection as soon as the consumer stops reading', async () => {
    stallClosed = deferred();
    const input = await openInput(`${main.base}/stall`, { timeoutMs: 60_000 });
    for await (const chunk of input.stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    await stallClosed.promise;
  });

  it('sends URL credentials as basic auth to the same origin only, and never shows them', async () => {
    const secretUrl = `${main.base.replace('http://', 'http://ann:s3cr%3At@')}/data.csv?token=abc123&day=2024-01-01&X-Amz-Signature=f00d`;
    const input = await openInput(secretUrl);
    expect(input.label).toBe(`${main.base}/data.csv?token=***&day=2024-01-01&X-Amz-Signature=***`);
    expectBytes(await drain(input), CSV);
    expect(main.auth.get('/data.csv')).toBe(`Basic ${Buffer.from('ann:s3cr:t').toString('base64')}`);

    const redirected = await openInput(`${main.base.replace('http://', 'http://ann:pw@')}/elsewhere`);
    expectBytes(await drain(redirected), CSV);
    expect(other.auth.get('other/data.csv')).toBeUndefined();
  });

  it('keeps credentials and secret query values out of error messages', async () => {
    const messages: string[] = [];
    const cases = [
      `${main.base.replace('http://', 'http://ann:hunter2@')}/missing.csv?token=abc123`,
      `${main.base.replace('http://', 'http://ann:hunter2@')}/redirect/9?api_key=abc123`,
      `${main.base.replace('http://', 'http://ann:hunter2@')}/stall?sig=abc123`,
    ];
    for (const url of cases) {
      try {
        const input = await openInput(url, { timeoutMs: 100 });
        await drain(input);
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
    expect(messages).toHaveLength(3);
    for (const message of messages) {
      expect(message).not.toMatch(/ann|hunter2|abc123/u);
      expect(message).toContain(main.base);
    }
  });
});

describe('checkReadable', () => {
  it('accepts -, readable files and http(s) URLs', async () => {
    await checkReadable('-', 'CSV_FILE (--file)');
    await checkReadable(file('ok.csv', 'a\n'), 'CSV_FILE (--file)');
    await checkReadable('https://example.com/x.csv?token=1', 'CSV_FILE (--file)');
    await checkReadable('http://user:pw@example.com/x.csv', 'CSV_FILE (--file)');
  });

  it('rejects other schemes and malformed URLs naming the setting, without the secrets', async () => {
    const ftp = await failure(checkReadable('ftp://user:pw@example.com/x.csv', 'CSV_FILE (--file)'));
    expect(ftp).toBeInstanceOf(ConfigError);
    expect(ftp.message).toBe(
      'CSV_FILE (--file): ftp://example.com/x.csv cannot be read; only http://, https:// and s3:// URLs are supported (or give a file path, or - for standard input)',
    );
    const bad = await failure(checkReadable('http://user:pw@exa mple.com/x.csv', 'CSV_FILE (--file)'));
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.message).toMatch(/^CSV_FILE \(--file\): http:\/\/\(not a valid URL\) is not a valid URL/u);
    expect(bad.message).not.toContain('pw');
  });

  it('keeps naming missing files and directories', async () => {
    const missing = await failure(checkReadable(join(dir, 'missing.csv'), 'CSV_FILE (--file)'));
    expect(missing.message).toBe(
      `CSV_FILE (--file): the file ${join(dir, 'missing.csv')} does not exist; set --file or CSV_FILE to a readable file`,
    );
    const directory = await failure(checkReadable(dir, 'CSV_FILE (--file)'));
    expect(directory.message).toBe(`CSV_FILE (--file): ${dir} is a directory, not a file`);
  });
});
