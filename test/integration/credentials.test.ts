/**
 * Credentials never reach output: a wrong database password (refused by a real server with password
 * authentication), the password in the test database's own URL (CI puts one there), and credentials
 * of a URL source, in every output of sync, status and migrate, with and without --json.
 */
import { chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { useTestDatabase } from '../helpers/db.js';
import { followers, runCli, tempDir, tempFile, type CliResult } from '../helpers/sync.js';

const db = useTestDatabase();
const day1 = 'email,full_name\nann@example.com,Ann\nbob@example.com,Bob\n';

function output(r: CliResult): string {
  return r.stdout + r.stderr;
}

/** The password of the test database's URL; CI's carries one (`postgres://root:ci-secret-pw-7f3a@...`). */
function databasePassword(): string | undefined {
  const password = decodeURIComponent(new URL(db.url).password);
  return password === '' ? undefined : password;
}

function expectNoDatabasePassword(r: CliResult): void {
  const password = databasePassword();
  if (password !== undefined) expect(output(r)).not.toContain(password);
}

describe('a wrong database password', () => {
  // A private cluster with scram-sha-256 authentication: the shared test server may trust everyone.
  let server: EmbeddedServer;
  let wrongUrl: string;
  const wrongPassword = 'wrong-pw-9d2c';
  beforeAll(async () => {
    // As root, the server runs as the postgres user, which must reach the directory.
    const dir = tempDir('password-cluster');
    chmodSync(dirname(dir), 0o755);
    chmodSync(dir, 0o755);
    server = await startEmbedded(dir, () => undefined);
    const u = new URL(server.url);
    u.password = wrongPassword;
    wrongUrl = u.toString();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is accepted with the right password, so the refusal below is the password', async () => {
    const r = await runCli(['migrate'], { DATABASE_URL: server.url });
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/schema is at version \d+/)]);
  });

  it.each([
    ['sync --json', ['sync', '--file', tempFile(day1), '--json']],
    ['status --json', ['status', '--json']],
    ['status', ['status']],
    ['migrate', ['migrate']],
  ])('fails %s with exit 1 naming the authentication failure, never the password', async (_name, args) => {
    const r = await runCli(args, { DATABASE_URL: wrongUrl });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/password authentication failed for user "etl"/);
    expect(output(r)).not.toContain(wrongPassword);
    if (args.includes('--json'))
      expect(JSON.parse(r.stdout)).toMatchObject({ error: expect.stringMatching(/password authentication failed/) });
  });

  it('keeps the password out of PGPASSWORD failures too', async () => {
    const u = new URL(server.url);
    const r = await runCli(['status', '--json'], {
      PGHOST: u.hostname,
      PGPORT: u.port,
      PGUSER: 'etl',
      PGPASSWORD: wrongPassword,
      PGDATABASE: 'postgres',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/password authentication failed/);
    expect(output(r)).not.toContain(wrongPassword);
  });
});

describe('a URL source with credentials', () => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = createServer((req, res) => {
      if (req.url?.startsWith('/day1.csv')) {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end(day1);
      } else {
        res.writeHead(404);
        res.end('not here');
      }
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://ann:url-pw-41b7@127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => http.close(() => r())));

  const secrets = ['url-pw-41b7', 'tok-77e1'];
  const expectNoSecrets = (r: CliResult) => {
    for (const s of secrets) expect(output(r)).not.toContain(s);
    expectNoDatabasePassword(r);
  };

  it('syncs and reports it in sync and status output without the URL credentials or token', async () => {
    const source = `${base}/day1.csv?token=tok-77e1`;
    const text = await runCli(['sync', '--file', source], { DATABASE_URL: db.url });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/synced followers from http:\/\/127\.0\.0\.1:\d+\/day1\.csv/);
    expectNoSecrets(text);
    const json = await runCli(['sync', '--file', source, '--json'], { DATABASE_URL: db.url });
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'succeeded', unchanged: 2 });
    expectNoSecrets(json);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann', 'bob@example.com': 'Bob' });

    const status = await runCli(['status'], { DATABASE_URL: db.url });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\/day1\.csv/);
    expectNoSecrets(status);
    const statusJson = await runCli(['status', '--json'], { DATABASE_URL: db.url });
    expect(JSON.parse(statusJson.stdout).loads).toHaveLength(2);
    expectNoSecrets(statusJson);
    const loadId = (JSON.parse(json.stdout) as { load_id: string }).load_id;
    const detail = await runCli(['status', '--load', loadId], { DATABASE_URL: db.url });
    expect(detail.stdout).toContain(loadId);
    expectNoSecrets(detail);
  });

  it('fails a missing file with --json, naming the status without the credentials', async () => {
    const r = await runCli(['sync', '--file', `${base}/missing.csv?token=tok-77e1`, '--json'], {
      DATABASE_URL: db.url,
    });
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'failed', error: expect.stringContaining('404') });
    expectNoSecrets(r);
  });
});

describe("the test database's own password", () => {
  it('never appears in a failed sync, its --json error, or etl status of the failure', async () => {
    const r = await runCli(['sync', '--file', tempFile('email,full_name\nbad,B\n'), '--json'], {
      DATABASE_URL: db.url,
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'failed', code: 'ETL_SYNC_FAILED' });
    expectNoDatabasePassword(r);
    for (const args of [['status'], ['status', '--json'], ['status', '--load', 'not-a-load-id', '--json']]) {
      const s = await runCli(args, { DATABASE_URL: db.url });
      expect(s.stdout.length).toBeGreaterThan(0);
      expectNoDatabasePassword(s);
    }
  });
});
