/**
 * The statements of a load, as pure functions of the target spec and the load's staging partition.
 * They return text (identifiers quoted by one helper) plus parameters, so they can be tested and
 * printed without a database.
 */
import { quoteIdent, quoteLiteral, quoteTable } from '../db/quote.js';
import type { Statement } from '../db/statement.js';
import { UUID_PATTERN } from '../db/uuid.js';
import { DELETE_FLAG, LINE_COLUMN, LOAD_ID_COLUMN, stagedName, stagedNameOf } from '../load/staging-columns.js';
import { keyColumns, type ColumnSpec, type TargetSpec } from '../table/spec.js';

const TEXT_TYPES = /^(text|varchar|character varying|char|character|bpchar)\b/i;

/** A user column as staged (by position): the raw staged text. */
function stagedRef(spec: TargetSpec, col: ColumnSpec, alias = 's'): string {
  return `${alias}.${quoteIdent(stagedNameOf(spec, col))}`;
}

/** Staging stores text; a non-text target column compares against the value cast to its type. */
export function staged(spec: TargetSpec, col: ColumnSpec, alias = 's'): string {
  const ref = stagedRef(spec, col, alias);
  return TEXT_TYPES.test(col.sqlType.trim()) ? ref : `${ref}::${col.sqlType}`;
}

const LINE = quoteIdent(LINE_COLUMN);
const FLAG = quoteIdent(DELETE_FLAG);

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
             (${quoteIdent(LOAD_ID_COLUMN)} WITH OPTIONS DEFAULT ${id}::uuid)
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

export function copyInto(spec: TargetSpec, loadId: string): string {
  const cols = spec.columns.map((_, i) => quoteIdent(stagedName(i)));
  cols.push(LINE);
  if (spec.deleteWhen) cols.push(FLAG);
  return `COPY ${partitionTable(spec, loadId)} (${cols.join(', ')}) FROM STDIN`;
}

/** Restricts a staging scan to the rows that upsert (not the delete markers). */
function upsertRows(spec: TargetSpec): string {
  return spec.deleteWhen ? ` AND NOT s.${FLAG}` : '';
}

/** Rows flagged by delete_when remove their key from the target. */
export function deleteMarked(spec: TargetSpec, loadId: string): Statement | undefined {
  if (!spec.deleteWhen) return undefined;
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            USING ${partitionTable(spec, loadId)} AS s
            WHERE ${keyMatch(spec)} AND s.${FLAG}`,
    values: [],
  };
}

/**
 * The keys whose last staged line is a delete marker: removed from the target before any target of
 * a group merges (children first), so a parent's delete never runs while its children still exist.
 */
export function deleteMarkedLast(spec: TargetSpec, loadId: string): Statement | undefined {
  if (!spec.deleteWhen) return undefined;
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            USING (SELECT DISTINCT ON (${keyGroup(spec)}) * FROM ${partitionTable(spec, loadId)}
                    ORDER BY ${keyGroup(spec)}, ${LINE} DESC) AS s
            WHERE ${keyMatch(spec)} AND s.${FLAG}`,
    values: [],
  };
}

/**
 * A mirror's keys the load lacks (an anti-join on the key, never a clock comparison): removed in
 * a group's first pass, children first. A single load finds them in its difference (diff.ts).
 */
