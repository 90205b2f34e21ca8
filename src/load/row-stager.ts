/**
 * Validates one source record against the target's columns and appends it to the chunk's COPY text,
 * or records why it was refused. Shared by the CSV and JSON readers so both follow the same rules.
 */
import { normalizerFor, takesJsonText, type Normalizer } from '../table/rules.js';
import type { ColumnSpec, DeleteRule } from '../table/spec.js';
import type { SourceValue } from '../table/source-value.js';
import { CopyBuffer } from './copy-text.js';
import type { ChunkLayout, ParsedChunk, Reject } from './layout.js';

let cached: { key: string; fns: Normalizer[] } | undefined;
/**
 * Where the stagers write, one chunk at a time: a chunk is parsed in one synchronous call, so every
 * stager of that call shares it. A worker that COPYs one chunk while parsing the next hands each
 * chunk its own buffer (useCopyBuffer); otherwise one buffer serves the thread.
 */
let copyBuffer: CopyBuffer | undefined;

/** The buffer the next chunk's stagers write into; it must stay untouched until its COPY is done. */
export function useCopyBuffer(buffer: CopyBuffer): void {
  copyBuffer = buffer;
}

/** Layouts arrive as fresh copies with every task, so normalizers are cached by the columns' content. */
function normalizers(columns: readonly ColumnSpec[], source: 'csv' | 'json'): Normalizer[] {
  const key = source + JSON.stringify(columns);
  // A JSON source hands json/jsonb columns their member's text as written (parse-json-chunk.ts),
  // which they read as they read a CSV field: as JSON text.
  const sourceOf = (c: ColumnSpec) => (source === 'json' && takesJsonText(c.rule) ? 'csv' : source);
  if (cached?.key !== key) cached = { key, fns: columns.map((c) => normalizerFor(c.name, c.rule, sourceOf(c))) };
  return cached.fns;
}

/** Whether a record's marker field asks for its key to be deleted. Absent or null never deletes. */
export function matchesDeleteRule(rule: DeleteRule, value: SourceValue): boolean {
  if (value === undefined || value === null || typeof value === 'object') return false;
  const text = String(value).trim();
  return rule.op === '=' ? text === rule.value : text !== rule.value;
}

/**
 * The raw text kept with a reject. A bad row can be as long as --max-record-size, and every reject
 * crosses to the main thread and into the rejects table: a file of long bad rows would otherwise
 * pass its whole size through the main thread's heap.
 */
const MAX_RAW_CHARS = 64 * 1024;

function rejected(line: number, raw: string, reason: string): Reject {
  if (raw.length <= MAX_RAW_CHARS) return { line, raw, reason };
  // Never cut between the two halves of a surrogate pair.
  const high = raw.charCodeAt(MAX_RAW_CHARS - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? MAX_RAW_CHARS - 1 : MAX_RAW_CHARS;
  return {
    line,
    raw: raw.slice(0, end),
    reason: `${reason} (the record is ${raw.length} characters long; its text is cut to the first ${end})`,
  };
}

export class RowStager {
  private readonly fns: Normalizer[];
  private readonly isKey: boolean[];
  private readonly values: (string | null)[];
  /** The chunk's COPY data; the byte path (csv-bytes.ts) writes rows into it directly. */
  readonly copy: CopyBuffer;
  rows = 0;
  records = 0;
  readonly rejects: Reject[] = [];

  /** `expectedBytes`: about the size of the COPY data (the chunk's size is a good guess). */
  constructor(
    private readonly layout: ChunkLayout,
    expectedBytes: number,
  ) {
    copyBuffer = copyBuffer ? copyBuffer.reset(expectedBytes) : new CopyBuffer(expectedBytes);
    this.copy = copyBuffer;
    // Database rows are text, as CSV fields are (a json column receives JSON text).
    this.fns = normalizers(layout.columns, layout.format === 'json' ? 'json' : 'csv');
    this.isKey = layout.columns.map((c) => layout.keys.includes(c.name));
    this.values = new Array<string | null>(layout.columns.length);
  }

  reject(line: number, raw: string, reason: string): void {
    this.records += 1;
    this.rejects.push(rejected(line, raw, reason));
  }

  /** `field(c)` gives the source value for column c; `marker` the delete rule's field. */
  accept(field: (column: number) => SourceValue, marker: SourceValue, line: number, raw: () => string): void {
    this.records += 1;
    const rule = this.layout.deleteWhen;
    const deletes = rule ? matchesDeleteRule(rule, marker) : undefined;
    for (let c = 0; c < this.fns.length; c += 1) {
      if (deletes && !this.isKey[c]) {
        // A delete only needs its key; the other fields may be empty or stale.
        this.values[c] = null;
        continue;
      }
      const result = this.fns[c](field(c));
      if (!result.ok) {
        this.rejects.push(rejected(line, raw(), result.reason));
        return;
      }
      this.values[c] = result.value;
    }
    this.copy.row(this.values, line, deletes);
    this.rows += 1;
  }

  /** Counts a row the byte path wrote into `copy`. */
  stagedDirectly(): void {
    this.records += 1;
    this.rows += 1;
  }

  result(): ParsedChunk {
    return { copy: this.copy.bytes(), rows: this.rows, records: this.records, rejects: this.rejects };
  }
}
