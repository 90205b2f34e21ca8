import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { splitRecords } from '../../src/load/fast-csv.js';

const reference = (text: string, delimiter = ',', quote = '"') =>
  parse(text, {
    delimiter,
    quote,
    escape: quote,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n', '\r'],
  });

describe('splitRecords (the fast path)', () => {
  it.each([
    [
      'a,b\nc,d\n',
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    ],
    [
      'a,"b,c"\r\n"x ""y"" z",\n',
      [
        ['a', 'b,c'],
        ['x "y" z', ''],
      ],
    ],
    ['\n\r\na,"multi\nline"\n\n', [['a', 'multi\nline']]],
    ['a,b', [['a', 'b']]],
    ['a,\n', [['a', '']]],
    // A lone CR ends a line (old Mac exports), as LF and CRLF do.
    ['a\rb,c\r', [['a'], ['b', 'c']]],
    ['\r\ra,"x\ry"\r\r\n', [['a', 'x\ry']]],
    // Only empty lines are blank: a line of spaces or delimiters is a record of empty fields.
    ['  \n', [['  ']]],
    [',,\n', [['', '', '']]],
  ])('splits %j like csv-parse', (text, records) => {
    expect(splitRecords(text, ',', '"')).toEqual(records);
    expect(reference(text)).toEqual(records);
  });

  it.each(['a,b"c\n', '"a"b,c\n', 'a,"open\n'])('leaves %j to csv-parse', (text) => {
    expect(splitRecords(text, ',', '"')).toBeUndefined();
  });

  it('agrees with csv-parse on every input it accepts', () => {
    const piece = fc.constantFrom('a', 'b', ' ', ',', ';', '"', '""', '\n', '\r\n', '\r', 'é', '\t', 'x,y', '"q"');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 40 }),
        fc.constantFrom(',', ';', '\t'),
        fc.constantFrom('"', "'"),
        (pieces, delimiter, quote) => {
          const text = pieces.join('').replaceAll('"', quote);
          const fast = splitRecords(text, delimiter, quote);
          if (fast !== undefined) expect(fast).toEqual(reference(text, delimiter, quote));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
