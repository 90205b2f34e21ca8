/**
 * Tickers turn a Schedule into calls at the scheduled times. Cron expressions are run by node-cron;
 * `@every` intervals by our own timers, because robfig/cron counts them from the start (a cron
 * field like "* /15" would align to the clock instead, and 90s or 1h30m fit no cron field at all).
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../observe/log.js';
import { nextRuns, type Schedule } from './cron.js';

export interface Ticker {
  /** Calls onTick at every scheduled time until stopped; onTick must return quickly and not throw. */
  start(onTick: (scheduledAt: Date) => void): void;
  stop(): void;
  /** The next `count` scheduled times. */
  upcoming(count: number): Date[];
}

export function createTicker(schedule: Schedule, log: Logger): Ticker {
  return schedule.kind === 'interval' ? intervalTicker(schedule) : cronTicker(schedule, log);
}

/** setTimeout cannot wait longer than 2^31-1 ms (about 24.8 days); longer waits re-arm. */
const LONGEST_TIMER_MS = 86_400_000;

function intervalTicker(schedule: Extract<Schedule, { kind: 'interval' }>): Ticker {
  let anchor = new Date();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  return {
    start(onTick) {
      anchor = new Date();
      running = true;
      let slot = anchor.getTime() + schedule.everyMs;
      const arm = () => {
        if (!running) return;
        timer = setTimeout(fire, Math.min(Math.max(0, slot - Date.now()), LONGEST_TIMER_MS));
      };
      const fire = () => {
        const now = Date.now();
        if (now < slot) return arm();
        const due = slot;
        // A blocked event loop may have slept past several slots: tick once, then wait for the
        // next slot still ahead rather than firing a burst of stale ticks.
        slot += (Math.floor((now - slot) / schedule.everyMs) + 1) * schedule.everyMs;
        onTick(new Date(due));
        arm();
      };
      arm();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
    upcoming: (count) => nextRuns(schedule, count, anchor),
  };
}

function cronTicker(schedule: Extract<Schedule, { kind: 'cron' }>, log: Logger): Ticker {
  let tasks: ScheduledTask[] = [];
  // node-cron logs through its own console logger; route what matters through ours.
  const cronLog = {
    info: () => undefined,
    debug: () => undefined,
    warn: (m: string) => log.warn(`scheduler: ${m}`),
    error: (m: string | Error) => log.error(`scheduler: ${m instanceof Error ? m.message : m}`),
  };
  return {
    start(onTick) {
      let lastTick = 0;
      tasks = schedule.expressions.map((expression) => {
        const task = cron.createTask(
          expression,
          (context) => {
            // With a day-of-month OR day-of-week schedule both expressions can match the same
            // second: that is one tick, not an overlap.
            const at = context.date.getTime();
            if (at === lastTick) return;
            lastTick = at;
            onTick(context.date);
          },
          { timezone: schedule.timezone, logger: cronLog },
        );
        task.on('execution:missed', (context) => {
          log.warn(
            `scheduler: the tick of ${context.date.toISOString()} was missed (the process was busy or suspended); waiting for the next one`,
          );
        });
        void task.start();
        return task;
      });
    },
    stop() {
      for (const task of tasks) void task.destroy();
      tasks = [];
    },
    upcoming: (count) => nextRuns(schedule, count),
  };
}
