/** Progress of `etl sync` on stderr when it is not a terminal (a subprocess's pipe, like docker logs or CI). */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { generatedCsv, runCli, tempFile } from '../helpers/sync.js';

const db = useTestDatabase();

// "etl progress: staging: 12,000 rows, 45,123 rows/s, 37% of 1.2 MiB, ETA 8s" (rate and ETA once measured).
const STAGING_LINE =
  /^etl progress: staging: \d{1,3}(,\d{3})* rows(, \d{1,3}(,\d{3})* rows\/s)?, \d{1,3}% of \d+(\.\d)? (B|KiB|MiB)(, ETA (\d+s|\d+m\d\ds))?$/mu;

// Many small chunks, and a line due at every one of them: the first chunk is staged long after the
// reporter starts (the connection, migration and lock come first), so at least one line is printed.
const args = (file: string, ...extra: string[]) => [
  'sync',
  '--file',
  file,
  '--batch-size',
  '500',
  '--progress-interval',
  '1ms',
  ...extra,
];

describe('etl sync progress', () => {
  it('prints plain progress lines on stderr when stderr is not a terminal, then the usual summary', async () => {
    const r = await runCli(args(tempFile(generatedCsv(20_000))), { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(STAGING_LINE);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toContain('\x1b[');
    for (const line of r.stderr.split('\n').filter((l) => l.startsWith('etl progress: staging')))
      expect(line).toMatch(STAGING_LINE);
    expect(r.stdout).toMatch(/^synced followers from .* \(load [0-9a-f-]{36}\)\n {2}read 20000 {2}inserted 20000 /u);
    expect(r.stdout).not.toContain('etl progress');
  });

  it('keeps stdout to the JSON summary with --json, progress still on stderr', async () => {
    const r = await runCli(args(tempFile(generatedCsv(20_000)), '--json'), { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'succeeded', rows_read: 20_000, inserted: 20_000 });
    expect(r.stderr).toMatch(STAGING_LINE);
  });

  it('prints no progress with --quiet', async () => {
    const r = await runCli(args(tempFile(generatedCsv(20_000)), '--quiet'), { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/read 20000 {2}inserted 20000/u);
    expect(r.stderr).not.toContain('etl progress');
  });

  it('keeps the exit code and puts the error of a failed sync on a line of its own', async () => {
    const csv = generatedCsv(5_000) + 'not-an-email,X\n';
    const r = await runCli(args(tempFile(csv), '--json'), { DATABASE_URL: db.url });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'failed', code: 'ETL_SYNC_FAILED' });
    expect(r.stderr).toMatch(/^etl error: sync of followers failed and was rolled back .*line 5002/mu);
  });

  it.each([['soon'], ['0']])('exits 2 for --progress-interval %s', async (value) => {
    const r = await runCli(['sync', '--file', tempFile(generatedCsv(3)), '--progress-interval', value], {
      DATABASE_URL: db.url,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--progress-interval <duration>' argument .* is invalid\. not a positive duration; write e\.g\. 500ms/u,
    );
  });
});