export function deleteAbsent(spec: TargetSpec, loadId: string): Statement {
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            WHERE NOT EXISTS (SELECT 1 FROM ${partitionTable(spec, loadId)} AS s WHERE ${keyMatch(spec)})`,
    values: [],
  };
}

export function countMarked(spec: TargetSpec, loadId: string): Statement | undefined {
  if (!spec.deleteWhen) return undefined;
  return {
    text: `SELECT count(*)::bigint AS n FROM ${partitionTable(spec, loadId)} AS s WHERE s.${FLAG}`,
    values: [],
  };
}

/** `INSERT INTO target (columns) SELECT staged values FROM the partition`, stamping the modified column. */
function insertFromStaging(spec: TargetSpec, loadId: string): string {
  const cols = spec.columns.map((c) => quoteIdent(c.name));
  const vals = spec.columns.map((c) => staged(spec, c));
  if (spec.modifiedColumn) {
    cols.push(quoteIdent(spec.modifiedColumn));
    vals.push('now()');
  }
  return `INSERT INTO ${quoteTable(spec.schema, spec.table)} (${cols.join(', ')})
           SELECT ${vals.join(', ')} FROM ${partitionTable(spec, loadId)} AS s`;
}

/** append mode: every staged row becomes a new row, in file order. */
export function appendAll(spec: TargetSpec, loadId: string): Statement {
  return { text: `${insertFromStaging(spec, loadId)} WHERE true${upsertRows(spec)} ORDER BY s.${LINE}`, values: [] };
}

function keyGroup(spec: TargetSpec): string {
  return keyColumns(spec)
    .map((c) => quoteIdent(stagedNameOf(spec, c)))
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
    .map((c) => `${stagedRef(spec, c)} = ${stagedRef(spec, c, 'd')}`)
    .join(' AND ');
  return {
    text: `DELETE FROM ${part} AS s
            USING (SELECT ${keyGroup(spec)}, max(${LINE}) AS keep FROM ${part}
                    GROUP BY ${keyGroup(spec)} HAVING count(*) > 1) AS d
            WHERE ${match} AND s.${LINE} <> d.keep`,
    values: [],
  };
}

/** The join of target rows (t) to staged rows (s) by key, typed as the target's columns. */
export function keyMatch(spec: TargetSpec): string {
  return keyColumns(spec)
    .map((c) => `t.${quoteIdent(c.name)} = ${staged(spec, c)}`)
    .join(' AND ');
}

export function countTarget(spec: TargetSpec): Statement {
  return { text: `SELECT count(*)::bigint AS n FROM ${quoteTable(spec.schema, spec.table)}`, values: [] };
}

/**
 * The rows of the load that upsert, inserted with no join: the fast path into an empty target. In
 * key order, so the key's index grows at its right edge instead of splitting pages all over (at 1M
 * rows the unordered insert took longer than sorting first and inserting in order).
 *
 * `bytewiseKeys` names the key columns whose collation orders text as its UTF-8 bytes do (C, POSIX,
 * C.UTF-8, the builtin provider): those sort under "C", which compares bytes instead of calling
 * the C library's strcoll, for the same order (at 1M e-mail keys the insert took 5.7 s instead of 7.9 s).
 */
export function insertAll(spec: TargetSpec, loadId: string, bytewiseKeys: ReadonlySet<string> = new Set()): Statement {
  const order = keyColumns(spec)
    .map((c) => (bytewiseKeys.has(c.name) ? `${staged(spec, c)} COLLATE "C"` : staged(spec, c)))
    .join(', ');
  return { text: `${insertFromStaging(spec, loadId)} WHERE true${upsertRows(spec)} ORDER BY ${order}`, values: [] };
}

/** Memory for the merge's hash joins and sorts, for this transaction only. */
export function setWorkMem(workMem: string): Statement {
  return { text: `SELECT set_config('work_mem', $1, true)`, values: [workMem] };
}

export function touchTableStatus(spec: TargetSpec): Statement {
  return {
    text: `INSERT INTO etl_info_schema.table_status (table_name, last_activity) VALUES ($1, now())
           ON CONFLICT (table_name) DO UPDATE SET last_activity = excluded.last_activity`,
    values: [spec.name],
  };
}

/**
 * The key columns of the target whose collation sorts text in UTF-8 byte (code point) order. A
 * column's default collation is the database's; libc's C.UTF-8 and the builtin provider (17+) order
 * by code point, as C does by byte, which is the same order for UTF-8.
 */
export function bytewiseKeyColumns(spec: TargetSpec): Statement {
  return {
    text: `SELECT a.attname AS name
             FROM pg_attribute a
             JOIN pg_collation c ON c.oid = a.attcollation
             JOIN pg_database d ON d.datname = current_database()
            WHERE a.attrelid = to_regclass($1) AND a.attname = ANY ($2::text[]) AND NOT a.attisdropped
              AND CASE WHEN c.collname = 'default'
                       THEN d.datlocprovider = 'b' OR (d.datlocprovider = 'c' AND d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8'))
                       ELSE c.collprovider = 'b' OR (c.collprovider = 'c' AND c.collcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8'))
                  END`,
    values: [quoteTable(spec.schema, spec.table), [...spec.key]],
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
