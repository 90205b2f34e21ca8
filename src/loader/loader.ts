/**
 * Records from code as a source: a Loader encodes what it is given into chunks (source/code-records)
 * and feeds them to a load (load/lifecycle), so records written here get everything a file sync
 * gets: validation, rejects under maxErrors, the duplicate-key rule, delete guards, history, the
 * table lock for the merge, and compensations.
 */
import { Writable } from 'node:stream';
import { openDatabase, type Database } from '../db/connect.js';
import { LoadClosedError, messageOf } from '../errors.js';
import { faultsOf } from '../load/faults.js';
import type { Reject } from '../load/layout.js';
import { openLoad, type Load } from '../load/lifecycle.js';
import type { SyncResult } from '../load/result.js';
import { silentLogger } from '../observe/log.js';
import { RecordChunker } from '../source/code-records.js';
import type { DeleteRule, TargetSpec } from '../table/spec.js';
import { resolveLoaderConfig, type LoaderOptions, type LoaderReject } from './options.js';

/**
 * The field a loader's delete markers carry when the target has no delete_when of its own. Its name
 * cannot be a column's source name by accident.
 */
const DELETE_FIELD = '\u0000etl_delete';

/** The delete rule a loader stages with: the target's own, or one on the loader's marker field. */
function deleteRuleOf(spec: TargetSpec): DeleteRule {
  return spec.deleteWhen ?? { field: DELETE_FIELD, op: '=', value: 'true' };
}

/** A field value that makes the rule match: its value for `=`, anything else for `!=`. */
function markerValue(rule: DeleteRule): string {
  return rule.op === '=' ? rule.value : `not ${rule.value}`;
}

function toLoaderReject(reject: Reject, spec: TargetSpec): LoaderReject {
  let record: unknown = reject.raw;
  try {
    record = JSON.parse(reject.raw);
  } catch {
    // Records that could not be encoded are reported as their inspected text.
  }
  const column = spec.columns.find(
    (c) => reject.reason.startsWith(`${c.name} `) || reject.reason.startsWith(`${c.name}:`),
  )?.name;
  return { record, reason: reject.reason, column, index: reject.line - 1 };
}

type LoaderState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

/** Records of type T into one load of a table. Get one from `openLoader`. */
export class Loader<T extends object = Record<string, unknown>> implements AsyncDisposable {
  private readonly chunker: RecordChunker;
  private readonly rule: DeleteRule;
  /** Writes run one after the other, in call order, even when the caller does not await them. */
  private queue: Promise<void> = Promise.resolve();
  private state: LoaderState = 'open';
  /** Ends what the loader holds besides the load: its signal listener and (unless shared) the database. */
  private readonly release: () => Promise<void>;

