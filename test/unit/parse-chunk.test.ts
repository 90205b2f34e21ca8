import { describe, expect, it } from 'vitest';
import { parseChunk, type CsvLayout } from '../../src/load/parse-chunk.js';
import { followersTarget } from '../../src/table/followers.js';
import { RecordSplitter } from '../../src/source/splitter.js';

const layout: CsvLayout = {
  format: 'csv',
  delimiter: ',',
  quote: '"',
  fieldCount: 2,
  fieldIndexes: [0, 1],
  columns: followersTarget.columns,
  keys: ['email'],
};

describe('parseChunk', () => {
  it('turns valid records into COPY text with their line numbers, escaping tabs, newlines and backslashes', () => {
    const r = parseChunk(Buffer.from('Ann@X.org ,"A\tB"\nbob@x.org,"C\\D\nE"\n'), 10, layout);
    expect(r.copy.toString()).toBe('ann@x.org\tA\\tB\t10\nbob@x.org\tC\\\\D\\nE\t11\n');
    expect(r).toMatchObject({ rows: 2, records: 2, rejects: [] });
  });

  it('numbers lines across blank lines and CRLF line ends', () => {
    const r = parseChunk(Buffer.from('\r\n\r\na@x.org,"A\r\nB"\r\n\r\nb@x.org,B\r\n'), 1, layout);
    expect(r.copy.toString()).toBe('a@x.org\tA\\r\\nB\t3\nb@x.org\tB\t6\n');
  });

  it('rejects records with the wrong number of fields, giving the raw text', () => {
    const r = parseChunk(Buffer.from('a@x.org\nb@x.org,B,C\n'), 5, layout);
    expect(r.rejects).toEqual([
      { line: 5, raw: 'a@x.org', reason: 'expected 2 fields, found 1' },
      { line: 6, raw: 'b@x.org,B,C', reason: 'expected 2 fields, found 3' },
    ]);
    expect(r.rows).toBe(0);
  });

  it('skips lines that hold only spaces or delimiters', () => {
    const r = parseChunk(Buffer.from('  \n,\na@x.org,A\n'), 1, layout);
    expect(r).toMatchObject({ rows: 1, records: 1, rejects: [] });
    expect(r.copy.toString()).toBe('a@x.org\tA\t3\n');
  });

  it('maps fields by the header positions', () => {
    const r = parseChunk(Buffer.from('x,Ann,ann@x.org\n'), 2, { ...layout, fieldCount: 3, fieldIndexes: [2, 1] });
    expect(r.copy.toString()).toBe('ann@x.org\tAnn\t2\n');
  });
});

describe('parseChunk with the splitter record index', () => {
  const text = 'a@x.org,"A\r\nB"\r\n\r\n  \r\nb@x.org\nc@x.org,"C ""q"""\n\nd@x.org,D,extra\ne@x.org,"open';
  const splitter = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1000, maxChunkBytes: 1 << 20 });
  const chunks = [...splitter.push(Buffer.from(text)), splitter.finish()!];
  const chunk = chunks[0];

  it('gives the same rows, lines and rejects as numbering lines from csv-parse raw text', () => {
    const index = { lines: chunk.recordLines, starts: chunk.recordStarts, ends: chunk.recordEnds };
    // Each worker reuses one COPY buffer, so take the bytes out before the next call.
    const indexed = parseChunk(chunk.data, 1, layout, index);
    const indexedCopy = indexed.copy.toString();
    const numbered = parseChunk(chunk.data, 1, layout);
    expect({ ...indexed, copy: indexedCopy }).toEqual({ ...numbered, copy: numbered.copy.toString() });
    expect(indexedCopy).toBe('a@x.org\tA\\r\\nB\t1\nc@x.org\tC "q"\t6\n');
  });

  it('takes the fast path when the record counts agree', () => {
    const clean = 'a@x.org,A\r\n\r\nb@x.org,"B\nB"\nc@x.org\n';
    const s = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1000, maxChunkBytes: 1 << 20 });
    const c = [...s.push(Buffer.from(clean)), s.finish()].filter((x) => x !== undefined)[0];
    const index = { lines: c.recordLines, starts: c.recordStarts, ends: c.recordEnds };
    expect(Array.from(c.recordLines)).toEqual([1, 3, 5]);
    const parsed = parseChunk(c.data, 1, layout, index);
    expect(parsed.copy.toString()).toBe('a@x.org\tA\t1\nb@x.org\tB\\nB\t3\n');
    expect({ ...parsed, copy: undefined }).toEqual({
      copy: undefined,
      rows: 2,
      records: 3,
      rejects: [{ line: 5, raw: 'c@x.org', reason: 'expected 2 fields, found 1' }],
    });
  });
});
