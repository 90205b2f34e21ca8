/**
 * A CSV input as a sequence of record chunks: bytes are decoded to UTF-8 when needed, the BOM is
 * dropped, the header is cut off on its own, and the rest is split at record boundaries for the
 * workers. Nothing holds more than one chunk plus one read buffer.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough, type Readable } from 'node:stream';
import { decoder } from './decode.js';
import { RecordSplitter, type Chunk } from './splitter.js';
import { parseHeaderRecord } from './header.js';

export interface CsvSourceOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  encoding: string;
  recordsPerChunk: number;
  /** A record larger than this is an error (an unterminated quote would otherwise swallow the file). */
  maxChunkBytes?: number;
}

export interface CsvHeader {
  fields: string[];
  line: number;
}

const UTF8 = new Set(['utf8', 'utf-8', 'unicode-1-1-utf-8']);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export class CsvSource {
  private readonly splitter: RecordSplitter;
  private readonly bytes: AsyncIterator<Buffer>;
  private readonly flowing: Promise<void>;
  private queued: Chunk[] = [];
  private ended = false;
  private first = true;
  bytesRead = 0;

  constructor(input: Readable, private readonly options: CsvSourceOptions) {
    // Count raw bytes for progress before any decoding changes their number.
    input.on('data', (b: Buffer) => {
      this.bytesRead += b.length;
    });
    const text = UTF8.has(options.encoding.toLowerCase()) ? new PassThrough() : decoder(options.encoding);
    // pipeline propagates a read error into `text`, so iterating it throws instead of ending early.
    this.flowing = pipeline(input, text);
    this.flowing.catch(() => undefined);
    this.bytes = text[Symbol.asyncIterator]();
    this.splitter = new RecordSplitter({
      delimiter: options.delimiter.charCodeAt(0),
      quote: options.quote.charCodeAt(0),
      recordsPerChunk: options.recordsPerChunk,
      maxChunkBytes: options.maxChunkBytes ?? 256 * 1024 * 1024,
      firstChunkRecords: options.header ? 1 : undefined,
    });
  }

  /** The next chunk of whole records, or undefined at the end of the input. */
  async next(): Promise<Chunk | undefined> {
    while (this.queued.length === 0 && !this.ended) {
      const { value, done } = await this.bytes.next();
      if (done) {
        await this.flowing;
        this.ended = true;
        const last = this.splitter.finish();
        if (last) this.queued.push(last);
        break;
      }
      let buf = value as Buffer;
      if (this.first) {
        this.first = false;
        if (buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
      }
      this.queued.push(...this.splitter.push(buf));
    }
    return this.queued.shift();
  }

  /** Reads the header record (the first non-blank one); undefined when the input has no records. */
  async readHeader(): Promise<CsvHeader | undefined> {
    const chunk = await this.next();
    if (!chunk) return undefined;
    const fields = parseHeaderRecord(chunk.data, this.options.delimiter, this.options.quote) ?? [];
    const leadingBlank = chunk.data.toString('utf8').match(/^[\r\n \t]*/u)?.[0] ?? '';
    return { fields, line: chunk.startLine + (leadingBlank.match(/\n/gu)?.length ?? 0) };
  }

  /** Stops reading early (after a failure); the underlying file is closed. */
  destroy(): void {
    void this.bytes.return?.();
  }
}
