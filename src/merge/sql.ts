/**
 * The statements of a load, as pure functions of the target spec and the load's staging partition.
 * They return text (identifiers quoted by one helper) plus parameters, so they can be tested and
 * printed without a database.
 */
import { quoteIdent, quoteLiteral, quoteTable } from '../db/quote.js';
import type { Statement } from '../db/statement.js';
import { UUID_PATTERN } from '../db/uuid.js';
import { keyColumns, valueColumns, type ColumnSpec, type TargetSpec } from '../table/spec.js';

const TEXT_TYPES = /^(text|varchar|character varying|char|character|bpchar)\b/i;

/** Staging stores text; a non-text target column compares against the value cast to its type. */
function staged(col: ColumnSpec, alias = 's'): string {
  const ref = `${alias}.${quoteIdent(col.name)}`;
  return TEXT_TYPES.test(col.sqlType.trim()) ? ref : `${ref}::${col.sqlType}`;
}

/** A partition name that is unique per load and fits PostgreSQL's 63-byte identifier limit. */
export function partitionName(spec: TargetSpec, loadId: string): string {
  const suffix = `_${loadId.replaceAll('-', '')}`;
  const base = Buffer.from(spec.stagingTable, 'utf8')
    .subarray(0, 63 - suffix.length)
    .toString('utf8')
    .replace(/\uFFFD+$/u, '');
  return base + suffix;
}

export function partitionTable(spec: TargetSpec, loadId: string): string {
  return quoteTable(spec.stagingSchema, partitionName(spec, loadId));
}

/** DDL cannot take parameters, so the load id is checked to be a UUID before it becomes a literal. */
export function createPartition(spec: TargetSpec, loadId: string): Statement {
  if (!UUID_PATTERN.test(loadId)) throw new Error(`not a load id: ${loadId}`);
  const id = quoteLiteral(loadId);
  return {
    text: `CREATE UNLOGGED TABLE ${partitionTable(spec, loadId)}
             PARTITION OF ${quoteTable(spec.stagingSchema, spec.stagingTable)}
             (load_id WITH OPTIONS DEFAULT ${id}::uuid)
             FOR VALUES IN (${id})`,
    values: [],
  };
}

export function dropPartition(spec: TargetSpec, loadId: string): Statement {
  return { text: `DROP TABLE IF EXISTS ${partitionTable(spec, loadId)}`, values: [] };
}

/** Partitions of the staging table; used to sweep leftovers of runs that died. */
export function listPartitions(spec: TargetSpec): Statement {
  return {
    text: `SELECT n.nspname AS schema, c.relname AS name
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = to_regclass($1)`,
    values: [quoteTable(spec.stagingSchema, spec.stagingTable)],
  };
}

/** The staging column that marks a row as a delete of its key (targets with delete_when only). */
export const DELETE_FLAG = 'etl_delete';

export function copyInto(spec: TargetSpec, loadId: string): string {
  const cols = spec.columns.map((c) => quoteIdent(c.name));
  cols.push('line');
  if (spec.deleteWhen) cols.push(quoteIdent(DELETE_FLAG));
  return `COPY ${partitionTable(spec, loadId)} (${cols.join(', ')}) FROM STDIN`;
}

/** Restricts a staging scan to the rows that upsert (not the delete markers). */
function upsertRows(spec: TargetSpec): string {
  return spec.deleteWhen ? ` AND NOT s.${quoteIdent(DELETE_FLAG)}` : '';
}

