/**
 * The "records written from code" pipeline, as a user of the package writes it: it imports the
 * built library by the package's name (`etl`: the exports map's dist/index.js, not src/), opens a
 * loader of followers (mirror mode: the records written are the whole table), awaits `write` once
 * per record and commits. The records are the benchmark's generated ones, the same rows as the CSV
 * file of that size, day and seed. It prints one JSON line shaped like `etl sync --json`'s summary,
 * so the runner reads both the same way; its phases add `generate_ms`, the time spent generating
 * the records (part of read_parse_stage_ms: a file sync reads and parses instead).
 *
 *   node dist-bench/bench/loader-program.js --database-url URL --rows 1000000 --seed 1 --day 1
 *       [--workers N] [--batch-size N]
 */
import { parseArgs } from 'node:util';
import { openLoader, type SyncResult } from 'etl';
import { day1Rows, day2Rows } from './dataset.js';

interface Follower {
  email: string;
  full_name: string;
}

/** Records generated at a time (untimed by the loader): small, so memory stays that of the loader. */
const GENERATE_BATCH = 1000;

function whole(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/u.test(text) || n < min) throw new Error(`--${name} must be a whole number >= ${min}; got ${text}`);
  return n;
}

function summaryJson(r: SyncResult, generateMs: number): string {
  const c = r.counts;
  return (
    JSON.stringify({
      status: 'succeeded',
      load_id: r.loadId,
      target: r.target,
      source: r.source,
      rows_read: c.read,
      inserted: c.inserted,
      updated: c.updated,
      unchanged: c.unchanged,
      deleted: c.deleted,
      rejected: c.rejected,
      duplicates: c.duplicates,
      staged: c.staged,
      duration_ms: Math.round(r.durationMs),
      phases: {
        setup_ms: Math.round(r.phases.setupMs),
        read_parse_stage_ms: Math.round(r.phases.stageMs),
        generate_ms: Math.round(generateMs),
        merge_ms: Math.round(r.phases.mergeMs),
        cleanup_ms: Math.round(r.phases.cleanupMs),
        worker_parse_ms: Math.round(r.phases.workerParseMs),
        worker_copy_ms: Math.round(r.phases.workerCopyMs),
      },
      merge_steps_ms: Object.fromEntries(Object.entries(r.phases.mergeSteps).map(([k, v]) => [k, Math.round(v)])),
      warnings: r.warnings,
    }) + '\n'
  );
}

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    rows: { type: 'string' },
    seed: { type: 'string' },
    day: { type: 'string' },
    workers: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  strict: true,
});
const rows = whole('rows', values.rows, 1);
const seed = whole('seed', values.seed, 0);
if (!values['database-url'] || rows === undefined || seed === undefined || (values.day !== '1' && values.day !== '2'))
  throw new Error(
    'usage: loader-program.js --database-url URL --rows N --seed N --day 1|2 [--workers N] [--batch-size N]',
  );

const loader = await openLoader<Follower>({
  target: 'followers',
  database: values['database-url'],
  workers: whole('workers', values.workers, 1),
  batchSize: whole('batch-size', values['batch-size'], 1),
});
try {
  const records = values.day === '1' ? day1Rows(seed, rows) : day2Rows(seed, rows);
  let generateMs = 0;
  for (let done = false; !done;) {
    const started = performance.now();
    const batch: Follower[] = [];
    while (batch.length < GENERATE_BATCH) {
      const next = records.next();
      if (next.done) {
        done = true;
        break;
      }
      batch.push({ email: next.value.email, full_name: next.value.fullName });
    }
    generateMs += performance.now() - started;
    // One awaited write per record: the loop the library's users write.
    for (const record of batch) await loader.write(record);
  }
  process.stdout.write(summaryJson(await loader.commit(), generateMs));
} catch (error) {
  await loader.abort(String(error)).catch(() => undefined);
  throw error;
}
