import { describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral, quoteTable } from '../../src/db/quote.js';
import {
  copyInto,
  createPartition,
  deleteAbsent,
  insertAll,
  mergeAll,
  mergeUpserts,
  partitionName,
} from '../../src/merge/sql.js';
import { createStagingTable } from '../../src/table/ddl.js';
import { followersTarget } from '../../src/table/followers.js';
import type { TargetSpec } from '../../src/table/spec.js';

const loadId = '0b7c6a52-8f4e-4c7e-9a57-3f0d2a1b9c11';

describe('identifier quoting', () => {
  it('doubles embedded quotes and refuses NUL', () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteTable('my schema', 'Table')).toBe('"my schema"."Table"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe('merge statements', () => {
  it('deletes absent rows with an anti-join on the key, never a clock comparison', () => {
    const sql = deleteAbsent(followersTarget, loadId).text;
    expect(sql).toMatch(
      /DELETE FROM "public"\."followers" AS t\s+WHERE NOT EXISTS \(SELECT 1 FROM "public"\."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11" AS s WHERE t\."email" = s\."c1"\)/,
    );
    expect(sql).not.toMatch(/last_activity|modified_at/);
  });

  it('merges upserts in one join: rewrites only rows whose values differ, inserts new keys, stamps modified_at', () => {
    const sql = mergeUpserts(followersTarget, loadId).text.replace(/\s+/g, ' ');
    expect(sql).toContain(
      'MERGE INTO "public"."followers" AS t USING "public"."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11" AS s ON t."email" = s."c1"',
    );
    expect(sql).toContain(
      'WHEN MATCHED AND ROW(t."full_name") IS DISTINCT FROM ROW(s."c2") THEN UPDATE SET "full_name" = s."c2", "modified_at" = now()',
    );
    expect(sql).toContain(
      'WHEN NOT MATCHED THEN INSERT ("email", "full_name", "modified_at") VALUES (s."c1", s."c2", now())',
    );
    expect(sql).not.toContain('BY SOURCE');
  });

  it('on PostgreSQL 17+ deletes absent keys in the same MERGE and returns what each action did', () => {
    const sql = mergeAll(followersTarget, loadId).text.replace(/\s+/g, ' ');
    expect(sql).toContain('WHEN NOT MATCHED BY SOURCE THEN DELETE RETURNING merge_action() AS action');
    expect(sql).toContain(`count(*) FILTER (WHERE action = 'DELETE')::bigint AS deleted`);
    const upsert = mergeAll({ ...followersTarget, mode: 'upsert' }, loadId).text;
    expect(upsert).not.toContain('BY SOURCE');
    const marked = mergeAll({ ...followersTarget, deleteWhen: { field: 'op', op: '=', value: 'D' } }, loadId).text;
    expect(marked.replace(/\s+/g, ' ')).toContain(
      'WHEN MATCHED AND s."etl_delete" THEN DELETE WHEN MATCHED AND NOT s."etl_delete" AND ROW',
    );
  });

  it('inserts into an empty target with no join, in key order', () => {
    expect(insertAll(followersTarget, loadId).text).toMatch(
      /INSERT INTO "public"\."followers" \("email", "full_name", "modified_at"\)\s+SELECT s\."c1", s\."c2", now\(\) FROM "public"\."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11" AS s WHERE true ORDER BY s\."c1"$/,
    );
  });

  it('sorts a key whose collation orders like bytes under "C", and others under their own collation', () => {
    const spec: TargetSpec = {
      ...followersTarget,
      key: ['region', 'email'],
      columns: [
        { name: 'region', sqlType: 'text', source: 'region', rule: { kind: 'typed', type: 'text', nullable: false } },
        ...followersTarget.columns,
      ],
    };
    expect(insertAll(spec, loadId, new Set(['email'])).text).toMatch(/ORDER BY s\."c1", s\."c2" COLLATE "C"$/);
    expect(insertAll(spec, loadId).text).toMatch(/ORDER BY s\."c1", s\."c2"$/);
  });

  it('stages user columns by position, so names like line and load_id cannot collide with its own', () => {
    const spec: TargetSpec = {
      ...followersTarget,
      key: ['line'],
      columns: ['line', 'load_id', 'etl_delete', 'c1'].map((name) => ({
        name,
        sqlType: 'text',
        source: name,
        rule: { kind: 'text', trim: true, allowEmpty: false },
      })),
      deleteWhen: { field: 'op', op: '=', value: 'D' },
    };
    expect(createStagingTable(spec)[0]).toBe(
      'CREATE TABLE "public"."staging_followers" (\n  "c1" text,\n  "c2" text,\n  "c3" text,\n  "c4" text,\n  "line" bigint NOT NULL,\n  "load_id" uuid NOT NULL,\n  "etl_delete" boolean NOT NULL DEFAULT false\n) PARTITION BY LIST ("load_id")',
    );
    expect(copyInto(spec, loadId)).toBe(
      'COPY "public"."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11" ("c1", "c2", "c3", "c4", "line", "etl_delete") FROM STDIN',
    );
  });

  it('quotes hostile table and column names everywhere', () => {
    const hostile: TargetSpec = {
      ...followersTarget,
      schema: 'we"ird',
      table: 'Select; DROP TABLE x; --',
      stagingTable: 'stage"',
      key: ['Key Col'],
      columns: [
        { name: 'Key Col', sqlType: 'integer', source: 'k', rule: { kind: 'text', trim: true, allowEmpty: false } },
        { name: 'order', sqlType: 'text', source: 'o', rule: { kind: 'text', trim: true, allowEmpty: false } },
      ],
    };
    const sql = [deleteAbsent(hostile, loadId), mergeUpserts(hostile, loadId), mergeAll(hostile, loadId)]
      .map((s) => s.text)
      .join('\n');
    expect(sql).toContain('"we""ird"."Select; DROP TABLE x; --"');
    expect(sql).toContain('t."Key Col" = s."c1"::integer');
    expect(sql).toContain('"order" = s."c2"');
    expect(copyInto(hostile, loadId)).toBe(
      `COPY "public"."stage""_0b7c6a528f4e4c7e9a573f0d2a1b9c11" ("c1", "c2", "line") FROM STDIN`,
    );
  });

  it('keeps partition names within 63 bytes and refuses a load id that is not a UUID', () => {
    const long = { ...followersTarget, stagingTable: 'x'.repeat(80) };
    expect(Buffer.byteLength(partitionName(long, loadId))).toBeLessThanOrEqual(63);
    expect(() => createPartition(followersTarget, "x'); DROP TABLE followers; --")).toThrow(/not a load id/);
  });
});
