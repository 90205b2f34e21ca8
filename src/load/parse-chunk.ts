/**
 * Worker-side parsing: one chunk of whole CSV records (cut by source/splitter.ts) becomes COPY text
 * for staging plus the rejected rows with their file line numbers. Pure: no I/O.
 */
import { parse } from 'csv-parse/sync';
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

export function parseChunk(data: Buffer | string, startLine: number, layout: ChunkLayout): ParsedChunk {
  const skipped: { raw: string; reason: string }[] = [];
  const records = parse(data, {
    delimiter: layout.delimiter,
    quote: layout.quote,
    escape: layout.quote,
    raw: true,
    bom: false,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error, raw) => {
      skipped.push({ raw: raw ?? '', reason: error?.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is never closed' : (error?.message ?? 'unparseable record') });
      return undefined;
    },
  }) as unknown as { record: string[]; raw: string }[];

  const fns = normalizers(layout.columns);
  const rejects: Reject[] = [];
  const values: string[] = new Array<string>(layout.columns.length);
  let copyText = '';
  let rows = 0;
  let seen = 0;
  let line = startLine;

  for (const { record, raw } of records) {
    const blank = leadingBlankLines(raw);
    const recordLine = line + blank.lines;
    line += countNewlines(raw);
    if (record.every((f) => f.trim() === '')) continue; // a line of only spaces or delimiters
    seen += 1;
    if (record.length !== layout.fieldCount) {
      rejects.push({
        line: recordLine,
        raw: withoutLineEnd(blank.text),
        reason: `expected ${layout.fieldCount} fields, found ${record.length}`,
      });
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
      rejects.push({ line: recordLine, raw: withoutLineEnd(blank.text), reason });
      continue;
    }
    copyText += copyLine(values, recordLine);
    rows += 1;
  }
  for (const skip of skipped) {
    const blank = leadingBlankLines(skip.raw);
    seen += 1;
    rejects.push({ line: line + blank.lines, raw: withoutLineEnd(blank.text), reason: skip.reason });
  }
  return { copyText, rows, records: seen, rejects };
}
