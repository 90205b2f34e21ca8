/**
 * Replicas that start at the same moment on a new database: each sets up the job queue, and none of
 * them may fail (pg-boss's own create_queue deadlocks when two run at once; etl takes turns).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type PgBoss from 'pg-boss';
import { resolveServeSettings } from '../../../src/api/config.js';
import { IMPORT_QUEUE, QUEUE_SCHEMA, startQueue } from '../../../src/api/queue.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

const REPLICAS = 4;
const ROUNDS = 3;
const opened: { db: TestDatabase; pools: pg.Pool[]; bosses: PgBoss[] }[] = [];

afterEach(async () => {
  for (const { db, pools, bosses } of opened.splice(0)) {
    await Promise.all(bosses.map((boss) => boss.stop({ graceful: false, wait: true })));
    await Promise.all(pools.map((pool) => pool.end()));
    await db.drop();
  }
});

function newPool(db: TestDatabase, pools: pg.Pool[]): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // Dropping the database terminates any session still closing; that is expected here, not an error.
  pool.on('connect', (client) => client.on('error', () => undefined));
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

describe('job queue set-up', () => {
  it(`brings up ${REPLICAS} replicas started at once on a new database, every time, with one queue`, async () => {
    const settings = resolveServeSettings({ jobTimeout: '7s' }, {}, { insecureNoAuth: true });
    for (let round = 0; round < ROUNDS; round += 1) {
      const db = await createTestDatabase();
      const entry = { db, pools: [] as pg.Pool[], bosses: [] as PgBoss[] };
      opened.push(entry);
      const database = { connection: { connectionString: db.url }, description: 'test', close: async () => undefined };
      // pg-boss's schema exists and the queue does not: the replicas all reach create_queue together.
      const first = await startQueue(database, newPool(db, entry.pools), settings, () => undefined);
      await first.deleteQueue(IMPORT_QUEUE);
      await first.stop({ graceful: false, wait: true });
      const errors: Error[] = [];
      const started = await Promise.allSettled(
        Array.from({ length: REPLICAS }, async () => {
          const boss = await startQueue(database, newPool(db, entry.pools), settings, (error) => errors.push(error));
          entry.bosses.push(boss);
        }),
      );
      expect(started.filter((s) => s.status === 'rejected')).toEqual([]);
      expect(errors).toEqual([]);
      const queues = await db.query(`SELECT name, expire_seconds FROM ${QUEUE_SCHEMA}.queue ORDER BY name`);
      expect(queues.rows).toEqual([{ name: IMPORT_QUEUE, expire_seconds: 7 }]);
    }
  });
});
