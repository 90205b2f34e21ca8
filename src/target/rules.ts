import type { ColumnRule } from './spec.js';

/** A field accepted and normalised to its stored text form, or refused with a reason. */
export type FieldResult = { ok: true; value: string } | { ok: false; reason: string };

export type Normalizer = (raw: string) => FieldResult;

/** Lengths count characters (code points), as varchar(n) does. */
function checkText(value: string, maxLength: number | undefined, column: string): FieldResult {
  if (value.includes('\0')) return { ok: false, reason: `${column} contains a NUL byte` };
  if (value.includes('\uFFFD')) return { ok: false, reason: `${column} is not valid text in the file's encoding (invalid byte sequence)` };
  if (maxLength !== undefined && value.length > maxLength) {
    const length = [...value].length;
    if (length > maxLength) return { ok: false, reason: `${column} is ${length} characters long; at most ${maxLength} are allowed` };
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

export function normalizerFor(column: string, rule: ColumnRule): Normalizer {
  switch (rule.kind) {
    case 'email':
      return (raw) => normalizeEmail(raw, column);
    case 'text':
      return (raw) => {
        const value = rule.trim ? raw.trim() : raw;
        if (value === '' && !rule.allowEmpty) return { ok: false, reason: `${column} is empty` };
        return checkText(value, rule.maxLength, column);
      };
  }
}
