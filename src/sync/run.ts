/**
 * A file sync: the file (or stdin, or a URL) is opened and its header checked before anything
 * touches the database, then its chunks feed a load (load/lifecycle.ts), which stages, merges and
 * compensates.
 */
import { pipeline, type Readable } from 'node:stream';
import type { SyncConfig } from '../config/types.js';
import type { Database } from '../db/connect.js';
import { ConfigError, SyncAbortedError } from '../errors.js';
import { faultsOf } from '../load/faults.js';
import { fileFingerprint, FingerprintStream } from '../load/fingerprint.js';
import type { ChunkLayout, Reject } from '../load/layout.js';
import { openLoad, type Load } from '../load/lifecycle.js';
import type { SyncProgress, SyncResult } from '../load/result.js';
import type { Logger } from '../observe/log.js';
import { formatOf } from '../source/format.js';
import { matchHeader, positionalLayout } from '../source/header.js';
import type { ChunkSource, ReadProgress } from '../source/chunk-source.js';
import { checkReadable, openInput } from '../source/input.js';
import { needsFileReader } from '../source/load-route.js';
import { RecordSource } from '../source/record-source.js';
import { checkTargetNames } from '../table/identifier.js';

export type { SyncProgress, SyncResult } from '../load/result.js';

export interface SyncEnvironment {
  db: Database;
  log: Logger;
  /** Aborting it (SIGINT/SIGTERM) stops the run; compensations run before the promise settles. */
  signal?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
}

/** The input, opened and its header checked: everything that can fail without the database. */
export interface PreparedSource {
  input: ReadProgress;
  /**
   * Hashes a single source's bytes as they are read: recorded with the load, compared by
   * --if-changed. Many files as one load and Parquet have none (they are always read).
   */
  fingerprint?: FingerprintStream;
  source: ChunkSource;
  /** Bytes after gunzip so far, for progress on a compressed source (a gzip bomb shows here). */
  decompressedBytes?: () => number;
  layout: ChunkLayout;
  warnings: string[];
  /** Many files as one load: names each reject's file and its line there. */
  placeRejects?: (rejects: Reject[]) => Reject[];
}

/** Aborting `signal` stops a read blocked anywhere (a FIFO nobody writes to, a slow URL, a long gunzip). */
export async function prepareSource(
  config: SyncConfig,
  log: Logger,
  signal?: AbortSignal,
  from?: { stream: Readable; label: string },
): Promise<PreparedSource> {
  try {
    return await openSource(config, log, signal, from);
  } catch (error) {
    if (!signal?.aborted) throw error;
    throw new SyncAbortedError(
      `sync of ${config.target.name} interrupted (${String(signal.reason ?? 'aborted')}) while opening its input; nothing was written`,
      undefined,
    );
  }
}

