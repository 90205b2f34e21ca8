/**
 * The one place identifiers and the rare unavoidable literals (DDL cannot take parameters) are quoted.
 * Everything else reaches PostgreSQL as a bound parameter.
 */

/** Quotes one identifier: doubles embedded quotes, rejects NUL (PostgreSQL cannot store it). */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier cannot be empty');
  if (name.includes('\0')) throw new Error(`an SQL identifier cannot contain a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A schema-qualified, quoted table name. */
export function quoteTable(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** Quotes a string literal for DDL, where bind parameters are not allowed. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('an SQL literal cannot contain a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}
