/**
 * What a worker does with one job: the import's row says what is left. A URL import is a whole
 * sync (fetch, stage, merge) of the URL; an upload was staged by the API process, so its job only
 * merges. One import runs on one worker at a time (its advisory lock); a job offered again while
 * that worker is alive steps aside and asks to be offered later.
 */
import pg from 'pg';
import type { Database } from '../db/connect.js';
import { redactSecrets } from '../observe/redact.js';
import { messageOf, SyncAbortedError, LockBusyError } from '../errors.js';
import type { FieldLogger } from '../observe/json-log.js';
import { sync } from '../index.js';
import { getImport, patchImport, type ImportRow, type ImportStatus } from '../store/imports.js';
import type { SyncCatalog } from './catalog.js';
import { ImportError, importErrorCode } from './failure.js';
import type { ApiMetrics } from './metrics.js';
import { mergeUpload, discardUpload } from './upload-merge.js';

/** Namespace of the per-import advisory lock ("ETM"), apart from etl's table and load locks. */
const IMPORT_LOCK_NAMESPACE = 0x45544d + 0x100;
/** How often a running import looks for a cancel request and writes its progress. */
const WATCH_INTERVAL_MS = 500;
/** A job that finds its import busy elsewhere (or its table locked) is offered again after this. */
export const STEP_ASIDE_SECONDS = 2;

export interface JobContext {
  db: Database;
  catalog: SyncCatalog;
  log: FieldLogger;
  jobAttempts: number;
  /** Aborted when this process shuts down and its running imports must roll back. */
  shutdown: AbortSignal;
  metrics: ApiMetrics;
}

export type JobOutcome = 'done' | 'later';

/** Runs the import of one job; 'later' means: offer the job again in a moment (busy elsewhere). */
export async function runImportJob(importId: string, ctx: JobContext): Promise<JobOutcome> {
  const guard = new pg.Client({ ...ctx.db.connection, application_name: `etl worker (import ${importId})` });
  guard.on('error', () => undefined);
  await guard.connect();
  try {
    const locked = await guard.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      IMPORT_LOCK_NAMESPACE,
      importId,
    ]);
    if (!locked.rows[0].ok) return 'later';
    return await runLocked(importId, guard, ctx);
  } finally {
    await guard.end().catch(() => undefined);
  }
}

async function runLocked(importId: string, db: pg.Client, ctx: JobContext): Promise<JobOutcome> {
  const row = await getImport(db, importId);
  if (!row || row.status === 'succeeded' || row.status === 'failed' || row.status === 'canceled') return 'done';
  // An upload still receiving its body belongs to the API process; its job was sent too early.
  if (row.kind === 'upload' && row.status === 'staging') return 'later';
  if (row.cancelRequested) {
    if (row.kind === 'upload') await discardUpload(row, ctx.catalog, ctx.db);
    await finish(db, row, 'canceled', { error: 'canceled before it started', errorCode: 'canceled' }, ctx);
    return 'done';
  }
  if (row.attempts >= ctx.jobAttempts) {
    if (row.kind === 'upload') await discardUpload(row, ctx.catalog, ctx.db, 'failed');
    const error = `gave up after ${row.attempts} attempt(s): the worker running it stopped each time (killed, lost its host, or shut down)`;
    await finish(db, row, 'failed', { error, errorCode: 'worker_lost' }, ctx);
    return 'done';
  }
  const running: ImportStatus = row.kind === 'url' ? 'staging' : 'merging';
  const started = await patchImport(db, importId, { status: running, attemptsIncrement: true, started: true }, [
    'queued',
    'staging',
    'merging',
  ]);
  if (!started) return 'done';
  ctx.log.info(`import ${importId} of ${row.sync}: attempt ${started.attempts} (${row.kind})`, {
    event: 'import_started',
    import_id: importId,
    sync: row.sync,
    attempt: started.attempts,
  });

  const abort = new AbortController();
  const onShutdown = () => abort.abort('shutdown');
  ctx.shutdown.addEventListener('abort', onShutdown);
  if (ctx.shutdown.aborted) abort.abort('shutdown');
  const watch = new ImportWatch(db, importId, abort);
  try {
    const config = ctx.catalog.forImport(row.sync, row.options, row.url ?? '-');
    const result =
      row.kind === 'url'
        ? await sync(config, { db: ctx.db, log: ctx.log, signal: abort.signal, onProgress: (p) => watch.progress(p) })
        : await mergeUpload(row, config, {
            db: ctx.db,
            log: ctx.log,
            signal: abort.signal,
            onPhase: () => watch.merging(),
          });
    await watch.stop();
    await finish(db, row, 'succeeded', { counts: result.counts, loadId: result.loadId }, ctx);
    return 'done';
  } catch (error) {
    await watch.stop();
    const loadId = (error as { loadId?: string }).loadId ?? row.loadId ?? undefined;
    if (abort.signal.reason === 'shutdown') {
      // Rolled back; another replica takes the job (this attempt still counts toward JOB_ATTEMPTS).
      await patchImport(db, importId, { status: 'queued', loadId: row.kind === 'upload' ? row.loadId : null });
      throw new ImportError('shutdown', 'the worker shut down; the import was rolled back and goes back to the queue');
    }
    if (abort.signal.reason === 'cancel') {
      if (row.kind === 'upload') await discardUpload(row, ctx.catalog, ctx.db);
      await finish(
        db,
        row,
        'canceled',
        { error: 'canceled while running; rolled back', errorCode: 'canceled', loadId },
        ctx,
      );
      return 'done';
    }
    if (error instanceof LockBusyError || (error as { cause?: unknown }).cause instanceof LockBusyError) {
      // Another load of the table is merging: not a failure, and not an attempt.
      await patchImport(db, importId, { status: 'queued', attempts: started.attempts - 1 });
      return 'later';
    }
    if (error instanceof SyncAbortedError) throw error;
    if (row.kind === 'upload') await discardUpload(row, ctx.catalog, ctx.db, 'failed').catch(() => undefined);
    const message = redactSecrets(messageOf(error));
    await finish(db, row, 'failed', { error: message, errorCode: importErrorCode(error), loadId }, ctx);
    return 'done';
  } finally {
    ctx.shutdown.removeEventListener('abort', onShutdown);
  }
}

