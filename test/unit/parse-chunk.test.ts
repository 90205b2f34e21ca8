import { describe, expect, it } from 'vitest';
import { parseChunk, type ChunkLayout } from '../../src/load/parse-chunk.js';
import { followersTarget } from '../../src/target/followers.js';

const layout: ChunkLayout = { delimiter: ',', quote: '"', fieldCount: 2, fieldIndexes: [0, 1], columns: followersTarget.columns };

describe('parseChunk', () => {
  it('turns valid records into COPY text with their line numbers, escaping tabs, newlines and backslashes', () => {
    const r = parseChunk(Buffer.from('Ann@X.org ,"A\tB"\nbob@x.org,"C\\D\nE"\n'), 10, layout);
    expect(r.copyText).toBe('ann@x.org\tA\\tB\t10\nbob@x.org\tC\\\\D\\nE\t11\n');
    expect(r).toMatchObject({ rows: 2, records: 2, rejects: [] });
  });

  it('numbers lines across blank lines and CRLF line ends', () => {
    const r = parseChunk(Buffer.from('\r\n\r\na@x.org,"A\r\nB"\r\n\r\nb@x.org,B\r\n'), 1, layout);
    expect(r.copyText).toBe('a@x.org\tA\\r\\nB\t3\nb@x.org\tB\t6\n');
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
    expect(r).toMatchObject({ rows: 1, records: 1, rejects: [], copyText: 'a@x.org\tA\t3\n' });
  });

  it('maps fields by the header positions', () => {
    const r = parseChunk(Buffer.from('x,Ann,ann@x.org\n'), 2, { ...layout, fieldCount: 3, fieldIndexes: [2, 1] });
    expect(r.copyText).toBe('ann@x.org\tAnn\t2\n');
  });
});
