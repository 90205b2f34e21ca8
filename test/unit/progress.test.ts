import { describe, expect, it } from 'vitest';
import {
  CLEAR_LINE,
  estimateRemainingMs,
  fitToWidth,
  formatBytes,
  groupDigits,
  percentRead,
  progressLine,
  ProgressReporter,
  ratePerSecond,
  type ProgressReporterOptions,
} from '../../src/observe/progress.js';
import type { SyncProgress } from '../../src/index.js';
import { formatDuration } from '../../src/config/duration.js';

describe('progress formatting', () => {
  it('groups digits the same way in every locale', () => {
    expect(groupDigits(0)).toBe('0');
    expect(groupDigits(999)).toBe('999');
    expect(groupDigits(1000)).toBe('1,000');
    expect(groupDigits(1234567)).toBe('1,234,567');
    expect(groupDigits(45123.6)).toBe('45,124');
  });

  it('prints sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12.3 * 1024 * 1024)).toBe('12.3 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });

  // Issue 9, item 12: a gzip bomb shows in progress as a decompressed size far beyond the file's.
  it('shows the decompressed size of gzip input', () => {
    expect(
      progressLine({
        phase: 'staging',
        rowsRead: 0,
        bytesRead: 1024 * 1024,
        totalBytes: 2 * 1024 * 1024,
        decompressedBytes: 3 * 1024 ** 3,
      }),
    ).toBe('staging: 0 rows, 50% of 2.0 MiB (3.0 GiB decompressed)');
  });

  it('prints estimates in whole seconds, minutes or hours', () => {
    expect(formatDuration(0, { wholeSeconds: true })).toBe('0s');
    expect(formatDuration(-500, { wholeSeconds: true })).toBe('0s');
    expect(formatDuration(8400, { wholeSeconds: true })).toBe('8s');
    expect(formatDuration(65_000, { wholeSeconds: true })).toBe('1m05s');
    expect(formatDuration(3_780_000, { wholeSeconds: true })).toBe('1h03m');
  });

  it('computes the share read, capped at 100%, and nothing without a size', () => {
    expect(percentRead(37, 100)).toBe(37);
    expect(percentRead(1, 3)).toBe(33);
    expect(percentRead(120, 100)).toBe(100);
    expect(percentRead(10, undefined)).toBeUndefined();
    expect(percentRead(10, 0)).toBeUndefined();
  });

  it('measures rates and the time left from the byte rate', () => {
    expect(ratePerSecond(5000, 2000)).toBe(2500);
    expect(ratePerSecond(5000, 0)).toBeUndefined();
    expect(estimateRemainingMs(250, 1000, 100)).toBe(7500);
    expect(estimateRemainingMs(1000, 1000, 100)).toBe(0);
    expect(estimateRemainingMs(250, undefined, 100)).toBeUndefined();
    expect(estimateRemainingMs(250, 1000, 0)).toBeUndefined();
  });

  it('shows rows, rows/s, percent of the file and ETA while staging', () => {
    expect(
      progressLine({
        phase: 'staging',
        rowsRead: 120_000,
        bytesRead: 37 * 1024 * 1024,
        totalBytes: 100 * 1024 * 1024,
        rowsPerSecond: 45_123.4,
        etaMs: 8000,
      }),
    ).toBe('staging: 120,000 rows, 45,123 rows/s, 37% of 100.0 MiB, ETA 8s');
  });

  it('leaves out the rate and the estimate until they are measured', () => {
    expect(progressLine({ phase: 'staging', rowsRead: 500, bytesRead: 2048, totalBytes: 8192 })).toBe(
      'staging: 500 rows, 25% of 8.0 KiB',
    );
  });

  it('shows bytes read instead of a percentage when the size is unknown (stdin)', () => {
    expect(
      progressLine({ phase: 'staging', rowsRead: 10, bytesRead: 5 * 1024 * 1024, rowsPerSecond: 10, etaMs: 1 }),
    ).toBe('staging: 10 rows, 10 rows/s, 5.0 MiB read');
  });

  it('shows how long the merge has run once staging is done', () => {
    expect(
      progressLine({
        phase: 'merging',
        rowsRead: 1_000_000,
        bytesRead: 1,
        totalBytes: 1,
        stagedInMs: 22_000,
        mergingMs: 5_400,
      }),
    ).toBe('merging: 1,000,000 rows staged in 22s; merging for 5s');
  });

  it('cuts a live line to the terminal width so it never wraps', () => {
    expect(fitToWidth('abcdefghij', 8)).toBe('abcdef…');
    expect(fitToWidth('abcdefghij', 8)).toHaveLength(7);
    expect(fitToWidth('abc', 80)).toBe('abc');
    expect(fitToWidth('abc', undefined)).toBe('abc');
  });
});

