/**
 * One sync, start to end: read the header, lock the table, open a load, stage the file through the
 * worker pool, merge in one transaction, clean up. Every side effect registers its compensation, so
 * any failure (or a signal) leaves the target exactly as it was and nothing of the load behind.
 */
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream';
import { hostname } from 'node:os';
import pg from 'pg';
import type { SyncConfig } from '../config/types.js';
import { withLimits, type Database } from '../db/connect.js';
import { connectionLostReason } from '../db/connection-lost.js';
import { SocketRegistry } from '../db/sockets.js';
import { redactSecrets } from '../observe/redact.js';
import { ConfigError, messageOf, SyncAbortedError, SyncFailedError } from '../errors.js';
import {
  fileFingerprint,
  FingerprintStream,
  lastFingerprint,
  recordFingerprint,
  sameFingerprint,
  type Fingerprint,
} from '../load/fingerprint.js';
import type { ChunkLayout, Reject } from '../load/layout.js';
import { StagingPool } from '../load/pool.js';
import { checkHeap } from '../load/heap.js';
import { copyInto, createPartition, dropPartition } from '../merge/sql.js';
import { mergeLoad } from '../merge/transaction.js';
import type { Logger } from '../observe/log.js';
import { RecordSource } from '../source/record-source.js';
import { checkTargetNames } from '../table/identifier.js';
import { formatOf } from '../source/format.js';
import { matchHeader, positionalLayout } from '../source/header.js';
import { checkReadable, openInput } from '../source/input.js';
import type { ChunkSource, ReadProgress } from '../source/chunk-source.js';
import { needsFileReader } from '../source/load-route.js';
import { createLoad, finishLoad, zeroCounts, type LoadCounts } from '../store/history.js';
import { acquireTableLock, releaseTableLock } from '../store/lock.js';
import { migrate } from '../store/migrate.js';
import { ensureTarget } from '../store/ensure-target.js';
import { describeRejects, RejectSink } from '../store/rejects.js';
import { Compensations } from './compensations.js';
import { recoverAbandoned } from './recover.js';

export interface SyncProgress {
  bytesRead: number;
  totalBytes?: number;
  /** gzip input: bytes after decompression. */
  decompressedBytes?: number;
  rowsRead: number;
  phase: 'staging' | 'merging';
}

export interface SyncEnvironment {
  db: Database;
  log: Logger;
  /** Aborting it (SIGINT/SIGTERM) stops the run; compensations run before the promise settles. */
  signal?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
}

export interface SyncResult {
  loadId: string;
  target: string;
  source: string;
  dryRun: boolean;
  counts: LoadCounts;
  /** The first bad lines, when some were skipped under --max-errors. */
  firstRejects: Reject[];
  warnings: string[];
  /** Set when --if-changed skipped the sync: the source equals the table's last successful load. */
  skipped?: 'unchanged';
  /**
   * Where the time went: setup (connect, migrate, lock), read+parse+stage, merge transaction, cleanup;
   * the workers' parse and COPY time summed over threads; each step of the merge transaction.
   */
  phases: {
    setupMs: number;
    stageMs: number;
    mergeMs: number;
    cleanupMs: number;
    workerParseMs: number;
    workerCopyMs: number;
    mergeSteps: Record<string, number>;
  };
  durationMs: number;
  rowsPerSecond: number;
}

/** Too many bad rows: the load fails, but its history and rejects stay for the user to inspect. */
class TooManyRejectsError extends Error {}

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
  checkTargetNames(spec);
  if (needsFileReader(config.file, config.format)) {
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
      log,
    });
  }
  const warnings: string[] = [];
  await checkReadable(config.file, 'CSV_FILE (--file)');
  const input = await openInput(config.file, { signal, s3: config.s3 });
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

