/**
 * Typed target columns: a column type as users write it in config, and the conversion of one source
 * value (CSV text or a JSON value) into the text PostgreSQL's COPY accepts for that type, or a
 * refusal naming the column. A value that would fail COPY must be refused here, so one bad field is
 * a bad row, never a failed batch.
 *
 * Where PostgreSQL is lenient in ways that make a file's meaning depend on the server version or the
 * session (zone-less timestamps, 'today', PG 16's '1_000' and '0x1F', numeric Infinity), this module
 * is deliberately stricter; test/integration/types-pg.test.ts lists each such case.
 *
 * Runs per field per row in worker threads: everything type-specific (limits, messages, shared
 * results) is decided once in typedNormalizer, and the regular expressions are module constants.
 */
import { UUID_PATTERN } from '../db/uuid.js';
import type { ColumnType } from './column-type.js';
import { nestsDeeperThan } from './json-text.js';
import type { SourceValue } from './source-value.js';

export type { SourceValue } from './source-value.js';
export { parseColumnType, type ColumnType } from './column-type.js';

export type TypedResult = { ok: true; value: string | null } | { ok: false; reason: string };

export interface TypedOptions {
  nullable: boolean;
  /**
   * What a string value is. 'csv' (the default): a field's text, so json/jsonb columns expect JSON
   * text and pass it through. 'json': a JSON string value, so json/jsonb columns store it as a JSON
   * string ("abc" becomes "\"abc\""). Only json/jsonb columns read strings differently.
   */
  source?: 'csv' | 'json';
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

type Convert = (value: SourceValue) => TypedResult;
type Refusal = { ok: false; reason: string };

const NULL: TypedResult = Object.freeze({ ok: true, value: null });
const ok = (value: string): TypedResult => ({ ok: true, value });
const refuse = (reason: string): Refusal => Object.freeze({ ok: false, reason });

/** A value as it appears in a reason: strings quoted (and cut short), numbers as they are. */
function show(value: string | number): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(truncate(value));
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed;

/** Refusals every converter shares, built once per column. */
class Refusals {
  readonly missing: TypedResult;
  readonly empty: TypedResult;
  readonly nul: Refusal;
  readonly surrogate: Refusal;
  private readonly wrongKinds: Record<'number' | 'boolean' | 'array' | 'object', Refusal>;

  constructor(
    readonly column: string,
    readonly sql: string,
    nullable: boolean,
  ) {
    this.missing = nullable ? NULL : refuse(`${column} is missing`);
    this.empty = nullable ? NULL : refuse(`${column} is empty`);
    // Same wording as target/rules.ts.
    this.nul = refuse(`${column} contains a NUL byte`);
    this.surrogate = refuse(`${column} contains an unpaired surrogate (\\ud800-\\udfff), which is not valid text`);
    this.wrongKinds = {
      number: refuse(`${column} expects ${sql}, got a number`),
      boolean: refuse(`${column} expects ${sql}, got a boolean`),
      array: refuse(`${column} expects ${sql}, got an array`),
      object: refuse(`${column} expects ${sql}, got an object`),
    };
  }

  wrongKind(value: SourceValue): Refusal {
    if (typeof value === 'number') return this.wrongKinds.number;
    if (typeof value === 'boolean') return this.wrongKinds.boolean;
    return Array.isArray(value) ? this.wrongKinds.array : this.wrongKinds.object;
  }

  /** `price: "12,5" is not a number (numeric(10,2))` */
  invalid(value: string | number, what: string): Refusal {
    return { ok: false, reason: `${this.column}: ${show(value)} ${what}` };
  }

