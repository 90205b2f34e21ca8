/**
 * Records written from code, as chunks for the workers' JSON path: each record becomes one NDJSON
 * line, so the same conversions and refusals apply as to a JSON file, and a record's "line" is its
 * number in write order (1-based). Values JSON cannot carry exactly are encoded first: a bigint as
 * its decimal digits, a Date as its ISO 8601 instant (which JSON.stringify already does). Values
 * JSON would turn silently into null (NaN, Infinity, an invalid Date) or drop (functions, symbols)
 * make the record a reject instead.
 */
import { inspect } from 'node:util';
import type { Reject } from '../load/layout.js';
import type { Chunk } from './splitter.js';

class Unencodable extends Error {}

function encodeValue(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  const where = key === '' ? 'the record' : JSON.stringify(key);
  if (typeof value === 'bigint') return value.toString();
  if (original instanceof Date && Number.isNaN(original.getTime()))
    throw new Unencodable(`${where} is an invalid Date`);
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new Unencodable(`${where} is ${value}, which no column can store`);
  if (typeof value === 'function' || typeof value === 'symbol')
    throw new Unencodable(`${where} is a ${typeof value}, not a value`);
  return value;
}

/**
 * Whether plain JSON.stringify encodes the record exactly: its own values are strings, booleans,
 * finite numbers, null or absent, and nothing customises the encoding. Most records are like this,
 * and stringify without a replacer is several times faster than with one.
 */
function encodesPlainly(record: object): boolean {
  if (typeof (record as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    switch (typeof value) {
      case 'string':
      case 'boolean':
      case 'undefined':
        break;
      case 'number':
        if (!Number.isFinite(value)) return false;
        break;
      case 'object':
        if (value !== null) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The record as text for a reject, when it could not be encoded as JSON. */
function rawOf(record: unknown): string {
  return inspect(record, { depth: 3, breakLength: Infinity, maxStringLength: 500 }).slice(0, 2000);
}

/** First size of a chunk's buffer; it doubles as needed, and the next chunk starts at the last one's size. */
const INITIAL_BUFFER_BYTES = 64 * 1024;

export class RecordChunker {
  /** The chunk being built: NDJSON lines written straight into one buffer, with each record's byte range. */
  private data = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private used = 0;
  private starts: number[] = [];
  private ends: number[] = [];
  private numbers: number[] = [];
  /** Number of the next record (1-based). */
  private next = 1;

  constructor(private readonly recordsPerChunk: number) {}

  /** Records numbered so far (accepted into a chunk or refused here). */
  get count(): number {
    return this.next - 1;
  }

  /** Adds one record; returns its reject when it cannot even be encoded. */
  add(record: unknown): Reject | undefined {
    const line = this.next;
    this.next += 1;
    if (record === null || typeof record !== 'object' || Array.isArray(record) || record instanceof Date)
      return {
        line,
        raw: rawOf(record),
        reason: `expected an object keyed by column sources, got ${describe(record)}`,
      };
    let text: string;
    try {
      text = encodesPlainly(record) ? JSON.stringify(record) : JSON.stringify(record, encodeValue);
    } catch (error) {
      const reason = error instanceof Unencodable ? error.message : `cannot be encoded: ${(error as Error).message}`;
      return { line, raw: rawOf(record), reason };
    }
    this.append(text);
    this.numbers.push(line);
    return undefined;
  }

  /** Whether a full chunk is waiting. */
  get full(): boolean {
    return this.numbers.length >= this.recordsPerChunk;
  }

  /** The records added since the last take, as one chunk; undefined when there are none. */
  take(): Chunk | undefined {
    const n = this.numbers.length;
    if (n === 0) return undefined;
    const chunk: Chunk = {
      data: this.data.subarray(0, this.used),
      startLine: this.numbers[0],
      records: n,
      recordLines: Int32Array.from(this.numbers),
      recordStarts: Int32Array.from(this.starts),
      recordEnds: Int32Array.from(this.ends),
      ownsBuffer: true,
    };
    // The chunk keeps its buffer (it is moved to a worker); the next one gets a new buffer.
    this.data = Buffer.allocUnsafe(Math.max(INITIAL_BUFFER_BYTES, this.data.length));
    this.used = 0;
    this.starts = [];
    this.ends = [];
    this.numbers = [];
    return chunk;
  }

  /** Writes one NDJSON line; a UTF-8 character takes at most 3 bytes per UTF-16 unit. */
  private append(text: string): void {
    const room = text.length * 3 + 1;
    if (this.used + room > this.data.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.data.length * 2, this.used + room));
      this.data.copy(grown, 0, 0, this.used);
      this.data = grown;
    }
    this.starts.push(this.used);
    this.used += this.data.write(text, this.used, 'utf8');
    this.ends.push(this.used);
    this.data[this.used] = 0x0a;
    this.used += 1;
  }
}
