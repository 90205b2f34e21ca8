/**
 * The staging fan-out: chunks of records go to a piscina pool whose workers parse, validate and
 * COPY them. At most two chunks per worker are in flight, so memory stays bounded by the batch size
 * whatever the file size.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type pg from 'pg';
import type { ChunkLayout, Reject } from './layout.js';
import type { Chunk } from '../source/splitter.js';
import { DEFAULT_CHUNK_BYTES, tooLargeReason } from '../source/split-limits.js';
import type { ChunkOutcome, ChunkTask, CloseTask } from './copy-worker.js';

/**
 * The compiled worker. When this module runs from TypeScript sources (the test runner), the worker
 * still has to be JavaScript, so it is taken from the build output.
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('./copy-worker.js', import.meta.url));
  const built = fileURLToPath(new URL('../../dist/load/copy-worker.js', import.meta.url));
  if (!existsSync(built)) throw new Error(`the copy worker is not built: run "npm run build" (looked for ${built})`);
  return built;
}

/**
 * Room for a batch's records, strings and COPY text (about 1 KB a row at worst) plus the thread
 * itself, and for the largest chunk: up to 4 MiB plus one record of the maximum size, whose text,
 * field strings and COPY line live on the heap at once (about three times its bytes).
 */
export function workerHeapMb(batchSize: number, maxRecordBytes: number): number {
  return 48 + Math.ceil(batchSize / 1000) + Math.ceil((3 * (DEFAULT_CHUNK_BYTES + maxRecordBytes)) / 1048576);
}

export interface StagingPoolOptions {
  workers: number;
  batchSize: number;
  connection: pg.ClientConfig;
  copySql: string;
  layout: ChunkLayout;
  /** Called with each chunk's rejected rows as soon as the chunk is done. */
  onRejects: (rejects: Reject[]) => void;
  /** The largest record read: sizes the workers' heap, and names the limit in rejects. */
  maxRecordBytes: number;
  /** Test-only: the chunk number (1-based) whose worker thread dies. */
  crashOnChunk?: number;
  /** Test-only: the chunk number (1-based) whose worker allocates until it runs out of memory. */
  exhaustMemoryOnChunk?: number;
}

export class StagingPool {
  private readonly pool: Piscina;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private firstError: Error | undefined;
  /** Settles when a worker thread fails outside a task (it could not even start): its tasks never settle. */
  private readonly broken: Promise<void>;
  private markBroken: () => void = () => undefined;
  private isBroken = false;
  private chunks = 0;
  private readonly heapMb: number;
  staged = 0;
  records = 0;
  /** Worker time summed over threads: parsing and validating, and COPYing (they overlap across threads). */
  parseMs = 0;
  copyMs = 0;

