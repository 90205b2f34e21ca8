/**
 * A fast path for the common case: well-formed CSV (RFC 4180 quoting) split into records in one
 * pass over the chunk's text. It gives up (returns false) on anything that needs judgement (a quote
 * inside an unquoted field, text after a closing quote, a quote never closed), and the chunk then
 * goes to csv-parse, which stays the reference for every such case.
 *
 * Line ends are LF, CRLF or a lone CR, as the splitter cuts them. Only empty lines are blank lines
 * (skipped, as csv-parse's skip_empty_lines does); a line of spaces or delimiters is a record.
 */
const LF = 10;
const CR = 13;

export function splitRecords(text: string, delimiter: string, quote: string): string[][] | undefined {
  const records: string[][] = [];
  return forEachRecord(text, delimiter, quote, (fields) => records.push([...fields])) ? records : undefined;
}

/**
 * The same split, handing each record's fields to `onRecord` (in a reused array: copy what you
 * keep) so that nothing per record outlives it. Returns false when the text needs csv-parse; the
 * records already handed over must then be discarded.
 */
export function forEachRecord(
  text: string,
  delimiter: string,
  quote: string,
  onRecord: (fields: string[]) => void,
): boolean {
  const record: string[] = [];
  const d = delimiter.charCodeAt(0);
  const q = quote.charCodeAt(0);
  const n = text.length;
  /** The index after the line end at `at` (a CRLF is one line end). */
  const afterLineEnd = (at: number) => (text.charCodeAt(at) === CR && text.charCodeAt(at + 1) === LF ? at + 2 : at + 1);
  let i = 0;
  while (i < n) {
    const c0 = text.charCodeAt(i);
    if (c0 === LF || c0 === CR) {
      i = afterLineEnd(i);
      continue;
    }
    record.length = 0;
    for (;;) {
      if (text.charCodeAt(i) === q) {
        // Quoted field: "" is a literal quote; the closing quote must end the field.
        let value = '';
        let from = i + 1;
        for (;;) {
          const close = text.indexOf(quote, from);
          if (close < 0) return false;
          if (text.charCodeAt(close + 1) === q) {
            value += text.slice(from, close + 1);
            from = close + 2;
            continue;
          }
          value += text.slice(from, close);
          i = close + 1;
          break;
        }
        record.push(value);
        const after = text.charCodeAt(i);
        if (after === d) {
          i += 1;
          if (i >= n) {
            record.push('');
            break;
          }
          continue;
        }
        if (i >= n) break;
        if (after === LF || after === CR) {
          i = afterLineEnd(i);
          break;
        }
        return false;
      }
      // Unquoted field: runs to the delimiter or the line end.
      let end = i;
      let c = -1;
      while (end < n) {
        c = text.charCodeAt(end);
        if (c === d || c === LF || c === CR) break;
        if (c === q) return false;
        end += 1;
      }
      record.push(text.slice(i, end));
      if (end >= n) {
        i = n;
        break;
      }
      if (c === d) {
        i = end + 1;
        if (i >= n) {
          // A delimiter at the very end: one more, empty field.
          record.push('');
          break;
        }
        continue;
      }
      i = afterLineEnd(end);
      break;
    }
    onRecord(record);
  }
  return true;
}

/**
 * The rule both paths apply to quoting (RFC 4180): a quoted field's closing quote must be followed
 * by the delimiter or the line end. Returns the 1-based number of the first field that breaks it
 * (`"B" ,C` or `"b"c`), or 0. A quote inside an unquoted field (`a"b`) is data.
 */
export function textAfterClosingQuote(raw: string, delimiter: string, quote: string): number {
  const d = delimiter.charCodeAt(0);
  const q = quote.charCodeAt(0);
  let field = 1;
  let i = 0;
  const n = raw.length;
  while (i < n) {
    if (raw.charCodeAt(i) === q) {
      // A quoted field: find its closing quote ("" is a literal quote).
      let j = i + 1;
      for (;;) {
        const close = raw.indexOf(quote, j);
        if (close < 0) return 0; // never closed: another error
        if (raw.charCodeAt(close + 1) === q) {
          j = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      const after = raw.charCodeAt(i);
      if (i < n && after !== d && after !== LF && after !== CR) return field;
    } else {
      while (i < n && raw.charCodeAt(i) !== d) i += 1;
    }
    if (i < n && raw.charCodeAt(i) === d) {
      field += 1;
      i += 1;
      continue;
    }
    break;
  }
  return 0;
}
