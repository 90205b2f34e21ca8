import { parse } from 'csv-parse/sync';
import { ConfigError } from '../errors.js';
import type { CsvLayout } from '../load/layout.js';
import type { TargetSpec } from '../table/spec.js';

export interface HeaderMatch {
  layout: CsvLayout;
  /** Header fields that feed no column (named once in a warning). */
  extra: string[];
}

const normal = (name: string) => name.trim().toLowerCase();

/** Parses the header record with the same rules the workers use for data records. */
export function parseHeaderRecord(data: Buffer, delimiter: string, quote: string): string[] | undefined {
  const records = parse(data, {
    delimiter,
    quote,
    escape: quote,
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n', '\r'],
  });
  return records[0];
}

/** Columns matched by name (trimmed, case-insensitive, any order). A missing one stops the run. */
export function matchHeader(
  fields: readonly string[],
  spec: TargetSpec,
  where: { file: string; line: number; delimiter: string; quote: string },
): HeaderMatch {
  const columns = spec.columns;
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
    if (otherDelimiter)
      hints.push(
        `the header looks ${JSON.stringify(otherDelimiter)}-separated: try --delimiter ${JSON.stringify(otherDelimiter)}`,
      );
    if (fields.some((f) => f.includes('@')))
      hints.push(
        'the first line looks like data, not a header: try --no-header (fields by position: ' +
          columns.map((c) => c.source).join(',') +
          ')',
      );
    throw new ConfigError(
      `${where.file}, line ${where.line}: the header has no ${missing.map((c) => JSON.stringify(c.source)).join(', ')} column` +
        ` (found ${found || 'nothing'}; need ${columns.map((c) => c.source).join(', ')})` +
        (hints.length > 0 ? `; ${hints.join('; ')}` : ''),
    );
  }
  const marker = spec.deleteWhen?.field;
  if (marker !== undefined && !positions.has(normal(marker))) {
    throw new ConfigError(
      `${where.file}, line ${where.line}: the header has no ${JSON.stringify(marker)} column, which delete_when reads (found ${fields.map((f) => JSON.stringify(f)).join(', ')})`,
    );
  }
  refuseRepeatedNames(fields, [...columns.map((c) => c.source), ...(marker === undefined ? [] : [marker])], where);
  const used = new Set(columns.map((c) => positions.get(normal(c.source))!));
  if (marker !== undefined) used.add(positions.get(normal(marker))!);
  return {
    layout: {
      format: 'csv',
      delimiter: where.delimiter,
      quote: where.quote,
      fieldCount: fields.length,
      fieldIndexes: columns.map((c) => positions.get(normal(c.source))!),
      deleteFieldIndex: marker === undefined ? undefined : positions.get(normal(marker)),
      columns,
      keys: spec.key,
      deleteWhen: spec.deleteWhen,
    },
    extra: fields.filter((_, i) => !used.has(i)),
  };
}

/** A name the target reads that the header repeats is ambiguous: which field would feed it? */
function refuseRepeatedNames(
  fields: readonly string[],
  read: readonly string[],
  where: { file: string; line: number },
) {
  for (const name of new Set(read.map(normal))) {
    const at = fields.flatMap((f, i) => (normal(f) === name ? [i + 1] : []));
    if (at.length > 1) {
      throw new ConfigError(
        `${where.file}, line ${where.line}: the header names ${JSON.stringify(fields[at[0] - 1])} ${at.length} times (fields ${at.join(', ')}), ` +
          'so which field feeds that column is ambiguous; rename or remove the repeats',
      );
    }
  }
}

/**
 * Headerless files carry the columns by position, as the ancestor's did; a delete marker field,
 * when configured, comes after them.
 */
export function positionalLayout(spec: TargetSpec, delimiter: string, quote: string): CsvLayout {
  const n = spec.columns.length;
  return {
    format: 'csv',
    delimiter,
    quote,
    fieldCount: n + (spec.deleteWhen ? 1 : 0),
    fieldIndexes: spec.columns.map((_, i) => i),
    deleteFieldIndex: spec.deleteWhen ? n : undefined,
    columns: spec.columns,
    keys: spec.key,
    deleteWhen: spec.deleteWhen,
  };
}
