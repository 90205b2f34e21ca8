/**
 * The saved cursors of incremental syncs (etl_info_schema.cursors, migration 6): for each target of
 * a sync, the cursor tuple of the last row read, kept as the source's own text so nothing is
 * rounded. The save is a statement run inside the merge transaction, never on its own.
 */
import type pg from 'pg';
import { quoteTable } from '../db/quote.js';

const CURSORS = quoteTable('etl_info_schema', 'cursors');

/** A cursor tuple as the source printed it (one text per cursor column). */
export type CursorTuple = readonly string[];

export interface SavedCursor {
  sync: string;
  columns: readonly string[];
  /** By target name: the last row read. A target missing here has not been read yet. */
  positions: Readonly<Record<string, CursorTuple>>;
  /** The upper bound (the source's now() minus the consistency delay) of the run that saved it. */
  readUntil: string | null;
  loadIds: readonly string[];
  savedAt: Date;
}

interface CursorRow {
  sync_name: string;
  columns: string[];
  positions: Record<string, string[]>;
  read_until: string | null;
  load_ids: string[];
  saved_at: Date;
}

const toCursor = (row: CursorRow): SavedCursor => ({
  sync: row.sync_name,
  columns: row.columns,
  positions: row.positions,
  readUntil: row.read_until,
  loadIds: row.load_ids,
  savedAt: row.saved_at,
});

const SELECT = `SELECT sync_name, columns, positions, read_until, load_ids, saved_at FROM ${CURSORS}`;

export async function readCursor(db: pg.ClientBase, sync: string): Promise<SavedCursor | undefined> {
  const r = await db.query<CursorRow>(`${SELECT} WHERE sync_name = $1`, [sync]);
  return r.rows[0] ? toCursor(r.rows[0]) : undefined;
}

/** Every saved cursor, by sync name; empty on a schema from before migration 6 (status never migrates). */
export async function listCursors(db: pg.ClientBase | pg.Pool): Promise<SavedCursor[]> {
  const present = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [CURSORS]);
  if (present.rows[0]?.present !== true) return [];
  const r = await db.query<CursorRow>(`${SELECT} ORDER BY sync_name`);
  return r.rows.map(toCursor);
}

/** Inserts or replaces a sync's cursor; run in the merge transaction. */
export function saveCursorQuery(cursor: Omit<SavedCursor, 'savedAt'>): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO ${CURSORS} (sync_name, columns, positions, read_until, load_ids, saved_at)
           VALUES ($1, $2::text[], $3::jsonb, $4, $5::uuid[], now())
           ON CONFLICT (sync_name) DO UPDATE
              SET columns = EXCLUDED.columns, positions = EXCLUDED.positions, read_until = EXCLUDED.read_until,
                  load_ids = EXCLUDED.load_ids, saved_at = EXCLUDED.saved_at`,
    values: [cursor.sync, cursor.columns, JSON.stringify(cursor.positions), cursor.readUntil, cursor.loadIds],
  };
}

/** `updated_at=2025-01-02 03:04:05.123456+00, id=42` */
export function describeTuple(columns: readonly string[], tuple: CursorTuple): string {
  return columns.map((c, i) => `${c}=${tuple[i]}`).join(', ');
}
