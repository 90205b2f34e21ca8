/**
 * Cuts a streamed top-level JSON array into chunks of whole elements without parsing them: a byte
 * scan tracks strings, escapes and nesting depth, so the main thread only finds boundaries and the
 * workers do the JSON.parse. Each element's first line and byte range go into the record index, so
 * a bad element is reported at its line.
 *
 * The array's own structure is checked here: an empty element (`[1,,2]`, `[,]`), a trailing comma
 * or a missing comma between elements fails the read at its line and column, since no element
 * boundary after it can be trusted. What is inside an element is the worker's to judge.
 */
import { ByteQueue } from './byte-queue.js';
import { tooLargeChunk, type Chunk } from './splitter.js';
import { DeferredFailure, tooLargeMessage, type SplitLimits } from './split-limits.js';
import { SourceError } from './input.js';

const enum State {
  BeforeArray,
  BeforeElement,
  InContainer,
  InString,
  InScalar,
  AfterElement,
  Done,
}

const LF = 0x0a;
const CR = 0x0d;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === LF || b === CR;
const HEAD_BYTES = 1024;
/** `{ [ " } :`: bytes no number, true, false or null holds. */
const endsScalar = (b: number) => b === 0x7b || b === OPEN_ARRAY || b === 0x22 || b === 0x7d || b === 0x3a;
/** Bytes a JSON value (or a malformed one, such as a bare word) can start with. */
const startsValue = (b: number) => b !== 0x7d && b !== 0x3a && b !== COMMA && b !== CLOSE_ARRAY;

export class JsonArraySplitter {
  private state = State.BeforeArray;
  private readonly failure = new DeferredFailure();
  private depth = 0;
  /** Inside a string of a container element. */
  private inString = false;
  private escaped = false;
  /** In BeforeElement: whether a comma (rather than the opening "[") came last. */
  private afterComma = false;
  private readonly queue = new ByteQueue();
  private prev = -1;
  private line = 1;
  /** Offset in the input where the current line starts (for columns in messages). */
  private lineStart = 0;
  private elementStart = 0;
  private elementLine = 0;
  private skipping: { line: number; head: Buffer } | undefined;
  private nextStartLine = 1;
  private starts: number[] = [];
  private ends: number[] = [];
  private lines: number[] = [];

  constructor(private readonly options: SplitLimits & { recordsPerChunk: number }) {}

  push(bytes: Buffer): Chunk[] {
    return this.failure.guard((chunks) => this.scan(bytes, chunks));
  }

  private scan(bytes: Buffer, chunks: Chunk[]): void {
    const base = this.queue.removed + this.queue.length;
    this.queue.push(bytes);
    const { maxRecordBytes } = this.options;
    for (let i = 0; i < bytes.length; i += 1) {
      const b = bytes[i];
      const at = base + i;
      switch (this.state) {
        case State.BeforeArray:
          if (b === OPEN_ARRAY) {
            this.state = State.BeforeElement;
            this.afterComma = false;
          } else if (!isSpace(b))
            throw this.error(
              `expected a JSON array ("[") at line ${this.line}, found ${JSON.stringify(String.fromCharCode(b))}; use --format ndjson for one object per line`,
            );
          break;
        case State.BeforeElement:
          if (b === CLOSE_ARRAY) {
            if (this.afterComma) throw this.structure(at, 'a comma before the closing "]" (a trailing comma)');
            this.state = State.Done;
          } else if (b === COMMA) throw this.structure(at, 'an empty array element (two commas, or a comma first)');
          else if (!isSpace(b)) this.startElement(at, b);
          break;
        case State.InContainer:
          if (this.escaped) this.escaped = false;
          else if (this.inString) {
            if (b === 0x5c) this.escaped = true;
            else if (b === 0x22) this.inString = false;
          } else if (b === 0x22) this.inString = true;
          else if (b === 0x7b || b === OPEN_ARRAY) this.depth += 1;
          else if (b === 0x7d || b === CLOSE_ARRAY) {
            this.depth -= 1;
            if (this.depth === 0) this.endElement(at + 1, chunks);
          }
          break;
        case State.InString:
          if (this.escaped) this.escaped = false;
          else if (b === 0x5c) this.escaped = true;
          else if (b === 0x22) this.endElement(at + 1, chunks);
          break;
        case State.InScalar:
          // A number, true, false or null ends at the first byte none of them holds: `[1{"a":2}]`
          // and `[3[4]]` are two elements without a comma, not one malformed element.
          if (b === COMMA || b === CLOSE_ARRAY || isSpace(b) || endsScalar(b)) {
            this.endElement(at, chunks);
            this.afterElement(at, b);
          }
          break;
        case State.AfterElement:
          this.afterElement(at, b);
          break;
        case State.Done:
          if (!isSpace(b)) throw this.error(`unexpected data after the end of the JSON array at line ${this.line}`);
          break;
      }
      if (b === CR || (b === LF && this.prev !== CR)) {
        this.line += 1;
        this.lineStart = at + 1;
      } else if (b === LF) this.lineStart = at + 1;
      this.prev = b;
      if (this.inElement() && this.skipping === undefined && at - this.elementStart >= maxRecordBytes)
        this.startSkipping(chunks);
    }
    // Nothing before the next element is needed: separators, and the bytes of a skipped element.
    if (this.skipping || (!this.inElement() && this.starts.length === 0)) {
      this.queue.drop(this.queue.length);
      this.nextStartLine = this.line;
    }
  }

