/**
 * The merge of a load into a table that already has rows, computed as a difference first.
 *
 * One hash join of target and staging (a full join for a mirror, which also finds the keys the file
 * no longer has; a left join from staging for an upsert) writes only the rows that must change into
 * a temporary table: new keys, changed rows, keys gone from a mirror's file, keys with a delete
 * marker. The delete, update and insert that follow touch just those rows. Unchanged rows are read
 * once and never written, so a file synced again writes nothing.
 *
 * Measured on 1M followers rows with a next-day file (10% changed, 5% gone, 5% new): about 3.5 s
 * against 8-9 s for a delete of absent keys plus a MERGE (PostgreSQL 15), and against 9 s for one
 * MERGE with WHEN NOT MATCHED BY SOURCE (PostgreSQL 18). Each of those statements joins the whole
 * target, and MERGE probes the target in file order, so its updates land on random pages.
 *
 * The temporary table's columns are named by etl (etl_op, c1..cN by the spec's column positions),
 * never after user columns, and it is addressed as pg_temp.etl_diff so no user table can shadow it.
 */
import { quoteIdent, quoteTable } from '../db/quote.js';
import type { Statement } from '../db/statement.js';
import { DELETE_FLAG, LINE_COLUMN, stagedName } from '../load/staging-columns.js';
import { keyColumns, valueColumns, type ColumnSpec, type TargetSpec } from '../table/spec.js';
import { keyMatch, partitionTable, staged } from './sql.js';

const DIFF = 'pg_temp.etl_diff';
const OP = 'etl_op';

/** What the merge does with a row of the difference. */
const DELETE = `'D'`;
const INSERT = `'I'`;
const UPDATE = `'U'`;

/** The difference's column for a spec column (its staging name, so no user name can collide with etl_op). */
function diffColumn(spec: TargetSpec, col: ColumnSpec): string {
  return quoteIdent(stagedName(spec.columns.indexOf(col)));
}

/** The target's key equals the difference row's key. */
function diffKeyMatch(spec: TargetSpec): string {
  return keyColumns(spec)
    .map((c) => `t.${quoteIdent(c.name)} = d.${diffColumn(spec, c)}`)
    .join(' AND ');
}

/**
 * Creates the difference of the (distinct-keyed) load and the target. Keys are taken from the target
 * for rows that go and from staging for rows that come (equal where both exist); other columns are
 * the staged values, already cast to the target's types.
 */
export function createDiff(spec: TargetSpec, loadId: string): Statement {
  const line = `s.${quoteIdent(LINE_COLUMN)}`;
  const marker = spec.deleteWhen ? `s.${quoteIdent(DELETE_FLAG)}` : undefined;
  const mirror = spec.mode === 'mirror';
  const columns = spec.columns.map((c) => {
    const value = spec.key.includes(c.name) ? `coalesce(t.${quoteIdent(c.name)}, ${staged(spec, c)})` : staged(spec, c);
    return `${value} AS ${diffColumn(spec, c)}`;
  });
  const gone = [...(mirror ? [`${line} IS NULL`] : []), ...(marker ? [marker] : [])];
  const op = `CASE ${gone.length > 0 ? `WHEN ${gone.join(' OR ')} THEN ${DELETE} ` : ''}WHEN t.ctid IS NULL THEN ${INSERT} ELSE ${UPDATE} END`;

  const values = valueColumns(spec);
  const changed = [
    ...(marker ? [marker] : []),
    ...(values.length > 0
      ? [
          `ROW(${values.map((c) => `t.${quoteIdent(c.name)}`).join(', ')}) IS DISTINCT FROM ROW(${values.map((c) => staged(spec, c)).join(', ')})`,
        ]
      : []),
  ];
  const wanted = [
    ...(mirror ? [`${line} IS NULL`] : []),
    `(t.ctid IS NULL${marker ? ` AND NOT ${marker}` : ''})`,
    ...(changed.length > 0 ? [`(t.ctid IS NOT NULL AND ${line} IS NOT NULL AND (${changed.join(' OR ')}))`] : []),
  ];
  const target = quoteTable(spec.schema, spec.table);
  const part = partitionTable(spec, loadId);
  const join = mirror ? `${target} AS t FULL JOIN ${part} AS s` : `${part} AS s LEFT JOIN ${target} AS t`;
  return {
    text: `CREATE TEMPORARY TABLE etl_diff ON COMMIT DROP AS
           SELECT ${op} AS ${OP}, ${columns.join(', ')}
             FROM ${join} ON ${keyMatch(spec)}
            WHERE ${wanted.join('\n               OR ')}`,
    values: [],
  };
}

