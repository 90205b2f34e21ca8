/** Reading request bodies without buffering them: a peek at the first bytes, and a size limit. */
import { Readable } from 'node:stream';
import { ApiError } from './errors.js';

/** The first non-blank byte of a stream (to tell `{ "url" }` from a JSON array), and the whole stream again. */
export async function peekFirstByte(stream: Readable): Promise<{ first: number | undefined; stream: Readable }> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const seen: Buffer[] = [];
  let first: number | undefined;
  let done = false;
  while (first === undefined && !done) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    seen.push(chunk);
    first = chunk.find(
      (b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0xef && b !== 0xbb && b !== 0xbf,
    );
  }
  async function* replay() {
    yield* seen;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  return { first, stream: Readable.from(replay(), { objectMode: false }) };
}

/** Reads a small body whole (a URL import's JSON), refusing more than `max` bytes. */
export async function readSmall(stream: Readable, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max)
      throw new ApiError(
        413,
        'body_too_large',
        `a JSON body naming a URL must be under ${max} bytes; send data as text/csv or application/x-ndjson`,
      );
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}