async function openSource(
  config: SyncConfig,
  log: Logger,
  signal: AbortSignal | undefined,
  from: { stream: Readable; label: string } | undefined,
): Promise<PreparedSource> {
  const spec = config.target;
  checkTargetNames(spec);
  // `from`: an HTTP upload's body instead of config.file, named `label` in messages.
  if (!from && needsFileReader(config.file, config.format)) {
    // Loaded on demand: the AWS SDK and the Parquet reader cost most of a second at startup.
    const { prepareFiles } = await import('../source/many-files.js');
    return prepareFiles({
      location: config.file,
      format: config.format,
      spec,
      csv: config.csv,
      recordsPerChunk: config.batchSize,
      maxRecordBytes: config.maxRecordSize,
      onTooLarge: config.maxErrors === 0 ? 'fail' : 'skip',
      s3: config.s3,
      signal,
      log,
    });
  }
  const warnings: string[] = [];
  if (!from) await checkReadable(config.file, 'CSV_FILE (--file)');
  const opened = from
    ? await openInput('-', { stdin: from.stream, signal })
    : await openInput(config.file, { signal, s3: config.s3 });
  const input = from ? { ...opened, label: from.label } : opened;
  const format = formatOf(config.format, input.label);
  if (format === 'parquet') {
    input.stream.destroy();
    throw new ConfigError(
      `${input.label}: Parquet cannot be read from standard input; give a path, URL or s3:// object`,
    );
  }
  const fingerprint = new FingerprintStream();
  // Errors of either stream destroy the other, so a read error still reaches the record source.
  pipeline(input.stream, fingerprint, () => undefined);
  const source = new RecordSource(fingerprint, {
    format,
    delimiter: config.csv.delimiter,
    quote: config.csv.quote,
    header: config.csv.header,
    encoding: config.csv.encoding,
    recordsPerChunk: config.batchSize,
    label: input.label,
    maxRecordBytes: config.maxRecordSize,
    // With no bad row allowed, a record over the limit fails the load at once, unread.
    onTooLarge: config.maxErrors === 0 ? 'fail' : 'skip',
  });
  let layout: ChunkLayout | undefined;
  if (format !== 'csv') {
    layout = {
      format: 'json',
      fieldNames: spec.columns.map((c) => c.source),
      columns: spec.columns,
      keys: spec.key,
      deleteWhen: spec.deleteWhen,
    };
  }
  try {
    if (format === 'csv' && config.csv.header) {
      const header = await source.readHeader();
      if (header) {
        const match = matchHeader(header.fields, spec, {
          file: input.label,
          line: header.line,
          delimiter: config.csv.delimiter,
          quote: config.csv.quote,
        });
        layout = match.layout;
        if (match.extra.length > 0) {
          const message = `${input.label}: ignoring column(s) ${match.extra.map((f) => JSON.stringify(f)).join(', ')} (not used by ${spec.name})`;
          warnings.push(message);
          log.warn(message);
        }
      }
    }
  } catch (error) {
    source.destroy();
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${input.label}: cannot read the header: ${(error as Error).message}`, { cause: error });
  }
  layout ??= positionalLayout(spec, config.csv.delimiter, config.csv.quote);
  const decompressedBytes = input.compressed ? () => source.bytesScanned : undefined;
  return { input, source, layout, warnings, fingerprint, decompressedBytes };
}

/** A file sync: the prepared file, chunk by chunk, feeding one load. */
export async function runSync(config: SyncConfig, prepared: PreparedSource, env: SyncEnvironment): Promise<SyncResult> {
  const { input, source } = prepared;
  let load: Load;
  try {
    load = await openLoad(
      {
        spec: config.target,
        settings: config,
        source: input.label,
        layout: prepared.layout,
        // Two replicas of a scheduled sync must not both read the file: the lock is taken first.
        tableLock: 'from-open',
        warnings: prepared.warnings,
        placeRejects: prepared.placeRejects,
        fingerprint: fingerprintOf(config, prepared),
      },
      {
        db: env.db,
        log: env.log,
        signal: env.signal,
        onProgress: (p) =>
          env.onProgress?.({
            ...p,
            bytesRead: input.bytesRead(),
            totalBytes: input.size,
            decompressedBytes: prepared.decompressedBytes?.(),
          }),
        faults: faultsOf(config),
      },
    );
  } catch (error) {
    source.destroy();
    throw error;
  }
  if (load.unchanged) {
    source.destroy();
    return load.commit();
  }
  source.onRead = () => load.reportProgress();
  try {
    for (let chunk = await source.next(); chunk; chunk = await source.next()) await load.stage(chunk);
  } catch (error) {
    source.destroy();
    throw await load.fail(error);
  }
  return load.commit();
}

/** Every single source is fingerprinted (recorded with its load); --if-changed also compares. */
function fingerprintOf(config: SyncConfig, prepared: PreparedSource) {
  const stream = prepared.fingerprint;
  if (!stream) return undefined;
  return {
    before: () => fileFingerprint(config.file),
    after: () => stream.result(),
    skipUnchanged: config.ifChanged,
  };
}
