/** smallint, integer, bigint, numeric, real and double precision. */
import { DECIMAL, parseDecimal, renderDecimal, roundedCoefficient } from './decimal.js';
import type { Refusals } from './refusals.js';
import { ok, type FieldResult, type Normalizer } from './result.js';
import { trimmed } from './trimmed.js';

const INTEGER = /^[+-]?\d+$/;

const INTEGER_LIMITS = {
  smallint: { min: -32768n, max: 32767n },
  integer: { min: -2147483648n, max: 2147483647n },
  bigint: { min: -9223372036854775808n, max: 9223372036854775807n },
} as const;

/** Exact ranges: only a value with as many digits as the limit needs a BigInt comparison. */
export function integerConverter(r: Refusals, base: 'smallint' | 'integer' | 'bigint'): Normalizer {
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

const NAN = /^nan$/i;
const INFINITY = /^[+-]?inf(inity)?$/i;

/**
 * Output is plain notation (no exponent) with the decimals PostgreSQL keeps, which is also its text
 * output. NaN only without a precision; Infinity never (PostgreSQL before 14 has no numeric infinity).
 */
export function numericConverter(r: Refusals, precision: number | undefined, scale: number): Normalizer {
  const notNumber = `is not a number (${r.sql})`;
  const infinite = `is not a finite number (${r.sql})`;
  const constrained = precision !== undefined;
  const integerDigits = (precision ?? 0) - scale;
  const note =
    integerDigits === 0
      ? ' (no digits allowed before the decimal point)'
      : ` (at most ${integerDigits} digit${integerDigits === 1 ? '' : 's'} before the decimal point)`;
  const fromString = (text: string): FieldResult => {
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
export function floatConverter(r: Refusals, single: boolean): Normalizer {
  const notNumber = `is not a number (${r.sql})`;
  const check = (n: number, text: string, mantissaNonzero: boolean): FieldResult => {
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
