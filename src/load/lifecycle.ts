/**
 * The load lifecycle: the one module that knows the order of a load's steps.
 *
 *   openLoad()  -> connects, migrates, takes the load's own liveness lock, recovers abandoned loads,
 *                  records the load as running and creates its staging partition;
 *   load.stage(chunk), repeatedly -> the worker pool parses, validates and COPYs each chunk;
 *   load.commit() -> waits for the staging, takes the table lock, merges in one transaction
 *                    (which also closes the history row), drops the partition;
 *   load.abort(reason) | any failure -> compensations, newest first: the target is as before.
 *
 * How a new source feeds a load: turn what you read into `Chunk`s of records (CSV or NDJSON bytes
 * with their record index, see source/splitter.ts and load/record-chunks.ts), describe them with a
 * `ChunkLayout`, then `openLoad(...)`, `await load.stage(chunk)` for each chunk (it resolves when the
 * pool accepted it, which is the back-pressure), and `commit()` at the end, or `abort()` on a
 * failure of your own. No step here knows where the records come from.
 *
 * Staging needs no table lock (two loads of one table may stage at once); only the merge does,
 * unless the source asks for it from the start (`tableLock: 'from-open'`, as a file sync does so
 * that two replicas never read the same file twice).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { SyncConfig } from '../config/types.js';
import { withLimits, type Database } from '../db/connect.js';
import { connectionLostReason } from '../db/connection-lost.js';
import { SocketRegistry } from '../db/sockets.js';
import { redactSecrets } from '../observe/redact.js';
import { ConfigError, LoadClosedError, messageOf, SyncAbortedError, SyncFailedError } from '../errors.js';
import { copyInto, createPartition, dropPartition } from '../merge/sql.js';
import { deleteFirstInGroup, mergeInTransaction, mergeLoad, type DeletedFirst } from '../merge/transaction.js';
import type { Logger } from '../observe/log.js';
import type { Chunk } from '../source/splitter.js';
import { ensureTarget } from '../store/ensure-target.js';
import { createLoad, finishLoad, recordStaged, zeroCounts, type LoadCounts } from '../store/history.js';
import { holdLoadLock, releaseLoadLock, withSetupLock } from '../store/load-lock.js';
import { acquireTableLock, releaseTableLock } from '../store/lock.js';
import { migrate } from '../store/migrate.js';
import { describeRejects, RejectSink } from '../store/rejects.js';
import type { TargetSpec } from '../table/spec.js';
import { Compensations } from './compensations.js';
import type { LoadFaults } from './faults.js';
import type { ChunkLayout, Reject } from './layout.js';
import { StagingPool } from './pool.js';
import { recoverAbandoned } from './recover.js';
import type { LoadProgress, SyncResult } from './result.js';
import { lastFingerprint, recordFingerprint, sameFingerprint, type Fingerprint } from './fingerprint.js';
import { checkHeap } from './heap.js';

/** The settings a load uses, whatever its source. */
export type LoadSettings = Pick<
  SyncConfig,
  | 'minConnections'
  | 'limits'
  | 'batchSize'
  | 'workers'
  | 'lockTimeoutMs'
  | 'maxErrors'
  | 'rejectsFile'
  | 'allowEmpty'
  | 'maxDeletePercent'
  | 'dryRun'
  | 'workMem'
  | 'maxRecordSize'
>;

/**
 * --if-changed: a source that can say what it read (size and SHA-256). The load records it, and
 * skips the merge when it equals the table's last successful load.
 */
export interface SourceFingerprint {
  /** The fingerprint before reading anything (a local file hashed up front), when it can be known. */
  before?: () => Promise<Fingerprint | undefined>;
  /** The fingerprint of what was read, once the source is exhausted. */
  after: () => Fingerprint | undefined;
  /** Skip the merge (or the whole load) when the source is unchanged; otherwise only record it. */
  skipUnchanged: boolean;
}

export interface LoadPlan {
  spec: TargetSpec;
  settings: LoadSettings;
  /** What the records come from, for the history and messages: a file name, "code", ... */
  source: string;
  /** How the workers read the chunks this source stages. */
  layout: ChunkLayout;
  /** When the table lock is taken: only for the merge (default), or from open to the end. */
  tableLock?: 'for-commit' | 'from-open';
  /**
   * Warnings the source found (ignored columns...), repeated in the result. The array is shared, so
   * a source reading many files can add to it while it reads.
   */
  warnings?: string[];
  /** Many files as one load: names each reject's file and its line there. */
  placeRejects?: (rejects: Reject[]) => Reject[];
  fingerprint?: SourceFingerprint;
}