  finish(): Chunk[] {
    this.failure.rethrow();
    const chunks: Chunk[] = [];
    const end = this.queue.removed + this.queue.length;
    if (this.state === State.InScalar) this.endElement(end, chunks);
    if (this.state === State.BeforeArray) {
      if (this.line === 1 && end === 0) return chunks; // an empty file has no rows
      throw this.error('the file holds no JSON array');
    }
    if (this.state !== State.Done) {
      throw this.error(
        `the JSON array is not closed at the end of the input (line ${this.line}): the file looks truncated`,
      );
    }
    if (this.starts.length > 0) chunks.push(this.cut(this.ends.at(-1)! + this.queue.removed));
    return chunks;
  }

  private inElement(): boolean {
    return this.state === State.InContainer || this.state === State.InString || this.state === State.InScalar;
  }

  private afterElement(at: number, b: number): void {
    if (b === COMMA) {
      this.state = State.BeforeElement;
      this.afterComma = true;
    } else if (b === CLOSE_ARRAY) this.state = State.Done;
    else if (isSpace(b)) return;
    else if (startsValue(b)) throw this.structure(at, 'a comma is missing between two array elements');
    else throw this.structure(at, `unexpected ${JSON.stringify(String.fromCharCode(b))} after an array element`);
  }

  private startElement(at: number, b: number): void {
    this.elementStart = at;
    this.elementLine = this.line;
    this.starts.push(at - this.queue.removed);
    this.lines.push(this.line);
    if (b === 0x7b || b === OPEN_ARRAY) {
      this.state = State.InContainer;
      this.depth = 1;
      this.inString = false;
    } else if (b === 0x22) this.state = State.InString;
    else this.state = State.InScalar;
    this.escaped = false;
  }

  private endElement(end: number, chunks: Chunk[]): void {
    this.state = State.AfterElement;
    if (this.skipping) {
      this.queue.drop(end - this.queue.removed);
      chunks.push(tooLargeChunk([{ ...this.skipping, bytes: end - this.elementStart }], this.skipping.line));
      this.skipping = undefined;
      return;
    }
    this.ends.push(end - this.queue.removed);
    if (this.starts.length >= this.options.recordsPerChunk || end - this.queue.removed >= this.options.chunkBytes)
      chunks.push(this.cut(end));
  }

  private startSkipping(chunks: Chunk[]): void {
    if (this.options.onTooLarge === 'fail') {
      throw new Error(
        tooLargeMessage(this.options, this.elementLine, {
          hint: 'an unclosed string or unbalanced brackets would also make one (check the file is complete)',
        }),
      );
    }
    this.starts.pop();
    this.lines.pop();
    if (this.starts.length > 0) chunks.push(this.cut(this.elementStart));
    else this.queue.drop(this.elementStart - this.queue.removed);
    this.skipping = { line: this.elementLine, head: Buffer.from(this.queue.peek(0, HEAD_BYTES)) };
  }

  private cut(end: number): Chunk {
    const chunk: Chunk = {
      data: this.queue.take(end - this.queue.removed),
      startLine: this.lines[0] ?? this.nextStartLine,
      records: this.starts.length,
      recordLines: Int32Array.from(this.lines),
      recordStarts: Int32Array.from(this.starts),
      recordEnds: Int32Array.from(this.ends),
    };
    this.nextStartLine = this.line;
    this.starts = [];
    this.ends = [];
    this.lines = [];
    return chunk;
  }

  /** The array's structure is broken at `at`: no later element boundary can be trusted. */
  private structure(at: number, what: string): Error {
    return this.error(`line ${this.line}, column ${at - this.lineStart + 1}: ${what}; the JSON array is malformed`);
  }

  /** The data itself is unusable: a source error (ETL_JSON), like corrupt gzip, not a bug of ours. */
  private error(message: string): Error {
    return new SourceError(`${this.options.label}: ${message}`, 'ETL_JSON');
  }
}
