/**
 * Encoding rows for COPY ... FROM STDIN in PostgreSQL's text format: tab-separated, newline-ended,
 * with backslash, tab, newline and carriage return escaped. Values are never NULL here (validation
 * has already refused missing fields), so \N never appears.
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

/** One COPY line: the values, then the source line number (staging keeps it to resolve duplicates). */
export function copyLine(values: readonly string[], line: number): string {
  let out = '';
  for (const v of values) out += escapeCopyValue(v) + '\t';
  return out + line + '\n';
}