  outOfRange(value: string | number, note = ''): Refusal {
    return {
      ok: false,
      reason: `${this.column}: ${typeof value === 'number' ? value : truncate(value)} is out of range for ${this.sql}${note}`,
    };
  }
}

/**
 * Types whose text is trimmed and whose empty text is a missing value. `fromString` gets the trimmed,
 * non-empty text; JSON numbers and booleans go to their own converters when the type takes them.
 */
function trimmed(
  r: Refusals,
  fromString: (text: string) => TypedResult,
  fromNumber?: (value: number) => TypedResult,
  fromBoolean?: (value: boolean) => TypedResult,
): Convert {
  return (value) => {
    if (typeof value === 'string') {
      const text = value.trim();
      return text === '' ? r.empty : fromString(text);
    }
    if (value === undefined || value === null) return r.missing;
    if (typeof value === 'number' && fromNumber) return fromNumber(value);
    if (typeof value === 'boolean' && fromBoolean) return fromBoolean(value);
    return r.wrongKind(value);
  };
}

// ---------------------------------------------------------------------------------------------
// Integers

const INTEGER = /^[+-]?\d+$/;

const INTEGER_LIMITS = {
  smallint: { min: -32768n, max: 32767n },
  integer: { min: -2147483648n, max: 2147483647n },
  bigint: { min: -9223372036854775808n, max: 9223372036854775807n },
} as const;

/** Exact ranges: only a value with as many digits as the limit needs a BigInt comparison. */
function integerConverter(r: Refusals, base: 'smallint' | 'integer' | 'bigint'): Convert {
  const { min, max } = INTEGER_LIMITS[base];
  const limitDigits = String(max).length;
  const maxNumber = Number(max);
  const notInteger = `is not an integer (${r.sql})`;
  return trimmed(
    r,
    (text) => {
      if (!INTEGER.test(text)) return r.invalid(text, notInteger);
      const sign = text.charCodeAt(0);
      const negative = sign === 45; /* - */
      let start = negative || sign === 43 /* + */ ? 1 : 0;
      while (start < text.length - 1 && text.charCodeAt(start) === 48 /* 0 */) start += 1;
      const digits = text.slice(start);
      if (digits.length > limitDigits) return r.outOfRange(text);
      const canonical = negative && digits !== '0' ? `-${digits}` : digits;
      if (digits.length === limitDigits) {
        const n = BigInt(canonical);
        if (n < min || n > max) return r.outOfRange(text);
      }
      return ok(canonical);
    },
    (value) => {
      if (!Number.isInteger(value)) return r.invalid(value, notInteger);
      if (value > maxNumber || value < -maxNumber - 1) return r.outOfRange(value);
      // Beyond 2^53 the JSON reader has already rounded the number: the digits in the file are lost.
      if (!Number.isSafeInteger(value))
        return r.invalid(value, 'is too large to be exact as a JSON number; write it as a string');
      return ok(String(value === 0 ? 0 : value));
    },
  );
}

// ---------------------------------------------------------------------------------------------
// numeric

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const NAN = /^nan$/i;
const INFINITY = /^[+-]?inf(inity)?$/i;

// PostgreSQL's numeric limits: 131072 digits before the point, 16383 after, exponents below INT_MAX/2.
const NUMERIC_MAX_INTEGER_DIGITS = 131_072;
const NUMERIC_MAX_SCALE = 16_383;
const NUMERIC_MAX_EXPONENT = 1_073_741_823;

/** A decimal as coefficient x 10^exponent; `scale` is the number of decimals PostgreSQL keeps. */
interface Decimal {
  negative: boolean;
  /** Digits without leading zeros; '' for zero. */
  coefficient: string;
  exponent: number;
  scale: number;
}

function parseDecimal(text: string): Decimal | 'syntax' | 'range' {
  const m = DECIMAL.exec(text);
  if (!m) return 'syntax';
  const whole = m[2];
  const fraction = m[3] ?? '';
  if (whole === '' && fraction === '') return 'syntax';
  const e = m[4] === undefined ? 0 : Number(m[4]);
  if (Math.abs(e) >= NUMERIC_MAX_EXPONENT) return 'range';
  const digits = whole + fraction;
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === 48) first += 1;
  const coefficient = digits.slice(first);
  const exponent = e - fraction.length;
  const scale = Math.max(0, -exponent);
  if (scale > NUMERIC_MAX_SCALE) return 'range';
  if (coefficient !== '' && coefficient.length + exponent > NUMERIC_MAX_INTEGER_DIGITS) return 'range';
  return { negative: m[1] === '-', coefficient, exponent, scale };
}

