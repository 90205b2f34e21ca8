/**
 * The byte path: one CSV record, cut by the splitter, turned into its COPY row straight from the
 * chunk's bytes, with no string per field or per row. For the common column rules (the followers
 * rules and text columns) the checks run on the bytes; any other column's field is decoded and goes
 * through its normalizer as usual.
 *
 * It only takes records it is sure of. Anything that needs judgement (a field count that does not
 * match, malformed quoting, a value its rule refuses, text to trim, a non-ASCII e-mail address) makes
 * stage() write nothing and return false, and the record goes to the string path (parse-chunk.ts),
 * which stays the reference: both give the same row, and only the string path rejects.
 */
import { parseColumnType } from '../table/column-type.js';
import { normalizerFor, type Normalizer } from '../table/rules.js';
import type { ColumnRule } from '../table/spec.js';
import { escapeCopyValue, type CopyBuffer } from './copy-text.js';
import type { CsvLayout } from './layout.js';

/** A field's bytes: a quoted field's content holds "" pairs; a high field has non-ASCII bytes. */
const ESCAPED = 1;
const HIGH = 2;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const AT = 0x40;

/** Writes a field's value from src[start, end) at out's end; false when the record needs the string path. */
type FieldWriter = (src: Buffer, start: number, end: number, flags: number, out: CopyBuffer) => boolean;

/** ASCII whitespace as JavaScript's trim() and \s see it: tab, LF, VT, FF, CR and space. */
const isAsciiSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * Whether the text from `start` begins with a character trim() removes. Beyond ASCII those are
 * U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 and U+FEFF.
 */
function startsWithSpace(src: Buffer, start: number, end: number): boolean {
  if (start >= end) return false;
  const b = src[start];
  if (b < 0x80) return isAsciiSpace(b);
  const b1 = start + 1 < end ? src[start + 1] : -1;
  const b2 = start + 2 < end ? src[start + 2] : -1;
  return isUnicodeSpace(b, b1, b2);
}

/** Whether the text ending before `end` ends with a character trim() removes. */
function endsWithSpace(src: Buffer, start: number, end: number): boolean {
  if (start >= end) return false;
  const last = src[end - 1];
  if (last < 0x80) return isAsciiSpace(last);
  if (end - start >= 2 && src[end - 2] === 0xc2) return last === 0xa0;
  return end - start >= 3 && isUnicodeSpace(src[end - 3], src[end - 2], last);
}

/** The UTF-8 sequences of the non-ASCII characters trim() removes (see startsWithSpace). */
function isUnicodeSpace(b0: number, b1: number, b2: number): boolean {
  switch (b0) {
    case 0xc2:
      return b1 === 0xa0;
    case 0xe1:
      return b1 === 0x9a && b2 === 0x80;
    case 0xe2:
      return (
        (b1 === 0x80 && ((b2 >= 0x80 && b2 <= 0x8a) || b2 === 0xa8 || b2 === 0xa9 || b2 === 0xaf)) ||
        (b1 === 0x81 && b2 === 0x9f)
      );
    case 0xe3:
      return b1 === 0x80 && b2 === 0x80;
    case 0xef:
      return b1 === 0xbb && b2 === 0xbf;
    default:
      return false;
  }
}

/**
 * Copies a field's bytes in COPY text form ("" pairs made one quote; backslash, tab, LF and CR
 * escaped). False when it holds a NUL (text cannot) or more than `maxLength` characters (code
 * points, as varchar(n) counts them).
 */
function copyText(
  src: Buffer,
  start: number,
  end: number,
  flags: number,
  out: CopyBuffer,
  maxLength: number,
  quote: number,
): boolean {
  // Escaping at most doubles each byte.
  const buf = out.reserve(2 * (end - start));
  const escaped = (flags & ESCAPED) !== 0;
  let at = out.end;
  let chars = 0;
  for (let i = start; i < end; i += 1) {
    let b = src[i];
    if (b < 0x20 || b === BACKSLASH) {
      if (b === 0) return false;
      if (b === BACKSLASH || b === TAB || b === LF || b === CR) {
        buf[at++] = BACKSLASH;
        b = b === BACKSLASH ? BACKSLASH : b === TAB ? 0x74 : b === LF ? 0x6e : 0x72;
      }
    } else if (b === quote && escaped) i += 1;
    if ((b & 0xc0) !== 0x80) chars += 1;
    buf[at++] = b;
  }
  if (chars > maxLength) return false;
  out.end = at;
  return true;
}

/** The followers text rule: trimmed text (here: text with nothing to trim), empty only when allowed. */
function textRule(maxLength: number, trim: boolean, allowEmpty: boolean, quote: number): FieldWriter {
  return (src, start, end, flags, out) => {
    if (trim && (startsWithSpace(src, start, end) || endsWithSpace(src, start, end))) return false;
    if (start === end && !allowEmpty) return false;
    return copyText(src, start, end, flags, out, maxLength, quote);
  };
}

/**
 * The followers email rule for an ASCII address without quotes: trimmed, lowercased, one @ with
 * text on both sides, no whitespace, at most 255 characters; checked while it is copied. Anything
 * else is the string path's to judge.
 */
