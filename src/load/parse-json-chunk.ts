/**
 * Worker-side JSON parsing: each record of the chunk (an NDJSON line, or one element of a top-level
 * JSON array, located by the main thread's splitter) is parsed on its own, so one bad record is a
 * bad row at its line, never a failed chunk.
 */
import type { JsonLayout, ParsedChunk, RecordIndex } from './layout.js';
import { RowStager } from './row-stager.js';
import type { SourceValue } from '../table/source-value.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function parseJsonChunk(data: Buffer, layout: JsonLayout, index: RecordIndex): ParsedChunk {
  const stager = new RowStager(layout, data.length);
  const names = layout.fieldNames;
  const markerName = layout.deleteWhen?.field;
  for (let i = 0; i < index.lines.length; i += 1) {
    const text = data.toString('utf8', index.starts[i], index.ends[i]);
    const line = index.lines[i];
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      stager.reject(line, text, `not valid JSON: ${(error as Error).message}`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      stager.reject(line, text, `expected a JSON object, found ${describe(value)}`);
      continue;
    }
    const record = value as Record<string, SourceValue>;
    stager.accept(
      (c) => record[names[c]],
      markerName === undefined ? undefined : record[markerName],
      line,
      () => text,
    );
  }
  return stager.result();
}
