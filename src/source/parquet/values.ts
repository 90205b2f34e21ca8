/**
 * Parquet values as JSON values the JSON record path validates like any other source, without ever
 * passing through a double where digits matter: 64-bit integers and decimals become strings of
 * their exact digits, timestamps keep every fractional digit the file has (with `Z` when the file
 * says the instant is UTC-adjusted, without a zone when it is local), dates are `YYYY-MM-DD`,
 * binary is PostgreSQL's `\x` hex form, and lists/structs/maps stay JSON for json/jsonb columns.
 */
import type { ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet';

/** How the reader turns annotated physical values: exact text instead of its default Date objects. */
export const EXACT_PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (value: bigint) => utcTimestamp(value, 3),
  timestampFromMicroseconds: (value: bigint) => utcTimestamp(value, 6),
  timestampFromNanoseconds: (value: bigint) => utcTimestamp(value, 9),
  dateFromDays: (days: number) => isoDate(BigInt(days)),
};

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

const pad = (n: bigint, width: number) => n.toString().padStart(width, '0');

/**
 * Days since 1970-01-01 as a proleptic Gregorian `YYYY-MM-DD`, in integers so that no value is out
 * of range (a JavaScript Date ends at year 275760): years outside 0000-9999 are written in ISO 8601's
 * expanded form (`+294247-01-10`, DuckDB's `infinity`), which the date and timestamp columns then
 * refuse like any other value they cannot hold, row by row.
 */
function isoDate(days: bigint): string {
  // Howard Hinnant's civil_from_days.
  const z = days + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  const yyyy =
    year >= 0n && year <= 9999n ? pad(year, 4) : `${year < 0n ? '-' : '+'}${pad(year < 0n ? -year : year, 6)}`;
  return `${yyyy}-${pad(month, 2)}-${pad(day, 2)}`;
}

/** `units` since the epoch in UTC, at a precision of `digits` fractional digits, as `YYYY-MM-DDTHH:MM:SS.fffZ`. */
function utcTimestamp(units: bigint, digits: number): string {
  const per = 10n ** BigInt(digits);
  const seconds = floorDiv(units, per);
  const fraction = units - seconds * per;
  const days = floorDiv(seconds, 86_400n);
  const second = seconds - days * 86_400n;
  const time = `${pad(second / 3600n, 2)}:${pad((second / 60n) % 60n, 2)}:${pad(second % 60n, 2)}`;
  return `${isoDate(days)}T${time}.${pad(fraction, digits)}Z`;
}

/** A two's-complement big-endian integer (the byte form of a Parquet decimal). */
function signedBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if (bytes.length > 0 && (bytes[0] & 0x80) !== 0) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/** The exact decimal text of `unscaled` x 10^-scale. */
export function decimalText(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

function hex(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/** Nested values as JSON: integers beyond 2^53 as strings (no digit lost), binary as hex, non-finite floats as strings. */
export function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value instanceof Uint8Array) return hex(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<unknown>, jsonValue);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonValue(v);
    return out;
  }
  return value;
}

export type ValueEncoder = (value: unknown) => unknown;

const DAY_UNITS = { MILLIS: 3, MICROS: 6, NANOS: 9 } as const;

/** A TIME value (units since midnight) as HH:MM:SS.fff. */
function timeText(units: bigint, digits: number): string {
  const per = 10n ** BigInt(digits);
  const seconds = floorDiv(units, per);
  const fraction = units - seconds * per;
  const hh = String(seconds / 3600n).padStart(2, '0');
  const mm = String((seconds / 60n) % 60n).padStart(2, '0');
  const ss = String(seconds % 60n).padStart(2, '0');
  return `${hh}:${mm}:${ss}.${fraction.toString().padStart(digits, '0')}`;
}

/** Whether the reader must hand over this column's raw physical values (it would turn them into doubles). */
export function isDecimal(element: SchemaElement): boolean {
  return element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL';
}

