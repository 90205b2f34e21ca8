/**
 * The staging table's columns. User columns are staged by position (c1, c2, ... in the order of the
 * spec's columns), never under their own names, so etl's own columns (line, load_id, etl_delete)
 * cannot collide with a user column, whatever the user calls it.
 */
import type { ColumnSpec, TargetSpec } from '../table/spec.js';

/** The source line a staged row came from (the duplicate-key rule keeps the highest). */
export const LINE_COLUMN = 'line';
/** The load a staged row belongs to: the partition key. */
export const LOAD_ID_COLUMN = 'load_id';
/** Marks a row as a delete of its key (targets with delete_when only). */
export const DELETE_FLAG = 'etl_delete';

/** The staging name of the spec's column at `index` (0-based). */
export function stagedName(index: number): string {
  return `c${index + 1}`;
}

/** The staging name of a user column of the spec. */
export function stagedNameOf(spec: TargetSpec, column: ColumnSpec): string {
  const index = spec.columns.findIndex((c) => c.name === column.name);
  if (index < 0) throw new Error(`column ${column.name} is not among the columns of ${spec.name}`);
  return stagedName(index);
}
