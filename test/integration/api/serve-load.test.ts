/**
 * The load test of etl serve (`npm run bench:serve`), at a tiny size: it runs to the end, times
 * GET /v1/imports/{id} while the bodies are still streaming as well as after, and finds the table
 * equal to the uploads.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

const root = resolve(import.meta.dirname, '..', '..', '..');
const loadTest = join(root, 'dist-bench', 'bench', 'serve-load.js');

let db: TestDatabase;

beforeAll(async () => {
  if (!existsSync(loadTest)) throw new Error(`${loadTest} is missing: run npm run build:bench first`);
  db = await createTestDatabase('etl_serve_load');
});

afterAll(async () => db?.drop());

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('PG') && k !== 'DATABASE_URL') env[k] = v;
  const child = spawn(process.execPath, [loadTest, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

describe('the load test of etl serve', () => {
  it('uploads N bodies at once, times the status GETs while they run, and checks the table', async () => {
    const result = await run(['--uploads', '2', '--rows', '20000', '--database-url', db.url, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown> & { get_ms: Record<string, number> };
    expect(report).toMatchObject({ uploads: 2, rows_per_upload: 20_000, table_ok: true });
    expect(report.get_requests).toBeGreaterThan(0);
    expect(Object.keys(report.get_ms)).toEqual(['p50', 'p95', 'max']);
    expect(result.stderr).not.toMatch(/etl_[0-9a-f]{32}_/u);
  });
});
