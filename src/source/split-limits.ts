/** The size limits the splitters share, and how a record over the maximum is described. */

/** Chunks stay small enough for a worker's heap however long the rows are. */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export interface SplitLimits {
  /** A chunk is cut at the first record boundary past this many bytes (or its record count). */
  chunkBytes: number;
  /** The largest record read; a larger one is never held whole in memory. */
  maxRecordBytes: number;
  /** 'fail': a larger record fails the read at once; 'skip': it is skipped and reported as a bad row. */
  onTooLarge: 'fail' | 'skip';
  /** Names the source in messages. */
  label: string;
}

/** A record skipped for its size: where it starts, its real length, and its first bytes. */
export interface TooLargeRecord {
  line: number;
  bytes: number;
  head: Buffer;
}

/** 16 MiB, 300 KiB, 512 bytes. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KiB`;
  return `${n} bytes`;
}

const SETTING = '--max-record-size / MAX_RECORD_SIZE';

export function tooLargeMessage(limits: SplitLimits, line: number, detail: { hint: string }): string {
  return (
    `${limits.label}, line ${line}: a record is larger than the maximum record size of ${formatBytes(limits.maxRecordBytes)} (${SETTING}); ` +
    `${detail.hint}. Raise ${SETTING} if records this large are expected, or allow bad rows with --max-errors to skip it`
  );
}

/** The reason stored with a skipped record's reject. */
export function tooLargeReason(record: TooLargeRecord, maxRecordBytes: number): string {
  return `the record is ${record.bytes} bytes long, over the maximum record size of ${formatBytes(maxRecordBytes)} (${SETTING}); its text is cut to the first ${record.head.length} bytes`;
}

/**
 * A read error found while scanning is raised at the next read, after the chunks completed before
 * it are handed on: so a bad record right after the header fails the load (exit 1, recorded in
 * history) however the bytes happened to arrive, rather than the header read.
 */
export class DeferredFailure {
  private error: unknown;
  private failed = false;

  guard<T>(scan: (out: T[]) => void): T[] {
    this.rethrow();
    const out: T[] = [];
    try {
      scan(out);
    } catch (error) {
      this.failed = true;
      this.error = error;
    }
    return out;
  }

  rethrow(): void {
    if (this.failed) throw this.error;
  }
}
