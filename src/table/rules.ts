import type { ColumnRule } from './spec.js';
import type { SourceValue } from './source-value.js';
import { parseColumnType, typedNormalizer } from './types.js';

/** A field accepted and normalised to its stored text form (null is SQL NULL), or refused with a reason. */
export type FieldResult = { ok: true; value: string | null } | { ok: false; reason: string };

/** Takes a CSV field (a string) or a JSON value (anything; undefined when the field is absent). */
export type Normalizer = (value: SourceValue) => FieldResult;

/** JSON numbers and booleans read as their text; absent and null read as empty. */
function asText(value: SourceValue, column: string): string | FieldResult {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return { ok: false, reason: `${column} expects text, got ${Array.isArray(value) ? 'an array' : 'an object'}` };
}

/** Lengths count characters (code points), as varchar(n) does. */
function checkText(value: string, maxLength: number | undefined, column: string): FieldResult {
  if (value.includes('\0')) return { ok: false, reason: `${column} contains a NUL byte` };
  if (maxLength !== undefined && value.length > maxLength) {
    const length = [...value].length;
    if (length > maxLength)
      return { ok: false, reason: `${column} is ${length} characters long; at most ${maxLength} are allowed` };
  }
  return { ok: true, value };
}

const WHITESPACE = /\s/u;

/** Email addresses are keys: trimmed, lowercased, one @ with text on both sides, no whitespace, <= 255. */
export function normalizeEmail(raw: string, column = 'email'): FieldResult {
  const email = raw.trim().toLowerCase();
  if (email === '') return { ok: false, reason: `${column} is empty` };
  const checked = checkText(email, 255, column);
  if (!checked.ok) return checked;
  if (WHITESPACE.test(email)) return { ok: false, reason: `${column} ${JSON.stringify(email)} contains whitespace` };
  const at = email.indexOf('@');
  if (at < 0 || at !== email.lastIndexOf('@')) {
    return { ok: false, reason: `${column} ${JSON.stringify(email)} must contain exactly one @` };
  }
  if (at === 0 || at === email.length - 1) {
    return { ok: false, reason: `${column} ${JSON.stringify(email)} needs text on both sides of the @` };
  }
  return { ok: true, value: email };
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
    case 'email':
      return (input) => {
        const raw = asText(input, column);
        return typeof raw === 'string' ? normalizeEmail(raw, column) : raw;
      };
    case 'typed':
      return typedNormalizer(column, parseColumnType(rule.type), { nullable: rule.nullable, source });
    case 'text':
      return (input) => {
        const raw = asText(input, column);
        if (typeof raw !== 'string') return raw;
        const value = rule.trim ? raw.trim() : raw;
        if (value === '' && !rule.allowEmpty) return { ok: false, reason: `${column} is empty` };
        return checkText(value, rule.maxLength, column);
      };
  }
}