  /** @internal */
  constructor(
    private readonly load: Load,
    private readonly spec: TargetSpec,
    batchSize: number,
    release: () => Promise<void>,
    signal: AbortSignal | undefined,
  ) {
    this.chunker = new RecordChunker(batchSize);
    this.rule = deleteRuleOf(spec);
    const onAbort = () => {
      if (this.state === 'open') this.abort(String(signal?.reason ?? 'aborted')).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.release = async () => {
      signal?.removeEventListener('abort', onAbort);
      await release();
    };
  }

  /** The load's id in `etl status` and etl_info_schema.loads. */
  get loadId(): string {
    return this.load.loadId;
  }

  /**
   * Writes one record or an array of them. Resolves when they are accepted: when a batch is full it
   * waits for room in the worker pool, so a loop awaiting `write` never outruns the database.
   */
  write(records: T | readonly T[]): Promise<void> {
    if (this.state !== 'open') return this.closed();
    const batch: readonly unknown[] = Array.isArray(records) ? records : [records];
    return this.enqueue(async () => {
      for (const record of batch) await this.accept(record);
    });
  }

  /** Writes a delete marker: the row with this key is deleted at commit (its other fields are ignored). */
  delete(key: Partial<T>): Promise<void> {
    if (this.state !== 'open') return this.closed();
    return this.enqueue(() => this.accept({ ...key, [this.rule.field]: markerValue(this.rule) }));
  }

  /** Resolves when everything written so far is staged (and its rejects reported). */
  flush(): Promise<void> {
    if (this.state !== 'open') return this.closed();
    return this.enqueue(async () => {
      await this.stageBatch();
      await this.load.flush();
    });
  }

  /** Merges everything written in one transaction; the result is the same as a sync's. */
  async commit(): Promise<SyncResult> {
    if (this.state !== 'open') return this.closed();
    this.state = 'committing';
    try {
      await this.queue;
      await this.stageBatch();
      const result = await this.load.commit();
      this.state = 'committed';
      return result;
    } catch (error) {
      this.state = 'failed';
      throw error;
    } finally {
      await this.release();
    }
  }

  /** Nothing is committed: the target is unchanged and the load is marked aborted. Safe to repeat. */
  async abort(reason = 'aborted by the caller'): Promise<void> {
    if (this.state === 'aborted' || this.state === 'failed') return;
    if (this.state !== 'open') return this.closed();
    this.state = 'aborted';
    await this.queue.catch(() => undefined);
    try {
      await this.load.abort(reason);
    } finally {
      await this.release();
    }
  }

  /** An object-mode Writable for stream.pipeline(): each object is a record; ending it flushes. */
  writable(): Writable {
    return new Writable({
      objectMode: true,
      write: (record: T, _encoding, done) => {
        this.write(record).then(() => done(), done);
      },
      writev: (chunks, done) => {
        this.write(chunks.map((c) => c.chunk as T)).then(() => done(), done);
      },
      final: (done) => {
        this.flush().then(() => done(), done);
      },
    });
  }

  /** `await using loader = await openLoader(...)`: a loader left uncommitted is aborted. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.state === 'open') await this.abort('the loader was disposed without commit()');
  }

  private async accept(record: unknown): Promise<void> {
    const refused = this.chunker.add(record);
    if (refused) await this.load.refuse([refused]);
    if (this.chunker.full) await this.stageBatch();
  }

  private async stageBatch(): Promise<void> {
    const chunk = this.chunker.take();
    if (chunk) await this.load.stage(chunk);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    // A failed write fails the load (it rolls back); later calls then get the load's closed error.
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Calls after commit/abort settle with this typed error; nothing is done. */
  private closed(): Promise<never> {
    return Promise.reject(new LoadClosedError(this.spec.name, this.loadId, this.state));
  }
}

/**
 * Opens a load of one table for records written from code.
 *
 * @example
 * ```ts
 * import { openLoader } from 'etl';
 *
 * const loader = await openLoader<{ email: string; full_name: string }>({
 *   target: 'followers',
 *   database: process.env.DATABASE_URL,
 *   maxErrors: 10,
 * });
 * try {
 *   for (const f of followers) await loader.write(f);
 *   await loader.delete({ email: 'gone@example.com' });
 *   const result = await loader.commit();
 *   console.log(result.counts);
 * } catch (error) {
 *   await loader.abort(String(error));
 *   throw error;
 * }
 * ```
 */
export async function openLoader<T extends object = Record<string, unknown>>(
  options: LoaderOptions,
): Promise<Loader<T>> {
  const config = resolveLoaderConfig(options);
  const spec: TargetSpec = { ...config.target, deleteWhen: deleteRuleOf(config.target) };
  const log = options.log ?? silentLogger;
  const db: Database = options.db ?? (await openDatabase(config.database, (m) => log.info(m)));
  const closeDb = async () => {
    if (!options.db) await db.close();
  };
  let load: Load;
  try {
    load = await openLoad(
      {
        spec,
        settings: config,
        source: 'code',
        layout: {
          format: 'json',
          fieldNames: spec.columns.map((c) => c.source),
          columns: spec.columns,
          keys: spec.key,
          deleteWhen: spec.deleteWhen,
        },
      },
      {
        db,
        log,
        signal: options.signal,
        onProgress: options.onProgress,
        onRejects: (rejects) => {
          if (options.onReject) for (const r of rejects) options.onReject(toLoaderReject(r, spec));
        },
        faults: faultsOf(options),
      },
    );
  } catch (error) {
    await closeDb();
    throw error;
  }
  return new Loader<T>(load, spec, config.batchSize, closeDb, options.signal);
}

/**
 * One shot: writes every record of an array, an iterable or an async iterable, then commits.
 * On any failure (of the records' source too) the load is aborted and the error rethrown.
 *
 * @example
 * ```ts
 * const result = await load(readProducts(), { target: 'products' });
 * ```
 */
export async function load<T extends object = Record<string, unknown>>(
  records: Iterable<T> | AsyncIterable<T>,
  options: LoaderOptions,
): Promise<SyncResult> {
  const loader = await openLoader<T>(options);
  try {
    for await (const record of records) await loader.write(record);
  } catch (error) {
    await loader.abort(`the records could not be read: ${messageOf(error)}`).catch(() => undefined);
    throw error;
  }
  return loader.commit();
}
