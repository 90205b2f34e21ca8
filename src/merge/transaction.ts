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
  deleteMarkedLast,
  dropDuplicates,
  hasUniqueKey,
  insertAll,
  bytewiseKeyColumns,
  partitionTable,
  setWorkMem,
  touchTableStatus,
} from './sql.js';
import {
  analyzeDiff,
  countDiff,
  createDiff,
  deleteDiff,
  deleteNullKeys,
  dropDiff,
  insertDiff,
  updateDiff,
} from './diff.js';
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
  /** work_mem for the merge transaction (e.g. 256MB), so its hash joins do not spill to disk. */
  workMem: string;
  /** Test hook, called inside the transaction right before COMMIT. */
  beforeCommit?: () => void | Promise<void>;
  /** In a group: what deleteFirstInGroup() already removed from this target. */
  deletedFirst?: DeletedFirst;
}

/** A group's first pass on one target: its row count before, and the rows it deleted. */
export interface DeletedFirst {
  before: number;
  deleted: number;
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

/** The merge's counts, and the milliseconds each of its steps took (for the phase breakdown). */
export interface MergeOutcome {
  counts: LoadCounts;
  steps: Record<string, number>;
}

/** Runs the merge's statements on one connection, timing each step under a name. */
class Steps {
  readonly ms: Record<string, number> = {};
  constructor(readonly client: pg.ClientBase) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async run(name: string, statement: Statement): Promise<pg.QueryResult<Record<string, any>>> {
    const start = performance.now();
    try {
      return await exec(this.client, statement);
    } finally {
      this.ms[name] = (this.ms[name] ?? 0) + performance.now() - start;
    }
  }

  async sql(name: string, text: string): Promise<void> {
    await this.run(name, { text, values: [] });
  }

  private analyzed = false;

