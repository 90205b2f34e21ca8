/**
 * The config file's shape, as zod schemas: the types of the file's entries are inferred from them,
 * and every problem is reported with its path (`syncs[1].columns[0].type`), an unknown field with the
 * known ones and a "did you mean".
 */
import { z } from 'zod';
import type { LoadFormat } from '../source/format.js';
import type { DeleteRule, SyncMode } from '../table/spec.js';
import { identifierProblem } from '../table/identifier.js';
import { parseColumnType } from '../table/types.js';
import { closest } from './suggest.js';

const MODES = ['mirror', 'upsert', 'append'] as const satisfies readonly SyncMode[];
const FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const satisfies readonly LoadFormat[];

/** A YAML field left empty (`key:`) reads as null: the same as leaving it out. */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

const text = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

const character = z.string().min(1, { message: 'must be one character' });

/** A schema, table or column name PostgreSQL keeps as written (see table/identifier.ts). */
const identifier = text.superRefine((name, ctx) => {
  const problem = identifierProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

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
    delimiter: optional(character),
    quote: optional(character),
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

const syncEntry = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/u, { message: 'may use only letters, digits, _ . and -' }),
    /** A path, a URL, or an object with path/url and the reading options. */
    source: z.union([text, sourceObject]),
    target: z.strictObject({ schema: optional(identifier), table: identifier }),
    key: optional(z.union([text, z.array(text)])).transform((k) => (k === undefined ? [] : Array.isArray(k) ? k : [k])),
    columns: z.array(column).min(1, { message: 'must be a non-empty list of { "name", "type", "source" }' }),
    mode: optional(z.enum(MODES)).transform((m) => m ?? 'mirror'),
    delete_when: optional(deleteWhen),
    modified_column: optional(identifier),
    max_errors: optional(z.int().min(0)),
    allow_empty: optional(z.boolean()),
    max_delete: optional(z.number().min(0).max(100)),
    if_changed: optional(z.boolean()),
    cron: optional(text),
  })
  .superRefine((s, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const names = s.columns.map((c) => c.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) fail(['columns'], `name ${JSON.stringify(twice)} twice`);
    if (s.key.length === 0 && s.mode !== 'append')
      fail(['key'], `is required for mode ${s.mode} (the columns that identify a row)`);
    for (const k of s.key)
      if (!names.includes(k))
        fail(['key'], `names ${JSON.stringify(k)}, which is not among the columns (${names.join(', ')})`);
    s.columns.forEach((c, i) => {
      if (s.key.includes(c.name) && c.nullable === true)
        fail(['columns', i, 'nullable'], 'cannot be true for a key column');
    });
    if (s.delete_when !== undefined && s.key.length === 0)
      fail(['delete_when'], 'needs a key: a delete marker deletes the rows with its key');
    if (s.modified_column !== undefined && names.includes(s.modified_column))
      fail(['modified_column'], `${JSON.stringify(s.modified_column)} is also a data column`);
  });

export const configFileSchema = z
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

export type SyncEntry = z.output<typeof syncEntry>;

/** The fields an object at this path may have, for unknown-field messages. */
function knownFields(path: readonly PropertyKey[]): readonly string[] {
  const at = path.map((p) => (typeof p === 'number' ? '[]' : String(p))).join('.');
  const shapes: Record<string, readonly string[]> = {
    '': Object.keys(configFileSchema.shape),
    'syncs.[]': Object.keys(syncEntry.shape),
    'syncs.[].source': Object.keys(sourceObject.shape),
    'syncs.[].target': ['schema', 'table'],
    'syncs.[].columns.[]': Object.keys(column.shape),
    'syncs.[].delete_when': ['field', 'equals', 'not_equals'],
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
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    const at = formatPath(path);
    const line = (message: string) => [at === '' ? message : `${at} ${message}`];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownFields(path);
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
