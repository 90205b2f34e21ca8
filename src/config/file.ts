/**
 * The config file (etl.config.json, or YAML): one entry per sync, each naming its source, target
 * table, key, typed columns and mode. Validated here once, with messages that point at the entry and
 * field (`etl.config.json: syncs[1].columns[0].type ...`).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { parse } from 'yaml';
import { ConfigError } from '../errors.js';
import { derivedName } from '../table/identifier.js';
import type { ColumnSpec, SyncMode, TargetSpec } from '../table/spec.js';
import { schemas, describeIssues, formatPath, keyList, type SyncEntry, type TargetFields } from './file-schema.js';
import { postgresDefinition, type PostgresDefinition } from './postgres-source.js';
import type { EntrySettings } from './resolve.js';

/** The YAML parser, loaded only for a YAML config file (required: the file is read synchronously). */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as { parse: typeof parse }).parse(text);
}

export interface SyncDefinition {
  name: string;
  target: TargetSpec;
  /** The entry's source and tolerance settings, each naming its field as its origin. */
  settings: EntrySettings;
  cron?: string;
  /** Set when the source is another PostgreSQL database (incremental extracts); see config/postgres-source.ts. */
  postgres?: PostgresDefinition;
}

export const DEFAULT_CONFIG_FILES = ['etl.config.json', 'etl.config.yaml', 'etl.config.yml'];

/** Relative source paths are read from the config file's directory, wherever etl is started. */
function sourceLocation(location: string, baseDir: string): string {
  if (location === '-' || /^(https?|s3):\/\//iu.test(location) || isAbsolute(location)) return location;
  return resolve(baseDir, location);
}

/** The entry's fields that are sync settings (SYNC_SETTINGS keys), each with its origin for messages. */
function entrySettings(entry: SyncEntry, at: string, baseDir: string): EntrySettings {
  const settings: EntrySettings = {};
  const put = (key: keyof EntrySettings, field: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) settings[key] = { value, origin: `${at}.${field}` };
  };
  const { source } = entry;
  if (typeof source !== 'string' && 'postgres' in source) {
    // A database, not a file: only the tolerances apply.
  } else if (typeof source === 'string') put('file', 'source', sourceLocation(source, baseDir));
  else {
    const location = source.path ?? source.url;
    put('file', 'source', location === undefined ? undefined : sourceLocation(location, baseDir));
    put('format', 'source.format', source.format);
    put('delimiter', 'source.delimiter', source.delimiter);
    put('quote', 'source.quote', source.quote);
    put('encoding', 'source.encoding', source.encoding);
    put('header', 'source.header', source.header);
  }
  put('maxErrors', 'max_errors', entry.max_errors);
  put('allowEmpty', 'allow_empty', entry.allow_empty);
  put('maxDelete', 'max_delete', entry.max_delete);
  put('ifChanged', 'if_changed', entry.if_changed);
  return settings;
}

/** The target table, its key, typed columns, mode and delete rule (checked by the schema). */
function targetOf(t: TargetFields, defaultMode: SyncMode): TargetSpec {
  const schema = t.target!.schema ?? 'public';
  const table = t.target!.table;
  const key = keyList(t.key);
  const columns: ColumnSpec[] = t.columns!.map((c) => {
    const nullable = c.nullable ?? !key.includes(c.name);
    return {
      name: c.name,
      sqlType: c.type,
      source: c.source ?? c.name,
      rule: { kind: 'typed', type: c.type, nullable },
    };
  });
  return {
    name: schema === 'public' ? table : `${schema}.${table}`,
    schema,
    table,
    stagingSchema: schema,
    stagingTable: derivedName('etl_staging_', table),
    key,
    columns,
    modifiedColumn: t.modified_column,
    mode: t.mode ?? defaultMode,
    deleteWhen: t.delete_when,
  };
}

function definition(entry: SyncEntry, at: string, baseDir: string): SyncDefinition {
  const settings = entrySettings(entry, at, baseDir);
  const { source } = entry;
  if (typeof source !== 'string' && 'postgres' in source) {
    const postgres = postgresDefinition(entry, source, at, targetOf);
    return { name: entry.name, target: postgres.tables[0].target, settings, cron: entry.cron, postgres };
  }
  return { name: entry.name, target: targetOf(entry, 'mirror'), settings, cron: entry.cron };
}

export function parseConfigText(file: string, text: string, baseDir = process.cwd()): SyncDefinition[] {
  const yaml = /\.ya?ml$/iu.test(file);
  let doc: unknown;
  try {
    doc = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
  const parsed = schemas().configFileSchema.safeParse(doc ?? {}, { reportInput: true });
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues);
    throw new ConfigError(
      problems.length === 1
        ? `${file}: ${problems[0]}`
        : `${file} has ${problems.length} problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
  return parsed.data.syncs.map((entry, i) => definition(entry, `${file}: ${formatPath(['syncs', i])}`, baseDir));
}

/** Reads --config FILE, or the first default config file in `cwd`; undefined when there is none. */
export function loadConfigFile(
  explicit: string | undefined,
  cwd: string,
): { file: string; syncs: SyncDefinition[] } | undefined {
  const candidates = explicit ? [explicit] : DEFAULT_CONFIG_FILES;
  for (const candidate of candidates) {
    const path = resolve(cwd, candidate);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if (explicit)
        throw new ConfigError(
          `--config: cannot read ${candidate} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      continue;
    }
    return { file: candidate, syncs: parseConfigText(candidate, text, dirname(path)) };
  }
  return undefined;
}
