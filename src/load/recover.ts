import { hostname } from 'node:os';
import type pg from 'pg';
import type { TargetSpec } from '../table/spec.js';
import { quoteTable } from '../db/quote.js';
import { listPartitions } from '../merge/sql.js';
import { markAborted, runningLoads, type RunningLoad } from '../store/history.js';
import { loadsAwaitingMerge } from '../store/imports.js';
import { ownerIsGone } from '../store/load-lock.js';

export interface AbandonedLoad {
  loadId: string;
  /** Why it was abandoned, as far as can be told from here; also recorded as the load's error. */
  why: string;
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What can truthfully be said of a run that left its load running: the database restarted under it,
 * or else it stopped before recording an outcome, either killed or cut off from the database (so
 * that it could not clean up); on this host it can also be told whether its process is gone.
 */
function whyAbandoned(load: RunningLoad): string {
  const who = `pid ${load.pid ?? '?'} on ${load.host ?? 'an unknown host'}`;
  // A server that started after the load did restarted under it: every connection of the run was lost.
  if (load.restartedAt !== null)
    return `the database restarted (at ${load.restartedAt.toISOString()}) while it ran: its run (${who}) lost its database connection and could not clean up`;
  const how = 'it was killed, or it lost its database connection and could not clean up';
  if (load.host === hostname() && load.pid !== null && !alive(load.pid))
    return `its process (${who}) is gone: it stopped without finishing the load (${how})`;
  return `its run (${who}) stopped without finishing the load (${how})`;
}

/** The load id a staging partition belongs to (its name ends in the id without dashes). */
function loadIdOfPartition(name: string): string | undefined {
  const m = /_([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/u.exec(name);
  return m ? m.slice(1).join('-') : undefined;
}

/**
 * Cleans up after loads of this target whose owner is gone (kill -9, a lost host or connection): a
 * load still marked running whose load lock nobody holds has its staging partition dropped and is
 * marked aborted, with the reason. A partition of a load that is no longer running (a cleanup that
 * failed after commit) is dropped too. Partitions of live loads, which may be staging right now,
 * are left alone.
 *
 * Partitions are listed before the running loads: a load creates its history row before its
 * partition, so every partition listed belongs to a row the second query sees.
 */
export async function recoverAbandoned(client: pg.ClientBase, spec: TargetSpec): Promise<AbandonedLoad[]> {
  const list = listPartitions(spec);
  const parts = (await client.query<{ schema: string; name: string }>(list.text, list.values)).rows;
  const dead: RunningLoad[] = [];
  const live = new Set<string>();
  // A parked load (an upload staged by etl serve) has no owner while it waits for its merge job.
  const parked = await loadsAwaitingMerge(client, spec.name);
  for (const load of await runningLoads(client, spec.name)) {
    if (parked.has(load.loadId)) live.add(load.loadId);
    else if (await ownerIsGone(client, load.loadId)) dead.push(load);
    else live.add(load.loadId);
  }
  for (const p of parts) {
    const owner = loadIdOfPartition(p.name);
    if (owner === undefined || !live.has(owner))
      await client.query(`DROP TABLE IF EXISTS ${quoteTable(p.schema, p.name)}`);
  }
  const abandoned: AbandonedLoad[] = [];
  for (const load of dead) {
    const why = whyAbandoned(load);
    await markAborted(client, load.loadId, `abandoned: ${why}; a later sync removed its staging rows`);
    abandoned.push({ loadId: load.loadId, why });
  }
  return abandoned;
}
