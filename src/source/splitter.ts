/**
 * Cuts a CSV byte stream into chunks of whole records, so the workers can parse them in parallel
 * while the main thread only scans bytes. The scan follows the same quoting rules as the parser
 * (a quote opens a quoted field only at the start of a field, "" inside it is a literal quote), so
 * a cut never falls inside a quoted field that the parser would continue.
 */

export interface Chunk {
  /** UTF-8 bytes of whole records (the last chunk may end without a newline). */
  data: Buffer;
  /** File line number (1-based) of the chunk's first byte. */
  startLine: number;
  /** Records in this chunk (blank lines are not counted). */
  records: number;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

const LF = 0x0a;
const CR = 0x0d;

export class RecordSplitter {
  private state = State.FieldStart;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Offset in the concatenated pending bytes up to which the scan has run. */
  private scanned = 0;
  private lastCut = 0;
  private recordsSinceCut = 0;
  /** Whether the current record has any byte besides CR: blank lines are not records. */
  private recordStarted = false;
  private recordsPerChunk: number;
  private nextStartLine: number;
  private quotedSinceLine = 0;
  private line: number;

  constructor(
    private readonly options: {
      delimiter: number;
      quote: number;
      recordsPerChunk: number;
      maxChunkBytes: number;
      /** Records in the first chunk only: 1 cuts the header off on its own. */
      firstChunkRecords?: number;
    },
  ) {
    this.nextStartLine = 1;
    this.recordsPerChunk = options.firstChunkRecords ?? options.recordsPerChunk;
    this.line = this.nextStartLine;
  }

  /** Feeds bytes; returns the chunks completed by them. */
  push(bytes: Buffer): Chunk[] {
    if (bytes.length === 0) return [];
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    const all = this.pending.length === 1 ? bytes : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [all];
    const chunks: Chunk[] = [];
    const { delimiter, quote } = this.options;
    let state = this.state;
    for (let i = this.scanned; i < all.length; i += 1) {
      const b = all[i]!;
      if (b === LF) this.line += 1;
      switch (state) {
        case State.FieldStart:
          if (b === quote) {
            state = State.Quoted;
            this.recordStarted = true;
            this.quotedSinceLine = this.line;
          } else if (b === LF) {
            if (this.recordStarted) this.endRecord(all, i, chunks);
          } else if (b === delimiter) this.recordStarted = true;
          else if (b !== CR) {
            state = State.Unquoted;
            this.recordStarted = true;
          }
          break;
        case State.Unquoted:
          if (b === delimiter) state = State.FieldStart;
          else if (b === LF) {
            state = State.FieldStart;
            this.endRecord(all, i, chunks);
          }
          break;
        case State.Quoted:
          if (b === quote) state = State.QuoteInQuoted;
          break;
        case State.QuoteInQuoted:
          if (b === quote) state = State.Quoted;
          else if (b === delimiter) state = State.FieldStart;
          else if (b === LF) {
            state = State.FieldStart;
            this.endRecord(all, i, chunks);
          } else if (b !== CR) state = State.Unquoted;
          break;
      }
    }
    this.state = state;
    // Keep only what has not been cut yet.
    const rest = all.subarray(this.lastCut);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.scanned = rest.length;
    this.lastCut = 0;
    if (this.pendingBytes > this.options.maxChunkBytes) {
      const where = state === State.Quoted || state === State.QuoteInQuoted
        ? `a quoted field opened at line ${this.quotedSinceLine} is never closed`
        : `a record starting at line ${this.nextStartLine} has no line end`;
      throw new Error(
        `${where}: over ${Math.round(this.options.maxChunkBytes / 1048576)} MiB without a record boundary (check --quote and --delimiter)`,
      );
    }
    return chunks;
  }

  /** The bytes after the last record boundary, as a final chunk. */
  finish(): Chunk | undefined {
    if (this.pendingBytes === 0) return undefined;
    if (!this.recordStarted && this.recordsSinceCut === 0) {
      // Only blank lines after the last record: nothing to parse.
      this.pending = [];
      this.pendingBytes = 0;
      return undefined;
    }
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return { data, startLine: this.nextStartLine, records: this.recordsSinceCut + (this.recordStarted ? 1 : 0) };
  }

  private endRecord(all: Buffer, index: number, chunks: Chunk[]): void {
    this.recordStarted = false;
    this.recordsSinceCut += 1;
    if (this.recordsSinceCut < this.recordsPerChunk) return;
    this.recordsPerChunk = this.options.recordsPerChunk;
    const end = index + 1;
    chunks.push({ data: all.subarray(this.lastCut, end), startLine: this.nextStartLine, records: this.recordsSinceCut });
    this.lastCut = end;
    this.nextStartLine = this.line;
    this.recordsSinceCut = 0;
  }
}
