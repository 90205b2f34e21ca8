/**
 * Worker-side reading of database rows (source/postgres/rows-chunk.ts): each line is a JSON array
 * of the values for the target's columns, as the source database printed them, or null. They are
 * validated and converted like CSV fields (text, so json columns receive JSON text), but a null
 * stays a null rather than an empty string.
 */
import type { ParsedChunk, RecordIndex, RowsLayout } from './layout.js';
import { RowStager } from './row-stager.js';

export function parseRowsChunk(data: Buffer, layout: RowsLayout, index: RecordIndex): ParsedChunk {
  const stager = new RowStager(layout, data.length);
  const markerAt = layout.columns.length;
  for (let i = 0; i < index.lines.length; i += 1) {
    const text = data.toString('utf8', index.starts[i], index.ends[i]);
    const values = JSON.parse(text) as (string | null)[];
    stager.accept(
      (c) => values[c],
      layout.deleteWhen ? values[markerAt] : undefined,
      index.lines[i],
      () => text,
    );
  }
  return stager.result();
}
