/**
 * Fault injection on real processes, a real PostgreSQL and a real network path: signals while a read
 * is blocked (a FIFO, a gzip bomb), a network that stalls or is reset mid-load (a TCP proxy), and a
 * second signal while the cleanup waits. Each checks the exit code, the message, the table
 * unchanged, and nothing left behind once the next sync has run.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  finished,
  followers,
  generatedCsv,
  loads,
  runCli,
  stagingPartitions,
  startCli,
  tempFile,
  waitFor,
  type CliResult,
} from '../helpers/sync.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy | undefined;
const writers: number[] = [];
const dir = mkdtempSync(join(tmpdir(), 'etl-hardening-'));
let fifoCount = 0;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  for (const fd of writers.splice(0)) closeSync(fd);
  await proxy?.close();
  proxy = undefined;
  await db.drop();
});

const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\n';
const day2 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Robert\ncat@example.com,Cat\n';
const day1Rows = { 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' };
const day2Rows = { 'ann@example.com': 'Ann', 'bob@example.com': 'Robert', 'cat@example.com': 'Cat' };

function makeFifo(): string {
  fifoCount += 1;
  const path = join(dir, `input-${fifoCount}.csv`);
  execFileSync('mkfifo', [path]);
  return path;
}

/** Whether process `pid` has `path` open (Linux /proc): the CLI has reached the read. */
function hasOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Opens the FIFO's write end once the CLI reads it, writes `text`, and keeps it open (a writer that stalls). */
async function stallingWriter(path: string, text: string | Buffer): Promise<number> {
  const fd = await waitFor(
    async () => {
      try {
        return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch {
        return undefined; // ENXIO: nobody reads it yet
      }
    },
    30_000,
    'the CLI to open the FIFO',
  );
  writers.push(fd);
  writeSync(fd, Buffer.from(text));
  return fd;
}

async function runningLoad(): Promise<string> {
  return waitFor(
    async () => (await loads(db)).find((l) => l.status === 'running')?.load_id as string | undefined,
    30_000,
    'a running load',
  );
}

async function stagedRows(): Promise<boolean> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM public.staging_followers');
  return Number(r.rows[0].n) > 0;
}

/** The history once the next sync (straight to the database) has cleaned up. */
async function nextSyncCleansUp(deadLoad: string): Promise<CliResult> {
  const next = await runCli(['sync', '--file', tempFile(day2)], { DATABASE_URL: db.url });
  expect(next.code).toBe(0);
  expect(next.stderr).toMatch(new RegExp(`load ${deadLoad} of followers was abandoned \\(its process \\(pid \\d+`));
  const dead = (await loads(db)).find((l) => l.load_id === deadLoad)!;
  expect(dead.status).toBe('aborted');
  expect(dead.error).toMatch(
    /^abandoned: its process \(pid \d+ on .+\) is gone: it stopped without finishing the load \(it was killed, or it lost its database connection and could not clean up\); a later sync removed its staging rows$/,
  );
  expect(await stagingPartitions(db)).toEqual([]);
  expect(await followers(db)).toEqual(day2Rows);
  return next;
}

