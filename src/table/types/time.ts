/**
 * date, timestamptz and timestamp: ISO 8601 only. PostgreSQL would also read forms whose meaning
 * depends on the session (DateStyle, TimeZone) or on the moment of the load ('today', 'now').
 */
import type { Refusals } from './refusals.js';
import { ok, type Normalizer } from './result.js';
import { trimmed } from './trimmed.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Years 0001-9999 of the proleptic Gregorian calendar, as PostgreSQL counts them. */
function isCalendarDate(year: string, month: string, day: string): boolean {
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]);
}

export function dateConverter(r: Refusals): Normalizer {
  return trimmed(r, (text) => {
    const m = DATE.exec(text);
    if (!m) return r.invalid(text, 'is not a date (expected YYYY-MM-DD)');
    return isCalendarDate(m[1], m[2], m[3]) ? ok(text) : r.invalid(text, 'is not a real calendar date');
  });
}

/**
 * ISO 8601 date-times, written back as `YYYY-MM-DDTHH:MM:SS[.fff][offset]` (fractions beyond
 * microseconds are kept; PostgreSQL rounds them as it would the source). For timestamptz a value
 * without a zone is taken as UTC and written with `+00`: left zone-less, PostgreSQL would read it in
 * the session's TimeZone, so the same file could mean different instants on different servers.
 * timestamp (without time zone) refuses offsets, which PostgreSQL would silently drop.
 */
export function timestampConverter(r: Refusals, withZone: boolean): Normalizer {
  const notTimestamp = `is not a timestamp (expected YYYY-MM-DD[THH:MM[:SS[.ffffff]]]${withZone ? '[Z|±HH[:MM]]' : ''})`;
  const hasOffset =
    'has a time zone offset, which timestamp (without time zone) would drop; remove it or use timestamptz';
  return trimmed(r, (text) => {
    const m = TIMESTAMP.exec(text);
    if (!m) return r.invalid(text, notTimestamp);
    const [
      ,
      year,
      month,
      day,
      hour = '00',
      minute = '00',
      second = '00',
      fraction,
      zulu,
      sign,
      offsetHour,
      offsetMinute,
    ] = m;
    if (!isCalendarDate(year, month, day)) return r.invalid(text, 'is not a real calendar date');
    if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59)
      return r.invalid(text, 'is not a valid time of day (hours 00-23, minutes and seconds 00-59)');
    const local = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}`;
    if (!withZone) return zulu === undefined && sign === undefined ? ok(local) : r.invalid(text, hasOffset);
    if (sign === undefined) return ok(`${local}+00`);
    if (Number(offsetHour) > 15 || Number(offsetMinute ?? 0) > 59)
      return r.invalid(text, 'has an offset beyond ±15:59');
    return ok(`${local}${sign}${offsetHour}${offsetMinute === undefined ? '' : `:${offsetMinute}`}`);
  });
}