  /**
   * Fresh statistics of the staging partition, taken before the first statement that joins or
   * groups it (the planner then picks hash joins for a large load instead of nested loops). An
   * insert into an empty table reads the partition once in key order and needs none.
   */
  async analyzeStaging(spec: TargetSpec, loadId: string): Promise<void> {
    if (this.analyzed) return;
    this.analyzed = true;
    await this.sql('analyze', `ANALYZE ${partitionTable(spec, loadId)}`);
  }
}

export async function mergeLoad(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
): Promise<MergeOutcome> {
  const steps = new Steps(client);
  await steps.sql('begin', 'BEGIN');
  try {
    const counts = await mergeSteps(steps, spec, loadId, options);
    if (options.dryRun) {
      await steps.sql('rollback', 'ROLLBACK');
      return { counts, steps: steps.ms };
    }
    await options.beforeCommit?.();
    await steps.sql('commit', 'COMMIT');
    return { counts, steps: steps.ms };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The merge of one load inside a transaction the caller opened and commits, so that several loads
 * (the targets of one incremental sync) and the sync's cursor commit together or not at all.
 */
export async function mergeInTransaction(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
): Promise<MergeOutcome> {
  const steps = new Steps(client);
  const counts = await mergeSteps(steps, spec, loadId, options);
  return { counts, steps: steps.ms };
}

/**
 * A group's first pass, run on its targets children first inside the group's transaction: the
 * keys whose last line is a delete marker and, for a mirror, the keys the load lacks. The merges
 * that follow (parents first) then find nothing to delete, so a parent is never deleted while a
 * child still references it. Append loads are left to their merge.
 */
export async function deleteFirstInGroup(
  client: pg.ClientBase,
  spec: TargetSpec,
  loadId: string,
  options: Pick<MergeOptions, 'maxDeletePercent' | 'source'>,
): Promise<DeletedFirst & { steps: Record<string, number> }> {
  const steps = new Steps(client);
  const before = Number((await steps.run('count_target', countTarget(spec))).rows[0]?.n ?? 0);
  let deleted = 0;
  if (spec.mode !== 'append') {
    if (spec.mode === 'mirror') deleted += (await steps.run('delete', deleteAbsent(spec, loadId))).rowCount ?? 0;
    const byMarker = deleteMarkedLast(spec, loadId);
    if (byMarker) deleted += (await steps.run('delete', byMarker)).rowCount ?? 0;
    checkDeleteLimit(spec, options, deleted, before);
  }
  return { before, deleted, steps: steps.ms };
}

/** The statements of one load's merge (no BEGIN/COMMIT): the target's change and its history rows. */
async function mergeSteps(steps: Steps, spec: TargetSpec, loadId: string, options: MergeOptions): Promise<LoadCounts> {
  const counts = { ...options.counts };
  await steps.run('begin', setWorkMem(options.workMem));
  if (spec.mode === 'append') {
    counts.inserted = (await steps.run('insert', appendAll(spec, loadId))).rowCount ?? 0;
    const marked = countMarked(spec, loadId);
    counts.deleted = 0;
    if (marked) {
      // In append mode a delete marker removes every row with that key (including older appends).
      await steps.analyzeStaging(spec, loadId);
      counts.deleted = (await steps.run('delete_marked', deleteMarked(spec, loadId)!)).rowCount ?? 0;
    }
  } else {
    await mergeByKey(steps, spec, loadId, options, counts);
    counts.deleted += options.deletedFirst?.deleted ?? 0;
  }
  if (options.dryRun) return counts;
  await steps.run('record', touchTableStatus(spec));
  await steps.run('record', finishLoadQuery(loadId, 'succeeded', counts));
  return counts;
}

/**
 * mirror and upsert: one row per key, the file's last occurrence winning.
 *
 * Counting duplicate keys costs an aggregate over the whole load, and files rarely have any. When
 * the target has a unique key and the load staged no delete markers, the merge first runs as if there
 * were none, inside a savepoint: a repeated new key then fails the unique index, and in a mirror
 * the target afterwards holds exactly the load's distinct keys, so (rows before - deleted +
 * inserted) equals the staged rows unless some key repeated. Only then is the merge rolled back to
 * the savepoint and redone after removing the earlier occurrences.
 */
async function mergeByKey(
  steps: Steps,
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
  const before = Number((await steps.run('count_target', countTarget(spec))).rows[0]?.n ?? 0);
  // Outside the savepoint below, so a rollback to it does not take the statistics with it.
  if (before > 0) await steps.analyzeStaging(spec, loadId);
  // Into an empty table every key is new: a repeated one fails the unique index, whatever the mode.
  const checkable = before === 0 || spec.mode === 'mirror';
  // A delete rule that matched no row (a loader that wrote no delete() markers) changes nothing below.
  const markedQuery = countMarked(spec, loadId);
  const marked =
    checkable && markedQuery ? Number((await steps.run('count_marked', markedQuery)).rows[0]?.n ?? 0) : undefined;
  if (checkable && !marked && (await steps.run('catalog', hasUniqueKey(spec))).rows[0]?.unique === true) {
    await steps.sql('savepoint', 'SAVEPOINT etl_assume_distinct');
    try {
      await applyChanges(steps, spec, loadId, options, counts, before);
      if (before - counts.deleted + counts.inserted === counts.staged) {
        counts.duplicates = 0;
        counts.unchanged = counts.staged - counts.inserted - counts.updated;
        await steps.sql('savepoint', 'RELEASE SAVEPOINT etl_assume_distinct');
        return;
      }
    } catch (error) {
      const code = pgCode(error);
      if (code !== PG_CODES.uniqueViolation && code !== PG_CODES.cardinalityViolation) throw error;
    }
    await steps.sql('savepoint', 'ROLLBACK TO SAVEPOINT etl_assume_distinct');
  }

  await steps.analyzeStaging(spec, loadId);
  const dup = await steps.run('duplicates', countDuplicates(spec, loadId));
  counts.duplicates = Number(dup.rows[0]?.duplicates ?? 0);
  if (counts.duplicates > 0) await steps.run('duplicates', dropDuplicates(spec, loadId));
  const distinct = counts.staged - counts.duplicates;
  // Counted after duplicates are dropped: a marker that a later line of its key overrode is gone.
  const markers = markedQuery ? Number((await steps.run('count_marked', markedQuery)).rows[0]?.n ?? 0) : 0;
  await applyChanges(steps, spec, loadId, options, counts, before);
  counts.unchanged = distinct - markers - counts.inserted - counts.updated;
}

/**
 * Makes the target equal to the (distinct) load and fills in inserted, updated and deleted. An
 * empty target takes a plain insert (no join); otherwise the difference is computed first (one join,
 * see diff.ts) and only its rows are deleted, rewritten and inserted. The delete limit is checked
 * against the difference, before anything is written.
 */
async function applyChanges(
  steps: Steps,
  spec: TargetSpec,
  loadId: string,
  options: MergeOptions,
  counts: LoadCounts,
  before: number,
): Promise<void> {
  counts.deleted = 0;
  counts.updated = 0;
  counts.inserted = 0;
  if (before === 0) {
    counts.inserted =
      (await steps.run('insert', insertAll(spec, loadId, await bytewiseKeys(steps, spec)))).rowCount ?? 0;
    return;
  }
  // The staging partition was analyzed by mergeByKey, before its savepoint.
  await steps.run('diff', createDiff(spec, loadId));
  await steps.run('diff', analyzeDiff());
  const row = (await steps.run('diff', countDiff(spec))).rows[0] ?? {};
  const [gone, goneNullKey, changed, added] = ['deleted', 'gone_null_key', 'updated', 'inserted'].map((k) =>
    Number(row[k] ?? 0),
  );
  checkDeleteLimit(spec, options, gone, before);
  if (gone > 0) counts.deleted = (await steps.run('delete', deleteDiff(spec))).rowCount ?? 0;
  if (goneNullKey > 0) counts.deleted += (await steps.run('delete', deleteNullKeys(spec))).rowCount ?? 0;
  const update = updateDiff(spec);
  if (update && changed > 0) counts.updated = (await steps.run('update', update)).rowCount ?? 0;
  if (added > 0)
    counts.inserted = (await steps.run('insert', insertDiff(spec, await bytewiseKeys(steps, spec)))).rowCount ?? 0;
  await steps.run('diff', dropDiff());
}

/** The key columns that can sort under "C" for the same order (see insertAll). */
async function bytewiseKeys(steps: Steps, spec: TargetSpec): Promise<Set<string>> {
  return new Set((await steps.run('catalog', bytewiseKeyColumns(spec))).rows.map((r) => String(r.name)));
}

function checkDeleteLimit(
  spec: TargetSpec,
  options: Pick<MergeOptions, 'maxDeletePercent' | 'source' | 'deletedFirst'>,
  deletedNow: number,
  beforeNow: number,
): void {
  // In a group, counted from the target as it was before the first pass.
  const deleted = deletedNow + (options.deletedFirst?.deleted ?? 0);
  const before = options.deletedFirst?.before ?? beforeNow;
  if (before === 0 || options.maxDeletePercent === undefined) return;
  const share = (deleted * 100) / before;
  if (share > options.maxDeletePercent) {
    throw new DeleteLimitError(
      `this load would delete ${deleted} of ${before} rows of ${spec.schema}.${spec.table} (${share.toFixed(1)}%), ` +
        `more than --max-delete ${options.maxDeletePercent}%; nothing was changed. Check ${options.source}, or raise --max-delete`,
    );
  }
}