/** Local timestamps and TIME values as text, or undefined when the element is neither; anything unexpected goes to `plain`. */
function timeEncoder(element: SchemaElement, plain: ValueEncoder): ValueEncoder | undefined {
  const logical = element.logical_type;
  if (logical?.type === 'TIMESTAMP' && !logical.isAdjustedToUTC) {
    // A local date-time: no zone, so a timestamp column takes it and a timestamptz column reads it as UTC.
    return (value) => (typeof value === 'string' ? value.replace(/Z$/u, '') : plain(value));
  }
  const time =
    logical?.type === 'TIME'
      ? DAY_UNITS[logical.unit]
      : element.converted_type === 'TIME_MILLIS'
        ? 3
        : element.converted_type === 'TIME_MICROS'
          ? 6
          : undefined;
  if (time === undefined) return undefined;
  return (value) =>
    typeof value === 'bigint' || typeof value === 'number' ? timeText(BigInt(value), time) : plain(value);
}

/**
 * The encoder for one top-level primitive column, from its schema element. Decimal columns arrive
 * raw (their annotation is hidden from the reader, see parquet-source.ts) and are scaled here exactly.
 */
export function encoderFor(element: SchemaElement): ValueEncoder {
  if (isDecimal(element)) {
    const scale = element.logical_type?.type === 'DECIMAL' ? element.logical_type.scale : (element.scale ?? 0);
    return (value) => {
      if (value === null || value === undefined) return null;
      const unscaled = value instanceof Uint8Array ? signedBigInt(value) : BigInt(value as number | bigint);
      return decimalText(unscaled, scale);
    };
  }
  return timeEncoder(element, scalar) ?? scalar;
}

const annotation = (element: SchemaElement) => element.converted_type ?? element.logical_type?.type;

/**
 * A nested column (list, map, struct) as JSON, walked along its schema so that local timestamps
 * and TIME values inside it are written as at the top level (the reader's parsers cannot tell a
 * local timestamp from a UTC one); a value of an unexpected shape is written as jsonValue would.
 */
function nestedEncoder(tree: SchemaTree): ValueEncoder {
  const { element, children } = tree;
  if (children.length === 0) {
    if (isDecimal(element)) return nestedDecimal(encoderFor(element));
    return timeEncoder(element, jsonValue) ?? jsonValue;
  }
  const kind = annotation(element);
  if (kind === 'LIST' && children.length === 1) {
    // Three levels (LIST > repeated group > element), or two (LIST > repeated element).
    const repeated = children[0];
    const each = nestedEncoder(repeated.children.length === 1 ? repeated.children[0] : repeated);
    return (value) => (Array.isArray(value) ? value.map(each) : jsonValue(value));
  }
  if ((kind === 'MAP' || kind === 'MAP_KEY_VALUE') && children.length === 1 && children[0].children.length === 2) {
    const entry = nestedEncoder(children[0].children[1]);
    return (value) =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, entry(v)]))
        : jsonValue(value);
  }
  const fields = new Map(children.map((child) => [child.element.name, nestedEncoder(child)]));
  return (value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value))
      return jsonValue(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = (fields.get(k) ?? jsonValue)(v);
    return out;
  };
}

/**
 * A decimal inside JSON: a number when a double holds it exactly (1.50 becomes 1.5, the same
 * value), otherwise its exact digits as a JSON string, as for integers beyond 2^53.
 */
function nestedDecimal(exact: ValueEncoder): ValueEncoder {
  return (value) => {
    const text = exact(value);
    if (typeof text !== 'string') return text;
    const number = Number(text);
    return Number.isFinite(number) && canonicalDecimal(String(number)) === canonicalDecimal(text) ? number : text;
  };
}

/** A plain decimal's digits without a sign on zero, leading zeros or trailing fraction zeros. */
function canonicalDecimal(text: string): string {
  if (/e/iu.test(text)) return text;
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const w = whole.replace(/^0+(?=\d)/u, '');
  const f = fraction.replace(/0+$/u, '');
  const digits = f === '' ? w : `${w}.${f}`;
  return negative && digits !== '0' ? `-${digits}` : digits;
}

/** The encoder for one top-level column of the file. */
export function columnEncoder(tree: SchemaTree): ValueEncoder {
  return tree.children.length === 0 ? encoderFor(tree.element) : nestedEncoder(tree);
}

/** A leaf value: exact integers as strings, floats as numbers (non-finite ones as the text PostgreSQL reads). */
function scalar(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'string':
    case 'boolean':
      return value;
    default:
      return value instanceof Uint8Array ? hex(value) : jsonValue(value);
  }
}
