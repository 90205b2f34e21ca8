import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordSplitter, type Chunk } from '../../src/source/splitter.js';

function split(text: string, recordsPerChunk: number, pieceSize = 3, firstChunkRecords?: number): Chunk[] {
  const s = new RecordSplitter({
    delimiter: 44,
    quote: 34,
    recordsPerChunk,
    chunkBytes: 1 << 20,
    maxRecordBytes: 1 << 20,
    onTooLarge: 'fail',
    label: 'test.csv',
    firstChunkRecords,
  });
  const bytes = Buffer.from(text);
  const out: Chunk[] = [];
  for (let i = 0; i < bytes.length; i += pieceSize) out.push(...s.push(bytes.subarray(i, i + pieceSize)));
  out.push(...s.finish());
  return out;
}

const view = (chunks: Chunk[]) =>
  chunks.map((c) => ({ text: c.data.toString(), startLine: c.startLine, records: c.records }));

describe('RecordSplitter', () => {
  // Issue 9, item 9: the bytes of a long record arrive in many reads; each read is scanned once.
  it('reads a record that arrives one byte at a time', () => {
    const long = 'x'.repeat(5000);
    expect(view(split(`a,${long}\r\nb,2\rc,3`, 1, 1))).toEqual([
      { text: `a,${long}\r\n`, startLine: 1, records: 1 },
      { text: 'b,2\r', startLine: 2, records: 1 },
      { text: 'c,3', startLine: 3, records: 1 },
    ]);
  });

  // Item 10: a chunk is cut by bytes as well as by records.
  it('cuts a chunk once it passes the byte size, whatever the record count', () => {
    const s = new RecordSplitter({
      delimiter: 44,
      quote: 34,
      recordsPerChunk: 1000,
      chunkBytes: 10,
      maxRecordBytes: 1 << 20,
      onTooLarge: 'fail',
      label: 'test.csv',
    });
    const chunks = [...s.push(Buffer.from('aaaa,1\nbbbb,2\ncccc,3\nd,4\n')), ...s.finish()];
    expect(chunks.map((c) => [c.data.toString(), c.records])).toEqual([
      ['aaaa,1\nbbbb,2\n', 2],
      ['cccc,3\nd,4\n', 2],
    ]);
  });

  // Item 11: a record over the maximum is skipped, never held, and reported with its real length.
  it('skips a record over the maximum size, keeping its first bytes and its line', () => {
    const s = new RecordSplitter({
      delimiter: 44,
      quote: 34,
      recordsPerChunk: 1000,
      chunkBytes: 1 << 20,
      maxRecordBytes: 1024,
      onTooLarge: 'skip',
      label: 'test.csv',
    });
    const input = Buffer.from(`a,1\nb,"${'y\n'.repeat(3000)}"\nc,3\n`);
    const chunks: Chunk[] = [];
    for (let i = 0; i < input.length; i += 100) chunks.push(...s.push(input.subarray(i, i + 100)));
    chunks.push(...s.finish());
    expect(
      chunks.map((c) => [c.data.toString(), c.startLine, c.tooLarge?.map((t) => [t.line, t.bytes, t.head.length])]),
    ).toEqual([
      ['a,1\n', 1, undefined],
      ['', 2, [[2, 6004, 1024]]],
      ['c,3\n', 3003, undefined],
    ]);
  });

  it('cuts after every N records, however the bytes arrive', () => {
    for (const piece of [1, 2, 5, 100]) {
      expect(view(split('a,1\nb,2\nc,3\n', 2, piece))).toEqual([
        { text: 'a,1\nb,2\n', startLine: 1, records: 2 },
        { text: 'c,3\n', startLine: 3, records: 1 },
      ]);
    }
  });

  it('never cuts inside a quoted field, and counts the lines inside it', () => {
    expect(view(split('a,"x\ny"\nb,"p ""q"" \n r"\nc,3\n', 1))).toEqual([
      { text: 'a,"x\ny"\n', startLine: 1, records: 1 },
      { text: 'b,"p ""q"" \n r"\n', startLine: 3, records: 1 },
      { text: 'c,3\n', startLine: 5, records: 1 },
    ]);
  });

  it('treats a quote inside an unquoted field as literal, as the parser does', () => {
    expect(view(split('a,b"c\nd,e\n', 1))).toEqual([
      { text: 'a,b"c\n', startLine: 1, records: 1 },
      { text: 'd,e\n', startLine: 2, records: 1 },
    ]);
  });

  it('does not count blank lines as records, and drops those before a chunk', () => {
    expect(view(split('\n\na,1\n\r\nb,2\n\n', 1))).toEqual([
      { text: 'a,1\n', startLine: 3, records: 1 },
      { text: 'b,2\n', startLine: 5, records: 1 },
    ]);
  });

  it('cuts the header off on its own, then uses the batch size', () => {
    expect(view(split('email,name\na,1\nb,2\nc,3\n', 5, 4, 1))).toEqual([
      { text: 'email,name\n', startLine: 1, records: 1 },
      { text: 'a,1\nb,2\nc,3\n', startLine: 2, records: 3 },
    ]);
  });

  it('returns a last record without a line end', () => {
    expect(view(split('a,1\nb,2', 10))).toEqual([{ text: 'a,1\nb,2', startLine: 1, records: 2 }]);
  });

  it('fails with the line of a quote that is never closed instead of buffering the whole file', () => {
    const s = new RecordSplitter({
      delimiter: 44,
      quote: 34,
      recordsPerChunk: 10,
      chunkBytes: 1 << 20,
      maxRecordBytes: 64,
      onTooLarge: 'fail',
      label: 'test.csv',
    });
    s.push(Buffer.from('a,1\nb,"open\n'));
    // Chunks completed before are handed on first: the failure comes at the next read.
    expect(s.push(Buffer.from('x'.repeat(100)))).toEqual([]);
    expect(() => s.finish()).toThrow(
      /test\.csv, line 2: a record is larger than the maximum record size of 64 bytes .*quoted field opened at line 2/,
    );
  });

  // Whole lines without quotes are found by native searches; a byte at a time, never: both must
  // cut the same chunks, lines and record ranges, and skip the same too-large records.
  it('cuts the same records whether lines arrive whole or a byte at a time', () => {
    const piece = fc.constantFrom('a', 'bb', ',', '"', '""', '\n', '\r', '\r\n', 'x'.repeat(20), 'é');
    const full = (chunks: Chunk[]) =>
      chunks.map((c) => ({
        ...view([c])[0],
        lines: [...c.recordLines],
        starts: [...c.recordStarts],
        ends: [...c.recordEnds],
        tooLarge: c.tooLarge?.map((t) => [t.line, t.bytes]),
      }));
    const run = (text: string, pieceSize: number) => {
      const s = new RecordSplitter({
        delimiter: 44,
        quote: 34,
        recordsPerChunk: 3,
        chunkBytes: 1 << 20,
        maxRecordBytes: 24,
        onTooLarge: 'skip',
        label: 'test.csv',
      });
      const bytes = Buffer.from(text);
      const out: Chunk[] = [];
      for (let i = 0; i < bytes.length; i += pieceSize) out.push(...s.push(bytes.subarray(i, i + pieceSize)));
      return full([...out, ...s.finish()]);
    };
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 2, max: 64 }), (pieces, size) => {
        const text = pieces.join('');
        const oneByte = run(text, 1);
        expect(run(text, 1 << 20)).toEqual(oneByte);
        expect(run(text, size)).toEqual(oneByte);
      }),
      { numRuns: 2000 },
    );
  });
});
