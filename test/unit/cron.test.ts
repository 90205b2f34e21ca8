import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  describeSchedule,
  formatInZone,
  nextRuns,
  parseSchedule,
  VALID_SCHEDULE_FORMS,
  type Schedule,
} from '../../src/schedule/cron.js';

function expressions(schedule: Schedule): readonly string[] {
  if (schedule.kind !== 'cron') throw new Error(`expected a cron schedule, got ${schedule.kind}`);
  return schedule.expressions;
}

function intervalMs(schedule: Schedule): number {
  if (schedule.kind !== 'interval') throw new Error(`expected an interval, got ${schedule.kind}`);
  return schedule.everyMs;
}

function configError(text: string, options: Parameters<typeof parseSchedule>[1] = {}): ConfigError {
  try {
    parseSchedule(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`${JSON.stringify(text)} was accepted`);
}

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('@every intervals (robfig/cron v3)', () => {
  it.each([
    ['@every 90s', 90_000],
    ['@every 15m', 900_000],
    ['@every 6h', 21_600_000],
    ['@every 1h30m', 5_400_000],
    ['@every 24h', 86_400_000],
    ['@every 1.5h', 5_400_000],
    ['@every 2d', 172_800_000],
    ['  @every   1s ', 1000],
    ['@EVERY 10s', 10_000],
  ])('accepts %j as an interval of %i ms', (text, ms) => {
    expect(intervalMs(parseSchedule(text))).toBe(ms);
  });

  it('truncates to whole seconds and raises anything shorter to one second, as robfig/cron does', () => {
    expect(intervalMs(parseSchedule('@every 1500ms'))).toBe(1000);
    expect(intervalMs(parseSchedule('@every 500ms'))).toBe(1000);
    expect(intervalMs(parseSchedule('@every 2m30s500ms'))).toBe(150_000);
  });

  it('counts the next runs from when the interval started, not from the clock', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const anchor = new Date('2024-05-01T10:00:07.250Z');
      vi.setSystemTime(new Date('2024-05-01T12:59:00Z'));
      expect(iso(nextRuns(parseSchedule('@every 1h30m'), 3, anchor))).toEqual([
        '2024-05-01T13:00:07.250Z',
        '2024-05-01T14:30:07.250Z',
        '2024-05-01T16:00:07.250Z',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads as "every 1h30m from start"', () => {
    expect(describeSchedule(parseSchedule('@every 90m'))).toBe('every 1h30m from start');
    expect(describeSchedule(parseSchedule('@every 90s'))).toBe('every 1m30s from start');
  });
});

describe('descriptors', () => {
  it.each([
    ['@hourly', '0 * * * *'],
    ['@daily', '0 0 * * *'],
    ['@midnight', '0 0 * * *'],
    ['@weekly', '0 0 * * 0'],
    ['@monthly', '0 0 1 * *'],
    ['@yearly', '0 0 1 1 *'],
    ['@annually', '0 0 1 1 *'],
    ['@Daily', '0 0 * * *'],
  ])('translates %s to the cron expression %s', (text, expression) => {
    expect(expressions(parseSchedule(text))).toEqual([expression]);
  });
});

describe('cron expressions', () => {
  it.each([
    '30 3 * * *',
    '*/5 * * * *',
    '0 9-17 * * mon-fri',
    '0 0 1 jan,jul *',
    '15 10 ? * *',
    '0 30 3 * * *',
    '*/10 * * * * *',
  ])('accepts %j as it is', (text) => {
    expect(expressions(parseSchedule(text))).toEqual([text]);
  });

  it('fires when day-of-month OR day-of-week matches, if both are restricted (cron and robfig semantics)', () => {
    expect(expressions(parseSchedule('0 0 1 * mon'))).toEqual(['0 0 1 * *', '0 0 * * mon']);
    expect(expressions(parseSchedule('0 0 12 1,15 * 5'))).toEqual(['0 0 12 1,15 * *', '0 0 12 * * 5']);
    // A field starting with * or ? is unrestricted, so both must match as written.
    expect(expressions(parseSchedule('0 0 */2 * mon'))).toEqual(['0 0 */2 * mon']);
    expect(expressions(parseSchedule('0 0 ? * mon'))).toEqual(['0 0 ? * mon']);
  });

  it('takes the time zone from --timezone, or from a CRON_TZ= / TZ= prefix that overrides it', () => {
    expect(parseSchedule('@daily').timezone).toBe('UTC');
    expect(parseSchedule('@daily', { timezone: 'Europe/Berlin' }).timezone).toBe('Europe/Berlin');
    const prefixed = parseSchedule('CRON_TZ=Asia/Tokyo 0 6 * * *', { timezone: 'Europe/Berlin' });
    expect(prefixed).toMatchObject({ timezone: 'Asia/Tokyo', expressions: ['0 6 * * *'] });
    expect(parseSchedule('TZ=America/New_York @daily')).toMatchObject({
      timezone: 'America/New_York',
      expressions: ['0 0 * * *'],
    });
    expect(describeSchedule(prefixed)).toBe('cron 0 6 * * * (Asia/Tokyo)');
  });
});

describe('next run times', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    [
      '@hourly',
      '2024-03-10T10:15:30Z',
      ['2024-03-10T11:00:00.000Z', '2024-03-10T12:00:00.000Z', '2024-03-10T13:00:00.000Z'],
    ],
    [
      '@daily',
      '2024-03-10T10:15:30Z',
      ['2024-03-11T00:00:00.000Z', '2024-03-12T00:00:00.000Z', '2024-03-13T00:00:00.000Z'],
    ],
    [
      '@weekly',
      '2024-03-10T10:15:30Z',
      ['2024-03-17T00:00:00.000Z', '2024-03-24T00:00:00.000Z', '2024-03-31T00:00:00.000Z'],
    ],
    [
      '@monthly',
      '2024-03-10T10:15:30Z',
      ['2024-04-01T00:00:00.000Z', '2024-05-01T00:00:00.000Z', '2024-06-01T00:00:00.000Z'],
    ],
    [
      '@yearly',
      '2024-03-10T10:15:30Z',
      ['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ],
    [
      '30 3 * * *',
      '2024-03-10T10:15:30Z',
      ['2024-03-11T03:30:00.000Z', '2024-03-12T03:30:00.000Z', '2024-03-13T03:30:00.000Z'],
    ],
    [
      '*/15 * * * * *',
      '2024-03-10T10:15:30Z',
      ['2024-03-10T10:15:45.000Z', '2024-03-10T10:16:00.000Z', '2024-03-10T10:16:15.000Z'],
    ],
  ])('%s from %s', (text, now, expected) => {
    vi.setSystemTime(new Date(now));
    expect(iso(nextRuns(parseSchedule(text), 3))).toEqual(expected);
  });

  it('follows the time zone, daylight saving included', () => {
    vi.setSystemTime(new Date('2024-03-09T12:00:00Z'));
    // New York moves to daylight time on 2024-03-10: midnight is 05:00Z before and 04:00Z after.
    expect(iso(nextRuns(parseSchedule('@daily', { timezone: 'America/New_York' }), 3))).toEqual([
      '2024-03-10T05:00:00.000Z',
      '2024-03-11T04:00:00.000Z',
      '2024-03-12T04:00:00.000Z',
    ]);
  });

  it('merges the day-of-month and day-of-week ticks in order, without duplicates', () => {
    vi.setSystemTime(new Date('2024-01-02T12:00:00Z'));
    // Mondays, and the 1st of each month (2024-04-01 is both: it appears once).
    expect(iso(nextRuns(parseSchedule('0 0 1 * mon'), 5))).toEqual([
      '2024-01-08T00:00:00.000Z',
      '2024-01-15T00:00:00.000Z',
      '2024-01-22T00:00:00.000Z',
      '2024-01-29T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
    ]);
    vi.setSystemTime(new Date('2024-03-28T12:00:00Z'));
    expect(iso(nextRuns(parseSchedule('0 0 1 * mon'), 2))).toEqual([
      '2024-04-01T00:00:00.000Z',
      '2024-04-08T00:00:00.000Z',
    ]);
  });

  it('formats a tick in the schedule time zone for people, with the UTC instant', () => {
    const t = new Date('2024-07-01T01:00:00Z');
    expect(formatInZone(t, 'UTC')).toBe('2024-07-01T01:00:00.000Z');
    expect(formatInZone(t, 'Europe/Berlin')).toBe('2024-07-01 03:00:00 Europe/Berlin (2024-07-01T01:00:00.000Z)');
  });
});

describe('invalid schedules', () => {
  it.each([
    ['', /it is empty/],
    ['@every', /@every needs a duration/],
    ['@every soon', /"soon" is not a positive duration/],
    ['@every 0s', /"0s" is not a positive duration/],
    ['@every -5m', /is not a positive duration/],
    ['@fortnightly', /@fortnightly is not a known descriptor/],
    ['@reboot', /@reboot is not a known descriptor/],
    ['1 2 3', /it has 3 field\(s\), cron needs 5 \(or 6 with seconds\)/],
    ['* * * * * * *', /it has 7 field\(s\)/],
    ['61 * * * *', /minute/],
    ['0 25 * * *', /hour/],
    ['0 0 32 * *', /day/i],
    ['0 0 * 13 *', /month/],
    ['0 0 * * funday', /week/i],
  ])('rejects %j, naming the setting and showing the valid forms', (text, why) => {
    const error = configError(text, { setting: 'CRON_SCHEDULE' });
    expect(error.message).toContain(`CRON_SCHEDULE=${JSON.stringify(text)} is not a valid schedule`);
    expect(error.message).toMatch(why);
    expect(error.message).toContain(VALID_SCHEDULE_FORMS);
  });

  it('rejects an unknown time zone, naming the setting it came from', () => {
    expect(configError('@daily', { timezone: 'Mars/Olympus', timezoneSetting: 'CRON_TZ' }).message).toMatch(
      /^CRON_TZ="Mars\/Olympus" is not a time zone; use an IANA name/,
    );
    expect(configError('CRON_TZ=Nowhere/City 0 0 * * *', { setting: '--cron' }).message).toMatch(
      /the CRON_TZ= prefix of --cron="Nowhere\/City" is not a time zone/,
    );
  });
});
