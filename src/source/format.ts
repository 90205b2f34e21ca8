import type { SourceFormat } from './record-source.js';

/** What a load reads: the text formats cut into records, or Parquet read a row group at a time. */
export type LoadFormat = SourceFormat | 'parquet';

/** The format asked for, or the one the name says (after dropping .gz); CSV when nothing says. */
export function formatOf(requested: LoadFormat | undefined, name: string): LoadFormat {
  if (requested) return requested;
  const base = name
    .replace(/[?#].*$/u, '')
    .toLowerCase()
    .replace(/\.gz$/u, '');
  if (base.endsWith('.ndjson') || base.endsWith('.jsonl')) return 'ndjson';
  if (base.endsWith('.json')) return 'json';
  if (base.endsWith('.parquet') || base.endsWith('.parq')) return 'parquet';
  return 'csv';
}
