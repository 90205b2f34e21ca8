/**
 * The schedule forms `etl daemon --cron` accepts: what robfig/cron v3 users already wrote (the
 * ancestor's syntax) plus standard cron. Everything is turned into either a fixed interval
 * (`@every`) or one or more standard cron expressions that node-cron runs, so no form is dropped.
 */
import cron from 'node-cron';
import { parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors.js';

export type Schedule =
  /** `@every <duration>`: ticks at start + n × interval (robfig/cron v3 semantics). */
  | { kind: 'interval'; text: string; everyMs: number; timezone: string }
  /** Cron expressions whose ticks are merged; more than one only for day-of-month OR day-of-week. */
  | { kind: 'cron'; text: string; expressions: readonly string[]; timezone: string };

export const VALID_SCHEDULE_FORMS =
  'valid forms: "@every 90s", "@every 15m", "@every 1h30m", "@hourly", "@daily" (or "@midnight"), "@weekly", ' +
  '"@monthly", "@yearly" (or "@annually"), a 5-field cron expression "30 3 * * *" (minute hour day-of-month month day-of-week), ' +
  'or a 6-field one with seconds first "0 30 3 * * *"; any of them may start with "CRON_TZ=Europe/Berlin " to pick a time zone';

/** robfig/cron's descriptors, as standard cron. */
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Throws a ConfigError naming the setting unless `zone` is an IANA time zone this runtime knows. */
export function checkTimezone(zone: string, setting: string): string {
  try {
    // The canonical spelling (utc -> UTC), so logs and next-run times show one name.
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new ConfigError(
      `${setting}=${JSON.stringify(zone)} is not a time zone; use an IANA name such as UTC, Europe/Berlin or America/New_York`,
    );
  }
}

export interface ScheduleOptions {
  /** IANA zone for cron expressions and descriptors (a CRON_TZ= prefix in the text wins). */
  timezone?: string;
  /** Where the text and the zone came from, so an error names the setting to fix. */
  setting?: string;
  timezoneSetting?: string;
}

/** Parses a schedule as written in CRON_SCHEDULE / --cron. */
export function parseSchedule(text: string, options: ScheduleOptions = {}): Schedule {
  const setting = options.setting ?? 'CRON_SCHEDULE (--cron)';
  const invalid = (why: string) =>
    new ConfigError(`${setting}=${JSON.stringify(text)} is not a valid schedule: ${why}; ${VALID_SCHEDULE_FORMS}`);
  let spec = text.trim().replace(/\s+/gu, ' ');
  let zone = checkTimezone(options.timezone ?? 'UTC', options.timezoneSetting ?? 'CRON_TZ (--timezone)');
  // robfig/cron lets the expression carry its own zone: "CRON_TZ=Asia/Tokyo 0 6 * * *" (or TZ=).
  const prefixed = /^(?:CRON_TZ|TZ)=(\S+) (.*)$/u.exec(spec);
  if (prefixed) {
    zone = checkTimezone(prefixed[1], `the CRON_TZ= prefix of ${setting}`);
    spec = prefixed[2]!;
  }
  if (spec === '') throw invalid('it is empty');

  if (spec.startsWith('@')) {
    const every = /^@every(?: (.*))?$/iu.exec(spec);
    if (every) {
      const ms = every[1] === undefined ? undefined : parseDuration(every[1]);
      if (ms === undefined || ms <= 0) {
        throw invalid(
          every[1] === undefined
            ? '@every needs a duration'
            : `"${every[1]}" is not a positive duration (write e.g. 90s, 15m, 6h, 1h30m)`,
        );
      }
      return { kind: 'interval', text, everyMs: robfigInterval(ms), timezone: zone };
    }
    const expression = DESCRIPTORS[spec.toLowerCase()];
    if (!expression) throw invalid(`${spec.split(' ')[0]} is not a known descriptor`);
    return { kind: 'cron', text, expressions: [expression], timezone: zone };
  }

  const fields = spec.split(' ');
  if (fields.length !== 5 && fields.length !== 6)
    throw invalid(`it has ${fields.length} field(s), cron needs 5 (or 6 with seconds)`);
  const checked = cron.validateDetailed(spec);
  if (!checked.valid) {
    throw invalid(checked.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'node-cron rejected it');
  }
  return { kind: 'cron', text, expressions: dayFieldsOr(fields), timezone: zone };
}

/**
 * robfig/cron (like Vixie cron) fires when the day of the month OR the day of the week matches,
 * if both are restricted; node-cron requires both. Two expressions, one per day field, whose ticks
 * are merged, give the cron meaning. A field starting with * or ? counts as unrestricted, as in robfig.
 */
function dayFieldsOr(fields: string[]): string[] {
  const offset = fields.length === 6 ? 1 : 0;
  const dom = fields[offset + 2];
  const dow = fields[offset + 4];
  const unrestricted = (f: string) => f.startsWith('*') || f.startsWith('?');
  if (unrestricted(dom) || unrestricted(dow)) return [fields.join(' ')];
  const byDayOfMonth = [...fields];
  byDayOfMonth[offset + 4] = '*';
  const byDayOfWeek = [...fields];
  byDayOfWeek[offset + 2] = '*';
  return [byDayOfMonth.join(' '), byDayOfWeek.join(' ')];
}

/** robfig/cron v3 truncates an interval to whole seconds and raises anything shorter to one second. */
function robfigInterval(ms: number): number {
  return Math.max(1000, Math.floor(ms / 1000) * 1000);
}

/**
 * The next `count` ticks after now. An interval counts from `anchor` (when the daemon started
 * it); cron expressions use node-cron's own matcher, so these are exactly the times it fires.
 */
export function nextRuns(schedule: Schedule, count: number, anchor: Date = new Date()): Date[] {
  if (schedule.kind === 'interval') {
    const elapsed = Math.max(0, Date.now() - anchor.getTime());
    const first = anchor.getTime() + (Math.floor(elapsed / schedule.everyMs) + 1) * schedule.everyMs;
    return Array.from({ length: count }, (_, i) => new Date(first + i * schedule.everyMs));
  }
  const times = new Map<number, Date>();
  for (const expression of schedule.expressions) {
    // node-cron has no stand-alone matcher: an unstarted task computes the times and is discarded.
    const task = cron.createTask(expression, () => undefined, { timezone: schedule.timezone });
    try {
      for (const t of task.getNextRuns(count)) times.set(t.getTime(), t);
    } finally {
      void task.destroy();
    }
  }
  return [...times.values()].sort((a, b) => a.getTime() - b.getTime()).slice(0, count);
}

/** How the schedule reads in logs: "every 1h30m from start" or "cron 0 3 * * * (Europe/Berlin)". */
export function describeSchedule(schedule: Schedule): string {
  if (schedule.kind === 'interval') return `every ${formatInterval(schedule.everyMs)} from start`;
  return `cron ${schedule.expressions.join(' or ')} (${schedule.timezone})`;
}

function formatInterval(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/** A tick as people read it: ISO in UTC, or "2025-01-02 03:00:00 Europe/Berlin (2025-01-02T02:00:00.000Z)". */
export function formatInZone(date: Date, timeZone: string): string {
  if (timeZone === 'UTC') return date.toISOString();
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(date);
  return `${local} ${timeZone} (${date.toISOString()})`;
}
