/**
 * The merge: one transaction that makes the target equal to the load (insert new keys, rewrite
 * changed rows, delete absent keys), stamps table_status and closes the load in the history.
 * Either all of it commits or none of it does.
 */
import type pg from 'pg';
import type { TargetSpec } from '../table/spec.js';
import { finishLoadQuery, type LoadCounts } from '../store/history.js';
import {
  appendAll,
  countDuplicates,
  countMarked,
  countTarget,
  deleteAbsent,
  deleteMarked,
  dropDuplicates,
  insertNew,
  partitionTable,
  hasUniqueKey,
  touchTableStatus,
  updateChanged,
} from './sql.js';
import type { Statement } from '../db/statement.js';
import { PG_CODES, pgCode } from '../errors.js';

export interface MergeOptions {
  allowEmpty: boolean;
  maxDeletePercent?: number;
  dryRun: boolean;
  /** Counts known before the merge (read, staged, rejected); the merge fills in the rest. */
  counts: LoadCounts;
  /** Label for messages: the source file. */
  source: string;
  /** Test hook, called inside the transaction right before COMMIT. */
  beforeCommit?: () => void | Promise<void>;
}

/** The load has no rows and the user did not ask for an empty target. */
export class EmptyLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmptyLoadError';
  }
}

/** The load would delete more of the target than --max-delete allows. */
export class DeleteLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeleteLimitError';
  }
}

// Rows of the merge statements are small records of counts and flags, read field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function exec(client: pg.ClientBase, statement: Statement): Promise<pg.QueryResult<Record<string, any>>> {
  try {
    return await client.query(statement.text, statement.values);
  } catch (error) {
    const e = error as Error;
    throw new Error(`${e.message}\n  in: ${statement.text.replace(/\s+/gu, ' ').trim()}`, { cause: error });
  }
}

export async function mergeLoad(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
): Promise<LoadCounts> {
  const counts = { ...options.counts };
  await client.query('BEGIN');
  try {
    // Fresh statistics let the planner pick hash joins for a large load instead of nested loops.
    await client.query(`ANALYZE ${partitionTable(spec, loadId)}`);
    if (spec.mode === 'append') {
      counts.inserted = (await exec(client, appendAll(spec, loadId))).rowCount ?? 0;
      const marked = countMarked(spec, loadId);
      counts.deleted = 0;
      if (marked) {
        // In append mode a delete marker removes every row with that key (including older appends).
        counts.deleted = (await exec(client, deleteMarked(spec, loadId)!)).rowCount ?? 0;
      }
    } else {
      await mergeByKey(client, spec, loadId, options, counts);
    }
    if (options.dryRun) {
      await client.query('ROLLBACK');
      return counts;
    }
    await exec(client, touchTableStatus(spec));
    await exec(client, finishLoadQuery(loadId, 'succeeded', counts));
    await options.beforeCommit?.();
    await client.query('COMMIT');
    return counts;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * mirror and upsert: one row per key, the file's last occurrence winning.
 *
 * Counting duplicate keys costs an aggregate over the whole load, and files rarely have any. For a
 * mirror into a table with a unique key, the merge first runs as if there were none, inside a
 * savepoint: afterwards the target holds exactly the load's distinct keys, so (rows before - deleted
 * + inserted) equals the staged rows unless some key repeated (a repeated new key also fails the
 * unique index). Only then is the merge rolled back to the savepoint and redone after removing the
 * earlier occurrences.
 */
async function mergeByKey(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
  counts: LoadCounts,
): Promise<void> {
  // Only a mirror deletes what the file lacks, so only a mirror can be emptied by an empty file.
  if (spec.mode === 'mirror' && counts.staged === 0 && !options.allowEmpty) {
    const why =
      counts.read === 0 ? 'has no data rows' : `has no valid rows (all ${counts.rejected} rows were rejected)`;
    throw new EmptyLoadError(
      `${options.source} ${why}; refusing to empty ${spec.schema}.${spec.table}. Check the file, or pass --allow-empty if an empty table is what you want`,
    );
  }
  if (spec.mode === 'mirror' && !spec.deleteWhen && (await exec(client, hasUniqueKey(spec))).rows[0]?.unique === true) {
    await client.query('SAVEPOINT etl_assume_distinct');
    try {
      const before = Number((await exec(client, countTarget(spec))).rows[0]?.n ?? 0);
      await applyChanges(client, spec, loadId, options, counts, before);
      if (before - counts.deleted + counts.inserted === counts.staged) {
        counts.duplicates = 0;
        counts.unchanged = counts.staged - counts.inserted - counts.updated;
        await client.query('RELEASE SAVEPOINT etl_assume_distinct');
        return;
      }
    } catch (error) {
      if (pgCode(error) !== PG_CODES.uniqueViolation) throw error;
    }
    await client.query('ROLLBACK TO SAVEPOINT etl_assume_distinct');
  }

  const dup = await exec(client, countDuplicates(spec, loadId));
  counts.duplicates = Number(dup.rows[0]?.duplicates ?? 0);
  if (counts.duplicates > 0) await exec(client, dropDuplicates(spec, loadId));
  const distinct = counts.staged - counts.duplicates;
  const markedQuery = countMarked(spec, loadId);
  const marked = markedQuery ? Number((await exec(client, markedQuery)).rows[0]?.n ?? 0) : 0;
  const before =
    options.maxDeletePercent !== undefined
      ? Number((await exec(client, countTarget(spec))).rows[0]?.n ?? 0)
      : undefined;
  await applyChanges(client, spec, loadId, options, counts, before);
  counts.unchanged = distinct - marked - counts.inserted - counts.updated;
}

/** Deletes (absent keys in a mirror, marked keys), checks --max-delete, then updates and inserts. */
async function applyChanges(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
  counts: LoadCounts,
  before: number | undefined,
): Promise<void> {
  counts.deleted = 0;
  if (spec.mode === 'mirror') counts.deleted += (await exec(client, deleteAbsent(spec, loadId))).rowCount ?? 0;
  const byMarker = deleteMarked(spec, loadId);
  if (byMarker) counts.deleted += (await exec(client, byMarker)).rowCount ?? 0;
  if (before !== undefined && before > 0 && options.maxDeletePercent !== undefined) {
    const share = (counts.deleted * 100) / before;
    if (share > options.maxDeletePercent) {
      throw new DeleteLimitError(
        `this load would delete ${counts.deleted} of ${before} rows of ${spec.schema}.${spec.table} (${share.toFixed(1)}%), ` +
          `more than --max-delete ${options.maxDeletePercent}%; nothing was changed. Check ${options.source}, or raise --max-delete`,
      );
    }
  }
  const update = updateChanged(spec, loadId);
  counts.updated = update ? ((await exec(client, update)).rowCount ?? 0) : 0;
  counts.inserted = (await exec(client, insertNew(spec, loadId))).rowCount ?? 0;
}
