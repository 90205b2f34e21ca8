/**
 * What a load read, as size and SHA-256 of the source's bytes (after gunzip), recorded with every
 * load so `--if-changed` can skip a source byte-identical to the table's last successful load.
 */
import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { isUrl, openInput } from '../source/input.js';

export interface Fingerprint {
  bytes: number;
  sha256: string;
}

/** Passes the source's bytes through unchanged, hashing and counting them on the way. */
export class FingerprintStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** The fingerprint of everything that passed; only meaningful once the source was read to its end. */
  result(): Fingerprint {
    return { bytes: this.bytes, sha256: this.hash.copy().digest('hex') };
  }
}

/**
 * A regular file's fingerprint, read before the load starts so an unchanged file costs one read
 * and no database work. Standard input, URLs and FIFOs cannot be read twice: undefined (their
 * fingerprint is taken while staging instead).
 */
export async function fileFingerprint(location: string): Promise<Fingerprint | undefined> {
  // stdin and URLs cannot be read twice; they are compared once staged. A glob, prefix or
  // manifest is many files: never skipped.
  if (location === '-' || isUrl(location) || /^s3:\/\//iu.test(location)) return undefined;
  const info = await stat(location).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const input = await openInput(location);
  const tap = new FingerprintStream();
  await pipeline(input.stream, tap, new Writable({ write: (_chunk, _encoding, done) => done() }));
  return tap.result();
}

export function sameFingerprint(a: Fingerprint | undefined, b: Fingerprint | undefined): boolean {
  return a !== undefined && b !== undefined && a.bytes === b.bytes && a.sha256 === b.sha256;
}

/** The fingerprint of the table's last successful (not dry-run) load, if it recorded one. */
export async function lastFingerprint(db: pg.ClientBase | pg.Pool, table: string): Promise<Fingerprint | undefined> {
  const r = await db.query<{ bytes: string | null; sha256: string | null }>(
    `SELECT source_bytes::text AS bytes, source_sha256 AS sha256 FROM etl_info_schema.loads
      WHERE table_name = $1 AND status = 'succeeded' AND NOT dry_run
      ORDER BY started_at DESC LIMIT 1`,
    [table],
  );
  const row = r.rows[0];
  if (!row || row.bytes === null || row.sha256 === null) return undefined;
  return { bytes: Number(row.bytes), sha256: row.sha256 };
}

export async function recordFingerprint(db: pg.ClientBase | pg.Pool, loadId: string, fp: Fingerprint): Promise<void> {
  await db.query(`UPDATE etl_info_schema.loads SET source_bytes = $2, source_sha256 = $3 WHERE load_id = $1`, [
    loadId,
    fp.bytes,
    fp.sha256,
  ]);
}