describe('signals during blocked reads', () => {
  it('stops at once on SIGTERM while reading a FIFO nobody writes to', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const fifo = makeFifo();
    const child = startCli(['sync', '--file', fifo], { DATABASE_URL: db.url });
    const done = finished(child);
    await waitFor(async () => hasOpen(child.pid!, fifo), 30_000, 'the CLI to open the FIFO');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain(
      'etl error: sync of followers interrupted (SIGTERM) while opening its input; nothing was written',
    );
    expect(await followers(db)).toEqual(day1Rows);
    expect((await loads(db)).map((l) => l.status)).toEqual(['succeeded']);
  });

  it('rolls back at once on SIGTERM while the writer of a FIFO stalls mid-file', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const fifo = makeFifo();
    const child = startCli(['sync', '--file', fifo], { DATABASE_URL: db.url });
    const done = finished(child);
    await stallingWriter(fifo, 'email,full_name\ncat@example.com,Cat\n');
    const loadId = await runningLoad();
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl error: sync of followers interrupted (SIGTERM); rolled back');
    expect(await followers(db)).toEqual(day1Rows);
    expect((await loads(db)).find((l) => l.load_id === loadId)).toMatchObject({ status: 'aborted' });
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('rolls back at once on SIGTERM while a gzip bomb is being decompressed', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    // A header, then 1 GiB of zeros with no line end: about 1 MiB compressed.
    const bomb = join(dir, 'bomb.csv.gz');
    const zeros = Buffer.alloc(1 << 20);
    await pipeline(
      Readable.from(
        (function* () {
          yield Buffer.from('email,full_name\n');
          for (let i = 0; i < 1024; i += 1) yield zeros;
        })(),
      ),
      createGzip({ level: 1 }),
      createWriteStream(bomb),
    );
    // --max-errors 1: the over-long record is skipped to its end (a bad row) rather than failing the
    // load at 16 MiB (--max-record-size), so the read is still going when the signal comes.
    const child = startCli(['sync', '--file', bomb, '--max-errors', '1'], { DATABASE_URL: db.url });
    const done = finished(child);
    const loadId = await runningLoad();
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl error: sync of followers interrupted (SIGTERM); rolled back');
    expect(await followers(db)).toEqual(day1Rows);
    expect((await loads(db)).find((l) => l.load_id === loadId)).toMatchObject({ status: 'aborted' });
    expect(await stagingPartitions(db)).toEqual([]);
  });
  // Issue 9, item 12: a record skipped for its size (a gzip bomb's zeros) yields no chunk for as long
  // as it lasts; progress still shows how much has been decompressed.
  it('shows the decompressed size of gzip input in progress while a long record is skipped', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const fifo = makeFifo();
    const child = startCli(['sync', '--file', fifo, '--max-errors', '1', '--progress-interval', '1s'], {
      DATABASE_URL: db.url,
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = finished(child);
    // 32 MiB of zeros with no line end, about 32 KiB compressed (it fits the pipe); then the writer stalls.
    const zeros = gzipSync(Buffer.concat([Buffer.from('email,full_name\n'), Buffer.alloc(32 << 20)]), { level: 9 });
    await stallingWriter(fifo, zeros);
    const shown = await waitFor(
      async () => /etl progress: staging: 0 rows.*\((\d+\.\d) MiB decompressed\)/u.exec(stderr)?.[1],
      30_000,
      'a progress line with the decompressed size',
    );
    expect(Number(shown)).toBeGreaterThanOrEqual(16);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl error: sync of followers interrupted (SIGTERM); rolled back');
    expect(await followers(db)).toEqual(day1Rows);
    expect(await stagingPartitions(db)).toEqual([]);
  });
});

describe('a network that stalls or is cut', () => {
  it('ends the run on SIGTERM while the network is still stalled mid-COPY; the next sync cleans up', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    proxy = await startTcpProxy(db.url);
    const fifo = makeFifo();
    // A connect timeout of an hour: the cleanup after the signal must not wait for it.
    const child = startCli(['sync', '--file', fifo, '--batch-size', '500'], {
      DATABASE_URL: proxy.url,
      DB_CONNECT_TIMEOUT: '1h',
    });
    const done = finished(child);
    const fd = await stallingWriter(fifo, generatedCsv(2000));
    const loadId = await runningLoad();
    await waitFor(stagedRows, 30_000, 'rows in staging');
    proxy.stall();
    // More batches go to the workers, whose COPY now never gets an answer.
    writeSync(fd, generatedCsv(2000).split('\n').slice(1).join('\n').replaceAll('user', 'more'));
    child.kill('SIGTERM');
    const r = await done; // the network is still stalled: nothing waited for it
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl warn: SIGTERM received: stopping and rolling back this load');
    expect(r.stderr).toMatch(
      new RegExp(
        `etl error: load ${loadId} could not be cleaned up: the database cannot be reached \\((timeout exceeded when trying to connect|Connection terminated due to connection timeout|timeout expired)\\)\\. The next sync of followers removes its staging rows and records it as aborted`,
      ),
    );
    expect(r.stderr).not.toMatch(/compensation ".*" failed/);
    expect(r.stderr).toContain(
      'etl error: sync of followers interrupted (SIGTERM); nothing was committed, so followers is unchanged',
    );
    await proxy.close();
    expect(await followers(db)).toEqual(day1Rows);
    await nextSyncCleansUp(loadId);
  });

  it('says the run lost its database when the connection is reset mid-load; the next sync cleans up', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    proxy = await startTcpProxy(db.url);
    const fifo = makeFifo();
    const child = startCli(['sync', '--file', fifo, '--batch-size', '500'], { DATABASE_URL: proxy.url });
    const done = finished(child);
    const fd = await stallingWriter(fifo, generatedCsv(2000));
    const loadId = await runningLoad();
    await waitFor(stagedRows, 30_000, 'rows in staging');
    await proxy.reset();
    writeSync(fd, generatedCsv(1000).split('\n').slice(1).join('\n').replaceAll('user', 'more'));
    closeSync(writers.splice(writers.indexOf(fd), 1)[0]);
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `etl error: sync of followers lost its database connection \\(load ${loadId}\\): .*(ECONNREFUSED|ECONNRESET|Connection terminated).*; nothing was committed, so followers is unchanged`,
      ),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `etl error: load ${loadId} could not be cleaned up: the database cannot be reached \\(.*ECONNREFUSED.*\\)`,
      ),
    );
    expect(r.stderr).not.toMatch(/compensation ".*" failed/);
    expect(r.stderr).not.toMatch(/killed/);
    expect(await followers(db)).toEqual(day1Rows);
    await nextSyncCleansUp(loadId);
  });

  it('exits at once on a second SIGTERM while the cleanup waits for a stalled database', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    proxy = await startTcpProxy(db.url);
    const fifo = makeFifo();
    const child = startCli(['sync', '--file', fifo], { DATABASE_URL: proxy.url, DB_CONNECT_TIMEOUT: '1h' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = finished(child);
    await stallingWriter(fifo, 'email,full_name\ncat@example.com,Cat\n');
    const loadId = await runningLoad();
    proxy.stall();
    child.kill('SIGTERM');
    // The cleanup now waits to connect through the stalled network (for up to 5s).
    await waitFor(async () => stderr.includes('SIGTERM received'), 30_000, 'the first signal to be handled');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('etl error: second SIGTERM: exiting without waiting for the rollback to finish');
    await proxy.close();
    expect(await followers(db)).toEqual(day1Rows);
    await nextSyncCleansUp(loadId);
  });
});

