/**
 * The benchmark's two files as row streams: day 1 (n followers) and the next day (10% of the names
 * changed, 5% of the followers gone, 5% new ones spread through the file). Both are generated lazily
 * from the seed, so a file of any size is written without holding it in memory, and the same seed
 * always yields the same rows.
 */
import { changedName, emailFor, randomName } from './names.js';
import { mulberry32, streamSeed } from './prng.js';

export interface Row {
  email: string;
  fullName: string;
}

export interface NextDayPlan {
  /** Rows in the day-1 file. */
  day1Rows: number;
  /** Rows in the next-day file: kept + changed + added. */
  day2Rows: number;
  kept: number;
  changed: number;
  removed: number;
  added: number;
}

export const CHANGED_SHARE = 0.1;
export const REMOVED_SHARE = 0.05;
export const ADDED_SHARE = 0.05;

/** Exact counts, so the next-day merge's inserted/updated/deleted figures are known in advance. */
export function nextDayPlan(rows: number): NextDayPlan {
  const removed = Math.round(rows * REMOVED_SHARE);
  const changed = Math.round(rows * CHANGED_SHARE);
  const added = Math.round(rows * ADDED_SHARE);
  const kept = rows - removed - changed;
  return { day1Rows: rows, day2Rows: kept + changed + added, kept, changed, removed, added };
}

const DAY1_STREAM = 1;
const DAY2_STREAM = 2;

/** The day-1 followers, in file order. */
export function* day1Rows(seed: number, rows: number): Generator<Row> {
  const random = mulberry32(streamSeed(seed, DAY1_STREAM));
  for (let i = 0; i < rows; i += 1) {
    const email = emailFor(seed, i, random);
    yield { email, fullName: randomName(random) };
  }
}

/**
 * The next-day followers. Which rows go and which change is drawn by sequential sampling
 * (each row takes a fate with probability remaining-of-that-fate / rows-left), which hits the
 * plan's counts exactly in one pass; new rows are interleaved the same way.
 */
export function* day2Rows(seed: number, rows: number): Generator<Row> {
  const plan = nextDayPlan(rows);
  const random = mulberry32(streamSeed(seed, DAY2_STREAM));
  let removeLeft = plan.removed;
  let changeLeft = plan.changed;
  let addLeft = plan.added;
  let survivorsLeft = plan.kept + plan.changed;
  let nextIndex = rows;
  const newRow = (): Row => {
    const email = emailFor(seed, nextIndex, random);
    nextIndex += 1;
    return { email, fullName: randomName(random) };
  };

  let left = rows;
  for (const row of day1Rows(seed, rows)) {
    const draw = random() * left;
    left -= 1;
    if (draw < removeLeft) {
      removeLeft -= 1;
      continue;
    }
    const changes = draw < removeLeft + changeLeft;
    if (changes) changeLeft -= 1;
    while (addLeft > 0 && random() * (addLeft + survivorsLeft) < addLeft) {
      addLeft -= 1;
      yield newRow();
    }
    survivorsLeft -= 1;
    yield changes ? { email: row.email, fullName: changedName(random, row.fullName) } : row;
  }
  for (; addLeft > 0; addLeft -= 1) yield newRow();
}
