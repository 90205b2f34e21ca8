/**
 * The config file (etl.config.json, or YAML): one entry per sync, each naming its source, target
 * table, key, typed columns and mode. Validated here once, with messages that point at the entry and
 * field (`etl.config.json: syncs[1].columns[0].type ...`).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import type { SourceFormat } from '../source/record-source.js';
import type { ColumnSpec, DeleteRule, SyncMode, TargetSpec } from '../table/spec.js';
import { derivedName, identifierProblem } from '../table/identifier.js';
import { parseColumnType } from '../table/types.js';
import type { Flags } from './resolve.js';

export interface SyncDefinition {
  name: string;
  target: TargetSpec;
  /** The entry's source and tolerance settings, in the same form as command-line flags. */
  flags: Flags;
  cron?: string;
}

export const DEFAULT_CONFIG_FILES = ['etl.config.json', 'etl.config.yaml', 'etl.config.yml'];

type Json = Record<string, unknown>;

class Fields {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly obj: Json,
  ) {}

  fail(field: string, message: string): never {
    throw new ConfigError(`${this.file}: ${this.path}${field ? '.' + field : ''} ${message}`);
  }

  string(field: string, required: true): string;
  string(field: string, required?: false): string | undefined;
  string(field: string, required = false): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v.trim() === '')
      this.fail(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A single character, kept as written: a tab ("\t" in JSON, a real tab in YAML) is not blank space here. */
  character(field: string): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(field, `must be one character, got ${JSON.stringify(v)}`);
    return v;
  }

  number(field: string, min: number, max: number): number | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      this.fail(field, `must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  }

  boolean(field: string): boolean | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  child(field: string): Fields | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be an object');
    return new Fields(this.file, `${this.path}.${field}`, v as Json);
  }

  allowOnly(names: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!names.includes(k)) this.fail('', `has an unknown field ${JSON.stringify(k)} (known: ${names.join(', ')})`);
    }
  }
}

const SYNC_FIELDS = [
  'name',
  'source',
  'target',
  'key',
  'columns',
  'mode',
  'delete_when',
  'modified_column',
  'max_errors',
  'allow_empty',
  'max_delete',
  'cron',
];
const SOURCE_FIELDS = ['path', 'url', 'format', 'delimiter', 'quote', 'header', 'encoding'];
const COLUMN_FIELDS = ['name', 'type', 'source', 'nullable'];
const MODES: readonly SyncMode[] = ['mirror', 'upsert', 'append'];
const FORMATS: readonly SourceFormat[] = ['csv', 'ndjson', 'json'];
const NAME = /^[A-Za-z0-9_.-]+$/u;

/** `op = 'D'`, `deleted = true`, `"Status" != 'active'`: one field compared with one value. */
export function parseDeleteRule(text: string): DeleteRule | undefined {
  const m =
    /^\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][\w ]*?))\s*(=|!=|<>)\s*(?:'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?|true|false))\s*$/iu.exec(
      text,
    );
  if (!m) return undefined;
  const field = m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2].trim();
  const value = m[4] !== undefined ? m[4].replaceAll("''", "'") : m[5];
  return { field, op: m[3] === '=' ? '=' : '!=', value };
}

/** Relative source paths are read from the config file's directory, wherever etl is started. */
function sourceLocation(location: string, baseDir: string): string {
  if (location === '-' || /^https?:\/\//iu.test(location) || isAbsolute(location)) return location;
  return resolve(baseDir, location);
}

function parseSync(file: string, raw: unknown, index: number, baseDir: string): SyncDefinition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`${file}: syncs[${index}] must be an object`);
  const f = new Fields(file, `syncs[${index}]`, raw as Json);
  f.allowOnly(SYNC_FIELDS);
  const name = f.string('name', true);
  if (!NAME.test(name)) f.fail('name', `${JSON.stringify(name)} may use only letters, digits, _ . and -`);

  const flags: Flags = {};
  const sourceValue = f.obj.source;
  if (typeof sourceValue === 'string') flags.file = sourceLocation(sourceValue, baseDir);
  else {
    const s = f.child('source') ?? f.fail('source', 'is required (a path, a URL, or an object with path/url)');
    s.allowOnly(SOURCE_FIELDS);
    const location = s.string('path') ?? s.string('url') ?? s.fail('', 'needs "path" or "url"');
    flags.file = sourceLocation(location, baseDir);
    const format = s.string('format');
    if (format !== undefined && !FORMATS.includes(format as SourceFormat))
      s.fail('format', `must be one of ${FORMATS.join(', ')}`);
    if (format) flags.format = format;
    const delimiter = s.character('delimiter');
    if (delimiter !== undefined) flags.delimiter = delimiter;
    const quote = s.character('quote');
    if (quote !== undefined) flags.quote = quote;
    if (s.string('encoding')) flags.encoding = s.string('encoding');
    const header = s.boolean('header');
    if (header !== undefined) flags.header = header;
  }

  const t = f.child('target') ?? f.fail('target', 'is required ({ "schema": "public", "table": "..." })');
  t.allowOnly(['schema', 'table']);
  const schema = t.string('schema') ?? 'public';
  const table = t.string('table', true);
  for (const [field, value] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    const problem = identifierProblem(value);
    if (problem) t.fail(field, problem);
  }

  const mode = (f.string('mode') ?? 'mirror') as SyncMode;
  if (!MODES.includes(mode)) f.fail('mode', `must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);

  if (!Array.isArray(f.obj.columns) || f.obj.columns.length === 0)
    f.fail('columns', 'must be a non-empty list of { "name", "type", "source" }');
  const rawColumns = f.obj.columns as unknown[];
  const keyRaw = f.obj.key;
  const key = keyRaw === undefined ? [] : Array.isArray(keyRaw) ? keyRaw : [keyRaw];
  if (!key.every((k) => typeof k === 'string' && k !== ''))
    f.fail('key', 'must be a column name or a list of column names');
  if (key.length === 0 && mode !== 'append')
    f.fail('key', `is required for mode ${mode} (the columns that identify a row)`);

  const columns: ColumnSpec[] = rawColumns.map((rc, i) => {
    if (typeof rc !== 'object' || rc === null || Array.isArray(rc)) f.fail(`columns[${i}]`, 'must be an object');
    const c = new Fields(file, `${f.path}.columns[${i}]`, rc as Json);
    c.allowOnly(COLUMN_FIELDS);
    const columnName = c.string('name', true);
    const problem = identifierProblem(columnName);
    if (problem) c.fail('name', problem);
    const type = c.string('type', true);
    let canonical = type;
    try {
      canonical = parseColumnType(type).sql;
    } catch (error) {
      c.fail('type', (error as Error).message);
    }
    const isKey = (key as string[]).includes(columnName);
    const nullable = c.boolean('nullable') ?? !isKey;
    if (isKey && nullable) c.fail('nullable', 'cannot be true for a key column');
    return {
      name: columnName,
      sqlType: canonical,
      source: c.string('source') ?? columnName,
      rule: { kind: 'typed', type: canonical, nullable },
    };
  });
  const names = columns.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) f.fail('columns', `name ${JSON.stringify(dup)} twice`);
  for (const k of key as string[])
    if (!names.includes(k))
      f.fail('key', `names ${JSON.stringify(k)}, which is not among the columns (${names.join(', ')})`);

  let deleteWhen: DeleteRule | undefined;
  const dw = f.obj.delete_when;
  if (dw !== undefined && dw !== null) {
    if (typeof dw === 'string')
      deleteWhen =
        parseDeleteRule(dw) ??
        f.fail('delete_when', `${JSON.stringify(dw)} is not understood; write it as field = 'value' (or !=)`);
    else {
      const d = f.child('delete_when')!;
      d.allowOnly(['field', 'equals', 'not_equals']);
      const field = d.string('field', true);
      const eq = d.obj.equals ?? d.obj.not_equals;
      if (eq === undefined || typeof eq === 'object')
        d.fail('', 'needs "equals" or "not_equals" with a string, number or boolean');
      deleteWhen = { field, op: d.obj.equals !== undefined ? '=' : '!=', value: String(eq) };
    }
    if (key.length === 0) f.fail('delete_when', 'needs a key: a delete marker deletes the rows with its key');
  }

  const modifiedColumn = f.string('modified_column');
  const modifiedProblem = modifiedColumn === undefined ? undefined : identifierProblem(modifiedColumn);
  if (modifiedProblem) f.fail('modified_column', modifiedProblem);
  if (modifiedColumn && names.includes(modifiedColumn))
    f.fail('modified_column', `${JSON.stringify(modifiedColumn)} is also a data column`);

  const maxErrors = f.number('max_errors', 0, Number.MAX_SAFE_INTEGER);
  if (maxErrors !== undefined) flags.maxErrors = String(maxErrors);
  const allowEmpty = f.boolean('allow_empty');
  if (allowEmpty !== undefined) flags.allowEmpty = allowEmpty;
  const maxDelete = f.number('max_delete', 0, 100);
  if (maxDelete !== undefined) flags.maxDelete = String(maxDelete);

  const targetName = schema === 'public' ? table : `${schema}.${table}`;
  const target: TargetSpec = {
    name: targetName,
    schema,
    table,
    stagingSchema: schema,
    stagingTable: derivedName('etl_staging_', table),
    key: key as string[],
    columns,
    modifiedColumn,
    mode,
    deleteWhen,
  };
  return { name, target, flags, cron: f.string('cron') };
}

export function parseConfigText(file: string, text: string, baseDir = process.cwd()): SyncDefinition[] {
  let doc: unknown;
  try {
    doc = /\.ya?ml$/iu.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `${file} is not valid ${/\.ya?ml$/iu.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}`,
    );
  }
  const syncs = (doc as Json | null)?.syncs;
  if (!Array.isArray(syncs) || syncs.length === 0) throw new ConfigError(`${file}: needs a non-empty "syncs" list`);
  const defs = syncs.map((s, i) => parseSync(file, s, i, baseDir));
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.name)) throw new ConfigError(`${file}: two syncs are named ${JSON.stringify(d.name)}`);
    seen.add(d.name);
  }
  return defs;
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
