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
  /** Where the time went: setup (connect, migrate, lock), read+parse+stage, merge transaction, cleanup. */
  phases: { setupMs: number; stageMs: number; mergeMs: number; cleanupMs: number };
  durationMs: number;
  rowsPerSecond: number;
}
