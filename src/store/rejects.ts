/**
 * Bad rows of a load: kept in etl_info_schema.rejects (and optionally a CSV file) so the user can see
 * what was wrong even when the load failed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type pg from 'pg';
import type { Reject } from '../load/layout.js';

function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/u.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export class RejectSink {
  private pending: Reject[] = [];
  private readonly earliest: Reject[] = [];
  private file: WriteStream | undefined;
  total = 0;

  constructor(
    private readonly loadId: string,
    filePath?: string,
  ) {
    if (filePath) {
      this.file = createWriteStream(filePath, { encoding: 'utf8' });
      this.file.write('line,reason,raw\n');
    }
  }

  add(rejects: readonly Reject[]): void {
    this.total += rejects.length;
    this.pending.push(...rejects);
    this.earliest.push(...rejects);
    this.earliest.sort((a, b) => a.line - b.line);
    this.earliest.length = Math.min(this.earliest.length, 5);
  }

  /** The first bad lines of the file seen so far, for error messages. */
  first(): readonly Reject[] {
    return this.earliest;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  async flush(db: pg.ClientBase | pg.Pool): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.sort((a, b) => a.line - b.line);
    this.pending = [];
    await db.query(
      `INSERT INTO etl_info_schema.rejects (load_id, line, raw, reason)
       SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])
       ON CONFLICT (load_id, line) DO NOTHING`,
      [
        this.loadId,
        batch.map((r) => r.line),
        batch.map((r) => r.raw.replaceAll('\0', '\\0')),
        batch.map((r) => r.reason),
      ],
    );
    if (this.file) {
      for (const r of batch) {
        if (!this.file.write(`${r.line},${csvField(r.reason)},${csvField(r.raw)}\n`)) await once(this.file, 'drain');
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
  return rejects.map((r) => `line ${r.line}: ${r.reason}`).join('; ');
}
