/**
 * Feeds one target's load from its query: rows page by page in cursor order, cut into batches of
 * whole rows for the load's worker pool (which validates, converts and COPYs them). Returns the
 * cursor tuple of the last row read in cursor order up to the run's bound: where the next run starts.
 */
import type { PostgresTable } from '../config/postgres-source.js';
import type { Load } from '../load/lifecycle.js';
import type { PostgresReader, QueryShape, SourceRow } from '../source/postgres/reader.js';
import { rowPicker, rowsChunk } from '../source/postgres/rows-chunk.js';
import type { CursorTuple } from '../store/cursors.js';

export interface ExtractRequest {
  reader: PostgresReader;
  table: PostgresTable;
  shape: QueryShape;
  /** Start strictly after this tuple; undefined reads from the beginning. */
  after?: CursorTuple;
  /** The run's upper bound on the first cursor column (undefined: none). */
  until?: string;
  /** A full extract also reads the rows whose cursor is null. */
  full: boolean;
  batchSize: number;
}

export async function extractInto(load: Load, request: ExtractRequest): Promise<CursorTuple | undefined> {
  const { table, shape, reader } = request;
  const pick = rowPicker(table.target, shape.columns);
  let line = 1;
  let last: CursorTuple | undefined;
  const stagePage = async (rows: SourceRow[]) => {
    for (let i = 0; i < rows.length; i += request.batchSize) {
      const batch = rows.slice(i, i + request.batchSize);
      await load.stage(rowsChunk(batch, pick, line));
      line += batch.length;
    }
  };
  // Rows whose cursor is null have no place in the keyset walk: a full extract reads them first.
  if (request.full) for await (const rows of reader.nullCursorPages(table)) await stagePage(rows);
  for await (const rows of reader.pages(table, shape, { after: request.after, until: request.until })) {
    await stagePage(rows);
    const end = rows[rows.length - 1];
    last = shape.cursorIndexes.map((i) => end[i]!);
  }
  // A full extract holds every row (a mirror deletes what it lacks), so it also reads the rows past
  // the bound; the cursor stays at the bound, and the next run reads those rows again.
  if (request.full && request.until !== undefined)
    for await (const rows of reader.pages(table, shape, { after: last })) await stagePage(rows);
  return last;
}
