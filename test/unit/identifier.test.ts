import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError, followersTarget } from '../../src/index.js';
import { checkTargetNames, derivedName } from '../../src/table/identifier.js';

const long = 'a'.repeat(63);

function config(target: Record<string, string>, columns = [{ name: 'id', type: 'integer' }], extra = {}): string {
  return JSON.stringify({ syncs: [{ name: 'x', source: 'x.csv', target, key: 'id', columns, ...extra }] });
}

function parseError(text: string): ConfigError {
  try {
    parseConfigText('etl.config.json', text, '/tmp');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('names at PostgreSQL limits', () => {
  it('refuses a table name over 63 bytes, naming the field and its byte length', () => {
    expect(parseError(config({ table: `${long}_one` })).message).toBe(
      `etl.config.json: syncs[0].target.table "${long}_one" is 67 bytes long; PostgreSQL names hold at most 63 bytes ` +
        `(it would be cut to "${long}"); use a shorter name`,
    );
  });

  it('counts bytes, not characters: 32 two-byte letters are 64 bytes', () => {
    expect(parseError(config({ table: 'é'.repeat(32) })).message).toMatch(
      /syncs\[0\]\.target\.table "é{32}" is 64 bytes long; .* \(it would be cut to "é{31}"\)/,
    );
    expect(() => parseConfigText('etl.config.json', config({ table: 'é'.repeat(31) }), '/tmp')).not.toThrow();
  });

  it('refuses a long schema, column or modified column name', () => {
    expect(parseError(config({ schema: `${long}s`, table: 't' })).message).toMatch(
      /syncs\[0\]\.target\.schema ".*" is 64 bytes long/,
    );
    expect(
      parseError(
        config({ table: 't' }, [
          { name: 'id', type: 'integer' },
          { name: `${long}c`, type: 'text' },
        ]),
      ).message,
    ).toMatch(/syncs\[0\]\.columns\[1\]\.name ".*" is 64 bytes long/);
    expect(parseError(config({ table: 't' }, undefined, { modified_column: `${long}m` })).message).toMatch(
      /syncs\[0\]\.modified_column ".*" is 64 bytes long/,
    );
  });

  it('refuses a NUL byte in a name at configuration time', () => {
    expect(parseError(config({ table: 'fol\u0000lowers' })).message).toBe(
      'etl.config.json: syncs[0].target.table "fol\\u0000lowers" contains a NUL byte, which PostgreSQL names cannot hold',
    );
    expect(parseError(config({ table: 't' }, [{ name: 'i\u0000d', type: 'integer' }])).message).toMatch(
      /columns\[0\]\.name .* contains a NUL byte/,
    );
  });

  it('accepts 63 bytes exactly, and derives staging names that fit and never collide', () => {
    const [one] = parseConfigText('etl.config.json', config({ table: `${'b'.repeat(60)}one` }), '/tmp');
    const [two] = parseConfigText('etl.config.json', config({ table: `${'b'.repeat(60)}two` }), '/tmp');
    for (const d of [one, two]) expect(Buffer.byteLength(d.target.stagingTable)).toBeLessThanOrEqual(63);
    expect(one.target.stagingTable).not.toBe(two.target.stagingTable);
    expect(derivedName('etl_staging_', 'products')).toBe('etl_staging_products');
    expect(Buffer.byteLength(derivedName('etl_staging_', 'ü'.repeat(40)))).toBeLessThanOrEqual(63);
  });

  it('checks a target built in code before anything touches the database', () => {
    expect(() => checkTargetNames({ ...followersTarget, table: `${long}x` })).toThrow(
      /^followers: the table ".*" is 64 bytes long/,
    );
    expect(() => checkTargetNames(followersTarget)).not.toThrow();
  });
});
