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
  const both = (text: string, chunkLayout: CsvLayout = layout) => {
    const chunk = indexOf(text);
    const index = { lines: chunk.recordLines, starts: chunk.recordStarts, ends: chunk.recordEnds };
    // Each worker reuses one COPY buffer, so take the bytes out before the next call.
    const auto = parseChunk(chunk.data, chunk.startLine, chunkLayout, index);
    const fast = { ...auto, copy: auto.copy.toString() };
    const slow = parseWithCsvParse(chunk.data, chunkLayout, index);
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

  // Issue 12: the byte path (csv-bytes.ts) checks the followers rules and text columns on the bytes
  // and hands every record it is unsure of to the string path; csv-parse's path stays the reference.
  const typedLayout: CsvLayout = {
    format: 'csv',
    delimiter: ',',
    quote: '"',
    fieldCount: 4,
    fieldIndexes: [2, 0, 1, 3],
    columns: [
      { name: 'id', sqlType: 'integer', source: 'id', rule: { kind: 'typed', type: 'integer', nullable: true } },
      {
        name: 'code',
        sqlType: 'varchar(3)',
        source: 'code',
        rule: { kind: 'typed', type: 'varchar(3)', nullable: false },
      },
      { name: 'note', sqlType: 'text', source: 'note', rule: { kind: 'typed', type: 'text', nullable: true } },
      {
        name: 'name',
        sqlType: 'text',
        source: 'name',
        rule: { kind: 'text', maxLength: 4, trim: true, allowEmpty: false },
      },
    ],
    keys: ['id'],
  };
  it('gives the same rows and rejects on the byte path as on the string path', () => {
    const { fast, slow } = both(
      'A@X.Org ,"Ann ""A"" \\ B"\n\u00a0b@x.org,Bo\nc@x.org,Bo\u3000\nd@x.org,\ufeffJo\ne@x.org,José\u2009\n' +
        'f@x.org,"x\ty\r\nz"\ng@x.org,\u00e9\u00a0\nh@x.org,\u0000\ni@x@x.org,I\nj@x.org,' +
        'x'.repeat(256) +
        '\nk@x.org,\u1680\n',
      layout,
    );
    expect(slow).toEqual(fast);
    expect(fast.copy).toBe(
      'a@x.org\tAnn "A" \\\\ B\t1\nb@x.org\tBo\t2\nc@x.org\tBo\t3\nd@x.org\tJo\t4\ne@x.org\tJosé\t5\n' +
        'f@x.org\tx\\ty\\r\\nz\t6\ng@x.org\té\t8\n',
    );
    expect(fast.rejects.map((r) => r.line)).toEqual([9, 10, 11, 12]);
  });

  it.each([
    ['followers', layout],
    ['typed', typedLayout],
  ])('agree on rows, lines and rejects for any text with the %s columns', (_name, chunkLayout) => {
    const piece = fc.constantFrom(
      'a@x.org',
      'B@Y.ORG',
      '12',
      '-',
      'Ann',
      'Ünal',
      ' ',
      '\u00a0',
      '\u3000',
      '\ufeff',
      '\u2009',
      '\u00e9',
      '@',
      ',',
      '"',
      '""',
      '"q"',
      '"x,y"',
      '\n',
      '\r\n',
      '\t',
      '\\',
      '\u0000',
      '\u0001',
      'abcdefgh',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join('');
        if (indexOf(text) === undefined) return;
        const { fast, slow } = both(text, chunkLayout);
        if (slow !== undefined) expect(slow).toEqual(fast);
      }),
      { numRuns: 3000 },
    );
  });
});
