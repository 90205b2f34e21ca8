/**
 * One incremental sync from a postgres source. Each target gets a load (load/lifecycle.ts) fed
 * with its query's rows changed since the saved cursor and not later than the source's now() minus
 * the consistency delay; then every target is merged, in the order the config lists them, and the
 * new cursor saved, all in ONE transaction (load/group-commit.ts). A crash or failure anywhere
 * before COMMIT leaves the targets and the cursor as they were, so the next run reads the same
 * changes again, once.
 */
import pg from 'pg';
import type { PostgresSource } from '../config/postgres-source.js';
import type { SyncConfig } from '../config/types.js';
import type { Database } from '../db/connect.js';
import { redactSecrets } from '../observe/redact.js';
import { ConfigError, LockBusyError, messageOf, SyncAbortedError, SyncFailedError } from '../errors.js';
import { faultsOf } from '../load/faults.js';
import { commitTogether } from '../load/group-commit.js';
import { openLoad, type Load } from '../load/lifecycle.js';
import type { LoadProgress, SyncResult } from '../load/result.js';
import type { Logger } from '../observe/log.js';
import { PostgresReader, type QueryShape } from '../source/postgres/reader.js';
import { describeTuple, readCursor, saveCursorQuery, type CursorTuple, type SavedCursor } from '../store/cursors.js';
import { zeroCounts, type LoadCounts } from '../store/history.js';
import { extractInto } from './extract.js';

