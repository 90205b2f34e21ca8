/** Per-test databases on the run's PostgreSQL, so tests never see each other's rows. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, inject } from 'vitest';

export function adminUrl(): string {
  return inject('adminUrl');
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  /** Runs one statement on a short-lived connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = 'etl_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl(), name);
  const db: TestDatabase = {
    url,
    name,
    async query(text, values) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await c.query(text, values);
      } finally {
        await c.end();
      }
    },
    async client() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    },
    async drop() {
      const a = new pg.Client({ connectionString: adminUrl() });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
  return db;
}

/**
 * A fresh database for every test of the file (made before each test, dropped after it, even when
 * the test fails). The returned object always stands for the current test's database.
 */
export function useTestDatabase(prefix?: string): TestDatabase {
  let current: TestDatabase | undefined;
  beforeEach(async () => {
    current = await createTestDatabase(prefix);
  });
  afterEach(async () => {
    await current?.drop();
    current = undefined;
  });
  const now = (): TestDatabase => {
    if (!current) throw new Error('the test database exists only while a test runs');
    return current;
  };
  return {
    get url() {
      return now().url;
    },
    get name() {
      return now().name;
    },
    query: (text, values) => now().query(text, values),
    client: () => now().client(),
    drop: () => now().drop(),
  };
}
