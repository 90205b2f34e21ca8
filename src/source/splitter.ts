/**
 * Cuts a CSV byte stream into chunks of whole records, so the workers can parse them in parallel
 * while the main thread only scans bytes. The scan follows the same quoting rules as the parser
 * (a quote opens a quoted field only at the start of a field, "" inside it is a literal quote), so
 * a cut never falls inside a quoted field that the parser would continue.
 *
 * Line ends are LF, CRLF or a lone CR (old Mac exports), outside quoted fields. A chunk is cut after
 * `recordsPerChunk` records or `chunkBytes` bytes, whichever comes first, so long rows never make a
 * huge chunk. A record over `maxRecordBytes` is never buffered whole: it fails the read at once, or
 * is skipped to its end and reported (with its real length and its first bytes) as a bad row.
 */
import { ByteQueue } from './byte-queue.js';
import { DeferredFailure, tooLargeMessage, type SplitLimits, type TooLargeRecord } from './split-limits.js';

export interface Chunk {
  /** UTF-8 bytes of whole records (the last chunk may end without a line end). */
  data: Buffer;
  /** File line number (1-based) of the chunk's first byte. */
  startLine: number;
  /** Records in this chunk (blank lines are not counted). */
  records: number;
  /** Per record: its first line, and the byte range of its text in `data` (line end excluded). */
  recordLines: Int32Array;
  recordStarts: Int32Array;
  recordEnds: Int32Array;
  /** Records skipped for their size (not in `data`): bad rows. */
  tooLarge?: TooLargeRecord[];
  /**
   * `data` is the only view of its memory, so it can be moved to the worker instead of copied. A
   * splitter's chunk is a view of the buffers it read, which other chunks may share: never moved.
   */
  ownsBuffer?: boolean;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

const LF = 0x0a;
const CR = 0x0d;
/** Bytes of a too-large record kept for its reject. */
const HEAD_BYTES = 1024;

/**
 * A growable list of 32-bit integers in a typed array: a chunk's record index is built without a
 * JavaScript array per chunk (tens of thousands of numbers, which V8 puts in its large-object space,
 * where only a full collection frees them: on a long file the main thread's heap grew by tens of MB).
 */
class IntList {
  private items = new Int32Array(1024);
  private length = 0;

  push(value: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = value;
  }

  pop(): void {
    this.length -= 1;
  }

  /** The values so far, handed over (they may be moved to another thread); the list starts again empty. */
  take(): Int32Array {
    const taken = this.items.subarray(0, this.length);
    this.items = new Int32Array(Math.max(1024, this.length));
    this.length = 0;
    return taken;
  }
}

const indexOrInfinity = (at: number) => (at < 0 ? Infinity : at);

/** A chunk holding only records skipped for their size. */
export function tooLargeChunk(records: TooLargeRecord[], line: number): Chunk {
  const none = new Int32Array(0);
  return {
    data: Buffer.alloc(0),
    startLine: line,
    records: 0,
    recordLines: none,
    recordStarts: none,
    recordEnds: none,
    tooLarge: records,
  };
}

export class RecordSplitter {
  private state = State.FieldStart;
  private readonly failure = new DeferredFailure();
  private readonly queue = new ByteQueue();
  private prev = -1;
  /** A CR ended a line: the cut waits for the next byte, which may be the LF of a CRLF. */
  private crPending = false;
  /** Whether the current record has any byte besides its line end: blank lines are not records. */
  private recordStarted = false;
  /** Offset in the input of the current record's first byte, and its line. */
  private recordStart = 0;
  private recordLine = 0;
  /** The record being skipped for its size. */
  private skipping: { line: number; head: Buffer } | undefined;
  private recordsSinceCut = 0;
  /** Offset in the input past the blank lines read since the last cut, while no record follows them. */
  private blankEnd = 0;
  private recordsPerChunk: number;
  // Offsets are relative to the first byte held in the queue, which is where the next chunk starts.
  private starts = new IntList();
  private ends = new IntList();
  private lines = new IntList();
  private nextStartLine = 1;
  /** In the bytes being scanned: where the next quote and the next CR are (Infinity: none left). */
  private nextQuote = -1;
  private nextCR = -1;
  private quotedSinceLine = 0;
  private line = 1;

  constructor(
    private readonly options: SplitLimits & {
      delimiter: number;
      quote: number;
      recordsPerChunk: number;
      /** Records in the first chunk only: 1 cuts the header off on its own. */
      firstChunkRecords?: number;
    },
  ) {
    this.recordsPerChunk = options.firstChunkRecords ?? options.recordsPerChunk;
  }

