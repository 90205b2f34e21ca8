/**
 * Writes rows as an RFC 4180 CSV file, streamed in chunks (back-pressure through pipeline), and
 * computes the content checksum the database side computes too (see CHECKSUM_SQL in database.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Row } from './dataset.js';

export const CSV_HEADER = 'email,full_name\n';

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/u;

/** One field: quoted (inner quotes doubled) only when it has to be. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(row: Row): string {
  return `${csvField(row.email)},${csvField(row.fullName)}\n`;
}

/**
 * An order-independent checksum of a followers table's content: the sum over rows of the first
 * 60 bits of md5(email TAB full_name). Exact (a decimal string), cheap in SQL and in Node.
 */
export function rowDigest(row: Row): bigint {
  const hex = createHash('md5').update(`${row.email}\t${row.fullName}`, 'utf8').digest('hex');
  return BigInt(`0x${hex.slice(0, 15)}`);
}

export function contentChecksum(rows: Iterable<Row>): { rows: number; checksum: string } {
  let count = 0;
  let sum = 0n;
  for (const row of rows) {
    count += 1;
    sum += rowDigest(row);
  }
  return { rows: count, checksum: sum.toString() };
}

export interface WrittenFile {
  path: string;
  rows: number;
  bytes: number;
  /** contentChecksum() of the rows written. */
  checksum: string;
}

const CHUNK_CHARS = 256 * 1024;

/** Streams the rows to `path` (via a temporary name, so a file that exists is always complete). */
export async function writeCsv(path: string, rows: Iterable<Row>): Promise<WrittenFile> {
  let count = 0;
  let bytes = 0;
  let sum = 0n;
  function* chunks(): Generator<string> {
    let buffer = CSV_HEADER;
    for (const row of rows) {
      count += 1;
      sum += rowDigest(row);
      buffer += csvLine(row);
      if (buffer.length >= CHUNK_CHARS) {
        bytes += Buffer.byteLength(buffer);
        yield buffer;
        buffer = '';
      }
    }
    bytes += Buffer.byteLength(buffer);
    yield buffer;
  }
  const partial = `${path}.partial`;
  try {
    await pipeline(Readable.from(chunks(), { objectMode: false }), createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { path, rows: count, bytes, checksum: sum.toString() };
}
