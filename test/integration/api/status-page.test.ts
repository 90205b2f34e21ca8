/**
 * The status page in a real browser (Debian's chromium, driven by playwright-core): it shows an
 * import that starts and runs while the page is open, then its final counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  call,
  createKey,
  fileServer,
  killServers,
  startServe,
  type ImportAnswer,
  type Served,
} from '../../helpers/serve.js';
import { generatedCsv } from '../../helpers/sync.js';

const CHROMIUM = '/usr/bin/chromium';

let db: TestDatabase;
let server: Served;
let files: Awaited<ReturnType<typeof fileServer>>;
let browser: BrowserContext;
let profile: string;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  token = await createKey(db.url, 'viewer', 'followers', 'write');
  // Sent in ten parts a second apart: the import is visibly running for a while.
  files = await fileServer({ '/slow.csv': generatedCsv(3000) }, { paths: ['/slow.csv'], pauseMs: 1000 });
  server = await startServe('serve', [], { DATABASE_URL: db.url }, { sharedByFile: true });
  profile = mkdtempSync(join(tmpdir(), 'etl-chromium-'));
  // An empty profile of its own (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await killServers();
  await files?.close();
  await db?.drop();
});

describe('the status page', () => {
  it('shows an import running while the page is open, then its final counts', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    await page.fill('#key', token);
    await page.locator('#key').dispatchEvent('change');

    const created = await call<ImportAnswer>(server.url, 'POST', '/v1/tables/followers/imports', {
      token,
      json: { url: `${files.url}/slow.csv` },
    });
    expect(created.status).toBe(202);
    const row = page.locator(`#imports tr[data-id="${created.body.id}"]`);
    // While it runs: a running status and rows counted so far.
    await row.locator('td.status.staging, td.status.merging').waitFor({ timeout: 30_000 });
    // Then: succeeded, with the counts of the whole file.
    await row.locator('td.status.succeeded').waitFor({ timeout: 60_000 });
    expect(await row.locator('td.count-read').textContent()).toBe('3000');
    expect(await row.locator('td.count-inserted').textContent()).toBe('3000');
    expect(await row.locator('td.count-rejected').textContent()).toBe('0');
    expect(await row.locator('a').getAttribute('href')).toBe(`/v1/imports/${created.body.id}/rejects`);
    expect(await page.locator('#problem').textContent()).toBe('');
    // The load appears in the loads table too.
    expect(await page.locator('#loads tbody tr').first().locator('td').nth(2).textContent()).toBe('succeeded');
    await page.close();
  });
});