  /** Feeds bytes; returns the chunks completed by them. */
  push(bytes: Buffer): Chunk[] {
    return this.failure.guard((chunks) => this.scan(bytes, chunks));
  }

  private scan(bytes: Buffer, chunks: Chunk[]): void {
    if (bytes.length === 0) return;
    const base = this.queue.removed + this.queue.length;
    this.queue.push(bytes);
    const { delimiter, quote, maxRecordBytes } = this.options;
    // The hot state lives in locals; fields are synced around the (per record) method calls.
    let state = this.state;
    let line = this.line;
    let prev = this.prev;
    /** Where the current record passes the maximum size (never, outside a record or when skipping). */
    let tooLargeAt = this.recordStarted && !this.skipping ? this.recordStart + maxRecordBytes : Infinity;
    this.nextQuote = -1;
    this.nextCR = -1;
    for (let i = 0; i < bytes.length; i += 1) {
      if (state === State.FieldStart && !this.recordStarted && !this.crPending) {
        this.line = line;
        const next = this.wholeLines(bytes, i, base, chunks);
        if (next > i) {
          line = this.line;
          prev = LF;
          i = next - 1;
          continue;
        }
      }
      const b = bytes[i];
      if (this.crPending) {
        this.crPending = false;
        this.line = line;
        if (b === LF) {
          prev = b;
          this.lineEnded(base + i + 1, chunks);
          continue;
        }
        this.lineEnded(base + i, chunks);
      }
      if (b === CR || (b === LF && prev !== CR)) line += 1;
      prev = b;
      let ended = false;
      switch (state) {
        case State.FieldStart:
          if (b === LF || b === CR) ended = true;
          else {
            if (!this.recordStarted) {
              this.line = line;
              this.startRecord(base + i);
              tooLargeAt = base + i + maxRecordBytes;
            }
            if (b === quote) {
              state = State.Quoted;
              this.quotedSinceLine = line;
            } else if (b !== delimiter) state = State.Unquoted;
          }
          break;
        case State.Unquoted:
          if (b === delimiter) state = State.FieldStart;
          else if (b === LF || b === CR) ended = true;
          break;
        case State.Quoted:
          if (b === quote) state = State.QuoteInQuoted;
          break;
        case State.QuoteInQuoted:
          if (b === quote) state = State.Quoted;
          else if (b === delimiter) state = State.FieldStart;
          else if (b === LF || b === CR) ended = true;
          else state = State.Unquoted;
          break;
      }
      if (ended) {
        state = State.FieldStart;
        this.line = line;
        if (this.recordStarted) this.endRecord(base + i, chunks);
        tooLargeAt = Infinity;
        if (b === CR) this.crPending = true;
        else this.lineEnded(base + i + 1, chunks);
      } else if (base + i >= tooLargeAt) {
        this.state = state;
        this.line = line;
        this.startSkipping(chunks);
        tooLargeAt = Infinity;
      }
    }
    this.state = state;
    this.line = line;
    this.prev = prev;
    // The bytes of a record being skipped are never kept, nor blank lines before any record.
    if (this.skipping) this.queue.drop(this.queue.length);
    else if (!this.recordStarted && this.recordsSinceCut === 0) this.dropBlankLines();
  }

  /**
   * The fast path, from a line start: each whole line that ends outside quotes (and has no CR but a
   * CRLF's) is one record, or a blank line, found by native searches (and, for a line with quotes,
   * a loop with no bookkeeping) instead of the byte-by-byte scan. Returns where it stopped: the
   * start of a line it left to that scan, or of the unfinished line at the end of `bytes`.
   */
  private wholeLines(bytes: Buffer, from: number, base: number, chunks: Chunk[]): number {
    const { quote, maxRecordBytes } = this.options;
    let i = from;
    for (;;) {
      const lf = bytes.indexOf(LF, i);
      if (lf < 0) return i;
      if (this.nextQuote < i) this.nextQuote = indexOrInfinity(bytes.indexOf(quote, i));
      if (this.nextCR < i) this.nextCR = indexOrInfinity(bytes.indexOf(CR, i));
      const end = this.nextCR === lf - 1 ? lf - 1 : lf;
      if ((this.nextCR < lf && this.nextCR !== end) || end - i > maxRecordBytes) return i;
      if (this.nextQuote < lf && !this.quotesClose(bytes, i, end)) return i;
      if (end > i) {
        // startRecord and endRecord, for a record held whole.
        if (this.recordsSinceCut === 0) this.dropBlankLines();
        const removed = this.queue.removed;
        this.starts.push(base + i - removed);
        this.ends.push(base + end - removed);
        this.lines.push(this.line);
        this.recordsSinceCut += 1;
      }
      this.line += 1;
      this.lineEnded(base + lf + 1, chunks);
      i = lf + 1;
    }
  }