export interface LoadEnvironment {
  db: Database;
  log: Logger;
  /** Aborting it stops the load; compensations run before the pending step settles. */
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  /** Each chunk's rejected records, as soon as the chunk is done. */
  onRejects?: (rejects: readonly Reject[]) => void;
  faults?: LoadFaults;
}

/** Too many bad records: the load fails, but its history and rejects stay for the user to inspect. */
class TooManyRejectsError extends Error {}

/**
 * After an abort, how long the cleanup waits for the database to accept a connection (or the connect
 * timeout, when shorter). A database it cannot reach is left to the next sync, which cleans up.
 */
const ABORT_CONNECT_MS = 5_000;

type State = 'open' | 'committing' | 'committed' | 'parked' | 'aborted' | 'failed';

/** Opens a load: after this resolves, chunks can be staged; on failure nothing of it is left. */
export async function openLoad(plan: LoadPlan, env: LoadEnvironment): Promise<Load> {
  const load = new Load(plan, env);
  await load.open();
  return load;
}

export class Load {
  readonly loadId = randomUUID();
  private readonly started = performance.now();
  /** The connection settings every connection of this load uses (bulk-work limits applied). */
  private readonly connection: pg.ClientConfig;
  /** Main-thread sockets, tracked so an abort can cut them whatever they wait for. */
  private readonly sockets = new SocketRegistry();
  private readonly control: pg.Client;
  /** History writes that must work even when the control connection is in a failed transaction. */
  private side: pg.Pool;
  private readonly compensations = new Compensations();
  private readonly counts = zeroCounts();
  private readonly warnings: string[];
  private readonly rejects: RejectSink;
  private pool: StagingPool | undefined;
  private state: State = 'open';
  private phase: LoadProgress['phase'] = 'staging';
  private tableLocked = false;
  private controlPid: number | undefined;
  private stageStart = 0;
  /** Whether the history has a row for this load (from then on, failures are SyncFailedErrors). */
  private recorded = false;
  /** COMMIT was sent: if the connection is lost now, only the load's recorded status tells the outcome. */
  private committing = false;
  /** Why the database could not be reached by a compensation: the rest is left to the next load. */
  private lostDatabase: string | undefined;
  private failure: unknown;
  /** Records the source refused before staging (see refuse()). */
  private refused = 0;
  private workerTime = { parseMs: 0, copyMs: 0 };
  private mergeSteps: Record<string, number> = {};
  /** In a group of several loads: what the first pass deleted from the target. */
  private deletedFirst?: DeletedFirst;
  /** --if-changed: the table's last successful load, when the source is compared with it. */
  private last: Fingerprint | undefined;
  /** --if-changed found the source unchanged before reading it: nothing was staged. */
  private unchangedBeforeReading = false;

  constructor(
    private readonly plan: LoadPlan,
    private readonly env: LoadEnvironment,
  ) {
    const name = plan.spec.name;
    this.connection = withLimits(env.db.connection, plan.settings.limits);
    this.control = new pg.Client(this.sockets.track({ ...this.connection, application_name: `etl sync ${name}` }));
    this.control.on('error', () => undefined); // surfaced by the next query on it
    this.side = this.sidePool(this.connection);
    this.warnings = plan.warnings ?? [];
    this.rejects = new RejectSink(this.loadId, plan.settings.rejectsFile, plan.placeRejects !== undefined);
    env.signal?.addEventListener('abort', this.onAbort);
  }

  private sidePool(connection: pg.ClientConfig): pg.Pool {
    const pool = new pg.Pool({
      ...this.sockets.track(connection),
      application_name: `etl sync ${this.plan.spec.name} (history)`,
      min: this.plan.settings.minConnections > 0 ? 1 : 0,
      max: 2,
      idleTimeoutMillis: 1000,
    });
    pool.on('error', () => undefined);
    return pool;
  }

  /** Whether the load can still take records. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Records received so far (valid and rejected). */
  get records(): number {
    return this.pool ? this.pool.records + this.refused : this.counts.read;
  }

  /** Whether --if-changed found the source unchanged before reading it: commit() records a skip. */
  get unchanged(): boolean {
    return this.unchangedBeforeReading;
  }

