import { describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral, quoteTable } from '../../src/db/quote.js';
import { countDiff, createDiff, deleteDiff, deleteNullKeys, insertDiff, updateDiff } from '../../src/merge/diff.js';
import {
  copyInto,
  createPartition,
  deleteAbsent,
  deleteMarkedLast,
  insertAll,
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
  const oneLine = (text: string) => text.replace(/\s+/g, ' ');
  const part = '"public"."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11"';

  it("finds a mirror's changes in one full join: gone keys, new keys, rows whose values differ", () => {
    const sql = oneLine(createDiff(followersTarget, loadId).text);
    expect(sql).toContain('CREATE TEMPORARY TABLE etl_diff ON COMMIT DROP AS');
    expect(sql).toContain(
      `SELECT CASE WHEN s."line" IS NULL THEN 'D' WHEN t.ctid IS NULL THEN 'I' ELSE 'U' END AS etl_op, coalesce(t."email", s."c1") AS "c1", s."c2" AS "c2"`,
    );
    expect(sql).toContain(`FROM "public"."followers" AS t FULL JOIN ${part} AS s ON t."email" = s."c1"`);
    expect(sql).toContain(
      `WHERE s."line" IS NULL OR (t.ctid IS NULL) OR (t.ctid IS NOT NULL AND s."line" IS NOT NULL AND (ROW(t."full_name") IS DISTINCT FROM ROW(s."c2")))`,
    );
    // never a clock comparison: what is gone is what the file lacks
    expect(sql).not.toMatch(/last_activity|modified_at/);
  });

  it('in upsert mode joins from staging only (nothing is gone), and a delete marker deletes a key that exists', () => {
    const upsert = oneLine(createDiff({ ...followersTarget, mode: 'upsert' }, loadId).text);
    expect(upsert).toContain(`FROM ${part} AS s LEFT JOIN "public"."followers" AS t`);
    expect(upsert).not.toContain(`'D'`);
    const marked = oneLine(
      createDiff({ ...followersTarget, deleteWhen: { field: 'op', op: '=', value: 'D' } }, loadId).text,
    );
    expect(marked).toContain(`CASE WHEN s."line" IS NULL OR s."etl_delete" THEN 'D'`);
    expect(marked).toContain(`(t.ctid IS NULL AND NOT s."etl_delete")`);
    expect(marked).toContain(`(s."etl_delete" OR ROW(t."full_name") IS DISTINCT FROM ROW(s."c2"))`);
  });

  it('applies only the difference: deletes and rewrites by key, inserts new keys in key order, stamps modified_at', () => {
    expect(oneLine(deleteDiff(followersTarget).text)).toBe(
      `DELETE FROM "public"."followers" AS t USING pg_temp.etl_diff AS d WHERE d.etl_op = 'D' AND t."email" = d."c1"`,
    );
    expect(oneLine(updateDiff(followersTarget)!.text)).toBe(
      `UPDATE "public"."followers" AS t SET "full_name" = d."c2", "modified_at" = now() FROM pg_temp.etl_diff AS d WHERE d.etl_op = 'U' AND t."email" = d."c1"`,
    );
    expect(oneLine(insertDiff(followersTarget, new Set(['email'])).text)).toBe(
      `INSERT INTO "public"."followers" ("email", "full_name", "modified_at") SELECT d."c1", d."c2", now() FROM pg_temp.etl_diff AS d WHERE d.etl_op = 'I' ORDER BY d."c1" COLLATE "C"`,
    );
    expect(oneLine(countDiff(followersTarget).text)).toContain(
      `count(*) FILTER (WHERE etl_op = 'D' AND ("c1" IS NULL))::bigint AS gone_null_key`,
    );
    expect(deleteNullKeys(followersTarget).text).toBe(`DELETE FROM "public"."followers" AS t WHERE t."email" IS NULL`);
    // a table of keys only has nothing to rewrite
    expect(updateDiff({ ...followersTarget, columns: followersTarget.columns.slice(0, 1) })).toBeUndefined();
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
    const marked: TargetSpec = { ...hostile, deleteWhen: { field: 'd', op: '=', value: 'true' } };
    const sql = [
      createDiff(hostile, loadId),
      deleteDiff(hostile),
      updateDiff(hostile)!,
      insertDiff(hostile),
      deleteAbsent(hostile, loadId),
      deleteMarkedLast(marked, loadId)!,
    ]
      .map((s) => s.text)
      .join('\n');
    expect(sql).toContain('"we""ird"."Select; DROP TABLE x; --"');
    expect(sql).toContain('t."Key Col" = s."c1"::integer');
    expect(sql).toContain('"order" = d."c2"');
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
