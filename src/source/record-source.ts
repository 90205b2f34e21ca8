/**
 * A source file as a sequence of chunks of whole records: bytes are decoded to UTF-8 when needed,
 * the BOM is dropped, a CSV header is cut off on its own, and the rest is split at record boundaries
 * (CSV records, NDJSON lines, or JSON array elements) for the workers. Nothing holds more than one
 * chunk plus one read buffer.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough, type Readable } from 'node:stream';
import { decoder } from './decode.js';
import { parseHeaderRecord } from './header.js';
import { JsonArraySplitter } from './json-splitter.js';
import { RecordSplitter, type Chunk } from './splitter.js';
import { DEFAULT_CHUNK_BYTES } from './split-limits.js';

export type SourceFormat = 'csv' | 'ndjson' | 'json';

export interface RecordSourceOptions {
  format: SourceFormat;
  delimiter: string;
  quote: string;
  header: boolean;
  encoding: string;
  recordsPerChunk: number;
  /** Names the source in messages. */
  label: string;
  /** The largest record read (an unterminated quote would otherwise swallow the file). */
  maxRecordBytes: number;
  /** 'fail': a larger record fails the read at once; 'skip': it becomes a bad row. */
  onTooLarge: 'fail' | 'skip';
  /** A chunk is cut past this many bytes even before `recordsPerChunk` records. Default 4 MiB. */
  chunkBytes?: number;
}

export interface CsvHeader {
  fields: string[];
  line: number;
}

interface Splitter {
  push(bytes: Buffer): Chunk[];
  finish(): Chunk[];
}

const UTF8 = new Set(['utf8', 'utf-8', 'unicode-1-1-utf-8']);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** No byte of UTF-8 text is 0xFF: NDJSON is split on line ends only, with no quoting. */
const NEVER = 0x1ff;
const PROGRESS_BYTES = 16 * 1024 * 1024;

function splitterFor(options: RecordSourceOptions): Splitter {
  const limits = {
    chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    maxRecordBytes: options.maxRecordBytes,
    onTooLarge: options.onTooLarge,
    label: options.label,
    recordsPerChunk: options.recordsPerChunk,
  };
  if (options.format === 'json') return new JsonArraySplitter(limits);
  const csv = options.format === 'csv';
  return new RecordSplitter({
    ...limits,
    delimiter: csv ? options.delimiter.charCodeAt(0) : NEVER,
    quote: csv ? options.quote.charCodeAt(0) : NEVER,
    firstChunkRecords: csv && options.header ? 1 : undefined,
  });
}

export class RecordSource {
  private readonly splitter: Splitter;
  private readonly bytes: AsyncIterator<Buffer>;
  private readonly flowing: Promise<void>;
  private queued: Chunk[] = [];
  private ended = false;
  private first = true;
  /** Bytes read after gunzip and decoding: what the splitter has scanned. */
  bytesScanned = 0;
  /**
   * Called after every PROGRESS_BYTES read, chunk or not: a record being skipped for its size (a
   * gzip bomb of zeros) can take gigabytes of reading before its chunk comes out.
   */
  onRead: (() => void) | undefined;
  private nextReport = PROGRESS_BYTES;

  constructor(
    input: Readable,
    private readonly options: RecordSourceOptions,
  ) {
    const text = UTF8.has(options.encoding.toLowerCase()) ? new PassThrough() : decoder(options.encoding);
    // pipeline propagates a read error into `text`, so iterating it throws instead of ending early.
    this.flowing = pipeline(input, text);
    this.flowing.catch(() => undefined);
    this.bytes = text[Symbol.asyncIterator]();
    this.splitter = splitterFor(options);
  }

  /** The next chunk of whole records, or undefined at the end of the input. */
  async next(): Promise<Chunk | undefined> {
    while (this.queued.length === 0 && !this.ended) {
      const step = await this.bytes.next();
      if (step.done === true) {
        await this.flowing;
        this.ended = true;
        this.queued.push(...this.splitter.finish());
        break;
      }
      let buf = step.value;
      this.bytesScanned += buf.length;
      if (this.bytesScanned >= this.nextReport) {
        this.nextReport = this.bytesScanned + PROGRESS_BYTES;
        this.onRead?.();
      }
      if (this.first) {
        this.first = false;
        if (buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
      }
      this.queued.push(...this.splitter.push(buf));
    }
    return this.queued.shift();
  }

  /** Reads the CSV header record (the first non-blank one); undefined when the input has no records. */
  async readHeader(): Promise<CsvHeader | undefined> {
    const chunk = await this.next();
    if (!chunk) return undefined;
    const tooLarge = chunk.tooLarge?.[0];
    if (tooLarge)
      throw new Error(
        `line ${tooLarge.line}: the header record is ${tooLarge.bytes} bytes long, over the maximum record size (--max-record-size); check --delimiter and --quote`,
      );
    const fields = parseHeaderRecord(chunk.data, this.options.delimiter, this.options.quote) ?? [];
    return { fields, line: chunk.recordLines[0] ?? chunk.startLine };
  }

  /** Stops reading early (after a failure); the underlying input is closed. */
  destroy(): void {
    void this.bytes.return?.();
  }
}
