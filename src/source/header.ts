import { parse } from 'csv-parse/sync';
import type { ColumnSpec } from '../target/spec.js';
import { ConfigError } from '../errors.js';
import type { ChunkLayout } from '../load/parse-chunk.js';

export interface HeaderMatch {
  layout: ChunkLayout;
  /** Header fields that feed no column (named once in a warning). */
  extra: string[];
}

const normal = (name: string) => name.trim().toLowerCase();

/** Parses the header record with the same rules the workers use for data records. */
export function parseHeaderRecord(data: Buffer, delimiter: string, quote: string): string[] | undefined {
  const records = parse(data, { delimiter, quote, escape: quote, bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }) as string[][];
  return records[0];
}

/** Columns matched by name (trimmed, case-insensitive, any order). A missing one stops the run. */
export function matchHeader(
  fields: readonly string[],
  columns: readonly ColumnSpec[],
  where: { file: string; line: number; delimiter: string; quote: string },
): HeaderMatch {
  const positions = new Map<string, number>();
  fields.forEach((f, i) => {
    if (!positions.has(normal(f))) positions.set(normal(f), i);
  });
  const missing = columns.filter((c) => !positions.has(normal(c.source)));
  if (missing.length > 0) {
    const found = fields.map((f) => JSON.stringify(f)).join(', ');
    const hints: string[] = [];
    const joined = fields.join(where.delimiter);
    const otherDelimiter = [';', '\t', '|', ','].find((d) => d !== where.delimiter && joined.includes(d));
    if (otherDelimiter) hints.push(`the header looks ${JSON.stringify(otherDelimiter)}-separated: try --delimiter ${JSON.stringify(otherDelimiter)}`);
    if (fields.some((f) => f.includes('@'))) hints.push('the first line looks like data, not a header: try --no-header (fields by position: ' + columns.map((c) => c.source).join(',') + ')');
    throw new ConfigError(
      `${where.file}, line ${where.line}: the header has no ${missing.map((c) => JSON.stringify(c.source)).join(', ')} column` +
        ` (found ${found || 'nothing'}; need ${columns.map((c) => c.source).join(', ')})` +
        (hints.length > 0 ? `; ${hints.join('; ')}` : ''),
    );
  }
  const used = new Set(columns.map((c) => positions.get(normal(c.source))!));
  return {
    layout: {
      delimiter: where.delimiter,
      quote: where.quote,
      fieldCount: fields.length,
      fieldIndexes: columns.map((c) => positions.get(normal(c.source))!),
      columns,
    },
    extra: fields.filter((_, i) => !used.has(i)),
  };
}

/** Headerless files carry the columns by position, as the ancestor's did. */
export function positionalLayout(columns: readonly ColumnSpec[], delimiter: string, quote: string): ChunkLayout {
  return { delimiter, quote, fieldCount: columns.length, fieldIndexes: columns.map((_, i) => i), columns };
}