async function finish(
  db: pg.ClientBase,
  row: ImportRow,
  status: 'succeeded' | 'failed' | 'canceled',
  fields: { error?: string; errorCode?: string; loadId?: string; counts?: ImportRow['counts'] },
  ctx: JobContext,
): Promise<void> {
  const ended = await patchImport(db, row.importId, {
    status,
    finished: true,
    error: fields.error ?? null,
    errorCode: fields.errorCode ?? null,
    loadId: fields.loadId,
    counts: fields.counts,
    rowsRead: fields.counts?.read,
  });
  ctx.metrics.finished(ended ?? { ...row, status, counts: fields.counts ?? null, finishedAt: new Date() });
  const message =
    status === 'succeeded'
      ? `import ${row.importId} of ${row.sync} succeeded`
      : `import ${row.importId} of ${row.sync} ${status}: ${fields.error ?? ''}`;
  const logFields = {
    event: `import_${status}`,
    import_id: row.importId,
    sync: row.sync,
    load_id: fields.loadId,
    error_code: fields.errorCode,
  };
  if (status === 'succeeded') ctx.log.info(message, logFields);
  else ctx.log.warn(message, logFields);
}

/** While an import runs: writes its progress now and then, and turns a cancel request into an abort. */
class ImportWatch {
  private latest: { bytesRead?: number; rowsRead: number; totalBytes?: number; phase: string } | undefined;
  private written = false;
  private readonly timer: NodeJS.Timeout;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: pg.ClientBase,
    private readonly importId: string,
    private readonly abort: AbortController,
  ) {
    this.timer = setInterval(() => {
      this.busy = this.tick().catch(() => undefined);
    }, WATCH_INTERVAL_MS);
  }

  progress(p: { bytesRead?: number; rowsRead: number; totalBytes?: number; phase: string }): void {
    this.latest = p;
    this.written = false;
  }

  merging(): void {
    this.latest = { rowsRead: this.latest?.rowsRead ?? 0, phase: 'merging' };
    this.written = false;
  }

  private async tick(): Promise<void> {
    const p = this.latest;
    // Only a change is written, so updated_at (what a long poll waits on) means something changed.
    const row =
      p && !this.written
        ? await patchImport(this.db, this.importId, {
            bytesRead: p.bytesRead,
            bytesTotal: p.totalBytes,
            rowsRead: p.rowsRead,
            status: p.phase === 'merging' ? 'merging' : undefined,
          })
        : await getImport(this.db, this.importId);
    this.written = true;
    if (row?.cancelRequested && !this.abort.signal.aborted) this.abort.abort('cancel');
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }
}
