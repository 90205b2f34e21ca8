/**
 * The config file's shape, as zod schemas: the types of the file's entries are inferred from them,
 * and every problem is reported with its path (`syncs[1].columns[0].type`), an unknown field with the
 * known ones and a "did you mean".
 */
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';
import type { LoadFormat } from '../source/format.js';
import type { DeleteRule, SyncMode } from '../table/spec.js';
import { identifierProblem } from '../table/identifier.js';
import { parseColumnType } from '../table/types/index.js';
import { parseDuration } from './duration.js';
import { closest } from './suggest.js';

const MODES = ['mirror', 'upsert', 'append'] as const satisfies readonly SyncMode[];
const FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const satisfies readonly LoadFormat[];

/** `op = 'D'`, `deleted = true`, `"Status" != 'active'`: one field compared with one value. */
function parseDeleteRule(written: string): DeleteRule | undefined {
  const m =
    /^\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][\w ]*?))\s*(=|!=|<>)\s*(?:'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?|true|false))\s*$/iu.exec(
      written,
    );
  if (!m) return undefined;
  const field = m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2].trim();
  const value = m[4] !== undefined ? m[4].replaceAll("''", "'") : m[5];
  return { field, op: m[3] === '=' ? '=' : '!=', value };
}

type TargetFields = Zod.output<Zod.ZodObject<Schemas['targetShape']>>;
type Fail = (path: (string | number)[], message: string) => void;

/** `key` as written (a name or a list), as a list. */
export function keyList(key: string | string[] | undefined): string[] {
  return key === undefined ? [] : Array.isArray(key) ? key : [key];
}

const NON_EMPTY_COLUMNS = 'must be a non-empty list of { "name", "type", "source" }';

/** The target's own rules: a table, typed columns, and a key that names some of them. */
function checkTarget(t: TargetFields, defaultMode: SyncMode, fail: Fail): void {
  if (t.target === undefined) fail(['target'], 'is required');
  if (t.columns === undefined || t.columns.length === 0) return fail(['columns'], NON_EMPTY_COLUMNS);
  const key = keyList(t.key);
  const mode = t.mode ?? defaultMode;
  const names = t.columns.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) fail(['columns'], `name ${JSON.stringify(twice)} twice`);
  if (key.length === 0 && mode !== 'append')
    fail(['key'], `is required for mode ${mode} (the columns that identify a row)`);
  for (const k of key)
    if (!names.includes(k))
      fail(['key'], `names ${JSON.stringify(k)}, which is not among the columns (${names.join(', ')})`);
  t.columns.forEach((c, i) => {
    if (key.includes(c.name) && c.nullable === true)
      fail(['columns', i, 'nullable'], 'cannot be true for a key column');
  });
  if (t.delete_when !== undefined && key.length === 0)
    fail(['delete_when'], 'needs a key: a delete marker deletes the rows with its key');
  if (t.modified_column !== undefined && names.includes(t.modified_column))
    fail(['modified_column'], `${JSON.stringify(t.modified_column)} is also a data column`);
}

/** `query` or `table` (exactly one): the rows a target is fed from. */
function checkSourceQuery(q: { query?: string; table?: string }, fail: Fail): void {
  if ((q.query === undefined) === (q.table === undefined))
    return fail([], 'needs either "query" (a SELECT) or "table" (a table name), not both');
  // The query is wrapped as a subquery; a trailing semicolon would end the statement early.
  if (q.query !== undefined && q.query.trim().replace(/;\s*$/u, '').includes(';'))
    fail(['query'], 'must be a single SELECT (found a ";")');
  if (q.table !== undefined) {
    const parts = q.table.split('.');
    if (parts.length > 2 || parts.some((p) => p.trim() === ''))
      fail(['table'], `${JSON.stringify(q.table)} must be "table" or "schema.table"`);
  }
}

const refineWith =
  (ctx: Zod.RefinementCtx, prefix: (string | number)[] = []): Fail =>
  (path, message) =>
    ctx.addIssue({ code: 'custom', path: [...prefix, ...path], message });

const POSTGRES_URL = /^postgres(?:ql)?:\/\//iu;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;
const CURSOR_HINT =
  'must be a non-empty list of column names, e.g. ["updated_at", "id"] (a timestamp, then a unique id)';
