import { hostname } from 'node:os';
import type pg from 'pg';
import type { TargetSpec } from '../table/spec.js';
import { quoteTable } from '../db/quote.js';
import { listPartitions } from '../merge/sql.js';
import { markAborted, runningLoads, type RunningLoad } from '../store/history.js';

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
 * What can truthfully be said of a run that left its load running: it stopped before recording an
 * outcome, either killed or cut off from the database (so that it could not clean up); on this host
 * it can also be told whether its process is gone.
 */
function whyAbandoned(load: RunningLoad): string {
  const who = `pid ${load.pid ?? '?'} on ${load.host ?? 'an unknown host'}`;
  const how = 'it was killed, or it lost its database connection and could not clean up';
  if (load.host === hostname() && load.pid !== null && !alive(load.pid))
    return `its process (${who}) is gone: it stopped without finishing the load (${how})`;
  return `its run (${who}) stopped without finishing the load (${how})`;
}

/**
 * Runs while holding the table lock, so no other run of this target is alive: a load still marked
 * running was abandoned. Its staging partition is dropped and it is marked aborted, with the reason.
 * Any partition left behind for another reason (a cleanup that failed after commit) is dropped too.
 */
export async function recoverAbandoned(client: pg.ClientBase, spec: TargetSpec): Promise<AbandonedLoad[]> {
  const dead = await runningLoads(client, spec.name);
  const parts = await client.query<{ schema: string; name: string }>(
    listPartitions(spec).text,
    listPartitions(spec).values,
  );
  for (const p of parts.rows) await client.query(`DROP TABLE IF EXISTS ${quoteTable(p.schema, p.name)}`);
  const abandoned: AbandonedLoad[] = [];
  for (const load of dead) {
    const why = whyAbandoned(load);
    await markAborted(client, load.loadId, `abandoned: ${why}; a later sync removed its staging rows`);
    abandoned.push({ loadId: load.loadId, why });
  }
  return abandoned;
}
