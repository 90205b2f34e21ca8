/**
 * Text values: text, varchar(n) and char(n) columns, and the followers rules (email and text), which
 * read and check text the same way so that one refusal has one wording.
 */
import type { SourceValue } from '../source-value.js';
import type { Refusal, Refusals } from './refusals.js';
import { ok, type FieldResult, type Normalizer } from './result.js';

// String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib this project compiles against.
const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed;

/**
 * Code points, as `[...text].length` counts them without building an array: a surrogate pair counts
 * once, an unpaired surrogate (possible when surrogates are not refused) counts once too.
 */
function codePoints(text: string): number {
  let n = text.length;
  for (let i = 1; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) {
      const before = text.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) n -= 1;
    }
  }
  return n;
}

/**
 * A field read as text: JSON numbers and booleans as their text, undefined when absent or null
 * (each caller decides what a missing value is), arrays and objects refused.
 */
export function asText(r: Refusals, value: SourceValue): string | undefined | Refusal {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return r.wrongKind(value);
}

/**
 * The one check of a text value, in this order: no NUL byte (PostgreSQL text cannot hold one, and
 * COPY would fail the whole batch); no unpaired surrogate when `unpairedSurrogates` is 'refuse' (UTF-8
 * cannot encode one, so it would be written as U+FFFD); at most `maxLength` characters, counted in
 * code points as varchar(n) counts them.
 *
 * Typed text columns refuse unpaired surrogates. The followers rules 'replace' them, as they did
 * before typed columns existed (a JSON source produces one from a "\ud800" escape).
 */
export function textCheck(
  r: Refusals,
  maxLength: number | undefined,
  unpairedSurrogates: 'refuse' | 'replace',
): (text: string) => FieldResult {
  const refuseSurrogates = unpairedSurrogates === 'refuse';
  return (text) => {
    if (text.includes('\0')) return r.nul;
    if (refuseSurrogates && !isWellFormed.call(text)) return r.surrogate;
    // text.length (UTF-16 units) is never less than the code points: count them only when it matters.
    if (maxLength !== undefined && text.length > maxLength) {
      const length = codePoints(text);
      if (length > maxLength) return r.tooLong(length, maxLength);
    }
    return ok(text);
  };
}

/**
 * Text is kept as written (no trimming; '' stays '' rather than NULL). PostgreSQL would also accept
 * a longer value whose excess is only spaces (cutting them off); that is refused here, so nothing is
 * cut silently.
 */
export function textConverter(r: Refusals, maxLength: number | undefined): Normalizer {
  const check = textCheck(r, maxLength, 'refuse');
  return (value) => {
    const text = asText(r, value);
    if (text === undefined) return r.missing;
    return typeof text === 'string' ? check(text) : text;
  };
}