const MAX_PAGE_SIZE = 10_000_000;

/**
 * The schemas, built on first use: zod is loaded only when a config file is read, so a sync given
 * by flags starts without it. (It is required, not imported: the config file is read synchronously.)
 */
function buildSchemas(z: typeof Zod) {
  /** A YAML field left empty (`key:`) reads as null: the same as leaving it out. */
  const optional = <T extends Zod.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

  const text = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

  /**
   * Kept as written, not trimmed. Left empty it is refused rather than read as absent: YAML reads an
   * unquoted tab (`delimiter: <tab>`) as nothing, which would otherwise fall back to a comma.
   */
  const character = z
    .string()
    .min(1, { message: 'must be one character' })
    .nullish()
    .transform((v, ctx) => {
      if (v !== null) return v;
      ctx.addIssue({ code: 'custom', message: 'is empty (YAML reads an unquoted tab as nothing: write "\\t")' });
      return z.NEVER;
    });

  /** A schema, table or column name PostgreSQL keeps as written (see table/identifier.ts). */
  const identifier = text.superRefine((name, ctx) => {
    const problem = identifierProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

  const scalar = z.union([z.string(), z.number(), z.boolean()]);

  const deleteWhen = z.union([
    z.string().transform((written, ctx): DeleteRule => {
      const rule = parseDeleteRule(written);
      if (rule) return rule;
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(written)} is not understood; write it as field = 'value' (or !=)`,
      });
      return z.NEVER;
    }),
    z
      .strictObject({ field: text, equals: optional(scalar), not_equals: optional(scalar) })
      .refine((d) => (d.equals === undefined) !== (d.not_equals === undefined), {
        message: 'needs "equals" or "not_equals" (one of them) with a string, number or boolean',
      })
      .transform((d): DeleteRule => ({
        field: d.field,
        op: d.equals !== undefined ? '=' : '!=',
        value: String(d.equals ?? d.not_equals),
      })),
  ]);

  const sourceObject = z
    .strictObject({
      path: optional(text),
      url: optional(text),
      format: optional(z.enum(FORMATS)),
      // Kept as written, not trimmed: a tab ("\t" in JSON, a real tab in YAML) is a delimiter here.
      delimiter: character,
      quote: character,
      header: optional(z.boolean()),
      encoding: optional(text),
    })
    .refine((s) => s.path !== undefined || s.url !== undefined, { message: 'needs "path" or "url"' });

  const column = z.strictObject({
    name: identifier,
    /** Written as in PostgreSQL (int, varchar(20), timestamptz); held in its canonical form. */
    type: text.transform((written, ctx) => {
      try {
        return parseColumnType(written).sql;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    source: optional(text),
    nullable: optional(z.boolean()),
  });

  /** The fields that describe one target: the entry's own, or each of a postgres source's "targets". */
  const targetShape = {
    target: optional(z.strictObject({ schema: optional(identifier), table: identifier })),
    key: optional(z.union([text, z.array(text)])),
    columns: optional(z.array(column)),
    mode: optional(z.enum(MODES)),
    delete_when: optional(deleteWhen),
    modified_column: optional(identifier),
  };

  /** Another PostgreSQL database, read incrementally by a cursor (config/postgres-source.ts). */
  const postgresSource = z
    .strictObject({
      /** A postgres:// URL, or the name of the environment variable holding one. Never shown: it may hold a password. */
      postgres: text.superRefine((written, ctx) => {
        if (POSTGRES_URL.test(written)) {
          if (!URL.canParse(written))
            ctx.addIssue({
              code: 'custom',
              message: 'is not a valid URL (the value is not shown in case it holds a password)',
            });
        } else if (!ENV_NAME.test(written))
          ctx.addIssue({
            code: 'custom',
            message:
              'must be a postgres:// URL or the name of an environment variable that holds one (the value is not shown in case it holds a password)',
          });
      }),
      query: optional(text),
      table: optional(text),
      cursor: z.unknown().transform((written, ctx): string[] => {
        if (
          !Array.isArray(written) ||
          written.length === 0 ||
          !written.every((c) => typeof c === 'string' && c.trim() !== '')
        ) {
          ctx.addIssue({ code: 'custom', message: CURSOR_HINT });
          return z.NEVER;
        }
        const cursor = written as string[];
        const twice = cursor.find((c, i) => cursor.indexOf(c) !== i);
        if (twice !== undefined) {
          ctx.addIssue({ code: 'custom', message: `names ${JSON.stringify(twice)} twice` });
          return z.NEVER;
        }
        return cursor;
      }),
      /** A duration ("10s", "1m", "0") or a number of seconds; milliseconds once parsed. */
      consistency_delay: optional(z.unknown()).transform((written, ctx): number | undefined => {
        if (written === undefined) return undefined;
        const ms =
          typeof written === 'number' && written >= 0
            ? written * 1000
            : typeof written === 'string'
              ? parseDuration(written)
              : undefined;
        if (ms !== undefined) return ms;
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration such as "10s", "1m" or "0", got ${JSON.stringify(written)}`,
        });
        return z.NEVER;
      }),
      page_size: optional(z.unknown()).transform((written, ctx): number | undefined => {
        if (written === undefined) return undefined;
        if (typeof written === 'number' && Number.isInteger(written) && written >= 1 && written <= MAX_PAGE_SIZE)
          return written;
        ctx.addIssue({
          code: 'custom',
          message: `must be a number from 1 to ${MAX_PAGE_SIZE}, got ${JSON.stringify(written)}`,
        });
        return z.NEVER;
      }),
    })
    .superRefine((s, ctx) => {
      const fail = refineWith(ctx);
      if (s.query !== undefined && s.query.trim().replace(/;\s*$/u, '').includes(';'))
        fail(['query'], 'must be a single SELECT (found a ";")');
    });

  /** One of a postgres source's "targets": its own query (or table) and target table. */
  const postgresTarget = z
    .strictObject({ query: optional(text), table: optional(text), ...targetShape })
    .superRefine((t, ctx) => {
      const fail = refineWith(ctx);
      checkSourceQuery(t, fail);
      checkTarget(t, 'upsert', fail);
    });

  /**
   * A file source (a path, a URL, or an object with path/url and the reading options), or a postgres
   * source, told apart by its "postgres" field so that mistakes are reported against the one meant.
   */
  const source = z.union([text, z.looseObject({})]).transform((written, ctx) => {
    if (typeof written === 'string') return written;
    const meant = 'postgres' in written ? postgresSource : sourceObject;
    const parsed = meant.safeParse(written, { reportInput: true });
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });

  const syncEntry = z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9_.-]+$/u, { message: 'may use only letters, digits, _ . and -' }),
      source,
      ...targetShape,
      /** A postgres source feeding several tables, merged in this order in one transaction. */
      targets: optional(z.array(postgresTarget)),
      max_errors: optional(z.int().min(0)),
      allow_empty: optional(z.boolean()),
      max_delete: optional(z.number().min(0).max(100)),
      if_changed: optional(z.boolean()),
      cron: optional(text),
    })
    .superRefine((s, ctx) => {
      const fail = refineWith(ctx);
      if (typeof s.source === 'string' || !('postgres' in s.source)) {
        if (s.targets !== undefined)
          return fail(['targets'], 'is only for a "postgres" source; a file feeds one target (use "target")');
        return checkTarget(s, 'mirror', fail);
      }
      if (s.targets === undefined) {
        checkSourceQuery(s.source, refineWith(ctx, ['source']));
        return checkTarget(s, 'upsert', fail);
      }
      if (s.source.query !== undefined || s.source.table !== undefined)
        return fail(
          ['source'],
          'has "query"/"table", but the entry lists "targets": give each target its own "query" or "table"',
        );
      for (const field of Object.keys(targetShape) as (keyof TargetFields)[])
        if (s[field] !== undefined)
          return fail([field], 'belongs inside each of "targets" when the entry lists several targets');
      if (s.targets.length === 0)
        return fail(['targets'], 'must be a non-empty list of { "query" | "table", "target", "key", "columns" }');
      const names = s.targets.map((t) => `${t.target?.schema ?? 'public'}.${t.target?.table}`);
      const twice = names.findIndex((n, i) => names.indexOf(n) !== i);
      if (twice !== -1) fail(['targets'], `feeds ${s.targets[twice].target!.table} twice; each target may appear once`);
    });

  const configFileSchema = z
    .strictObject({ syncs: z.array(syncEntry).min(1, { message: 'needs at least one sync' }) })
    .superRefine((doc, ctx) => {
      const names = doc.syncs.map((s) => s.name);
      names.forEach((name, i) => {
        if (names.indexOf(name) !== i)
          ctx.addIssue({
            code: 'custom',
            path: ['syncs', i, 'name'],
            message: `${JSON.stringify(name)} names two syncs`,
          });
      });
    });

  return { configFileSchema, syncEntry, postgresSource, sourceObject, column, postgresTarget, targetShape };
}