/** A stream that records writes, a clock the test moves, and a ticker the test fires. */
function harness(options: Partial<ProgressReporterOptions> & { isTTY?: boolean; columns?: number } = {}) {
  const writes: string[] = [];
  let time = 1000;
  let tick: (() => void) | undefined;
  let tickEvery: number | undefined;
  let cancelled = false;
  const reporter = new ProgressReporter({
    stream: { write: (t: string) => writes.push(t), isTTY: options.isTTY ?? false, columns: options.columns },
    now: () => time,
    schedule: (fn, every) => {
      tick = fn;
      tickEvery = every;
      return () => {
        cancelled = true;
      };
    },
    ...options,
  });
  return {
    reporter,
    writes,
    at(ms: number) {
      time = 1000 + ms;
    },
    fireTick: () => tick!(),
    get tickEvery() {
      return tickEvery;
    },
    get cancelled() {
      return cancelled;
    },
  };
}

const MiB = 1024 * 1024;
const staging = (rowsRead: number, bytesRead: number): SyncProgress => ({
  phase: 'staging',
  rowsRead,
  bytesRead,
  totalBytes: 10 * MiB,
});

describe('ProgressReporter, not on a terminal', () => {
  it('prints nothing for a sync shorter than one interval', () => {
    const h = harness({ intervalMs: 5000 });
    h.at(100);
    h.reporter.update(staging(1000, MiB));
    h.at(4999);
    h.reporter.update(staging(9000, 9 * MiB));
    h.reporter.stop();
    expect(h.writes).toEqual([]);
  });

  it('prints one plain line per interval with rows, rows/s, percent and ETA measured from the first chunk', () => {
    const h = harness({ intervalMs: 5000 });
    h.at(3000); // connecting and waiting for the lock do not count towards the rate
    h.reporter.update(staging(10_000, 1 * MiB));
    h.at(5000);
    h.reporter.update(staging(30_000, 3 * MiB)); // 20,000 rows and 2 MiB in 2s
    h.at(6000);
    h.reporter.update(staging(40_000, 4 * MiB)); // within the same interval: no line
    expect(h.writes).toEqual(['etl progress: staging: 30,000 rows, 10,000 rows/s, 30% of 10.0 MiB, ETA 7s\n']);
    h.at(10_000);
    h.reporter.update(staging(80_000, 8 * MiB)); // 70,000 rows, 7 MiB in 7s
    expect(h.writes[1]).toBe('etl progress: staging: 80,000 rows, 10,000 rows/s, 80% of 10.0 MiB, ETA 2s\n');
    expect(h.writes).toHaveLength(2);
    expect(h.writes.join('')).not.toContain('\r');
  });

  it('keeps printing while the merge runs, with its elapsed time', () => {
    const h = harness({ intervalMs: 2000 });
    h.at(500);
    h.reporter.update(staging(100, 10 * MiB));
    h.at(1500);
    h.reporter.update({ phase: 'merging', rowsRead: 100, bytesRead: 10 * MiB, totalBytes: 10 * MiB });
    expect(h.writes).toEqual([]);
    h.at(2500);
    h.fireTick();
    h.at(4600);
    h.fireTick();
    expect(h.writes).toEqual([
      'etl progress: merging: 100 rows staged in 2s; merging for 1s\n',
      'etl progress: merging: 100 rows staged in 2s; merging for 3s\n',
    ]);
  });

  it('ticks at least once a second and stops its timer when stopped', () => {
    const h = harness({ intervalMs: 5000 });
    expect(h.tickEvery).toBe(1000);
    h.reporter.stop();
    expect(h.cancelled).toBe(true);
    h.at(60_000);
    h.reporter.update(staging(1, 1));
    h.fireTick();
    expect(h.writes).toEqual([]);
  });

  it('shows bytes read for input of unknown size', () => {
    const h = harness({ intervalMs: 1000 });
    const stdin = (rowsRead: number, bytesRead: number): SyncProgress => ({ phase: 'staging', rowsRead, bytesRead });
    h.reporter.update(stdin(0, 0));
    h.at(2000);
    h.reporter.update(stdin(4000, 2 * MiB));
    expect(h.writes).toEqual(['etl progress: staging: 4,000 rows, 2,000 rows/s, 2.0 MiB read\n']);
  });
});

