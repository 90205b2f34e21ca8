/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL when set (CI's service), otherwise an embedded
 * server in a temporary directory, started here and stopped at the end. Each test then creates its
 * own database on it (see db.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    project.provide('adminUrl', external);
    return async () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'etl-test-pg-'));
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o755);
  const server = await startEmbedded(dir, () => undefined);
  project.provide('adminUrl', server.url);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
