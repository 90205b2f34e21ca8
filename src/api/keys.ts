/** API keys from the library (and `etl keys`): each call opens the database, migrates, and closes it again. */
import pg from 'pg';
import type { DatabaseSetting } from '../config/types.js';
import { openDatabase } from '../db/connect.js';
import { ConfigError } from '../errors.js';
import { createKey, listKeys, revokeKey, type ApiKey, type KeyScope } from '../store/api-keys.js';
import { migrate } from '../store/migrate.js';

async function withStore<T>(database: DatabaseSetting, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const db = await openDatabase(database, () => undefined);
  const client = new pg.Client({ ...db.connection, application_name: 'etl keys' });
  try {
    await client.connect();
    await migrate(client);
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
    await db.close();
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/u;

/** Checks a key's settings with messages naming the flag, before anything touches the database. */
export function checkKeyInput(input: { name: string; syncs: string[]; scope: string }): {
  name: string;
  syncs: string[];
  scope: KeyScope;
} {
  if (!NAME.test(input.name))
    throw new ConfigError(
      `--name ${JSON.stringify(input.name)}: use 1-64 letters, digits, dots, dashes or underscores`,
    );
  if (input.scope !== 'read' && input.scope !== 'write')
    throw new ConfigError(`--scope ${JSON.stringify(input.scope)}: must be read or write`);
  const syncs = input.syncs.map((s) => s.trim()).filter((s) => s !== '');
  if (syncs.length === 0) throw new ConfigError('--syncs: name at least one sync (a,b), or * for all of them');
  return { name: input.name, syncs, scope: input.scope };
}

export async function createApiKey(
  database: DatabaseSetting,
  input: { name: string; syncs: string[]; scope: string },
): Promise<{ key: ApiKey; token: string }> {
  const checked = checkKeyInput(input);
  return withStore(database, async (client) => {
    try {
      return await createKey(client, checked);
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw new ConfigError(
          `a key named ${JSON.stringify(checked.name)} already exists; revoke it first or pick another name`,
        );
      throw error;
    }
  });
}

export function listApiKeys(database: DatabaseSetting, includeRevoked = false): Promise<ApiKey[]> {
  return withStore(database, (client) => listKeys(client, includeRevoked));
}

export function revokeApiKey(database: DatabaseSetting, name: string): Promise<boolean> {
  return withStore(database, (client) => revokeKey(client, name));
}

export type { ApiKey, KeyScope };