export interface IncrementalEnvironment {
  db: Database;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

/** Mirror deletes what the extract lacks: only a full extract has everything. Checked before any work. */
export function checkIncrementalModes(source: PostgresSource, full: boolean): void {
  if (full) return;
  const mirror = source.tables.find((t) => t.target.mode === 'mirror');
  if (mirror)
    throw new ConfigError(
      `sync ${source.sync}: ${mirror.target.name} has mode mirror, which deletes every row missing from the extract; ` +
        `an incremental run reads only the changed rows, so it would delete the others. ` +
        `Run etl sync ${source.sync} --full (a full extract may mirror), or use mode upsert`,
    );
}

/** The saved cursor, unless the run is full; refused when the cursor columns changed since it was saved. */
async function startingPoint(db: Database, source: PostgresSource, full: boolean): Promise<SavedCursor | undefined> {
  if (full) return undefined;
  const client = new pg.Client({ ...db.connection, application_name: `etl sync ${source.sync} (cursor)` });
  client.on('error', () => undefined);
  let saved: SavedCursor | undefined;
  try {
    await client.connect();
    saved = await readCursor(client, source.sync);
  } finally {
    await client.end().catch(() => undefined);
  }
  if (saved && saved.columns.join('\u0000') !== source.cursor.join('\u0000'))
    throw new ConfigError(
      `sync ${source.sync}: its cursor was saved for (${saved.columns.join(', ')}) but the config now says (${source.cursor.join(', ')}); ` +
        `run etl sync ${source.sync} --full once to re-extract everything with the new cursor`,
    );
  return saved;
}

export async function runIncremental(config: SyncConfig, env: IncrementalEnvironment): Promise<SyncResult> {
  const started = performance.now();
  const source = config.postgres!;
  const full = config.full === true;
  checkIncrementalModes(source, full);
  const faults = faultsOf(config);
  const warnings: string[] = [];
  const reader = await PostgresReader.open(source, `etl sync ${source.sync} (source)`);
  const loads = new Map<string, Load>();
  try {
    const shapes: QueryShape[] = [];
    for (const table of source.tables) shapes.push(await reader.describe(table));
    const untimed = source.tables.find((_, i) => !shapes[i].timeCursor);
    if (untimed && source.consistencyDelayMs > 0)
      throw new ConfigError(
        `sync ${source.sync}: the first cursor column ${JSON.stringify(source.cursor[0])} of ${untimed.label} is not a date or timestamp, ` +
          'so "consistency_delay" cannot hold back recent rows; put the timestamp first in "cursor", or set "consistency_delay": "0"',
      );

    // Every target is locked for the whole run, so two runs of this sync never read the same
    // changes; the locks are taken in name order, so syncs sharing targets never deadlock.
    const byName = [...source.tables].sort((a, b) => (a.target.name < b.target.name ? -1 : 1));
    for (const table of byName) {
      const load = await openLoad(
        {
          spec: table.target,
          settings: config,
          source: `postgres ${source.description} ${table.label}${full ? ' (full)' : ''}`,
          layout: {
            format: 'rows',
            columns: table.target.columns,
            keys: table.target.key,
            deleteWhen: table.target.deleteWhen,
          },
          tableLock: 'from-open',
        },
        {
          db: env.db,
          log: env.log,
          signal: env.signal,
          onProgress: (p) => env.onProgress?.({ ...p, rowsRead: readSoFar(loads) }),
          faults,
        },
      );
      loads.set(table.target.name, load);
    }
    const saved = await startingPoint(env.db, source, full);
    const bound = untimed ? undefined : await reader.upperBound(source.consistencyDelayMs);
    const until = bound?.until;

    const positions: Record<string, CursorTuple> = full ? {} : { ...saved?.positions };
    for (let i = 0; i < source.tables.length; i += 1) {
      const table = source.tables[i];
      const last = await extractInto(loads.get(table.target.name)!, {
        reader,
        table,
        shape: shapes[i],
        after: saved?.positions[table.target.name],
        // A timestamp or date column holds the source's local time: compared with the bound in that zone.
        until: shapes[i].localTimeCursor ? bound?.local : until,
        full,
        batchSize: config.batchSize,
      });
      if (last) positions[table.target.name] = last;
      if (!full) {
        const nulls = await reader.countNullCursors(table);
        if (nulls > 0) {
          const message = `${table.label}: ${nulls} row(s) have a null ${source.cursor.join(' or ')} and are not read by incremental runs; etl sync ${source.sync} --full loads them`;
          warnings.push(message);
          env.log.warn(message);
        }
      }
    }
    await reader.close();

    const ordered = source.tables.map((t) => loads.get(t.target.name)!);
    const results = await commitTogether(ordered, {
      dryRun: config.dryRun,
      within: async (client) => {
        await client.query(
          saveCursorQuery({
            sync: source.sync,
            columns: source.cursor,
            positions,
            readUntil: until ?? null,
            loadIds: ordered.map((l) => l.loadId),
          }),
        );
      },
      beforeCommit: async () => {
        await faults?.beforeStep?.('commit');
        if (env.signal?.aborted) throw new SyncAbortedError(`sync ${source.sync} interrupted`, ordered[0].loadId);
      },
    });
    return combined(config, source, results, positions, warnings, started);
  } catch (error) {
    await reader.close();
    const typed: Error[] = [];
    for (const load of loads.values()) typed.push(await load.fail(error));
    // A busy table (exit 3, a skipped daemon tick) or a bad setting keeps its kind, whichever load saw it.
    if (error instanceof LockBusyError || error instanceof ConfigError) throw error;
    throw classify(
      typed[0] ?? error,
      source,
      [...loads.values()].map((l) => l.loadId),
    );
  }
}

function readSoFar(loads: Map<string, Load>): number {
  let n = 0;
  for (const load of loads.values()) n += load.records;
  return n;
}

/** One result for the whole sync: the counts summed, each target's load listed, the new cursor. */
function combined(
  config: SyncConfig,
  source: PostgresSource,
  results: readonly SyncResult[],
  positions: Record<string, CursorTuple>,
  warnings: string[],
  started: number,
): SyncResult {
  const counts = zeroCounts();
  for (const r of results) for (const key of Object.keys(counts) as (keyof LoadCounts)[]) counts[key] += r.counts[key];
  const durationMs = performance.now() - started;
  const cursor = results
    .filter((r) => positions[r.target])
    .map((r) => `${r.target}: ${describeTuple(source.cursor, positions[r.target])}`)
    .join('; ');
  type Timed = Exclude<keyof SyncResult['phases'], 'mergeSteps'>;
  // The loads ran side by side: the longest of each phase is the sync's; worker time adds up.
  const longest = (key: Timed) => Math.max(...results.map((r) => r.phases[key]));
  const total = (key: Timed) => results.reduce((n, r) => n + r.phases[key], 0);
  const mergeSteps: Record<string, number> = {};
  for (const r of results)
    for (const [step, ms] of Object.entries(r.phases.mergeSteps)) mergeSteps[step] = (mergeSteps[step] ?? 0) + ms;
  return {
    loadId: results[0].loadId,
    target: results.map((r) => r.target).join(', '),
    source: `postgres ${source.description}${config.full ? ' (full)' : ''}`,
    dryRun: config.dryRun,
    counts,
    firstRejects: results.flatMap((r) => r.firstRejects).slice(0, 10),
    warnings: [...warnings, ...results.flatMap((r) => r.warnings)],
    phases: {
      setupMs: longest('setupMs'),
      stageMs: longest('stageMs'),
      mergeMs: longest('mergeMs'),
      cleanupMs: longest('cleanupMs'),
      workerParseMs: total('workerParseMs'),
      workerCopyMs: total('workerCopyMs'),
      mergeSteps,
    },
    durationMs,
    rowsPerSecond: counts.read / Math.max(durationMs / 1000, 1e-3),
    tables: results.map((r) => ({ target: r.target, loadId: r.loadId, counts: r.counts })),
    cursor: cursor === '' ? undefined : cursor,
  };
}

/** A failed load names the sync and every load it rolled back; the source's password never shows. */
function classify(error: Error, source: PostgresSource, loadIds: readonly string[]): Error {
  const secrets = [source.connectionString];
  if (error instanceof SyncFailedError) {
    const cause = error.cause ?? error;
    return new SyncFailedError(
      `sync ${source.sync} failed and was rolled back (load ${loadIds.join(', ')}): ${redactSecrets(messageOf(cause), secrets)}; ` +
        'the targets and the cursor are unchanged',
      error.loadId,
      { cause },
    );
  }
  if (error instanceof ConfigError || error instanceof SyncAbortedError) return error;
  const redacted = redactSecrets(error.message, secrets);
  return redacted === error.message ? error : new Error(redacted, { cause: error });
}
