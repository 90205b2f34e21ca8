/**
 * Secrets planted in every kind of URL (the database, an http source with user:password and a
 * token, a webhook with credentials and a token) never reach any output: text and JSON logs, errors,
 * --json, etl status, /metrics, /healthz, notifications. The credentials are still used.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getText, killDaemons, startDaemon } from '../fixtures/daemon-helpers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { followers, runCli } from '../helpers/sync.js';

const SOURCE_PASSWORD = 'SrcPassPlanted9';
const SOURCE_TOKEN = 'SrcTokenPlanted9';
const HOOK_PASSWORD = 'HookPassPlanted9';
const HOOK_TOKEN = 'HookTokenPlanted9';

let db: TestDatabase;
let databaseUrl: string;
let secrets: string[];
let server: Server;
let base: string;
const requests: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];

beforeEach(async () => {
  db = await createTestDatabase();
  const u = new URL(db.url);
  // Trust authentication ignores a password; a server that checks one already has a real one here.
  if (u.password === '') u.password = 'PgPassPlanted9';
  databaseUrl = u.toString();
  secrets = [decodeURIComponent(u.password), SOURCE_PASSWORD, SOURCE_TOKEN, HOOK_PASSWORD, HOOK_TOKEN];
  requests.length = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body });
      const sourceAuth = `Basic ${Buffer.from(`src:${SOURCE_PASSWORD}`).toString('base64')}`;
      if (req.url?.startsWith('/good.csv') && req.headers.authorization === sourceAuth)
        res.end('email,full_name\nann@example.com,Ann\n');
      else if (req.url?.startsWith('/hook')) res.end('ok');
      else {
        res.statusCode = 500;
        res.end('broken');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await killDaemons();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.drop();
});

const sourceUrl = (path: string) => `http://src:${SOURCE_PASSWORD}@${base}/${path}?day=1&token=${SOURCE_TOKEN}`;
const hookUrl = () => `http://hook:${HOOK_PASSWORD}@${base}/hook?token=${HOOK_TOKEN}`;

function expectNoSecret(what: string, text: string): void {
  for (const secret of secrets) expect(text, `${what} shows ${secret}`).not.toContain(secret);
}

describe('secrets in URLs', () => {
  it('never shows them in etl sync output, errors, --json or etl status, and still uses them', async () => {
    const ok = await runCli(['sync', '--file', sourceUrl('good.csv'), '--json'], { DATABASE_URL: databaseUrl });
    expect(ok.code).toBe(0);
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
    expect(JSON.parse(ok.stdout)).toMatchObject({ source: `http://${base}/good.csv?day=1&token=***` });

    const failed = await runCli(['sync', '--file', sourceUrl('bad.csv'), '--json'], { DATABASE_URL: databaseUrl });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`GET http://${base}/bad.csv?day=1&token=*** answered 500`);
    const text = await runCli(['sync', '--file', sourceUrl('bad.csv')], { DATABASE_URL: databaseUrl });
    const status = await runCli(['status'], { DATABASE_URL: databaseUrl });
    const statusJson = await runCli(['status', '--json'], { DATABASE_URL: databaseUrl });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`http://${base}/good.csv?day=1&token=***`);
    for (const [what, r] of Object.entries({ ok, failed, text, status, statusJson })) {
      expectNoSecret(`${what} stdout`, r.stdout);
      expectNoSecret(`${what} stderr`, r.stderr);
    }
    const recorded = await db.query<{ source: string; error: string | null }>(
      'SELECT source, error FROM etl_info_schema.loads',
    );
    expectNoSecret('the load history', JSON.stringify(recorded.rows));
  });

  it.each(['text', 'json'])(
    'never shows them in the daemon log (%s), metrics, health or notifications; the webhook gets Basic auth',
    async (format) => {
      const daemon = startDaemon(
        [
          '--cron',
          '@every 1h',
          '--retries',
          '0',
          '--notify-url',
          hookUrl(),
          '--health-port',
          '0',
          '--health-host',
          '127.0.0.1',
          '--log-format',
          format,
        ],
        { DATABASE_URL: databaseUrl, CSV_FILE: sourceUrl('bad.csv') },
      );
      await daemon.waitForText(/answered 500/);
      const port = Number(/health: GET http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(daemon.stderr())![1]);
      const hook = await waitForHook();
      expect(hook.headers.authorization).toBe(`Basic ${Buffer.from(`hook:${HOOK_PASSWORD}`).toString('base64')}`);
      expect(hook.url).toBe(`/hook?token=${HOOK_TOKEN}`);
      expect(JSON.parse(hook.body)).toMatchObject({ event: 'run_failed' });
      const metrics = await getText(port, '/metrics');
      const health = await getText(port, '/healthz');
      const result = await daemon.stop();
      expect(result.code).toBe(0);
      expect(daemon.stderr()).toContain(`http://${base}/bad.csv?day=1&token=***`);
      expectNoSecret('the daemon log', daemon.stderr());
      expectNoSecret('the notification', hook.body);
      expectNoSecret('/metrics', metrics);
      expectNoSecret('/healthz', health);
    },
  );

  it('never shows them for the syncs of a config file either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etl-secrets-'));
    const entry = {
      name: 'codes',
      source: { url: sourceUrl('bad.csv'), format: 'csv' },
      target: { table: 'codes' },
      key: 'code',
      columns: [{ name: 'code', type: 'text' }],
    };
    writeFileSync(join(dir, 'etl.config.json'), JSON.stringify({ syncs: [entry] }));
    const daemon = startDaemon(
      ['--all', '--cron', '@every 1h', '--retries', '0', '--log-format', 'json'],
      { DATABASE_URL: databaseUrl },
      dir,
    );
    await daemon.waitForText(/answered 500/);
    await daemon.stop();
    expect(daemon.stderr()).toContain(`http://${base}/bad.csv?day=1&token=***`);
    expectNoSecret('the daemon log', daemon.stderr());
  });

  it('never shows webhook credentials when the notification cannot be delivered', async () => {
    const closed = `http://hook:${HOOK_PASSWORD}@127.0.0.1:1/hook?token=${HOOK_TOKEN}`;
    const daemon = startDaemon(
      ['--cron', '@every 1h', '--retries', '0', '--notify-url', closed, '--log-format', 'json'],
      { DATABASE_URL: databaseUrl, CSV_FILE: sourceUrl('bad.csv') },
    );
    await daemon.waitForText(/could not deliver the run_failed event to http:\/\/127\.0\.0\.1:1 /);
    await daemon.stop();
    expectNoSecret('the daemon log', daemon.stderr());
  });
});

async function waitForHook(): Promise<{ url: string; headers: IncomingHttpHeaders; body: string }> {
  for (let i = 0; i < 600; i += 1) {
    const hook = requests.find((r) => r.url.startsWith('/hook'));
    if (hook) return hook;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no notification arrived');
}
