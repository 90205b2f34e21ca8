import { describe, expect, it } from 'vitest';
import { normalizeEmail, normalizerFor } from '../../src/table/rules.js';

describe('email rule', () => {
  it('trims and lowercases', () => {
    expect(normalizeEmail('  Ann.Lee@Example.COM ')).toEqual({ ok: true, value: 'ann.lee@example.com' });
  });
  it.each([
    ['', 'email is empty'],
    ['plain', 'must contain exactly one @'],
    ['a@b@c', 'must contain exactly one @'],
    ['@b.c', 'needs text on both sides'],
    ['a@', 'needs text on both sides'],
    ['a b@c.d', 'contains whitespace'],
    [`${'a'.repeat(250)}@b.com`, 'at most 255'],
    ['a\u0000@b.c', 'NUL byte'],
  ])('refuses %j', (input, reason) => {
    const r = normalizeEmail(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });
});

describe('text rule', () => {
  const name = normalizerFor('full_name', { kind: 'text', maxLength: 3, trim: true, allowEmpty: false });
  it('counts characters, not UTF-16 units or bytes', () => {
    expect(name('😀😀😀')).toEqual({ ok: true, value: '😀😀😀' });
    expect(name('abcd')).toEqual({ ok: false, reason: 'full_name is 4 characters long; at most 3 are allowed' });
  });
  it('refuses empty values', () => {
    expect(name('  ')).toEqual({ ok: false, reason: 'full_name is empty' });
  });

  // Undecodable bytes are found in the record's bytes (a bad row before any rule runs): U+FFFD
  // written in the file (UTF-8 EF BF BD) is a character like any other.
  it('keeps the replacement character U+FFFD as text', () => {
    expect(name('a\uFFFD')).toEqual({ ok: true, value: 'a\uFFFD' });
  });
});
