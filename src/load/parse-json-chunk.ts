/**
 * Worker-side JSON parsing: each record of the chunk (an NDJSON line, or one element of a top-level
 * JSON array, located by the main thread's splitter) is parsed on its own, so one bad record is a
 * bad row at its line, never a failed chunk. json/jsonb columns get their member's text as written
 * (never a JS number, which would round integers beyond 2^53).
 */
import { isUtf8 } from 'node:buffer';
import type { JsonLayout, ParsedChunk, RecordIndex } from './layout.js';
import { INVALID_TEXT } from './parse-chunk.js';
import { RowStager } from './row-stager.js';
import { memberTexts } from '../table/json-text.js';
import { takesJsonText } from '../table/rules.js';
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
  const asText = layout.columns.map((c) => takesJsonText(c.rule));
  const anyText = asText.includes(true);
  const checkBytes = !isUtf8(data);
  for (let i = 0; i < index.lines.length; i += 1) {
    const text = data.toString('utf8', index.starts[i], index.ends[i]);
    const line = index.lines[i];
    if (text.trim() === '') continue;
    if (checkBytes && !isUtf8(data.subarray(index.starts[i], index.ends[i]))) {
      stager.reject(line, text, INVALID_TEXT);
      continue;
    }
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
    const texts = anyText ? memberTexts(text) : undefined;
    const field = (c: number): SourceValue => {
      if (!asText[c]) return record[names[c]];
      const member = texts!.get(names[c]);
      return member === 'null' ? null : member;
    };
    stager.accept(field, markerName === undefined ? undefined : record[markerName], line, () => text);
  }
  return stager.result();
}