describe("names at PostgreSQL's limits", () => {
  const entry = (name: string, table: string, file: string) => ({
    name,
    source: file,
    target: { table },
    key: 'code',
    columns: [
      { name: 'code', type: 'text' },
      { name: 'n', type: 'integer' },
    ],
  });
  const tableExists = async (name: string) =>
    (await db.query('SELECT 1 FROM pg_class WHERE relname = $1', [name])).rowCount === 1;

  it('refuses two tables whose 63-byte cut is the same (exit 2), touching nothing', async () => {
    const prefix = 'x'.repeat(63);
    const data = tempFile('code,n\na,1\n');
    for (const name of ['one', 'two']) {
      const config = tempFile(JSON.stringify({ syncs: [entry(name, `${prefix}_${name}`, data)] }), 'etl.config.json');
      const r = await runCli(['sync', name, '--config', config], { DATABASE_URL: db.url });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `syncs[0].target.table "${prefix}_${name}" is 67 bytes long; PostgreSQL names hold at most 63 bytes (it would be cut to "${prefix}"); use a shorter name`,
      );
    }
    expect(await tableExists(prefix)).toBe(false);
    const schema = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'etl_info_schema'`);
    expect(schema.rowCount).toBe(0);
  });

  it('refuses a NUL byte in a table or column name at configuration time (exit 2), before connecting', async () => {
    const data = tempFile('code,n\na,1\n');
    const withColumn = entry('one', 'plain', data);
    withColumn.columns[1] = { ...withColumn.columns[1], name: 'n\u0000' };
    for (const [sync, where] of [
      [entry('one', 'ta\u0000ble', data), 'syncs[0].target.table "ta\\u0000ble"'],
      [withColumn, 'syncs[0].columns[1].name "n\\u0000"'],
    ] as const) {
      const config = tempFile(JSON.stringify({ syncs: [sync] }), 'etl.config.json');
      const r = await runCli(['sync', 'one', '--config', config], { DATABASE_URL: db.url });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${where} contains a NUL byte`);
    }
    const schema = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'etl_info_schema'`);
    expect(schema.rowCount).toBe(0);
  });

  it('syncs two tables of 63 bytes that share 60, each with its own staging table', async () => {
    const prefix = 'y'.repeat(60);
    const config = tempFile(
      JSON.stringify({
        syncs: [
          entry('one', `${prefix}one`, tempFile('code,n\na,1\nb,2\n')),
          entry('two', `${prefix}two`, tempFile('code,n\nc,3\n')),
        ],
      }),
      'etl.config.json',
    );
    const r = await runCli(['sync', '--all', '--config', config], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    const one = await db.query(`SELECT code, n FROM "${prefix}one" ORDER BY code`);
    const two = await db.query(`SELECT code, n FROM "${prefix}two" ORDER BY code`);
    expect(one.rows).toEqual([
      { code: 'a', n: 1 },
      { code: 'b', n: 2 },
    ]);
    expect(two.rows).toEqual([{ code: 'c', n: 3 }]);
    const staging = await db.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relname LIKE 'etl_staging_%' AND relkind = 'p' ORDER BY relname`,
    );
    expect(staging.rows).toHaveLength(2);
  });
});

describe('an http source that stalls', () => {
  it('stops at once on SIGTERM while the server sends nothing more', async () => {
    await runCli(['sync', '--file', tempFile(day1)], { DATABASE_URL: db.url });
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.write('email,full_name\ncat@example.com,Cat\n'); // and then nothing, connection open
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stalls.csv`;
      const child = startCli(['sync', '--file', url], { DATABASE_URL: db.url });
      const done = finished(child);
      const loadId = await runningLoad();
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code).toBe(143);
      expect(r.stderr).toContain('etl error: sync of followers interrupted (SIGTERM); rolled back');
      expect(await followers(db)).toEqual(day1Rows);
      expect((await loads(db)).find((l) => l.load_id === loadId)).toMatchObject({ status: 'aborted' });
      expect(await stagingPartitions(db)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
