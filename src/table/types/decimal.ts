/**
 * Decimal text as PostgreSQL's numeric reads it, parsed and rounded on the digits themselves: going
 * through a double would lose digits numeric keeps. Used by numeric columns, by real and double
 * precision (for the syntax), and by jsonb (which stores its numbers as numeric).
 */

export const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

// PostgreSQL's numeric limits: 131072 digits before the point, 16383 after, exponents below INT_MAX/2.
const NUMERIC_MAX_INTEGER_DIGITS = 131_072;
const NUMERIC_MAX_SCALE = 16_383;
const NUMERIC_MAX_EXPONENT = 1_073_741_823;

/** A decimal as coefficient x 10^exponent; `scale` is the number of decimals PostgreSQL keeps. */
export interface Decimal {
  negative: boolean;
  /** Digits without leading zeros; '' for zero. */
  coefficient: string;
  exponent: number;
  scale: number;
}

/** 'range' when numeric would refuse the value as out of range; 'syntax' when the text is no decimal. */
export function parseDecimal(text: string): Decimal | 'syntax' | 'range' {
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
export function renderDecimal(negative: boolean, coefficient: string, scale: number): string {
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
export function roundedCoefficient(d: Decimal, scale: number): string {
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
