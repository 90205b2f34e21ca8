/**
 * Progress while a sync runs, on stderr. On a terminal: one live line (rows, rows/s, percent of the
 * bytes read, ETA) redrawn in place at most every `redrawMs`. Elsewhere (docker logs, CI): one plain
 * line every `intervalMs`. The formatting is pure (numbers in, strings out) and the clock is
 * injected, so all of it is testable without waiting.
 */
import { formatDuration } from '../config/duration.js';
import type { Logger } from './log.js';
import type { SyncProgress } from '../sync/run.js';

// ---- formatting: pure ----

/** 1234567 -> "1,234,567", rounded to a whole number (the same in every locale, so logs can be grepped). */
export function groupDigits(n: number): string {
  const digits = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/gu, ',');
  return n <= -0.5 ? `-${digits}` : digits;
}

/** 1536 -> "1.5 KiB"; bytes below 1 KiB as "512 B". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Share of the input read, 0-100, or undefined when the size is unknown (stdin). */
export function percentRead(bytesRead: number, totalBytes: number | undefined): number | undefined {
  if (totalBytes === undefined || totalBytes <= 0) return undefined;
  return Math.min(100, Math.floor((bytesRead * 100) / totalBytes));
}

/** Rows per second over an interval, or undefined before any time has passed. */
export function ratePerSecond(count: number, ms: number): number | undefined {
  return ms > 0 && count >= 0 ? (count * 1000) / ms : undefined;
}

/** Time left at the measured byte rate, or undefined without a size or a rate. */
export function estimateRemainingMs(
  bytesRead: number,
  totalBytes: number | undefined,
  bytesPerSecond: number | undefined,
): number | undefined {
  if (totalBytes === undefined || totalBytes <= 0 || !bytesPerSecond || bytesPerSecond <= 0) return undefined;
  return (Math.max(0, totalBytes - bytesRead) / bytesPerSecond) * 1000;
}

/** What one progress line shows; every number already measured. */
export interface ProgressView {
  phase: SyncProgress['phase'];
  rowsRead: number;
  bytesRead: number;
  totalBytes?: number;
  /** gzip input: bytes after decompression (a gzip bomb shows here). */
  decompressedBytes?: number;
  rowsPerSecond?: number;
  etaMs?: number;
  /** How long staging took, once merging. */
  stagedInMs?: number;
  /** How long the merge has run so far. */
  mergingMs?: number;
}

/**
 * "staging: 120,000 rows, 45,123 rows/s, 37% of 12.3 MiB, ETA 8s"
 * "staging: 120,000 rows, 45,123 rows/s, 5.1 MiB read"             (size unknown: stdin)
 * "staging: 120,000 rows, 45,123 rows/s, 37% of 12.3 MiB (96.0 MiB decompressed), ETA 8s"
 * "merging: 1,000,000 rows staged in 22s; merging for 5s"
 */
export function progressLine(v: ProgressView): string {
  if (v.phase === 'merging') {
    const staged =
      v.stagedInMs === undefined ? '' : ` staged in ${formatDuration(v.stagedInMs, { wholeSeconds: true })}`;
    return `merging: ${groupDigits(v.rowsRead)} rows${staged}; merging for ${formatDuration(v.mergingMs ?? 0, { wholeSeconds: true })}`;
  }
  const parts = [`${groupDigits(v.rowsRead)} rows`];
  if (v.rowsPerSecond !== undefined) parts.push(`${groupDigits(Math.round(v.rowsPerSecond))} rows/s`);
  const percent = percentRead(v.bytesRead, v.totalBytes);
  const decompressed = v.decompressedBytes === undefined ? '' : ` (${formatBytes(v.decompressedBytes)} decompressed)`;
  // A source without bytes (a database) reports none.
  if (percent !== undefined || v.bytesRead > 0)
    parts.push(
      (percent === undefined ? `${formatBytes(v.bytesRead)} read` : `${percent}% of ${formatBytes(v.totalBytes!)}`) +
        decompressed,
    );
  if (percent !== undefined && v.etaMs !== undefined)
    parts.push(`ETA ${formatDuration(v.etaMs, { wholeSeconds: true })}`);
  return `staging: ${parts.join(', ')}`;
}

/** A live line must never wrap, or \r would redraw only its last row. */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 2 || line.length < columns) return line;
  return line.slice(0, columns - 2) + '…';
}

export const PLAIN_PREFIX = 'etl progress: ';
/** Carriage return, then erase to the end of the line. */
export const CLEAR_LINE = '\r\x1b[K';

// ---- the reporter: state and throttling, with the clock and timer injected ----

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressReporterOptions {
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** A live redrawn line (default: when the stream is a terminal) or plain lines. */
  live?: boolean;
  /** Plain mode: at most one line this often (default 5000 ms). */
  intervalMs?: number;
  /** Live mode: redraw at most this often (default 100 ms, ~10 times a second). */
  redrawMs?: number;
  /** Milliseconds from any origin (default performance.now). */
  now?: () => number;
  /**
   * Calls `tick` every `everyMs` so the line moves on while no chunk arrives (a long merge) and
   * returns a function that stops it. Default: an unref'd setInterval; tests pass their own.
   */
  schedule?: (tick: () => void, everyMs: number) => () => void;
}