/** coefficient x 10^-scale in plain notation; zero has no sign, as in PostgreSQL. */
function renderDecimal(negative: boolean, coefficient: string, scale: number): string {
  if (coefficient === '') return scale > 0 ? `0.${'0'.repeat(scale)}` : '0';
  const sign = negative ? '-' : '';
  if (scale === 0) return sign + coefficient;
  const digits = coefficient.padStart(scale + 1, '0');
  return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function incremented(digits: string): string {
  let i = digits.length - 1;
  while (i >= 0 && digits.charCodeAt(i) === 57 /* 9 */) i -= 1;
  if (i < 0) return `1${'0'.repeat(digits.length)}`;
  return digits.slice(0, i) + String.fromCharCode(digits.charCodeAt(i) + 1) + '0'.repeat(digits.length - 1 - i);
}

/**
 * The coefficient of a nonzero decimal rounded half away from zero to `scale` decimals (as
 * PostgreSQL rounds numeric(p,s)), so that the value is coefficient x 10^-scale; '' when it rounds to 0.
 */
function roundedCoefficient(d: Decimal, scale: number): string {
  const drop = -d.exponent - scale;
  const { coefficient } = d;
  if (drop <= 0) return coefficient + '0'.repeat(-drop);
  if (drop > coefficient.length) return '';
  let kept = coefficient.slice(0, coefficient.length - drop);
  if (coefficient.charCodeAt(coefficient.length - drop) >= 53 /* 5 */) kept = incremented(kept);
  let first = 0;
  while (first < kept.length && kept.charCodeAt(first) === 48) first += 1;
  return kept.slice(first);
}

/**
 * Output is plain notation (no exponent) with the decimals PostgreSQL keeps, which is also its text
 * output. NaN only without a precision; Infinity never (PostgreSQL before 14 has no numeric infinity).
 */
function numericConverter(r: Refusals, precision: number | undefined, scale: number): Convert {
  const notNumber = `is not a number (${r.sql})`;
  const infinite = `is not a finite number (${r.sql})`;
  const constrained = precision !== undefined;
  const integerDigits = (precision ?? 0) - scale;
  const note =
    integerDigits === 0
      ? ' (no digits allowed before the decimal point)'
      : ` (at most ${integerDigits} digit${integerDigits === 1 ? '' : 's'} before the decimal point)`;
  const fromString = (text: string): TypedResult => {
    const d = parseDecimal(text);
    if (d === 'range') return r.outOfRange(text);
    if (d === 'syntax') {
      if (NAN.test(text))
        return constrained
          ? r.invalid(text, `is not allowed in ${r.sql} (NaN fits only an unconstrained numeric)`)
          : ok('NaN');
      return r.invalid(text, INFINITY.test(text) ? infinite : notNumber);
    }
    if (!constrained) {
      return ok(
        d.exponent >= 0 && d.coefficient !== ''
          ? renderDecimal(d.negative, d.coefficient + '0'.repeat(d.exponent), 0)
          : renderDecimal(d.negative, d.coefficient, d.scale),
      );
    }
    if (d.coefficient === '') return ok(renderDecimal(false, '', scale));
    // Refuse early what cannot fit even before rounding (which adds at most one digit): no padding then.
    if (d.coefficient.length + d.exponent > integerDigits + 1) return r.outOfRange(text, note);
    const coefficient = roundedCoefficient(d, scale);
    if (coefficient.length - scale > integerDigits) return r.outOfRange(text, note);
    return ok(renderDecimal(d.negative, coefficient, scale));
  };
  return trimmed(r, fromString, (value) =>
    Number.isFinite(value) ? fromString(String(value)) : r.invalid(value, infinite),
  );
}

// ---------------------------------------------------------------------------------------------
// real and double precision

const FLOAT_SPECIALS = new Map([
  ['nan', 'NaN'],
  ['infinity', 'Infinity'],
  ['+infinity', 'Infinity'],
  ['-infinity', '-Infinity'],
  ['inf', 'Infinity'],
  ['+inf', 'Infinity'],
  ['-inf', '-Infinity'],
]);
const NONZERO_DIGIT = /[1-9]/;

/**
 * Out of range as in PostgreSQL: too large, or a nonzero value that underflows to zero (denormals
 * are fine). double precision is written in JavaScript's shortest round-trip form; real keeps the
 * text as written so PostgreSQL rounds it to single precision itself.
 */
function floatConverter(r: Refusals, single: boolean): Convert {
  const notNumber = `is not a number (${r.sql})`;
  const check = (n: number, text: string, mantissaNonzero: boolean): TypedResult => {
    const stored = single ? Math.fround(n) : n;
    if (!Number.isFinite(stored) || (stored === 0 && mantissaNonzero)) return r.outOfRange(text);
    if (single) return ok(text);
    return ok(Object.is(n, -0) ? '-0' : String(n));
  };
  return trimmed(
    r,
    (text) => {
      const m = DECIMAL.exec(text);
      if (!m || (m[2] === '' && (m[3] ?? '') === '')) {
        const special = FLOAT_SPECIALS.get(text.toLowerCase());
        return special === undefined ? r.invalid(text, notNumber) : ok(special);
      }
      return check(Number(text), text, NONZERO_DIGIT.test(m[2]) || NONZERO_DIGIT.test(m[3] ?? ''));
    },
    (value) => (Number.isFinite(value) ? check(value, String(value), value !== 0) : r.outOfRange(value)),
  );
}

// ---------------------------------------------------------------------------------------------
// boolean

const BOOLEANS = new Map([
  ['true', 't'],
  ['t', 't'],
  ['yes', 't'],
  ['y', 't'],
  ['on', 't'],
  ['1', 't'],
  ['false', 'f'],
  ['f', 'f'],
  ['no', 'f'],
  ['n', 'f'],
  ['off', 'f'],
  ['0', 'f'],
]);

function booleanConverter(r: Refusals): Convert {
  const notBoolean = 'is not a boolean (expected true/false, t/f, yes/no, y/n, on/off or 1/0)';
  const TRUE = ok('t');
  const FALSE = ok('f');
  return trimmed(
    r,
    (text) => {
      const b = BOOLEANS.get(text.toLowerCase());
      return b === undefined ? r.invalid(text, notBoolean) : b === 't' ? TRUE : FALSE;
    },
    (value) => (value === 1 ? TRUE : value === 0 ? FALSE : r.invalid(value, notBoolean)),
    (value) => (value ? TRUE : FALSE),
  );
}

// ---------------------------------------------------------------------------------------------
// date, timestamptz, timestamp

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Years 0001-9999 of the proleptic Gregorian calendar, as PostgreSQL counts them. */
function isCalendarDate(year: string, month: string, day: string): boolean {
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]);
}