describe('ProgressReporter, on a terminal', () => {
  it('draws one line in place, redrawn at most every 100 ms', () => {
    const h = harness({ isTTY: true, columns: 200 });
    expect(h.reporter.live).toBe(true);
    h.reporter.update(staging(1000, MiB));
    h.at(50);
    h.reporter.update(staging(2000, 2 * MiB));
    h.at(100);
    h.reporter.update(staging(3000, 3 * MiB)); // 2000 rows, 2 MiB in 100 ms
    expect(h.writes).toEqual([
      `${CLEAR_LINE}etl progress: staging: 1,000 rows, 10% of 10.0 MiB`,
      `${CLEAR_LINE}etl progress: staging: 3,000 rows, 20,000 rows/s, 30% of 10.0 MiB, ETA 0s`,
    ]);
    expect(h.writes.join('')).not.toContain('\n');
  });

  it('counts the estimate down between updates', () => {
    const h = harness({ isTTY: true, columns: 200 });
    h.reporter.update(staging(0, 0));
    h.at(1000);
    h.reporter.update(staging(1000, 1 * MiB)); // 1 MiB/s, 9 MiB left: 9s
    expect(h.reporter.line()).toContain('ETA 9s');
    h.at(4000);
    expect(h.reporter.line()).toContain('ETA 6s');
  });

  it('redraws at once when the merge starts', () => {
    const h = harness({ isTTY: true, columns: 200 });
    h.reporter.update(staging(10, 10 * MiB));
    h.at(20);
    h.reporter.update({ phase: 'merging', rowsRead: 10, bytesRead: 10 * MiB, totalBytes: 10 * MiB });
    expect(h.writes.at(-1)).toBe(`${CLEAR_LINE}etl progress: merging: 10 rows staged in 0s; merging for 0s`);
  });

  it('clears its line before the summary and before log messages', () => {
    const h = harness({ isTTY: true, columns: 200 });
    const logged: string[] = [];
    const log = h.reporter.wrap({
      info: (m) => logged.push(`info ${m}`),
      warn: (m) => logged.push(`warn ${m}`),
      error: (m) => logged.push(`error ${m}`),
    });
    h.reporter.update(staging(10, MiB));
    log.warn('SIGINT received');
    expect(h.writes.at(-1)).toBe(CLEAR_LINE);
    expect(logged).toEqual(['warn SIGINT received']);
    h.at(10);
    h.reporter.update(staging(20, 2 * MiB)); // drawn again right after the message
    expect(h.writes.at(-1)).toMatch(
      new RegExp(`^${CLEAR_LINE.replace('[', '\\[')}etl progress: staging: 20 rows`, 'u'),
    );
    h.reporter.stop();
    expect(h.writes.at(-1)).toBe(CLEAR_LINE);
    const count = h.writes.length;
    h.reporter.stop();
    log.info('after');
    expect(h.writes).toHaveLength(count); // nothing on screen any more: nothing to clear
  });

  it('never writes a line wider than the terminal', () => {
    const h = harness({ isTTY: true, columns: 30 });
    h.reporter.update(staging(123_456_789, MiB));
    const line = h.writes[0].slice(CLEAR_LINE.length);
    expect(line.length).toBeLessThan(30);
    expect(line.endsWith('…')).toBe(true);
  });

  it('can be forced to plain lines on a terminal', () => {
    const h = harness({ isTTY: true, live: false, intervalMs: 10 });
    h.at(10);
    h.reporter.update(staging(5, MiB));
    expect(h.writes).toEqual(['etl progress: staging: 5 rows, 10% of 10.0 MiB\n']);
  });

  it('refuses intervals that are not positive', () => {
    expect(() => harness({ intervalMs: 0 })).toThrow(RangeError);
  });
});
