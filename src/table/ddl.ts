/**
 * DDL for configured targets, as pure statement builders. The target table is created from the
 * config when missing; its staging parent is derived from it (text columns, one list partition per
 * load), so staging never has to be written by hand.
 */
import { quoteIdent, quoteLiteral, quoteTable } from '../db/quote.js';
import { DELETE_FLAG, LINE_COLUMN, LOAD_ID_COLUMN, stagedName } from '../load/staging-columns.js';
import type { ColumnSpec, TargetSpec } from './spec.js';

/** Marks staging parents etl created, so etl never drops a table it does not own. */
export const STAGING_COMMENT = 'etl staging table (one partition per load; safe to drop when no sync runs)';

export function columnNullable(spec: TargetSpec, column: ColumnSpec): boolean {
  if (spec.key.includes(column.name)) return false;
  return column.rule.kind === 'typed' ? column.rule.nullable : false;
}

export function createTargetTable(spec: TargetSpec): string {
  const defs = spec.columns.map(
    (c) => `${quoteIdent(c.name)} ${c.sqlType}${columnNullable(spec, c) ? '' : ' NOT NULL'}`,
  );
  if (spec.modifiedColumn) defs.push(`${quoteIdent(spec.modifiedColumn)} timestamptz NOT NULL DEFAULT now()`);
  // An append target keeps every row, so its key (if any) cannot be unique.
  if (spec.mode !== 'append' && spec.key.length > 0) defs.push(`PRIMARY KEY (${spec.key.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(spec.schema, spec.table)} (\n  ${defs.join(',\n  ')}\n)`;
}

interface StagingColumn {
  name: string;
  type: string;
  /** The user column it stages; etl's own columns have none. */
  stages?: string;
}

/**
 * The staging parent's columns, in the order COPY writes them: the user columns by position, then
 * etl's own. No user name appears in staging, so no user name can collide with etl's.
 */
export function stagingColumns(spec: TargetSpec): StagingColumn[] {
  const cols: StagingColumn[] = spec.columns.map((c, i) => ({ name: stagedName(i), type: 'text', stages: c.name }));
  cols.push({ name: LINE_COLUMN, type: 'bigint' }, { name: LOAD_ID_COLUMN, type: 'uuid' });
  if (spec.deleteWhen) cols.push({ name: DELETE_FLAG, type: 'boolean' });
  return cols;
}

/** The layout of staging tables made before user columns were staged by position (migration 1 made one). */
export function namedStagingColumns(spec: TargetSpec): StagingColumn[] {
  const cols = spec.columns.map((c) => ({ name: c.name, type: 'text' }));
  cols.push({ name: LINE_COLUMN, type: 'bigint' }, { name: LOAD_ID_COLUMN, type: 'uuid' });
  if (spec.deleteWhen) cols.push({ name: DELETE_FLAG, type: 'boolean' });
  return cols;
}

export function createStagingTable(spec: TargetSpec): string[] {
  const columns = stagingColumns(spec);
  const defs = columns.map((c) => {
    const own = c.stages === undefined;
    return `${quoteIdent(c.name)} ${c.type}${own ? ' NOT NULL' : ''}${c.name === DELETE_FLAG ? ' DEFAULT false' : ''}`;
  });
  const table = quoteTable(spec.stagingSchema, spec.stagingTable);
  // Column comments say which user column each positional one stages, for whoever reads staging by hand.
  const comments = columns.flatMap((c) =>
    c.stages === undefined
      ? []
      : [`COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${quoteLiteral(`stages ${c.stages}`)}`],
  );
  return [
    `CREATE TABLE ${table} (\n  ${defs.join(',\n  ')}\n) PARTITION BY LIST (${quoteIdent(LOAD_ID_COLUMN)})`,
    `COMMENT ON TABLE ${table} IS ${quoteLiteral(STAGING_COMMENT)}`,
    ...comments,
  ];
}