type Schemas = ReturnType<typeof buildSchemas>;
let built: Schemas | undefined;

export function schemas(): Schemas {
  built ??= buildSchemas((createRequire(import.meta.url)('zod') as { z: typeof Zod }).z);
  return built;
}

export type SyncEntry = Zod.output<Schemas['syncEntry']>;
export type PostgresEntrySource = Zod.output<Schemas['postgresSource']>;
export type { TargetFields };

/** The fields an object at this path may have, for unknown-field messages. */
function knownFields(path: readonly PropertyKey[], input: unknown): readonly string[] {
  const at = path.map((p) => (typeof p === 'number' ? '[]' : String(p))).join('.');
  const isPostgres = typeof input === 'object' && input !== null && 'postgres' in input;
  const { configFileSchema, syncEntry, postgresSource, sourceObject, column, postgresTarget } = schemas();
  const shapes: Record<string, readonly string[]> = {
    '': Object.keys(configFileSchema.shape),
    'syncs.[]': Object.keys(syncEntry.shape),
    'syncs.[].source': Object.keys((isPostgres ? postgresSource : sourceObject).shape),
    'syncs.[].target': ['schema', 'table'],
    'syncs.[].columns.[]': Object.keys(column.shape),
    'syncs.[].delete_when': ['field', 'equals', 'not_equals'],
    'syncs.[].targets.[]': Object.keys(postgresTarget.shape),
    'syncs.[].targets.[].target': ['schema', 'table'],
    'syncs.[].targets.[].columns.[]': Object.keys(column.shape),
    'syncs.[].targets.[].delete_when': ['field', 'equals', 'not_equals'],
  };
  return shapes[at] ?? [];
}

