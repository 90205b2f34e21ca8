/**
 * A private PostgreSQL (the embedded server, in its own directory and port) crashed mid-load
 * (immediate shutdown, as after a power cut) and restarted: the run says it lost its database, the
 * table is unchanged after crash recovery, and the next sync cleans up and records why the load ended.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { finished, generatedCsv, runCli, startCli, tempFile, waitFor } from '../helpers/sync.js';

let dir: string;
let server: EmbeddedServer | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etl-crash-pg-'));
  execFileSync('chmod', ['755', dir]);
  server = await startEmbedded(dir, () => undefined);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

const followersOf = (url: string) =>
  query<{ email: string; full_name: string }>(url, 'SELECT email, full_name FROM followers ORDER BY email');

describe('the database crashes mid-load', () => {
  it('says the run lost its database; after the restart the table is unchanged and the next sync cleans up', async () => {
    const url = server!.url;
    expect(
      (await runCli(['sync', '--file', tempFile('email,full_name\nann@example.com,Ann\n')], { DATABASE_URL: url }))
        .code,
    ).toBe(0);

    const fifo = join(dir, 'input.csv');
    execFileSync('mkfifo', [fifo]);
    const child = startCli(['sync', '--file', fifo, '--batch-size', '500'], { DATABASE_URL: url });
    const done = finished(child);
    const writer = await waitFor(
      async () => {
        try {
          return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch {
          return undefined;
        }
      },
      30_000,
      'the CLI to open the FIFO',
    );
    writeSync(writer, generatedCsv(2000));
    const loadId = await waitFor(
      async () =>
        (await query<{ load_id: string }>(url, `SELECT load_id FROM etl_info_schema.loads WHERE status = 'running'`))[0]
          ?.load_id,
      30_000,
      'a running load',
    );
    await waitFor(
      async () => Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM staging_followers'))[0].n) > 0,
      30_000,
      'rows in staging',
    );

    // Immediate shutdown (SIGQUIT to the postmaster): no checkpoint, crash recovery on the next start.
    const postmaster = Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGQUIT');
    await waitFor(
      async () => {
        try {
          process.kill(postmaster, 0);
          return false;
        } catch {
          return true;
        }
      },
      30_000,
      'the server to go down',
    );
    writeSync(writer, generatedCsv(1000).split('\n').slice(1).join('\n').replaceAll('user', 'more'));
    closeSync(writer);
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `etl error: sync of followers lost its database connection \\(load ${loadId}\\): .*; nothing was committed, so followers is unchanged`,
      ),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `etl error: load ${loadId} could not be cleaned up: the database cannot be reached \\(.*ECONNREFUSED.*\\)`,
      ),
    );
    expect(r.stderr).not.toMatch(/compensation ".*" failed/);

    server = await startEmbedded(dir, () => undefined);
    const restarted = server.url;
    expect(await followersOf(restarted)).toEqual([{ email: 'ann@example.com', full_name: 'Ann' }]);

    const next = await runCli(
      ['sync', '--file', tempFile('email,full_name\nann@example.com,Ann\nbob@example.com,Bob\n')],
      { DATABASE_URL: restarted },
    );
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(
      new RegExp(
        `load ${loadId} of followers was abandoned \\(the database restarted \\(at [0-9T:.-]+Z\\) while it ran: its run \\(pid \\d+ on .+\\) lost its database connection and could not clean up\\)`,
      ),
    );
    const history = await query<{ load_id: string; status: string; error: string | null }>(
      restarted,
      'SELECT load_id, status, error FROM etl_info_schema.loads ORDER BY started_at',
    );
    expect(history.map((l) => l.status)).toEqual(['succeeded', 'aborted', 'succeeded']);
    expect(history[1]).toMatchObject({ load_id: loadId });
    expect(history[1].error).toMatch(
      /^abandoned: the database restarted \(at [0-9T:.-]+Z\) while it ran: its run \(pid \d+ on .+\) lost its database connection and could not clean up; a later sync removed its staging rows$/,
    );
    expect(
      await query(
        restarted,
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.staging_followers'::regclass`,
      ),
    ).toEqual([]);
    expect(await followersOf(restarted)).toEqual([
      { email: 'ann@example.com', full_name: 'Ann' },
      { email: 'bob@example.com', full_name: 'Bob' },
    ]);
  });
});
