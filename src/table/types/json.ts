import { nestsDeeperThan } from '../json-text.js';
import { parseDecimal } from './decimal.js';
import { refuse, type Refusals } from './refusals.js';
import { ok, type FieldResult, type Normalizer } from './result.js';

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
 * JSON.stringify (whose numbers, being doubles, always fit numeric). A number the JSON reader turned
 * into Infinity (1e400) is refused rather than stored as the null JSON.stringify would write.
 * `jsonStrings`: a string value is a JSON string to store as one, not JSON text.
 */
export function jsonConverter(r: Refusals, binary: boolean, jsonStrings: boolean): Normalizer {
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
  const finish = (text: string): FieldResult => {
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
