import { UUID_PATTERN } from '../../db/uuid.js';
import type { Refusals } from './refusals.js';
import { ok, type Normalizer } from './result.js';
import { trimmed } from './trimmed.js';

/** Only the 8-4-4-4-12 form (PostgreSQL also reads braces and missing hyphens), written lowercase. */
export function uuidConverter(r: Refusals): Normalizer {
  return trimmed(r, (text) =>
    UUID_PATTERN.test(text)
      ? ok(text.toLowerCase())
      : r.invalid(text, 'is not a UUID (expected 8-4-4-4-12 hexadecimal digits)'),
  );
}
