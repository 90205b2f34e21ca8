import type { Refusals } from './refusals.js';
import type { FieldResult, Normalizer } from './result.js';

/**
 * Types whose text is trimmed and whose empty text is a missing value (every type but text and
 * json). `fromString` gets the trimmed, non-empty text; JSON numbers and booleans go to their own
 * converters when the type takes them, and are refused as the wrong kind otherwise.
 */
export function trimmed(
  r: Refusals,
  fromString: (text: string) => FieldResult,
  fromNumber?: (value: number) => FieldResult,
  fromBoolean?: (value: boolean) => FieldResult,
): Normalizer {
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
