import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChunk, parseWithCsvParse, type CsvLayout } from '../../src/load/parse-chunk.js';
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

  // Issue 9, item 4: only an empty line is a blank line; `,,` and ` ` are records (csv-spectrum's
  // empty.csv and empty_crlf.csv hold rows of empty fields).
  it('reads lines of only spaces or delimiters as records, not blank lines', () => {
    const r = parseChunk(Buffer.from('  \n,\na@x.org,A\n\n'), 1, layout);
    expect(r.copy.toString()).toBe('a@x.org\tA\t3\n');
    expect(r).toMatchObject({
      rows: 1,
      records: 3,
      rejects: [
        { line: 1, raw: '  ', reason: 'expected 2 fields, found 1' },
        { line: 2, raw: ',', reason: 'email is empty' },
      ],
    });
  });

  it('maps fields by the header positions', () => {
    const r = parseChunk(Buffer.from('x,Ann,ann@x.org\n'), 2, { ...layout, fieldCount: 3, fieldIndexes: [2, 1] });
    expect(r.copy.toString()).toBe('ann@x.org\tAnn\t2\n');
  });
});

describe('parseChunk with the splitter record index', () => {
  const text = 'a@x.org,"A\r\nB"\r\n\r\n  \r\nb@x.org\nc@x.org,"C ""q"""\n\nd@x.org,D,extra\ne@x.org,"open';
  const limits = { chunkBytes: 1 << 20, maxRecordBytes: 1 << 20, onTooLarge: 'fail', label: 'test.csv' } as const;
  const splitter = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1000, ...limits });
  const chunks = [...splitter.push(Buffer.from(text)), ...splitter.finish()];
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
    const s = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1000, ...limits });
    const c = [...s.push(Buffer.from(clean)), ...s.finish()][0];
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

describe('the fast path and the csv-parse path', () => {
  const limits = { chunkBytes: 1 << 20, maxRecordBytes: 1 << 20, onTooLarge: 'fail', label: 'test.csv' } as const;
  const indexOf = (text: string) => {
    const s = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1 << 20, ...limits });
    const chunks = [...s.push(Buffer.from(text)), ...s.finish()];
    return chunks[0];
  };

  // Issue 9, item 3: one quoting rule on both paths. Cases after csv-spectrum (quotes_and_newlines,
  // escaped_quotes, comma_in_quotes) and the RFC 4180 section 2 examples, plus text after a closing quote.
  const both = (text: string) => {
    const chunk = indexOf(text);
    const index = { lines: chunk.recordLines, starts: chunk.recordStarts, ends: chunk.recordEnds };
    // Each worker reuses one COPY buffer, so take the bytes out before the next call.
    const auto = parseChunk(chunk.data, chunk.startLine, layout, index);
    const fast = { ...auto, copy: auto.copy.toString() };
    const slow = parseWithCsvParse(chunk.data, layout, index);
    return { fast, slow: slow && { ...slow, copy: slow.copy.toString() } };
  };

  it.each([
    ['A,"B" ,C\n', 'field 2 has text after its closing quote'],
    ['a@x.org,"b"c\n', 'field 2 has text after its closing quote'],
    ['"a@x.org"x,B\n', 'field 1 has text after its closing quote'],
  ])('refuses %j on both paths', (text, reason) => {
    const { fast, slow } = both(text);
    expect(fast.rejects.map((r) => r.reason.slice(0, reason.length))).toEqual([reason]);
    expect(slow).toEqual(fast);
  });

  it('agree on rows, lines and rejects for any text', () => {
    const piece = fc.constantFrom(
      'a@x.org',
      'b@y.org',
      'Ann',
      ' ',
      ',',
      '"',
      '""',
      '"q"',
      '"q" ',
      '"x,y"',
      '\n',
      '\r\n',
      '\r',
      'é',
      '\t',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join('');
        if (indexOf(text) === undefined) return;
        const { fast, slow } = both(text);
        // csv-parse may read an unclosed quote differently; then the worker numbers lines itself.
        if (slow !== undefined) expect(slow).toEqual(fast);
      }),
      { numRuns: 3000 },
    );
  });
});