  /** Step 1. Called once, by openLoad. */
  async open(): Promise<void> {
    await this.step(async () => {
      this.checkAbort();
      await this.connect();
      if (this.plan.tableLock === 'from-open') await this.lockTable();
      await this.setUpTarget();
      if (await this.unchangedUpFront()) return;
      await this.startLoad();
      this.startStaging();
    });
  }

  /** --if-changed on a source that can be hashed before reading (a local file). */
  private async unchangedUpFront(): Promise<boolean> {
    const fingerprint = this.plan.fingerprint;
    if (!fingerprint?.skipUnchanged) return false;
    this.last = await lastFingerprint(this.control, this.plan.spec.name);
    if (!this.last || !fingerprint.before) return false;
    this.unchangedBeforeReading = sameFingerprint(await fingerprint.before(), this.last);
    return this.unchangedBeforeReading;
  }

  /** Step 2, repeated: one chunk to the worker pool; resolves once the pool has room again. */
  async stage(chunk: Chunk): Promise<void> {
    this.expectOpen();
    await this.step(async () => {
      this.checkAbort();
      await this.pool!.stage(chunk);
      this.checkRejects();
      if (this.rejects.full) await this.rejects.flush(this.side);
      this.env.faults?.afterBatch?.();
      checkHeap();
      this.env.onProgress?.({ rowsRead: this.records, phase: this.phase });
    });
  }

  /** Reports progress between chunks (a long record still being read). */
  reportProgress(): void {
    if (this.state === 'open') this.env.onProgress?.({ rowsRead: this.records, phase: this.phase });
  }

  /** Records the source could not even turn into a chunk: rejects like any other, under maxErrors. */
  async refuse(rejects: readonly Reject[]): Promise<void> {
    this.expectOpen();
    await this.step(async () => {
      this.refused += rejects.length;
      this.rejects.add(rejects);
      this.env.onRejects?.(rejects);
      this.checkRejects();
    });
  }

  /** Waits until everything staged so far is in the staging partition (and its rejects recorded). */
  async flush(): Promise<void> {
    this.expectOpen();
    await this.step(async () => {
      await this.pool!.drain();
      this.checkRejects();
      await this.rejects.flush(this.side);
    });
  }

  /** Step 3: everything staged is merged in one transaction; the load's result. */
  async commit(): Promise<SyncResult> {
    this.expectOpen();
    this.state = 'committing';
    return this.step(async () => {
      if (this.unchangedBeforeReading) return this.skipUnread();
      await this.finishStaging();
      if (await this.unchangedOnceRead()) return this.skipStaged();
      const mergeStart = performance.now();
      await this.merge();
      const cleanupStart = performance.now();
      await this.cleanUp();
      this.state = 'committed';
      await this.release();
      return this.result(mergeStart, cleanupStart);
    });
  }

  /**
   * Step 3, deferred: everything written is staged and stays staged for a commit by another process
   * (etl serve hands an upload's merge to a queued job). The load stays running in the history with
   * its counts and keeps its partition. `handOff` runs while this load still holds its liveness
   * lock: it must record the load as awaiting a merge (see store/imports.ts) before the lock goes,
   * or recovery would take the load for abandoned. A failure in it rolls the load back as usual.
   */
  async park(handOff: (loadId: string, staged: Readonly<LoadCounts>) => Promise<void>): Promise<LoadCounts> {
    this.expectOpen();
    this.state = 'committing';
    return this.step(async () => {
      await this.finishStaging();
      // Recorded with the load like any other read source; a parked load is never skipped.
      const read = this.plan.fingerprint?.after();
      if (read) await recordFingerprint(this.side, this.loadId, read);
      await recordStaged(this.side, this.loadId, this.counts);
      await handOff(this.loadId, { ...this.counts });
      for (const name of ['mark load failed', 'flush rejects', 'drop staging partition'])
        this.compensations.settle(name);
      await this.rejects.close();
      this.state = 'parked';
      await this.release();
      return { ...this.counts };
    });
  }

  /** Step 3, the other way: nothing is merged, the load is marked aborted, the target is unchanged. */
  async abort(reason = 'aborted'): Promise<void> {
    if (this.state === 'aborted' || this.state === 'failed') return;
    this.expectOpen();
    this.state = 'aborted';
    this.failure = new SyncAbortedError(`sync of ${this.plan.spec.name} aborted (${reason})`, this.loadId);
    await this.rollBack();
  }

