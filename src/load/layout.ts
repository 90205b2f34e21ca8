/** What a worker needs to turn a chunk of source records into staging rows. Plain data: it crosses threads. */
import type { ColumnSpec, DeleteRule } from '../table/spec.js';

interface CommonLayout {
  columns: readonly ColumnSpec[];
  /** Names of the key columns. */
  keys: readonly string[];
  /** Rows matching it delete their key instead of upserting it. */
  deleteWhen?: DeleteRule;
}

export interface CsvLayout extends CommonLayout {
  format: 'csv';
  delimiter: string;
  quote: string;
  /** Fields every record must have (the header's width, or the column count without a header). */
  fieldCount: number;
  /** For each target column, the index of the field that feeds it. */
  fieldIndexes: number[];
  /** Index of the field the delete rule reads. */
  deleteFieldIndex?: number;
}

export interface JsonLayout extends CommonLayout {
  format: 'json';
  /** For each target column, the object key that feeds it. */
  fieldNames: string[];
}

/** Rows of a source database: each record a JSON array of text values (or null), one per column, then the delete field. */
export interface RowsLayout extends CommonLayout {
  format: 'rows';
}

export type ChunkLayout = CsvLayout | JsonLayout | RowsLayout;

export interface Reject {
  /** The record's line (a Parquet file: its row number), in `file` when the load reads many files. */
  line: number;
  file?: string;
  raw: string;
  reason: string;
}

export interface ParsedChunk {
  /** The valid rows as COPY text-format bytes. */
  copy: Buffer;
  /** Valid rows in `copy`. */
  rows: number;
  /** Non-blank records seen (valid + rejected). */
  records: number;
  rejects: Reject[];
}

/** Where each record of a chunk starts (line) and lies (bytes), as found by the splitter. */
export interface RecordIndex {
  lines: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
}
