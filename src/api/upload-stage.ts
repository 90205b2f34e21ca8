/**
 * The first half of an upload, in the API process that receives the body: the bytes stream through
 * a size limit and a hash into the source readers (gzip recognised by its first bytes), chunk by
 * chunk into a load's staging partition through the worker pool, while they arrive. Nothing holds
 * more than a chunk. Once the body has ended and everything is staged, the load is parked and the
 * import queued for a worker to merge (upload-merge.ts). Any failure rolls the load back.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { SyncConfig } from '../config/types.js';
import type { Database } from '../db/connect.js';
import { openLoad } from '../load/lifecycle.js';
import type { FieldLogger } from '../observe/json-log.js';
import { patchImport, type ImportOptions, type ImportRow } from '../store/imports.js';
import { ownerIsGone } from '../store/load-lock.js';
import { prepareSource } from '../sync/run.js';
import { ApiError } from './errors.js';
import { ImportError } from './failure.js';

/** How often an upload in progress writes its progress and looks for a cancel request. */
const PROGRESS_INTERVAL_MS = 500;

/** Counts, limits and hashes the body as sent (before gzip decompression). */
class BodyTap extends Transform {
  bytes = 0;
  private readonly hash: Hash;

  constructor(
    private readonly max: number,
    options: ImportOptions,
  ) {
    super();
    // The options are part of what "the same request" means for an Idempotency-Key.
    this.hash = createHash('sha256').update(JSON.stringify(['upload', options]));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max)
      return callback(new ApiError(413, 'body_too_large', `the body is larger than --max-body (${this.max} bytes)`));
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export class UploadStager {
  constructor(
    private readonly db: Database,
    private readonly pool: pg.Pool,
    private readonly log: FieldLogger,
    /** Aborted when the server's shutdown timeout has passed: uploads still arriving roll back. */
    private readonly shutdown: AbortSignal,
    private readonly maxBodyBytes: number,
  ) {}

  /** The hash of a repeated upload's body (to compare with the first one's), reading and dropping it. */
  async hashOnly(body: Readable, options: ImportOptions): Promise<string> {
    const tap = new BodyTap(this.maxBodyBytes, options);
    await pipeline(body, tap, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) void chunk;
    });
    return tap.digest();
  }

  /** Stages the body and queues the import; returns the import as queued. On failure the load is rolled back. */
  async stage(row: ImportRow, config: SyncConfig, body: Readable, options: ImportOptions): Promise<ImportRow> {
    const tap = new BodyTap(this.maxBodyBytes, options);
    body.on('error', (error) => tap.destroy(error));
    tap.on('error', () => body.destroy());
    body.pipe(tap);
    const abort = new AbortController();
    const onShutdown = () => abort.abort('shutdown');
    this.shutdown.addEventListener('abort', onShutdown);
    let timer: NodeJS.Timeout | undefined;
    try {
      const label = `upload ${row.importId}`;
      const prepared = await prepareSource(config, this.log, abort.signal, { stream: tap, label });
      const { source, input } = prepared;
      const load = await openLoad(
        {
          spec: config.target,
          settings: config,
          source: label,
          layout: prepared.layout,
          warnings: prepared.warnings,
          // The upload's size and SHA-256 go to its history row; its merge is never skipped.
          fingerprint: prepared.fingerprint && {
            after: () => prepared.fingerprint?.result(),
            skipUnchanged: false,
          },
        },
        { db: this.db, log: this.log, signal: abort.signal },
      ).catch((error: unknown) => {
        source.destroy();
        throw error;
      });
      await patchImport(this.pool, row.importId, { loadId: load.loadId });
      let busy: Promise<unknown> = Promise.resolve();
      timer = setInterval(() => {
        busy = patchImport(this.pool, row.importId, { bytesRead: tap.bytes, rowsRead: load.records })
          .then((now) => {
            if (now?.cancelRequested) abort.abort('cancel');
          })
          .catch(() => undefined);
      }, PROGRESS_INTERVAL_MS);
      try {
        for (let chunk = await source.next(); chunk; chunk = await source.next()) await load.stage(chunk);
      } catch (error) {
        source.destroy();
        const failed = await load.fail(error);
        throw abort.signal.aborted ? abortReason(abort.signal) : failed;
      }
      clearInterval(timer);
      await busy;
      let queued: ImportRow | undefined;
      await load.park(async (loadId, staged) => {
        queued = await patchImport(
          this.pool,
          row.importId,
          {
            status: 'queued',
            loadId,
            rowsRead: staged.read,
            rowsStaged: staged.staged,
            bytesRead: tap.bytes,
            bytesTotal: input.size ?? tap.bytes,
            requestHash: tap.digest(),
          },
          ['staging'],
        );
        // Canceled while the body arrived (also in the last moments, between two progress checks):
        // nothing is handed over, and the load rolls back.
        if (!queued || queued.cancelRequested) throw abortReason({ reason: 'cancel' } as AbortSignal);
      });
      return queued!;
    } finally {
      clearInterval(timer);
      this.shutdown.removeEventListener('abort', onShutdown);
    }
  }

  /**
   * Uploads still marked staging whose receiving process is gone (killed mid-body): failed, clearly.
   * Their load has no owner any more; the next load of the table removes its staged rows.
   */
  async sweepAbandoned(): Promise<string[]> {
    const client = await this.pool.connect();
    try {
      const r = await client.query<{ import_id: string; load_id: string | null; old: boolean }>(
        `SELECT import_id, load_id, created_at < now() - interval '10 minutes' AS old
           FROM etl_info_schema.imports WHERE kind = 'upload' AND status = 'staging'`,
      );
      const gone: string[] = [];
      for (const row of r.rows) {
        const dead = row.load_id ? await ownerIsGone(client, row.load_id) : row.old;
        if (!dead) continue;
        const failed = await patchImport(
          client,
          row.import_id,
          {
            status: 'failed',
            finished: true,
            errorCode: 'upload_interrupted',
            error:
              'the server receiving this upload stopped before the body was staged; nothing was merged: upload it again',
          },
          ['staging'],
        );
        if (failed) gone.push(row.import_id);
      }
      return gone;
    } finally {
      client.release();
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  if (signal.reason === 'cancel')
    return new ImportError('canceled', 'canceled while the body arrived; nothing was merged');
  return new ApiError(
    503,
    'shutting_down',
    'the server shut down while the body arrived; nothing was merged: send it again',
    {
      'Retry-After': '5',
    },
  );
}
