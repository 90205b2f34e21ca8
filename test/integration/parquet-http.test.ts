/**
 * Parquet over http(s): read with Range requests from a real HTTP server, row group by row group;
 * a server that ignores Range is refused with a message saying so, and the table is unchanged.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sync } from '../../src/index.js';
import { httpRanges } from '../../src/source/parquet/byte-ranges.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { writeParquet } from '../helpers/duckdb.js';
import { configFor, followers } from '../helpers/sync.js';

let db: TestDatabase;
let server: http.Server;
let base: string;
let body: Buffer;
const ranges: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const file = join(mkdtempSync(join(tmpdir(), 'etl-parquet-http-')), 'people.parquet');
  await writeParquet(
    file,
    `SELECT 'user' || i || '@example.com' AS email, 'Name ' || i AS full_name FROM range(10000) t(i)`,
    // DuckDB rounds row groups up to whole vectors of 2,048 rows: 5 row groups.
    { rowGroupSize: 2048, compression: 'gzip' },
  );
  body = readFileSync(file);
  server = http.createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/u.exec(req.headers.range ?? '');
    if (req.url === '/moved.parquet') {
      res.writeHead(302, { location: '/private.parquet' });
      res.end();
      return;
    }
    if (
      req.url === '/private.parquet' &&
      req.headers.authorization !== `Basic ${Buffer.from('reader:s3cret').toString('base64')}`
    ) {
      res.writeHead(401);
      res.end();
      return;
    }
    if (req.url === '/stall.parquet' && m && m[1] !== '0') {
      // Headers and a first part of the range, then nothing.
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), body.length - 1);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
      });
      res.write(body.subarray(start, start + 10));
      return;
    }
    if (req.url !== '/whole.parquet' && m) {
      ranges.push(req.headers.range!);
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), body.length - 1);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
      });
      res.end(body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await db.drop();
});

describe('Parquet over http(s)', () => {
  it('reads the file with ranged requests, one row group at a time', async () => {
    const result = await sync(configFor(db, { file: `${base}/ranged.parquet` }));
    expect(result.counts).toMatchObject({ read: 10000, inserted: 10000 });
    expect(await followers(db)).toEqual(
      Object.fromEntries(Array.from({ length: 10000 }, (_, i) => [`user${i}@example.com`, `Name ${i}`])),
    );
    // The size probe, the footer, then each of the 5 row groups' column chunks in its own request.
    expect(ranges.length).toBeGreaterThanOrEqual(7);
  });

  it("follows redirects and sends the URL's credentials like any URL source, never showing them", async () => {
    const result = await sync(
      configFor(db, { file: `http://reader:s3cret@${base.slice('http://'.length)}/moved.parquet` }),
    );
    expect(result.counts).toMatchObject({ read: 10000, rejected: 0 });
    expect(result.source).not.toContain('s3cret');
  });

  it('fails a ranged read that stops mid-body after the idle timeout, naming the file', async () => {
    const ranges = await httpRanges(`${base}/stall.parquet`, 200);
    await expect(ranges.slice(100, 5000)).rejects.toThrow(
      new RegExp(`^GET ${base}/stall\\.parquet: no data for 200 ms after 10 bytes \\(idle timeout\\)$`, 'u'),
    );
  });

  it('refuses a server that ignores Range, with the table unchanged', async () => {
    const before = await followers(db);
    const error = await sync(configFor(db, { file: `${base}/whole.parquet` })).catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe(
      `GET ${base}/whole.parquet (bytes=0-0) answered 200; Parquet over http(s) needs a server that answers Range requests (206)`,
    );
    expect(await followers(db)).toEqual(before);
  });
});
