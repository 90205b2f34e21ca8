/**
 * API keys of etl serve. A token is `etl_<key id>_<secret>`: the id finds the row, the secret is kept
 * only as a SHA-256 digest and compared in constant time. Keys are scoped to named syncs ('*' for
 * all) and to read or write.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';

export type KeyScope = 'read' | 'write';

export interface ApiKey {
  keyId: string;
  name: string;
  syncs: string[];
  scope: KeyScope;
  createdAt: Date;
  revokedAt: Date | null;
}

const TOKEN = /^etl_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/u;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

function hexToUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Creates a key and returns it with its token, which is shown once and never stored. */
export async function createKey(
  db: pg.ClientBase | pg.Pool,
  input: { name: string; syncs: string[]; scope: KeyScope },
): Promise<{ key: ApiKey; token: string }> {
  const keyId = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  const r = await db.query<{ created_at: Date }>(
    `INSERT INTO etl_info_schema.api_keys (key_id, name, secret_hash, syncs, scope)
     VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
    [keyId, input.name, digest(secret), input.syncs, input.scope],
  );
  return {
    key: { keyId, ...input, createdAt: r.rows[0].created_at, revokedAt: null },
    token: `etl_${keyId.replaceAll('-', '')}_${secret}`,
  };
}

interface KeyRow {
  key_id: string;
  name: string;
  syncs: string[];
  scope: KeyScope;
  created_at: Date;
  revoked_at: Date | null;
}

const toKey = (r: KeyRow): ApiKey => ({
  keyId: r.key_id,
  name: r.name,
  syncs: r.syncs,
  scope: r.scope,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export async function listKeys(db: pg.ClientBase | pg.Pool, includeRevoked = false): Promise<ApiKey[]> {
  const r = await db.query<KeyRow>(
    `SELECT key_id, name, syncs, scope, created_at, revoked_at FROM etl_info_schema.api_keys
      WHERE $1 OR revoked_at IS NULL ORDER BY created_at, name`,
    [includeRevoked],
  );
  return r.rows.map(toKey);
}

/** Revokes the active key of that name; false when there is none. */
export async function revokeKey(db: pg.ClientBase | pg.Pool, name: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE etl_info_schema.api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`,
    [name],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Whether any key is usable: without one, etl serve refuses to start (unless --insecure-no-auth). */
export async function hasActiveKeys(db: pg.ClientBase | pg.Pool): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM etl_info_schema.api_keys WHERE revoked_at IS NULL LIMIT 1`);
  return (r.rowCount ?? 0) > 0;
}

/** The active key a bearer token belongs to, or undefined (malformed, unknown, revoked, or a wrong secret). */
export async function verifyToken(db: pg.ClientBase | pg.Pool, token: string): Promise<ApiKey | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const r = await db.query<KeyRow & { secret_hash: Buffer }>(
    `SELECT key_id, name, syncs, scope, created_at, revoked_at, secret_hash FROM etl_info_schema.api_keys
      WHERE key_id = $1 AND revoked_at IS NULL`,
    [hexToUuid(m[1])],
  );
  const row = r.rows[0];
  // Hash even when the id is unknown, so the time taken does not tell which ids exist.
  const given = digest(m[2]);
  const expected = row?.secret_hash ?? Buffer.alloc(given.length);
  if (!timingSafeEqual(given, expected) || !row) return undefined;
  return toKey(row);
}

/** Whether the key may act on this sync with this access. Write keys may also read. */
export function keyAllows(key: ApiKey, sync: string, access: KeyScope): boolean {
  if (access === 'write' && key.scope !== 'write') return false;
  return key.syncs.includes('*') || key.syncs.includes(sync);
}
