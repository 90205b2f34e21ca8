/**
 * What a sync writes to: a table, its key, and its columns with the rule that turns a source field
 * into the stored value. The followers table is one instance; nothing downstream is
 * followers-specific. Specs are plain data so they can be sent to worker threads.
 */

/** How one field is validated and normalised; see table/rules.ts. */
export type ColumnRule =
  | { kind: 'email' }
  | { kind: 'text'; maxLength?: number; trim: boolean; allowEmpty: boolean }
  /** A PostgreSQL type from a config file, parsed by table/column-type.ts and converted by table/types/. */
  | { kind: 'typed'; type: string; nullable: boolean };

/** Rows whose `field` compares true delete their key instead of upserting it (e.g. op = 'D'). */
export interface DeleteRule {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** mirror: upsert and delete absent keys; upsert: never delete absent keys; append: insert every row. */
export type SyncMode = 'mirror' | 'upsert' | 'append';

export interface ColumnSpec {
  /** Column name in the target (and staging) table. */
  name: string;
  /** PostgreSQL type of the target column, as written in DDL. */
  sqlType: string;
  /** Name of the source field (CSV header) that feeds it; matched trimmed and case-insensitively. */
  source: string;
  rule: ColumnRule;
}

export interface TargetSpec {
  /** Identifies the target in locks, history and table_status. */
  name: string;
  schema: string;
  table: string;
  stagingSchema: string;
  stagingTable: string;
  /** Names of the key columns (a subset of columns). */
  key: readonly string[];
  /** Columns in the order the source row, staging COPY and merge use them. */
  columns: readonly ColumnSpec[];
  /** Column set to the transaction time whenever a row is inserted or changed. */
  modifiedColumn?: string;
  mode: SyncMode;
  deleteWhen?: DeleteRule;
}

export function valueColumns(spec: TargetSpec): ColumnSpec[] {
  return spec.columns.filter((c) => !spec.key.includes(c.name));
}

export function keyColumns(spec: TargetSpec): ColumnSpec[] {
  return spec.key.map((k) => {
    const col = spec.columns.find((c) => c.name === k);
    if (!col) throw new Error(`key column ${k} is not among the columns of ${spec.name}`);
    return col;
  });
}