const unrefInterval = (tick: () => void, everyMs: number) => {
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
};

export class ProgressReporter {
  readonly live: boolean;
  private readonly stream: ProgressStream;
  private readonly intervalMs: number;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private readonly createdAt: number;
  private readonly cancelTicks: () => void;
  private last: SyncProgress | undefined;
  private baseline: { at: number; rows: number; bytes: number } | undefined;
  private rowsPerSecond: number | undefined;
  private bytesPerSecond: number | undefined;
  private measuredAt = 0;
  private mergingSince: number | undefined;
  private lastOutput: number;
  /** Live mode: a line is on screen and must be erased before anything else is written. */
  private drawn = false;
  private stopped = false;

  constructor(options: ProgressReporterOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.live = options.live ?? this.stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? 5000;
    this.redrawMs = options.redrawMs ?? 100;
    if (!(this.intervalMs > 0) || !(this.redrawMs > 0)) throw new RangeError('progress intervals must be positive');
    this.now = options.now ?? (() => performance.now());
    this.createdAt = this.now();
    // Plain lines start one interval in, so a quick sync prints none; the live line draws at once.
    this.lastOutput = this.live ? -Infinity : this.createdAt;
    const every = this.live ? 1000 : Math.min(this.intervalMs, 1000);
    this.cancelTicks = (options.schedule ?? unrefInterval)(() => this.tick(), every);
  }

  /** The sync's onProgress callback (safe to pass unbound). */
  readonly update = (progress: SyncProgress): void => {
    if (this.stopped) return;
    const at = this.now();
    const phaseChanged = this.last !== undefined && this.last.phase !== progress.phase;
    if (progress.phase === 'staging') this.measure(progress, at);
    else this.mergingSince ??= at;
    this.last = { ...progress };
    this.render(at, phaseChanged && this.live);
  };

  /** Moves the line on between updates (elapsed merge time; a plain line that is due). */
  tick(): void {
    if (this.stopped || !this.last) return;
    this.render(this.now(), false);
  }

  /** The line as it would be printed now (without prefix or terminal codes). */
  line(at = this.now()): string | undefined {
    if (!this.last) return undefined;
    const { phase, rowsRead, bytesRead, totalBytes, decompressedBytes } = this.last;
    return progressLine({
      phase,
      rowsRead,
      bytesRead,
      totalBytes,
      decompressedBytes,
      rowsPerSecond: this.rowsPerSecond,
      // The estimate counts down from when it was measured.
      etaMs: mapDefined(
        estimateRemainingMs(bytesRead, totalBytes, this.bytesPerSecond),
        (eta) => eta - (at - this.measuredAt),
      ),
      stagedInMs: this.mergingSince === undefined ? undefined : this.mergingSince - this.createdAt,
      mergingMs: this.mergingSince === undefined ? undefined : at - this.mergingSince,
    });
  }

  /** Erases the live line (before a log message); the next update or tick draws it again. */
  clear(): void {
    if (this.drawn) {
      this.stream.write(CLEAR_LINE);
      this.drawn = false;
      this.lastOutput = -Infinity;
    }
  }

  /** Ends progress output: erases the live line, stops the timer. Safe to call twice. */
  stop(): void {
    this.clear();
    if (!this.stopped) this.cancelTicks();
    this.stopped = true;
  }

  /** A logger whose messages never land in the middle of the live line. */
  wrap(log: Logger): Logger {
    const before = (write: (m: string) => void) => (m: string) => {
      this.clear();
      write(m);
    };
    return { info: before((m) => log.info(m)), warn: before((m) => log.warn(m)), error: before((m) => log.error(m)) };
  }

  /** Rates are measured from the first chunk, so time spent connecting or waiting for the lock does not count. */
  private measure(progress: SyncProgress, at: number): void {
    if (!this.baseline) {
      this.baseline = { at, rows: progress.rowsRead, bytes: progress.bytesRead };
      return;
    }
    const ms = at - this.baseline.at;
    this.rowsPerSecond = ratePerSecond(progress.rowsRead - this.baseline.rows, ms) ?? this.rowsPerSecond;
    this.bytesPerSecond = ratePerSecond(progress.bytesRead - this.baseline.bytes, ms) ?? this.bytesPerSecond;
    this.measuredAt = at;
  }

  private render(at: number, force: boolean): void {
    const due = at - this.lastOutput >= (this.live ? this.redrawMs : this.intervalMs);
    if (!force && !due) return;
    const text = this.line(at)!;
    this.lastOutput = at;
    if (this.live) {
      this.stream.write(CLEAR_LINE + fitToWidth(PLAIN_PREFIX + text, this.stream.columns));
      this.drawn = true;
    } else {
      this.stream.write(PLAIN_PREFIX + text + '\n');
    }
  }
}

function mapDefined<T, U>(value: T | undefined, f: (v: T) => U): U | undefined {
  return value === undefined ? undefined : f(value);
}
