import type { SourceValue } from '../source-value.js';

/**
 * What every rule and converter returns for one field: the value accepted and normalised to the text
 * PostgreSQL's COPY accepts (null is SQL NULL), or refused with a reason naming the column.
 */
export type FieldResult = { ok: true; value: string | null } | { ok: false; reason: string };

/** Takes a CSV field (a string) or a JSON value (anything; undefined when the field is absent). */
export type Normalizer = (value: SourceValue) => FieldResult;

export const NULL: FieldResult = Object.freeze({ ok: true, value: null });

export const ok = (value: string): FieldResult => ({ ok: true, value });
