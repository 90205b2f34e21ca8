/**
 * Worker-side CSV parsing: one chunk of whole records (cut by source/splitter.ts) becomes COPY text
 * for staging plus the rejected rows with their file line numbers. Pure: no I/O.
 */
import { parse, type Options } from 'csv-parse/sync';
import { forEachRecord } from './fast-csv.js';
import type { CsvLayout, ParsedChunk, RecordIndex } from './layout.js';
import { RowStager } from './row-stager.js';

export type { CsvLayout, ParsedChunk, RecordIndex } from './layout.js';

const PARSE_OPTIONS: Options = {
  relax_column_count: true,
  relax_quotes: true,
  skip_empty_lines: true,
  skip_records_with_error: true,
  bom: false,
  // Only LF and CRLF end records, exactly as the splitter cuts them (a stray CR is data).
  record_delimiter: ['\r\n', '\n'],
};

/**
 * Parses a chunk. Line numbers and raw text come from the splitter's record index; fields come from
 * the fast splitter for well-formed text, else from csv-parse. When the record counts disagree with
 * the index (malformed quoting), the chunk is parsed again with csv-parse's raw text to number the
 * lines itself.
 */
export function parseChunk(data: Buffer, startLine: number, layout: CsvLayout, index?: RecordIndex): ParsedChunk {
  if (index) {
    const rawOf = (i: number) => data.toString('utf8', index.starts[i], index.ends[i]);
    const fast = new RowStager(layout, data.length);
    let i = 0;
    const complete = forEachRecord(data.toString('utf8'), layout.delimiter, layout.quote, (record) => {
      if (i < index.lines.length) stageRecord(fast, record, layout, index.lines[i], i, rawOf);
      i += 1;
    });
    if (complete && i === index.lines.length) return fast.result();
    let failed = false;
    const records = parse(data, {
      ...PARSE_OPTIONS,
      delimiter: layout.delimiter,
      quote: layout.quote,
      escape: layout.quote,
      on_skip: () => {
        failed = true;
        return undefined;
      },
    });
    if (!failed && records.length === index.lines.length) {
      return stageRecords(records, layout, (i) => index.lines[i], rawOf, data.length).result();
    }
  }
  return parseNumberingLines(data, startLine, layout);
}

function stageRecord(
  stager: RowStager,
  record: string[],
  layout: CsvLayout,
  line: number,
  i: number,
  rawOf: (i: number) => string,
): void {
  if (isBlank(record)) return;
  if (record.length !== layout.fieldCount) {
    stager.reject(line, rawOf(i), `expected ${layout.fieldCount} fields, found ${record.length}`);
    return;
  }
  const indexes = layout.fieldIndexes;
  const markerIndex = layout.deleteFieldIndex;
  stager.accept(
    (c) => record[indexes[c]],
    markerIndex === undefined ? undefined : record[markerIndex],
    line,
    () => rawOf(i),
  );
}

function stageRecords(
  records: string[][],
  layout: CsvLayout,
  lineOf: (i: number) => number,
  rawOf: (i: number) => string,
  expectedBytes: number,
): RowStager {
  const stager = new RowStager(layout, expectedBytes);
  for (let i = 0; i < records.length; i += 1) stageRecord(stager, records[i], layout, lineOf(i), i, rawOf);
  return stager;
}

/** A line of only spaces or delimiters is a blank line, not a row. */
function isBlank(record: string[]): boolean {
  for (const f of record) if (f.trim() !== '') return false;
  return true;
}

/**
 * Newlines in a record's raw text. csv-parse keeps only the CR of a CRLF record delimiter in `raw`
 * (the CRLF inside a quoted field stays whole), so a CR not followed by LF also ends a line.
 */
function countNewlines(raw: string): number {
  let n = 0;
  for (let i = raw.indexOf('\n'); i >= 0; i = raw.indexOf('\n', i + 1)) n += 1;
  for (let i = raw.indexOf('\r'); i >= 0; i = raw.indexOf('\r', i + 1)) if (raw.charCodeAt(i + 1) !== 10) n += 1;
  return n;
}

/** Splits off blank lines that csv-parse prepends to the next record's raw text. */
function leadingBlankLines(raw: string): { lines: number; text: string } {
  let i = 0;
  while (i < raw.length && (raw[i] === '\n' || raw[i] === '\r' || raw[i] === ' ' || raw[i] === '\t')) i += 1;
  // Back up to the start of the line that holds content (spaces before it belong to the record).
  let start = i;
  while (start > 0 && raw[start - 1] !== '\n' && raw[start - 1] !== '\r') start -= 1;
  return { lines: countNewlines(raw.slice(0, start)), text: raw.slice(start) };
}

function withoutLineEnd(text: string): string {
  return text.replace(/\r?\n?$/u, '').replace(/\r$/u, '');
}

/** The slow path: csv-parse's raw text numbers the lines (used when the record index cannot be trusted). */
function parseNumberingLines(data: Buffer, startLine: number, layout: CsvLayout): ParsedChunk {
  const skipped: { raw: string; reason: string }[] = [];
  const records = parse(data, {
    ...PARSE_OPTIONS,
    delimiter: layout.delimiter,
    quote: layout.quote,
    escape: layout.quote,
    raw: true,
    on_skip: (error, raw) => {
      skipped.push({
        raw: raw ?? '',
        reason:
          error?.code === 'CSV_QUOTE_NOT_CLOSED'
            ? 'a quoted field is never closed'
            : (error?.message ?? 'unparseable record'),
      });
      return undefined;
    },
  }) as unknown as { record: string[]; raw: string }[];

  const lines: number[] = [];
  const raws: string[] = [];
  let line = startLine;
  for (const { raw } of records) {
    const blank = leadingBlankLines(raw);
    lines.push(line + blank.lines);
    raws.push(withoutLineEnd(blank.text));
    line += countNewlines(raw);
  }
  const stager = stageRecords(
    records.map((r) => r.record),
    layout,
    (i) => lines[i],
    (i) => raws[i],
    data.length,
  );
  for (const skip of skipped) {
    const blank = leadingBlankLines(skip.raw);
    stager.reject(line + blank.lines, withoutLineEnd(blank.text), skip.reason);
  }
  return stager.result();
}
