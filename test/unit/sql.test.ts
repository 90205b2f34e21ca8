import { describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral, quoteTable } from '../../src/db/quote.js';
import {
  copyInto,
  createPartition,
  deleteAbsent,
  insertNew,
  partitionName,
  updateChanged,
} from '../../src/merge/sql.js';
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
      /DELETE FROM "public"\."followers" AS t\s+WHERE NOT EXISTS \(SELECT 1 FROM "public"\."staging_followers_0b7c6a528f4e4c7e9a573f0d2a1b9c11" AS s WHERE t\."email" = s\."email"\)/,
    );
    expect(sql).not.toMatch(/last_activity|modified_at/);
  });

  it('updates only rows whose values differ and stamps modified_at', () => {
    const sql = updateChanged(followersTarget, loadId)!.text;
    expect(sql).toMatch(/SET "full_name" = s\."full_name", "modified_at" = now\(\)/);
    expect(sql).toMatch(/ROW\(t\."full_name"\) IS DISTINCT FROM ROW\(s\."full_name"\)/);
  });

  it('inserts only new keys', () => {
    expect(insertNew(followersTarget, loadId).text).toMatch(
      /INSERT INTO "public"\."followers" \("email", "full_name", "modified_at"\)\s+SELECT s\."email", s\."full_name", now\(\)/,
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
    const sql = [deleteAbsent(hostile, loadId), updateChanged(hostile, loadId)!, insertNew(hostile, loadId)]
      .map((s) => s.text)
      .join('\n');
    expect(sql).toContain('"we""ird"."Select; DROP TABLE x; --"');
    expect(sql).toContain('"Key Col"');
    expect(sql).toContain('s."Key Col"::integer');
    expect(copyInto(hostile, loadId)).toBe(
      `COPY "public"."stage""_0b7c6a528f4e4c7e9a573f0d2a1b9c11" ("Key Col", "order", line) FROM STDIN`,
    );
  });

  it('keeps partition names within 63 bytes and refuses a load id that is not a UUID', () => {
    const long = { ...followersTarget, stagingTable: 'x'.repeat(80) };
    expect(Buffer.byteLength(partitionName(long, loadId))).toBeLessThanOrEqual(63);
    expect(() => createPartition(followersTarget, "x'); DROP TABLE followers; --")).toThrow(/not a load id/);
  });
});
