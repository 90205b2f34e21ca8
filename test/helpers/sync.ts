import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveSyncConfig, sync, type Flags, type SyncConfig, type SyncOptions } from '../../src/index.js';
import { withFaults, type LoadFaults } from '../../src/load/faults.js';
import type { TestDatabase } from './db.js';

export const projectRoot = resolve(import.meta.dirname, '..', '..');

/** This test file's temporary directory, made on first use and removed after its tests (integration-setup.ts). */
let scratch: string | undefined;
let fileCounter = 0;

function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'etl-test-files-'));
  return scratch;
}

export function removeScratch(): void {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** Writes text (or bytes) to a fresh temporary file and returns its path. */
export function tempFile(content: string | Buffer, name = 'input.csv'): string {
  fileCounter += 1;
  const path = join(scratchDir(), `${fileCounter}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** A fresh empty directory, removed with the other temporary files. */
export function tempDir(name = 'dir'): string {
  fileCounter += 1;
  const path = join(scratchDir(), `${fileCounter}-${name}`);
  mkdirSync(path);
  return path;
}

export function configFor(db: TestDatabase, flags: Flags, extra: Partial<SyncConfig> = {}): SyncConfig {
  return { ...resolveSyncConfig({ lockTimeout: '5s', ...flags }, { DATABASE_URL: db.url }), ...extra };
}

/** Syncs CSV text into the test database through the library API. */
export async function syncCsv(
  db: TestDatabase,
  csv: string | Buffer,
  flags: Flags = {},
  extra: Partial<SyncConfig> = {},
  options: SyncOptions = {},
) {
  return sync(configFor(db, { file: tempFile(csv), ...flags }, extra), options);
}

/** Syncs CSV text with test-only failure points attached to its configuration. */
export async function syncCsvWithFaults(db: TestDatabase, csv: string | Buffer, flags: Flags, faults: LoadFaults) {
  return sync(withFaults(configFor(db, { file: tempFile(csv), ...flags }), faults));
}

export async function followers(db: TestDatabase): Promise<Record<string, string>> {
  const r = await db.query<{ email: string; full_name: string }>(
    'SELECT email, full_name FROM followers ORDER BY email',
  );
  return Object.fromEntries(r.rows.map((row) => [row.email, row.full_name]));
}

export async function followersWithTimes(db: TestDatabase) {
  const r = await db.query<{ email: string; full_name: string; modified_at: Date }>(
    'SELECT email, full_name, modified_at FROM followers ORDER BY email',
  );
  return r.rows;
}

export async function loads(db: TestDatabase) {
  const r = await db.query('SELECT * FROM etl_info_schema.loads ORDER BY started_at');
  return r.rows;
}

export async function stagingPartitions(db: TestDatabase): Promise<string[]> {
  const r = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.staging_followers'::regclass`,
  );
  return r.rows.map((x) => x.relname);
}

export async function stagingRows(db: TestDatabase): Promise<number> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM public.staging_followers');
  return Number(r.rows[0].n);
}

export async function lastActivity(db: TestDatabase): Promise<Date | undefined> {
  const r = await db.query<{ last_activity: Date }>(
    `SELECT last_activity FROM etl_info_schema.table_status WHERE table_name = 'followers'`,
  );
  return r.rows[0]?.last_activity;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The only variables a CLI subprocess inherits: what a process needs to run, never a setting. The
 * developer's own DATABASE_URL, PG*, BATCH_SIZE, ... and CI's TEST_DATABASE_URL stay out.
 */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT'];

const children = new Set<ChildProcess>();

/** For afterEach (integration-setup.ts): a subprocess a failed test left running is killed outright. */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('close', r));
        child.kill('SIGKILL');
        await exited;
      }
      children.delete(child);
    }),
  );
}

/** A subprocess a whole test file shares (a server started in beforeAll): its file's afterAll stops it, not afterEach. */
export function keepAcrossTests(child: ChildProcess): void {
  children.delete(child);
}

/**
 * Starts the built CLI as a subprocess, in an empty directory unless told otherwise, so neither the
 * developer's environment nor a .env or etl.config.* of the checkout reaches it.
 */
export function startCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd: string = tempDir('cwd'),
): ChildProcess {
  return startCliWith([], args, env, cwd);
}

/** Starts the built CLI with options for node itself (e.g. --import a preloaded hook). */
export function startCliWith(
  nodeArgs: string[],
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd: string = tempDir('cwd'),
): ChildProcess {
  const clean: Record<string, string> = {};
  for (const k of INHERITED) if (process.env[k] !== undefined) clean[k] = process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const child = spawn(process.execPath, [...nodeArgs, join(projectRoot, 'bin', 'etl'), ...args], {
    cwd,
    env: clean,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('close', () => children.delete(child));
  return child;
}

export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<CliResult> {
  const child = startCli(args, env, cwd);
  child.stdin?.end();
  return finished(child);
}

/** Polls until the check passes (for waiting on another process), failing after the timeout. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A followers CSV of n generated rows. */
export function generatedCsv(n: number, name = (i: number) => `Name ${i}`): string {
  let out = 'email,full_name\n';
  for (let i = 0; i < n; i += 1) out += `user${i}@example.com,"${name(i)}"\n`;
  return out;
}

/**
 * Holds an exclusive lock on followers from another session: a sync stages its rows, then waits in
 * its merge (holding its table lock) until the returned function releases it.
 */
export async function lockFollowers(db: TestDatabase): Promise<() => Promise<void>> {
  const blocker = await db.client();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE followers IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await blocker.query('ROLLBACK').catch(() => undefined);
    await blocker.end().catch(() => undefined);
  };
}