/** Statistics for the difference: without them the planner guesses its size and picks slow joins. */
export function analyzeDiff(): Statement {
  return { text: `ANALYZE ${DIFF}`, values: [] };
}

/**
 * How many rows of each kind the difference holds. `gone_null_key` counts target rows with a null
 * in a key column (they can only be gone from a mirror: a null never equals a staged key).
 */
export function countDiff(spec: TargetSpec): Statement {
  const nullKey = keyColumns(spec)
    .map((c) => `${diffColumn(spec, c)} IS NULL`)
    .join(' OR ');
  return {
    text: `SELECT count(*) FILTER (WHERE ${OP} = ${DELETE})::bigint AS deleted,
                  count(*) FILTER (WHERE ${OP} = ${DELETE} AND (${nullKey}))::bigint AS gone_null_key,
                  count(*) FILTER (WHERE ${OP} = ${UPDATE})::bigint AS updated,
                  count(*) FILTER (WHERE ${OP} = ${INSERT})::bigint AS inserted
             FROM ${DIFF}`,
    values: [],
  };
}

export function deleteDiff(spec: TargetSpec): Statement {
  return {
    text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t
            USING ${DIFF} AS d
            WHERE d.${OP} = ${DELETE} AND ${diffKeyMatch(spec)}`,
    values: [],
  };
}

/** A mirror's rows whose key has a null (never matched by any staged key, so all of them are gone). */
export function deleteNullKeys(spec: TargetSpec): Statement {
  const nullKey = keyColumns(spec)
    .map((c) => `t.${quoteIdent(c.name)} IS NULL`)
    .join(' OR ');
  return { text: `DELETE FROM ${quoteTable(spec.schema, spec.table)} AS t WHERE ${nullKey}`, values: [] };
}

/** Rewrites the changed rows (the difference only holds rows whose values differ), stamping the modified column. */
export function updateDiff(spec: TargetSpec): Statement | undefined {
  const values = valueColumns(spec);
  if (values.length === 0) return undefined;
  const sets = values.map((c) => `${quoteIdent(c.name)} = d.${diffColumn(spec, c)}`);
  if (spec.modifiedColumn) sets.push(`${quoteIdent(spec.modifiedColumn)} = now()`);
  return {
    text: `UPDATE ${quoteTable(spec.schema, spec.table)} AS t SET ${sets.join(', ')}
             FROM ${DIFF} AS d
            WHERE d.${OP} = ${UPDATE} AND ${diffKeyMatch(spec)}`,
    values: [],
  };
}

/**
 * Inserts the new keys in key order (the key's index then grows mostly at its right edge).
 * `bytewiseKeys` as for insertAll: those key columns sort under "C", the same order, compared faster.
 */
export function insertDiff(spec: TargetSpec, bytewiseKeys: ReadonlySet<string> = new Set()): Statement {
  const cols = spec.columns.map((c) => quoteIdent(c.name));
  const vals = spec.columns.map((c) => `d.${diffColumn(spec, c)}`);
  if (spec.modifiedColumn) {
    cols.push(quoteIdent(spec.modifiedColumn));
    vals.push('now()');
  }
  const order = keyColumns(spec)
    .map((c) => `d.${diffColumn(spec, c)}${bytewiseKeys.has(c.name) ? ' COLLATE "C"' : ''}`)
    .join(', ');
  return {
    text: `INSERT INTO ${quoteTable(spec.schema, spec.table)} (${cols.join(', ')})
           SELECT ${vals.join(', ')} FROM ${DIFF} AS d WHERE d.${OP} = ${INSERT} ORDER BY ${order}`,
    values: [],
  };
}

/** Several loads can merge in one transaction (an incremental sync's targets): each drops its difference. */
export function dropDiff(): Statement {
  return { text: `DROP TABLE ${DIFF}`, values: [] };
}