/** Rows flagged by delete_when remove their key from the target. */
export function deleteMarked(spec: TargetSpec, loadId: string): Statement | undefined {
  if (!spec.deleteWhen) return undefined;
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            USING ${partitionTable(spec, loadId)} AS s
            WHERE ${keyMatch(spec)} AND s.${quoteIdent(DELETE_FLAG)}`,
    values: [],
  };
}

export function countMarked(spec: TargetSpec, loadId: string): Statement | undefined {
  if (!spec.deleteWhen) return undefined;
  return {
    text: `SELECT count(*)::bigint AS n FROM ${partitionTable(spec, loadId)} AS s WHERE s.${quoteIdent(DELETE_FLAG)}`,
    values: [],
  };
}

/** `INSERT INTO target (columns) SELECT staged values FROM the partition`, stamping the modified column. */
function insertFromStaging(spec: TargetSpec, loadId: string): string {
  const cols = spec.columns.map((c) => quoteIdent(c.name));
  const vals = spec.columns.map((c) => staged(c));
  if (spec.modifiedColumn) {
    cols.push(quoteIdent(spec.modifiedColumn));
    vals.push('now()');
  }
  return `INSERT INTO ${quoteTable(spec.schema, spec.table)} (${cols.join(', ')})
           SELECT ${vals.join(', ')} FROM ${partitionTable(spec, loadId)} AS s`;
}

/** append mode: every staged row becomes a new row, in file order. */
export function appendAll(spec: TargetSpec, loadId: string): Statement {
  return { text: `${insertFromStaging(spec, loadId)} WHERE true${upsertRows(spec)} ORDER BY s.line`, values: [] };
}

function keyGroup(spec: TargetSpec): string {
  return keyColumns(spec)
    .map((c) => quoteIdent(c.name))
    .join(', ');
}

/** How many staged rows repeat a key that a later line of the file also has. */
export function countDuplicates(spec: TargetSpec, loadId: string): Statement {
  return {
    text: `SELECT coalesce(sum(n - 1), 0)::bigint AS duplicates
             FROM (SELECT count(*) AS n FROM ${partitionTable(spec, loadId)}
                    GROUP BY ${keyGroup(spec)} HAVING count(*) > 1) AS d`,
    values: [],
  };
}

/** Keeps only the last occurrence (highest line) of each repeated key. */
export function dropDuplicates(spec: TargetSpec, loadId: string): Statement {
  const part = partitionTable(spec, loadId);
  const match = keyColumns(spec)
    .map((c) => `s.${quoteIdent(c.name)} = d.${quoteIdent(c.name)}`)
    .join(' AND ');
  return {
    text: `DELETE FROM ${part} AS s
            USING (SELECT ${keyGroup(spec)}, max(line) AS keep FROM ${part}
                    GROUP BY ${keyGroup(spec)} HAVING count(*) > 1) AS d
            WHERE ${match} AND s.line <> d.keep`,
    values: [],
  };
}

function keyMatch(spec: TargetSpec): string {
  return keyColumns(spec)
    .map((c) => `t.${quoteIdent(c.name)} = ${staged(c)}`)
    .join(' AND ');
}

export function countTarget(spec: TargetSpec): Statement {
  return { text: `SELECT count(*)::bigint AS n FROM ${quoteTable(spec.schema, spec.table)}`, values: [] };
}

/** Rows whose key is absent from this load: an anti-join on the key, never a clock comparison. */
export function deleteAbsent(spec: TargetSpec, loadId: string): Statement {
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            WHERE NOT EXISTS (SELECT 1 FROM ${partitionTable(spec, loadId)} AS s WHERE ${keyMatch(spec)})`,
    values: [],
  };
}

/** Rewrites only rows whose values differ, so unchanged rows keep their modified time and cost no write. */
export function updateChanged(spec: TargetSpec, loadId: string): Statement | undefined {
  const values = valueColumns(spec);
  if (values.length === 0) return undefined;
  const sets = values.map((c) => `${quoteIdent(c.name)} = ${staged(c)}`);
  if (spec.modifiedColumn) sets.push(`${quoteIdent(spec.modifiedColumn)} = now()`);
  const current = values.map((c) => `t.${quoteIdent(c.name)}`).join(', ');
  const incoming = values.map((c) => staged(c)).join(', ');
  return {
    text: `UPDATE ${quoteTable(spec.schema, spec.table)} AS t
              SET ${sets.join(', ')}
             FROM ${partitionTable(spec, loadId)} AS s
            WHERE ${keyMatch(spec)}${upsertRows(spec)}
              AND ROW(${current}) IS DISTINCT FROM ROW(${incoming})`,
    values: [],
  };
}

export function insertNew(spec: TargetSpec, loadId: string): Statement {
  return {
    text: `${insertFromStaging(spec, loadId)}
            WHERE NOT EXISTS (SELECT 1 FROM ${quoteTable(spec.schema, spec.table)} AS t WHERE ${keyMatch(spec)})${upsertRows(spec)}`,
    values: [],
  };
}

export function touchTableStatus(spec: TargetSpec): Statement {
  return {
    text: `INSERT INTO etl_info_schema.table_status (table_name, last_activity) VALUES ($1, now())
           ON CONFLICT (table_name) DO UPDATE SET last_activity = excluded.last_activity`,
    values: [spec.name],
  };
}

/** Whether a unique index (or primary key) covers exactly the key columns, so a repeated key cannot be inserted. */
export function hasUniqueKey(spec: TargetSpec): Statement {
  return {
    text: `SELECT EXISTS (
             SELECT 1 FROM pg_index i
              WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
                AND i.indnkeyatts = cardinality($2::text[])
                AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                       FROM pg_attribute a
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey[0:i.indnkeyatts - 1]))
                    = (SELECT array_agg(k ORDER BY k) FROM unnest($2::text[]) AS k)) AS unique`,
    values: [quoteTable(spec.schema, spec.table), [...spec.key]],
  };
}