  /**
   * Whether the line from `start` to `end` (no CR in it) ends outside any quoted field, by the
   * same rules as scan(): a quote opens a field only at its start, "" inside it is a literal quote.
   */
  private quotesClose(bytes: Buffer, start: number, end: number): boolean {
    const { delimiter, quote } = this.options;
    let state = State.FieldStart;
    for (let j = start; j < end; j += 1) {
      const b = bytes[j];
      if (state === State.Quoted) {
        if (b === quote) state = State.QuoteInQuoted;
      } else if (b === quote) {
        if (state !== State.Unquoted) state = State.Quoted;
      } else if (b === delimiter) state = State.FieldStart;
      else state = State.Unquoted;
    }
    return state !== State.Quoted;
  }

  /** The records after the last cut (the last one may lack a line end), as final chunks. */
  finish(): Chunk[] {
    this.failure.rethrow();
    const chunks: Chunk[] = [];
    const end = this.queue.removed + this.queue.length;
    this.crPending = false;
    if (this.recordStarted) this.endRecord(end, chunks);
    if (this.recordsSinceCut > 0) chunks.push(this.cut(end));
    return chunks;
  }

  private startRecord(at: number): void {
    this.dropBlankLines();
    this.recordStarted = true;
    this.recordStart = at;
    this.recordLine = this.line;
    this.starts.push(at - this.queue.removed);
    this.lines.push(this.line);
  }

  private dropBlankLines(): void {
    if (this.blankEnd > this.queue.removed) this.queue.drop(this.blankEnd - this.queue.removed);
  }

  private endRecord(at: number, chunks: Chunk[]): void {
    this.recordStarted = false;
    if (this.skipping) {
      this.queue.drop(at - this.queue.removed);
      chunks.push(tooLargeChunk([{ ...this.skipping, bytes: at - this.recordStart }], this.skipping.line));
      this.skipping = undefined;
      return;
    }
    this.recordsSinceCut += 1;
    this.ends.push(at - this.queue.removed);
  }

  /** After a line end (`after`: the offset past it): cut when the chunk is full; drop leading blank lines. */
  private lineEnded(after: number, chunks: Chunk[]): void {
    if (this.recordsSinceCut === 0) {
      // Dropped when the next record starts or the read ends: once, not per line.
      this.blankEnd = after;
      this.nextStartLine = this.line;
      return;
    }
    if (this.recordsSinceCut >= this.recordsPerChunk || after - this.queue.removed >= this.options.chunkBytes)
      chunks.push(this.cut(after));
  }

  private startSkipping(chunks: Chunk[]): void {
    const quoted = this.state === State.Quoted || this.state === State.QuoteInQuoted;
    if (this.options.onTooLarge === 'fail') {
      throw new Error(
        tooLargeMessage(this.options, this.recordLine, {
          hint: quoted
            ? `a quoted field opened at line ${this.quotedSinceLine} may never be closed (check --quote)`
            : 'the file may have no line ends, or another delimiter (check --delimiter)',
        }),
      );
    }
    // The records before this one go on as a chunk; this one is dropped as it is read.
    this.starts.pop();
    this.lines.pop();
    const before = this.recordStart - this.queue.removed;
    if (this.recordsSinceCut > 0) chunks.push(this.cut(this.recordStart));
    else this.queue.drop(before);
    this.skipping = { line: this.recordLine, head: Buffer.from(this.queue.peek(0, HEAD_BYTES)) };
  }

  private cut(end: number): Chunk {
    const chunk: Chunk = {
      data: this.queue.take(end - this.queue.removed),
      startLine: this.nextStartLine,
      records: this.recordsSinceCut,
      recordLines: this.lines.take(),
      recordStarts: this.starts.take(),
      recordEnds: this.ends.take(),
    };
    this.recordsSinceCut = 0;
    this.recordsPerChunk = this.options.recordsPerChunk;
    this.nextStartLine = this.line;
    return chunk;
  }
}
