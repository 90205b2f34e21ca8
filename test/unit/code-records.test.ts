import { describe, expect, it } from 'vitest';
import { RecordChunker } from '../../src/source/code-records.js';

/** The chunk's records as text, cut by its own byte ranges. */
function linesOf(chunker: RecordChunker): string[] {
  const chunk = chunker.take();
  if (!chunk) return [];
  return Array.from(chunk.recordStarts, (start, i) => chunk.data.subarray(start, chunk.recordEnds[i]).toString('utf8'));
}

describe('RecordChunker', () => {
  it('encodes records as NDJSON lines with their byte ranges and numbers, across buffer growth', () => {
    const chunker = new RecordChunker(100_000);
    const records = Array.from({ length: 5000 }, (_, i) => ({
      email: `p${i}@example.com`,
      full_name: `Ünïcødé 名前 ${'😀'.repeat(i % 7)} "quoted", \\ ${i}`,
      active: i % 2 === 0,
      score: i / 3,
      note: null,
      gone: undefined,
    }));
    for (const r of records) expect(chunker.add(r)).toBeUndefined();
    const chunk = chunker.take();
    expect(chunk?.records).toBe(5000);
    expect(chunk?.startLine).toBe(1);
    expect(Array.from(chunk?.recordLines ?? [])).toEqual(records.map((_, i) => i + 1));
    const text = chunk?.data.toString('utf8') ?? '';
    expect(text).toBe(records.map((r) => JSON.stringify(r) + '\n').join(''));
    expect(chunker.take()).toBeUndefined();
  });

  it('encodes bigints as digits, Dates as instants and nested values as JSON', () => {
    const chunker = new RecordChunker(10);
    chunker.add({ id: 12345678901234567890n, at: new Date('2026-01-02T03:04:05.678Z'), doc: { n: [1, 2n] } });
    chunker.add({ toJSON: () => ({ a: 1 }) });
    expect(linesOf(chunker)).toEqual([
      '{"id":"12345678901234567890","at":"2026-01-02T03:04:05.678Z","doc":{"n":[1,"2"]}}',
      '{"a":1}',
    ]);
  });

  it('refuses what JSON would silently change, numbering records in write order', () => {
    const chunker = new RecordChunker(10);
    expect(chunker.add({ a: 1 })).toBeUndefined();
    expect(chunker.add({ a: Number.NaN })).toMatchObject({ line: 2, reason: '"a" is NaN, which no column can store' });
    expect(chunker.add({ a: new Date('nope') })).toMatchObject({ line: 3, reason: '"a" is an invalid Date' });
    expect(chunker.add({ a: () => 1 })).toMatchObject({ line: 4, reason: '"a" is a function, not a value' });
    expect(chunker.add('text')).toMatchObject({
      line: 5,
      reason: 'expected an object keyed by column sources, got a string',
    });
    expect(chunker.add({ b: 2 })).toBeUndefined();
    const chunk = chunker.take();
    expect(Array.from(chunk?.recordLines ?? [])).toEqual([1, 6]);
    expect(chunker.count).toBe(6);
  });

  it('starts each chunk afresh and says when one is full', () => {
    const chunker = new RecordChunker(2);
    chunker.add({ a: 'x' });
    expect(chunker.full).toBe(false);
    chunker.add({ a: 'y' });
    expect(chunker.full).toBe(true);
    const first = chunker.take();
    chunker.add({ a: 'z' });
    expect(first?.data.toString()).toBe('{"a":"x"}\n{"a":"y"}\n');
    expect(linesOf(chunker)).toEqual(['{"a":"z"}']);
  });
});