function emailRule(): FieldWriter {
  return (src, start, end, flags, out) => {
    if (flags !== 0) return false;
    let from = start;
    let to = end;
    while (from < to && isAsciiSpace(src[from])) from += 1;
    while (to > from && isAsciiSpace(src[to - 1])) to -= 1;
    if (from === to || to - from > 255) return false;
    const buf = out.reserve(2 * (to - from));
    let at = out.end;
    let atSign = -1;
    for (let i = from; i < to; i += 1) {
      let b = src[i];
      if (b <= 0x20 || b === BACKSLASH) {
        if (b !== BACKSLASH) return false; // whitespace or a control character: the string path says which
        buf[at++] = BACKSLASH;
      } else if (b === AT) {
        if (atSign >= 0) return false;
        atSign = i;
      } else if (b >= 0x41 && b <= 0x5a) b += 0x20;
      buf[at++] = b;
    }
    if (atSign <= from || atSign === to - 1) return false;
    out.end = at;
    return true;
  };
}

/** Any other rule: the field decoded as text, through the column's normalizer, written as its result. */
function normalizedRule(normalize: Normalizer, quote: string): FieldWriter {
  return (src, start, end, flags, out) => {
    let text = src.toString(flags & HIGH ? 'utf8' : 'latin1', start, end);
    if (flags & ESCAPED) text = text.replaceAll(quote + quote, quote);
    const result = normalize(text);
    if (!result.ok) return false;
    const value = result.value === null ? '\\N' : escapeCopyValue(result.value);
    out.end += out.reserve(value.length * 3).write(value, out.end, 'utf8');
    return true;
  };
}

function fieldWriter(name: string, rule: ColumnRule, quote: string): FieldWriter {
  const q = quote.charCodeAt(0);
  switch (rule.kind) {
    case 'email':
      return emailRule();
    case 'text':
      return textRule(rule.maxLength ?? Infinity, rule.trim, rule.allowEmpty, q);
    case 'typed': {
      // text, varchar(n) and char(n) keep the field as written, checked for NUL and length.
      const type = parseColumnType(rule.type);
      if (type.base === 'text' || type.base === 'varchar' || type.base === 'char')
        return textRule(type.length ?? Infinity, false, true, q);
      return normalizedRule(normalizerFor(name, rule, 'csv'), quote);
    }
  }
}

/** The line number in decimal, then the row's end. */
function writeLine(out: CopyBuffer, line: number): void {
  const buf = out.reserve(17);
  let digits = 1;
  for (let n = line; n >= 10; n = Math.floor(n / 10)) digits += 1;
  let at = out.end + digits;
  buf[at] = LF;
  for (let n = line; at > out.end; n = Math.floor(n / 10)) buf[--at] = 0x30 + (n % 10);
  out.end += digits + 1;
}

export class CsvByteStager {
  private readonly writers: FieldWriter[];
  private readonly fieldIndexes: readonly number[];
  private readonly fieldCount: number;
  private readonly delimiter: number;
  private readonly quote: number;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly flags: Uint8Array;

  /**
   * Layouts with a delete rule take the string path (the marker needs its own reading), as do
   * quotes that COPY text escapes (a tab or a backslash as the quote character).
   */
  static for(layout: CsvLayout): CsvByteStager | undefined {
    const quote = layout.quote.charCodeAt(0);
    if (layout.deleteWhen || quote < 0x20 || quote === BACKSLASH) return undefined;
    return new CsvByteStager(layout);
  }

  private constructor(layout: CsvLayout) {
    this.writers = layout.columns.map((c) => fieldWriter(c.name, c.rule, layout.quote));
    this.fieldIndexes = layout.fieldIndexes;
    this.fieldCount = layout.fieldCount;
    this.delimiter = layout.delimiter.charCodeAt(0);
    this.quote = layout.quote.charCodeAt(0);
    this.starts = new Int32Array(this.fieldCount);
    this.ends = new Int32Array(this.fieldCount);
    this.flags = new Uint8Array(this.fieldCount);
  }

  /** Appends the COPY row of the record src[start, end) at `line`; false, with nothing written, when it needs the string path. */
  stage(src: Buffer, start: number, end: number, line: number, out: CopyBuffer): boolean {
    if (!this.split(src, start, end)) return false;
    const rowStart = out.end;
    for (let c = 0; c < this.writers.length; c += 1) {
      const f = this.fieldIndexes[c];
      if (!this.writers[c](src, this.starts[f], this.ends[f], this.flags[f], out)) {
        out.end = rowStart;
        return false;
      }
      out.reserve(1)[out.end++] = TAB;
    }
    writeLine(out, line);
    return true;
  }

  /**
   * Finds the record's fields by the fast path's rules (fast-csv.ts): a quoted field's closing
   * quote must end it, a quote inside an unquoted field is for the string path. False unless the
   * record has exactly the expected number of fields.
   */
  private split(src: Buffer, start: number, end: number): boolean {
    const d = this.delimiter;
    const q = this.quote;
    let pos = start;
    let f = 0;
    for (;;) {
      if (f === this.fieldCount) return false;
      let flags = 0;
      let from = pos;
      let to: number;
      if (pos < end && src[pos] === q) {
        from = pos + 1;
        let i = from;
        for (;;) {
          if (i >= end) return false;
          const b = src[i];
          if (b === q) {
            if (i + 1 < end && src[i + 1] === q) {
              flags |= ESCAPED;
              i += 2;
              continue;
            }
            break;
          }
          if (b >= 0x80) flags |= HIGH;
          i += 1;
        }
        to = i;
        pos = i + 1;
        if (pos < end && src[pos] !== d) return false;
      } else {
        let i = pos;
        while (i < end) {
          const b = src[i];
          if (b === d) break;
          if (b === q) return false;
          if (b >= 0x80) flags |= HIGH;
          i += 1;
        }
        to = i;
        pos = i;
      }
      this.starts[f] = from;
      this.ends[f] = to;
      this.flags[f] = flags;
      f += 1;
      if (pos >= end) break;
      pos += 1;
    }
    return f === this.fieldCount;
  }
}
