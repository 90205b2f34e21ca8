/**
 * Bad rows of a load: kept in etl_info_schema.rejects (and optionally a CSV file) so the user can see
 * what was wrong even when the load failed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type pg from 'pg';
import type { Reject } from '../load/layout.js';

/** File order (byte order of the names, as globs and prefixes list them), then line order. */
function byPosition(a: Reject, b: Reject): number {
  if (a.file !== b.file) return Buffer.compare(Buffer.from(a.file ?? ''), Buffer.from(b.file ?? ''));
  return a.line - b.line;
}

function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/u.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Pending rejects are written once this many are held, or once their raw text reaches this many
 * characters: a bad row can be as long as --max-record-size, so a count alone would let a file of
 * long bad rows hold gigabytes (1000 rows of 16 MiB) before the first write.
 */
const FLUSH_COUNT = 1000;
const FLUSH_CHARS = 8 * 1024 * 1024;

export class RejectSink {
  private pending: Reject[] = [];
  private pendingChars = 0;
  private readonly earliest: Reject[] = [];
  private file: WriteStream | undefined;
  total = 0;

  /** `manyFiles`: the load reads several files, so the CSV file gets a leading file column. */
  constructor(
    private readonly loadId: string,
    filePath?: string,
    private readonly manyFiles = false,
  ) {
    if (filePath) {
      this.file = createWriteStream(filePath, { encoding: 'utf8' });
      this.file.write(manyFiles ? 'file,line,reason,raw\n' : 'line,reason,raw\n');
    }
  }

  add(rejects: readonly Reject[]): void {
    this.total += rejects.length;
    this.pending.push(...rejects);
    for (const r of rejects) this.pendingChars += r.raw.length;
    this.earliest.push(...rejects);
    this.earliest.sort(byPosition);
    this.earliest.length = Math.min(this.earliest.length, 5);
  }

  /** The first bad lines of the file seen so far, for error messages. */
  first(): readonly Reject[] {
    return this.earliest;
  }

  /** Whether enough is held that it should be written now. */
  get full(): boolean {
    return this.pending.length >= FLUSH_COUNT || this.pendingChars >= FLUSH_CHARS;
  }

  async flush(db: pg.ClientBase | pg.Pool): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.sort(byPosition);
    this.pending = [];
    this.pendingChars = 0;
    await db.query(
      `INSERT INTO etl_info_schema.rejects (load_id, file, line, raw, reason)
       SELECT $1, * FROM unnest($5::text[], $2::bigint[], $3::text[], $4::text[])
       ON CONFLICT (load_id, file, line) DO NOTHING`,
      [
        this.loadId,
        batch.map((r) => r.line),
        batch.map((r) => r.raw.replaceAll('\0', '\\0')),
        batch.map((r) => r.reason),
        batch.map((r) => r.file ?? ''),
      ],
    );
    if (this.file) {
      for (const r of batch) {
        const file = this.manyFiles ? `${csvField(r.file ?? '')},` : '';
        if (!this.file.write(`${file}${r.line},${csvField(r.reason)},${csvField(r.raw)}\n`))
          await once(this.file, 'drain');
      }
    }
  }

  async close(): Promise<void> {
    if (!this.file) return;
    const file = this.file;
    this.file = undefined;
    await new Promise<void>((resolve, reject) =>
      file.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}

export function describeRejects(rejects: readonly Reject[]): string {
  return rejects.map((r) => `${r.file === undefined ? '' : `${r.file} `}line ${r.line}: ${r.reason}`).join('; ');
}
