import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { finished, followers, runCli, startCli, tempDir, tempFile } from '../helpers/sync.js';

const db = useTestDatabase();
let dir: string;
beforeEach(() => {
  dir = tempDir('cli-config');
});

const codes = (name: string, source: string, extra: object = {}) => ({
  name,
  source,
  target: { table: name },
  key: 'code',
  columns: [
    { name: 'code', type: 'text' },
    { name: 'n', type: 'integer' },
  ],
  ...extra,
});

describe('etl sync NAME / --all (CLI)', () => {
  it('runs one named sync from etl.config.yaml in the working directory', async () => {
    writeFileSync(join(dir, 'data.ndjson.gz'), gzipSync('{"code":"a","n":1}\n{"code":"b","n":2}\n'));
    writeFileSync(
      join(dir, 'etl.config.yaml'),
      'syncs:\n  - name: alpha\n    source: data.ndjson.gz\n    target: { table: alpha }\n    key: code\n    columns:\n      - { name: code, type: text }\n      - { name: n, type: int }\n',
    );
    const r = await runCli(['sync', 'alpha', '--json'], { DATABASE_URL: db.url }, dir);
    expect(r.stderr).toBe('etl: created public.alpha from the configuration of alpha\n');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: 'alpha', inserted: 2 });
    expect((await db.query('SELECT code, n FROM alpha ORDER BY code')).rows).toEqual([
      { code: 'a', n: 1 },
      { code: 'b', n: 2 },
    ]);
  });

  it('exits 2 for an unknown sync name, listing the known ones', async () => {
    writeFileSync(join(dir, 'etl.config.json'), JSON.stringify({ syncs: [codes('alpha', 'a.csv')] }));
    const r = await runCli(['sync', 'beta'], { DATABASE_URL: db.url }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/etl\.config\.json has no sync named "beta" \(it has: alpha\)/);
  });

  it('exits 2 naming the entry and field of an invalid config', async () => {
    writeFileSync(
      join(dir, 'etl.config.json'),
      JSON.stringify({ syncs: [codes('alpha', 'a.csv', { columns: [{ name: 'code', type: 'intt' }] })] }),
    );
    const r = await runCli(['sync', 'alpha'], { DATABASE_URL: db.url }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/etl\.config\.json: syncs\[0\]\.columns\[0\]\.type .*intt/);
  });

  it('runs every sync with --all; one failing does not stop the others and the exit code says so', async () => {
    writeFileSync(join(dir, 'good1.csv'), 'code,n\na,1\n');
    writeFileSync(join(dir, 'bad.csv'), 'code,n\na,notanumber\n');
    writeFileSync(join(dir, 'good2.csv'), 'code,n\nz,26\n');
    writeFileSync(
      join(dir, 'etl.config.json'),
      JSON.stringify({ syncs: [codes('one', 'good1.csv'), codes('two', 'bad.csv'), codes('three', 'good2.csv')] }),
    );
    const r = await runCli(['sync', '--all', '--json'], { DATABASE_URL: db.url }, dir);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe('failed');
    expect(out.syncs.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ['one', 'succeeded'],
      ['two', 'failed'],
      ['three', 'succeeded'],
    ]);
    expect(out.syncs[1].error).toMatch(/n: "notanumber" is not/);
    expect((await db.query('SELECT code FROM three')).rows).toEqual([{ code: 'z' }]);
    const history = await db.query<{ table_name: string; status: string }>(
      'SELECT table_name, status FROM etl_info_schema.loads ORDER BY started_at',
    );
    expect(history.rows).toEqual([
      { table_name: 'one', status: 'succeeded' },
      { table_name: 'two', status: 'failed' },
      { table_name: 'three', status: 'succeeded' },
    ]);
  });

  it('exits 0 with --all when every sync succeeds', async () => {
    writeFileSync(join(dir, 'a.csv'), 'code,n\na,1\n');
    writeFileSync(
      join(dir, 'etl.config.json'),
      JSON.stringify({ syncs: [codes('one', 'a.csv'), codes('two', 'a.csv')] }),
    );
    const r = await runCli(['sync', '--all'], { DATABASE_URL: db.url }, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 of 2 syncs succeeded/);
  });
});

describe('etl sync --file - (stdin)', () => {
  it('reads the followers CSV from stdin', async () => {
    const child = startCli(['sync', '--file', '-', '--json'], { DATABASE_URL: db.url });
    const done = finished(child);
    child.stdin!.end('email,full_name\nann@example.com,Ann\n');
    const r = await done;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: 'stdin', inserted: 1 });
    expect(await followers(db)).toEqual({ 'ann@example.com': 'Ann' });
  });

  it('reads NDJSON from stdin with --format', async () => {
    const child = startCli(['sync', '--file', '-', '--format', 'ndjson', '--json'], { DATABASE_URL: db.url });
    const done = finished(child);
    child.stdin!.end('{"email":"bob@example.com","full_name":"Bob"}\n');
    const r = await done;
    expect(r.code).toBe(0);
    expect(await followers(db)).toEqual({ 'bob@example.com': 'Bob' });
  });

  it('reads a gzip-compressed followers file', async () => {
    const r = await runCli(
      ['sync', '--file', tempFile(gzipSync('email,full_name\ncat@example.com,Cat\n'), 'f.csv.gz')],
      { DATABASE_URL: db.url },
    );
    expect(r.code).toBe(0);
    expect(await followers(db)).toEqual({ 'cat@example.com': 'Cat' });
  });
});
