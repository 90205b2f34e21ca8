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

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The record as text for a reject, when it could not be encoded as JSON. */
function rawOf(record: unknown): string {
  return inspect(record, { depth: 3, breakLength: Infinity, maxStringLength: 500 }).slice(0, 2000);
}

export class RecordChunker {
  private lines: string[] = [];
  private lineBytes = 0;
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
      text = JSON.stringify(record, encodeValue);
    } catch (error) {
      const reason = error instanceof Unencodable ? error.message : `cannot be encoded: ${(error as Error).message}`;
      return { line, raw: rawOf(record), reason };
    }
    this.lines.push(text);
    this.numbers.push(line);
    this.lineBytes += Buffer.byteLength(text) + 1;
    return undefined;
  }

  /** Whether a full chunk is waiting. */
  get full(): boolean {
    return this.lines.length >= this.recordsPerChunk;
  }

  /** The records added since the last take, as one chunk; undefined when there are none. */
  take(): Chunk | undefined {
    const n = this.lines.length;
    if (n === 0) return undefined;
    const data = Buffer.allocUnsafe(this.lineBytes);
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    let at = 0;
    for (let i = 0; i < n; i += 1) {
      starts[i] = at;
      at += data.write(this.lines[i], at, 'utf8');
      ends[i] = at;
      data[at] = 0x0a;
      at += 1;
    }
    const chunk: Chunk = {
      data,
      startLine: this.numbers[0],
      records: n,
      recordLines: Int32Array.from(this.numbers),
      recordStarts: starts,
      recordEnds: ends,
    };
    this.lines = [];
    this.numbers = [];
    this.lineBytes = 0;
    return chunk;
  }
}
