/**
 * Who is calling: a bearer API key (scoped to syncs, read or write), or anyone when the server was
 * started with --insecure-no-auth (it then listens on 127.0.0.1 only).
 */
import type pg from 'pg';
import { keyAllows, verifyToken, type ApiKey, type KeyScope } from '../store/api-keys.js';
import { ApiError } from './errors.js';

export interface Caller {
  /** The key's name, for the import's record and logs; undefined without authentication. */
  name?: string;
  allows(sync: string, access: KeyScope): boolean;
  /** Syncs this caller may see ('*' = all). */
  syncs: readonly string[];
}

const anyone: Caller = { allows: () => true, syncs: ['*'] };

const byKey = (key: ApiKey): Caller => ({
  name: key.name,
  allows: (sync, access) => keyAllows(key, sync, access),
  syncs: key.syncs,
});

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer realm="etl"' });

export async function authenticate(db: pg.Pool, header: string | undefined, insecureNoAuth: boolean): Promise<Caller> {
  if (insecureNoAuth) return anyone;
  if (!header)
    throw unauthorized('an API key is required: send Authorization: Bearer <key> (create one with etl keys create)');
  const m = /^Bearer\s+(\S+)\s*$/iu.exec(header);
  if (!m) throw unauthorized('the Authorization header must be "Bearer <key>"');
  const key = await verifyToken(db, m[1]);
  if (!key) throw unauthorized('the API key is not valid (unknown, revoked or mistyped)');
  return byKey(key);
}

export function authorize(caller: Caller, sync: string, access: KeyScope): void {
  if (!caller.allows(sync, access))
    throw new ApiError(
      403,
      'forbidden',
      `this API key may not ${access === 'write' ? 'import into' : 'read'} sync ${JSON.stringify(sync)}`,
    );
}
