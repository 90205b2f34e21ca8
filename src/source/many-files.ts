/**
 * Many files as one load (a glob, an s3:// prefix, a manifest), and Parquet files: each file is
 * opened in turn as its chunks are needed, checked against the first file's columns, and its record
 * lines are shifted past the previous files' so that the staging rows keep one order across the
 * load (a later file wins a repeated key, as a later line does within a file). Rejects are mapped
 * back to their file and line.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import type { ChunkLayout, JsonLayout, Reject } from '../load/layout.js';
import type { Logger } from '../observe/log.js';
import type { TargetSpec } from '../table/spec.js';
import type { ChunkSource, ReadProgress } from './chunk-source.js';
import { listFiles, type FileEntry } from './file-list.js';
import { isManyFiles } from './load-route.js';
import { formatOf, type LoadFormat } from './format.js';
import { matchHeader, positionalLayout } from './header.js';
import { httpRanges, fileRanges, s3Ranges, type ByteRanges } from './parquet/byte-ranges.js';
import { ParquetSource } from './parquet/parquet-source.js';
import { checkReadable, isUrl, openInput, sourceLabel } from './input.js';
import { RecordSource } from './record-source.js';
import { isS3Url, parseS3Url, S3Error, type S3Settings } from './s3-location.js';
import { createS3Client } from './s3.js';
import type { Chunk } from './splitter.js';

export interface FilesOptions {
  location: string;
  format?: LoadFormat;
  spec: TargetSpec;
  csv: { delimiter: string; quote: string; header: boolean; encoding: string };
  recordsPerChunk: number;
  /** The largest record read, and what a larger one is: a failed load, or a bad row (see RecordSource). */
  maxRecordBytes: number;
  onTooLarge: 'fail' | 'skip';
  s3: { endpoint?: string };
  /** Idle timeout of remote reads. */
  timeoutMs?: number;
  /** Stops a listing or a read waiting on the network. */
  signal?: AbortSignal;
  log: Logger;
}

export interface PreparedFiles {
  input: ReadProgress;
  source: ChunkSource;
  layout: ChunkLayout;
  warnings: string[];
  /** Names each reject's file and its line in that file. */
  placeRejects: (rejects: Reject[]) => Reject[];
}

/** Lines are Int32 in chunks: a load's records across all its files must stay below this. */
const MAX_LINE = 2 ** 31 - 1;
const SETTING = 'CSV_FILE (--file)';

interface OpenedFile {
  label: string;
  source: ChunkSource;
  layout?: ChunkLayout;
  size?: number;
  bytesRead: () => number;
}

function isNotFound(error: unknown): boolean {
  if (error instanceof S3Error) return error.code === 'NoSuchKey' || error.code === 'NotFound';
  const code = (error as { code?: string } | null)?.code;
  const status = (error as { status?: number } | null)?.status;
  return code === 'ENOENT' || status === 404 || /does not exist/u.test((error as Error | null)?.message ?? '');
}

function jsonLayout(spec: TargetSpec): JsonLayout {
  return {
    format: 'json',
    fieldNames: spec.columns.map((c) => c.source),
    columns: spec.columns,
    keys: spec.key,
    deleteWhen: spec.deleteWhen,
  };
}

class FileOpener {
  private client: S3Client | undefined;
  readonly settings: S3Settings;

  constructor(private readonly options: FilesOptions) {
    this.settings = { endpoint: options.s3.endpoint, timeoutMs: options.timeoutMs ?? 30_000 };
  }

  s3 = (): S3Client => (this.client ??= createS3Client(this.settings));

  async open(location: string, format: LoadFormat): Promise<OpenedFile> {
    const { spec, csv, recordsPerChunk } = this.options;
    const label = sourceLabel(location);
    if (format === 'parquet') {
      const ranges = await this.ranges(location);
      const source = await ParquetSource.open(ranges, label, spec, recordsPerChunk);
      return { label, source, layout: jsonLayout(spec), size: source.size, bytesRead: () => source.bytesRead() };
    }
    await checkReadable(location, SETTING);
    const { s3, timeoutMs, signal } = this.options;
    const input = await openInput(location, { s3, timeoutMs, signal });
    const { maxRecordBytes, onTooLarge } = this.options;
    const source = new RecordSource(input.stream, {
      format,
      ...csv,
      recordsPerChunk,
      label: input.label,
      maxRecordBytes,
      onTooLarge,
    });
    let layout: ChunkLayout | undefined = format === 'csv' ? undefined : jsonLayout(spec);
    if (format === 'csv') {
      try {
        const header = csv.header ? await source.readHeader() : undefined;
        layout = header
          ? matchHeader(header.fields, spec, { file: input.label, line: header.line, ...csv }).layout
          : csv.header
            ? undefined
            : positionalLayout(spec, csv.delimiter, csv.quote);
      } catch (error) {
        source.destroy();
        throw error;
      }
    }
    return { label: input.label, source, layout, size: input.size, bytesRead: input.bytesRead };
  }