/** `syncs[1].columns[0].type` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

const got = (input: unknown) => (input === undefined ? 'nothing' : JSON.stringify(input));

/** One line per problem: `syncs[1].mode must be one of mirror, upsert, append, got "mirorr"`. */
export function describeIssues(issues: readonly Zod.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    const at = formatPath(path);
    const line = (message: string) => [at === '' ? message : `${at} ${message}`];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownFields(path, issue.input);
        return issue.keys.flatMap((key) => {
          const guess = closest(key, known);
          return line(
            `has an unknown field ${JSON.stringify(key)}${guess ? `; did you mean ${JSON.stringify(guess)}?` : ''} (known: ${known.join(', ')})`,
          );
        });
      }
      case 'invalid_type':
        return issue.input === undefined
          ? line('is required')
          : line(`must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${got(issue.input)}`);
      case 'invalid_value':
        return line(`must be one of ${issue.values.map(String).join(', ')}, got ${got(issue.input)}`);
      case 'invalid_union': {
        // Report the alternative the value was meant for: the one that got past its type check.
        const meant = issue.errors.find(
          (e) => !(e.length === 1 && e[0].code === 'invalid_type' && e[0].path.length === 0),
        );
        if (meant) return describeIssues(meant, path);
        const expected = issue.errors.map((e) => (e[0].code === 'invalid_type' ? EXPECTED[e[0].expected] : undefined));
        return line(`must be ${[...new Set(expected)].join(' or ')}, got ${got(issue.input)}`);
      }
      case 'too_small':
        return line(
          issue.origin === 'number' ? `must be at least ${issue.minimum}, got ${got(issue.input)}` : issue.message,
        );
      case 'too_big':
        return line(
          issue.origin === 'number' ? `must be at most ${issue.maximum}, got ${got(issue.input)}` : issue.message,
        );
      default:
        return line(issue.message);
    }
  });
}
