/**
 * A file sync: the file (or stdin, or a URL) is opened and its header checked before anything
 * touches the database, then its chunks feed a load (load/lifecycle.ts), which stages, merges and
 * compensates.
 */
import type { SyncConfig } from '../config/types.js';
import type { Database } from '../db/connect.js';
import { ConfigError, SyncAbortedError } from '../errors.js';
import { faultsOf } from '../load/faults.js';
import type { ChunkLayout } from '../load/layout.js';
import { openLoad, type Load } from '../load/lifecycle.js';
import type { SyncProgress, SyncResult } from '../load/result.js';
import type { Logger } from '../observe/log.js';
import { formatOf } from '../source/format.js';
import { matchHeader, positionalLayout } from '../source/header.js';
import { checkReadable, openInput, type Input } from '../source/input.js';
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
  input: Input;
  source: RecordSource;
  layout: ChunkLayout;
  warnings: string[];
}

/** Aborting `signal` stops a read blocked anywhere (a FIFO nobody writes to, a slow URL, a long gunzip). */
export async function prepareSource(config: SyncConfig, log: Logger, signal?: AbortSignal): Promise<PreparedSource> {
  try {
    return await openSource(config, log, signal);
  } catch (error) {
    if (!signal?.aborted) throw error;
    throw new SyncAbortedError(
      `sync of ${config.target.name} interrupted (${String(signal.reason ?? 'aborted')}) while opening its input; nothing was written`,
      undefined,
    );
  }
}

async function openSource(config: SyncConfig, log: Logger, signal: AbortSignal | undefined): Promise<PreparedSource> {
  const spec = config.target;
  const warnings: string[] = [];
  checkTargetNames(spec);
  await checkReadable(config.file, 'CSV_FILE (--file)');
  const input = await openInput(config.file, { signal });
  const format = formatOf(config.format, input.label);
  const source = new RecordSource(input.stream, {
    format,
    delimiter: config.csv.delimiter,
    quote: config.csv.quote,
    header: config.csv.header,
    encoding: config.csv.encoding,
    recordsPerChunk: config.batchSize,
    label: input.label,
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
  return { input, source, layout, warnings };
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
      },
      {
        db: env.db,
        log: env.log,
        signal: env.signal,
        onProgress: (p) => env.onProgress?.({ ...p, bytesRead: input.bytesRead(), totalBytes: input.size }),
        faults: faultsOf(config),
      },
    );
  } catch (error) {
    source.destroy();
    throw error;
  }
  try {
    for (let chunk = await source.next(); chunk; chunk = await source.next()) await load.stage(chunk);
  } catch (error) {
    source.destroy();
    throw await load.fail(error);
  }
  return load.commit();
}
