/**
 * A piscina worker: parses one chunk of records, validates them, and COPYs the good rows into the
 * load's staging partition. Each worker thread keeps one connection for the life of its pool; the
 * pool is created per run, so a failed run never leaves broken state behind for the next one.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopyBuffer } from './copy-text.js';
import type { ChunkLayout, RecordIndex, Reject } from './layout.js';
import { parseChunk } from './parse-chunk.js';
import { parseJsonChunk } from './parse-json-chunk.js';
import { parseRowsChunk } from './parse-rows-chunk.js';
import { useCopyBuffer } from './row-stager.js';

export interface ChunkTask {
  kind: 'chunk';
  connection: pg.ClientConfig;
  /** The full COPY ... FROM STDIN statement for the staging partition. */
  copySql: string;
  layout: ChunkLayout;
  data: Uint8Array;
  startLine: number;
  index?: RecordIndex;
  /** Fault injection for tests: this worker thread exits before copying. */
  crash?: boolean;
  /** Fault injection for tests: this worker allocates until its heap limit stops the thread. */
  exhaustMemory?: boolean;
}

export interface CloseTask {
  kind: 'close';
}

export interface ChunkOutcome {
  staged: number;
  records: number;
  rejects: Reject[];
  /** Time this worker spent parsing and validating the chunk, and COPYing it (for the phase breakdown). */
  parseMs: number;
  copyMs: number;
}

/** The thread's connection; a promise, so that two tasks starting at once share one. */
let client: Promise<pg.Client> | undefined;
let broken = false;
/**
 * COPY buffers not in use. A worker runs two tasks at once (pool.ts): while one chunk's COPY is on
 * the wire, the next is parsed into another buffer, and its COPY queues on the same connection.
 */
const idleBuffers: CopyBuffer[] = [];

function connection(config: pg.ClientConfig): Promise<pg.Client> {
  if (client && !broken) return client;
  const previous = client;
  broken = false;
  client = (async () => {
    if (previous) await previous.then((c) => c.end()).catch(() => undefined);
    const fresh = new pg.Client(config);
    fresh.on('error', () => {
      broken = true;
    });
    await fresh.connect();
    return fresh;
  })();
  // A connection that could not be opened is tried again by the next chunk.
  client.catch(() => {
    broken = true;
  });
  return client;
}

function exhaustMemory(): never {
  const hog: number[][] = [];
  for (;;) hog.push(new Array<number>(1 << 20).fill(hog.length));
}

export default async function run(task: ChunkTask | CloseTask): Promise<ChunkOutcome> {
  if (task.kind === 'close') {
    const open = client;
    client = undefined;
    if (open) await open.then((c) => c.end()).catch(() => undefined);
    return { staged: 0, records: 0, rejects: [], parseMs: 0, copyMs: 0 };
  }
  if (task.crash) process.exit(70);
  if (task.exhaustMemory) exhaustMemory();
  const buffer = idleBuffers.pop() ?? new CopyBuffer(task.data.byteLength);
  try {
    return await stageChunk(task, buffer);
  } finally {
    idleBuffers.push(buffer);
  }
}

async function stageChunk(task: ChunkTask, buffer: CopyBuffer): Promise<ChunkOutcome> {
  const parseStart = performance.now();
  const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
  useCopyBuffer(buffer);
  const parsed =
    task.layout.format === 'csv'
      ? parseChunk(data, task.startLine, task.layout, task.index)
      : task.layout.format === 'rows'
        ? parseRowsChunk(data, task.layout, task.index!)
        : parseJsonChunk(data, task.layout, task.index!);
  const copyStart = performance.now();
  if (parsed.rows > 0) {
    const conn = await connection(task.connection);
    try {
      await pipeline(Readable.from([parsed.copy]), conn.query(copyFrom(task.copySql)));
    } catch (error) {
      broken = true;
      throw error;
    }
  }
  return {
    staged: parsed.rows,
    records: parsed.records,
    rejects: parsed.rejects,
    parseMs: copyStart - parseStart,
    copyMs: performance.now() - copyStart,
  };
}
