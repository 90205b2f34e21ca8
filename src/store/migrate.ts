import type pg from 'pg';
import { MIGRATION_LOCK_NAMESPACE } from './advisory.js';
import { migrations, type Migration } from './migrations.js';

export interface MigrateResult {
  applied: number[];
  current: number;
}

/**
 * Brings the schema up to date in one transaction under an advisory lock, so concurrent runs
 * (two replicas starting together) apply each migration exactly once.
 */
export async function migrate(client: pg.ClientBase, all: readonly Migration[] = migrations): Promise<MigrateResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [MIGRATION_LOCK_NAMESPACE]);
    await client.query('CREATE SCHEMA IF NOT EXISTS etl_info_schema');
    await client.query(`CREATE TABLE IF NOT EXISTS etl_info_schema.migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await client.query<{ version: number }>('SELECT version FROM etl_info_schema.migrations');
    const have = new Set(done.rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...all].sort((a, b) => a.version - b.version)) {
      if (have.has(m.version)) continue;
      try {
        await client.query(m.sql);
      } catch (error) {
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(error as Error).message}`, { cause: error });
      }
      await client.query('INSERT INTO etl_info_schema.migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    const current = Math.max(0, ...have, ...applied);
    return { applied, current };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