  /**
   * The source failed (a read error, a bad header): rolls the load back if it is still open and
   * returns the error to throw, typed as a failure of this load.
   */
  async fail(error: unknown): Promise<Error> {
    if (this.state === 'open') {
      this.state = 'failed';
      this.failure = error;
      await this.rollBack();
    }
    return this.classify(error);
  }

  private async connect(): Promise<void> {
    await this.control.connect();
    const pid = await this.control.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.controlPid = pid.rows[0].pid;
    await migrate(this.control);
    this.checkAbort();
    await holdLoadLock(this.control, this.loadId);
  }

  private async lockTable(): Promise<void> {
    await acquireTableLock(this.control, this.plan.spec.name, this.plan.settings.lockTimeoutMs, this.loadId);
    this.tableLocked = true;
  }

  private async setUpTarget(): Promise<void> {
    const { spec } = this.plan;
    const { log } = this.env;
    await withSetupLock(this.control, spec.name, async () => {
      for (const { loadId: id, why } of await recoverAbandoned(this.control, spec))
        log.warn(
          `load ${id} of ${spec.name} was abandoned (${why}): its staging rows were removed and it is marked aborted`,
        );
      const { created } = await ensureTarget(this.control, spec);
      if (created) log.info(`created ${spec.schema}.${spec.table} from the configuration of ${spec.name}`);
    });
    this.checkAbort();
  }

  private async startLoad(): Promise<void> {
    const { spec, settings } = this.plan;
    const id = this.loadId;
    // Compensations are registered before their side effects: an abort that cuts the connection
    // mid-statement cannot tell whether the server did it, and undoing it is harmless either way.
    this.compensations.register('mark load failed', async () => {
      if (this.lostDatabase !== undefined) return; // the next load records it
      const status = this.state === 'aborted' || this.env.signal?.aborted ? 'aborted' : 'failed';
      const why = this.failure ? redactSecrets(messageOf(this.failure)) : status;
      await finishLoad(this.side, id, status, this.counts, why);
    });
    this.recorded = true;
    await createLoad(this.control, {
      loadId: id,
      table: spec.name,
      source: this.plan.source,
      host: hostname(),
      pid: process.pid,
      dryRun: settings.dryRun,
    });
    this.compensations.register('flush rejects', async () => {
      try {
        if (this.lostDatabase === undefined) await this.rejects.flush(this.side);
      } finally {
        await this.rejects.close();
      }
    });
    this.compensations.register('drop staging partition', async () => {
      await this.side.query(dropPartition(spec, id).text);
    });
    await this.control.query(createPartition(spec, id).text);
  }

  private startStaging(): void {
    const { spec, settings, layout } = this.plan;
    this.stageStart = performance.now();
    this.pool = new StagingPool({
      workers: settings.workers,
      batchSize: settings.batchSize,
      connection: { ...this.connection, application_name: `etl sync ${spec.name} (worker)` },
      copySql: copyInto(spec, this.loadId),
      layout,
      onRejects: (batch) => {
        const placed = this.plan.placeRejects ? this.plan.placeRejects(batch) : batch;
        this.rejects.add(placed);
        this.env.onRejects?.(placed);
      },
      crashOnChunk: this.env.faults?.killWorkerOnBatch,
      exhaustMemoryOnChunk: this.env.faults?.exhaustWorkerMemoryOnBatch,
      maxRecordBytes: settings.maxRecordSize,
    });
  }

  private async finishStaging(): Promise<void> {
    const pool = this.pool!;
    await pool.drain();
    this.countStaging();
    this.workerTime = { parseMs: pool.parseMs, copyMs: pool.copyMs };
    this.pool = undefined;
    await pool.close();
    this.checkRejects();
    await this.rejects.flush(this.side);
    await this.env.faults?.beforeStep?.('staged');
    this.checkAbort();
  }

