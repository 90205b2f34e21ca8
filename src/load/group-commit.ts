/**
 * Several loads committed as one: an incremental sync stages each of its targets in its own load,
 * then merges them all in ONE transaction, in the order given (parents before children, so foreign
 * keys hold; the deletes run first, children before parents), with the sync's own bookkeeping (its
 * cursor) written in the same transaction. Either
 * every target changes and the cursor moves, or nothing does and every load is rolled back.
 */
import type pg from 'pg';
import type { Load } from './lifecycle.js';
import type { SyncResult } from './result.js';

export interface GroupCommitOptions {
  dryRun: boolean;
  /** Runs inside the transaction after every merge (not on a dry run, which rolls back). */
  within: (client: pg.ClientBase) => Promise<void>;
  /** Called right before COMMIT (test fault hooks, abort checks); a throw rolls everything back. */
  beforeCommit?: () => void | Promise<void>;
}

export async function commitTogether(loads: readonly Load[], options: GroupCommitOptions): Promise<SyncResult[]> {
  const failAll = async (error: unknown): Promise<never> => {
    const typed: Error[] = [];
    for (const load of loads) typed.push(await load.failGroupCommit(error));
    throw typed[0];
  };
  try {
    for (const load of loads) await load.prepareGroupCommit();
  } catch (error) {
    return failAll(error);
  }
  const client = loads[0].groupConnection;
  const mergeStart = performance.now();
  try {
    await client.query('BEGIN');
    // Deletes children first, then merges parents first: foreign keys between the targets hold
    // whether a run inserts or deletes a parent and its children.
    if (loads.length > 1) for (const load of [...loads].reverse()) await load.deleteFirstInGroup(client);
    for (const load of loads) await load.mergeInGroup(client);
    if (options.dryRun) await client.query('ROLLBACK');
    else {
      await options.within(client);
      await options.beforeCommit?.();
      for (const load of loads) load.markCommitting();
      await client.query('COMMIT');
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    return failAll(error);
  }
  const results: SyncResult[] = [];
  for (const load of loads) results.push(await load.finishGroupCommit(mergeStart));
  return results;
}
