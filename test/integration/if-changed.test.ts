/**
 * --if-changed: every load records its source's size and SHA-256; with the flag, a source
 * byte-identical to the table's last successful load is skipped (recorded as such), and anything
 * else syncs as usual.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeleteLimitError } from '../../src/merge/transaction.js';
import { useTestDatabase } from '../helpers/db.js';
import { followers, stagingPartitions, syncCsv, tempFile } from '../helpers/sync.js';
import { sync } from '../../src/index.js';
import { configFor } from '../helpers/sync.js';

const db = useTestDatabase();

const day1 = 'email,full_name\nann@x.io,Ann\nbob@x.io,Bob\ncy@x.io,Cy\n';
const day2 = 'email,full_name\nann@x.io,Ann\nbob@x.io,Robert\n';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function history() {
  const r = await db.query<{ status: string; source_bytes: string | null; source_sha256: string | null }>(
    `SELECT status, source_bytes, source_sha256 FROM etl_info_schema.loads ORDER BY started_at`,
  );
  return r.rows.map((x) => [x.status, x.source_bytes === null ? null : Number(x.source_bytes), x.source_sha256]);
}

describe('--if-changed', () => {
  it('records size and SHA-256 with every load, and skips a byte-identical file without touching the table', async () => {
    const file = tempFile(day1);
    await sync(configFor(db, { file }));
    // edits by others since that load are not undone by a skipped run (documented)
    await db.query(`UPDATE followers SET full_name = 'Edited' WHERE email = 'cy@x.io'`);
    const before = await followers(db);
    const result = await sync(configFor(db, { file, ifChanged: true }));
    expect(result.skipped).toBe('unchanged');
    expect(result.counts).toMatchObject({ read: 0, inserted: 0, updated: 0, deleted: 0 });
    expect(await followers(db)).toEqual(before);
    expect(await history()).toEqual([
      ['succeeded', day1.length, sha(day1)],
      ['skipped', day1.length, sha(day1)],
    ]);
    expect(await stagingPartitions(db)).toEqual([]);
  });

  it('syncs as usual without the flag, or when the file changed', async () => {
    const file = tempFile(day1);
    await sync(configFor(db, { file }));
    const again = await sync(configFor(db, { file }));
    expect(again.skipped).toBeUndefined();
    expect(again.counts).toMatchObject({ read: 3, unchanged: 3 });
    const changed = await syncCsv(db, day2, { ifChanged: true });
    expect(changed.skipped).toBeUndefined();
    expect(await followers(db)).toEqual({ 'ann@x.io': 'Ann', 'bob@x.io': 'Robert' });
    expect((await history()).map(([status]) => status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('compares with the last successful load only: a failed load of the same file does not make it skip', async () => {
    await syncCsv(db, day1);
    const file = tempFile(day2);
    const failed = await sync(configFor(db, { file, maxDelete: '10' })).catch((e: unknown) => e);
    expect((failed as Error).cause ?? failed).toBeInstanceOf(DeleteLimitError);
    expect(await followers(db)).toEqual({ 'ann@x.io': 'Ann', 'bob@x.io': 'Bob', 'cy@x.io': 'Cy' });
    const retried = await sync(configFor(db, { file, ifChanged: true }));
    expect(retried.skipped).toBeUndefined();
    expect(await followers(db)).toEqual({ 'ann@x.io': 'Ann', 'bob@x.io': 'Robert' });
    expect((await history()).map(([status]) => status)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  describe('a source that cannot be read twice (a URL)', () => {
    let server: Server;
    let body = day1;
    let url: string;
    beforeEach(async () => {
      server = createServer((_req, res) => res.end(body));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/followers.csv`;
    });
    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('is compared once read: an unchanged download skips the merge and leaves nothing staged', async () => {
      body = day1;
      await sync(configFor(db, { file: url }));
      await db.query(`UPDATE followers SET full_name = 'Edited' WHERE email = 'cy@x.io'`);
      const before = await followers(db);
      const skipped = await sync(configFor(db, { file: url, ifChanged: true }));
      expect(skipped.skipped).toBe('unchanged');
      expect(skipped.counts).toMatchObject({ read: 3, inserted: 0, updated: 0, deleted: 0 });
      expect(await followers(db)).toEqual(before);
      expect(await stagingPartitions(db)).toEqual([]);
      body = day2;
      const changed = await sync(configFor(db, { file: url, ifChanged: true }));
      expect(changed.skipped).toBeUndefined();
      expect(await followers(db)).toEqual({ 'ann@x.io': 'Ann', 'bob@x.io': 'Robert' });
      expect(await history()).toEqual([
        ['succeeded', day1.length, sha(day1)],
        ['skipped', day1.length, sha(day1)],
        ['succeeded', day2.length, sha(day2)],
      ]);
    });
  });
});