  /** The table lock, then one transaction that merges and closes the history row. */
  private async merge(): Promise<void> {
    const { spec, settings } = this.plan;
    if (!this.tableLocked) await this.lockTable();
    this.phase = 'merging';
    this.env.onProgress?.({ rowsRead: this.counts.read, phase: this.phase });
    const merged = await mergeLoad(this.control, spec, this.loadId, {
      workMem: settings.workMem,
      allowEmpty: settings.allowEmpty,
      maxDeletePercent: settings.maxDeletePercent,
      dryRun: settings.dryRun,
      counts: this.counts,
      source: this.plan.source,
      beforeCommit: async () => {
        await this.env.faults?.beforeStep?.('commit');
        this.checkAbort();
        this.committing = true;
      },
    });
    Object.assign(this.counts, merged.counts);
    this.mergeSteps = merged.steps;
    await this.settleMerged();
  }

  /** The merge committed (or a dry run rolled back): its compensations are no longer needed. */
  private async settleMerged(): Promise<void> {
    if (this.plan.settings.dryRun) await finishLoad(this.side, this.loadId, 'succeeded', this.counts);
    this.compensations.settle('mark load failed');
    this.compensations.settle('flush rejects');
    await this.rejects.close();
  }

  // ---- Step 3 for loads that commit together (load/group-commit.ts) ----

  /** Finishes staging and takes the table lock, as commit() does; the group then runs the merge. */
  async prepareGroupCommit(): Promise<void> {
    this.expectOpen();
    this.state = 'committing';
    await this.step(async () => {
      await this.finishStaging();
      if (!this.tableLocked) await this.lockTable();
      this.phase = 'merging';
      this.env.onProgress?.({ rowsRead: this.counts.read, phase: this.phase });
    });
  }

  /** The connection the group's one transaction runs on (the first load's, which an abort cancels). */
  get groupConnection(): pg.ClientBase {
    return this.control;
  }

  /** The group's first pass (children first): this load's deletes, before any target merges. */
  async deleteFirstInGroup(client: pg.ClientBase): Promise<void> {
    const { steps, ...deleted } = await deleteFirstInGroup(client, this.plan.spec, this.loadId, {
      maxDeletePercent: this.plan.settings.maxDeletePercent,
      source: this.plan.source,
    });
    this.deletedFirst = deleted;
    this.mergeSteps = steps;
  }

  /** This load's merge, inside the group's open transaction on `client`. */
  async mergeInGroup(client: pg.ClientBase): Promise<void> {
    const { spec, settings } = this.plan;
    const merged = await mergeInTransaction(client, spec, this.loadId, {
      deletedFirst: this.deletedFirst,
      workMem: settings.workMem,
      allowEmpty: settings.allowEmpty,
      maxDeletePercent: settings.maxDeletePercent,
      dryRun: settings.dryRun,
      counts: this.counts,
      source: this.plan.source,
    });
    Object.assign(this.counts, merged.counts);
    for (const [step, ms] of Object.entries(merged.steps)) this.mergeSteps[step] = (this.mergeSteps[step] ?? 0) + ms;
  }

  /** The group is about to COMMIT: a lost connection from here on may have committed this load. */
  markCommitting(): void {
    this.committing = true;
  }

  /** After the group's COMMIT: the rest of commit() (cleanup, release, the result). */
  async finishGroupCommit(mergeStart: number): Promise<SyncResult> {
    return this.step(async () => {
      await this.settleMerged();
      const cleanupStart = performance.now();
      await this.cleanUp();
      this.state = 'committed';
      await this.release();
      return this.result(mergeStart, cleanupStart);
    });
  }

  /** The group failed before COMMIT: this load is rolled back too; the error, typed for this load. */
  async failGroupCommit(error: unknown): Promise<Error> {
    if (this.state === 'open' || this.state === 'committing') {
      this.state = 'failed';
      this.failure = error;
      await this.rollBack();
    }
    return this.classify(error);
  }

  /** The load is committed: a cleanup failure only leaves a partition the next load drops. */
  private async cleanUp(): Promise<void> {
    this.compensations.settle('drop staging partition');
    try {
      await this.env.faults?.beforeStep?.('cleanup');
      await this.control.query(dropPartition(this.plan.spec, this.loadId).text);
    } catch (error) {
      const message = `load ${this.loadId} committed, but its staging partition could not be dropped (${messageOf(error)}); the next load removes it`;
      this.warnings.push(message);
      this.env.log.warn(message);
    }
  }

