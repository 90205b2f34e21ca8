/**
 * Source rows handed to the staging workers: each row becomes one line holding a JSON array of
 * the values that feed the target's columns (in column order, then the delete rule's field), as
 * text or null. The workers validate and convert them like any other source (load/parse-rows-chunk.ts).
 */
import type { TargetSpec } from '../../table/spec.js';
import type { Chunk } from '../splitter.js';
import type { SourceRow } from './reader.js';

/** For each value a worker needs, the index of the query column that holds it. */
export function rowPicker(target: TargetSpec, columns: readonly string[]): number[] {
  const fields = target.columns.map((c) => c.source);
  if (target.deleteWhen) fields.push(target.deleteWhen.field);
  return fields.map((f) => columns.indexOf(f));
}

/** `firstLine`: the ordinal of the first row in the whole extract (the staging "line": later rows win). */
export function rowsChunk(rows: readonly SourceRow[], pick: readonly number[], firstLine: number): Chunk {
  const lines = new Int32Array(rows.length);
  const starts = new Int32Array(rows.length);
  const ends = new Int32Array(rows.length);
  let text = '';
  let offset = 0;
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i];
    const line = JSON.stringify(pick.map((p) => row[p]));
    lines[i] = firstLine + i;
    starts[i] = offset;
    offset += Buffer.byteLength(line, 'utf8');
    ends[i] = offset;
    offset += 1;
    text += line + '\n';
  }
  return {
    data: Buffer.from(text, 'utf8'),
    startLine: firstLine,
    records: rows.length,
    recordLines: lines,
    recordStarts: starts,
    recordEnds: ends,
  };
}
