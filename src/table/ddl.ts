/**
 * DDL for configured targets, as pure statement builders. The target table is created from the
 * config when missing; its staging parent is derived from it (text columns, one list partition per
 * load), so staging never has to be written by hand.
 */
import { quoteIdent, quoteLiteral, quoteTable } from '../db/quote.js';
import { DELETE_FLAG } from '../merge/sql.js';
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

/** The staging parent's columns, in the order COPY writes them. */
export function stagingColumns(spec: TargetSpec): { name: string; type: string }[] {
  const cols = spec.columns.map((c) => ({ name: c.name, type: 'text' }));
  cols.push({ name: 'line', type: 'bigint' }, { name: 'load_id', type: 'uuid' });
  if (spec.deleteWhen) cols.push({ name: DELETE_FLAG, type: 'boolean' });
  return cols;
}

export function createStagingTable(spec: TargetSpec): string[] {
  const defs = stagingColumns(spec).map((c) => {
    const notNull = c.name === 'line' || c.name === 'load_id' || c.name === DELETE_FLAG ? ' NOT NULL' : '';
    return `${quoteIdent(c.name)} ${c.type}${notNull}${c.name === DELETE_FLAG ? ' DEFAULT false' : ''}`;
  });
  const table = quoteTable(spec.stagingSchema, spec.stagingTable);
  return [
    `CREATE TABLE ${table} (\n  ${defs.join(',\n  ')}\n) PARTITION BY LIST (load_id)`,
    `COMMENT ON TABLE ${table} IS ${quoteLiteral(STAGING_COMMENT)}`,
  ];
}
