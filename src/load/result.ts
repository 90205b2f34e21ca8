/** What a load reports while it runs and when it is done, whatever source fed it. */
import type { Reject } from './layout.js';
import type { LoadCounts } from '../store/history.js';

export interface LoadProgress {
  /** Records received so far (valid and rejected). */
  rowsRead: number;
  phase: 'staging' | 'merging';
}

/** A file sync's progress: the load's, plus how far through the file it is. */
export interface SyncProgress extends LoadProgress {
  bytesRead: number;
  totalBytes?: number;
  /** gzip input: bytes after decompression. */
  decompressedBytes?: number;
}

export interface SyncResult {
  loadId: string;
  target: string;
  source: string;
  dryRun: boolean;
  counts: LoadCounts;
  /** The first bad records, when some were skipped under maxErrors. */
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
  /** Incremental syncs from a postgres source: each target's load, in merge order (counts above are their sums). */
  tables?: { target: string; loadId: string; counts: LoadCounts }[];
  /** Incremental syncs: where the saved cursor now stands, per target. */
  cursor?: string;
}