  private result(mergeStart: number, cleanupStart: number): SyncResult {
    const { counts } = this;
    if (counts.rejected > 0)
      this.warnings.push(`${counts.rejected} bad row(s) skipped: ${describeRejects(this.rejects.first())}`);
    return this.resultOf(counts, [...this.rejects.first()], undefined, {
      setupMs: this.stageStart - this.started,
      stageMs: mergeStart - this.stageStart,
      mergeMs: cleanupStart - mergeStart,
      cleanupMs: performance.now() - cleanupStart,
      workerParseMs: this.workerTime.parseMs,
      workerCopyMs: this.workerTime.copyMs,
      mergeSteps: this.mergeSteps,
    });
  }

  /** A run skipped as unchanged: all of its time was set-up, and no rows went anywhere. */
  private skippedResult(counts: SyncResult['counts']): SyncResult {
    const elapsed = performance.now() - this.started;
    const phases = { setupMs: elapsed, stageMs: 0, mergeMs: 0, cleanupMs: 0, workerParseMs: 0, workerCopyMs: 0 };
    return { ...this.resultOf(counts, [], 'unchanged', { ...phases, mergeSteps: {} }), rowsPerSecond: 0 };
  }

  private resultOf(
    counts: SyncResult['counts'],
    firstRejects: SyncResult['firstRejects'],
    skipped: SyncResult['skipped'],
    phases: SyncResult['phases'],
  ): SyncResult {
    const durationMs = performance.now() - this.started;
    return {
      loadId: this.loadId,
      target: this.plan.spec.name,
      source: this.plan.source,
      dryRun: this.plan.settings.dryRun,
      counts,
      firstRejects,
      warnings: this.warnings,
      ...(skipped === undefined ? {} : { skipped }),
      phases,
      durationMs,
      rowsPerSecond: counts.read / Math.max(durationMs / 1000, 1e-3),
    };
  }

  /**
   * --if-changed on a source hashed as it was read (stdin, a URL): the fingerprint is recorded with
   * every load; an unchanged one skips the merge.
   */
  private async unchangedOnceRead(): Promise<boolean> {
    const read = this.plan.fingerprint?.after();
    if (!read) return false;
    await recordFingerprint(this.side, this.loadId, read);
    return this.last !== undefined && sameFingerprint(read, this.last);
  }

  /** The staged rows of an unchanged source are dropped unmerged; the load is recorded as skipped. */
  private async skipStaged(): Promise<SyncResult> {
    await this.control.query(dropPartition(this.plan.spec, this.loadId).text);
    this.compensations.settle('drop staging partition');
    this.compensations.settle('mark load failed');
    this.compensations.settle('flush rejects');
    await this.rejects.close();
    await finishLoad(this.side, this.loadId, 'skipped', this.counts);
    this.state = 'committed';
    await this.release();
    return this.skippedResult(this.counts);
  }

  /** Unchanged before reading: only a history row says the run happened and was skipped. */
  private async skipUnread(): Promise<SyncResult> {
    const { spec, settings } = this.plan;
    await createLoad(this.side, {
      loadId: this.loadId,
      table: spec.name,
      source: this.plan.source,
      host: hostname(),
      pid: process.pid,
      dryRun: settings.dryRun,
    });
    await recordFingerprint(this.side, this.loadId, this.last!);
    await finishLoad(this.side, this.loadId, 'skipped', zeroCounts());
    this.state = 'committed';
    await this.release();
    return this.skippedResult(zeroCounts());
  }

