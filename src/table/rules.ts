/**
 * What each column's rule makes of a source value: the followers rules (email, text) and typed
 * columns. All of them are built on the converters in types/: one result type, one text check and
 * one set of refusal reasons, so the same refusal reads the same whichever rule makes it.
 */
import type { ColumnRule } from './spec.js';
import { parseColumnType, typedNormalizer } from './types/index.js';
import { Refusals } from './types/refusals.js';
import type { FieldResult, Normalizer } from './types/result.js';
import { asText, textCheck } from './types/text.js';

export type { Normalizer } from './types/result.js';

/**
 * The followers rules are not typed columns: they name "text" when a JSON value is of the wrong kind,
 * and read an absent or null value as empty text (refused unless the rule allows empty text), never
 * as SQL NULL.
 */
const rulesRefusals = (column: string) => new Refusals(column, 'text', false);

const WHITESPACE = /\s/u;

/** Email addresses are keys: trimmed, lowercased, one @ with text on both sides, no whitespace, <= 255. */
function emailRule(r: Refusals): (raw: string) => FieldResult {
  const check = textCheck(r, 255, 'replace');
  // Unlike Refusals.invalid, the address is quoted whole: a key is at most 255 characters.
  const bad = (email: string, what: string): FieldResult => ({
    ok: false,
    reason: `${r.column} ${JSON.stringify(email)} ${what}`,
  });
  return (raw) => {
    const email = raw.trim().toLowerCase();
    if (email === '') return r.empty;
    const checked = check(email);
    if (!checked.ok) return checked;
    if (WHITESPACE.test(email)) return bad(email, 'contains whitespace');
    const at = email.indexOf('@');
    if (at < 0 || at !== email.lastIndexOf('@')) return bad(email, 'must contain exactly one @');
    if (at === 0 || at === email.length - 1) return bad(email, 'needs text on both sides of the @');
    return checked;
  };
}

export function normalizeEmail(raw: string, column = 'email'): FieldResult {
  return emailRule(rulesRefusals(column))(raw);
}

/** json/jsonb columns: fed with JSON text (a JSON source passes each member's text as written). */
export function takesJsonText(rule: ColumnRule): boolean {
  if (rule.kind !== 'typed') return false;
  const base = parseColumnType(rule.type).base;
  return base === 'json' || base === 'jsonb';
}

/**
 * `source` matters for json/jsonb columns only: a CSV field is JSON text, while a string value from
 * a JSON source is a JSON string to be stored as one.
 */
export function normalizerFor(column: string, rule: ColumnRule, source: 'csv' | 'json' = 'csv'): Normalizer {
  switch (rule.kind) {
    case 'email': {
      const r = rulesRefusals(column);
      const email = emailRule(r);
      return (input) => {
        const raw = asText(r, input) ?? '';
        return typeof raw === 'string' ? email(raw) : raw;
      };
    }
    case 'typed':
      return typedNormalizer(column, parseColumnType(rule.type), { nullable: rule.nullable, source });
    case 'text': {
      const r = rulesRefusals(column);
      const check = textCheck(r, rule.maxLength, 'replace');
      return (input) => {
        const raw = asText(r, input) ?? '';
        if (typeof raw !== 'string') return raw;
        const value = rule.trim ? raw.trim() : raw;
        if (value === '' && !rule.allowEmpty) return r.empty;
        return check(value);
      };
    }
  }
}