  constructor(private readonly options: StagingPoolOptions) {
    this.heapMb = workerHeapMb(options.batchSize, options.maxRecordBytes);
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: options.workers,
      maxThreads: options.workers,
      // Two tasks per thread: one parses while the other's COPY is on the wire (copy-worker.ts).
      concurrentTasksPerWorker: 2,
      idleTimeout: 60_000,
      // A small young generation and a heap sized to the batch make workers collect garbage early,
      // which keeps the process's peak memory flat instead of growing to V8's defaults per thread.
      // 4 MB: with 8, Node 26's workers held about 40 MB more each on wide rows (314 MB peak on
      // 20,000-column rows against 276 MB), while staging 1M rows took no longer either way.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: this.heapMb },
    });
    this.maxInFlight = options.workers * 3;
    this.broken = new Promise((resolve) => {
      this.markBroken = () => {
        this.isBroken = true;
        resolve();
      };
      this.pool.on('error', (error: unknown) => {
        this.firstError ??= new Error(`a staging worker thread failed: ${(error as Error).message ?? String(error)}`, {
          cause: error,
        });
        this.isBroken = true;
        resolve();
      });
    });
  }

  /** Queues one chunk; waits while the pool is saturated. Rethrows the first failure of any chunk. */
  async stage(chunk: Chunk): Promise<void> {
    if (this.firstError) throw this.firstError;
    if (chunk.tooLarge) {
      // Records skipped by the splitter for their size: bad rows, never sent to a worker.
      this.records += chunk.tooLarge.length;
      this.options.onRejects(
        chunk.tooLarge.map((r) => ({
          line: r.line,
          raw: r.head.toString('utf8'),
          reason: tooLargeReason(r, this.options.maxRecordBytes),
        })),
      );
    }
    if (chunk.records === 0) return;
    this.chunks += 1;
    const task: ChunkTask = {
      kind: 'chunk',
      connection: this.options.connection,
      copySql: this.options.copySql,
      layout: this.options.layout,
      data: chunk.data,
      startLine: chunk.startLine,
      index: { lines: chunk.recordLines, starts: chunk.recordStarts, ends: chunk.recordEnds },
      crash: this.chunks === this.options.crashOnChunk,
      exhaustMemory: this.chunks === this.options.exhaustMemoryOnChunk,
    };
    // The record index is built for this chunk alone and always moves; the bytes move when the chunk
    // owns them (a loader's chunk), which frees the main thread's copy at once instead of at its next GC.
    const moved = new Set(
      [chunk.recordLines, chunk.recordStarts, chunk.recordEnds].map((a) => a.buffer as ArrayBuffer),
    );
    if (chunk.ownsBuffer) moved.add(chunk.data.buffer as ArrayBuffer);
    const transferList = [...moved];
    const job = (this.pool.run(task, { transferList }) as Promise<ChunkOutcome>).then(
      (outcome) => {
        this.staged += outcome.staged;
        this.records += outcome.records;
        this.parseMs += outcome.parseMs;
        this.copyMs += outcome.copyMs;
        if (outcome.rejects.length > 0) this.options.onRejects(outcome.rejects);
      },
      (error: unknown) => {
        this.firstError ??= this.describe(error, chunk);
      },
    );
    this.inFlight.add(job);
    void job.finally(() => this.inFlight.delete(job));
    while (this.inFlight.size >= this.maxInFlight && !this.isBroken)
      await Promise.race([...this.inFlight, this.broken]);
    this.rethrowFirstError();
  }

  /** A worker out of memory is named as such, with the fix; other failures pass through. */
  private describe(error: unknown, chunk: Chunk): Error {
    if ((error as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new Error(
        `a staging worker ran out of memory (its heap limit is ${this.heapMb} MB) on the batch from line ${chunk.startLine}; ` +
          'lower --batch-size or --max-record-size',
        { cause: error },
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private rethrowFirstError(): void {
    if (this.firstError) throw this.firstError;
  }

  /** Waits for every queued chunk; rethrows the first failure. */
  async drain(): Promise<void> {
    await Promise.race([Promise.all(this.inFlight), this.broken]);
    if (this.firstError) throw this.firstError;
  }

  /**
   * Stops at once (a signal): the worker threads are terminated, which closes their sockets, so a
   * COPY stalled on the network ends now and the server rolls it back. Waiting callers get `reason`.
   */
  async abort(reason: Error): Promise<void> {
    this.firstError ??= reason;
    this.markBroken();
    await this.pool.destroy();
  }

  /** Closes worker connections politely, then the threads. Safe to call after a failure. */
  async close(): Promise<void> {
    if (this.isBroken) {
      await this.pool.destroy();
      return;
    }
    await Promise.allSettled(this.inFlight);
    const closes: Promise<unknown>[] = [];
    for (let i = 0; i < this.options.workers; i += 1) {
      closes.push(this.pool.run({ kind: 'close' } satisfies CloseTask).catch(() => undefined));
    }
    await Promise.allSettled(closes);
    await this.pool.destroy();
  }
}
