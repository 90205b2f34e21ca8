import type { Refusals } from './refusals.js';
import { ok, type Normalizer } from './result.js';
import { trimmed } from './trimmed.js';

// The spellings PostgreSQL's boolean input accepts (case-insensitive), except the unique prefixes it
// also reads ('tr', 'fa'): those are refused, as listed in test/integration/types-pg.test.ts.
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

/** JSON true/false and the numbers 1/0 are booleans too. */
export function booleanConverter(r: Refusals): Normalizer {
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
