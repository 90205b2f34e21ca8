/**
 * Syncs defined in the config file: one by name, or all of them in order. Each runs as a full sync
 * of its own (its own load, lock and history), and one failing does not stop the others.
 */
import type { SyncDefinition } from '../config/file.js';
import { resolvePostgresSource } from '../config/postgres-source.js';
import { resolveSyncConfig, type Env, type Flags } from '../config/resolve.js';
import type { SyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { SyncResult } from './run.js';

/** The entry's settings sit between the environment and the command line's flags. */
export function configForDefinition(def: SyncDefinition, cliFlags: Flags, env: Env): SyncConfig {
  const config = resolveSyncConfig(cliFlags, env, def.target, def.settings);
  return def.postgres ? Object.freeze({ ...config, postgres: resolvePostgresSource(def.postgres, env) }) : config;
}

export function findDefinition(defs: readonly SyncDefinition[], name: string, file: string): SyncDefinition {
  const def = defs.find((d) => d.name === name);
  if (!def)
    throw new ConfigError(
      `${file} has no sync named ${JSON.stringify(name)} (it has: ${defs.map((d) => d.name).join(', ')})`,
    );
  return def;
}

export interface NamedOutcome {
  name: string;
  result?: SyncResult;
  error?: unknown;
}

/** Runs every definition in order with `runOne`, collecting each outcome instead of stopping at a failure. */
export async function runAll<T extends { name: string }>(
  defs: readonly T[],
  runOne: (def: T) => Promise<SyncResult>,
  shouldStop: () => boolean = () => false,
): Promise<NamedOutcome[]> {
  const outcomes: NamedOutcome[] = [];
  for (const def of defs) {
    if (shouldStop()) break;
    try {
      outcomes.push({ name: def.name, result: await runOne(def) });
    } catch (error) {
      outcomes.push({ name: def.name, error });
    }
  }
  return outcomes;
}