  private ranges(location: string): Promise<ByteRanges> {
    const { signal } = this.options;
    if (isS3Url(location)) return s3Ranges(this.s3(), parseS3Url(location, SETTING), this.settings, signal);
    if (isUrl(location)) return httpRanges(location, this.settings.timeoutMs, signal);
    return fileRanges(location).catch((error: unknown) => {
      throw new ConfigError(
        `${SETTING}: the file ${location} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        { cause: error },
      );
    });
  }

  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }
}

/** Where a global line came from: spans[i] covers lines after spans[i].offset. */
interface Span {
  label: string;
  offset: number;
}

class ManyFilesSource implements ChunkSource {
  private current: OpenedFile | undefined;
  private nextFile = 0;
  private offset = 0;
  private lastLine = 0;
  private finishedBytes = 0;
  private readonly spans: Span[] = [];
  /** The first file's layout, which every later file must match. */
  layout: ChunkLayout | undefined;
  onRead: (() => void) | undefined;

  constructor(
    private readonly files: FileEntry[],
    private readonly format: LoadFormat,
    private readonly opener: FileOpener,
    private readonly warn: (message: string) => void,
  ) {}

  /** Opens the first file (which decides the layout) before the load touches the database. */
  async begin(): Promise<OpenedFile | undefined> {
    const first = await this.openNext();
    if (first) this.start(first);
    return first;
  }

  bytesRead(): number {
    return this.finishedBytes + (this.current?.bytesRead() ?? 0);
  }

  private start(file: OpenedFile): void {
    this.current = file;
    file.source.onRead = () => this.onRead?.();
    this.spans.push({ label: file.label, offset: this.offset });
    this.nextFile += 1;
  }

  /** Opens the next file that exists; undefined when none is left. */
  private async openNext(): Promise<OpenedFile | undefined> {
    while (this.nextFile < this.files.length) {
      const entry = this.files[this.nextFile];
      let file: OpenedFile;
      try {
        file = await this.opener.open(entry.location, this.format);
      } catch (error) {
        if (!entry.mandatory && isNotFound(error)) {
          this.warn(`${sourceLabel(entry.location)} is missing; skipped (the manifest marks it optional)`);
          this.nextFile += 1;
          continue;
        }
        throw error;
      }
      if (this.layout === undefined) this.layout = file.layout;
      else if (file.layout !== undefined && JSON.stringify(file.layout) !== JSON.stringify(this.layout)) {
        file.source.destroy();
        throw new ConfigError(
          `${file.label}: its columns differ from the first file's (${this.spans[0]?.label ?? 'the first file'}); every file of one load needs the same header`,
        );
      }
      return file;
    }
    return undefined;
  }

  async next(): Promise<Chunk | undefined> {
    for (;;) {
      if (!this.current) {
        const file = await this.openNext();
        if (!file) {
          this.opener.close();
          return undefined;
        }
        this.start(file);
      }
      const chunk = await this.current!.source.next();
      if (chunk) return this.shift(chunk);
      this.finishedBytes += this.current!.bytesRead();
      this.current = undefined;
      this.offset = this.lastLine;
    }
  }

  /** Moves a chunk's lines past the previous files' lines. */
  private shift(chunk: Chunk): Chunk {
    const lines = chunk.recordLines;
    const last = lines.length > 0 ? lines[lines.length - 1] : chunk.startLine;
    if (this.offset + last + 1 > MAX_LINE)
      throw new ConfigError(
        `${this.current!.label}: the load's files hold more than ${MAX_LINE} lines in all; split it into several loads`,
      );
    this.lastLine = Math.max(this.lastLine, this.offset + last + 1);
    if (this.offset === 0) return chunk;
    for (let i = 0; i < lines.length; i += 1) lines[i] += this.offset;
    return { ...chunk, startLine: chunk.startLine + this.offset };
  }

  place = (rejects: Reject[]): Reject[] =>
    rejects.map((reject) => {
      let i = this.spans.length - 1;
      while (i > 0 && this.spans[i].offset >= reject.line) i -= 1;
      const span = this.spans[i];
      return span ? { ...reject, file: span.label, line: reject.line - span.offset } : reject;
    });

  destroy(): void {
    this.current?.source.destroy();
    this.current = undefined;
    this.nextFile = this.files.length;
    this.opener.close();
  }
}

/** Lists the files, opens the first (its header or schema decides the layout) and returns the source of them all. */
export async function prepareFiles(options: FilesOptions): Promise<PreparedFiles> {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.log.warn(message);
  };
  const opener = new FileOpener(options);
  const many = isManyFiles(options.location);
  try {
    const files = many
      ? await listFiles(options.location, opener.s3, opener.settings, SETTING, options.signal)
      : [{ location: options.location, mandatory: true }];
    const format = options.format ?? (files[0] ? formatOf(undefined, files[0].location) : 'csv');
    const label = many
      ? `${sourceLabel(options.location)} (${files.length} file${files.length === 1 ? '' : 's'})`
      : sourceLabel(options.location);
    if (files.length === 0) warn(`${label}: no file matches`);
    const source = new ManyFilesSource(files, format, opener, warn);
    const first = await source.begin();
    const layout =
      source.layout ??
      (format === 'csv'
        ? positionalLayout(options.spec, options.csv.delimiter, options.csv.quote)
        : jsonLayout(options.spec));
    source.layout = layout;
    const size = many ? undefined : first?.size;
    return {
      input: { label, ...(size === undefined ? {} : { size }), bytesRead: () => source.bytesRead() },
      source,
      layout,
      warnings,
      placeRejects: many ? source.place : (rejects) => rejects,
    };
  } catch (error) {
    opener.close();
    throw error;
  }
}
