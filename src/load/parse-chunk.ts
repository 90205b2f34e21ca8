/**
 * Worker-side parsing: one chunk of whole CSV records (cut by source/splitter.ts) becomes COPY text
 * for staging plus the rejected rows with their file line numbers. Pure: no I/O.
 */
import { parse, type Options } from 'csv-parse/sync';
import { normalizerFor, type Normalizer } from '../target/rules.js';
import type { ColumnSpec } from '../target/spec.js';
import { copyLine } from './copy-text.js';

export interface ChunkLayout {
  delimiter: string;
  quote: string;
  /** Fields every record must have (the header's width, or the column count without a header). */
  fieldCount: number;
  /** For each target column, the index of the field that feeds it. */
  fieldIndexes: number[];
  columns: readonly ColumnSpec[];
}

export interface Reject {
  line: number;
  raw: string;
  reason: string;
}

export interface ParsedChunk {
  copyText: string;
  /** Valid rows in copyText. */
  rows: number;
  /** Non-blank records seen (valid + rejected). */
  records: number;
  rejects: Reject[];
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
  const prefix = raw.slice(0, start);
  return { lines: countNewlines(prefix), text: raw.slice(start) };
}

function withoutLineEnd(text: string): string {
  return text.replace(/\r?\n?$/u, '').replace(/\r$/u, '');
}

let cachedNormalizers: { columns: readonly ColumnSpec[]; fns: Normalizer[] } | undefined;

function normalizers(columns: readonly ColumnSpec[]): Normalizer[] {
  if (cachedNormalizers?.columns !== columns) {
    cachedNormalizers = { columns, fns: columns.map((c) => normalizerFor(c.name, c.rule)) };
  }
  return cachedNormalizers.fns;
}

/** Where each record of a chunk starts (line) and lies (bytes), as found by the splitter. */
export interface RecordIndex {
  lines: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
}

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
 * Parses a chunk. The fast path takes line numbers and raw text from the splitter's record index
 * and lets csv-parse only split fields; when the two disagree on the number of records (malformed
 * quoting), the chunk is parsed again with csv-parse's raw text to number the lines itself.
 */
export function parseChunk(data: Buffer, startLine: number, layout: ChunkLayout, index?: RecordIndex): ParsedChunk {
  if (index) {
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
    }) as string[][];
    if (!failed && records.length === index.lines.length) return validate(records, layout, (i) => index.lines[i]!, (i) => data.toString('utf8', index.starts[i]!, index.ends[i]!));
  }
  return parseNumberingLines(data, startLine, layout);
}

function validate(records: string[][], layout: ChunkLayout, lineOf: (i: number) => number, rawOf: (i: number) => string): ParsedChunk {
  const fns = normalizers(layout.columns);
  const rejects: Reject[] = [];
  const values: string[] = new Array<string>(layout.columns.length);
  let copyText = '';
  let rows = 0;
  let seen = 0;
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i]!;
    if (isBlank(record)) continue;
    seen += 1;
    if (record.length !== layout.fieldCount) {
      rejects.push({ line: lineOf(i), raw: rawOf(i), reason: `expected ${layout.fieldCount} fields, found ${record.length}` });
      continue;
    }
    let reason: string | undefined;
    for (let c = 0; c < fns.length; c += 1) {
      const result = fns[c]!(record[layout.fieldIndexes[c]!]!);
      if (!result.ok) {
        reason = result.reason;
        break;
      }
      values[c] = result.value;
    }
    if (reason !== undefined) {
      rejects.push({ line: lineOf(i), raw: rawOf(i), reason });
      continue;
    }
    copyText += copyLine(values, lineOf(i));
    rows += 1;
  }
  return { copyText, rows, records: seen, rejects };
}

/** A line of only spaces or delimiters is a blank line, not a row. */
function isBlank(record: string[]): boolean {
  for (const f of record) if (f.trim() !== '') return false;
  return true;
}

function parseNumberingLines(data: Buffer, startLine: number, layout: ChunkLayout): ParsedChunk {
  const skipped: { raw: string; reason: string }[] = [];
  const records = parse(data, {
    ...PARSE_OPTIONS,
    delimiter: layout.delimiter,
    quote: layout.quote,
    escape: layout.quote,
    raw: true,
    on_skip: (error, raw) => {
      skipped.push({ raw: raw ?? '', reason: error?.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is never closed' : (error?.message ?? 'unparseable record') });
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
  const result = validate(records.map((r) => r.record), layout, (i) => lines[i]!, (i) => raws[i]!);
  for (const skip of skipped) {
    const blank = leadingBlankLines(skip.raw);
    result.records += 1;
    result.rejects.push({ line: line + blank.lines, raw: withoutLineEnd(blank.text), reason: skip.reason });
  }
  return result;
}
