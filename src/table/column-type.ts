/**
 * A column type as users write it in config (int, numeric(10,2), character varying(20), ...),
 * parsed into one canonical form used for DDL, comparisons with existing tables, and conversion.
 */

export type BaseType =
  | 'smallint'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'real'
  | 'double precision'
  | 'boolean'
  | 'date'
  | 'timestamptz'
  | 'timestamp'
  | 'text'
  | 'varchar'
  | 'char'
  | 'uuid'
  | 'json'
  | 'jsonb';

export interface ColumnType {
  base: BaseType;
  /** varchar(n) and char(n); absent for unbounded varchar. */
  length?: number;
  /** numeric(p,s); both absent for unconstrained numeric. */
  precision?: number;
  scale?: number;
  /** Canonical SQL for DDL and comparisons: 'integer', 'numeric(10,2)', 'varchar(20)', 'timestamptz'. */
  sql: string;
}

const SUPPORTED =
  'smallint (int2), integer (int, int4), bigint (int8), numeric or decimal [(precision[, scale])], ' +
  'real (float4), double precision (float8), boolean (bool), date, timestamptz (timestamp with time zone), ' +
  'timestamp (timestamp without time zone), text, varchar[(n)] (character varying), char[(n)] (character), ' +
  'uuid, json, jsonb';

const NAMES = new Map<string, BaseType>([
  ['smallint', 'smallint'],
  ['int2', 'smallint'],
  ['integer', 'integer'],
  ['int', 'integer'],
  ['int4', 'integer'],
  ['bigint', 'bigint'],
  ['int8', 'bigint'],
  ['numeric', 'numeric'],
  ['decimal', 'numeric'],
  ['real', 'real'],
  ['float4', 'real'],
  ['double precision', 'double precision'],
  ['float8', 'double precision'],
  ['boolean', 'boolean'],
  ['bool', 'boolean'],
  ['date', 'date'],
  ['timestamptz', 'timestamptz'],
  ['timestamp with time zone', 'timestamptz'],
  ['timestamp', 'timestamp'],
  ['timestamp without time zone', 'timestamp'],
  ['text', 'text'],
  ['varchar', 'varchar'],
  ['character varying', 'varchar'],
  ['char', 'char'],
  ['character', 'char'],
  ['uuid', 'uuid'],
  ['json', 'json'],
  ['jsonb', 'jsonb'],
]);

const TYPE_SYNTAX = /^([a-z][a-z0-9 ]*?)(?:\((\d+)(?:,(\d+))?\))?$/;
const MAX_NUMERIC_PRECISION = 1000;
const MAX_CHAR_LENGTH = 10_485_760;

function typeError(text: string, problem: string): Error {
  return new Error(`column type ${JSON.stringify(text)} ${problem}; supported types: ${SUPPORTED}`);
}

/** Parses a type as written in config (case-insensitive, extra spaces allowed); throws on anything else. */
export function parseColumnType(text: string): ColumnType {
  if (typeof text !== 'string') throw typeError(String(text), 'is not a type name');
  const written = text
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/ ?([(),]) ?/g, '$1');
  const match = TYPE_SYNTAX.exec(written);
  const base = match ? NAMES.get(match[1]) : undefined;
  if (!match || base === undefined) throw typeError(text, 'is not supported');
  const params = [match[2], match[3]].filter((p) => p !== undefined).map(Number);
  switch (base) {
    case 'numeric': {
      if (params.length === 0) return { base, sql: 'numeric' };
      const [precision = 0, scale = 0] = params;
      if (precision < 1 || precision > MAX_NUMERIC_PRECISION)
        throw typeError(text, `needs a precision between 1 and ${MAX_NUMERIC_PRECISION}`);
      if (scale > precision) throw typeError(text, `needs a scale between 0 and its precision (${precision})`);
      return { base, precision, scale, sql: `numeric(${precision},${scale})` };
    }
    case 'varchar':
    case 'char': {
      if (params.length > 1) throw typeError(text, 'takes a single length');
      // As in PostgreSQL: varchar without a length is unbounded, char without a length is char(1).
      if (params.length === 0)
        return base === 'varchar' ? { base, sql: 'varchar' } : { base, length: 1, sql: 'char(1)' };
      const length = params[0];
      if (length < 1 || length > MAX_CHAR_LENGTH)
        throw typeError(text, `needs a length between 1 and ${MAX_CHAR_LENGTH}`);
      return { base, length, sql: `${base}(${length})` };
    }
    default:
      if (params.length > 0) throw typeError(text, 'takes no length or precision');
      return { base, sql: base };
  }
}
