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
      case '\\':
        out += '\\\\';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      default:
        out += ch;
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

/**
 * A chunk's COPY data as UTF-8 bytes, written row by row into one growing buffer: the rows' strings
 * die young (cheap for the garbage collector) and COPY gets bytes without another encoding pass.
 */
export class CopyBuffer {
  private buf: Buffer;
  /**
   * Bytes written so far. A writer that fills the buffer itself (csv-bytes.ts) moves it past what
   * it wrote into reserve()'s room, or back to where a row began to drop that row.
   */
  end = 0;

  constructor(expectedBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, expectedBytes));
  }

  /**
   * Starts over, keeping the memory: a worker reuses one buffer for every chunk (its COPY has
   * finished before the next chunk starts), so large short-lived allocations do not pile up
   * outside the garbage-collected heap.
   */
  reset(expectedBytes: number): this {
    this.end = 0;
    if (this.buf.length < expectedBytes) this.buf = Buffer.allocUnsafe(expectedBytes);
    return this;
  }

  /** The buffer, with room for `n` more bytes after `end`. */
  reserve(n: number): Buffer {
    if (this.end + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.end + n));
      this.buf.copy(next, 0, 0, this.end);
      this.buf = next;
    }
    return this.buf;
  }

  row(values: readonly (string | null)[], line: number, deletes?: boolean): void {
    const text = copyLine(values, line, deletes);
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.end += this.reserve(text.length * 3).write(text, this.end, 'utf8');
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.end);
  }
}
