import type pg from 'pg';
import type { TargetSpec } from '../table/spec.js';
import { quoteTable } from '../db/quote.js';
import { listPartitions } from '../merge/sql.js';
import { markAborted, runningLoads } from '../store/history.js';

/**
 * Runs while holding the table lock, so no other run of this target is alive: a load still marked
 * running was killed (kill -9, lost host). Its staging partition is dropped and it is marked aborted.
 * Any partition left behind for another reason (a cleanup that failed after commit) is dropped too.
 */
export async function recoverAbandoned(client: pg.ClientBase, spec: TargetSpec): Promise<string[]> {
  const dead = await runningLoads(client, spec.name);
  const parts = await client.query<{ schema: string; name: string }>(
    listPartitions(spec).text,
    listPartitions(spec).values,
  );
  for (const p of parts.rows) await client.query(`DROP TABLE IF EXISTS ${quoteTable(p.schema, p.name)}`);
  for (const loadId of dead) {
    await markAborted(
      client,
      loadId,
      'the process running this load stopped without finishing it (killed or lost its host); its staging rows were removed by a later run',
    );
  }
  return dead;
}
