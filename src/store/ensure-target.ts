/**
 * Makes sure a target and its staging parent exist with the configured shape. A missing target is
 * created; an existing one is compared column by column (types canonicalised by PostgreSQL itself)
 * and any difference stops the sync with the full list, never a silent schema change.
 */
import type pg from 'pg';
import { quoteIdent, quoteTable } from '../db/quote.js';
import { ConfigError } from '../errors.js';
import {
  columnNullable,
  createStagingTable,
  createTargetTable,
  namedStagingColumns,
  STAGING_COMMENT,
  stagingColumns,
} from '../table/ddl.js';
import type { TargetSpec } from '../table/spec.js';
import { listPartitions } from '../merge/sql.js';
import { DELETE_FLAG } from '../load/staging-columns.js';

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

async function tableColumns(client: pg.ClientBase, schema: string, table: string): Promise<ColumnInfo[] | undefined> {
  const r = await client.query<{
    name: string;
    type: string;
    not_null: boolean;
    has_default: boolean;
    relkind: string;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' AS has_default, c.relkind
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relname = $2
      ORDER BY a.attnum`,
    [schema, table],
  );
  if (r.rowCount === 0) return undefined;
  return r.rows
    .filter((row) => row.name !== null)
    .map((row) => ({ name: row.name, type: row.type, notNull: row.not_null, hasDefault: row.has_default }));
}

/** PostgreSQL's own spelling of the configured types (int → integer, varchar(5) → character varying(5)). */
async function canonicalTypes(client: pg.ClientBase, spec: TargetSpec): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of spec.columns) {
    const r = await client.query<{ t: string }>(
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'pg_temp.etl_shape'::regclass AND attname = $1`,
      [c.name],
    );
    out.set(c.name, r.rows[0].t);
  }
  return out;
}

export async function ensureTarget(client: pg.ClientBase, spec: TargetSpec): Promise<{ created: boolean }> {
  await client.query('BEGIN');
  try {
    let created = false;
    const existing = await tableColumns(client, spec.schema, spec.table);
    if (!existing) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(spec.schema)}`);
      await client.query(createTargetTable(spec));
      created = true;
    } else {
      const defs = spec.columns.map((c) => `${quoteIdent(c.name)} ${c.sqlType}`).join(', ');
      await client.query(`CREATE TEMP TABLE etl_shape (${defs}) ON COMMIT DROP`);
      const wanted = await canonicalTypes(client, spec);
      await client.query('DROP TABLE pg_temp.etl_shape');
      const differences = compare(spec, existing, wanted);
      if (differences.length > 0) {
        throw new ConfigError(
          `${spec.schema}.${spec.table} does not match the configuration of ${spec.name}:\n  - ${differences.join('\n  - ')}\n` +
            'etl never changes an existing table: alter the table or the configuration so they agree',
        );
      }
    }
    await ensureStaging(client, spec);
    await client.query('COMMIT');
    return { created };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function compare(spec: TargetSpec, existing: ColumnInfo[], wanted: Map<string, string>): string[] {
  const byName = new Map(existing.map((c) => [c.name, c]));
  const out: string[] = [];
  for (const c of spec.columns) {
    const have = byName.get(c.name);
    if (!have) out.push(`column ${JSON.stringify(c.name)} is missing (configured as ${wanted.get(c.name)})`);
    else if (have.type !== wanted.get(c.name))
      out.push(`column ${JSON.stringify(c.name)} is ${have.type}, configured as ${wanted.get(c.name)}`);
    else if (have.notNull && columnNullable(spec, c))
      out.push(`column ${JSON.stringify(c.name)} is NOT NULL but configured as nullable`);
  }
  if (spec.modifiedColumn) {
    const have = byName.get(spec.modifiedColumn);
    if (!have) out.push(`column ${JSON.stringify(spec.modifiedColumn)} (modified_column) is missing`);
    else if (have.type !== 'timestamp with time zone')
      out.push(
        `column ${JSON.stringify(spec.modifiedColumn)} (modified_column) is ${have.type}, expected timestamp with time zone`,
      );
  }
  const fed = new Set([...spec.columns.map((c) => c.name), ...(spec.modifiedColumn ? [spec.modifiedColumn] : [])]);
  for (const c of existing) {
    if (!fed.has(c.name) && c.notNull && !c.hasDefault)
      out.push(
        `column ${JSON.stringify(c.name)} is NOT NULL without a default and not in the configuration, so no row could be inserted`,
      );
  }
  return out;
}

/**
 * The staging parent matches the spec. Loads of one target may stage at the same time, some with
 * delete markers (a loader from code always can mark deletes) and some without, so the delete flag
 * is added in place when missing and tolerated when unused: it defaults to false. Any other change
 * of shape recreates the parent, which is refused while a live load still stages into it.
 */
async function ensureStaging(client: pg.ClientBase, spec: TargetSpec): Promise<void> {
  const have = await tableColumns(client, spec.stagingSchema, spec.stagingTable);
  const table = quoteTable(spec.stagingSchema, spec.stagingTable);
  const sameAs = (want: { name: string; type: string }[]) =>
    have !== undefined &&
    have.length === want.length &&
    want.every((w, i) => have[i].name === w.name && have[i].type === w.type);
  if (have) {
    const withFlag = stagingColumns({ ...spec, deleteWhen: spec.deleteWhen ?? { field: '', op: '=', value: '' } });
    const withoutFlag = withFlag.filter((c) => c.name !== DELETE_FLAG);
    if (sameAs(stagingColumns(spec)) || (!spec.deleteWhen && sameAs(withFlag))) return;
    if (spec.deleteWhen && sameAs(withoutFlag)) {
      // Staged user columns are nullable (a delete marker stages only its key): only the flag is missing.
      await client.query(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(DELETE_FLAG)} boolean NOT NULL DEFAULT false`);
      return;
    }
    const r = await client.query<{ comment: string | null; relkind: string }>(
      `SELECT obj_description(c.oid, 'pg_class') AS comment, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [spec.stagingSchema, spec.stagingTable],
    );
    // Migration 1 made public.staging_followers without the comment, with user columns under their names.
    const legacy = sameAs(namedStagingColumns(spec)) || sameAs(namedStagingColumns({ ...spec, deleteWhen: undefined }));
    const ours = r.rows[0]?.relkind === 'p' && (r.rows[0]?.comment === STAGING_COMMENT || legacy);
    if (!ours) {
      throw new ConfigError(
        `${spec.stagingSchema}.${spec.stagingTable} exists but is not an etl staging table of this shape; rename it, or drop it if it is a leftover`,
      );
    }
    // Recovery has just removed the partitions of dead loads: any left belong to loads still staging.
    const list = listPartitions(spec);
    const live = await client.query(list.text, list.values);
    if ((live.rowCount ?? 0) > 0) {
      throw new ConfigError(
        `the configuration of ${spec.name} changed while ${live.rowCount} load(s) with the previous one are still staging into ${spec.stagingSchema}.${spec.stagingTable}; try again when they have finished`,
      );
    }
    await client.query(`DROP TABLE ${table}`);
  }
  for (const statement of createStagingTable(spec)) await client.query(statement);
}
