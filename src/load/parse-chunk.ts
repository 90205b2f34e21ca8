/**
 * Worker-side CSV parsing: one chunk of whole records (cut by source/splitter.ts) becomes COPY text
 * for staging plus the rejected rows with their file line numbers. Pure: no I/O.
 */
import { isUtf8 } from 'node:buffer';
import { parse, type Options } from 'csv-parse/sync';
import { CsvByteStager } from './csv-bytes.js';
import { forEachRecord, textAfterClosingQuote } from './fast-csv.js';
import type { CsvLayout, ParsedChunk, RecordIndex } from './layout.js';
import { RowStager } from './row-stager.js';

export type { CsvLayout, ParsedChunk, RecordIndex } from './layout.js';

const PARSE_OPTIONS: Options = {
  relax_column_count: true,
  relax_quotes: true,
  skip_empty_lines: true,
  skip_records_with_error: true,
  bom: false,
  // LF, CRLF and a lone CR end records, exactly as the splitter cuts them.
  record_delimiter: ['\r\n', '\n', '\r'],
};

export const INVALID_TEXT = "not valid text in the file's encoding (an invalid byte sequence); check --encoding";

/** Which records hold bytes that are not UTF-8 (the decoder marks a source's invalid bytes so). */
function invalidRecords(data: Buffer, index: RecordIndex): Set<number> | undefined {
  if (isUtf8(data)) return undefined;
  const bad = new Set<number>();
  for (let i = 0; i < index.lines.length; i += 1)
    if (!isUtf8(data.subarray(index.starts[i], index.ends[i]))) bad.add(i);
  return bad;
}

/**
 * Parses a chunk. Line numbers and raw text come from the splitter's record index; fields come from
 * the fast splitter for well-formed text, else from csv-parse. When the record counts disagree with
 * the index (malformed quoting), the chunk is parsed again with csv-parse's raw text to number the
 * lines itself.
 */
export function parseChunk(data: Buffer, startLine: number, layout: CsvLayout, index?: RecordIndex): ParsedChunk {
  if (index) {
    const parsed = parseFast(data, layout, index) ?? parseWithCsvParse(data, layout, index);
    if (parsed) return parsed;
  }
  return parseNumberingLines(data, startLine, layout);
}

const rawText = (data: Buffer, index: RecordIndex) => (i: number) =>
  data.toString('utf8', index.starts[i], index.ends[i]);

let cachedByteStager: { key: string; stager: CsvByteStager | undefined } | undefined;

/** Layouts arrive as fresh copies with every task, so the byte stager is cached by their content. */
function byteStager(layout: CsvLayout): CsvByteStager | undefined {
  const key = JSON.stringify(layout);
  if (cachedByteStager?.key !== key) cachedByteStager = { key, stager: CsvByteStager.for(layout) };
  return cachedByteStager.stager;
}

/** The fast path; undefined when the text needs csv-parse. */
function parseFast(data: Buffer, layout: CsvLayout, index: RecordIndex): ParsedChunk | undefined {
  const rawOf = rawText(data, index);
  const invalid = invalidRecords(data, index);
  const stager = new RowStager(layout, data.length);
  const bytes = invalid ? undefined : byteStager(layout);
  if (bytes) return parseRecordByRecord(data, layout, index, stager, bytes);
  let i = 0;
  const complete = forEachRecord(data.toString('utf8'), layout.delimiter, layout.quote, (record) => {
    if (i < index.lines.length) {
      if (invalid?.has(i)) stager.reject(index.lines[i], rawOf(i), INVALID_TEXT);
      else stageRecord(stager, record, layout, index.lines[i], i, rawOf);
    }
    i += 1;
  });
  return complete && i === index.lines.length ? stager.result() : undefined;
}

/**
 * Each record through the byte path, or, when it needs judgement, through the string path on its
 * own text; undefined when that text needs csv-parse. A record split alone gives the same fields as
 * in its chunk: the splitter cut it by the same quoting rules.
 */
function parseRecordByRecord(
  data: Buffer,
  layout: CsvLayout,
  index: RecordIndex,
  stager: RowStager,
  bytes: CsvByteStager,
): ParsedChunk | undefined {
  const { lines, starts, ends } = index;
  for (let i = 0; i < lines.length; i += 1) {
    if (bytes.stage(data, starts[i], ends[i], lines[i], stager.copy)) {
      stager.stagedDirectly();
      continue;
    }
    const text = data.toString('utf8', starts[i], ends[i]);
    let records = 0;
    const complete = forEachRecord(text, layout.delimiter, layout.quote, (record) => {
      records += 1;
      if (records === 1) stageRecord(stager, record, layout, lines[i], i, () => text);
    });
    if (!complete || records !== 1) return undefined;
  }
  return stager.result();
}

/** csv-parse with the splitter's index; undefined when its records do not match the index. */
export function parseWithCsvParse(data: Buffer, layout: CsvLayout, index: RecordIndex): ParsedChunk | undefined {
  const rawOf = rawText(data, index);
  const invalid = invalidRecords(data, index);
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
  if (failed || records.length !== index.lines.length) return undefined;
  return stageRecords(
    records,
    layout,
    (i) => index.lines[i],
    rawOf,
    data.length,
    (i) => (invalid?.has(i) ? INVALID_TEXT : quotingProblem(rawOf(i), layout)),
  ).result();
}

function stageRecord(
  stager: RowStager,
  record: string[],
  layout: CsvLayout,
  line: number,
  i: number,
  rawOf: (i: number) => string,
): void {
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
  problemOf: (i: number) => string | undefined,
): RowStager {
  const stager = new RowStager(layout, expectedBytes);
  for (let i = 0; i < records.length; i += 1) {
    const problem = problemOf(i);
    if (problem === undefined) stageRecord(stager, records[i], layout, lineOf(i), i, rawOf);
    else stager.reject(lineOf(i), rawOf(i), problem);
  }
  return stager;
}

/**
 * csv-parse (relax_quotes) keeps text after a closing quote as data; the documented rule refuses it,
 * as the fast path does by giving the record to this path.
 */
function quotingProblem(raw: string, layout: CsvLayout): string | undefined {
  const field = textAfterClosingQuote(raw, layout.delimiter, layout.quote);
  if (field === 0) return undefined;
  return `field ${field} has text after its closing quote; a quoted field must end at the quote (write "" for a quote inside it, or quote the whole field)`;
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
  let start = 0;
  while (start < raw.length && (raw[start] === '\n' || raw[start] === '\r')) start += 1;
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

  const invalidBytes = !isUtf8(data);
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
    // Without an index, a record with invalid bytes is told by the U+FFFD they decode to.
    (i) => (invalidBytes && raws[i].includes('\uFFFD') ? INVALID_TEXT : quotingProblem(raws[i], layout)),
  );
  for (const skip of skipped) {
    const blank = leadingBlankLines(skip.raw);
    stager.reject(line + blank.lines, withoutLineEnd(blank.text), skip.reason);
  }
  return stager.result();
}