export async function runSync(config: SyncConfig, prepared: PreparedSource, env: SyncEnvironment): Promise<SyncResult> {
  const started = performance.now();
  const spec = config.target;
  const { log, db, signal } = env;
  const { input, source, layout } = prepared;
  // Shared: a many-files source adds warnings (a skipped optional file) while it reads.
  const warnings = prepared.warnings;

  // 2. The control connection: holds the table lock and runs the merge.
  // Every connection gets the bulk-work limits; main-thread sockets are tracked so an abort can cut them.
  const sockets = new SocketRegistry();
  const connection = withLimits(db.connection, config.limits);
  const control = new pg.Client(sockets.track({ ...connection, application_name: `etl sync ${spec.name}` }));
  control.on('error', () => undefined); // surfaced by the next query on it
  const side = new pg.Pool({
    ...sockets.track(connection),
    application_name: `etl sync ${spec.name} (history)`,
    min: config.minConnections > 0 ? 1 : 0,
    max: 2,
    idleTimeoutMillis: 1000,
  });
  side.on('error', () => undefined);
  const compensations = new Compensations();
  let failure: unknown;
  let loadId: string | undefined;
  let locked = false;
  let phase: SyncProgress['phase'] = 'staging';
  let pool: StagingPool | undefined;
  let rejects: RejectSink | undefined;
  const counts = zeroCounts();
  /** Why the database could not be reached by a compensation: the rest is left to the next sync. */
  let lostDatabase: string | undefined;
  /** COMMIT was sent: if the connection is lost now, only the load's recorded status tells the outcome. */
  let committing = false;

  let controlPid: number | undefined;
  const onAbort = () => {
    // Stop at once, whatever is waiting: workers (and their COPY sockets) are terminated, and this
    // thread's sockets are cut, so a stalled network cannot hold the run. The server notices a cut
    // socket only when it next talks to the client, so a merge (or lock wait) is ended explicitly.
    // The compensations then run on fresh connections.
    void pool?.abort(new SyncAbortedError(`sync of ${spec.name} interrupted`, loadId)).catch(() => undefined);
    sockets.destroyAll();
    if (controlPid !== undefined) void endBackend(connection, controlPid);
  };
  signal?.addEventListener('abort', onAbort);
  const checkAbort = () => {
    if (signal?.aborted)
      throw new SyncAbortedError(`sync of ${spec.name} interrupted (${String(signal.reason ?? 'aborted')})`, loadId);
  };

  try {
    checkAbort();
    await control.connect();
    controlPid = (await control.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await migrate(control);
    checkAbort();
    await acquireTableLock(control, spec.name, config.lockTimeoutMs);
    locked = true;
    const recovered = await recoverAbandoned(control, spec);
    for (const { loadId: id, why } of recovered)
      log.warn(
        `load ${id} of ${spec.name} was abandoned (${why}): its staging rows were removed and it is marked aborted`,
      );
    const last = config.ifChanged ? await lastFingerprint(control, spec.name) : undefined;
    if (last && sameFingerprint(await fileFingerprint(config.file), last)) {
      source.destroy();
      return await skipUnchanged(side, config, input.label, last, started, warnings);
    }
    const { created } = await ensureTarget(control, spec);
    if (created) log.info(`created ${spec.schema}.${spec.table} from the configuration of ${spec.name}`);
    checkAbort();

    loadId = randomUUID();
    const id = loadId;
    // Registered before the insert, for the same reason as the partition below (an update of a
    // load that was never recorded changes nothing).
    compensations.register('mark load failed', async () => {
      if (lostDatabase !== undefined) return; // the next sync records it
      await finishLoad(
        side,
        id,
        signal?.aborted ? 'aborted' : 'failed',
        counts,
        failure ? redactSecrets(messageOf(failure)) : 'failed',
      );
    });
    await createLoad(control, {
      loadId: id,
      table: spec.name,
      source: input.label,
      host: hostname(),
      pid: process.pid,
      dryRun: config.dryRun,
    });
    rejects = new RejectSink(id, config.rejectsFile, prepared.placeRejects !== undefined);
    const sink = rejects;
    compensations.register('flush rejects', async () => {
      try {
        if (lostDatabase === undefined) await sink.flush(side);
      } finally {
        await sink.close();
      }
    });
    // Registered first: an abort that cuts the connection mid-statement cannot tell whether the
    // server created it, and dropping it is harmless either way.
    compensations.register('drop staging partition', async () => {
      await side.query(dropPartition(spec, id).text);
    });
    await control.query(createPartition(spec, id).text);

    const stageStart = performance.now();
    // 3. Stage: chunks fan out to the workers, which parse, validate and COPY.
    pool = new StagingPool({
      workers: config.workers,
      batchSize: config.batchSize,
      connection: { ...connection, application_name: `etl sync ${spec.name} (worker)` },
      copySql: copyInto(spec, id),
      layout,
      skipCopy: false,
      onRejects: (batch) => sink.add(prepared.placeRejects ? prepared.placeRejects(batch) : batch),
      crashOnChunk: config.faults?.killWorkerOnBatch,
      exhaustMemoryOnChunk: config.faults?.exhaustWorkerMemoryOnBatch,
      maxRecordBytes: config.maxRecordSize,
    });
    const tooMany = () => {
      if (sink.total > config.maxErrors) {
        throw new TooManyRejectsError(
          `${input.label} has more than ${config.maxErrors} bad row(s) (--max-errors ${config.maxErrors}): ${describeRejects(sink.first())}` +
            `; see etl status --load ${id} --rejects`,
        );
      }
    };
    for (let chunk = await source.next(); chunk; chunk = await source.next()) {
      checkAbort();
      await pool.stage(chunk);
      tooMany();
      if (sink.pendingCount >= 1000) await sink.flush(side);
      checkHeap();
      env.onProgress?.({
        bytesRead: input.bytesRead(),
        totalBytes: input.size,
        decompressedBytes: prepared.decompressedBytes?.(),
        rowsRead: pool.records,
        phase,
      });
    }
    await pool.drain();
    counts.read = pool.records;
    counts.staged = pool.staged;
    counts.rejected = sink.total;
    const worker = { parseMs: pool.parseMs, copyMs: pool.copyMs };
    await pool.close();
    pool = undefined;
    tooMany();
    await sink.flush(side);
    const read = prepared.fingerprint?.result();
    if (read) await recordFingerprint(side, id, read);
    if (last && sameFingerprint(read, last)) {
      // A source that cannot be read twice (stdin, a URL) is compared once read: the merge is skipped.
      await control.query(dropPartition(spec, id).text);
      compensations.settle('drop staging partition');
      compensations.settle('mark load failed');
      compensations.settle('flush rejects');
      await sink.close();
      await finishLoad(side, id, 'skipped', counts);
      return skippedResult(config, input.label, id, started, warnings, counts);
    }
    await config.faults?.beforeStep?.('staged');
    checkAbort();

    // 4. Merge, in one transaction that also records the outcome.
    const mergeStart = performance.now();
    phase = 'merging';
    env.onProgress?.({ bytesRead: input.bytesRead(), totalBytes: input.size, rowsRead: counts.read, phase });
    const merged = await mergeLoad(control, spec, id, {
      workMem: config.workMem,
      allowEmpty: config.allowEmpty,
      maxDeletePercent: config.maxDeletePercent,
      dryRun: config.dryRun,
      counts,
      source: input.label,
      beforeCommit: async () => {
        await config.faults?.beforeStep?.('commit');
        checkAbort();
        committing = true;
      },
    });
    Object.assign(counts, merged.counts);
    if (config.dryRun) await finishLoad(side, id, 'succeeded', counts);
    compensations.settle('mark load failed');
    compensations.settle('flush rejects');
    await sink.close();

    // 5. Cleanup: the load is committed; a cleanup failure only leaves a partition the next run drops.
    const cleanupStart = performance.now();
    try {
      await config.faults?.beforeStep?.('cleanup');
      await control.query(dropPartition(spec, id).text);
      compensations.settle('drop staging partition');
    } catch (error) {
      compensations.settle('drop staging partition');
      const message = `load ${id} committed, but its staging partition could not be dropped (${messageOf(error)}); the next sync removes it`;
      warnings.push(message);
      log.warn(message);
    }

    const durationMs = performance.now() - started;
    const phases = {
      setupMs: stageStart - started,
      stageMs: mergeStart - stageStart,
      mergeMs: cleanupStart - mergeStart,
      cleanupMs: performance.now() - cleanupStart,
      workerParseMs: worker.parseMs,
      workerCopyMs: worker.copyMs,
      mergeSteps: merged.steps,
    };
    if (counts.rejected > 0) warnings.push(`${counts.rejected} bad row(s) skipped: ${describeRejects(sink.first())}`);
    return {
      loadId: id,
      target: spec.name,
      source: input.label,
      dryRun: config.dryRun,
      counts,
      firstRejects: [...sink.first()],
      warnings,
      phases,
      durationMs,
      rowsPerSecond: counts.read / Math.max(durationMs / 1000, 1e-3),
    };
  } catch (error) {
    failure = error;
    source.destroy();
    if (pool) {
      await pool.close().catch(() => undefined);
      counts.read = pool.records;
      counts.staged = pool.staged;
    }
    if (rejects) counts.rejected = rejects.total;
    await compensations.runAll((name, undoError) => {
      const lost = connectionLostReason(undoError);
      if (lost === undefined) log.error(`compensation "${name}" failed: ${messageOf(undoError)}`);
      else lostDatabase ??= lost;
    });
    if (lostDatabase !== undefined && loadId !== undefined)
      log.error(
        `load ${loadId} could not be cleaned up: the database cannot be reached (${lostDatabase}). ` +
          `The next sync of ${spec.name} removes its staging rows and records it as aborted`,
      );
    throw classify(error, spec.name, loadId, signal, { committing, cleanedUp: lostDatabase === undefined });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (locked) await releaseTableLock(control, spec.name).catch(() => undefined);
    await control.end().catch(() => undefined);
    await side.end().catch(() => undefined);
  }
}

/** Records a load that --if-changed skipped before reading anything, and reports it. */
async function skipUnchanged(
  db: pg.Pool,
  config: SyncConfig,
  source: string,
  fingerprint: Fingerprint,
  started: number,
  warnings: string[],
): Promise<SyncResult> {
  const loadId = randomUUID();
  await createLoad(db, {
    loadId,
    table: config.target.name,
    source,
    host: hostname(),
    pid: process.pid,
    dryRun: config.dryRun,
  });
  await recordFingerprint(db, loadId, fingerprint);
  await finishLoad(db, loadId, 'skipped', zeroCounts());
  return skippedResult(config, source, loadId, started, warnings, zeroCounts());
}

function skippedResult(
  config: SyncConfig,
  source: string,
  loadId: string,
  started: number,
  warnings: string[],
  counts: LoadCounts,
): SyncResult {
  const durationMs = performance.now() - started;
  return {
    loadId,
    target: config.target.name,
    source,
    dryRun: config.dryRun,
    counts,
    firstRejects: [],
    warnings,
    skipped: 'unchanged',
    phases: {
      setupMs: durationMs,
      stageMs: 0,
      mergeMs: 0,
      cleanupMs: 0,
      workerParseMs: 0,
      workerCopyMs: 0,
      mergeSteps: {},
    },
    durationMs,
    rowsPerSecond: 0,
  };
}

/** Ends a backend from a fresh connection (best effort: on a dead network the connect timeout ends it). */
async function endBackend(connection: pg.ClientConfig, pid: number): Promise<void> {
  const client = new pg.Client({ ...connection, application_name: 'etl sync (abort)' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  } catch {
    // The connection is gone with the network; the server ends the session when it notices.
  } finally {
    await client.end().catch(() => undefined);
  }
}

function classify(
  error: unknown,
  target: string,
  loadId: string | undefined,
  signal: AbortSignal | undefined,
  { committing, cleanedUp }: { committing: boolean; cleanedUp: boolean },
): Error {
  if (error instanceof ConfigError) return error;
  if (signal?.aborted)
    return new SyncAbortedError(
      `sync of ${target} interrupted (${String(signal.reason ?? 'aborted')}); ` +
        (cleanedUp ? 'rolled back' : `nothing was committed, so ${target} is unchanged`),
      loadId,
    );
  if (error instanceof SyncAbortedError) return error;
  if (loadId === undefined) return error instanceof Error ? error : new Error(String(error));
  const lost = connectionLostReason(error);
  if (lost !== undefined) {
    // Said as it is: the server rolls back what was not committed, but this run cannot confirm it.
    const outcome = committing
      ? `it was lost while committing, so ${target} has either all of this load or none of it: the load's status (etl status --load ${loadId}) is recorded in the same transaction and tells which`
      : `nothing was committed, so ${target} is unchanged`;
    return new SyncFailedError(
      `sync of ${target} lost its database connection (load ${loadId}): ${redactSecrets(lost)}; ${outcome}`,
      loadId,
      { cause: error },
    );
  }
  return new SyncFailedError(
    `sync of ${target} failed and was rolled back (load ${loadId}): ${redactSecrets(messageOf(error))}`,
    loadId,
    { cause: error },
  );
}
