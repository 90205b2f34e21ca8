/**
 * A fast path for the common case: well-formed CSV (RFC 4180 quoting, LF or CRLF line ends) split
 * into records in one pass over the chunk's text. It gives up (returns undefined) on anything that
 * needs judgement (a quote inside an unquoted field, text after a closing quote, a quote never
 * closed), and the chunk then goes to csv-parse, which stays the reference for every such case.
 * Blank lines are skipped, as csv-parse's skip_empty_lines does.
 */
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
  let i = 0;
  while (i < n) {
    // A blank line (LF or CRLF only) is not a record.
    const c0 = text.charCodeAt(i);
    if (c0 === 10) {
      i += 1;
      continue;
    }
    if (c0 === 13 && text.charCodeAt(i + 1) === 10) {
      i += 2;
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
          continue;
        }
        if (i >= n) break;
        if (after === 10) {
          i += 1;
          break;
        }
        if (after === 13 && text.charCodeAt(i + 1) === 10) {
          i += 2;
          break;
        }
        return false;
      }
      // Unquoted field: runs to the delimiter or the line end.
      let end = i;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (c === d || c === 10) break;
        if (c === q) return false;
        end += 1;
      }
      const atLineEnd = end >= n || text.charCodeAt(end) === 10;
      // The CR of a CRLF line end is not data; a CR at the very end of the text (no LF) is.
      const valueEnd =
        end < n && text.charCodeAt(end) === 10 && end > i && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      record.push(text.slice(i, valueEnd));
      i = end + 1;
      if (atLineEnd) break;
      if (i >= n) {
        // A delimiter at the very end: one more, empty field.
        record.push('');
        break;
      }
    }
    onRecord(record);
  }
  return true;
}
