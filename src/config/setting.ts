/**
 * One setting definition (flag, environment variable, default, help, parser) and the one resolver
 * every setting goes through: a flag given, else the config file's entry, else the environment
 * (.env included; an empty variable counts as unset), else the default. The sync's and the daemon's
 * settings are tables of these definitions; the CLI builds its options from the same tables.
 */
import type { Parser, Raw } from './values.js';

export interface SettingDef<T = unknown> {
  /** The name in Flags and in the resolved settings. */
  key: string;
  /** As commander takes it: `--batch-size <rows>`, a switch `--dry-run`, or a negation `--no-header`. */
  flag: string;
  env?: string;
  /** Text, parsed like any other value (so a default is held to the same rules). */
  default?: string;
  help: string;
  parse: Parser<T>;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Values given directly (command-line flags, a library caller): text, numbers or booleans. */
export type Values<K extends string> = Partial<Record<K, string | number | boolean | undefined>>;

/** Values that carry their own origin, such as an entry of the config file (`etl.config.json: syncs[0].max_errors`). */
export type Layer<K extends string> = Partial<Record<K, Raw>>;

type ValueOf<D extends SettingDef> = D extends SettingDef<infer T> ? T : never;

/** The typed value of each definition; undefined only where the definition has no default. */
export type Resolved<Defs extends readonly SettingDef[]> = {
  [D in Defs[number] as D['key']]: D extends { default: string } ? ValueOf<D> : ValueOf<D> | undefined;
};

/** The flag as users name it in messages: `--batch-size`, `--header` for `--no-header`. */
export function flagName(def: SettingDef): string {
  return def.flag.split(' ')[0].replace(/^--no-/u, '--');
}

/** Where a setting's value comes from, or undefined when it has none (no flag, entry, variable or default). */
export function pick(
  def: SettingDef,
  flags: Values<string>,
  env: Env,
  layers: readonly Layer<string>[] = [],
): Raw | undefined {
  const flag = flags[def.key];
  if (flag !== undefined) return { value: flag, origin: flagName(def) };
  for (const layer of layers) {
    const raw = layer[def.key];
    if (raw !== undefined) return raw;
  }
  const fromEnv = def.env === undefined ? undefined : env[def.env];
  if (def.env !== undefined && fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, origin: def.env };
  if (def.default !== undefined) return { value: def.default, origin: `${flagName(def)} (default)` };
  return undefined;
}

/** Every setting of the table, parsed (the first invalid one throws its ConfigError). */
export function resolveSettings<const Defs extends readonly SettingDef[]>(
  defs: Defs,
  flags: Values<Defs[number]['key']>,
  env: Env,
  layers: readonly Layer<Defs[number]['key']>[] = [],
): Resolved<Defs> {
  const resolved: Record<string, unknown> = {};
  for (const def of defs) {
    const raw = pick(def, flags, env, layers);
    resolved[def.key] = raw === undefined ? undefined : def.parse(raw);
  }
  return resolved as Resolved<Defs>;
}

/** One setting of the table, parsed on its own. */
export function resolveSetting<const Defs extends readonly SettingDef[], K extends Defs[number]['key']>(
  defs: Defs,
  key: K,
  flags: Values<Defs[number]['key']>,
  env: Env,
): Resolved<Defs>[K] {
  const def = defs.find((d) => d.key === key)!;
  const raw = pick(def, flags, env);
  return (raw === undefined ? undefined : def.parse(raw)) as Resolved<Defs>[K];
}