function dateConverter(r: Refusals): Convert {
  return trimmed(r, (text) => {
    const m = DATE.exec(text);
    if (!m) return r.invalid(text, 'is not a date (expected YYYY-MM-DD)');
    return isCalendarDate(m[1], m[2], m[3]) ? ok(text) : r.invalid(text, 'is not a real calendar date');
  });
}

/**
 * ISO 8601 date-times, written back as `YYYY-MM-DDTHH:MM:SS[.fff][offset]` (fractions beyond
 * microseconds are kept; PostgreSQL rounds them as it would the source). For timestamptz a value
 * without a zone is taken as UTC and written with `+00`: left zone-less, PostgreSQL would read it in
 * the session's TimeZone, so the same file could mean different instants on different servers.
 * timestamp (without time zone) refuses offsets, which PostgreSQL would silently drop.
 */
function timestampConverter(r: Refusals, withZone: boolean): Convert {
  const notTimestamp = `is not a timestamp (expected YYYY-MM-DD[THH:MM[:SS[.ffffff]]]${withZone ? '[Z|±HH[:MM]]' : ''})`;
  const hasOffset =
    'has a time zone offset, which timestamp (without time zone) would drop; remove it or use timestamptz';
  return trimmed(r, (text) => {
    const m = TIMESTAMP.exec(text);
    if (!m) return r.invalid(text, notTimestamp);
    const [
      ,
      year,
      month,
      day,
      hour = '00',
      minute = '00',
      second = '00',
      fraction,
      zulu,
      sign,
      offsetHour,
      offsetMinute,
    ] = m;
    if (!isCalendarDate(year, month, day)) return r.invalid(text, 'is not a real calendar date');
    if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59)
      return r.invalid(text, 'is not a valid time of day (hours 00-23, minutes and seconds 00-59)');
    const local = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}`;
    if (!withZone) return zulu === undefined && sign === undefined ? ok(local) : r.invalid(text, hasOffset);
    if (sign === undefined) return ok(`${local}+00`);
    if (Number(offsetHour) > 15 || Number(offsetMinute ?? 0) > 59)
      return r.invalid(text, 'has an offset beyond ±15:59');
    return ok(`${local}${sign}${offsetHour}${offsetMinute === undefined ? '' : `:${offsetMinute}`}`);
  });
}

// ---------------------------------------------------------------------------------------------
// text, varchar(n), char(n)

/** Code points of a well-formed string: UTF-16 units minus the low halves of surrogate pairs. */
function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) n -= 1;
  }
  return n;
}

function checkText(r: Refusals, text: string): TypedResult | undefined {
  if (text.includes('\0')) return r.nul;
  if (!isWellFormed.call(text)) return r.surrogate;
  return undefined;
}

/**
 * Text is kept as written (no trimming; '' stays '' rather than NULL). Lengths count characters
 * (code points), as varchar(n) does. PostgreSQL would also accept a longer value whose excess is
 * only spaces (cutting them off); that is refused here, so nothing is cut silently.
 */
function textConverter(r: Refusals, maxLength: number | undefined): Convert {
  const accept = (text: string): TypedResult => {
    const problem = checkText(r, text);
    if (problem) return problem;
    if (maxLength !== undefined && text.length > maxLength) {
      const length = codePoints(text);
      if (length > maxLength)
        return { ok: false, reason: `${r.column} is ${length} characters long; at most ${maxLength} are allowed` };
    }
    return ok(text);
  };
  return (value) => {
    if (typeof value === 'string') return accept(value);
    if (value === undefined || value === null) return r.missing;
    if (typeof value === 'number' || typeof value === 'boolean') return accept(String(value));
    return r.wrongKind(value);
  };
}

// ---------------------------------------------------------------------------------------------
// uuid

function uuidConverter(r: Refusals): Convert {
  return trimmed(r, (text) =>
    UUID_PATTERN.test(text)
      ? ok(text.toLowerCase())
      : r.invalid(text, 'is not a UUID (expected 8-4-4-4-12 hexadecimal digits)'),
  );
}

// ---------------------------------------------------------------------------------------------
// json and jsonb

/**
 * What jsonb refuses among the escapes of valid JSON text: \u0000 (it cannot become text) and
 * unpaired surrogate escapes. Backslashes occur only inside strings, so a scan of escapes suffices.
 */
function jsonbEscapeProblem(text: string): 'nul' | 'surrogate' | undefined {
  if (!text.includes('\\u')) return undefined;
  for (let i = text.indexOf('\\'); i >= 0; i = text.indexOf('\\', i)) {
    if (text.charCodeAt(i + 1) !== 117 /* u */) {
      i += 2;
      continue;
    }
    const code = parseInt(text.slice(i + 2, i + 6), 16);
    i += 6;
    if (code === 0) return 'nul';
    if (code >= 0xdc00 && code <= 0xdfff) return 'surrogate';
    if (code >= 0xd800 && code <= 0xdbff) {
      const low =
        text.charCodeAt(i) === 92 && text.charCodeAt(i + 1) === 117 ? parseInt(text.slice(i + 2, i + 6), 16) : -1;
      if (low < 0xdc00 || low > 0xdfff) return 'surrogate';
      i += 6;
    }
  }
  return undefined;
}

/**
 * The deepest json/jsonb value accepted. PostgreSQL's JSON parser recurses per level and fails the
 * whole COPY past its stack limit (about 10,000 levels with the default max_stack_depth); a deeper
 * value is a bad row instead.
 */
const MAX_JSON_DEPTH = 1000;

/** Exponents of 10000 or more: the only practical way a JSON number leaves numeric's range. */
const LONG_EXPONENT = /[eE][+-]?\d{5,}/;
const NUMBER_CHAR = /[-+.\deE]/;

/** jsonb stores numbers as numeric: one beyond numeric's range fails the whole COPY. */
function hasNumberBeyondNumeric(text: string): boolean {
  if (!LONG_EXPONENT.test(text)) return false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string (the text is valid JSON, so it is closed).
      i += 1;
      while (text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 /* \ */ ? 2 : 1;
      i += 1;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let end = i + 1;
      while (end < text.length && NUMBER_CHAR.test(text[end])) end += 1;
      if (parseDecimal(text.slice(i, end)) === 'range') return true;
      i = end;
    } else {
      i += 1;
    }
  }
  return false;
}

function hasNonFiniteNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (hasNonFiniteNumber(item)) return true;
  return false;
}

/**
 * CSV text must be valid JSON and is passed through unchanged; JSON values are written with
 * JSON.stringify (whose numbers, being doubles, always fit numeric). A number the JSON reader turned into Infinity (1e400) is refused rather than
 * stored as the null JSON.stringify would write.
 */
function jsonConverter(r: Refusals, binary: boolean, jsonStrings: boolean): Convert {
  const escapeRefusals = {
    nul: refuse(`${r.column} contains \\u0000, which jsonb cannot store`),
    surrogate: refuse(`${r.column} contains an unpaired surrogate escape (\\ud800-\\udfff), which jsonb refuses`),
  };
  const tooLarge = refuse(`${r.column} contains a number too large for a double (the JSON reader read it as Infinity)`);
  const beyondNumeric = refuse(
    `${r.column} contains a number beyond the range of numeric, which jsonb stores numbers as`,
  );
  const tooDeep = refuse(
    `${r.column} nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels, more than PostgreSQL reliably reads`,
  );
  const finish = (text: string): TypedResult => {
    if (binary) {
      const problem = jsonbEscapeProblem(text);
      if (problem) return escapeRefusals[problem];
    }
    return ok(text);
  };
  return (value) => {
    if (value === undefined || value === null) return r.missing;
    if (typeof value === 'string' && !jsonStrings) {
      if (value.trim() === '') return r.empty;
      if (value.includes('\0')) return r.nul;
      try {
        JSON.parse(value);
      } catch {
        return r.invalid(value, 'is not valid JSON');
      }
      if (nestsDeeperThan(value, MAX_JSON_DEPTH)) return tooDeep;
      if (binary && hasNumberBeyondNumeric(value)) return beyondNumeric;
      return finish(value);
    }
    // A JS value (JSON sources pass member text instead): JSON.stringify recurses, so a value too
    // deep for the stack is refused like any value too deep for PostgreSQL.
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch {
      return tooDeep;
    }
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return tooDeep;
    if (text.includes('null') && hasNonFiniteNumber(value)) return tooLarge;
    return finish(text);
  };
}

// ---------------------------------------------------------------------------------------------

/** Validates and converts one value to the text PostgreSQL's COPY accepts for the type (null = SQL NULL). */
export function typedNormalizer(
  column: string,
  type: ColumnType,
  options: TypedOptions,
): (value: SourceValue) => TypedResult {
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
