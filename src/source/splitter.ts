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
  /** Per record: its first line, and the byte range of its text in `data` (line end excluded). */
  recordLines: Int32Array;
  recordStarts: Int32Array;
  recordEnds: Int32Array;
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
  // Offsets are relative to the start of the chunk being built (`lastCut`), which stays valid when
  // the pending bytes are re-based after each push.
  private starts: number[] = [];
  private ends: number[] = [];
  private lines: number[] = [];
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
      const b = all[i];
      if (b === LF) this.line += 1;
      switch (state) {
        case State.FieldStart:
          if (b === LF) {
            if (this.recordStarted) this.endRecord(all, i, chunks);
          } else if (b !== CR) {
            if (!this.recordStarted) this.startRecord(i);
            if (b === quote) {
              state = State.Quoted;
              this.quotedSinceLine = this.line;
            } else if (b !== delimiter) state = State.Unquoted;
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
      const where =
        state === State.Quoted || state === State.QuoteInQuoted
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
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    if (this.recordStarted) {
      // The last record has no line end: it runs to the end of the data.
      this.ends.push(data.length);
      this.recordsSinceCut += 1;
    }
    this.pending = [];
    this.pendingBytes = 0;
    return this.cut(data, data.length);
  }

  private startRecord(index: number): void {
    this.recordStarted = true;
    this.starts.push(index - this.lastCut);
    this.lines.push(this.line);
  }

  private cut(all: Buffer, end: number): Chunk {
    const chunk: Chunk = {
      data: all.subarray(this.lastCut, end),
      startLine: this.nextStartLine,
      records: this.recordsSinceCut,
      recordLines: Int32Array.from(this.lines),
      recordStarts: Int32Array.from(this.starts),
      recordEnds: Int32Array.from(this.ends),
    };
    this.starts = [];
    this.ends = [];
    this.lines = [];
    this.recordsSinceCut = 0;
    return chunk;
  }

  private endRecord(all: Buffer, index: number, chunks: Chunk[]): void {
    this.recordStarted = false;
    this.recordsSinceCut += 1;
    // A CR right before the LF belongs to the line end, not to the record's text.
    this.ends.push((index > 0 && all[index - 1] === CR ? index - 1 : index) - this.lastCut);
    if (this.recordsSinceCut < this.recordsPerChunk) return;
    this.recordsPerChunk = this.options.recordsPerChunk;
    const end = index + 1;
    chunks.push(this.cut(all, end));
    this.lastCut = end;
    this.nextStartLine = this.line;
  }
}
