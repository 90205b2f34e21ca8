/** A source value: a string from CSV, or any JSON value from JSON/NDJSON (undefined = field absent). */
export type SourceValue =
  string | number | boolean | null | undefined | readonly unknown[] | { readonly [k: string]: unknown };
