/**
 * A Parquet file as chunks of NDJSON records for the JSON worker path: one row group is decoded at
 * a time (so memory follows the row-group size, not the file size), its rows are turned into JSON
 * objects keyed by the target's source names with exact values (values.ts), and each row's number
 * in the file (1-based) is its "line" in rejects. Columns are matched by name like a CSV header.
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ConfigError } from '../../errors.js';
import type { TargetSpec } from '../../table/spec.js';
import type { ChunkSource } from '../chunk-source.js';
import { SourceError } from '../input.js';
import type { Chunk } from '../splitter.js';
import type { ByteRanges } from './byte-ranges.js';
import { columnEncoder, EXACT_PARSERS, isDecimal, type ValueEncoder } from './values.js';

const normal = (name: string) => name.trim().toLowerCase();

/** A read that failed on the way (the store, the server, the connection, an abort): its own message says what happened. */
function isTransportError(error: unknown): boolean {
  return error instanceof Error && /^(S3Error|HttpError|AbortError)$/u.test(error.name);
}

interface Field {
  /** The key the JSON layout reads (the target's source name, or the delete marker). */
  key: string;
  /** The Parquet column that feeds it. */
  column: string;
  encode: ValueEncoder;
}

/** The fields a target reads, matched by name; a missing one stops the load before anything is staged. */
function matchColumns(schema: SchemaTree, spec: TargetSpec, label: string): Field[] {
  const byName = new Map<string, SchemaTree>();
  for (const child of schema.children)
    if (!byName.has(normal(child.element.name))) byName.set(normal(child.element.name), child);
  const wanted = [
    ...new Set([...spec.columns.map((c) => c.source), ...(spec.deleteWhen ? [spec.deleteWhen.field] : [])]),
  ];
  const missing = wanted.filter((name) => !byName.has(normal(name)));
  if (missing.length > 0) {
    const found = schema.children.map((c) => JSON.stringify(c.element.name)).join(', ');
    throw new ConfigError(
      `${label}: the Parquet file has no ${missing.map((m) => JSON.stringify(m)).join(', ')} column` +
        ` (found ${found || 'nothing'}; need ${wanted.join(', ')})`,
    );
  }
  return wanted.map((key) => {
    const tree = byName.get(normal(key))!;
    return { key, column: tree.element.name, encode: columnEncoder(tree) };
  });
}

/**
 * The reader turns decimals into doubles; decimal columns, top-level or nested in lists, maps and
 * structs, are read raw instead (their annotation hidden from it) and scaled exactly by values.ts.
 */
function rawDecimals(metadata: FileMetaData): FileMetaData {
  if (!metadata.schema.some(isDecimal)) return metadata;
  return {
    ...metadata,
    schema: metadata.schema.map((element) =>
      isDecimal(element) ? { ...element, converted_type: undefined, logical_type: undefined } : element,
    ),
  };
}

export class ParquetSource implements ChunkSource {
  private group = 0;
  private groupStart = 0;
  /** Row number (0-based, in the file) of the first row in `rows`. */
  private rowBase = 0;
  private rows: Record<string, unknown>[] = [];
  private at = 0;
  private closed = false;

  private constructor(
    private readonly ranges: ByteRanges,
    private readonly label: string,
    private readonly metadata: FileMetaData,
    private readonly fields: Field[],
    private readonly recordsPerChunk: number,
  ) {}

  /** Reads the footer and matches the columns; rejects (closing the file) when either fails. */
  static async open(
    ranges: ByteRanges,
    label: string,
    spec: TargetSpec,
    recordsPerChunk: number,
  ): Promise<ParquetSource> {
    try {
      let metadata: FileMetaData;
      try {
        metadata = await parquetMetadataAsync(ranges, { parsers: EXACT_PARSERS });
      } catch (error) {
        if (isTransportError(error)) throw error;
        throw new SourceError(`${label}: not a readable Parquet file (${(error as Error).message})`, 'ETL_PARQUET', {
          cause: error,
        });
      }
      const schema = parquetSchema(metadata);
      const fields = matchColumns(schema, spec, label);
      return new ParquetSource(ranges, label, rawDecimals(metadata), fields, recordsPerChunk);
    } catch (error) {
      await ranges.close().catch(() => undefined);
      throw error;
    }
  }

  get size(): number {
    return this.ranges.byteLength;
  }

  bytesRead(): number {
    return this.ranges.bytesRead;
  }

  async next(): Promise<Chunk | undefined> {
    while (this.at >= this.rows.length) {
      this.rows = [];
      this.at = 0;
      if (this.closed || this.group >= this.metadata.row_groups.length) {
        await this.close();
        return undefined;
      }
      await this.readGroup();
    }
    const end = Math.min(this.rows.length, this.at + this.recordsPerChunk);
    const chunk = this.encode(this.at, end);
    this.at = end;
    return chunk;
  }

  private async readGroup(): Promise<void> {
    const count = Number(this.metadata.row_groups[this.group].num_rows);
    const rowStart = this.groupStart;
    this.group += 1;
    this.groupStart += count;
    if (count === 0) return;
    try {
      this.rows = await parquetReadObjects({
        file: this.ranges,
        metadata: this.metadata,
        columns: this.fields.map((f) => f.column),
        rowStart,
        rowEnd: rowStart + count,
        compressors,
        parsers: EXACT_PARSERS,
        utf8: false,
      });
    } catch (error) {
      if (isTransportError(error) || (error as Error | null)?.name === 'SourceError') throw error;
      throw new SourceError(
        `${this.label}: row group ${this.group} (rows ${rowStart + 1}-${rowStart + count}) cannot be read: ${(error as Error).message}`,
        'ETL_PARQUET',
        { cause: error },
      );
    }
    this.rowBase = rowStart;
  }

  /** Rows [from, to) of the current row group as one chunk of NDJSON records numbered by their row in the file. */
  private encode(from: number, to: number): Chunk {
    const n = to - from;
    const lines = new Int32Array(n);
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    const texts: string[] = new Array<string>(n);
    let offset = 0;
    for (let i = 0; i < n; i += 1) {
      const row = this.rows[from + i];
      const record: Record<string, unknown> = {};
      for (const field of this.fields) record[field.key] = field.encode(row[field.column]);
      const text = JSON.stringify(record);
      texts[i] = text;
      lines[i] = this.rowBase + from + i + 1;
      starts[i] = offset;
      offset += Buffer.byteLength(text);
      ends[i] = offset;
      offset += 1;
    }
    return {
      data: Buffer.from(texts.join('\n')),
      startLine: lines[0],
      records: n,
      recordLines: lines,
      recordStarts: starts,
      recordEnds: ends,
    };
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ranges.close().catch(() => undefined);
  }

  destroy(): void {
    this.rows = [];
    void this.close();
  }
}
