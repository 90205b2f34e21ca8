/**
 * Cuts a streamed top-level JSON array into chunks of whole elements without parsing them: a byte
 * scan tracks strings, escapes and nesting depth, so the main thread only finds boundaries and the
 * workers do the JSON.parse. Each element's first line and byte range go into the record index, so
 * a bad element is reported at its line.
 */
import type { Chunk } from './splitter.js';

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
const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === LF || b === 0x0d;

export class JsonArraySplitter {
  private state = State.BeforeArray;
  private depth = 0;
  /** Inside a string of a container element. */
  private inString = false;
  private escaped = false;
  private pending: Buffer = Buffer.alloc(0);
  private scanned = 0;
  private lastCut = 0;
  private line = 1;
  private nextStartLine = 1;
  private starts: number[] = [];
  private ends: number[] = [];
  private lines: number[] = [];

  constructor(private readonly options: { recordsPerChunk: number; maxChunkBytes: number; label: string }) {}

  push(bytes: Buffer): Chunk[] {
    const all = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const chunks: Chunk[] = [];
    for (let i = this.scanned; i < all.length; i += 1) {
      const b = all[i];
      switch (this.state) {
        case State.BeforeArray:
          if (b === 0x5b) this.state = State.BeforeElement;
          else if (!isSpace(b))
            throw this.error(
              `expected a JSON array ("[") at line ${this.line}, found ${JSON.stringify(String.fromCharCode(b))}; use --format ndjson for one object per line`,
            );
          break;
        case State.BeforeElement:
          if (b === 0x5d) this.state = State.Done;
          else if (!isSpace(b) && b !== 0x2c) this.startElement(i, b);
          break;
        case State.InContainer:
          if (this.escaped) this.escaped = false;
          else if (this.inString) {
            if (b === 0x5c) this.escaped = true;
            else if (b === 0x22) this.inString = false;
          } else if (b === 0x22) this.inString = true;
          else if (b === 0x7b || b === 0x5b) this.depth += 1;
          else if (b === 0x7d || b === 0x5d) {
            this.depth -= 1;
            if (this.depth === 0) this.endElement(all, i + 1, chunks);
          }
          break;
        case State.InString:
          if (this.escaped) this.escaped = false;
          else if (b === 0x5c) this.escaped = true;
          else if (b === 0x22) this.endElement(all, i + 1, chunks);
          break;
        case State.InScalar:
          if (b === 0x2c || b === 0x5d || isSpace(b)) {
            this.endElement(all, i, chunks);
            if (b === 0x2c) this.state = State.BeforeElement;
            else if (b === 0x5d) this.state = State.Done;
          }
          break;
        case State.AfterElement:
          if (b === 0x2c) this.state = State.BeforeElement;
          else if (b === 0x5d) this.state = State.Done;
          else if (!isSpace(b)) {
            // Two elements without a comma: let the worker report the second one as bad JSON.
            this.startElement(i, b);
          }
          break;
        case State.Done:
          if (!isSpace(b)) throw this.error(`unexpected data after the end of the JSON array at line ${this.line}`);
          break;
      }
      if (b === LF) this.line += 1;
    }
    this.pending = all.subarray(this.lastCut);
    this.scanned = this.pending.length;
    this.lastCut = 0;
    if (this.pending.length > this.options.maxChunkBytes) {
      throw this.error(
        `an element starting at line ${this.lines[0] ?? this.nextStartLine} is over ${Math.round(this.options.maxChunkBytes / 1048576)} MiB (unbalanced brackets or an unclosed string?)`,
      );
    }
    return chunks;
  }

  finish(): Chunk | undefined {
    if (this.state === State.InScalar) this.endElement(this.pending, this.pending.length, []);
    if (this.state === State.BeforeArray) {
      if (this.line === 1 && this.pending.length === 0) return undefined; // an empty file has no rows
      throw this.error('the file holds no JSON array');
    }
    if (this.state !== State.Done) {
      throw this.error(
        `the JSON array is not closed at the end of the input (line ${this.line}): the file looks truncated`,
      );
    }
    if (this.starts.length === 0) return undefined;
    return this.cut(this.pending, this.ends.at(-1)!);
  }

  private startElement(i: number, b: number): void {
    this.starts.push(i - this.lastCut);
    this.lines.push(this.line);
    if (b === 0x7b || b === 0x5b) {
      this.state = State.InContainer;
      this.depth = 1;
      this.inString = false;
    } else if (b === 0x22) this.state = State.InString;
    else this.state = State.InScalar;
    this.escaped = false;
  }

  private endElement(all: Buffer, end: number, chunks: Chunk[]): void {
    this.ends.push(end - this.lastCut);
    this.state = State.AfterElement;
    if (this.starts.length < this.options.recordsPerChunk) return;
    chunks.push(this.cut(all, end));
    this.lastCut = end;
  }

  private cut(all: Buffer, end: number): Chunk {
    const chunk: Chunk = {
      data: all.subarray(this.lastCut, end),
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

  private error(message: string): Error {
    return new Error(`${this.options.label}: ${message}`);
  }
}
