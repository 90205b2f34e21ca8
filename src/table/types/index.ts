/**
 * Typed target columns: a column type as users write it in config, and the conversion of one source
 * value (CSV text or a JSON value) into the text PostgreSQL's COPY accepts for that type, or a
 * refusal naming the column. A value that would fail COPY must be refused here, so one bad field is
 * a bad row, never a failed batch.
 *
 * Where PostgreSQL is lenient in ways that make a file's meaning depend on the server version or the
 * session (zone-less timestamps, 'today', PG 16's '1_000' and '0x1F', numeric Infinity), the
 * converters are deliberately stricter; test/integration/types-pg.test.ts lists each such case.
 *
 * Runs per field per row in worker threads: everything type-specific (limits, messages, shared
 * results) is decided once in typedNormalizer, and the regular expressions are module constants.
 */
import type { ColumnType } from '../column-type.js';
import { booleanConverter } from './booleans.js';
import { jsonConverter } from './json.js';
import { floatConverter, integerConverter, numericConverter } from './numbers.js';
import { Refusals } from './refusals.js';
import type { Normalizer } from './result.js';
import { textConverter } from './text.js';
import { dateConverter, timestampConverter } from './time.js';
import { uuidConverter } from './uuid.js';

export type { SourceValue } from '../source-value.js';
export { parseColumnType, type ColumnType } from '../column-type.js';

export interface TypedOptions {
  nullable: boolean;
  /**
   * What a string value is. 'csv' (the default): a field's text, so json/jsonb columns expect JSON
   * text and pass it through. 'json': a JSON string value, so json/jsonb columns store it as a JSON
   * string ("abc" becomes "\"abc\""). Only json/jsonb columns read strings differently.
   */
  source?: 'csv' | 'json';
}

/** Validates and converts one value to the text PostgreSQL's COPY accepts for the type (null = SQL NULL). */
export function typedNormalizer(column: string, type: ColumnType, options: TypedOptions): Normalizer {
  const r = new Refusals(column, type.sql, options.nullable);
  switch (type.base) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      return integerConverter(r, type.base);
    case 'numeric':
      return numericConverter(r, type.precision, type.scale ?? 0);
    case 'real':
      return floatConverter(r, true);
    case 'double precision':
      return floatConverter(r, false);
    case 'boolean':
      return booleanConverter(r);
    case 'date':
      return dateConverter(r);
    case 'timestamptz':
      return timestampConverter(r, true);
    case 'timestamp':
      return timestampConverter(r, false);
    case 'text':
      return textConverter(r, undefined);
    case 'varchar':
    case 'char':
      return textConverter(r, type.length);
    case 'uuid':
      return uuidConverter(r);
    case 'json':
    case 'jsonb':
      return jsonConverter(r, type.base === 'jsonb', options.source === 'json');
  }
}
