/**
 * The one place refusal reasons are worded. Converters (and the followers rules) build a Refusals
 * once per column, so the reasons that do not depend on the value are shared frozen objects and a
 * refused field costs no allocation in the worker threads.
 */
import type { SourceValue } from '../source-value.js';
import { NULL, type FieldResult } from './result.js';

export type Refusal = { ok: false; reason: string };

export const refuse = (reason: string): Refusal => Object.freeze({ ok: false, reason });

/** A value as it appears in a reason: strings quoted (and cut short), numbers as they are. */
export function show(value: string | number): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(truncate(value));
}

/** Reasons quote at most 60 characters of a value, so a long field does not make a long reason. */
export function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Refusals every converter shares, built once per column. */
export class Refusals {
  readonly missing: FieldResult;
  readonly empty: FieldResult;
  readonly nul: Refusal;
  readonly surrogate: Refusal;
  private readonly wrongKinds: Record<'number' | 'boolean' | 'array' | 'object', Refusal>;

  /** `sql` is the type named when a JSON value is of the wrong kind: `price expects numeric, got a boolean`. */
  constructor(
    readonly column: string,
    readonly sql: string,
    nullable: boolean,
  ) {
    this.missing = nullable ? NULL : refuse(`${column} is missing`);
    this.empty = nullable ? NULL : refuse(`${column} is empty`);
    this.nul = refuse(`${column} contains a NUL byte`);
    this.surrogate = refuse(`${column} contains an unpaired surrogate (\\ud800-\\udfff), which is not valid text`);
    this.wrongKinds = {
      number: refuse(`${column} expects ${sql}, got a number`),
      boolean: refuse(`${column} expects ${sql}, got a boolean`),
      array: refuse(`${column} expects ${sql}, got an array`),
      object: refuse(`${column} expects ${sql}, got an object`),
    };
  }

  wrongKind(value: SourceValue): Refusal {
    if (typeof value === 'number') return this.wrongKinds.number;
    if (typeof value === 'boolean') return this.wrongKinds.boolean;
    return Array.isArray(value) ? this.wrongKinds.array : this.wrongKinds.object;
  }

  /** `price: "12,5" is not a number (numeric(10,2))` */
  invalid(value: string | number, what: string): Refusal {
    return { ok: false, reason: `${this.column}: ${show(value)} ${what}` };
  }

  outOfRange(value: string | number, note = ''): Refusal {
    return {
      ok: false,
      reason: `${this.column}: ${typeof value === 'number' ? value : truncate(value)} is out of range for ${this.sql}${note}`,
    };
  }

  /** `full_name is 256 characters long; at most 255 are allowed` */
  tooLong(length: number, maxLength: number): Refusal {
    return { ok: false, reason: `${this.column} is ${length} characters long; at most ${maxLength} are allowed` };
  }
}
