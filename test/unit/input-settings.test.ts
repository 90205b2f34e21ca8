/** Issue 9: the settings and readers behind input hardening, checked without a database. */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError, resolveSyncConfig } from '../../src/index.js';
import type { JsonLayout } from '../../src/load/layout.js';
import { parseJsonChunk } from '../../src/load/parse-json-chunk.js';
import { memberTexts } from '../../src/table/json-text.js';

const source = (extra: string) =>
  `{"syncs":[{"name":"s","source":{"path":"a.tsv"${extra}},"target":{"table":"t"},"key":"id","columns":[{"name":"id","type":"int"}]}]}`;

// Item 8.
describe('a tab delimiter in the config file', () => {
  it('is read as written: "\\t" in JSON', () => {
    const [def] = parseConfigText('etl.config.json', source(',"delimiter":"\\t"'));
    expect(def.settings.delimiter?.value).toBe('\t');
  });

  it('is read as written: a real tab in YAML', () => {
    const yaml =
      'syncs:\n  - name: s\n    source: { path: a.tsv, delimiter: "\t" }\n    target: { table: t }\n    key: id\n    columns: [{ name: id, type: int }]\n';
    const [def] = parseConfigText('etl.config.yaml', yaml);
    expect(def.settings.delimiter?.value).toBe('\t');
    expect(resolveSyncConfig({ delimiter: def.settings.delimiter?.value }, {}).csv.delimiter).toBe('\t');
  });

  it('refuses an unquoted tab in YAML, which YAML reads as nothing, instead of falling back to a comma', () => {
    const yaml =
      'syncs:\n  - name: s\n    source: { path: a.tsv, delimiter: \t}\n    target: { table: t }\n    key: id\n    columns: [{ name: id, type: int }]\n';
    expect(() => parseConfigText('etl.config.yaml', yaml)).toThrow(
      'syncs[0].source.delimiter is empty (YAML reads an unquoted tab as nothing: write "\\t")',
    );
  });

  it('still refuses an empty delimiter', () => {
    expect(() => parseConfigText('etl.config.json', source(',"delimiter":""'))).toThrow(
      /source\.delimiter must be one character/u,
    );
  });
});

// Item 11.
describe('--max-record-size', () => {
  it('defaults to 16 MiB and takes sizes with units', () => {
    expect(resolveSyncConfig({}, {}).maxRecordSize).toBe(16 * 1024 * 1024);
    expect(resolveSyncConfig({ maxRecordSize: '512KiB' }, {}).maxRecordSize).toBe(512 * 1024);
    expect(resolveSyncConfig({}, { MAX_RECORD_SIZE: '64M' }).maxRecordSize).toBe(64 * 1024 * 1024);
    expect(resolveSyncConfig({}, { MAX_RECORD_SIZE: '4096' }).maxRecordSize).toBe(4096);
  });

  it.each(['abc', '0', '12 parsecs', '1GiB'])('refuses %j, naming the setting', (value) => {
    expect(() => resolveSyncConfig({ maxRecordSize: value }, {})).toThrow(ConfigError);
    expect(() => resolveSyncConfig({ maxRecordSize: value }, {})).toThrow(
      /--max-record-size=.* is not a size from 1KiB to 256MiB/u,
    );
  });
});

// Item 7: a json column (json keeps text as written) gets the member's source text.
describe('JSON members into json columns', () => {
  const layout: JsonLayout = {
    format: 'json',
    fieldNames: ['id', 'doc'],
    columns: [
      { name: 'id', sqlType: 'bigint', source: 'id', rule: { kind: 'typed', type: 'bigint', nullable: false } },
      { name: 'doc', sqlType: 'json', source: 'doc', rule: { kind: 'typed', type: 'json', nullable: true } },
    ],
    keys: ['id'],
  };

  it('keeps integers beyond 2^53 and the spacing as written', () => {
    const text = '{"id": 7, "doc": {"n": 1234567890123456789,  "s": "a\\"b"}}\n{"id":8,"doc":null}';
    const data = Buffer.from(text);
    const end = text.indexOf('\n');
    const parsed = parseJsonChunk(data, layout, {
      lines: Int32Array.from([1, 2]),
      starts: Int32Array.from([0, end + 1]),
      ends: Int32Array.from([end, data.length]),
    });
    expect(parsed.rejects).toEqual([]);
    expect(parsed.copy.toString()).toBe('7\t{"n": 1234567890123456789,  "s": "a\\\\"b"}\t1\n8\t\\N\t2\n');
  });

  it('finds each member of an object without recursion, the last of repeated keys winning', () => {
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const members = memberTexts(`{ "a" : ${deep} , "b":"x,}" ,"a":-1.5e3,"c":{"d":[1,{"e":"]"}]}}`);
    expect(Object.fromEntries(members)).toEqual({ a: '-1.5e3', b: '"x,}"', c: '{"d":[1,{"e":"]"}]}' });
  });
});
