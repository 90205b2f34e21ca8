/**
 * Encoding rows for COPY ... FROM STDIN in PostgreSQL's text format: tab-separated, newline-ended,
 * with backslash, tab, newline and carriage return escaped. SQL NULL is written \N.
 */

const NEEDS_ESCAPE = /[\\\t\n\r]/;

export function escapeCopyValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case '\t': out += '\\t'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      default: out += ch;
    }
  }
  return out;
}

/**
 * One COPY line: the values (null is \N), then the source line number (staging keeps it to resolve
 * duplicates), then, for targets with a delete marker, whether this row deletes its key.
 */
export function copyLine(values: readonly (string | null)[], line: number, deletes?: boolean): string {
  let out = '';
  for (const v of values) out += (v === null ? '\\N' : escapeCopyValue(v)) + '\t';
  out += line;
  if (deletes !== undefined) out += deletes ? '\tt' : '\tf';
  return out + '\n';
}
