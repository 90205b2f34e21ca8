import type { Chunk } from './splitter.js';

/** What the staging loop reads: chunks of whole records in source order, each record with its line (or row) number. */
export interface ChunkSource {
  /** The next chunk, or undefined at the end of the data. */
  next(): Promise<Chunk | undefined>;
  /** Stops reading early (after a failure); whatever is open is closed. */
  destroy(): void;
  /** Set by the reader: called now and then while bytes are read between chunks, for progress. */
  onRead?: () => void;
}

/** How far a load has read, for progress: raw bytes against the total when known. */
export interface ReadProgress {
  /** The source as shown in messages and load history (never a credential). */
  label: string;
  size?: number;
  bytesRead: () => number;
}