  /** Runs a step; any failure rolls the whole load back and is rethrown as a typed error. */
  private async step<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (this.state === 'aborted' || this.state === 'failed') throw this.classify(error);
      this.state = 'failed';
      this.failure = error;
      await this.rollBack();
      throw this.classify(error);
    }
  }

  private async rollBack(): Promise<void> {
    if (this.pool) {
      const pool = this.pool;
      this.pool = undefined;
      await pool.close().catch(() => undefined);
      this.countStaging(pool);
    }
    this.counts.rejected = this.rejects.total;
    await this.compensations.runAll((name, undoError) => {
      const lost = connectionLostReason(undoError);
      if (lost === undefined) this.env.log.error(`compensation "${name}" failed: ${messageOf(undoError)}`);
      else this.lostDatabase ??= lost;
    });
    if (this.lostDatabase !== undefined && this.recorded)
      this.env.log.error(
        `load ${this.loadId} could not be cleaned up: the database cannot be reached (${this.lostDatabase}). ` +
          `The next sync of ${this.plan.spec.name} removes its staging rows and records it as aborted`,
      );
    await this.rejects.close().catch(() => undefined);
    await this.release();
  }

  /** Locks and connections, in reverse order of taking them. Safe to call twice. */
  private async release(): Promise<void> {
    this.env.signal?.removeEventListener('abort', this.onAbort);
    if (this.tableLocked) {
      this.tableLocked = false;
      await releaseTableLock(this.control, this.plan.spec.name).catch(() => undefined);
    }
    // Ending the connection also releases the load lock; this says so explicitly when it is healthy.
    await releaseLoadLock(this.control, this.loadId).catch(() => undefined);
    await this.control.end().catch(() => undefined);
    await this.side.end().catch(() => undefined);
  }

  private countStaging(pool = this.pool): void {
    if (!pool) return;
    this.counts.read = pool.records + this.refused;
    this.counts.staged = pool.staged;
    this.counts.rejected = this.rejects.total;
  }

  private checkRejects(): void {
    const { maxErrors } = this.plan.settings;
    if (this.rejects.total > maxErrors) {
      throw new TooManyRejectsError(
        `${this.plan.source} has more than ${maxErrors} bad row(s) (--max-errors ${maxErrors}): ${describeRejects(this.rejects.first())}` +
          `; see etl status --load ${this.loadId} --rejects`,
      );
    }
  }

  private checkAbort(): void {
    const { signal } = this.env;
    if (signal?.aborted)
      throw new SyncAbortedError(
        `sync of ${this.plan.spec.name} interrupted (${String(signal.reason ?? 'aborted')})`,
        this.loadId,
      );
  }

  private expectOpen(): void {
    if (this.state !== 'open') throw new LoadClosedError(this.plan.spec.name, this.loadId, this.state);
  }

  /**
   * Stop at once, whatever is waiting: workers (and their COPY sockets) are terminated, and this
   * thread's sockets are cut, so a stalled network cannot hold the load. The server notices a cut
   * socket only when it next talks to the client, so a merge (or lock wait) is ended explicitly.
   * The compensations then run on fresh connections that wait at most ABORT_CONNECT_MS to connect:
   * a stopping run is not held for the whole connect timeout by a network that stalls.
   */
  private readonly onAbort = () => {
    const interrupted = new SyncAbortedError(`sync of ${this.plan.spec.name} interrupted`, this.loadId);
    void this.pool?.abort(interrupted).catch(() => undefined);
    this.sockets.destroyAll();
    const cleanup = {
      ...this.connection,
      connectionTimeoutMillis: Math.min(this.connection.connectionTimeoutMillis ?? ABORT_CONNECT_MS, ABORT_CONNECT_MS),
    };
    const cut = this.side;
    this.side = this.sidePool(cleanup);
    void cut.end().catch(() => undefined);
    if (this.controlPid !== undefined) void endBackend(cleanup, this.controlPid);
  };

  private classify(error: unknown): Error {
    const target = this.plan.spec.name;
    const { signal } = this.env;
    if (error instanceof ConfigError || error instanceof LoadClosedError || error instanceof SyncFailedError)
      return error;
    if (signal?.aborted)
      return new SyncAbortedError(
        `sync of ${target} interrupted (${String(signal.reason ?? 'aborted')}); ` +
          (this.lostDatabase === undefined ? 'rolled back' : `nothing was committed, so ${target} is unchanged`),
        this.loadId,
      );
    if (error instanceof SyncAbortedError) return error;
    // Before the load was recorded (connecting, migrating, locking) there was nothing to roll back.
    if (!this.recorded) return error instanceof Error ? error : new Error(String(error));
    const lost = connectionLostReason(error);
    if (lost !== undefined) {
      // Said as it is: the server rolls back what was not committed, but this load cannot confirm it.
      const outcome = this.committing
        ? `it was lost while committing, so ${target} has either all of this load or none of it: the load's status (etl status --load ${this.loadId}) is recorded in the same transaction and tells which`
        : `nothing was committed, so ${target} is unchanged`;
      return new SyncFailedError(
        `sync of ${target} lost its database connection (load ${this.loadId}): ${redactSecrets(lost)}; ${outcome}`,
        this.loadId,
        { cause: error },
      );
    }
    return new SyncFailedError(
      `sync of ${target} failed and was rolled back (load ${this.loadId}): ${redactSecrets(messageOf(error))}`,
      this.loadId,
      { cause: error },
    );
  }
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
