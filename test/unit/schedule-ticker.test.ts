import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/observe/log.js';
import { parseSchedule } from '../../src/schedule/cron.js';
import { createTicker, type Ticker } from '../../src/schedule/ticker.js';

let ticker: Ticker | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  ticker?.stop();
  ticker = undefined;
  vi.useRealTimers();
});

function collect(schedule: string, timezone = 'UTC'): string[] {
  const ticks: string[] = [];
  ticker = createTicker(parseSchedule(schedule, { timezone }), silentLogger);
  ticker.start((at) => ticks.push(at.toISOString()));
  return ticks;
}

describe('interval ticker (@every)', () => {
  it('ticks at start + n × interval, including intervals no cron field can express', async () => {
    vi.setSystemTime(new Date('2024-01-01T00:00:00.400Z'));
    const ticks = collect('@every 90s');
    await vi.advanceTimersByTimeAsync(4 * 90_000);
    expect(ticks).toEqual([
      '2024-01-01T00:01:30.400Z',
      '2024-01-01T00:03:00.400Z',
      '2024-01-01T00:04:30.400Z',
      '2024-01-01T00:06:00.400Z',
    ]);
  });

  it('lists the upcoming ticks it will fire', async () => {
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    collect('@every 1h30m');
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(ticker!.upcoming(2).map((d) => d.toISOString())).toEqual([
      '2024-01-01T01:30:00.000Z',
      '2024-01-01T03:00:00.000Z',
    ]);
  });

  it('waits out intervals longer than a timer can (over 24.8 days)', async () => {
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    const ticks = collect('@every 30d');
    await vi.advanceTimersByTimeAsync(29 * 86_400_000);
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(ticks).toEqual(['2024-01-31T00:00:00.000Z']);
  });

  it('fires no more once stopped', async () => {
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    const ticks = collect('@every 1s');
    await vi.advanceTimersByTimeAsync(2000);
    ticker!.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(ticks).toHaveLength(2);
  });
});

describe('cron ticker (node-cron)', () => {
  it('ticks at the matching seconds', async () => {
    vi.setSystemTime(new Date('2024-01-01T00:00:00.500Z'));
    const ticks = collect('*/2 * * * * *');
    await vi.advanceTimersByTimeAsync(6000);
    expect(ticks).toEqual(['2024-01-01T00:00:02.000Z', '2024-01-01T00:00:04.000Z', '2024-01-01T00:00:06.000Z']);
  });

  it('ticks once when day-of-month and day-of-week match the same moment', async () => {
    // 2024-04-01 is a Monday and the 1st: both expressions of "0 0 1 * mon" fire at midnight.
    vi.setSystemTime(new Date('2024-03-31T23:59:59.500Z'));
    const ticks = collect('0 0 1 * mon');
    await vi.advanceTimersByTimeAsync(2000);
    expect(ticks).toEqual(['2024-04-01T00:00:00.000Z']);
  });

  it('ticks in the schedule time zone', async () => {
    vi.setSystemTime(new Date('2024-06-30T21:59:59.500Z'));
    const ticks = collect('@daily', 'Europe/Berlin');
    await vi.advanceTimersByTimeAsync(2000);
    expect(ticks).toEqual(['2024-06-30T22:00:00.000Z']);
  });
});
