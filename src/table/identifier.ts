/**
 * PostgreSQL keeps at most 63 bytes of an identifier and silently truncates the rest, so two long
 * names can end up meaning one table (and one sync would delete the other's rows). Names are checked
 * when the target is configured, never truncated; derived names (staging) are shortened with a hash.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { TargetSpec } from './spec.js';

/** NAMEDATALEN - 1 in a default PostgreSQL build. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Why `name` cannot be an identifier as written, or undefined when it can. */
export function identifierProblem(name: string): string | undefined {
  if (name.includes('\0')) return `${JSON.stringify(name)} contains a NUL byte, which PostgreSQL names cannot hold`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    return (
      `${JSON.stringify(name)} is ${bytes} bytes long; PostgreSQL names hold at most ${MAX_IDENTIFIER_BYTES} bytes ` +
      `(it would be cut to ${JSON.stringify(truncated(name))}); use a shorter name`
    );
  }
  return undefined;
}

/** The name as PostgreSQL would store it: its first 63 bytes, never splitting a character. */
export function truncated(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= MAX_IDENTIFIER_BYTES) return name;
  let end = MAX_IDENTIFIER_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * `prefix + name` when it fits in 63 bytes; else a cut of it plus a hash of the whole name, so
 * different long tables never share a derived name.
 */
export function derivedName(prefix: string, name: string): string {
  const full = prefix + name;
  if (Buffer.byteLength(full, 'utf8') <= MAX_IDENTIFIER_BYTES) return full;
  const hash = `_${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
  const cut = Buffer.from(full, 'utf8');
  let end = MAX_IDENTIFIER_BYTES - hash.length;
  while (end > 0 && (cut[end] & 0xc0) === 0x80) end -= 1;
  return cut.subarray(0, end).toString('utf8') + hash;
}

/**
 * The same check for a target built in code (the library API): every schema, table and column
 * name, before anything touches the database.
 */
export function checkTargetNames(spec: TargetSpec): void {
  const names: [string, string][] = [
    ['schema', spec.schema],
    ['table', spec.table],
    ['staging schema', spec.stagingSchema],
    ['staging table', spec.stagingTable],
    ...spec.columns.map((c): [string, string] => ['column', c.name]),
  ];
  if (spec.modifiedColumn !== undefined) names.push(['modified column', spec.modifiedColumn]);
  for (const [what, name] of names) {
    const problem = identifierProblem(name);
    if (problem) throw new ConfigError(`${spec.name}: the ${what} ${problem}`);
  }
}
